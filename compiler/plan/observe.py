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
import posixpath
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
    #: the spec's path at the revision (from the work tree's top) when git sees it
    #: renamed or moved since; its access files are read next to it there
    renamed_from: str | None = None


#: git's variables that say where the repository is (`git rev-parse --local-env-vars`
#: but its GIT_CONFIG ones, which carry settings such as safe.directory). A hook exports
#: them (a worktree's pre-commit: GIT_DIR), and they would make git read another
#: repository than the spec's, or take the spec's directory for the work tree's top:
#: the spec at the revision would then silently be "not there". The spec's own
#: directory says which repository it is in.
_LOCATION_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_COMMON_DIR",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_IMPLICIT_WORK_TREE",
        "GIT_PREFIX",
        "GIT_GRAFT_FILE",
        "GIT_SHALLOW_FILE",
        "GIT_INTERNAL_SUPER_PREFIX",
    }
)
#: the first line of a Git LFS pointer: the file itself is not in the commit
_LFS_POINTER = b"version https://git-lfs.github.com/spec/"
#: what `git cat-file --batch --follow-symlinks` says instead of an object's header
_NOT_THERE = (b"missing", b"dangling", b"notdir")


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LOCATION_VARS}
    env["LC_ALL"] = "C"  # git's messages are matched (dubious ownership) and quoted
    return env


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    import subprocess  # only plan --base runs git

    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env=_git_env(),
        )
    except FileNotFoundError:
        raise ObserveError("--base needs git, and git is not installed") from None
    except subprocess.TimeoutExpired:
        raise ObserveError(f"git {args[0]} took longer than {GIT_TIMEOUT} seconds") from None


def _last_line(done: subprocess.CompletedProcess[bytes]) -> str:
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1].removeprefix("fatal: ") if lines else f"exit status {done.returncode}"


class _NotAFile(Exception):
    """What is at a path in a commit, when it is not a file tlsc can read (one phrase)."""


def _blob_at(cwd: Path, commit: str, name: str, top: str | None = None) -> bytes | None:
    """The bytes of `name` (relative to `cwd`, or with `top` to that directory from the
    work tree's top) in `commit`, None when it is not there.

    Symbolic links are followed inside the commit's tree, as a checkout would
    (`git show` would give the link's own text, read as the spec); a link leading
    out of the repository, a directory, or a Git LFS pointer is _NotAFile.
    """
    if "\n" in name:
        raise _NotAFile("its name holds a line break, which git's batch mode cannot name")
    if top is None:
        where = f"./{name}"
    else:
        where = posixpath.normpath(posixpath.join(top, name))
        if where == ".." or where.startswith("../"):
            return None  # above the work tree's top: in no commit
    done = _git(
        cwd, "cat-file", "--batch", "--follow-symlinks", stdin=f"{commit}:{where}\n".encode()
    )
    if done.returncode != 0:
        raise ObserveError(f"git cat-file failed: {_last_line(done)}")
    header, _, rest = done.stdout.partition(b"\n")
    words = header.split()
    if not words or words[-1] == b"missing" or words[0] in _NOT_THERE:
        return None
    if words[0] == b"symlink":
        target = rest.rstrip(b"\n").decode(errors="replace")
        raise _NotAFile(f"a symbolic link leading out of the repository (to {target})")
    if words[0] == b"loop":
        raise _NotAFile("a loop of symbolic links")
    if len(words) != 3 or words[1] != b"blob":
        kind = words[1].decode(errors="replace") if len(words) == 3 else "not a file"
        raise _NotAFile("a directory" if kind == "tree" else f"a git {kind}, not a file")
    data = rest[: int(words[2])]
    if data.startswith(_LFS_POINTER):
        raise _NotAFile(
            "a Git LFS pointer, not the file (tlsc reads files as committed: keep the spec"
            " and its access files out of LFS)"
        )
    return data


def revision_reader(
    spec: str | Path, commit: str, renamed_from: str | None = None
) -> Callable[[str], bytes]:
    """A reader of the files next to `spec` as committed at `commit` (the access files
    a spec names, for plan --base), or next to `renamed_from` (its path from the work
    tree's top at `commit`); OSError when one is not there."""
    cwd = Path(spec).absolute().parent
    top = None if renamed_from is None else posixpath.dirname(renamed_from)

    def read(name: str) -> bytes:
        try:
            data = _blob_at(cwd, commit, name, top)
        except _NotAFile as exc:
            raise OSError(errno.EINVAL, f"at git revision {commit[:12]} it is {exc}") from None
        if data is None:
            raise OSError(errno.ENOENT, f"not in git revision {commit[:12]}")
        return data

    return read


def _check_repository(cwd: Path, spec: str | Path) -> None:
    """Refuse a spec git cannot read the history of, saying why in git's terms."""
    inside = _git(cwd, "rev-parse", "--is-inside-work-tree")
    if inside.returncode == 0 and inside.stdout.strip() == b"true":
        return
    said = inside.stderr.decode(errors="replace")
    if "dubious ownership" in said:
        import re

        where = re.search(r"repository at '([^']*)'", said)
        top = where.group(1) if where else str(cwd)
        raise ObserveError(
            f"git refuses the repository at {top}: it belongs to another user than the one"
            " running tlsc (git's safe.directory); in a CI container run"
            f" `git config --global --add safe.directory {top}` first"
        )
    if inside.returncode != 0 and "not a git repository" not in said:
        raise ObserveError(f"git cannot read the repository of {spec}: {_last_line(inside)}")
    raise ObserveError(f"--base needs {spec} to be in a git work tree, and it is not")


