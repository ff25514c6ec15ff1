"""The apply tests are hermetic: a test daemon's apply takes a lock of its own.

An `ApplyHost` (tests/apply_helpers.py) applies with --root ROOT, the daemon's
own host root, so its apply locks ROOT/run/tlsc-apply.lock. While this
machine's /run/tlsc-apply.lock is held -- as another test suite's apply, in
another checkout or another pytest-xdist worker, holds it -- an apply of an
ApplyHost that will not wait for a lock (--lock-timeout 0) still runs to the
end. Before, every such apply took /run/tlsc-apply.lock, and a test failed
with "another tlsc apply holds the lock /run/tlsc-apply.lock" when two suites
ran at once. Two applies of one host still meet at the root's lock
(tests/test_apply_crash.py, test_kill_9_with_a_second_spec_at_the_same_lock).
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from apply_helpers import Spec, apply_host, steps
from sendmail_fixture import DaemonFactory, sendmail_daemon, throwaway_ca

from compiler.apply.lock import LOCK_DIR, LOCK_NAME, ApplyLock

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools

#: the lock an apply without --root takes: this machine's
MACHINE_LOCK = Path(LOCK_DIR) / LOCK_NAME


@contextmanager
def machine_lock_held() -> Iterator[None]:
    """Hold this machine's apply lock as a tlsc apply does (tlsc's own ApplyLock: flock on
    /run/tlsc-apply.lock), dropping it on the way out, whatever happens. Waits up to 60 s
    for a real apply elsewhere on the machine to finish with it."""
    lock = ApplyLock(MACHINE_LOCK)
    lock.acquire(60)
    try:
        yield
    finally:
        lock.release()


def held_elsewhere(path: Path) -> bool:
    """Whether another open file holds the flock on `path` (a fresh descriptor cannot take it)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        assert exc.errno in (errno.EAGAIN, errno.EACCES), exc
        return True
    finally:
        os.close(fd)  # drops the flock when it was taken
    return False


def one_more_domain(spec: Spec) -> None:
    spec["domains"]["hermetic.example.org"] = {"outbound": "encrypt"}


def test_apply_host_takes_its_roots_lock_not_the_machines(
    sendmail_daemon: DaemonFactory,
) -> None:
    host = apply_host(sendmail_daemon)
    own = host.root / "run" / LOCK_NAME
    host.write_spec(host.spec(one_more_domain))
    with machine_lock_held():
        assert held_elsewhere(MACHINE_LOCK)  # the apply below meets a held machine lock
        rc, report, err = host.apply("--lock-timeout", "0")
        assert held_elsewhere(MACHINE_LOCK)
    assert rc == 0 and report["result"] == "applied", (report["message"], err)
    assert steps(report)["lock"] == "ok" and steps(report)["build-access"] == "ok"
    assert report["steps"][1]["detail"] == str(own)
    assert own.is_file() and not held_elsewhere(own)  # and it dropped its own at the end
