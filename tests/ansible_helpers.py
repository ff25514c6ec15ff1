"""Running the real ansible-core (from the dev extra) against the tlsc.sendmail collection.

`ansible(...)` runs an ansible-* command of the venv with a private ANSIBLE_HOME
and an ANSIBLE_COLLECTIONS_PATH whose ansible_collections/tlsc/sendmail is this
repository's ansible/tlsc/sendmail, the repository importable (the inventory
plugin and the module's `python -m compiler` use it) and no colour.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import ROOT, cli_env

HERE = Path(__file__).resolve().parent
COLLECTION = ROOT / "ansible" / "tlsc" / "sendmail"
#: the ansible-* commands: the venv's, or TLSC_TEST_ANSIBLE_BIN's (the bin directory of a
#: venv with another ansible-core the collection claims, e.g. 2.16)
BIN = Path(os.environ.get("TLSC_TEST_ANSIBLE_BIN") or Path(sys.executable).parent)
#: tlsc on the "managed host" (this machine, ansible_connection=local)
TLSC = f"{sys.executable} -m compiler"


def ansible_env(scratch: Path, **extra: str) -> dict[str, str]:
    """The environment of an ansible command: private home and collections path."""
    tree = scratch / "collections" / "ansible_collections" / "tlsc"
    if not (tree / "sendmail").exists():
        tree.mkdir(parents=True, exist_ok=True)
        (tree / "sendmail").symlink_to(COLLECTION)
    env = cli_env()
    env.update(
        ANSIBLE_HOME=str(scratch / "ansible-home"),
        ANSIBLE_COLLECTIONS_PATH=str(scratch / "collections"),
        ANSIBLE_LOCAL_TEMP=str(scratch / "ansible-tmp"),
        ANSIBLE_REMOTE_TEMP=str(scratch / "ansible-remote-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_DEPRECATION_WARNINGS="False",
        # a spec the plugin refuses fails the command (not only a warning)
        ANSIBLE_INVENTORY_UNPARSED_FAILED="True",
        PATH=f"{BIN}:{env.get('PATH', '')}",
    )
    env.update(extra)
    return env


def playbook(
    *args: str | Path, scratch: Path, **extra: str
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """ansible-playbook ARGS: (the process, every task result as {"host", "task", "status",
    "result"}, recorded by tests/ansible_callbacks/tlsc_results.py)."""
    results = scratch / "results.jsonl"
    results.unlink(missing_ok=True)
    proc = ansible(
        "playbook",
        *args,
        scratch=scratch,
        ANSIBLE_CALLBACK_PLUGINS=str(HERE / "ansible_callbacks"),
        ANSIBLE_CALLBACKS_ENABLED="tlsc_results",
        TLSC_TEST_RESULTS=str(results),
        **extra,
    )
    lines = results.read_text(encoding="utf-8").splitlines() if results.exists() else []
    return proc, [json.loads(line) for line in lines]


def ansible(
    tool: str, *args: str | Path, scratch: Path, cwd: Path | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run BIN/ansible-TOOL ARGS with `ansible_env`; never raises on its exit status."""
    return subprocess.run(
        [str(BIN / f"ansible-{tool}"), *map(str, args)],
        capture_output=True,
        text=True,
        env=ansible_env(scratch, **extra),
        cwd=cwd or scratch,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )
