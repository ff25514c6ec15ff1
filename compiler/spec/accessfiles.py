"""Access files a spec names: `access: [{file: blocklist.access}]`.

Such a file is what makemap reads (KEY, blanks, VALUE on each line; a `#` in
column 1 starts a comment; blank lines are skipped), and its entries stand in
the spec's list where the item is, checked exactly as the list's own (one
problem per bad entry, at FILE:LINE:COL). The path is relative to the spec's
directory. The loader reads each file once, here, with the reader it is given
(the disk, or `git show` for `plan --base`), and keeps its SHA-256: the plan's
spec digest covers it, so a saved plan goes stale when the file changes.
"""

from __future__ import annotations

import errno
import os
import re
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.fileio import MAX_INPUT_BYTES, read_regular
from compiler.problems import line_col, shown
from compiler.sendmail import names

Loc = tuple[str | int, ...]

#: reads a file the spec names (its path as written) -> its bytes; OSError when it cannot
Reader = Callable[[str], bytes]


@dataclass
class AccessFileRead:
    """One named file: its entries and their lines, or why it could not be read."""

    #: the path as the spec writes it, and as messages show it (joined to the spec's
    #: directory, as the user would open it)
    name: str
    source: str
    sha256: str | None = None
    #: each entry's text as written (a line that is neither blank nor a comment);
    #: accessbulk.Released once a plan's validation has let go of them
    texts: Sequence[str] = field(default_factory=list)
    #: the line of each entry; None when entry i is on line i + 1
    lines: array[int] | None = None
    #: the blank after each key: a tab when the file has any, else a space
    sep: str = " "
    #: (line, col, message) when the file could not be read or decoded
    error: tuple[int, int, str] | None = None
    #: the loc of the item that names the same file first (this one is not read)
    again: Loc | None = None

    def line_of(self, index: int) -> int:
        """The line of entry `index`."""
        return index + 1 if self.lines is None else self.lines[index]


_NAME = re.compile(r"^[A-Za-z0-9._+@=~-]+(/[A-Za-z0-9._+@=~-]+)*\Z")
_NAME_CHAR = re.compile(r"[A-Za-z0-9._+@=~/-]")


def check_name(value: str) -> None:
    """Refuse a path that is not relative to the spec's directory (ValueError says why).

    Checked before the file is read: an entry's problem quotes its line, and a
    spec must not make tlsc print lines of a file it had no business naming.
    """
    bad = names.first_unsafe(value)
    if bad is not None:
        raise ValueError(f"a file name cannot contain {names.describe_char(bad)}")
    if value.startswith("/"):
        raise ValueError(
            f"'{shown(value)}' is an absolute path; write it relative to the spec's directory,"
            " so that the spec reads the same file wherever it is checked out"
        )
    if ".." in value.split("/"):
        raise ValueError(
            f"'{shown(value)}' has a '..' part; name access files in the spec's directory or"
            " below it, without '..' (a spec must not make tlsc read, and quote, files elsewhere)"
        )
    if any(part.lower() == ".git" for part in value.split("/")):
        raise ValueError(
            f"'{shown(value)}' is inside a .git directory, whose files no diff shows (a CI"
            " checkout keeps its token in .git/config); name a file of the spec's tree"
        )
    if not _NAME.match(value):
        bad_ch = next((c for c in value if not _NAME_CHAR.match(c)), None)
        if bad_ch is not None:
            raise ValueError(f"a file name cannot contain {names.describe_char(bad_ch)}")
        raise ValueError(f"'{shown(value)}' has an empty path component")


def is_good_name(value: str) -> bool:
    """True when check_name accepts `value`."""
    try:
        check_name(value)
    except ValueError:
        return False
    return True


