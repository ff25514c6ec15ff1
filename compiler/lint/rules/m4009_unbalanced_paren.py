"""M4009 unbalanced-paren: a macro call whose ')' is missing, or a ')' that closes nothing.

A call whose `)` is missing makes m4 collect the following lines as its
arguments, up to the next unquoted `)` (maybe in another file: 'end of file
in argument list' was reported in mailer/smtp.m4 for a mistake in the .mc).
`dnl` inside the arguments, as in `define(`confCRL', /srv/dnl/crl.pem)dnl`
or `define(`x', `y'dnl`, deletes the rest of the line and the `)` with it.
An extra `)` after a call is copied into sendmail.cf.

PASS:
    define(`confPRIVACY_FLAGS',dnl
    `authwarnings,noexpn,novrfy')dnl

FAIL at 1:45:
    define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5'dnl
    FEATURE(`access_db')dnl

FAIL at 1:24:
    define(`confCRL', /srv/dnl/crl.pem)dnl

FAIL at 1:21:
    FEATURE(`access_db'))dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import M4Document

ID = "M4009"
NAME = "unbalanced-paren"
KIND = "m4"


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Unclosed calls, dnl inside arguments and stray closing parentheses."""
    quote_trouble = [
        e.start for e in doc.events if e.kind in ("open-across-line", "unclosed-quote")
    ]
    statement_lines = {doc.line_of(c.start) for c in doc.top_calls()}
    dnl_reported = False
    for e in doc.events:
        if e.kind == "dnl-in-args":
            dnl_reported = True
            yield Finding(
                e.start,
                ID,
                "error",
                f"dnl inside the arguments of {e.char}(...) deletes the rest of the line with"
                " its ')'; close the call before dnl, or quote an argument that contains dnl",
                length=3,
            )
        elif e.kind == "unclosed-call":
            if dnl_reported or quote_trouble:
                continue  # the quote or dnl finding explains it
            yield Finding(
                e.start,
                ID,
                "error",
                f"the '(' of {e.char}(...) is never closed; m4 reads the rest of the file as its"
                " arguments ('end of file in argument list'), add ')'",
            )
        elif (
            e.kind == "stray-paren"
            and e.context == "top"
            and doc.line_of(e.start) in statement_lines
        ):
            yield Finding(
                e.start,
                ID,
                "error",
                "this ')' closes no macro call, so m4 copies it into sendmail.cf; remove it",
            )
