"""A007 invalid-value: a value sendmail does not understand for its tag.

Connect:, From: and To: take OK, RELAY, REJECT, DISCARD, SKIP,
ERROR:..., QUARANTINE:... or '### text'; any other word becomes the text
of a rejection (`FOOBAR` answers `553 5.3.0 FOOBAR`), and so does a value in
double quotes, read as one word (`"REJECT"`, `"ERROR:550 text"`), unless it
is an SMTP reply (`"550 text"` answers `550 5.0.0 text`). Srv_Features letters
are one a word (`A S`, not `AS`: only the first letter of a word counts);
GreetPause, ClientRate and ClientConn take a number; TLS session features
need known keys and SSL_OP names. TLS_* requirements and Try_TLS have their
own rules (A003, A005).

PASS (access):
    Connect:127	RELAY
    Srv_Features:laptop.example.com	v
    GreetPause:127	0
    From:spammer@example.com	550	Your mail has been rejected.

FAIL (access) at 1:13:
    Connect:127	RELAYS

FAIL (access) at 1:16:
    From:a.example	"REJECT"

FAIL (access) at 1:33:
    Srv_Features:laptop.example.com	AS
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.access import AccessDocument
from compiler.lint.engine import Finding, LintContext
from compiler.lint.rules.a001_malformed_line import _value_problem
from compiler.lint.rules.a002_unknown_tag import known_tag
from compiler.lint.rules.a003_tls_requirement import REQUIREMENT_TAGS

ID = "A007"
NAME = "invalid-value"
KIND = "access"


def check(doc: AccessDocument, ctx: LintContext) -> Iterator[Finding]:
    """Values checked with the compiler's value grammar."""
    from compiler.sendmail.accessmap import TAGS, canonical_value
    from compiler.sendmail.mapline import BLANKS

    canonical = {t.lower(): t for t in TAGS}
    for e in doc.entries:
        value = e.value.strip(BLANKS)
        if not e.key or not value or _value_problem(e.value) is not None:
            continue
        tag = e.tag.lower()
        if tag in REQUIREMENT_TAGS or tag == "try_tls" or (e.tag and not known_tag(doc, e.tag)):
            continue
        is_issuer_tag = bool(e.tag) and tag not in canonical
        try:
            canonical_value(canonical.get(tag), value, issuer_tag=is_issuer_tag)
        except ValueError as exc:
            yield Finding(e.value_start, ID, "error", str(exc), length=len(value))
