"""M4024 cf-comment: a `#` in a value that sendmail reads as a comment in sendmail.cf.

m4 copies the value into the .cf as written, but sendmail's readcf reads a
`#` anywhere in a .cf line as the start of a comment, not only in column 1,
and drops it with the rest of the line and the blanks before it:
`O SmtpGreetingMessage=$j ESMTP #1` holds `$j ESMTP`, and a map's file name
holding one is cut. `\\#` is the character itself (sendmail drops the
backslash); `$#` is a rule's `$#` and is left alone. Checked in a define's
value, a DAEMON_OPTIONS or CLIENT_OPTIONS line and a FEATURE's arguments,
where validation refuses the same for a spec (S104).

PASS:
    define(`confSMTP_LOGIN_MSG', `$j ESMTP \\#1')dnl
    DAEMON_OPTIONS(`Port=smtp, Name=MTA')dnl

FAIL at 1:40:
    define(`confSMTP_LOGIN_MSG', `$j ESMTP #1')dnl

FAIL at 1:36:
    DAEMON_OPTIONS(`Port=2525, Name=MTA#2')dnl
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import Arg, M4Document

ID = "M4024"
NAME = "cf-comment"
KIND = "m4"

#: a `#` readcf takes for a comment: not escaped by a backslash, not a `$#`
_COMMENT = re.compile(r"(?<![\\$])#")


def _values(doc: M4Document) -> Iterator[Arg]:
    """The arguments whose text goes into a .cf line."""
    for call in doc.top_calls("define", "pushdef", "DAEMON_OPTIONS", "CLIENT_OPTIONS", "FEATURE"):
        if call.name in ("define", "pushdef"):
            if len(call.args) > 1 and doc.first_arg(call).startswith("conf"):
                yield call.args[1]
        elif call.name == "FEATURE":
            yield from call.args[1:]
        elif call.args:
            yield call.args[0]


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Each such argument's first `#` that sendmail would read as a comment."""
    for arg in _values(doc):
        if _COMMENT.search(doc.arg_value(arg)) is None:
            continue
        start = doc.value_offset(arg)
        found = _COMMENT.search(doc.text, start, arg.end)
        if found is None:
            continue
        yield Finding(
            found.start(),
            ID,
            "error",
            "sendmail reads this '#' in sendmail.cf as the start of a comment and drops it"
            " with the rest of the line and the blanks before it; write '\\#' for the"
            " character",
        )
