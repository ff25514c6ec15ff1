"""A003 tls-requirement: a TLS_Srv, TLS_Clt or TLS_Rcpt value outside sendmail's grammar.

The value must be `[TEMP+|PERM+](VERIFY|VERIFY:bits|ENCR:bits)` followed by
`+ext{++ext}` with ext one of CN, CN:name, CS:subject, CI:issuer,
CITag:tag. A value sendmail cannot parse as a requirement (ENCR without
bits, VERIFY:abc) is read as "no requirement", which silently turns the
rule off; extensions joined with one `+` (+CN+CITag:x) are not checked as
written.

PASS (access):
    TLS_Srv:secure.example.com	ENCR:128
    TLS_Srv:safe.example.net	VERIFY+CN++CITag:MyCA
    TLS_Clt:laptop.example.com	PERM+VERIFY:112
    MyCA:/C=US/O=Example/	OK

FAIL (access) at 1:28:
    TLS_Srv:secure.example.com	ENCR

FAIL (access) at 1:26:
    TLS_Srv:safe.example.net	VERIFY+CN+CITag:MyCA
    MyCA:/C=US/O=Example/	OK
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.access import AccessDocument
from compiler.lint.engine import Finding, LintContext

ID = "A003"
NAME = "tls-requirement"
KIND = "access"

REQUIREMENT_TAGS = ("tls_srv", "tls_clt", "tls_rcpt")


def check(doc: AccessDocument, ctx: LintContext) -> Iterator[Finding]:
    """TLS requirement values parsed with the compiler's own grammar."""
    from compiler.sendmail.accessmap import parse_requirement
    from compiler.sendmail.mapline import BLANKS

    for e in doc.entries:
        if e.tag.lower() not in REQUIREMENT_TAGS or not e.value.strip(BLANKS):
            continue
        try:
            parse_requirement(e.value)
        except ValueError as exc:
            yield Finding(
                e.value_start,
                ID,
                "error",
                f"{exc}; sendmail does not enforce it as written",
                length=len(e.value.strip(BLANKS)),
            )
