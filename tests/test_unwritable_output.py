"""Output that cannot be written is one sentence and exit 1, never a traceback.

`tlsc ... > /dev/full` (a full disk) and `tlsc ... >&-` (standard output closed)
fail every write to standard output; each command that prints says so in one
line on stderr, whatever it prints and however (click, sys.stdout, the log
workers' buffer). A reader that went away (`tlsc ... | head`) ends every
command and format the same way: exit 1 (click's rule) and nothing on stderr.
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
    "plan-markdown": ["plan", SPEC, "--state", SANDBOX, "--format", "markdown"],
    "logs-text": ["logs", LOG],
    "logs-json": ["logs", LOG, "--format", "json"],
    "logs-whatif": ["logs", LOG, "--spec", SPEC],
    "logs-whatif-json": ["logs", LOG, "--spec", SPEC, "--format", "json"],
    "logs-stdin-json": ["logs", "-", "--format", "json"],
    "lint-sarif": ["lint", SANDBOX / "colo10", "--format", "sarif"],
    "lint-json": ["lint", SANDBOX / "colo10", "--format", "json"],
}
SINKS = {
    "full-disk": ("/dev/full", "No space left on device"),
    "closed": (None, "it is closed"),
}


def _run(args: list[str | Path], sink: str | None) -> tuple[int, str]:
    def close_stdout() -> None:
        os.close(1)

    with open(sink or os.devnull, "wb") as out, open(LOG, "rb") as log:
        proc = subprocess.run(
            cli_command(*args),
            stdin=log,
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


def _run_into_a_closed_pipe(
    args: list[str | Path], after: int | None, stdin: Path = LOG
) -> tuple[int, str]:
    """Run with stdout a pipe whose reader closes it: at once (`after` None: every
    write fails), or once it has read `after` lines (`| head -N`)."""
    with open(stdin, "rb") as log:
        proc = subprocess.Popen(
            cli_command(*args),
            stdin=log,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(),
        )
    assert proc.stdout is not None and proc.stderr is not None
    for _ in range(after or 0):
        proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), err


BIG_LINE = (
    b"Nov 28 10:%02d:%02d mta sm-mta[%d]: STARTTLS=client, relay=mx%d.example.net"
    b" [192.0.%d.%d], version=TLSv1.3, verify=FAIL, cipher=TLS_AES_256_GCM_SHA384,"
    b" bits=256/256\n"
)


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 20 MiB of log lines (past the size the log workers take over), from
    20,000 peers: the text summary of 5,000 of them is more than a pipe holds."""
    path = tmp_path_factory.mktemp("big") / "mail.log"
    path.write_bytes(
        b"".join(
            BIG_LINE % (i // 60 % 60, i % 60, i, i % 20_000, i // 250 % 250, i % 250)
            for i in range(120_000)
        )
    )
    return path


@pytest.mark.parametrize("command", COMMANDS)
def test_a_reader_that_is_gone_is_exit_1_and_quiet(command: str) -> None:
    rc, err = _run_into_a_closed_pipe(COMMANDS[command], None)
    assert (rc, err) == (1, "")


@pytest.mark.parametrize("source", ["file", "stdin"])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_head_of_a_big_log_is_exit_1_and_quiet(big_log: Path, fmt: str, source: str) -> None:
    """`tlsc logs BIG | head -1`: the workers' output and this process's alike."""
    args: list[str | Path] = ["logs", big_log if source == "file" else "-", "--format", fmt]
    if fmt == "text":
        args += ["--top", "5000"]  # a summary longer than a pipe holds
    rc, err = _run_into_a_closed_pipe(args, 1, big_log)
    assert (rc, err) == (1, "")
