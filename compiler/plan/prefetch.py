"""A --state tree read and hashed ahead, in a background thread, while the spec is
loaded and validated.

`tlsc plan --state DIR` of a big cluster reads and SHA-256-hashes every host's
files (240 MB for 50 hosts with 100,000 access entries); file reads and
hashlib release the GIL, so a second core can do that while the main thread
imports, parses and validates the spec, which is pure Python. Which files a
host's plan reads is known only once the spec is valid, so the thread reads
ahead what a tree made by `tlsc compile` holds: each host directory's
regular files, walked without following symbolic links (a link is left to
the main thread, which checks where it leads), a few per host.

Nothing here changes what a plan sees or says. The main thread takes a
host's files just before it plans that host (`take`) and uses a file read
ahead only for a path it resolved to that very file name (no link on the
way, as the walk saw it); anything else, and anything the thread could not
read, is read as before, so an unreadable file gives the same error. The
thread never raises: whatever goes wrong there only means a file is not
read ahead. At most WINDOW bytes are held ahead of the main thread, which
takes hosts in sorted order, as the plan lists them (hosts sorted before
the one taken are dropped); `close` stops the thread and waits for it, so
none outlives the command.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import threading
from collections.abc import Collection
from pathlib import Path
from typing import NamedTuple

#: the most bytes held read ahead of the main thread: with 128 MiB the thread stopped
#: halfway through a tree of 50 hosts of 100,000 entries (240 MB) while the spec was
#: validated, and read the rest while the hosts were compared, the main thread waiting
#: for it (0.04 s of a 0.6 s plan)
WINDOW = 256 * 2**20
#: a bigger file is left to the main thread: read ahead, it would be held while the
#: spec is validated, when memory peaks (a million-entry access file is 45 MB), and
#: its reading is a small part of that spec's plan
MAX_FILE = 16 * 2**20
#: the most regular files and directories read ahead per host (a tree made by
#: `tlsc compile` holds three files in three directories)
MAX_FILES = 32
MAX_DIRS = 32
#: the GIL's switch interval until `close`: this thread (and the planner's hashing
#: threads, plan/planner.py) waits for the GIL after every read and hash, and the main
#: thread would hold it for the default 5 ms each time
SWITCH_INTERVAL = 0.00005


class Ahead(NamedTuple):
    """A file read ahead: its bytes and their SHA-256 (hex)."""

    data: bytes
    sha256: str


class StatePrefetch:
    """Reads and hashes the files of every host directory under `base` in a thread.

    `hosts`: only these host directories (empty: all).
    """

    def __init__(
        self,
        base: str | Path,
        hosts: Collection[str] = (),
        window: int = WINDOW,
        max_file: int = MAX_FILE,
    ):
        self._base = Path(base)
        self._only = frozenset(hosts)
        self._window = window
        self._max_file = min(max_file, window)
        self._cond = threading.Condition()
        self._ready: dict[str, dict[str, Ahead]] = {}
        self._sizes: dict[str, int] = {}
        self._held = 0
        self._current: str | None = None
        self._taken: str | None = None  # the last host the main thread took
        self._stop = False
        self._idle = False  # the thread is done, or waits for room in the window
        self._done = False
        self._switch = sys.getswitchinterval()
        self._thread: threading.Thread | None = threading.Thread(
            target=self._run, name="tlsc-state-ahead", daemon=True
        )
        try:
            self._thread.start()
        except RuntimeError:  # no thread to be had: nothing is read ahead
            self._thread = None
            self._idle = self._done = True
        else:
            sys.setswitchinterval(min(self._switch, SWITCH_INTERVAL))

    # -- the main thread --------------------------------------------------------
    def take(self, host: str) -> dict[str, Ahead]:
        """{file name (str of its Path): Ahead} of `host`, read ahead; empty when the
        thread has not reached it (it then skips it). Waits while the thread is
        reading this host. Call in sorted order of hosts."""
        with self._cond:
            while self._current == host and not self._stop:
                self._cond.wait()
            self._taken = host if self._taken is None else max(host, self._taken)
            got = self._ready.pop(host, {})
            self._held -= self._sizes.pop(host, 0)
            for earlier in [h for h in self._ready if h < host]:
                del self._ready[earlier]
                self._held -= self._sizes.pop(earlier, 0)
            if not self._done and self._held < self._window:
                self._idle = False  # it reads on
            self._cond.notify_all()
        return got

    def wait_idle(self) -> None:
        """Wait until the thread has read all it may for now (for tests)."""
        with self._cond:
            while not self._idle:
                self._cond.wait()

    def __enter__(self) -> StatePrefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the thread, wait for it, drop what it read."""
        with self._cond:
            self._stop = True
            self._ready.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            sys.setswitchinterval(self._switch)

    # -- the thread --------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._read_all()
        except BaseException:  # never raised: the main thread reads what is not here
            pass
        finally:
            with self._cond:
                self._current = None
                self._idle = self._done = True
                self._cond.notify_all()

    def _read_all(self) -> None:
        with os.scandir(self._base) as entries:
            names = sorted(
                e.name
                for e in entries
                if e.is_dir(follow_symlinks=False) and (not self._only or e.name in self._only)
            )
        for name in names:
            with self._cond:
                while not self._stop and self._held >= self._window:
                    self._idle = True
                    self._cond.notify_all()
                    self._cond.wait()
                self._idle = False
                if self._stop:
                    return
                if self._taken is not None and name <= self._taken:
                    continue  # the main thread is past it
                self._current = name
            files, size = self._read_host(self._base / name)
            with self._cond:
                self._current = None
                if files and (self._taken is None or name > self._taken):
                    self._ready[name] = files
                    self._sizes[name] = size
                    self._held += size
                self._cond.notify_all()

    def _read_host(self, top: Path) -> tuple[dict[str, Ahead], int]:
        out: dict[str, Ahead] = {}
        size = 0
        dirs, seen = [top], 0
        while dirs and len(out) < MAX_FILES and seen < MAX_DIRS and not self._stop:
            directory = dirs.pop()
            seen += 1
            with os.scandir(directory) as entries:
                listed = sorted(entries, key=lambda e: e.name)
            for entry in listed:
                if entry.is_dir(follow_symlinks=False):
                    dirs.append(directory / entry.name)
                elif entry.is_file(follow_symlinks=False) and len(out) < MAX_FILES:
                    path = directory / entry.name
                    got = self._read_file(path)
                    if got is not None:
                        out[str(path)] = got
                        size += len(got.data)
        return out, size

    def _read_file(self, path: Path) -> Ahead | None:
        """The bytes and hash of the regular file at `path` (no link), or None."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > self._max_file:
                return None
            # one read, so fewer waits for the GIL; a file whose size is not what
            # fstat said (it grew or shrank, or a signal cut the read short) is left
            # to the main thread
            data = os.read(fd, info.st_size + 1)
            if len(data) != info.st_size:
                return None
            return Ahead(data, hashlib.sha256(data).hexdigest())
        except OSError:
            return None
        finally:
            os.close(fd)