def _resolve(cwd: Path, ref: str, given: str) -> str:
    """The commit `ref` names (one revision); ObserveError in one sentence else."""
    if not ref or ref.startswith("-"):
        raise ObserveError(f"--base needs a git revision, not '{given}'")
    found = _git(cwd, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if found.returncode == 0:
        return found.stdout.decode().strip()
    if _git(cwd, "rev-parse", "--verify", "--quiet", "--end-of-options", ref).returncode == 0:
        raise ObserveError(f"git revision '{ref}' is not a commit; --base needs one")
    remote = f"origin/{ref}"
    if _git(cwd, "rev-parse", "--verify", "--quiet", f"refs/remotes/{remote}").returncode == 0:
        raise ObserveError(
            f"git revision '{ref}' does not exist here, but '{remote}' does (a CI checkout"
            f" has the target branch as {remote} only): give --base {remote}"
        )
    shallow = _git(cwd, "rev-parse", "--is-shallow-repository").stdout.strip() == b"true"
    if shallow:
        raise ObserveError(
            f"git revision '{ref}' is not in this clone, which is shallow (it holds only the"
            " last commits): fetch the history first (actions/checkout with fetch-depth: 0,"
            " GitLab's GIT_DEPTH: 0, or git fetch --unshallow)"
        )
    raise ObserveError(
        f"git revision '{ref}' does not exist here (in CI, fetch it first, e.g."
        " actions/checkout with fetch-depth: 0, or GitLab's GIT_DEPTH: 0)"
    )


def base_commit(cwd: Path, ref: str) -> str:
    """The commit --base REF names: one revision, or `A...B` (B default HEAD): the
    commit where B's history forked from A's, as `git diff A...B` compares with.

    A two-dot range is refused: it is a set of commits, not one to compare with.
    """
    left, three, right = ref.partition("...")
    if three:
        one = _resolve(cwd, left or "HEAD", ref)
        two = _resolve(cwd, right or "HEAD", ref)
        fork = _git(cwd, "merge-base", one, two)
        if fork.returncode == 0:
            return fork.stdout.decode().split()[0]
        if fork.returncode == 1 and not fork.stderr.strip():
            raise ObserveError(
                f"'{left or 'HEAD'}' and '{right or 'HEAD'}' have no commit in common, so"
                f" --base {ref} names none (a shallow clone? fetch with fetch-depth: 0)"
            )
        raise ObserveError(f"git merge-base failed: {_last_line(fork)}")
    if ".." in ref:
        first, second = ref.split("..", 1)
        first = first or "HEAD"
        raise ObserveError(
            f"--base takes one git revision, not the range '{ref}': give '{first}', or"
            f" '{first}...{second}' for the commit {second or 'HEAD'} forked from it at"
        )
    return _resolve(cwd, ref, ref)


def spec_at_revision(spec: str | Path, ref: str) -> SpecAtRevision:
    """Read `spec` as committed at git revision `ref` (REF:./NAME, links followed)."""
    if not ref or ref.startswith("-"):
        raise ObserveError(f"--base needs a git revision, not '{ref}'")
    path = Path(spec).absolute()
    cwd = path.parent
    if not cwd.is_dir():
        raise ObserveError(f"the directory of {spec} does not exist")
    _check_repository(cwd, spec)
    commit = base_commit(cwd, ref)
    try:
        data = _blob_at(cwd, commit, path.name)
    except _NotAFile as exc:
        raise ObserveError(f"{spec} at {ref} is {exc}") from None
    renamed = None
    if data is None:
        renamed = _renamed_from(cwd, commit, path.name) or _same_cluster(cwd, commit, path)
        if renamed is None:
            return SpecAtRevision(ref, commit, None)
        try:
            data = _blob_at(cwd, commit, renamed, "")
        except _NotAFile as exc:
            raise ObserveError(f"{spec} at {ref} (then {renamed}) is {exc}") from None
        if data is None:
            return SpecAtRevision(ref, commit, None)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ObserveError(f"{spec} at {ref} is not valid UTF-8") from None
    return SpecAtRevision(ref, commit, text.removeprefix("\ufeff"), renamed)


#: a spec's `cluster: NAME` line, as a plain or quoted word
_CLUSTER_LINE = r"^cluster:[ \t]*['\"]?([A-Za-z0-9._-]+)['\"]?[ \t]*(?:#.*)?$"


def _same_cluster(cwd: Path, commit: str, path: Path) -> str | None:
    """The one spec file at `commit` of the cluster `path` names (`cluster: NAME`), when
    git saw no rename and that file is gone from the work tree: a spec moved and
    rewritten in one change (re-indented, reordered) is too different for rename
    detection, and compared with nothing every file would be new, and no downgrade
    seen. None when no file, or more than one, names it, or it is still there."""
    import re  # only plan --base of a spec that moved

    try:
        found = re.search(_CLUSTER_LINE, path.read_text(encoding="utf-8", errors="replace"), re.M)
    except OSError:
        return None
    if found is None:
        return None
    name = found.group(1).replace(".", "[.]")  # an ERE of git grep's: the word as it is
    pattern = f"^cluster:[[:space:]]*['\"]?{name}['\"]?[[:space:]]*(#.*)?$"
    done = _git(
        cwd, "grep", "-l", "-z", "--full-name", "-E", "-e", pattern, commit, "--",
        ":(top,glob)**/*.yaml", ":(top,glob)**/*.yml", ":(top,glob)*.yaml", ":(top,glob)*.yml",
    )  # fmt: skip
    if done.returncode != 0:
        return None
    names = {
        n.split(":", 1)[1]
        for n in done.stdout.decode(errors="surrogateescape").split("\0")
        if ":" in n
    }
    if len(names) != 1:
        return None
    top = _git(cwd, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        return None
    name = names.pop()
    where = Path(top.stdout.decode(errors="surrogateescape").strip("\n")) / name
    # still there: another spec of the cluster, not this one before it moved
    return None if os.path.lexists(where) else name


def _renamed_from(cwd: Path, commit: str, name: str) -> str | None:
    """Where `name` (in `cwd`) was at `commit`, when git finds it renamed or moved since
    (its rename detection, `git diff --cached -M`, between the commit and the index: a
    committed or a staged `git mv`); None when it is new or git sees no rename."""
    prefix = _git(cwd, "rev-parse", "--show-prefix")
    if prefix.returncode != 0:
        return None
    now = prefix.stdout.decode(errors="surrogateescape").strip("\n") + name
    done = _git(
        cwd, "diff", "--cached", "-M", "--no-relative", "--no-ext-diff", "--name-status",
        "-z", "--diff-filter=R", commit, "--",
    )  # fmt: skip
    if done.returncode != 0:
        return None
    fields = done.stdout.decode(errors="surrogateescape").split("\0")
    for i in range(0, len(fields) - 2, 3):
        if fields[i].startswith("R") and fields[i + 2] == now:
            return fields[i + 1]
    return None
