"""The pre-commit hooks this repository offers: ids, file patterns, and entries that run."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parent.parent


def hooks() -> dict[str, dict[str, Any]]:
    data = YAML(typ="safe").load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    return {hook["id"]: hook for hook in data}


def test_both_hooks_are_offered() -> None:
    assert set(hooks()) == {"tlsc-lint", "tlsc-validate"}
    for hook in hooks().values():
        assert hook["language"] == "python" and hook["name"] and hook["entry"]


@pytest.mark.parametrize(
    "path,linted",
    [
        ("etc/mail/sendmail.mc", True),
        ("mail/tls/starttls.m4", True),
        ("etc/mail/access", True),
        ("hosts/colo10/access.local", True),
        ("mail/blocklist.access", True),  # a file a spec names (access: [{file: ...}])
        ("blocklist.access", True),
        ("mail/blocklist.access.db", False),
        ("etc/mail/access.db", False),
        ("README.md", False),
        ("cluster.yaml", False),
    ],
)
def test_lint_hook_file_pattern(path: str, linted: bool) -> None:
    hook = hooks()["tlsc-lint"]
    matched = re.search(hook["files"], path) and not re.search(hook.get("exclude", "^$"), path)
    assert bool(matched) == linted


def test_validate_hook_checks_every_spec_it_is_given(tmp_path: Path) -> None:
    # `make test` puts the venv's bin on PATH; without the script the hook cannot run
    assert shutil.which("tlsc") is not None, "the tlsc console script is not on PATH"
    entry = hooks()["tlsc-validate"]["entry"]
    good = REPO / "examples" / "canit-cluster.yaml"
    bad = tmp_path / "cluster.yaml"
    bad.write_text("version: 1\n", encoding="utf-8")
    ok = subprocess.run(f"{entry} {good}", shell=True, capture_output=True, check=False)
    assert ok.returncode == 0, ok.stderr
    failed = subprocess.run(f"{entry} {good} {bad}", shell=True, capture_output=True, check=False)
    assert failed.returncode == 1
    assert re.search(hooks()["tlsc-validate"]["files"], "cluster.yaml")
