"""The published hooks under the real pre-commit: a commit passes, or stops on a bad file.

The hooks are copied from .pre-commit-hooks.yaml into a `repo: local` config
(`language: system`, the same entry, files, exclude and types), so pre-commit
runs the `tlsc` on PATH instead of building a venv of this package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parent.parent
GOOD_MC = REPO / "tests" / "golden" / "large-cluster" / "relay1" / "etc" / "mail" / "sendmail.mc"
GOOD_SPEC = REPO / "examples" / "canit-cluster.yaml"
BAD_MC = (
    "divert(-1)dnl\n"
    "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n"
    "OSTYPE(`debian')dnl\n"
    "define(‘confCLIENT_CERT’, `/etc/mail/tls/c.crt')dnl\n"
)


def published_hooks(fix: bool) -> list[dict[str, Any]]:
    data = YAML(typ="safe").load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hooks = []
    for hook in data:
        local = {key: value for key, value in hook.items() if key != "description"}
        local["language"] = "system"
        if fix and hook["id"] == "tlsc-lint":
            local["args"] = ["--fix"]
        hooks.append(local)
    return hooks


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    tlsc = shutil.which("tlsc")
    assert tlsc is not None, "the tlsc console script is not on PATH (make test puts it there)"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("GIT_")},
        "HOME": str(home),
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": f"{Path(tlsc).parent}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
        + os.environ.get("PATH", ""),
    }
    work = tmp_path / "mail"
    work.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "tlsc test"],
        ["config", "user.email", "tlsc@example.invalid"],
        ["config", "commit.gpgsign", "false"],
    ):
        subprocess.run(["git", *args], cwd=work, env=env, check=True, timeout=30)
    return work, env


def install(work: Path, env: dict[str, str], fix: bool = False) -> None:
    config = {"repos": [{"repo": "local", "hooks": published_hooks(fix)}]}
    # JSON is YAML: pre-commit reads it as its config
    (work / ".pre-commit-config.yaml").write_text(json.dumps(config, indent=2), encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    subprocess.run(["git", "add", ".pre-commit-config.yaml"], cwd=work, env=env, check=True)


def commit(work: Path, env: dict[str, str], *paths: str) -> subprocess.CompletedProcess[str]:
    subprocess.run(["git", "add", *paths], cwd=work, env=env, check=True, timeout=30)
    return subprocess.run(
        ["git", "commit", "-q", "-m", "change"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_good_mc_and_spec_commit(repo: tuple[Path, dict[str, str]]) -> None:
    work, env = repo
    install(work, env)
    (work / "etc").mkdir()
    shutil.copy2(GOOD_MC, work / "etc" / "sendmail.mc")
    shutil.copy2(GOOD_SPEC, work / "cluster.yaml")
    done = commit(work, env, "etc/sendmail.mc", "cluster.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tlsc lint" in done.stdout + done.stderr
    assert "tlsc validate" in done.stdout + done.stderr


def test_typographic_quote_stops_the_commit(repo: tuple[Path, dict[str, str]]) -> None:
    work, env = repo
    install(work, env)
    (work / "sendmail.mc").write_text(BAD_MC, encoding="utf-8")
    done = commit(work, env, "sendmail.mc")
    assert done.returncode != 0
    assert "M4001" in done.stdout + done.stderr


def test_bad_spec_stops_the_commit(repo: tuple[Path, dict[str, str]]) -> None:
    work, env = repo
    install(work, env)
    (work / "cluster.yaml").write_text("version: 1\n", encoding="utf-8")
    done = commit(work, env, "cluster.yaml")
    assert done.returncode != 0
    assert "S101" in done.stdout + done.stderr


def test_fix_repairs_the_file_and_stops_the_commit(repo: tuple[Path, dict[str, str]]) -> None:
    work, env = repo
    install(work, env, fix=True)
    mc = work / "sendmail.mc"
    mc.write_text(BAD_MC, encoding="utf-8")
    done = commit(work, env, "sendmail.mc")
    assert done.returncode != 0
    fixed = mc.read_text(encoding="utf-8")
    assert "‘" not in fixed and "’" not in fixed
    assert "define(`confCLIENT_CERT'" in fixed
    # the fixed file, staged, commits
    again = commit(work, env, "sendmail.mc")
    assert again.returncode == 0, again.stdout + again.stderr
