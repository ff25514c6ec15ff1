"""M4007 mailer-order: FEATURE, OSTYPE, DOMAIN or define after the first MAILER, a MAILER twice.

cf.README wants the MAILER lines last, followed only by LOCAL_* sections.
Severity follows what real m4 builds. A FEATURE after a MAILER makes
sendmail-cf print `*** ERROR: FEATURE() should be before MAILER()`; OSTYPE
comes too late to set the mailers' paths and flags: errors. A define (or
MODIFY_MAILER_FLAGS) of something an earlier MAILER already read
(SMTP_MAILER_FLAGS and friends) changes nothing: an error. A define of an
option proto.m4 reads at the end of input (confSERVER_CERT ...) builds the
same .cf and is only a warning, as is a DOMAIN file that holds nothing of
that kind. A MAILER listed twice is `*** ERROR: MAILER(smtp) already
included`. LOCAL_TLS_* and the other TLS ruleset hooks must follow the
MAILERs. A SMART_HOST (MAIL_HUB, LUSER_RELAY, LOCAL_RELAY) of a .mc without
MAILER(`smtp') sends through a `relay` mailer that does not exist: sendmail
queues every such message ('unknown mailer relay'), an error.

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

FAIL at 3:1:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    OSTYPE(`debian')dnl
    define(`SMART_HOST', `smtp.example.net')dnl
    MAILER(`local')dnl

FAIL at 4:1:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    OSTYPE(`debian')dnl
    MAILER(`smtp')dnl
    define(`SMTP_MAILER_FLAGS', `e')dnl
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import Call, M4Document
from compiler.lint.mailertime import flags_read_by, late_effect, mailer_texts, read_by
from compiler.lint.rules.m4012_unknown_name import cf_dir

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


#: the defines that send mail through the `relay` mailer, which MAILER(`smtp') defines
_RELAYED = ("SMART_HOST", "MAIL_HUB", "LUSER_RELAY", "LOCAL_RELAY")
#: the mailers MAILER(`smtp') defines (a `mailer:host` value names one)
_SMTP_MAILERS = ("smtp", "esmtp", "smtp8", "dsmtp", "relay")


def _no_smtp_mailer(doc: M4Document, calls: list[Call]) -> Iterator[Finding]:
    """A SMART_HOST (MAIL_HUB, ...) of a complete .mc that has no MAILER(`smtp'): the
    relay mailer it sends through does not exist, and sendmail queues every message
    ('unknown mailer relay'). Not when FEATURE(nullclient|msp) writes the mailers, nor
    when the .mc includes a file of its own, which may hold the MAILER."""
    if doc.cf_m4_at is None:
        return
    if any(c.name == "MAILER" and doc.first_arg(c) == "smtp" for c in calls):
        return
    if any(c.name == "FEATURE" and doc.first_arg(c) in ("nullclient", "msp") for c in calls):
        return
    if any(os.path.basename(t) != "cf.m4" for _c, t in doc.includes()):
        return
    for call in calls:
        if call.name != "define" or len(call.args) < 2 or doc.first_arg(call) not in _RELAYED:
            continue
        value = doc.arg_value(call.args[1])
        mailer = value.split(":", 1)[0] if ":" in value and value[:1] != "[" else "relay"
        if mailer not in _SMTP_MAILERS:
            continue
        name = doc.first_arg(call)
        yield Finding(
            call.start,
            ID,
            "error",
            f"{name} sends mail through the {mailer} mailer, which MAILER(`smtp') defines,"
            " and this .mc has no MAILER(`smtp'): sendmail queues every such message"
            f" ('unknown mailer {mailer}'); add MAILER(`smtp')dnl after MAILER(`local')",
            length=call.end - call.start,
        )


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Order of FEATURE/OSTYPE/DOMAIN/define and LOCAL_* hooks around the MAILERs."""
    if doc.kind != "mc":
        return
    calls = doc.top_calls()
    yield from _no_smtp_mailer(doc, calls)
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
        elif call.name in ("FEATURE", "OSTYPE") and after:
            assert first is not None
            yield Finding(
                call.start,
                ID,
                "error",
                f"{call.name}(`{doc.first_arg(call)}') comes after MAILER(`{doc.first_arg(first)}')"
                f" at line {doc.line_of(first.start)}; move it above the MAILER lines",
                length=call.end - call.start,
            )
        elif call.name in ("DOMAIN", *_LATE) and after:
            assert first is not None
            yield _late(doc, ctx, call, first)
        elif call.name in _HOOKS and not (first is not None and call.start > first.start):
            yield Finding(
                call.start,
                ID,
                "warning",
                f"{call.name} must follow the MAILER lines (sendmail-cf warns 'MAILER() should be"
                f" before {call.name}'); move it below them",
                length=len(call.name),
            )


_LATE = ("define", "MODIFY_MAILER_FLAGS")


def _late(doc: M4Document, ctx: LintContext, call: Call, first: Call) -> Finding:
    """A define, MODIFY_MAILER_FLAGS or DOMAIN after the MAILERs: error iff the .cf differs."""
    base = cf_dir(doc)
    texts = mailer_texts(doc, ctx, base, call.start)
    name = doc.first_arg(call)
    what = f"{call.name}(`{name}')"
    where = f"comes after MAILER(`{doc.first_arg(first)}') at line {doc.line_of(first.start)}"
    length = call.end - call.start
    if call.name == "DOMAIN":
        included = ctx.included_m4(os.path.join(base, "domain", f"{name}.m4"))
        reason = (
            "the DOMAIN file cannot be read here to tell"
            if included is None
            else late_effect(included, texts)
        )
    elif call.name == "MODIFY_MAILER_FLAGS":
        reason = (
            f"the MAILER lines have already applied the {name} flags"
            if flags_read_by(name, texts)
            else None
        )
    else:
        reason = f"the MAILER lines have already read {name}" if read_by(name, texts) else None
    if reason is not None:
        return Finding(
            call.start,
            ID,
            "error",
            f"{what} {where}, too late: {reason}, so the .cf is not what this line says;"
            " move it above the MAILER lines",
            length=length,
        )
    return Finding(
        call.start,
        ID,
        "warning",
        f"{what} {where}; m4 builds the same .cf (proto.m4 reads it at the end of input),"
        " but cf.README and other tools expect it above the MAILER lines; move it there",
        length=length,
    )
