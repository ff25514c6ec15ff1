"""Replacing a file so that a reader (or a crash) sees the old bytes or the new, never a mix.

Each file is written to a temp file in its own directory, flushed to disk,
given the owner, group and mode of the file it replaces, renamed over it, and
then the directory itself is flushed, so the rename survives a power cut.
Temp files have fixed names (`.NAME.tlsc-new`): apply holds the host's lock
while it writes them, and the next apply removes any a crash left behind.

What the admin gave the file beyond owner, group and mode goes across too: its
extended attributes, a POSIX ACL (`system.posix_acl_access`) among them. A
rename puts a new inode in place, and without them an ACL granting one more
user read access would be gone, and worse, the ACL's mask (what `stat` shows
as the group bits) would become the owning group's own permission. The
`security.` namespace is left to the kernel and its security modules: they
label a new file themselves, and a copied IMA hash would not match the new
bytes.

Every path here is the file itself: a symbolic link at `target` would be
replaced, not followed, so apply first resolves a managed path that is a
link to the file it leads to (compiler.plan.observe.resolve_link) and
writes, backs up and restores that file, in that file's directory. The
runner passes `/proc/self/fd/N/NAME` paths: that directory held open since
the lock was taken (compiler.apply.dirfd), so a directory swapped for a
symbolic link meanwhile cannot redirect the write.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TEMP_SUFFIX = ".tlsc-new"


#: the extended attributes a replaced file keeps: all but those the kernel manages
_KERNEL_XATTRS = "security."
#: a file system without extended attributes (or a /proc path to one) has none
_NO_XATTRS = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENODATA)

Xattrs = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class FileMeta:
    """Owner, group, mode and extended attributes (an ACL among them) to give a file."""

    uid: int
    gid: int
    mode: int
    xattrs: Xattrs = ()

    @classmethod
    def of(cls, st: os.stat_result, xattrs: Xattrs = ()) -> FileMeta:
        """The metadata of an existing file (its extended attributes: `read_xattrs`)."""
        return cls(st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), xattrs)


def _kept(name: str) -> bool:
    return not name.startswith(_KERNEL_XATTRS)


def read_xattrs(file: int | Path) -> Xattrs:
    """The extended attributes a replacement of `file` (a descriptor or a path, not
    followed when a link) keeps, sorted by name."""
    follow = isinstance(file, int)
    try:
        names = sorted(n for n in os.listxattr(file, follow_symlinks=follow) if _kept(n))
    except OSError as exc:
        if exc.errno in _NO_XATTRS:
            return ()
        raise
    out = []
    for name in names:
        try:
            out.append((name, os.getxattr(file, name, follow_symlinks=follow)))
        except OSError as exc:
            if exc.errno != errno.ENODATA:  # removed meanwhile
                raise
    return tuple(out)


def set_xattrs(fd: int, xattrs: Xattrs) -> None:
    """Give an open file exactly `xattrs` (of those a replacement keeps): a default ACL
    the directory gave the new file, which the old one did not have, goes."""
    want = dict(xattrs)
    for name, _ in read_xattrs(fd):
        if name not in want:
            os.removexattr(fd, name)
    for name, value in xattrs:
        os.setxattr(fd, name, value)


def temp_path(path: Path) -> Path:
    """The fixed temp name beside `path`: `.NAME.tlsc-new`."""
    return path.with_name(f".{path.name}{TEMP_SUFFIX}")


def existing_meta(path: Path) -> FileMeta | None:
    """The metadata of `path`, or None when there is no such file."""
    try:
        st = path.stat()
        return FileMeta.of(st, read_xattrs(path))
    except FileNotFoundError:
        return None


def fsync_dir(directory: Path) -> None:
    """Flush a directory's entries (a rename in it) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_parents(path: Path, mode: int = 0o755) -> None:
    """Create the missing directories above `path` with `mode` (not the umask's)."""
    missing = [p for p in reversed(path.parents) if not p.exists()]
    for directory in missing:
        directory.mkdir(mode=mode)
        directory.chmod(mode)
    if missing:
        fsync_dir(missing[0].parent)


def set_meta(fd: int, meta: FileMeta) -> None:
    """Give an open file `meta`'s owner, group, extended attributes and mode (owner only
    when it differs; the mode last, as an ACL written sets the group bits)."""
    st = os.fstat(fd)
    if (st.st_uid, st.st_gid) != (meta.uid, meta.gid):
        os.fchown(fd, meta.uid, meta.gid)
    set_xattrs(fd, meta.xattrs)
    os.fchmod(fd, meta.mode)


def install(temp: Path, target: Path) -> None:
    """Rename a finished temp file over `target` and flush the directory."""
    os.replace(temp, target)
    fsync_dir(target.parent)


def write_atomic(
    target: Path,
    data: bytes,
    default_mode: int,
    mtime_ns: int | None = None,
    meta: FileMeta | None = None,
) -> None:
    """Replace `target` with `data`, keeping its owner, group and mode.

    A new file gets `default_mode`, this process's owner and the group the
    directory gives (Debian's /etc/mail is setgid smmsp). `meta` overrides
    both; `mtime_ns` sets the modification time (a restore keeps the old one).
    """
    make_parents(target)
    meta = meta or existing_meta(target)
    temp = temp_path(target)
    temp.unlink(missing_ok=True)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        finish(temp, target, meta, default_mode, mtime_ns)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def finish(
    temp: Path,
    target: Path,
    meta: FileMeta | None,
    default_mode: int,
    mtime_ns: int | None = None,
) -> None:
    """Give a written temp file `meta` (or `default_mode`), flush it, rename it over `target`."""
    fd = os.open(temp, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if meta is not None:
            set_meta(fd, meta)
        else:
            os.fchmod(fd, default_mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    if mtime_ns is not None:
        os.utime(temp, ns=(mtime_ns, mtime_ns))
    install(temp, target)


def remove(target: Path) -> bool:
    """Delete `target` durably; False when it was not there."""
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    fsync_dir(target.parent)
    return True


def clean_temps(paths: Iterable[Path]) -> list[Path]:
    """Remove temp files a crashed apply left beside `paths`; the ones removed."""
    removed = []
    for path in paths:
        for leftover in (temp_path(path), Path(f"{temp_path(path)}.db")):
            # looked at first: unlinking a missing name on a read-only mount is EROFS
            if not os.path.lexists(leftover):
                continue
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                leftover.unlink()
                removed.append(leftover)
    return removed
