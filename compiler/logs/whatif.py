"""The what-if: which mail each TLS rule of an access map would have stopped.

Pure: sessions (compiler.logs.sessions) and each host's access table in,
one `RuleImpact` per rule out. For every session the rules are looked up as
sendmail looks them up (compiler.logs.matching; the first match wins) and
the requirement is checked against what the log shows of the session:

* outbound (`direction == "client"`): `Try_TLS:` NO makes the session clear;
  then `TLS_Srv:` by the server's name, address, bare tag, which on failure
  stops every message of the session; else `TLS_Rcpt:` per recipient, which
  stops that recipient's message;
* inbound (`direction == "server"`): `Srv_Features:` with `S` makes the
  session clear and `v`/`V` decide whether the client is asked for a
  certificate; then `TLS_Clt:` by the client's name, address, bare tag,
  which on failure stops every message the client sent in the session.

A requirement (`[PERM+|TEMP+](VERIFY|VERIFY:n|ENCR:n)[+CN...]`) fails on
verify not OK/TRUSTED (VERIFY), on fewer bits than asked (ENCR:n, VERIFY:n),
on no STARTTLS, and on a CN, CS, CI or CITag mismatch; a failure *refuses*
the mail under PERM+ (or TLS_PERM_ERR) and *defers* it otherwise. When the
log cannot tell (the cert line is absent below LogLevel 12, an ESMTPS
receipt without a handshake line, STARTTLS not tried because of a Try_TLS
that the new map no longer has, a client never asked for a certificate) the
session counts as *unknown*, apart from the stopped ones.

Messages are counted once each (by queue id) however many deliveries the
log shows; `deliveries` counts the `to=`/`from=` lines a rule saw.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from compiler.logs.matching import AccessTable, Hit
from compiler.logs.sessions import VERIFIED, Message, Session
from compiler.logs.tlscheck import (
    DEFAULT_BITS,
    Outcome,
    TlsState,
    check,
    logged_state,
    requirement,
)
from compiler.sendmail.accessmap import Requirement

_OUTBOUND_TAGS = frozenset({"TLS_Srv", "TLS_Rcpt", "Try_TLS"})
#: a rule's identity: the same on every host that has it
RuleId = tuple[str, str, tuple[str | int, ...]]


@dataclass(frozen=True)
class TlsRule:
    """One TLS entry of an access table, as the what-if reports on it.

    `source` is the spec section it came from (`domains`, `recipients`,
    `access`) or `proposed`; `spec_path` the place in the spec
    (`("domains", "bank.example", "outbound")`).
    """

    key: str
    value: str
    source: str = "access"
    spec_path: tuple[str | int, ...] = ()

    @property
    def tag(self) -> str:
        """`TLS_Srv`, `TLS_Clt`, `TLS_Rcpt`, `Try_TLS` or `Srv_Features`."""
        return self.key.partition(":")[0]

    @property
    def direction(self) -> str:
        """`outbound` (we send) or `inbound` (we receive)."""
        return "outbound" if self.tag in _OUTBOUND_TAGS else "inbound"

    @property
    def identity(self) -> RuleId:
        """Equal for the same rule on several hosts."""
        return (self.key.lower(), self.value, self.spec_path)


def is_rule_entry(key: str, value: str) -> bool:
    """True for the entries the what-if reports on: TLS requirements, Try_TLS NO,
    Srv_Features with S (no STARTTLS offered)."""
    tag = key.partition(":")[0]
    if tag in ("TLS_Srv", "TLS_Clt", "TLS_Rcpt"):
        return True
    if tag == "Try_TLS":
        return value.strip().upper() == "NO"
    if tag == "Srv_Features":
        return "S" in value.split()
    return False


@dataclass
class HostRules:
    """One host's access table and what else decides its TLS.

    `names` are the syslog host names that mean this host (name, fqdn, short
    name; lower case). `rules` maps a folded key to the rule it is.
    """

    name: str
    table: AccessTable
    rules: dict[str, TlsRule]
    names: frozenset[str] = frozenset()
    request_client_cert: bool = False
    #: `define(TLS_PERM_ERR)`: a requirement without TEMP+ refuses (554) instead of deferring
    perm_default: bool = False

    @classmethod
    def from_rules(
        cls,
        name: str,
        entries: Iterable[TlsRule],
        names: Iterable[str] = (),
        request_client_cert: bool = False,
        perm_default: bool = False,
    ) -> HostRules:
        """A host from its entries in file order (every entry, rules or not)."""
        listed = list(entries)
        table = AccessTable((e.key, e.value) for e in listed)
        rules: dict[str, TlsRule] = {}
        for e in listed:
            if is_rule_entry(e.key, e.value):
                rules.setdefault(e.key.lower(), e)
        return cls(
            name,
            table,
            rules,
            frozenset(n.lower() for n in (name, *names)),
            request_client_cert,
            perm_default,
        )


def outbound_state(session: Session, rules: HostRules) -> tuple[TlsState, Hit | None]:
    """The session's TLS under the host's map, and the Try_TLS NO that made it clear."""
    hit = rules.table.peer("Try_TLS", session.relay, session.addr, not session.name_cut)
    if hit is not None and hit.value.strip().upper() == "NO":
        return TlsState(False, "NONE", 0, cause=f"{hit.key} NO"), hit
    if session.tls_skipped:
        return TlsState(None, None, None, cause="STARTTLS was not tried"), None
    return logged_state(session), None


def inbound_state(session: Session, rules: HostRules) -> tuple[TlsState, Hit | None]:
    """The session's TLS under the host's map, and the Srv_Features S that made it clear."""
    hit = rules.table.peer("Srv_Features", session.relay, session.addr, not session.name_cut)
    letters = hit.value.split() if hit is not None else []
    if "S" in letters:
        return TlsState(False, "NONE", 0, cause=f"{hit.key if hit else ''} S"), hit
    state = logged_state(session)
    if state.encrypted is not True:
        return state, None
    asked = "v" in letters or (rules.request_client_cert and "V" not in letters)
    if not asked:
        return _with_verify(state, "NOT"), None
    if state.verify == "NOT":
        return _with_verify(state, None, "the client was not asked then"), None
    return state, None


def _with_verify(state: TlsState, verify: str | None, cause: str | None = None) -> TlsState:
    return TlsState(state.encrypted, verify, state.bits, state.subject, state.issuer, cause)


# -- what a rule did -------------------------------------------------------------------


@dataclass
class PeerImpact:
    """One peer under one rule."""

    peer: str
    sessions: int = 0
    stopped: int = 0
    unknown: int = 0
    messages: int = 0  # deliveries stopped
    #: every session verified with enough bits (safe to tighten), while it holds
    always_verified: bool = True
    reasons: Counter[str] = field(default_factory=Counter)
    #: what failed, in sendmail's words (`verify=FAIL`, `encryption too weak 128 less than 256`)
    details: Counter[str] = field(default_factory=Counter)


@dataclass
class RuleImpact:
    """What one rule (on one or more hosts) would have done to the mail in the log."""

    rule: TlsRule
    hosts: set[str] = field(default_factory=set)
    sessions: int = 0
    deliveries: int = 0
    stopped_sessions: int = 0
    unknown_sessions: int = 0
    #: sessions whose TLS this rule switched off although the log shows it worked
    made_clear: int = 0
    deferred: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    reasons: Counter[str] = field(default_factory=Counter)
    unknown_reasons: Counter[str] = field(default_factory=Counter)
    peers: dict[str, PeerImpact] = field(default_factory=dict)
    senders: Counter[str] = field(default_factory=Counter)
    recipients: Counter[str] = field(default_factory=Counter)
    first: str | None = None
    last: str | None = None
    #: how the hosts fail this rule's mail: "defer", "refuse" (one each, usually)
    failures: set[str] = field(default_factory=set)

    @property
    def stopped_messages(self) -> int:
        """Messages deferred or refused."""
        return len(self.deferred) + len(self.refused)

    @property
    def stopped_peers(self) -> list[PeerImpact]:
        """The peers with a stopped session, most stopped first."""
        hit = [p for p in self.peers.values() if p.stopped]
        return sorted(hit, key=lambda p: (-p.stopped, -p.messages, p.peer))

    @property
    def unknown_peers(self) -> list[PeerImpact]:
        """The peers with a session the log cannot judge."""
        hit = [p for p in self.peers.values() if p.unknown]
        return sorted(hit, key=lambda p: (-p.unknown, p.peer))

    @property
    def safe_to_tighten(self) -> list[str]:
        """Peers that verified with enough bits in every session this rule saw, and
        that it stopped in none and could judge in every one."""
        return sorted(
            p.peer
            for p in self.peers.values()
            if p.always_verified and p.sessions and not p.stopped and not p.unknown
        )

    def peer_of(self, session: Session) -> PeerImpact:
        """The session's peer under this rule (created on first use)."""
        label = session.peer
        found = self.peers.get(label)
        if found is None:
            found = self.peers[label] = PeerImpact(label)
        return found

    def _when(self, session: Session) -> None:
        for t in (session.time, session.end):
            if t is None:
                continue
            if self.first is None or t < self.first:
                self.first = t
            if self.last is None or t > self.last:
                self.last = t

    def on_host(self, host: HostRules) -> None:
        """Note a host that has this rule."""
        self.hosts.add(host.name)
        req = requirement(self.rule.value) if self.rule.tag.startswith("TLS_") else None
        if req is not None:
            self.failures.add("refuse" if refuses(host, req) else "defer")

    def seen(
        self, host: HostRules, session: Session, state: TlsState, deliveries: int
    ) -> PeerImpact:
        """Count a session this rule was the first match for."""
        self.on_host(host)
        self.sessions += 1
        self.deliveries += deliveries
        peer = self.peer_of(session)
        peer.sessions += 1
        verified = state.encrypted and state.verify in VERIFIED
        if not verified or (state.bits or 0) < self.enough_bits:
            peer.always_verified = False
        return peer

    @property
    def enough_bits(self) -> int:
        """The bits a peer must have shown to be safe to tighten."""
        req = requirement(self.rule.value) if self.rule.tag.startswith("TLS_") else None
        return max(DEFAULT_BITS, req.bits or 0) if req is not None else DEFAULT_BITS

    def stop(
        self,
        peer: PeerImpact,
        session: Session,
        outcome: Outcome,
        messages: list[tuple[Message, tuple[str, ...]]],
        refuse: bool,
    ) -> None:
        """Count mail this rule would have deferred (refused, with `refuse`) or not judged."""
        unknown = outcome.result == "unknown"
        if unknown:
            self.unknown_sessions += 1
            self.unknown_reasons[outcome.reason] += 1
            peer.unknown += 1
        else:
            self.stopped_sessions += 1
            self.reasons[outcome.reason] += 1
            peer.stopped += 1
            peer.reasons[outcome.reason] += 1
            peer.details[outcome.detail] += 1
            peer.messages += len(messages)
            self._when(session)
        target = self.unknown if unknown else self.refused if refuse else self.deferred
        for message, recipients in messages:
            target.add(_message_id(session, message))
            if unknown:
                continue
            if message.sender:
                self.senders[message.sender] += 1
            for r in recipients:
                self.recipients[r] += 1


