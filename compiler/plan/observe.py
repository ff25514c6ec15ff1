"""What is there now: a host's files under --root, a --state tree, or the spec
at a git revision (--base), compiled.

Reading never follows a guess: a missing file is absent (the plan creates
it), while a directory where a file should be, or a file that cannot be
read, stops the plan with one sentence.

A managed file that is a symbolic link (a chain of them, or one that
dangles) stands for the file at its end: that file is read, and apply
writes it, so the link stays as the admin made it. Every link on the way
must stay inside the base directory; a loop is refused.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.fileio import MAX_INPUT_BYTES, TooLarge

if TYPE_CHECKING:
    import subprocess

GIT_TIMEOUT = 120
#: the most symbolic links a chain may hold (Linux's MAXSYMLINKS)
MAX_LINKS = 40


class ObserveError(Exception):
    """What is there now cannot be read; the message is one sentence."""


def read_file(path: Path, shown: Path | None = None) -> bytes | None:
    """The bytes of `path`, or None when there is no such file.

    `shown` names the file in messages (`path` may be a /proc/self/fd path to it,
    which tells the person nothing). A file larger than tlsc reads (the cap `tlsc
    lint` and `tlsc import` have: a sparse or runaway access file) is refused in one
    sentence, before its bytes fill the memory.
    """
    name = shown or path
    try:
        # O_NONBLOCK: a FIFO planted where a file should be must not hang the read
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ObserveError(f"cannot read {name}: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ObserveError(f"{name} is a directory where a file should be")
        raise ObserveError(f"{name} is not a regular file")
    with os.fdopen(fd, "rb") as f:
        try:
            # one byte past the cap: a file that grows while it is read is caught too
            data = f.read(MAX_INPUT_BYTES + 1) if info.st_size <= MAX_INPUT_BYTES else None
        except OSError as exc:
            raise ObserveError(f"cannot read {name}: {exc.strerror}") from None
    if data is None or len(data) > MAX_INPUT_BYTES:
        raise ObserveError(f"cannot read {name}: {TooLarge(name, MAX_INPUT_BYTES).strerror}")
    return data


def host_path(base: Path, path: str) -> Path:
    """Where a host's absolute `path` lies under `base` (as DESTDIR does)."""
    return base / path.lstrip("/")


def check_inside(base: Path, path: Path) -> None:
    """Refuse `path` when a symbolic link on it leads out of `base`.

    A --state tree from a pull request, or an image under --root, could
    otherwise make a plan print (and apply write) a file of the machine that
    runs tlsc. Links that stay inside `base` are fine; so is anything under /.
    """
    _check_inside(base, Path(os.path.realpath(base)), path)


def _check_inside(base: Path, top: Path, path: Path) -> Path:
    """check_inside with realpath(base) given as `top`; realpath(path)."""
    real = Path(os.path.realpath(path))
    if top != Path("/") and real != top and top not in real.parents:
        raise _outside(base, path)
    return real


def _outside(base: Path, path: Path) -> ObserveError:
    return ObserveError(
        f"{path} leads out of {base} through a symbolic link;"
        " nothing there is read or written through it"
    )


def _follow(link: Path, text: str) -> Path:
    """Where the link at `link` whose contents are `text` leads, one step on."""
    head, name = os.path.split(text)
    directory = Path(os.path.realpath(link.parent / head if head else link.parent))
    if name in ("", ".", ".."):
        return Path(os.path.realpath(directory / name))
    return directory / name


def resolve_link(base: Path, path: Path) -> Path:
    """The file a write to `path` replaces: `path` itself, or the end of its symbolic links.

    The end need not exist (a dangling link: apply creates the file there).
    Every link on the way must lie inside `base`, as its end must; a loop,
    or a chain longer than the kernel follows, is refused.
    """
    return _resolve_link(base, Path(os.path.realpath(base)), path)


def _resolve_link(base: Path, top: Path, path: Path) -> Path:
    """resolve_link with realpath(base) given as `top`."""
    current, seen = path, [Path(os.path.realpath(path.parent)) / path.name]
    while True:
        try:
            text = os.readlink(current)
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOENT, errno.ENOTDIR):
                return current  # not a link, or nothing there
            raise ObserveError(f"cannot read {current}: {exc.strerror}") from None
        current = _follow(current, text)
        if current in seen or len(seen) > MAX_LINKS:
            raise ObserveError(
                f"{path} is a loop of symbolic links (or a chain of more than {MAX_LINKS});"
                " nothing is read or written through it"
            )
        if top != Path("/") and top not in current.parents:
            raise _outside(base, path)
        seen.append(current)


