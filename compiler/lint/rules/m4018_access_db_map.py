"""M4018 access-db-map: FEATURE(`access_db') with a map spec that lacks -T<TMPF>.

Without `-T<TMPF>` in the map spec a temporary lookup failure is not
reported as one, and sendmail-cf warns `*** WARNING: missing -T<TMPF> in
argument of FEATURE(`access_db', ...)` (any m4 output on stderr fails a
build). Leave the argument empty for Debian's default map, or write
`hash -T<TMPF> -o /etc/mail/access`.

PASS:
    FEATURE(`access_db', , `skip')dnl
    FEATURE(`access_db', `hash -T<TMPF> -o /etc/mail/access')dnl

FAIL at 1:23:
    FEATURE(`access_db', `hash /etc/mail/access')dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import M4Document

ID = "M4018"
NAME = "access-db-map"
KIND = "m4"


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """access_db map specs without the temporary-failure flag."""
    for call in doc.top_calls("FEATURE"):
        if doc.first_arg(call) != "access_db" or len(call.args) < 2:
            continue
        spec = doc.arg_value(call.args[1])
        if spec and spec != "LDAP" and "-T<TMPF>" not in spec:
            kind, _, rest = spec.partition(" ")
            yield Finding(
                doc.value_offset(call.args[1]),
                ID,
                "warning",
                "the access_db map spec lacks -T<TMPF>, so sendmail-cf warns and a temporary"
                f" lookup failure goes unnoticed (write `{kind} -T<TMPF> {rest}')",
                length=len(spec),
            )
