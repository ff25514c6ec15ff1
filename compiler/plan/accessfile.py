"""Read an access file the way `makemap hash` does, tolerating anything.

This is not the spec's `access:` parser (`compiler.sendmail.accessmap.parse_entry`),
which refuses what tlsc would never write. Here the input is whatever stands
on a host, hand edits included, and the question is only what map makemap
would build from it:

* empty lines and lines with `#` in column 1 are ignored;
* a line starting with a blank is a syntax error that makemap skips;
* the key runs to the first blank, the value is the rest of the line after that
  run of blanks, trailing blanks (and a CR) kept -- a blank being a space, tab,
  vertical tab, form feed or CR, as `compiler.sendmail.mapline` says;
* a key with no value is skipped;
* keys fold to lower case, and for a key given twice the first value wins.
"""

from __future__ import annotations

from collections.abc import Iterable

from compiler.plan.model import AccessLine
from compiler.sendmail import mapline


def parse_line(text: str, line: int) -> AccessLine | None:
    """The entry on one line (without its newline), or None when makemap ignores it."""
    found = mapline.entry(text)
    if found is None:
        return None
    return AccessLine(found[0], found[1], line)


def parse_lines(numbered: Iterable[tuple[int, str]]) -> list[AccessLine]:
    """Entries of (line number, line text) pairs; line ends are stripped here."""
    out = []
    for number, text in numbered:
        entry = parse_line(text.removesuffix("\n"), number)
        if entry is not None:
            out.append(entry)
    return out


def read_access(text: str) -> dict[str, AccessLine]:
    """The map makemap would build: folded key -> the first entry with that key."""
    out: dict[str, AccessLine] = {}
    for entry in parse_lines(enumerate(text.split("\n"), start=1)):
        out.setdefault(entry.key.lower(), entry)
    return out
