"""Where makemap ends an access line's key, and where the value starts.

makemap 8.17 reads a line (its newline taken off) as KEY, a run of blanks, VALUE,
where a blank is what isspace() knows in the C locale: a space, a tab, a vertical
tab, a form feed or a carriage return (checked with the real makemap: a line
starting with any of them is a "syntax error (leading space)"). Nothing else ends
a key: not the other characters Python's str.split() takes for whitespace (U+001C
to U+001F, NEL, NO-BREAK SPACE, ...). Empty lines and lines with `#` in column 1
are comments; a line starting with a blank, or with nothing after its key's run of
blanks ("no RHS"), is skipped. Trailing blanks (and a CR) stay in the value.

Every reader of a host's access lines (the plan, ownership: tls, lint, import)
splits them here.
"""

from __future__ import annotations

import re

#: the characters makemap ends a key at, and skips before the value
BLANKS = " \t\v\f\r"
#: those of BLANKS an editor does not show as a blank between key and value
UNSEEN_BLANKS = "\v\f\r"

_SPLIT = re.compile(r"([^ \t\v\f\r]*)([ \t\v\f\r]*)(.*)", re.DOTALL)


def split(text: str) -> tuple[str, str, str]:
    """(key, blanks, rest) of a line without its newline: the key up to the first
    blank ('' when the line starts with one), the run of blanks after it, the rest."""
    m = _SPLIT.match(text)
    assert m is not None
    return m.group(1), m.group(2), m.group(3)


def entry(text: str) -> tuple[str, str] | None:
    """(key, value) makemap loads from a line without its newline (key unfolded), or
    None when it loads nothing: a comment, an empty line, a leading blank, no value."""
    if not text or text[0] == "#" or text[0] in BLANKS:
        return None
    key, _, value = split(text)
    return (key, value) if value else None


def unseen_blank(blanks: str) -> str | None:
    """The first character of a run of blanks an editor does not show as one."""
    for ch in blanks:
        if ch in UNSEEN_BLANKS:
            return ch
    return None
