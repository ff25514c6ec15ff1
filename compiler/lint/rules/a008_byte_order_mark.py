"""A008 byte-order-mark-key: the access file starts with a UTF-8 byte order mark (U+FEFF).

Editors that save "UTF-8 with BOM" put the bytes EF BB BF before the first
line, and show nothing. makemap reads them as the first characters of the
first key, so that line never matches: `Connect:10.0.0.1 REJECT` is stored
under a key sendmail never looks up, a comment on the first line becomes an
entry, a first line of blanks and text becomes a key of the mark alone, and
an empty first line makes makemap fail (`no RHS`, exit 65). The other rules
judge the first line as it was meant, after the mark. `--fix` removes it.

PASS (access):
    Connect:10.0.0.1	REJECT

FAIL (access) at 1:1:
    \ufeffConnect:10.0.0.1	REJECT

FAIL (access) at 1:1:
    \ufeff# our relays
    Connect:10.0.0.1	RELAY
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.access import AccessDocument
from compiler.lint.engine import Edit, Finding, LintContext
from compiler.lint.source import BOM
from compiler.problems import shown
from compiler.sendmail import mapline
from compiler.sendmail.names import describe_char

ID = "A008"
NAME = "byte-order-mark-key"
KIND = "access"


def check(doc: AccessDocument, ctx: LintContext) -> Iterator[Finding]:
    """The mark at offset 0, with what makemap makes of the first line."""
    if doc.first_line_with_bom is None:
        return
    yield Finding(
        0,
        ID,
        "error",
        f"the file starts with a byte order mark, {describe_char(BOM)}, which makemap"
        f" reads as part of the first key: {_consequence(doc.first_line_with_bom)} (save"
        " the file as UTF-8 without a BOM)",
        edits=(Edit(0, len(BOM), ""),),
        safe=True,
    )


def _consequence(line: str) -> str:
    """What makemap makes of the first line, the mark before it."""
    line = line.rstrip("\r")
    if line.strip(mapline.BLANKS) == "":
        return "the first line is a key with no value, and makemap fails ('no RHS', exit 65)"
    if line.startswith("#"):
        return "the comment on the first line becomes an entry of the map"
    if line[0] in mapline.BLANKS:
        return "the mark alone is the first line's key, and the rest its value"
    key, _, _ = mapline.split(line)
    return f"the first line is stored under '{BOM}{shown(key)}', a key sendmail never looks up"
