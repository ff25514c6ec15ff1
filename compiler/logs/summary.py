"""What a mail administrator wants from a pile of STARTTLS lines, gathered in one pass.

Memory grows with the number of distinct peers, ciphers and error messages,
never with the number of lines. `add(record, n)` counts a record seen n
times: compiler/logs/scan.py counts each distinct record once, in the order
of first sightings, and then sets each peer's last problem in the order of last
sightings (add and add_event give the peer whose last problem a record made its own).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from compiler.logs.parse import Notice, RulesetEvent, TlsRecord

#: `${verify}` values, one phrase each; the peer is the other end
VERIFY_MEANING = {
    "OK": "the peer's certificate verified against our CA certificates",
    "TRUSTED": "the peer's certificate verified through DANE",
    "NOT": "no certificate asked for (TLSSrvOptions V, Debian's default)",
    "NO": "a certificate was asked for and the peer sent none",
    "FAIL": "the peer's certificate did not verify (unknown CA, self-signed, expired); "
    "still encrypted",
    "DANE_FAIL": "the DANE TLSA check failed (sendmail 8.18 with DANE)",
    "DANE_TEMP": "the DANE TLSA lookup failed temporarily; mail queued (sendmail 8.18)",
    "DANE_NOTLS": "DANE is configured in DNS but the server offered no STARTTLS (sendmail 8.18)",
    "NONE": "no STARTTLS: not offered, refused with 5xx, or Try_TLS NO",
    "TEMP": "the peer answered STARTTLS with a temporary 4xx error",
    "SOFTWARE": "the TLS handshake failed; the connection was dropped, mail queued",
    "PROTOCOL": "an SMTP protocol error around STARTTLS",
    "CLEAR": "STARTTLS switched off for a clear-text retry (TLSFallbacktoClear)",
    "CONFIG": "a TLS_*_Features entry has a syntax error",
    "USAGE": "a client-side STARTTLS usage error",
    "FAILURE": "a client-side STARTTLS failure",
}
#: how bad a result is, for "worst first"; an error (handshake broken off) is worst
_RANK = {
    "OK": 0,
    "TRUSTED": 0,
    "NOT": 1,
    "NO": 2,
    "FAIL": 3,
    "DANE_FAIL": 3,
    "DANE_TEMP": 5,
    "DANE_NOTLS": 5,
    "CLEAR": 4,
    "NONE": 4,
    "CONFIG": 5,
    "PROTOCOL": 5,
    "TEMP": 5,
    "USAGE": 5,
    "FAILURE": 6,
    "SOFTWARE": 6,
}
ERROR_RESULT = "error"
_RANK[ERROR_RESULT] = 6
#: results of a session in which no TLS was negotiated
NO_TLS = frozenset(
    {
        "NONE",
        "TEMP",
        "SOFTWARE",
        "PROTOCOL",
        "CLEAR",
        "CONFIG",
        "USAGE",
        "FAILURE",
        "DANE_TEMP",
        "DANE_NOTLS",
    }
)

WEAK_VERSIONS = frozenset({"SSLv2", "SSLv3", "TLSv1", "TLSv1.1"})
#: what old OpenSSL printed for every TLS 1.0-1.2 session: the protocol is not known
OLD_OPENSSL_VERSION = "TLSv1/SSLv3"
MIN_BITS = 128
_REASON = re.compile(r"(?:^|, )reason=([^,]*)")
_NUMBERS = re.compile(r"=-?\d+")
#: at most this many example peers are kept per cipher (the first in sort order)
_EXAMPLES = 3
#: at most this many versions are listed per peer (the first in sort order)
_VERSIONS = 8


def rank(result: str | None) -> int:
    """How bad a verify value (or "error") is: 0 verified ... 6 no TLS at all."""
    return _RANK.get(result or "", 3)


def error_group(error: str) -> str:
    """The message errors are grouped by: `accept failed: <reason>`, else the text unnumbered.

    `accept failed=-1, reason=unexpected eof while reading, SSL_error=1, errno=0, retry=-1`
    -> `accept failed: unexpected eof while reading`.
    """
    reason = _REASON.search(error)
    head = error.split(",", 1)[0]
    if reason is not None:
        return f"{_NUMBERS.sub('', head)}: {reason[1]}"
    return error


@dataclass(slots=True)
class PeerStats:
    """One peer in one direction."""

    label: str
    handshakes: int = 0
    errors: int = 0
    refused: int = 0
    worst: str | None = None
    versions: set[str] = field(default_factory=set)
    min_bits: int | None = None
    last_problem: str | None = None

    def note(self, result: str | None) -> None:
        if result is not None and (self.worst is None or rank(result) > rank(self.worst)):
            self.worst = result

    def add_version(self, version: str) -> None:
        versions = self.versions
        if version in versions:
            return
        versions.add(version)
        if len(versions) > _VERSIONS:
            versions.remove(max(versions))

    @property
    def failed(self) -> bool:
        """STARTTLS failed with this peer at least once (an error, or a no-TLS refusal)."""
        return self.errors > 0 or (self.worst in NO_TLS)


@dataclass(slots=True)
class WeakCipher:
    """Sessions with one cipher at under MIN_BITS, and a few of their peers."""

    count: int = 0
    peers: list[str] = field(default_factory=list)

    def add_peer(self, peer: str) -> None:
        """Keep `peer` if it is among the first _EXAMPLES in sort order (order of lines aside)."""
        peers = self.peers
        if peer in peers or (len(peers) >= _EXAMPLES and peer > peers[-1]):
            return
        peers.append(peer)
        peers.sort()
        del peers[_EXAMPLES:]


@dataclass(slots=True)
class Summary:
    """Counts over records (handshakes and errors) and refusals (ruleset lines), one pass.

    `refusals` counts tls_server/tls_client refusals by (direction, verify);
    `rule_refusals` every refusal by (rule, ruleset, reason): the rule is the
    access-map tag (TLS_Srv, TLS_Clt, TLS_Rcpt, Try_TLS; a check_* line is
    TLS_Clt's), the reason the reply without codes or names.
    """

    records: int = 0
    handshakes: Counter[tuple[str, str]] = field(default_factory=Counter)
    refusals: Counter[tuple[str, str]] = field(default_factory=Counter)
    rule_refusals: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    rcpt_refusals: int = 0
    try_tls_skipped: Counter[str] = field(default_factory=Counter)
    versions: Counter[tuple[str, str]] = field(default_factory=Counter)
    weak_ciphers: dict[tuple[str, str], WeakCipher] = field(default_factory=dict)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    fail_reasons: Counter[str] = field(default_factory=Counter)
    peers: dict[tuple[str, str], PeerStats] = field(default_factory=dict)
    notices: Counter[str] = field(default_factory=Counter)
    hosts: Counter[str] = field(default_factory=Counter)
    first: str | None = None
    last: str | None = None

    def _peer(self, direction: str, relay: str | None, addr: str | None) -> PeerStats:
        key = relay or addr or "(unknown)"
        label = f"{relay} {addr}" if relay and addr else key
        stats = self.peers.get((direction, key))
        if stats is None:
            stats = self.peers[(direction, key)] = PeerStats(label)
        elif addr and len(label) > len(stats.label):
            stats.label = label
        return stats

    def _seen(self, time: str | None, host: str | None, n: int) -> None:
        if time is not None:
            if self.first is None:
                self.first = time
            self.last = time
        if host is not None:
            self.hosts[host] += n

    def add(self, r: TlsRecord, n: int | None = None) -> PeerStats | None:
        """Count one record (`n` times: the same record seen n times; by default its
        `count`, the times a repeat line says it was logged).

        The peer whose last problem it made its own, when it is a problem (else None).
        """
        if n is None:
            n = r.count
        self.records += n
        self._seen(r.time, r.host, n)
        if r.error is not None:
            group = error_group(r.error)
            self.errors[(r.direction, group)] += n
            # a client-side `connect failed` names no peer; its ruleset=tls_server line does
            if r.relay or r.addr:
                peer = self._peer(r.direction, r.relay, r.addr)
                peer.errors += n
                peer.note(ERROR_RESULT)
                peer.last_problem = group
                return peer
            return None
        peer = self._peer(r.direction, r.relay, r.addr)
        verify = r.verify or "?"
        self.handshakes[(r.direction, verify)] += n
        peer.handshakes += n
        peer.note(verify)
        problem = self.problem(r)
        owner = None
        if problem is not None:
            peer.last_problem, owner = problem, peer
            if r.verifymsg:
                self.fail_reasons[r.verifymsg] += n
        if r.version is not None:
            self.versions[(r.version, r.direction)] += n
            peer.add_version(r.version)
        bits, most = r.bits, r.bits_max
        if bits is None or (most is not None and most < bits):
            bits = most
        if bits is not None:
            if peer.min_bits is None or bits < peer.min_bits:
                peer.min_bits = bits
            if bits < MIN_BITS:
                self._weak(r, bits, n)
        return owner

    def _weak(self, r: TlsRecord, bits: int, n: int) -> None:
        shown = f"{r.bits}/{r.bits_max}" if r.bits_max is not None else str(bits)
        entry = self.weak_ciphers.get((r.cipher or "?", shown))
        if entry is None:
            entry = self.weak_ciphers[(r.cipher or "?", shown)] = WeakCipher()
        entry.count += n
        entry.add_peer(r.peer)

    def add_event(self, event: RulesetEvent | Notice, n: int | None = None) -> PeerStats | None:
        """Count one refusal or configuration notice (`n` times; by default its `count`).

        The peer whose last problem it made its own (a refusal but Try_TLS's), else None.
        """
        if n is None:
            n = event.count
        self._seen(event.time, event.host, n)
        if isinstance(event, Notice):
            self.notices[event.text] += n
            return None
        self.rule_refusals[(event.rule, event.ruleset, event.reason)] += n
        if event.ruleset == "try_tls":
            relay, addr = event.relay, event.addr
            self.try_tls_skipped[f"{relay} {addr}" if relay and addr else relay or addr or "?"] += n
            return None
        peer = self._peer(event.direction, event.relay, event.addr)
        peer.refused += n
        peer.last_problem = self.problem(event)
        if event.ruleset == "tls_rcpt":
            self.rcpt_refusals += n
        elif event.ruleset in ("tls_server", "tls_client"):
            verify = event.verify or "?"
            self.refusals[(event.direction, verify)] += n
            peer.note(verify)
        return peer

    @staticmethod
    def problem(entry: TlsRecord | RulesetEvent) -> str | None:
        """What an entry tells as its peer's last problem, or None (a good handshake, Try_TLS)."""
        if isinstance(entry, TlsRecord):
            if entry.error is not None:
                return error_group(entry.error) if entry.relay or entry.addr else None
            verify = entry.verify or "?"
            if verify not in ("FAIL", "DANE_FAIL"):
                return None
            return f"verify={verify}" + (f" ({entry.verifymsg})" if entry.verifymsg else "")
        reply = f": {entry.reject}" if entry.reject else ""
        if entry.ruleset == "try_tls":
            return None
        if entry.ruleset == "tls_rcpt":
            return f"tls_rcpt refused {entry.arg1 or '?'}{reply}"
        if entry.ruleset not in ("tls_server", "tls_client"):
            return f"{entry.ruleset} refused ({entry.rule}){reply}"
        return f"{entry.ruleset} refused verify={entry.verify or '?'}{reply}"

    def worst_peers(self) -> list[tuple[str, PeerStats]]:
        """(direction, stats) of every peer, worst result first, then most problems."""
        ranks = _RANK.get
        ranked = sorted(
            (
                -ranks(p.worst or "", 3),
                -(p.errors + p.refused),
                -p.handshakes,
                d,
                p.label,
                i,  # ties stay in the order peers were first seen
            )
            for i, ((d, _), p) in enumerate(self.peers.items())
        )
        peers = list(self.peers.values())
        return [(row[3], peers[row[5]]) for row in ranked]

    def failed_peers(self) -> list[tuple[str, PeerStats]]:
        """Peers STARTTLS failed with, worst first."""
        return [(d, p) for d, p in self.worst_peers() if p.failed]
