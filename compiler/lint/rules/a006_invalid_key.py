"""A006 invalid-key: an access key sendmail never matches, or never consults.

Keys are matched by whole domain labels and by IPv4 octets: CIDR
(`Connect:10.0.0.0/8`), a trailing dot (`Connect:127.0.0.`) or an IPv6
address without the `IPv6:` prefix silently never match, and so does a
compressed IPv6 key (`IPv6:::1`): Debian's sendmail is built with
IPV6_FULL and compares `IPv6:0:0:0:0:0:0:0:1` (unless a .mc of the run, or
the sendmail.mc beside the access file, turns on
confUSE_COMPRESSED_IPV6_ADDRESSES). A bare tag such
as `GreetPause:` is a default only for TLS_Srv, TLS_Clt, TLS_Rcpt, Try_TLS,
Srv_Features, Clt_Features, ClientRate and ClientConn; sendmail never reads
the others (Debian's `GreetPause: 5000` is dead). A keyed Clt_Features: is
looked up by the inbound client in 8.17, not by the server (8.18 looks it
up by the server, as cf/README's `Clt_Features:broken.sts M` means). An address
literal (`Connect:[127.0.0.3]`, `From:[1.2.4]`) matches the name of a
client whose address does not resolve, or a domain written so; ClientRate:
and ClientConn: are looked up by the address alone, so a name or a literal never
matches there. A sender or recipient at a literal (`From:user@[192.0.2.4]`)
is looked up whole, as the client wrote it, so never by a net's prefix.
sendmail writes a client's name itself (`Connect:[IPv6:...]` in full), but
compares a domain literal of an address as written: `From:[IPv6:2001:db8::2]`
and `Try_TLS:[IPv6:2001:db8::2]` match that spelling; an untagged compressed
literal matches senders and recipients, never a client.

PASS (access):
    Connect:192.0.2	REJECT
    Connect:IPv6:2001:db8	REJECT
    TLS_Srv:	ENCR:128
    Connect:[127.0.0.3]	OK
    From:[1.2.4]	OK
    From:[IPv6:2001:db8::2]	REJECT

FAIL (access) at 1:1:
    Connect:10.0.0.0/8	REJECT

FAIL (access) at 1:1:
    GreetPause:	5000

FAIL (access) at 1:1:
    Connect:IPv6:::1	RELAY

PASS (access):
    Connect:IPv6:::1	RELAY
    ==> sendmail.mc <==
    define(`confUSE_COMPRESSED_IPV6_ADDRESSES', `True')dnl
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from compiler.lint.access import AccessDocument
from compiler.lint.engine import Finding, LintContext
from compiler.lint.rules.a002_unknown_tag import known_tag
from compiler.sendmail import option_true

ID = "A006"
NAME = "invalid-key"
KIND = "access"


def check(doc: AccessDocument, ctx: LintContext) -> Iterator[Finding]:
    """Keys checked with the compiler's key grammar."""
    from compiler.sendmail.accessmap import BARE_OK, canonical_key, space_in_key

    for e in doc.entries:
        if not e.key or (e.tag and not known_tag(doc, e.tag)) or space_in_key(e.key):
            continue  # a key holding a NO-BREAK SPACE, ...: A001 says so
        head, _, rest = e.key.partition(":")
        tag = head.lower()
        length = len(e.key)
        if e.tag and rest == "" and not any(t.lower() == tag for t in BARE_OK):
            yield Finding(
                e.start,
                ID,
                "warning",
                f"sendmail never consults a bare '{head}:' default, so this line does nothing;"
                " give it a host or address, or remove it",
                length=length,
            )
            continue
        if tag == "clt_features" and rest:
            yield Finding(
                e.start,
                ID,
                "warning",
                "a keyed Clt_Features: line is looked up by the inbound client, not the server"
                " (sendmail 8.17; 8.18 looks it up by the server); to skip STARTTLS with a"
                " server write Try_TLS:<server> NO",
                length=length,
            )
            continue
        try:
            canon = canonical_key(e.key, doc.issuer_tags)
        except ValueError as exc:
            yield Finding(e.start, ID, "error", f"{exc}; sendmail never matches it", length=length)
            continue
        if "ipv6:" not in e.key.lower() or ctx.cached(
            ("compressed-ipv6", doc.path), lambda: _compressed_ipv6(doc, ctx)
        ):
            continue
        if canon.lower() != e.key.lower():
            yield Finding(
                e.start,
                ID,
                "warning",
                "sendmail (built with IPV6_FULL, as Debian's is) compares IPv6 addresses"
                f" as eight groups without '::' or leading zeros, so this key never matches;"
                f" write {canon}",
                length=length,
            )
        elif e.key.startswith("[") and (full := _client_literal(e.key)).lower() != e.key.lower():
            yield Finding(
                e.start,
                ID,
                "warning",
                "sendmail matches this literal in a sender's or recipient's domain written so,"
                " but names a client in full (IPV6_FULL), so it never matches a client;"
                f" for the client write Connect:{full}",
                length=length,
            )


def _client_literal(key: str) -> str:
    """An untagged `[IPv6:...]` key as sendmail writes a client's name."""
    from compiler.sendmail.names import parse_literal

    try:
        return parse_literal(key)
    except ValueError:  # a literal sendmail never writes for a client (`...::`)
        return key


_COMPRESSED = re.compile(
    r"define\(\s*`?confUSE_COMPRESSED_IPV6_ADDRESSES'?\s*(?:,\s*`*([^`')]*))?'*\s*\)"
)


def _compressed_ipv6(doc: AccessDocument, ctx: LintContext) -> bool:
    """True when a .mc of the run (or the access file's sibling sendmail.mc) turns
    UseCompressedIPv6Addresses on: sendmail then compares `IPv6:::1` after all."""
    sibling = os.path.join(os.path.dirname(doc.path), "sendmail.mc")
    for path in dict.fromkeys([*ctx.m4_paths, sibling]):
        text = ctx.read(path) or ""
        for m in _COMPRESSED.finditer(text):
            if option_true(m[1] or ""):
                return True
    return False
