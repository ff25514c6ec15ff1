"""A005 try-tls: a Try_TLS value other than NO or YES.

Only `NO` means something (do not try STARTTLS with that server); any other
word means "try", so a typo such as `N0` or `no thanks` silently keeps
STARTTLS on.

PASS (access):
    Try_TLS:broken.server	NO

FAIL (access) at 1:23:
    Try_TLS:broken.server	N0
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.access import AccessDocument
from compiler.lint.engine import Finding, LintContext

ID = "A005"
NAME = "try-tls"
KIND = "access"


def check(doc: AccessDocument, ctx: LintContext) -> Iterator[Finding]:
    """Try_TLS values."""
    for e in doc.entries:
        value = e.value.strip()
        if e.tag.lower() == "try_tls" and value and value.upper() not in ("NO", "YES"):
            yield Finding(
                e.value_start,
                ID,
                "error",
                f"Try_TLS takes NO (or YES), not '{value}'; sendmail reads any other value as"
                " 'try STARTTLS'",
                length=len(value),
            )
