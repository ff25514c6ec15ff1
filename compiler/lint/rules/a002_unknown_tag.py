"""A002 unknown-tag: an access key whose tag sendmail never looks up.

sendmail looks keys up with fixed tags (Connect:, From:, To:, TLS_Srv:,
TLS_Clt:, Try_TLS:, Srv_Features: ...); a misspelt tag is stored and never
read, so the rule silently does nothing. A tag used by a `CITag:` check of
the same file (`MyCA:/C=US/O=Example/`) is known.

PASS (access):
    TLS_Srv:safe.example.net	VERIFY+CN++CITag:MyCA
    MyCA:/C=US/O=Example/CN=Example+20CA	OK

FAIL (access) at 1:1:
    TLS_Server:secure.example.com	ENCR:128
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.access import AccessDocument
from compiler.lint.engine import Finding, LintContext

ID = "A002"
NAME = "unknown-tag"
KIND = "access"


def known_tag(doc: AccessDocument, tag: str) -> bool:
    """True when sendmail (or a CITag check of this file) looks the tag up."""
    from compiler.sendmail.accessmap import TAGS

    lowered = tag.lower()
    return any(t.lower() == lowered for t in TAGS) or any(
        t.lower() == lowered for t in doc.issuer_tags
    )


def check(doc: AccessDocument, ctx: LintContext) -> Iterator[Finding]:
    """Tags that are neither sendmail's nor a CITag of this file."""
    from compiler.lint.suggest import hint
    from compiler.sendmail.accessmap import TAGS

    for e in doc.entries:
        if e.tag and not known_tag(doc, e.tag):
            yield Finding(
                e.start,
                ID,
                "error",
                f"sendmail never looks up the tag '{e.tag}:', so this line does nothing"
                f"{hint(e.tag, [*TAGS, *doc.issuer_tags], 0.6)}",
                length=len(e.tag) + 1,
            )
