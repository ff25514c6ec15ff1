"""Whom a TLS access line is about, in words: the plan says it beside each line.

sendmail matches `TLS_Srv:` and `Try_TLS:` against the *server's* name (the
MX host it connects to) and then its address, never against the recipient's
domain: `TLS_Srv:gmail.com` covers servers named gmail.com or *.gmail.com,
not Gmail's `*.l.google.com` MX hosts. Saying so beside the line, with where a
rule for mail *to* a domain goes (`recipients:`), keeps a reviewer from
approving a rule that never applies.
"""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"^(IPv6:|[0-9]+(\.[0-9]+){0,3}$)", re.IGNORECASE)


def _name(key: str, what: str) -> str:
    if not key:
        return f"every {what} no other line names"
    if _ADDRESS.match(key):
        return f"{what}s at {key}"
    if key.startswith("."):
        return f"{what}s named *{key}"
    return f"{what}s named {key} or *.{key}"


def about(key: str) -> str | None:
    """`servers named gmail.com or *.gmail.com; for mail to @gmail.com see recipients:`, or None."""
    tag, sep, rest = key.partition(":")
    if not sep:
        return None
    folded = tag.lower()
    if folded in ("tls_srv", "try_tls"):
        words = _name(rest, "server")
        if rest and not _ADDRESS.match(rest):
            domain = rest.lstrip(".")
            words += f"; for mail to @{domain} see recipients:"
        return words
    if folded == "tls_clt":
        return _name(rest, "client")
    if folded == "tls_rcpt":
        return f"mail to {rest}" if rest else "mail to every recipient no other line names"
    return None
