"""M4002 apostrophe-opens-argument: a macro argument opened with ' instead of `.

The seed's mistake: `include('/etc/mail/tls/starttls.m4')dnl`. m4 opens a
quote only with a back-tick, so the apostrophe is text: that include names
a file called '/etc/mail/tls/starttls.m4 and fails, and
`define('confX', ...)` defines a macro literally named 'confX', so the
option is silently absent. The same holds for the inner quote of a doubly
quoted value (`` `'value'' ``). `--fix` writes the back-tick.

PASS:
    include(`/etc/mail/tls/starttls.m4')dnl
    define(`confCRL', `')dnl

FAIL at 1:9:
    include('/etc/mail/tls/starttls.m4')dnl

FAIL at 1:27:
    define(`confCIPHER_LIST', 'HIGH:!aNULL:!MD5')dnl

FAIL at 1:28:
    define(`confCIPHER_LIST', `'HIGH:!aNULL:!MD5'')dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Edit, Finding, LintContext
from compiler.lint.lexer import M4Document

ID = "M4002"
NAME = "apostrophe-opens-argument"
KIND = "m4"


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Apostrophes where an argument's quote opens."""
    ends = {q.start: q.end for q in doc.quotes}
    for e in doc.events:
        if e.kind != "apostrophe-open":
            continue
        end = ends.get(e.start, -1)
        meant = doc.text[e.start + 1 : end] if end > 0 else ""
        if not meant or "\n" in meant or len(meant) > 80:
            meant = ""
        yield Finding(
            e.start,
            ID,
            "error",
            "this argument opens with an apostrophe ' but m4 opens quotes only with a"
            f" back-tick `, so the quote never opens (write `{meant})",
            (Edit(e.start, e.start + 1, "`"),),
            safe=True,
        )
