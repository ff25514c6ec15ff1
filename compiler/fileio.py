"""Reading and writing the files tlsc is pointed at: regular files only, of a bounded size.

A path on the command line or under an import ROOT may name a FIFO, a
device, a socket or a directory. Reading `/dev/zero` never ends, opening a
FIFO blocks until a writer comes, and renaming a new file over `/dev/null`
replaces the device. So every read opens with O_NONBLOCK (a FIFO's open
returns at once), checks with fstat that it holds a regular file, and stops
past a size cap; every write first checks that the target is absent or a
regular file.

The errors are OSError subclasses whose `strerror` is the reason in words,
so a caller's `except OSError as exc: f"cannot read {path}: {exc.strerror}"`
says it in one sentence. This module is imported by the lint path: no heavy
imports.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

MIB = 1024 * 1024
#: the most bytes read from a file to lint, import or load as a spec
MAX_INPUT_BYTES = 64 * MIB
#: the most bytes read from a saved plan (`apply --plan`): its diffs can be a
#: whole large access file several times over
MAX_PLAN_BYTES = 256 * MIB

_CHUNK = 1 * MIB


def kind_of(mode: int) -> str:
    """What a file that is not a regular one is, in words (`a FIFO`)."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"  # pragma: no cover - no other kinds on Linux


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit % MIB == 0 else f"{limit:,} bytes"


class NotRegularFile(OSError):
    """The path names a FIFO, a device, a socket or a directory."""

    def __init__(self, path: str | os.PathLike[str], mode: int, tail: str = ""):
        kind = kind_of(mode)
        reason = kind if kind.startswith("not ") else f"it is {kind}, not a regular file"
        reason += tail
        code = errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL
        super().__init__(code, reason, os.fspath(path))


class TooLarge(OSError):
    """The file is larger than the cap for what it is read as."""

    def __init__(self, path: str | os.PathLike[str], limit: int):
        reason = f"it is larger than {_size(limit)}, the most tlsc reads from such a file"
        super().__init__(errno.EFBIG, reason, os.fspath(path))
        self.limit = limit


def read_regular(path: str | os.PathLike[str], limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes.

    Raises FileNotFoundError (and the other OSErrors of open and read) as
    they come, NotRegularFile for anything but a regular file (a FIFO is
    never waited on), TooLarge past `limit`.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(path, info.st_mode)
        if info.st_size > limit:
            raise TooLarge(path, limit)
        # a regular file can still grow while it is read (or say size 0, as /proc does)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise TooLarge(path, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_regular_text(path: str | os.PathLike[str], limit: int = MAX_INPUT_BYTES) -> str:
    """read_regular, decoded as UTF-8 with a bad byte replaced and line ends made `\\n`:
    what open(path).read() in text mode gives of a regular file."""
    text = read_regular(path, limit).decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def unreadable_reason(path: str | os.PathLike[str]) -> str | None:
    """Why `path` cannot be read as a file, in words (`no such file`, `it is a FIFO, not a
    regular file`), or None when it is a regular file. Nothing is opened."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return str(exc.strerror or exc).lower()
    return None if stat.S_ISREG(mode) else str(NotRegularFile(path, mode).strerror)


def check_write_target(path: str | os.PathLike[str]) -> None:
    """Refuse to replace anything but a regular file (absent is fine).

    A symbolic link is judged by what it leads to, so a link to /dev/null is
    refused as the device is.
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    if not stat.S_ISREG(mode):
        raise NotRegularFile(path, mode, "; nothing was written")


def refuse_an_input(
    target: str | os.PathLike[str], reads: Iterable[tuple[str | os.PathLike[str], str]]
) -> None:
    """Refuse to write over a file the output was made from (`plan --out cluster.yaml`,
    `import --out ROOT/etc/mail/sendmail.mc`): `reads` holds (path, what it is, in words).

    Judged by device and inode, so a symbolic or hard link to an input is refused too.
    """
    try:
        info = os.stat(target)
    except OSError:
        return
    for path, what in reads:
        try:
            other = os.stat(path)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) == (other.st_dev, other.st_ino):
            raise OSError(errno.EEXIST, f"it is {what}; nothing was written", os.fspath(target))


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived while `signals_as_exceptions` was in force."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """While a file is written: SIGTERM and SIGHUP raise Terminated, so the writer's
    `except BaseException` takes its temporary file away; then the process dies of the
    signal, as it would have at once. A signal ignored before (nohup) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum: int, _frame: object) -> None:
        raise Terminated(signum)

    old: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            old[sig] = signal.signal(sig, terminated)
    try:
        yield
    except Terminated as exc:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        old = {}
        os.kill(os.getpid(), exc.signum)  # die of it (the default action)
        raise  # a handler of the caller's own
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
