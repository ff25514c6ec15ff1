"""M4016 changequote: the file changes m4's quote or comment characters.

After `changequote([,])` (or a changecom the linter cannot follow) the
quotes are no longer ` and ', and the lexer stops guessing: nothing after
that line is checked. sendmail-cf itself never needs changequote; keep it
out of .mc files.

PASS:
    define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5')dnl

FAIL at 1:1:
    changequote([,])dnl
    define([confCIPHER_LIST], [HIGH])dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import M4Document

ID = "M4016"
NAME = "changequote"
KIND = "m4"


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Where the linter stopped reading."""
    for e in doc.events:
        if e.kind == "changequote":
            yield Finding(
                e.start,
                ID,
                "warning",
                f"{e.char} changes how m4 reads the rest of the file, so tlsc does not check"
                " anything after this line; remove it (sendmail-cf never needs it)",
                length=len(e.char),
            )
