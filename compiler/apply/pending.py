"""The journal of an apply in progress, so the next apply can finish an interrupted one.

Written (atomically) beside the lock once the backup is complete and before
the first file changes; removed when the apply succeeded or was rolled back.
If it is there when an apply takes the lock, the apply that wrote it died
(the lock is free only then): its rebuilds and restart may not have run, so
this apply runs them whatever its plan says. Every file is wholly old or
wholly new at any moment, so writing what still differs and then rebuilding
and restarting puts the host right.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

from compiler.apply.atomic import remove, write_atomic

PENDING_NAME = ".tlsc-apply.pending"
_MAX_JOURNAL = 1 << 16


@dataclass(frozen=True)
class Pending:
    """What an apply set out to do."""

    pid: int
    started: str
    host: str
    backup: str
    rebuild_cf: bool
    rebuild_access: bool
    restart: bool
    #: submit.cf (added later: a journal without it did not rebuild submit.cf)
    rebuild_submit: bool = False


def write_pending(path: Path, pending: Pending) -> None:
    """Record an apply in progress."""
    write_atomic(path, (json.dumps(asdict(pending), indent=2) + "\n").encode(), 0o600)


def read_pending(path: Path) -> Pending | None:
    """The journal an interrupted apply left, or None. A damaged one means: redo everything.

    Never follows a symlink nor blocks on a FIFO: anything but a regular file
    there counts as damaged.
    """
    text = ""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError:
        fd = -1  # a symlink (ELOOP) or unreadable: damaged
    if fd >= 0:
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                text = os.read(fd, _MAX_JOURNAL).decode("utf-8", "replace")
        finally:
            os.close(fd)
    with contextlib.suppress(ValueError, TypeError, KeyError):
        doc = json.loads(text)
        return Pending(
            int(doc["pid"]),
            str(doc["started"]),
            str(doc["host"]),
            str(doc["backup"]),
            bool(doc["rebuild_cf"]),
            bool(doc["rebuild_access"]),
            bool(doc["restart"]),
            bool(doc.get("rebuild_submit", False)),
        )
    return Pending(0, "unknown", "unknown", "unknown", True, True, True, True)


def clear_pending(path: Path) -> None:
    """The apply is over (done or rolled back)."""
    with contextlib.suppress(FileNotFoundError):
        remove(path)
