"""A signal that stops apply while a spec command runs waits for that command.

Killing the shell of `/etc/init.d/sendmail restart` halfway would leave the
script running on (sendmail stopped, not started yet) while the rollback ran the
restart again: two restarts at once. So run_command lets the command end (within
its timeout) and only then raises the signal's exception, for the rollback to
run after it; a second signal meanwhile does not cut that short.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from compiler.apply.build import run_command


class Stopped(Exception):
    """What the apply's handler raises for SIGTERM/SIGHUP (runner.Terminated's role)."""


@contextmanager
def raising_handler(signum: signal.Signals) -> Iterator[None]:
    def stop(_signum: int, _frame: object) -> None:
        raise Stopped

    old = signal.signal(signum, stop)
    try:
        yield
    finally:
        signal.signal(signum, old)


def signal_later(delays: list[float], signum: signal.Signals) -> None:
    def send() -> None:
        for delay in delays:
            time.sleep(delay)
            os.kill(os.getpid(), signum)

    threading.Thread(target=send, daemon=True).start()


@pytest.mark.parametrize("signals", [1, 2], ids=["one signal", "a second one meanwhile"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_the_command_ends_before_the_signal_is_raised(
    tmp_path: Path, signum: signal.Signals, signals: int
) -> None:
    started, ended = tmp_path / "started", tmp_path / "ended"
    # a restart in two halves: the second must run even though apply was stopped
    command = f"touch {started}; sleep 1; touch {ended}"
    expected = KeyboardInterrupt if signum == signal.SIGINT else Stopped
    with raising_handler(signum) if signum != signal.SIGINT else _default_int():
        signal_later([0.3] + [0.2] * (signals - 1), signum)
        t0 = time.monotonic()
        with pytest.raises(expected):
            run_command(command, tmp_path, {}, timeout=30)
    assert started.exists()
    assert ended.exists(), "the command was abandoned halfway"
    assert time.monotonic() - t0 >= 0.9


@contextmanager
def _default_int() -> Iterator[None]:
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def test_a_command_past_its_timeout_is_not_waited_for_forever(tmp_path: Path) -> None:
    with raising_handler(signal.SIGTERM):
        signal_later([0.2], signal.SIGTERM)
        t0 = time.monotonic()
        with pytest.raises(Stopped):
            run_command("sleep 30", tmp_path, {}, timeout=1.5)
    assert time.monotonic() - t0 < 10


def test_without_a_signal_status_and_timeout_are_as_before(tmp_path: Path) -> None:
    assert run_command("true", tmp_path, {}, timeout=5) is None
    assert run_command("echo no >&2; exit 3", tmp_path, {}, timeout=5) == (
        "'echo no >&2; exit 3' exited 3: no"
    )
    assert run_command("sleep 5", tmp_path, {}, timeout=0.5) == (
        "'sleep 5' did not finish within 0.5 s"
    )
