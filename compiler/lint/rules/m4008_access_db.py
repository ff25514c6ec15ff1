"""M4008 access-db: STARTTLS configured, TLS rules in the access file, no FEATURE(`access_db').

Without FEATURE(`access_db') sendmail never consults the access map, so every
TLS_Srv, TLS_Clt, TLS_Rcpt, Try_TLS and Srv_Features line is silently
ignored: mail flows, unencrypted or unverified. The access file checked is
the one linted in the same run from the .mc's directory, else the `access`
file beside the .mc. TLS counts as configured when the .mc includes a
starttls.m4 or sets confSERVER_CERT. A submit.mc (`FEATURE(`msp')`) is not
checked: the access file beside it is the MTA's, which reads it.

PASS:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    OSTYPE(`debian')dnl
    FEATURE(`access_db', , `skip')dnl
    include(`/etc/mail/tls/starttls.m4')dnl
    MAILER(`smtp')dnl
    ==> access <==
    TLS_Srv:secure.example.com	ENCR:128

PASS:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    define(`__OSTYPE__', `')dnl
    FEATURE(`msp', `[127.0.0.1]')dnl
    include(`/etc/mail/tls/starttls.m4')dnl
    ==> access <==
    TLS_Srv:secure.example.com	ENCR:128

FAIL at 3:1:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    OSTYPE(`debian')dnl
    include(`/etc/mail/tls/starttls.m4')dnl
    MAILER(`smtp')dnl
    ==> access <==
    TLS_Srv:secure.example.com	ENCR:128
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import M4Document
from compiler.lint.rules.m4004_starttls_include import starttls_includes

ID = "M4008"
NAME = "access-db"
KIND = "m4"


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """TLS rules that sendmail would never read."""
    if doc.kind != "mc":
        return
    features = {doc.first_arg(c) for c in doc.all_calls() if c.name == "FEATURE"}
    if "access_db" in features or "msp" in features:
        return  # a submit.mc (FEATURE(`msp')): the access file beside it is the MTA's
    includes = starttls_includes(doc)
    certs = [
        c for c in doc.all_calls() if c.name == "define" and doc.first_arg(c) == "confSERVER_CERT"
    ]
    if not includes and not certs:
        return
    anchor = (includes or certs)[0]
    for access in ctx.access_for(doc.path):
        rules = access.tls_rules()
        if rules:
            yield Finding(
                anchor.start,
                ID,
                "error",
                f"{access.path} has TLS rules ({rules[0].key} at line {rules[0].number}) but"
                " without FEATURE(`access_db') sendmail never reads them; add"
                " FEATURE(`access_db', , `skip')dnl before the STARTTLS include",
                length=anchor.end - anchor.start,
            )
            return
