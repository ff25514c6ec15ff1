"""M4023 byte-order-mark: the file starts with a UTF-8 byte order mark (U+FEFF).

Editors that save "UTF-8 with BOM" put the bytes EF BB BF before the first
line, and show nothing. m4 reads them as text and copies them into
sendmail.cf: a `.mc`'s onto the first line of the `.cf`, an included
`.m4`'s onto the line where its output begins. sendmail 8.17 and 8.18 both
reject that line (`line 1: unknown configuration line "o;?#"`) and ignore
it: a comment there costs a complaint on every start, a `K` or `O` line
there (a `LOCAL_CONFIG` include) is lost. The macro after the mark is read
as usual. `--fix` removes the mark.

PASS:
    divert(-1)dnl
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    OSTYPE(`debian')dnl

FAIL at 1:1:
    \ufeffdivert(-1)dnl
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    OSTYPE(`debian')dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Edit, Finding, LintContext
from compiler.lint.lexer import M4Document
from compiler.lint.source import BOM
from compiler.sendmail.names import describe_char

ID = "M4023"
NAME = "byte-order-mark"
KIND = "m4"


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """The mark at offset 0 (a U+FEFF further on is text, for other rules)."""
    if not doc.bom:
        return
    # a .mc that includes cf.m4 starts the output; one built as `m4 cf.m4 FILE.mc`, and
    # an included .m4, start it wherever they come
    where = (
        "the first line of sendmail.cf"
        if doc.kind == "mc" and doc.cf_m4_at is not None
        else "the line of sendmail.cf where this file's output begins"
    )
    yield Finding(
        0,
        ID,
        "error",
        f"the file starts with a byte order mark, {describe_char(BOM)}, which m4 copies"
        f" onto {where}; sendmail rejects that line as an unknown configuration line"
        " ('o;?...') and ignores it (save the file as UTF-8 without a BOM)",
        edits=(Edit(0, len(BOM), ""),),
        safe=True,
    )