def refuses(host: HostRules, req: Requirement) -> bool:
    """True when a failed requirement refuses the mail on this host (else it is deferred)."""
    if req.on_failure is not None:
        return req.on_failure == "permanent"
    return host.perm_default


def _message_id(session: Session, message: Message) -> str:
    if message.qid:
        return f"{session.host or ''}/{message.qid}"
    return f"#{id(message)}"


# -- the evaluation ----------------------------------------------------------------------


class Evaluation:
    """Every session of a log against one set of hosts' maps, gathered per rule.

    `fallback` is used for sessions whose syslog host is none of the hosts
    (the cluster-wide rules); those hosts are counted in `unknown_hosts`.
    With `per_host`, a rule that several hosts share is gathered once per host
    (`for_host`), as the plan shows it; otherwise once for all of them.
    """

    def __init__(
        self, hosts: Iterable[HostRules], fallback: HostRules, per_host: bool = False
    ) -> None:
        self.hosts = list(hosts)
        self.per_host = per_host
        self.fallback = fallback
        self._by_name: dict[str, HostRules] = {}
        for host in self.hosts:
            for name in sorted(host.names):
                self._by_name.setdefault(name, host)
        self.impacts: dict[tuple[str, RuleId], RuleImpact] = {}
        self.sessions = 0
        #: sessions per spec host (the fallback's name for the others)
        self.by_host: Counter[str] = Counter()
        #: sessions per syslog host the spec does not name
        self.unknown_hosts: Counter[str] = Counter()
        #: sessions whose peer's name the log cut short: matched by address only
        self.cut_names = 0
        self._cache: dict[str | None, HostRules | None] = {}

    def host_for(self, syslog_host: str | None) -> HostRules | None:
        """The spec host a log line's host names: by name, fqdn or short name."""
        if syslog_host in self._cache:
            return self._cache[syslog_host]
        found = None
        if syslog_host:
            name = syslog_host.lower().rstrip(".")
            found = self._by_name.get(name) or self._by_name.get(name.split(".", 1)[0])
        self._cache[syslog_host] = found
        return found

    def impact(self, rule: TlsRule, host: HostRules) -> RuleImpact:
        """The gathered impact of one rule (created on first use)."""
        key = (host.name if self.per_host else "", rule.identity)
        found = self.impacts.get(key)
        if found is None:
            found = self.impacts[key] = RuleImpact(rule)
        return found

    def for_host(self, name: str) -> dict[str, RuleImpact]:
        """With `per_host`: a host's rules by folded key, each with what it did there."""
        for host in self.hosts:
            if host.name == name:
                for rule in host.rules.values():
                    self.impact(rule, host).on_host(host)
        return {i.rule.key.lower(): i for (h, _), i in self.impacts.items() if h == name}

    def _rule(self, host: HostRules, hit: Hit | None) -> TlsRule | None:
        if hit is None:
            return None
        return host.rules.get(hit.key.lower())

    def add(self, session: Session) -> None:
        """Judge one session."""
        self.sessions += 1
        host = self.host_for(session.host)
        if host is None:
            self.unknown_hosts[session.host or "(none)"] += 1
            host = self.fallback
        self.by_host[host.name] += 1
        if session.name_cut:
            self.cut_names += 1
        if session.direction == "client":
            self._outbound(host, session)
        else:
            self._inbound(host, session)

    def _outbound(self, host: HostRules, session: Session) -> None:
        state, cleared_by = outbound_state(session, host)
        name = session.relay or session.addr or ""
        whole = [(m, m.recipients) for m in session.messages]
        clear_impact = self._clearing(host, session, state, cleared_by, len(whole))
        srv = self._rule(
            host, host.table.peer("TLS_Srv", session.relay, session.addr, not session.name_cut)
        )
        if srv is not None:
            impact = self.impact(srv, host)
            peer = impact.seen(host, session, state, len(whole))
            req = requirement(srv.value)
            outcome = check(req, state, name, host.table) if req else Outcome("pass")
            if req is not None and outcome.result != "pass":
                impact.stop(peer, session, outcome, whole, refuses(host, req))
                if clear_impact is not None and session.encrypted and outcome.result == "fail":
                    clear_impact.stop(
                        clear_impact.peer_of(session), session, outcome, whole, refuses(host, req)
                    )
                if outcome.result == "fail":
                    return  # no RCPT is sent
        self._recipients(host, session, state, name)

    def _clearing(
        self, host: HostRules, session: Session, state: TlsState, cleared_by: Hit | None, count: int
    ) -> RuleImpact | None:
        """The impact of the rule that takes TLS away from this session (Try_TLS NO,
        Srv_Features S), counted as seen; None when no rule does."""
        rule = self._rule(host, cleared_by)
        if rule is None:
            return None
        impact = self.impact(rule, host)
        impact.seen(host, session, state, count)
        if session.encrypted:
            impact.made_clear += 1
        return impact

    def _recipients(self, host: HostRules, session: Session, state: TlsState, name: str) -> None:
        """TLS_Rcpt, once per rule and session: the messages (and recipients) it matched."""
        matched: dict[RuleId, list[tuple[Message, list[str]]]] = {}
        rules: dict[RuleId, TlsRule] = {}
        for message in session.messages:
            mine: dict[RuleId, list[str]] = {}
            for rcpt in message.recipients:
                rule = self._rule(host, host.table.recipient("TLS_Rcpt", rcpt))
                if rule is not None:
                    mine.setdefault(rule.identity, []).append(rcpt)
                    rules[rule.identity] = rule
            for ident, rcpts in mine.items():
                matched.setdefault(ident, []).append((message, rcpts))
        for ident, messages in matched.items():
            rule = rules[ident]
            impact = self.impact(rule, host)
            peer = impact.seen(host, session, state, len(messages))
            req = requirement(rule.value)
            outcome = check(req, state, name, host.table) if req else Outcome("pass")
            if req is not None and outcome.result != "pass":
                stopped = [(m, tuple(r)) for m, r in messages]
                impact.stop(peer, session, outcome, stopped, refuses(host, req))

    def _inbound(self, host: HostRules, session: Session) -> None:
        state, cleared_by = inbound_state(session, host)
        name = session.relay or session.addr or ""
        whole = [(m, m.recipients) for m in session.messages]
        clear_impact = self._clearing(host, session, state, cleared_by, len(whole))
        clt = self._rule(
            host, host.table.peer("TLS_Clt", session.relay, session.addr, not session.name_cut)
        )
        if clt is None:
            return
        impact = self.impact(clt, host)
        peer = impact.seen(host, session, state, len(whole))
        req = requirement(clt.value)
        outcome = check(req, state, name, host.table) if req else Outcome("pass")
        if req is None or outcome.result == "pass":
            return
        refuse = refuses(host, req)
        impact.stop(peer, session, outcome, whole, refuse)
        if clear_impact is not None and session.encrypted and outcome.result == "fail":
            clear_impact.stop(clear_impact.peer_of(session), session, outcome, whole, refuse)

    def results(self) -> list[RuleImpact]:
        """Every rule that saw a session, and every rule of the hosts that saw none,
        most stopped mail first."""
        for host in self.hosts:
            for rule in host.rules.values():
                self.impact(rule, host).on_host(host)
        out = list(self.impacts.values())
        return sorted(
            out,
            key=lambda i: (
                -i.stopped_messages,
                -i.stopped_sessions,
                -i.unknown_sessions,
                i.rule.key,
            ),
        )


def _most_stopped(i: RuleImpact) -> tuple[int, int, int, str]:
    return (-i.stopped_messages, -i.stopped_sessions, -i.unknown_sessions, i.rule.key)
