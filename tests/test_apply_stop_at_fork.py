"""A stop request (SIGTERM, SIGHUP, ^C) is never lost around the fork of m4 or makemap,
and one that comes once apply's work is over lets its report out.

Python runs its at-fork hooks (logging's among them) around a fork with a
preexec_fn; apply's handler raising inside one is printed ("Exception ignored")
and dropped, so apply went on and restarted sendmail. m4run.run_held holds the
signals off while it forks. Each case runs in a fresh interpreter, whose at-fork
hook sends the signal at the fork, as a signal arriving then would be."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, cli_env

SCRIPT = """
import os, signal, subprocess, sys, time
from compiler.apply.runner import signals_stop_apply
from compiler.fileio import Terminated
from compiler.m4run import run_held

signum = signal.{sig}
armed = [True]
def at_fork():
    if armed[0]:
        armed[0] = False
        os.kill(os.getpid(), signum)
os.register_at_fork(before=at_fork)
start = time.monotonic()
with signals_stop_apply() as stops:
    try:
        {run}(["sleep", "5"], preexec_fn=lambda: None, stdout=subprocess.DEVNULL)
    except (Terminated, KeyboardInterrupt) as exc:
        print("stopped", type(exc).__name__, round(time.monotonic() - start))
        sys.exit(0)
print("went on", round(time.monotonic() - start))
"""


def _run(sig: str, run: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(sig=sig, run=run)],
        cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_at_the_fork_stops_the_run_and_its_child(sig: str) -> None:
    expected = "KeyboardInterrupt" if sig == "SIGINT" else "Terminated"
    assert _run(sig, "run_held") == f"stopped {expected} 0"  # at once: sleep was killed


def test_without_holding_the_signal_is_lost() -> None:
    """What the fix is for: subprocess.run with a preexec_fn drops the stop."""
    assert _run("SIGTERM", "subprocess.run") == "went on 5"


LATE = """
import os, signal
from compiler.apply.runner import signals_stop_apply
with signals_stop_apply() as stops:
    stops.raising = False  # the work is over: the report is being printed
    os.kill(os.getpid(), signal.{sig})
    print("report printed, noted", signal.Signals(stops.late).name)
"""


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_after_the_work_lets_the_report_out(sig: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", LATE.format(sig=sig)],
        cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout == f"report printed, noted {sig}\n"
