"""M4007 mailer-order: FEATURE, OSTYPE or define after the first MAILER, a MAILER twice.

cf.README wants the MAILER lines last, followed only by LOCAL_* sections.
A FEATURE after a MAILER makes sendmail-cf print `*** ERROR: FEATURE()
should be before MAILER()`; OSTYPE and DOMAIN come too late to set the
mailers' paths and flags; a define after the MAILERs cannot change a mailer
any more (SMTP_MAILER_FLAGS and friends are read when MAILER runs), so keep
defines above them. A MAILER listed twice is `*** ERROR: MAILER(smtp)
already included`. LOCAL_TLS_* and the other TLS ruleset hooks must follow
the MAILERs.

PASS:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    OSTYPE(`debian')dnl
    FEATURE(`access_db')dnl
    define(`SMTP_MAILER_FLAGS', `e')dnl
    MAILER(`local')dnl
    MAILER(`smtp')dnl
    LOCAL_TLS_CLIENT

FAIL at 5:1:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    OSTYPE(`debian')dnl
    MAILER(`local')dnl
    MAILER(`smtp')dnl
    FEATURE(`access_db')dnl

FAIL at 4:1:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    OSTYPE(`debian')dnl
    MAILER(`smtp')dnl
    MAILER(`smtp')dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import M4Document

ID = "M4007"
NAME = "mailer-order"
KIND = "m4"

_HOOKS = (
    "LOCAL_TLS_CLIENT",
    "LOCAL_TLS_SERVER",
    "LOCAL_TLS_RCPT",
    "LOCAL_TRY_TLS",
    "LOCAL_SRV_FEATURES",
    "LOCAL_CLT_FEATURES",
)


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Order of FEATURE/OSTYPE/DOMAIN/define and LOCAL_* hooks around the MAILERs."""
    if doc.kind != "mc":
        return
    calls = doc.top_calls()
    mailers = [c for c in calls if c.name == "MAILER"]
    first = mailers[0] if mailers else None
    seen: dict[str, int] = {}
    for call in calls:
        after = first is not None and call.start > first.start
        if call.name == "MAILER":
            name = doc.first_arg(call)
            if name in seen:
                yield Finding(
                    call.start,
                    ID,
                    "error",
                    f"MAILER(`{name}') is already included at line {seen[name]}; sendmail-cf"
                    " stops with '*** ERROR: MAILER() already included' (remove this line)",
                    length=call.end - call.start,
                )
            seen.setdefault(name, doc.line_of(call.start))
        elif call.name in ("FEATURE", "OSTYPE", "DOMAIN") and after:
            assert first is not None
            yield Finding(
                call.start,
                ID,
                "error",
                f"{call.name}(`{doc.first_arg(call)}') comes after MAILER(`{doc.first_arg(first)}')"
                f" at line {doc.line_of(first.start)}; move it above the MAILER lines",
                length=call.end - call.start,
            )
        elif call.name == "define" and after:
            assert first is not None
            yield Finding(
                call.start,
                ID,
                "warning",
                f"define(`{doc.first_arg(call)}') comes after MAILER(`{doc.first_arg(first)}')"
                f" at line {doc.line_of(first.start)}, too late to change a mailer; move it"
                " above the MAILER lines",
                length=call.end - call.start,
            )
        elif call.name in _HOOKS and not (first is not None and call.start > first.start):
            yield Finding(
                call.start,
                ID,
                "warning",
                f"{call.name} must follow the MAILER lines (sendmail-cf warns 'MAILER() should be"
                f" before {call.name}'); move it below them",
                length=len(call.name),
            )
