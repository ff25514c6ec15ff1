"""M4022 sts-socket: FEATURE(`sts') without the resolver's socket map.

sendmail-cf's sts.m4 then writes `Ksts socket -d5 -T<TMPF>
inet:5461@127.0.0.1`, but postfix-mta-sts-resolver listens on
inet:8461@127.0.0.1 unless told otherwise; with nothing answering there
every lookup fails for the moment and sendmail defers every recipient with
`450 4.7.0 STS lookup temp fail`. Name the socket (tlsc's `tls.mta_sts`
always does). A warning: a resolver configured for 5461 is fine.

PASS:
    FEATURE(`sts', `socket -d5 -T<TMPF> inet:8461@127.0.0.1')dnl

FAIL at 1:10:
    FEATURE(`sts')dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import M4Document

ID = "M4022"
NAME = "sts-socket"
KIND = "m4"


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """FEATURE(`sts') whose first argument is missing or empty."""
    for call in doc.top_calls("FEATURE"):
        if doc.first_arg(call) != "sts":
            continue
        if len(call.args) >= 2 and doc.arg_value(call.args[1]).strip():
            continue
        yield Finding(
            doc.value_offset(call.args[0]),
            ID,
            "warning",
            "FEATURE(`sts') without a socket map asks inet:5461@127.0.0.1, where"
            " postfix-mta-sts-resolver does not listen by default (8461), and sendmail defers"
            " every recipient while nothing answers there (write FEATURE(`sts', `socket -d5"
            " -T<TMPF> inet:8461@127.0.0.1'))",
            length=3,
        )
