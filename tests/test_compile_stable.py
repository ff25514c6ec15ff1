"""The bytes compile writes depend on the spec alone.

Not on the release a host names where the spec asks nothing of 8.18 (`sendmail:`
changes what validation accepts: the files are the same for 8.17 and 8.18), and
not on Python's hash seed (every order in the files is a written order or a sort:
a set or dict iterated in hash order would make two runs of one spec differ,
and every plan after it show a change). Checked on each example, in
subprocesses run with PYTHONHASHSEED 0 and 1.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import cli_command, cli_env
from realtools import EXAMPLES, scratch_dir

from compiler.compile import compile_text


def with_release(text: str, family: str) -> str:
    """The spec text with `sendmail: FAMILY` first in its defaults."""
    assert re.search(r"^defaults:\n", text, re.MULTILINE) and "\n  sendmail:" not in text
    return re.sub(r"^defaults:\n", f'defaults:\n  sendmail: "{family}"\n', text, flags=re.M)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_the_release_changes_no_byte(example: Path) -> None:
    text = example.read_text(encoding="utf-8")
    files = {}
    for family in ("8.17", "8.18"):
        result = compile_text(with_release(text, family), example.name)
        assert result.ok, [p.message for p in result.problems]
        files[family] = result.hosts
    assert files["8.17"] == files["8.18"]


def tree(top: Path) -> dict[str, bytes]:
    return {str(p.relative_to(top)): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_the_hash_seed_changes_no_byte(example: Path) -> None:
    with scratch_dir("seed") as tmp:
        outs = []
        for seed in ("0", "1"):
            out = tmp / f"out{seed}"
            done = subprocess.run(
                cli_command("compile", example, "--out", out),
                env={**cli_env(), "PYTHONHASHSEED": seed},
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            outs.append(tree(out))
        assert outs[0] == outs[1] and outs[0]
        assert all(text.endswith(b"\n") for text in outs[0].values())
