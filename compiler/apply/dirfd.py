"""Directories under --root held open, so a write can never be redirected out of it.

Apply settles once, under the lock, which directory each file it writes is
in (observe.resolve_tree, then realpath). Each such directory is then opened
by walking its components from the root's own descriptor with
`O_DIRECTORY|O_NOFOLLOW` (`os.open(name, ..., dir_fd=parent)`), and kept
open until apply ends. Every write, rename, delete, backup read and restore
then goes through `/proc/self/fd/N/NAME`: the kernel resolves that to the
directory already open, never walking ROOT/etc/mail again. So when
ROOT/etc/mail (or ROOT/etc/mail/tls) is replaced by a symbolic link to a
directory outside the root after the lock was taken, apply still writes into
the directory it opened; a component that is a link by the time it is first
opened is refused (ELOOP/ENOTDIR), never followed.

m4 and makemap take paths: they are given the same /proc/self/fd paths, with
the descriptors passed to them (`pass_fds`), and so is m4's include of a
managed file under --root (which also keeps a root whose name holds a quote
or a back-tick out of the m4 text).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
PROC_FD = Path("/proc/self/fd")


class DirError(Exception):
    """A directory on the way is no longer what apply settled; the message is one sentence."""


def _fsync(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.fsync(fd)


class SafeDirs:
    """Open directories below `root`, by their real paths (as settled under the lock)."""

    def __init__(self, root: Path):
        self.top = Path(os.path.realpath(root))
        self._fds: dict[Path, int] = {}

    def close(self) -> None:
        """Close every directory held open."""
        fds, self._fds = self._fds, {}
        for fd in fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)

    def shown(self, name: Path) -> Path | None:
        """The real path that `name`, /proc/self/fd/N/..., stands for when N is one of
        these directories (None otherwise): what a message names."""
        fd = proc_fd(name)
        directory = next((d for d, n in self._fds.items() if n == fd), None)
        return None if directory is None else directory.joinpath(*name.parts[5:])

    def fds(self) -> tuple[int, ...]:
        """Every descriptor held (for a tool given /proc/self/fd paths)."""
        return tuple(sorted(self._fds.values()))

    def _parts(self, directory: Path) -> tuple[str, ...]:
        try:
            return directory.relative_to(self.top).parts
        except ValueError:
            raise DirError(
                f"{directory} is not under {self.top}; nothing there is read or written"
            ) from None

    def open(self, directory: Path, create: bool = True, mode: int = 0o755) -> int | None:
        """The descriptor of real directory `directory` (None: missing and not `create`)."""
        parts = self._parts(directory)
        if self.top not in self._fds:
            self._fds[self.top] = os.open(self.top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        at, fd = self.top, self._fds[self.top]
        for name in parts:
            at = at / name
            known = self._fds.get(at)
            if known is not None:
                fd = known
                continue
            try:
                child = os.open(name, FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    return None
                made = False
                with contextlib.suppress(FileExistsError):
                    # the last one gets `mode`; those above it 0755, as make_parents gives
                    os.mkdir(name, mode if at == directory else 0o755, dir_fd=fd)
                    made = True
                    _fsync(fd)
                child = self._open_child(name, fd, at)
                if made:
                    os.fchmod(child, mode if at == directory else 0o755)  # not the umask's
            except OSError as exc:
                raise self._refusal(at, exc) from None
            self._fds[at] = child
            fd = child
        return fd

    def _open_child(self, name: str, parent: int, at: Path) -> int:
        try:
            return os.open(name, FLAGS, dir_fd=parent)
        except OSError as exc:
            raise self._refusal(at, exc) from None

    @staticmethod
    def _refusal(at: Path, exc: OSError) -> DirError:
        if exc.errno == errno.ENOTDIR and _is_plain_file(at):
            # there from the start (a backup directory made a file), or swapped in: either
            # way what it is, not a guess at what happened
            return DirError(
                f"{at} is a file where a directory should be; nothing is written through it"
            )
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            return DirError(
                f"{at} is no longer the directory apply settled (it became a symbolic link"
                " or a file while apply ran); nothing is written through it"
            )
        return DirError(f"cannot open the directory {at}: {exc.strerror}")

    def path(self, file: Path, create: bool = True) -> Path | None:
        """`/proc/self/fd/N/NAME` for real file path `file` (None: its directory is missing
        and not `create`)."""
        fd = self.open(file.parent, create)
        if fd is None:
            return None
        return PROC_FD / str(fd) / file.name


def _is_plain_file(path: Path) -> bool:
    """True when `path` is a file that is not a symbolic link (looked at, never opened)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def real_file(path: Path) -> Path:
    """`path` with its directory's symbolic links resolved (the file itself is not)."""
    return Path(os.path.realpath(path.parent)) / path.name


def proc_fd(path: Path) -> int | None:
    """N, for a path /proc/self/fd/N/..., else None."""
    parts = path.parts
    if len(parts) > 4 and parts[:4] == PROC_FD.parts and parts[4].isdigit():
        return int(parts[4])
    return None
