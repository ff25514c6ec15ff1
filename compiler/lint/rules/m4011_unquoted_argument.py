"""M4011 unquoted-argument: an argument m4 splits or expands because it is not quoted.

m4 splits unquoted arguments at commas and expands every macro name in them.
`define(`confPRIVACY_FLAGS', authwarnings,noexpn,novrfy)` keeps only
`authwarnings`; `DAEMON_OPTIONS(Family=inet, Name=MTA-v4, Port=2525)` keeps
only `Family=inet`, with no warning at all; in
`define(`confSERVER_CERT', /etc/lower/cert.pem)` the cf macro `lower`
expands and the path becomes /etc//cert.pem. An unquoted conf* name is lost
when OSTYPE, DOMAIN or an include defined it before (m4 replaces it by its
value). Quote every argument: `` define(`confX', `value')dnl ``.

PASS:
    define(`confPRIVACY_FLAGS', ``authwarnings,noexpn,novrfy'')dnl
    DAEMON_OPTIONS(`Family=inet, Name=MTA-v4, Port=smtp')dnl

FAIL at 1:41:
    define(`confPRIVACY_FLAGS', authwarnings,noexpn,novrfy)dnl

FAIL at 1:32:
    define(`confSERVER_CERT', /etc/lower/cert.pem)dnl

FAIL at 1:8:
    define(confSERVER_CERT, `/etc/mail/tls/other.crt')dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import Call, M4Document
from compiler.lint.rules.m4004_starttls_include import is_starttls
from compiler.problems import Severity
from compiler.sendmail import TLS_DEFINES
from compiler.sendmail.m4names import MAX_ARGS

ID = "M4011"
NAME = "unquoted-argument"
KIND = "m4"

_DEFINES = ("define", "pushdef", "undefine")


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Excess arguments, unquoted conf names and macro names in unquoted arguments."""
    defined: set[str] = set()
    for call in doc.calls:
        if call.detached or call.hash_line:
            continue
        if call.parent is not None and call.paren is None and _checked(call.parent):
            yield from _expanded(doc, call, call.parent)
        if not call.args:
            continue
        yield from _excess(doc, call)
        if call.name in _DEFINES:
            yield from _unquoted_name(doc, call, defined)
        if call.name in ("define", "pushdef"):
            defined.add(doc.first_arg(call))
        elif call.name in ("include", "sinclude") and is_starttls(doc.first_arg(call)):
            defined.update(TLS_DEFINES)


def _checked(parent: Call) -> bool:
    return parent.name in _DEFINES or parent.name in MAX_ARGS


def _excess(doc: M4Document, call: Call) -> Iterator[Finding]:
    limit = MAX_ARGS.get(call.name)
    if limit is None or len(call.args) <= limit:
        return
    comma = call.args[limit].start - 1
    yield Finding(
        comma,
        ID,
        "error",
        f"{call.name}() takes {limit} argument{'s' if limit > 1 else ''} but gets"
        f" {len(call.args)}: m4 splits the unquoted text at this comma and drops the rest;"
        " quote the whole value (``a,b'' in a define)",
    )


def _unquoted_name(doc: M4Document, call: Call, defined: set[str]) -> Iterator[Finding]:
    arg = call.args[0]
    name = doc.arg_text(arg)
    if arg.quotes or not name or name.startswith('"'):
        return
    at = doc.arg_offset(arg)
    expanded = any(c.parent is call and arg.start <= c.start < arg.end for c in doc.calls)
    severity: Severity = "error" if expanded or name in defined else "warning"
    yield Finding(
        at,
        ID,
        severity,
        f"the macro name {name} is not quoted, so m4 replaces it by its value if anything"
        f" defined it before and this {call.name} is lost; write `{name}'",
        length=len(name),
    )


def _expanded(doc: M4Document, inner: Call, call: Call) -> Iterator[Finding]:
    index = next((k for k, a in enumerate(call.args) if a.start <= inner.start <= a.end), 0)
    if call.name in _DEFINES and index == 0:
        return  # reported as an unquoted name
    if doc.line_of(inner.start) != doc.line_of(call.start):
        return  # swallowed by a call left open: M4003 or M4009 says why
    what = f"define(`{doc.first_arg(call)}')" if call.name in _DEFINES else f"{call.name}()"
    yield Finding(
        inner.start,
        ID,
        "error",
        f"m4 expands the macro {inner.name} inside the unquoted argument of {what}, so the"
        " value changes silently; quote the argument",
        length=len(inner.name),
    )
