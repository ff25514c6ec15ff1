"""M4010 live-hash-comment: a `#` line that m4 reads as live text runs a macro.

cfhead.m4 calls changecom(), so once cf.m4 is included (and in every .m4 file,
which is included later) `#` starts no comment. In
`# we used to have FEATURE(`relay_entire_domain') here` the FEATURE really
runs, relaying is opened, and " here" lands in sendmail.cf. A bare macro
name (OSTYPE, MAILER, divert, a conf* name defined above) expands too, and a
`dnl` in the line deletes its newline so the next .cf line joins it. Write
comments as `dnl # ...`.

PASS:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    dnl # we used to have FEATURE(`relay_entire_domain') here
    OSTYPE(`debian')dnl

FAIL at 2:19:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    # we used to have FEATURE(`relay_entire_domain') here
    OSTYPE(`debian')dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import M4Document

ID = "M4010"
NAME = "live-hash-comment"
KIND = "m4"


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Macro calls and dnl inside `#` lines that m4 reads."""
    if not doc.hash_lines:
        return
    for call in doc.calls:
        if call.hash_line and (call.parent is None or not call.parent.hash_line):
            yield Finding(
                call.start,
                ID,
                "error",
                f"m4 runs {call.name} in this '#' line, because '#' is not a comment once cf.m4"
                " is included; write the comment as dnl # ...",
                length=len(call.name),
            )
    for start, _ in doc.dnl:
        if doc.line_of(start) in doc.hash_lines and doc.diversion_at(start) >= 0:
            yield Finding(
                start,
                ID,
                "warning",
                "dnl in this '#' line deletes its newline, so the next line of sendmail.cf"
                " joins this one; write the comment as dnl # ...",
                length=3,
            )
