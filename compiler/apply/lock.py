"""The host's apply lock: one apply at a time, and never a lock left behind by a crash.

`fcntl.flock` on one lock file per root, ROOT/run/tlsc-apply.lock (/run/tlsc-apply.lock
without --root), wherever the spec puts the managed files: two specs that
name other paths for sendmail.mc still take the same lock. The kernel releases
the lock when the process holding it dies, however it dies (kill -9
included), so a stale lock cannot block the next apply. The file itself
stays; it holds the pid and start time of the holder, for the message a
waiting apply prints. The descriptor is close-on-exec, so commands apply
runs (restart, after) never inherit the lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from compiler.apply.atomic import make_parents

#: the lock is LOCK_DIR/LOCK_NAME under the root (/run: root's own, not world-writable)
LOCK_DIR = "/run"
LOCK_NAME = "tlsc-apply.lock"
POLL_SECONDS = 0.05


class LockError(Exception):
    """The lock could not be taken; the message is one sentence."""


def holder(path: Path) -> str:
    """Who holds the lock, as a phrase (see _holder)."""
    return _holder(path)[0]


def _holder(path: Path) -> tuple[str, bool]:
    """(who holds the lock, whether it is a tlsc apply): 'pid 123 (since 2024-...)' as
    the file a tlsc apply writes says; else the pid the kernel names (/proc/locks: a
    process that took the lock itself, `flock FILE CMD`, which writes no pid, or one
    whose file an earlier apply wrote), 'which is no tlsc apply'; 'another process'
    when neither tells."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        text = []
    named = text[0] if len(text) >= 2 and text[0].isdigit() else None
    locked = _flock_pid(path)
    if named is not None and (locked is None or str(locked) == named):
        return f"pid {named} (since {text[1]})", True
    if locked is not None:
        return f"pid {locked}, which is no tlsc apply", False
    return "another process", False


def _flock_pid(path: Path) -> int | None:
    """The pid /proc/locks names for a FLOCK on `path`'s inode, or None."""
    try:
        st = os.stat(path)
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            lines = locks.read().splitlines()
    except OSError:
        return None
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        fields = line.split()
        # `1: FLOCK  ADVISORY  WRITE 12345 08:01:1234567 0 EOF` (`->` marks a waiter)
        if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK":
            continue
        if fields[5] == inode and fields[4].isdigit() and int(fields[4]) != os.getpid():
            return int(fields[4])
    return None


class ApplyLock:
    """An exclusive lock on `path`, taken with `acquire` and dropped with `release`."""

    def __init__(self, path: Path, shown: Path | None = None):
        self.path = path
        #: the lock's path in messages (`path` may be a /proc/self/fd path to it)
        self.shown = shown or path
        self._fd: int | None = None

    def _open(self) -> int:
        """Open (or create) the lock file itself: never through a symlink, never a non-file.

        A planted `.tlsc-apply.lock -> /etc/passwd` must not be truncated and
        written through, and a FIFO or device must not be written to.
        """
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            make_parents(self.path)
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise LockError(
                    f"the lock file {self.shown} is a symbolic link; remove it (tlsc makes its own)"
                ) from None
            raise LockError(f"cannot open the lock file {self.shown}: {exc.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise LockError(
                f"the lock file {self.shown} is not a regular file; remove it (tlsc makes its own)"
            )
        return fd

    def acquire(self, timeout: float, waiting: Callable[[str], None] | None = None) -> None:
        """Take the lock, waiting up to `timeout` seconds; LockError when it stays taken.

        `waiting(who)` is called once if the lock is busy at first.
        """
        fd = self._open()
        deadline = time.monotonic() + max(timeout, 0.0)
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise LockError(f"cannot lock {self.shown}: {exc.strerror}") from None
            if time.monotonic() >= deadline:
                who, an_apply = _holder(self.path)
                os.close(fd)
                raise LockError(
                    f"{'another tlsc apply' if an_apply else 'another process'} holds the"
                    f" lock {self.shown} ({who}); waited {timeout:g} s (--lock-timeout)"
                )
            if not told and waiting is not None:
                waiting(holder(self.path))
                told = True
            time.sleep(POLL_SECONDS)
        self._fd = fd
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        # who holds it is only for a waiting apply's message: on a full disk the lock
        # holds all the same, and the step that must write says that the disk is full
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {stamp}\n".encode(), 0)

    def release(self) -> None:
        """Drop the lock (the file stays, so two applies never race on creating it)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None