def resolve_tree(base: Path, paths: Iterable[str]) -> dict[str, Path]:
    """{path: the file to read and write} for each absolute host path under `base`.

    Refuses a path whose links lead out of `base` or loop, and two paths that
    are one file (through a link, tlsc would write it twice).
    """
    out: dict[str, Path] = {}
    real: dict[Path, str] = {}
    top = Path(os.path.realpath(base))
    for p in paths:
        on_disk = host_path(base, p)
        real_path = _check_inside(base, top, on_disk)
        target = _resolve_link(base, top, on_disk)
        # not a link: its real path is the one just found
        end = real_path if target is on_disk else Path(os.path.realpath(target))
        same = real.setdefault(end, p)
        if same != p:
            raise ObserveError(
                f"{host_path(base, same)} and {on_disk} are the same file through a symbolic"
                " link; tlsc manages each as a file of its own"
            )
        out[p] = target
    return out


def read_files(
    files: Mapping[str, Path], shown: Mapping[str, Path] | None = None
) -> dict[str, bytes | None]:
    """{path: bytes or None} for each host path's file (made by resolve_tree); `shown`
    names a file in messages where `files` gives another path to it."""
    names = shown or {}
    return {p: read_file(target, names.get(p)) for p, target in files.items()}


def read_tree(base: Path, paths: Iterable[str]) -> dict[str, bytes | None]:
    """{path: bytes or None} for each absolute host path, read under `base`."""
    return read_files(resolve_tree(base, paths))


def check_dir(path: Path, option: str) -> None:
    """Refuse a --root or --state that is not a directory."""
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a directory"
        raise ObserveError(f"{option} {path} {what}")


@dataclass(frozen=True)
class SpecAtRevision:
    """The spec file as it was at a git revision (text None: not there then)."""

    ref: str
    commit: str
    text: str | None


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    import subprocess  # only plan --base runs git

    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise ObserveError("--base needs git, and git is not installed") from None
    except subprocess.TimeoutExpired:
        raise ObserveError(f"git {args[0]} took longer than {GIT_TIMEOUT} seconds") from None


def revision_reader(spec: str | Path, commit: str) -> Callable[[str], bytes]:
    """A reader of the files next to `spec` as committed at `commit` (the access files
    a spec names, for plan --base); OSError when one is not there."""
    cwd = Path(spec).absolute().parent

    def read(name: str) -> bytes:
        shown = _git(cwd, "show", f"{commit}:./{name}")
        if shown.returncode != 0:
            raise OSError(errno.ENOENT, f"not in git revision {commit[:12]}")
        return shown.stdout

    return read


def spec_at_revision(spec: str | Path, ref: str) -> SpecAtRevision:
    """Read `spec` as committed at git revision `ref` (git show REF:./NAME)."""
    if not ref or ref.startswith("-"):
        raise ObserveError(f"--base needs a git revision, not '{ref}'")
    path = Path(spec).absolute()
    cwd = path.parent
    if not cwd.is_dir():
        raise ObserveError(f"the directory of {spec} does not exist")
    inside = _git(cwd, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != b"true":
        raise ObserveError(f"--base needs {spec} to be in a git work tree, and it is not")
    found = _git(cwd, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise ObserveError(
            f"git revision '{ref}' does not exist here (in CI, fetch it first, e.g."
            " actions/checkout with fetch-depth: 0)"
        )
    commit = found.stdout.decode().strip()
    shown = _git(cwd, "show", f"{commit}:./{path.name}")
    if shown.returncode != 0:
        exists = _git(cwd, "cat-file", "-e", f"{commit}:./{path.name}")
        if exists.returncode != 0:
            return SpecAtRevision(ref, commit, None)
        message = shown.stderr.decode(errors="replace").strip().splitlines()
        raise ObserveError(f"git show failed: {message[-1] if message else 'no message'}")
    try:
        text = shown.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise ObserveError(f"{spec} at {ref} is not valid UTF-8") from None
    return SpecAtRevision(ref, commit, text.removeprefix("\ufeff"))
