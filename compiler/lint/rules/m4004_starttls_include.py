"""M4004 starttls-include: the STARTTLS include after MAILER, or missing where TLS is configured.

`include(`/etc/mail/tls/starttls.m4')dnl` belongs after the FEATUREs and
before MAILER_DEFINITIONS and the MAILER lines: cf.README lets only LOCAL_*
sections follow the MAILERs. Severity follows what real m4 builds: a
starttls file of option defines (confSERVER_CERT ...) after the MAILERs
builds the same .cf, since proto.m4 reads them at the end of input, so that
is a warning; it is an error when the included file holds something the
MAILER lines have already read (SMTP_MAILER_FLAGS ...) or a FEATURE. It is
missing (a warning: the .cf is what the .mc says) when this run also lints a
starttls.m4 that the .mc does not include; an error when the access file beside
the .mc holds TLS rules that need a certificate (TLS_Clt:, VERIFY) while the
.mc neither includes starttls.m4 nor sets confSERVER_CERT.

PASS:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    OSTYPE(`debian')dnl
    FEATURE(`access_db')dnl
    include(`/etc/mail/tls/starttls.m4')dnl
    MAILER(`local')dnl
    MAILER(`smtp')dnl

FAIL at 5:1:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    OSTYPE(`debian')dnl
    MAILER(`local')dnl
    MAILER(`smtp')dnl
    include(`/etc/mail/tls/starttls.m4')dnl

FAIL at 4:1:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    OSTYPE(`debian')dnl
    FEATURE(`access_db')dnl
    MAILER(`local')dnl
    ==> access <==
    TLS_Clt:laptop.example.com	VERIFY
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import Call, M4Document
from compiler.lint.mailertime import late_effect, mailer_texts
from compiler.lint.rules.m4012_unknown_name import cf_dir

ID = "M4004"
NAME = "starttls-include"
KIND = "m4"


def is_starttls(path: str) -> bool:
    """True for a file name that is a STARTTLS settings file (starttls.m4 and kin)."""
    name = os.path.basename(path).lower()
    return name.endswith(".m4") and "tls" in name


def starttls_includes(doc: M4Document) -> list[Call]:
    """The include() calls of STARTTLS settings files."""
    return [
        c
        for c in doc.top_calls("include", "sinclude")
        if c.closed and is_starttls(doc.first_arg(c))
    ]


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Include placed after MAILER, or absent while TLS is configured."""
    mailers = doc.top_calls("MAILER")
    first_mailer = mailers[0] if mailers else None
    includes = starttls_includes(doc)
    for inc in includes:
        if first_mailer is not None and inc.start > first_mailer.start:
            yield _after_mailer(doc, ctx, inc, first_mailer)
    if includes or doc.kind != "mc" or doc.cf_m4_at is None:
        return
    defined = {doc.first_arg(c) for c in doc.all_calls() if c.name == "define"}
    features = {doc.first_arg(c) for c in doc.top_calls("FEATURE")}
    if "confSERVER_CERT" in defined or "msp" in features:
        return  # TLS set up inline, or a submission config (its TLS is optional)
    at = first_mailer.start if first_mailer is not None else doc.cf_m4_at
    where = (
        "before the MAILER lines" if first_mailer is not None else "after OSTYPE and the FEATUREs"
    )
    here = os.path.dirname(os.path.abspath(doc.path))
    linted = [
        p
        for p in ctx.m4_paths
        if is_starttls(p)
        and os.path.dirname(os.path.abspath(p)) in (here, os.path.join(here, "tls"))
    ]
    if linted:
        # a warning: the .cf is what the .mc says (STARTTLS off), as on a stock Debian host
        # whose /etc/mail is linted whole
        yield Finding(
            at,
            ID,
            "warning",
            f"{linted[0]} is linted with this file but never included, so STARTTLS is off;"
            f" add include(`/etc/mail/tls/{os.path.basename(linted[0])}')dnl {where}",
        )
        return
    for access in ctx.access_for(doc.path):
        needs = access.rules_needing_certificates()
        if needs:
            yield Finding(
                at,
                ID,
                "error",
                f"{access.path}:{needs[0].number} has a TLS rule ({needs[0].key}) that needs a"
                " certificate, but this .mc neither includes starttls.m4 nor sets"
                f" confSERVER_CERT; add include(`/etc/mail/tls/starttls.m4')dnl {where}",
            )
            return


def _after_mailer(doc: M4Document, ctx: LintContext, inc: Call, first: Call) -> Finding:
    """The include after the MAILERs: an error iff the .cf it builds differs."""
    line, _ = doc.pos(first.start)
    here = f"the STARTTLS include comes after MAILER(`{doc.first_arg(first)}') at line {line}"
    included = ctx.included_m4(doc.first_arg(inc), doc.path)
    reason = None
    if included is not None:
        texts = mailer_texts(doc, ctx, cf_dir(doc), inc.start)
        reason = late_effect(included, texts)
    if reason is not None:
        return Finding(
            inc.start,
            ID,
            "error",
            f"{here}, too late: {reason}, so the .cf is not what the file says; move it above"
            " MAILER_DEFINITIONS and the MAILER lines",
            length=inc.end - inc.start,
        )
    return Finding(
        inc.start,
        ID,
        "warning",
        f"{here}; m4 builds the same .cf (proto.m4 reads its options at the end of input),"
        " but convention and tools expect it above MAILER_DEFINITIONS and the MAILER lines;"
        " move it there",
        length=inc.end - inc.start,
    )