def disk_reader(spec_source: str) -> Reader:
    """A reader of files next to the spec (a FIFO or a device is refused, never waited on).

    A name that is, or passes through, a symbolic link leading out of the spec's
    directory is refused as a `..` is (check_name): its lines would be quoted in
    the problems (a spec from a pull request naming /etc/shadow through a link).
    """
    base = Path(spec_source).parent

    def read(name: str) -> bytes:
        top = os.path.realpath(base)
        real = os.path.realpath(base / name)
        if os.path.commonpath([top, real]) != top:
            raise OSError(
                errno.EACCES,
                "it is a symbolic link leading out of the spec's directory, and tlsc reads"
                " access files only in it or below it",
                str(base / name),
            )
        return read_regular(real, MAX_INPUT_BYTES)

    return read


def shown_path(spec_source: str, name: str) -> str:
    """The path of a named file as messages show it."""
    return os.path.normpath(str(Path(spec_source).parent / name))


def read_access_file(name: str, spec_source: str, read: Reader) -> AccessFileRead:
    """Read and split one named file (never raises for a bad file: see `error`)."""
    out = AccessFileRead(name, shown_path(spec_source, name))
    try:
        data = read(name)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        out.error = (0, 0, f"cannot read the access file {out.source}: {reason}")
        return out
    import hashlib  # not at the top: the model (every cold start) imports check_name

    out.sha256 = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        out.error = (line, col, f"the access file {out.source} is not valid UTF-8")
        return out
    if text.startswith("\ufeff"):
        out.error = (
            1,
            1,
            f"the access file {out.source} starts with a byte order mark, which makemap"
            " would read as part of its first key; save it without one (tlsc lint --fix"
            " takes it out)",
        )
        return out
    cr = text.find("\r\n")
    if cr >= 0:
        line, col = line_col(text, cr)
        out.error = (
            line,
            col,
            f"the access file {out.source} has Windows line ends (CR LF), and makemap would"
            " keep each CR in its value; save it with LF line ends",
        )
        return out
    bidi = _first_bidi(text)
    if bidi >= 0:
        line, col = line_col(text, bidi)
        out.error = (
            line,
            col,
            f"the access file {out.source} holds {names.describe_char(text[bidi])}, which makes"
            " a diff show the line in another order than makemap reads it; remove it",
        )
        return out
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    kept = [i for i, line in enumerate(lines) if line and line[0] != "#"]
    if len(kept) == len(lines):
        out.texts = lines
    else:
        out.texts = [lines[i] for i in kept]
        out.lines = array("I", (i + 1 for i in kept))
    out.sep = "\t" if "\t" in text else " "
    return out


def _first_bidi(text: str) -> int:
    """Where the first bidirectional control of `text` is, -1 when there is none."""
    if text.isascii():
        return -1
    found = [at for at in map(text.find, names.BIDI_CONTROLS) if at >= 0]
    return min(found, default=-1)


def file_items(
    data: dict[str, Any], skip: frozenset[Loc] = frozenset()
) -> Iterator[tuple[Loc, str]]:
    """(loc, path) of every `{file: PATH}` item of the spec's `access:` lists (not of
    those at `skip`: lists known to hold strings only)."""
    lists: list[tuple[Loc, Any]] = [(("access",), data.get("access"))]
    hosts = data.get("hosts")
    if isinstance(hosts, dict):
        for name, host in hosts.items():
            if isinstance(host, dict):
                lists.append((("hosts", name, "access"), host.get("access")))
    for loc, items in lists:
        if not isinstance(items, list) or loc in skip:
            continue
        for i, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get("file"), str):
                yield (*loc, i), item["file"]


def entry_loc(item: Loc, line: int) -> Loc:
    """The location of the entry on `line` of the file the item at `item` names."""
    return (*item, "file", line)


def split_entry_loc(loc: Loc) -> tuple[Loc, int] | None:
    """(the item's loc, the line) for an entry_loc, else None."""
    if len(loc) >= 2 and loc[-2] == "file" and isinstance(loc[-1], int):
        return loc[:-2], loc[-1]
    return None
