"""A001 malformed-line: an access line makemap skips or reads differently than meant.

makemap drops a line that starts with a blank ("syntax error (leading
space)") and one without a value ("no RHS"); a vertical tab, form feed or
carriage return is a blank to makemap as much as a space or tab, so a line
starting with one is skipped, and one after the key ends it there -- where an
editor shows no blank, and the line reads as a key without a value. A NO-BREAK
SPACE (or U+001C, an EM SPACE, ...) after the key is no blank to makemap: it
stays in the key, with what follows up to the next blank, and the line never
matches. A `#` after the value is not a comment: it becomes part of the value,
and on a Connect: line that rejects every connection with `553 5.3.0 RELAY # ...`.
`%` must be written `%%`. A carriage return (CRLF line ends) is stored in the value.

PASS (access):
    # comments start in column 1
    Connect:127	RELAY
    From:spammer@example.com	ERROR:"550 go away"

FAIL (access) at 1:1:
        Connect:10.1.2.3	RELAY

FAIL (access) at 1:1:
    Connect:10.1.2.4

FAIL (access) at 1:20:
    Connect:10.9	RELAY # office network
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from compiler.lint.access import AccessDocument
from compiler.lint.engine import Finding, LintContext
from compiler.sendmail import mapline
from compiler.sendmail.names import describe_char

ID = "A001"
NAME = "malformed-line"
KIND = "access"


def check(doc: AccessDocument, ctx: LintContext) -> Iterator[Finding]:
    """Lines makemap rejects, and values that carry comments or control characters."""
    from compiler.sendmail.accessmap import space_in_key

    for e in doc.entries:
        if e.key == "":
            lead = e.raw[0]
            what = (
                "a blank,"
                if lead in " \t"
                else f"{describe_char(lead)}, a blank to makemap that an editor does not show,"
            )
            yield Finding(
                e.start,
                ID,
                "error",
                f"this line starts with {what} so makemap skips it ('syntax error (leading"
                " space)'); start the key in column 1",
            )
            continue
        if e.value.strip() == "":
            yield Finding(
                e.start,
                ID,
                "error",
                f"'{e.key}' has no value, so makemap skips the line ('no RHS'); add the value"
                " after a tab",
                length=len(e.key),
            )
            continue
        odd = space_in_key(e.key)
        if odd is not None:
            offset, message = odd
            yield Finding(e.start + offset, ID, "error", message)
        unseen = mapline.unseen_blank(e.blanks)
        if unseen is not None:
            yield Finding(
                e.value_start - len(e.blanks) + e.blanks.index(unseen),
                ID,
                "error",
                f"makemap ends the key '{e.key}' at {describe_char(unseen)}, which an editor"
                " does not show as a blank, and reads the rest as its value; separate key and"
                " value with a tab",
            )
        problem = _value_problem(e.value)
        if problem is not None:
            offset, message = problem
            yield Finding(e.value_start + offset, ID, "error", message)
        if e.raw.endswith("\r"):
            yield Finding(
                e.start + len(e.raw) - 1,
                ID,
                "error",
                "this line ends in CRLF and makemap stores the carriage return in the value;"
                " save the file with LF line ends",
            )


def _value_problem(value: str) -> tuple[int, str] | None:
    m = re.search(r"[ \t]#", value)
    if m:
        return (
            m.start() + 1,
            "a '#' after the value is not a comment in an access file; sendmail reads it"
            " as part of the value, so move the comment to its own line",
        )
    for i, ch in enumerate(value.rstrip("\r")):
        if (ord(ch) < 0x20 and ch != "\t") or ord(ch) == 0x7F:
            return i, f"the value holds the control character U+{ord(ch):04X}; remove it"
    i = value.find("%")
    while i >= 0:
        if value.startswith("%%", i):
            i = value.find("%", i + 2)
            continue
        return (
            i,
            "write a literal '%' as '%%' in an access value (makemap reads %1..%9 as arguments)",
        )
    return None
