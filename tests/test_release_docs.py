"""The README's pre-commit config names a rev the release steps create, and its hooks exist."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from ruamel.yaml import YAML

from compiler import __version__

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def readme_precommit_config() -> dict[str, object]:
    (block,) = [
        b
        for b in re.findall(r"```yaml\n(.*?)```", README, re.S)
        if "tlsc-lint" in b and "rev:" in b
    ]
    data: dict[str, object] = YAML(typ="safe").load(block)
    return data


def test_readme_rev_is_the_tag_of_this_version_and_hooks_exist() -> None:
    (repo,) = readme_precommit_config()["repos"]  # type: ignore[misc]
    assert repo["rev"] == f"v{__version__}", "set the README's rev: with __version__ (Release)"
    published = YAML(typ="safe").load((REPO / ".pre-commit-hooks.yaml").read_text("utf-8"))
    assert {h["id"] for h in repo["hooks"]} <= {h["id"] for h in published}
    hooks_doc = (REPO / ".pre-commit-hooks.yaml").read_text("utf-8")
    assert f"rev: v{__version__} " in hooks_doc


def test_release_steps_make_that_tag(tmp_path: Path) -> None:
    """The README's tag command, run for real in a scratch repository, makes v<__version__>."""
    (tag_line,) = [line for line in README.splitlines() if line.startswith("git tag ")]
    command = tag_line.split("#")[0].strip()
    tlsc = shutil.which("tlsc")
    assert tlsc, "the tlsc console script is not on PATH (make test puts it there)"
    env = {
        "PATH": f"{Path(tlsc).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    for args in (
        "git init -q -b main",
        "git -c user.name=t -c user.email=t@example.invalid commit -q --allow-empty -m r",
        command,
    ):
        subprocess.run(["bash", "-c", args], cwd=tmp_path, env=env, check=True, timeout=60)
    tags = subprocess.run(
        ["git", "tag"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tags == [f"v{__version__}"]
