"""M4017 ostype: a .mc that includes cf.m4 without exactly one OSTYPE before its MAILERs.

A .mc with MAILER lines but no cf.m4 include (FreeBSD's and OpenBSD's make
put cf.m4 first on m4's command line) is held to the same.

Without OSTYPE sendmail-cf prints `*** ERROR: No system type defined (use
OSTYPE macro)` and still exits 0, leaving a .cf without the system's paths;
a second OSTYPE overrides the first one's settings half-way. proto.m4
checks only that `__OSTYPE__` is defined, so sendmail's own submit.mc idiom
`define(`__OSTYPE__',`')dnl` builds cleanly without OSTYPE and is not
reported.

PASS:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    OSTYPE(`debian')dnl
    MAILER(`smtp')dnl

PASS:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    define(`__OSTYPE__',`')dnl
    FEATURE(`msp', `[127.0.0.1]')dnl

FAIL at 2:1:
    include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
    MAILER(`smtp')dnl

FAIL at 2:1:
    VERSIONID(`freebsd')dnl
    MAILER(`smtp')dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import M4Document

ID = "M4017"
NAME = "ostype"
KIND = "m4"


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Missing or repeated OSTYPE in a complete .mc."""
    if doc.kind != "mc" or doc.stopped_at is not None:
        return
    # a .mc without the include is complete when it has its MAILERs: FreeBSD's and
    # OpenBSD's make put cf.m4 first on m4's command line
    if doc.cf_m4_at is None and not doc.top_calls("MAILER"):
        return
    ostypes = [c for c in doc.all_calls() if c.name == "OSTYPE" and not c.hash_line]
    defined = [
        c
        for c in doc.all_calls()
        if c.name in ("define", "pushdef") and not c.hash_line and doc.first_arg(c) == "__OSTYPE__"
    ]
    if not ostypes and not defined:
        mailers = doc.top_calls("MAILER")
        at = mailers[0].start if mailers else doc.cf_m4_at
        where = (
            "after the cf.m4 include"
            if doc.cf_m4_at is not None
            else "before the MAILER lines (OSTYPE(`freebsd6') on FreeBSD)"
        )
        yield Finding(
            at if at is not None else 0,
            ID,
            "error",
            "there is no OSTYPE, so sendmail-cf stops with '*** ERROR: No system type"
            f" defined'; add OSTYPE(`debian')dnl {where}",
        )
    for extra in ostypes[1:]:
        yield Finding(
            extra.start,
            ID,
            "warning",
            f"a second OSTYPE (the first is at line {doc.line_of(ostypes[0].start)}) overrides"
            " its settings half-way through; keep one",
            length=extra.end - extra.start,
        )
