"""Every example compiles to exactly the committed bytes under tests/golden.

The expected files are written only by `make golden` (tests/regen_golden.py),
never by a test: when the output changes on purpose, regenerate, review the
diff and commit it with the change.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import regen_golden
from realtools import EXAMPLES, scratch_dir

REGEN = "run `make golden` (python3 tests/regen_golden.py) and review git diff tests/golden"


def test_there_are_examples() -> None:
    assert EXAMPLES, "examples/*.yaml is empty"
    assert [p.stem for p in EXAMPLES] == [p.stem for p in regen_golden.examples()]


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_matches_golden_bytes(example: Path) -> None:
    want = regen_golden.compiled_tree(example)
    have = regen_golden.golden_tree(example.stem)
    assert have, f"no golden files for {example.name}; {REGEN}"
    assert sorted(want) == sorted(have), f"the set of files differs; {REGEN}"
    for rel in sorted(want):
        if want[rel] != have[rel]:
            # assert on text so pytest shows a readable diff
            assert want[rel].decode("utf-8") == have[rel].decode("utf-8"), f"{rel}: {REGEN}"
            raise AssertionError(f"{rel}: bytes differ; {REGEN}")


def test_no_golden_directory_without_an_example() -> None:
    names = {p.stem for p in EXAMPLES}
    orphans = sorted(d.name for d in regen_golden.GOLDEN.iterdir() if d.name not in names)
    assert orphans == [], f"golden output for examples that do not exist; {REGEN}"


def test_golden_files_are_lf_text_ending_in_newline() -> None:
    files = [p for p in regen_golden.GOLDEN.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        assert data.endswith(b"\n"), path
        assert b"\r" not in data, path
        data.decode("utf-8")  # valid UTF-8


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_cli_compile_writes_the_golden_bytes(example: Path) -> None:
    """`tlsc compile --out DIR` writes exactly the golden tree, nothing else."""
    with scratch_dir("golden-cli") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "compiler", "compile", str(example), "--out", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        written = {
            p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*"))
            if p.is_file()
        }
    assert written == regen_golden.golden_tree(example.stem)


def test_compiling_twice_gives_the_same_bytes() -> None:
    for example in EXAMPLES:
        assert regen_golden.compiled_tree(example) == regen_golden.compiled_tree(example)


def test_check_mode_reports_a_changed_golden_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """The regenerate script notices drift (and its --check mode fails on it)."""
    example = EXAMPLES[0]
    real = regen_golden.golden_tree

    def tampered(name: str) -> dict[str, bytes]:
        tree = real(name)
        if name == example.stem:
            first = sorted(tree)[0]
            tree[first] = tree[first] + b"extra\n"
        return tree

    monkeypatch.setattr(regen_golden, "golden_tree", tampered)
    diffs = regen_golden.differences()
    assert any(d.startswith("differs") and example.stem in d for d in diffs)
    assert regen_golden.main(["--check"]) == 1
