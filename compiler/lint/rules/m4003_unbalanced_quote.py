"""M4003 unbalanced-quote: an m4 quote opened and never closed, or closed without being opened.

m4 has no escape inside a quote: the apostrophe in `` `550 We don't accept' ``
ends the quote early and the rules get `550 We dont accept'. A quote that is
never closed makes m4 swallow the rest of the file ('end of file in string')
and sendmail.cf is cut short; one closed on a later line swallows every line
in between. A back-tick typed as the closing quote opens a second quote
instead. Quotes in dnl comments are not read by m4 and are not checked, nor
are apostrophes in a `#` line that m4 copies as text.

PASS:
    define(`confREJECT_MSG', `550 Access denied')dnl
    dnl # we don't `quote here

FAIL at 1:37:
    define(`confREJECT_MSG', `550 We don't accept mail')dnl

FAIL at 1:27:
    define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5)dnl
    FEATURE(`access_db')dnl

FAIL at 1:44:
    define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5`)dnl

FAIL at 1:45:
    define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5'')dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import Event, M4Document

ID = "M4003"
NAME = "unbalanced-quote"
KIND = "m4"


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Stray closing quotes and quotes that run past their line or the file."""
    opened_at = {q.end - 1: q.start for q in doc.quotes if q.closed}
    for e in doc.events:
        if e.kind == "stray-close" and e.context != "hash":
            yield _stray(doc, e, opened_at)
        elif e.kind in ("open-across-line", "unclosed-quote"):
            yield _unclosed(doc, e)


def _stray(doc: M4Document, e: Event, opened_at: dict[int, int]) -> Finding:
    if e.ref >= 0:
        _, col = doc.pos(opened_at.get(e.ref, e.ref))
        return Finding(
            e.ref,
            ID,
            "error",
            f"this apostrophe ends the quote opened at column {col} early, because m4 has no"
            " escape for ' inside a quote; reword the value without an apostrophe",
        )
    return Finding(
        e.start,
        ID,
        "error",
        "this apostrophe closes a quote that is not open, so m4 copies it into the"
        " value or the .cf; remove it",
    )


def _unclosed(doc: M4Document, e: Event) -> Finding:
    text = doc.text
    prev = text[e.start - 1] if e.start else "\n"
    nxt = text[e.start + 1] if e.start + 1 < len(text) else "\n"
    if text[e.start] == "`" and prev not in " \t\n(,`" and nxt in "),\n \t":
        message = (
            "a back-tick ` here opens a new quote instead of closing one; m4 closes"
            " quotes with an apostrophe (write ')"
        )
    elif e.ref >= 0:
        line, col = doc.pos(e.ref)
        message = (
            f"this quote is not closed on its line; m4 reads on to the apostrophe at line"
            f" {line}, column {col} and swallows everything in between (close it with ')"
        )
    else:
        message = (
            "this quote is never closed; m4 reads to the end of the file ('end of file in"
            " string') and sendmail.cf is cut short (close it with ')"
        )
    return Finding(e.start, ID, "error", message)
