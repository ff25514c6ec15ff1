"""Output that cannot be written is one sentence and exit 1, never a traceback.

`tlsc ... > /dev/full` (a full disk) and `tlsc ... >&-` (standard output closed)
fail every write to standard output; each command that prints says so in one
line on stderr, whatever it prints and however (click, sys.stdout, the log
workers' buffer).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, cli_command, cli_env

SPEC = ROOT / "examples" / "canit-cluster.yaml"
SANDBOX = ROOT / "examples" / "sandbox"
LOG = ROOT / "examples" / "logs" / "mail.log"

COMMANDS = {
    "schema": ["schema"],
    "version": ["--version"],
    "help": ["--help"],
    "validate-json": ["validate", SPEC, "--format", "json"],
    "plan-text": ["plan", SPEC, "--state", SANDBOX],
    "plan-json": ["plan", SPEC, "--state", SANDBOX, "--format", "json"],
    "logs-text": ["logs", LOG],
    "logs-json": ["logs", LOG, "--format", "json"],
    "logs-whatif": ["logs", LOG, "--spec", SPEC],
    "lint-sarif": ["lint", SANDBOX / "colo10", "--format", "sarif"],
}
SINKS = {
    "full-disk": ("/dev/full", "No space left on device"),
    "closed": (None, "it is closed"),
}


def _run(args: list[str | Path], sink: str | None) -> tuple[int, str]:
    def close_stdout() -> None:
        os.close(1)

    with open(sink or os.devnull, "wb") as out:
        proc = subprocess.run(
            cli_command(*args),
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            timeout=60,
            check=False,
            preexec_fn=None if sink else close_stdout,
        )
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("sink", SINKS)
@pytest.mark.parametrize("command", COMMANDS)
def test_unwritable_stdout_is_one_sentence(command: str, sink: str) -> None:
    path, reason = SINKS[sink]
    rc, err = _run(COMMANDS[command], path)
    assert rc == 1, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.splitlines()[-1] == f"tlsc: cannot write to standard output: {reason}", err
