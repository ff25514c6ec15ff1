"""M4015 starttls-override: a define the STARTTLS include overwrites, or one dropping its settings.

The last define wins. A certificate path defined *before*
`include(`/etc/mail/tls/starttls.m4')` is overwritten by the file, which
defines it again, so the .mc's value is silently ignored: put overrides
after the include. Debian's starttls.m4 appends GroupReadableKeyFile to
confDONT_BLAME_SENDMAIL; redefining it after the include without
`defn(`confDONT_BLAME_SENDMAIL')` drops that, and with Debian's 0640 key
STARTTLS silently disappears. The names the include sets are read from the
included file when it can be read, else taken from Debian's starttls.m4.

PASS:
    include(`/etc/mail/tls/starttls.m4')dnl
    define(`confSERVER_CERT', `/etc/mail/tls/mine.crt')dnl

FAIL at 1:1:
    define(`confSERVER_CERT', `/etc/mail/tls/mine.crt')dnl
    include(`/etc/mail/tls/starttls.m4')dnl

FAIL at 2:1:
    include(`/etc/mail/tls/starttls.m4')dnl
    define(`confDONT_BLAME_SENDMAIL', `TrustStickyBit')dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import M4Document
from compiler.lint.rules.m4004_starttls_include import starttls_includes
from compiler.sendmail import TLS_DEFINES

ID = "M4015"
NAME = "starttls-override"
KIND = "m4"

_DONT_BLAME = "confDONT_BLAME_SENDMAIL"


def _included_names(path: str, ctx: LintContext, including: str) -> tuple[set[str], bool]:
    """(names the file defines, whether it appends GroupReadableKeyFile)."""
    doc = ctx.included_m4(path, including)
    if doc is None:
        return set(TLS_DEFINES), True
    names = {doc.first_arg(c) for c in doc.all_calls() if c.name in ("define", "undefine")}
    return names - {_DONT_BLAME}, "GroupReadableKeyFile" in doc.text


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Defines before the include that it overrides; DontBlameSendmail after it."""
    includes = starttls_includes(doc)
    if not includes:
        return
    include = includes[0]
    names, appends = _included_names(doc.first_arg(include), ctx, doc.path)
    line = doc.line_of(include.start)
    for call in doc.top_calls("define"):
        name = doc.first_arg(call)
        length = call.end - call.start
        if call.start < include.start and name in names:
            yield Finding(
                call.start,
                ID,
                "warning",
                f"the STARTTLS include at line {line} defines {name} again, so this value is"
                " overwritten (the last define wins); move this define below the include",
                length=length,
            )
        elif call.start > include.start and name == _DONT_BLAME and appends:
            value = doc.text[call.start : call.end]
            if "defn" not in value:
                yield Finding(
                    call.start,
                    ID,
                    "warning",
                    f"this drops the GroupReadableKeyFile that the STARTTLS include at line"
                    f" {line} added, and sendmail then refuses a group-readable key and offers"
                    f" no STARTTLS; append instead: define(`{_DONT_BLAME}',"
                    f" defn(`{_DONT_BLAME}')`,...')",
                    length=length,
                )
