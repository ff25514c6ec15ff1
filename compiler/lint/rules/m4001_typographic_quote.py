"""M4001 typographic-quote: a typographic quote where m4 needs ` or '.

Word processors, chat tools and web pages turn the back-tick and the
apostrophe into ‘ ’ ´ “ ” and their kin. m4 reads those as ordinary
characters, so nothing is quoted: `define(‘confCIPHER_LIST’, ...)` defines a
macro literally named ‘confCIPHER_LIST’ and the option silently disappears
from sendmail.cf. A double quote around a macro name does the same. In dnl
comments they are harmless and not reported. `--fix` writes ` where the
character opens a quote and ' where it closes one.

PASS:
    define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5')dnl
    dnl # don’t paste ‘smart’ quotes here

FAIL at 1:8:
    define(‘confCIPHER_LIST’, `HIGH:!aNULL:!MD5')dnl

FAIL at 1:27:
    define(`confCIPHER_LIST', ´HIGH:!aNULL:!MD5')dnl

FAIL at 1:8:
    define("confCIPHER_LIST", `HIGH:!aNULL:!MD5')dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Edit, Finding, LintContext
from compiler.lint.lexer import M4Document
from compiler.lint.suggest import describe
from compiler.sendmail.m4names import NAME_FIRST_ARG

ID = "M4001"
NAME = "typographic-quote"
KIND = "m4"


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Typographic quotes outside comments, and double quotes around names."""
    for e in doc.events:
        if e.kind != "typo":
            continue
        what = f"typographic quote {describe(e.char)}"
        if e.role == "opener":
            yield Finding(
                e.start,
                ID,
                "error",
                f"{what} where m4 needs a back-tick ` to open a quote; m4 reads it as"
                " text, so nothing is quoted (write `)",
                (Edit(e.start, e.start + 1, "`"),),
                safe=True,
            )
        elif e.role == "closer":
            yield Finding(
                e.start,
                ID,
                "error",
                f"{what} where m4 needs an apostrophe ' to close the quote (write ')",
                (Edit(e.start, e.start + 1, "'"),),
                safe=True,
            )
        else:
            yield Finding(
                e.start,
                ID,
                "warning",
                f"{what} is copied into sendmail.cf as it is; write plain ASCII, or `"
                " and ' if it is meant as an m4 quote",
            )
    yield from _double_quoted_names(doc)


def _double_quoted_names(doc: M4Document) -> Iterator[Finding]:
    for call in doc.calls:
        if call.name not in NAME_FIRST_ARG or not call.args or call.hash_line:
            continue
        arg = call.args[0]
        text = doc.arg_text(arg)
        if not text.startswith('"'):
            continue
        start = doc.text.index('"', arg.start)
        edits = [Edit(start, start + 1, "`")]
        inner = text[1:]
        if len(text) > 1 and text.endswith('"'):
            end = doc.text.rindex('"', start + 1, arg.end)
            edits.append(Edit(end, end + 1, "'"))
            inner = text[1:-1]
        yield Finding(
            start,
            ID,
            "error",
            f'a double quote " does not quote in m4, so {call.name}() gets the name'
            f" {text} with its quotes (write `{inner}')",
            tuple(edits),
            safe=len(edits) == 2,
        )
