"""A004 duplicate-key: the same key twice (keys are compared in lower case).

makemap folds keys to lower case, keeps the first value, prints "duplicate
key" and exits with status 65, which a Makefile treats as a failed build.

PASS (access):
    Connect:192.0.2	REJECT
    Connect:192.0.2.10	RELAY

FAIL (access) at 2:1:
    TLS_Srv:Example.COM	ENCR:128
    TLS_Srv:example.com	VERIFY
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.access import AccessDocument
from compiler.lint.engine import Finding, LintContext

ID = "A004"
NAME = "duplicate-key"
KIND = "access"


def check(doc: AccessDocument, ctx: LintContext) -> Iterator[Finding]:
    """Every key after its first appearance."""
    first: dict[str, int] = {}
    for e in doc.entries:
        if not e.key or not e.value.strip():
            continue
        folded = e.key.lower()
        if folded in first:
            yield Finding(
                e.start,
                ID,
                "error",
                f"the key {e.key} is already at line {first[folded]}; makemap keeps the first"
                " value and exits with status 65, so remove one of them",
                length=len(e.key),
            )
        else:
            first[folded] = e.number
