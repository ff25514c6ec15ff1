"""Turn the spec's TLS rules and access entries into access-map entries.

Each entry remembers where in the spec it came from, so that validation can
name both lines of a collision and the planner can explain a change. The
`domains:`, `recipients:` and `issuer_tags:` entries are the same for every
host except `Srv_Features:KEY v`, which only hosts that do not request client
certificates need (README.md), and except what a host adds
or replaces with rules of its own (`hosts.NAME.domains:` and the like).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

from compiler.sendmail import names
from compiler.sendmail.accessbulk import AccessTexts, Segment
from compiler.sendmail.accessmap import AccessEntry, Requirement
from compiler.sendmail.xtext import xtext
from compiler.spec.accessfiles import AccessFileRead
from compiler.spec.loader import Loc
from compiler.spec.model import AccessFile, Cluster, Host, PeerRule
from compiler.spec.model import Requirement as RequirementSpec


@dataclass(frozen=True)
class SourcedEntry:
    """An access entry and the spec location it was made from."""

    entry: AccessEntry
    loc: Loc
    section: str  # "access", "domains", "recipients", "issuer_tags"


def map_value_dn(dn: str) -> str:
    """A certificate name as it must be written in an access *value*.

    sendmail compares the xtext form (`+20` for a space, ...), and rewrites
    every value it looks up (`%1` is a map argument, `%%` a literal `%`);
    xtext leaves `%` alone, so it is doubled here. Keys are not rewritten.
    """
    return xtext(dn).replace("%", "%%")


def requirement_of(rule: PeerRule | RequirementSpec) -> Requirement:
    """The sendmail requirement a spec rule asks for."""
    assert rule.require in ("encrypt", "verify")
    return Requirement(
        level=rule.require,
        bits=rule.min_bits,
        on_failure=rule.on_failure,
        # the name as the certificate carries it: IDNA A-label, lower case
        cn=names.parse_hostname(rule.cn) if isinstance(rule.cn, str) else bool(rule.cn),
        subject=map_value_dn(rule.subject) if rule.subject else None,
        issuer=map_value_dn(rule.issuer) if rule.issuer else None,
        issuer_tag=rule.issuer_tag,
    )


def requirement_text(rule: PeerRule | RequirementSpec) -> str:
    """requirement_of(rule).render(), made once for each distinct rule (a cluster's
    thousands of `domains:` rules are a few distinct ones, written again and again)."""
    # the fields requirement_of reads
    key = (
        rule.require,
        rule.min_bits,
        rule.on_failure,
        rule.cn,
        rule.subject,
        rule.issuer,
        rule.issuer_tag,
    )
    text = _RENDERED.get(key)
    if text is None:
        if len(_RENDERED) >= _RENDERED_MAX:
            _RENDERED.clear()
        text = _RENDERED[key] = requirement_of(rule).render()
    return text


_RENDERED: dict[tuple[Any, ...], str] = {}
_RENDERED_MAX = 1 << 12


def peer_entries(
    key: str, rule: PeerRule, direction: str, request_client_cert: bool
) -> list[AccessEntry]:
    """Access lines for one direction of one `domains:` key (normalised key)."""
    return peer_entries_both(key, rule, direction)[request_client_cert]


def peer_entries_both(
    key: str, rule: PeerRule, direction: str
) -> tuple[list[AccessEntry], list[AccessEntry]]:
    """peer_entries for a host that does not request client certificates and for one
    that does, computed once (the lists share their entries)."""
    if direction == "outbound":
        if not rule.starttls:
            out = [AccessEntry(f"Try_TLS:{key}", "NO")]
            return out, out
        out = []
        if rule.require != "may":
            out.append(AccessEntry(f"TLS_Srv:{key}", requirement_text(rule)))
        if rule.dane is False:
            out.append(AccessEntry(f"TLS_Clt_Features:{key}", "Flags=d"))
        return out, out
    if not rule.starttls:
        out = [AccessEntry(f"Srv_Features:{key}", "S")]
        return out, out
    if rule.require == "may":
        return [], []
    out = [AccessEntry(f"TLS_Clt:{key}", requirement_text(rule))]
    if rule.require == "verify":  # asked for only where the host does not ask anyway
        return [*out, AccessEntry(f"Srv_Features:{key}", "v")], out
    return out, out


def _sort_key(raw: str, normalised: str) -> tuple[int, str, str]:
    return (0 if raw == "*" else 1, normalised, raw)


#: (key as written, normalised key, rule, where the key is in the spec)
_Keyed = tuple[str, str, Any, Loc]


def has_own_rules(host: Host) -> bool:
    """True when a host has TLS rules or access entries of its own."""
    return bool(host.domains or host.recipients or host.issuer_tags or host.access)


def _merged(
    top: dict[str, Any], own: dict[str, Any], parse: Callable[[str], str], prefix: Loc, section: str
) -> list[_Keyed]:
    """The cluster's keys and the host's, sorted; a host's key replaces the cluster's
    key with the same access key (two spellings on one level both stay, for S200)."""
    mine: list[_Keyed] = [
        (raw, parse(raw), value, (*prefix, section, raw)) for raw, value in own.items()
    ]
    replaced = {norm for _, norm, _, _ in mine}
    out: list[_Keyed] = [(raw, parse(raw), value, (section, raw)) for raw, value in top.items()]
    out = [t for t in out if t[1] not in replaced] + mine
    return sorted(out, key=lambda t: _sort_key(t[0], t[1]))


def access_segments(
    items: Sequence[str | AccessFile], loc: Loc, files: Mapping[Loc, AccessFileRead]
) -> list[Segment]:
    """An `access:` list as runs of entries: its own, and each named file's in its place
    (a file not read, or that failed, gives none: validation reports it)."""
    kinds = list(map(type, items))  # in C: a list of a million strings is checked fast
    if kinds.count(str) == len(kinds):
        return [Segment(cast(Sequence[str], items), loc)]
    out: list[Segment] = []
    start = 0
    for k in [i for i, kind in enumerate(kinds) if kind is not str] + [len(items)]:
        if k > start:
            out.append(Segment(cast(list[str], items[start:k]), loc, range(start, k)))
        read = files.get((*loc, k)) if k < len(items) else None
        if read is not None and read.error is None:
            out.append(Segment(read.texts, (*loc, k, "file"), read.lines, 1, read.sep))
        start = k + 1
    return out


class ClusterRules:
    """All access entries a cluster defines, computed once and shared by its hosts.

    With `host`, the entries of that host: the cluster's rules with the host's own
    `domains:`/`recipients:`/`issuer_tags:` merged in (a host's key replaces the
    cluster's) and its `access:` entries after the cluster's. `for_host` gives
    the rules object of a host: this one for every host without rules of its own.
    """

    def __init__(
        self,
        cluster: Cluster,
        host: str | None = None,
        files: Mapping[Loc, AccessFileRead] | None = None,
    ):
        self.cluster = cluster
        self.host = host
        #: the access files the spec names, read (LoadedSpec.access_files)
        self.files = files or {}
        own = cluster.hosts[host] if host is not None else None
        prefix: Loc = ("hosts", host) if host is not None else ()
        tags: dict[str, tuple[list[str], Loc]] = {
            tag: (dns, ("issuer_tags", tag)) for tag, dns in cluster.issuer_tags.items()
        }
        segments = access_segments(cluster.access, ("access",), self.files)
        if own is not None:
            tags.update(
                (tag, (dns, (*prefix, "issuer_tags", tag))) for tag, dns in own.issuer_tags.items()
            )
            segments += access_segments(own.access, (*prefix, "access"), self.files)
        #: tag -> (issuer names, where the tag is in the spec)
        self.tags = tags
        self.tag_names = frozenset(tags)
        self._segments = segments
        #: `domains:` keys in file order of the access file, each with its rule and place
        self.domain_items: list[_Keyed] = _merged(
            cluster.domains, own.domains if own else {}, names.parse_peer, prefix, "domains"
        )
        #: `recipients:` keys likewise
        self.recipient_items: list[_Keyed] = _merged(
            cluster.recipients,
            own.recipients if own else {},
            names.parse_recipient,
            prefix,
            "recipients",
        )
        self.problems: list[tuple[Loc, str]] = []
        self._by_cert_request: dict[bool, list[SourcedEntry]] = {}
        self._hosts: dict[str, ClusterRules] = {}
        self._collide: dict[bool, bool] = {}

    def for_host(self, name: str) -> ClusterRules:
        """The rules of host `name` (self when it has none of its own)."""
        if self.host is not None or not has_own_rules(self.cluster.hosts[name]):
            return self
        rules = self._hosts.get(name)
        if rules is None:
            rules = self._hosts[name] = ClusterRules(self.cluster, name, self.files)
        return rules

    @cached_property
    def single_use(self) -> bool:
        """True when one host alone has these rules (a host's own, or the cluster's in a
        cluster where one host has none of its own)."""
        if self.host is not None:
            return True
        return sum(not has_own_rules(h) for h in self.cluster.hosts.values()) == 1

    @cached_property
    def user_texts(self) -> AccessTexts:
        """The `access:` entries, checked in bulk (their problems go to `problems`)."""
        texts = AccessTexts(self._segments, self.tag_names)
        self.problems.extend(texts.problems)
        return texts

    def release_texts(self, consumable: Callable[[Sequence[str]], bool]) -> None:
        """Let go of the texts of the `access:` entries (AccessTexts.release)."""
        self.user_texts.release(consumable)
        self._segments = []

    @cached_property
    def user(self) -> list[SourcedEntry]:
        """The `access:` entries, parsed, in the order written (an object each: the
        hot paths read `user_texts` instead)."""
        return [SourcedEntry(e, loc, "access") for e, loc in self.user_texts.entries()]

    @cached_property
    def recipients(self) -> list[SourcedEntry]:
        """`TLS_Rcpt:` entries, sorted by key."""
        return [
            SourcedEntry(AccessEntry(f"TLS_Rcpt:{norm}", requirement_text(req)), loc, "recipients")
            for _raw, norm, req, loc in self.recipient_items
        ]

    @cached_property
    def issuer_tags(self) -> list[SourcedEntry]:
        """`TAG:issuer OK` entries for CITag lookups."""
        out = []
        for tag in sorted(self.tags):
            dns, loc = self.tags[tag]
            for i, dn in enumerate(dns):
                out.append(
                    SourcedEntry(AccessEntry(f"{tag}:{xtext(dn)}", "OK"), (*loc, i), "issuer_tags")
                )
        return out

    def domains(self, request_client_cert: bool) -> list[SourcedEntry]:
        """`domains:` entries for a host that does (not) request client certs."""
        cached = self._by_cert_request.get(request_client_cert)
        if cached is not None:
            return cached
        # both variants at once: they differ in a line per `verify` rule only
        without: list[SourcedEntry] = []
        with_: list[SourcedEntry] = []
        for _raw, norm, rule, loc in self.domain_items:
            for direction in ("outbound", "inbound"):
                peer_rule = getattr(rule, direction)
                if peer_rule is None:
                    continue
                entries, asked = peer_entries_both(norm, peer_rule, direction)
                where = (*loc, direction)
                sourced = [SourcedEntry(e, where, "domains") for e in entries]
                without += sourced
                with_ += sourced if asked is entries else sourced[: len(asked)]
        self._by_cert_request[False], self._by_cert_request[True] = without, with_
        return with_ if request_client_cert else without

    def count(self, request_client_cert: bool) -> int:
        """How many entries a host's access file has."""
        return (
            self.user_texts.accepted
            + len(self.domains(request_client_cert))
            + len(self.recipients)
            + len(self.issuer_tags)
        )

    def all(self, request_client_cert: bool) -> list[SourcedEntry]:
        """Every entry of a host's access file, in file order."""
        return [*self.user, *self.generated(request_client_cert)]

    def generated(self, request_client_cert: bool) -> list[SourcedEntry]:
        """The entries after the `access:` ones: `domains:`, `recipients:`, `issuer_tags:`."""
        return [*self.domains(request_client_cert), *self.recipients, *self.issuer_tags]

    def keys_collide(self, request_client_cert: bool) -> bool:
        """True when two entries of a host's access file have the same folded key."""
        if not self._collide:  # both variants at once: the access: keys are read once
            generated = [
                [item.entry.folded_key for item in self.generated(variant)]
                for variant in (False, True)
            ]
            self._collide.update(
                zip((False, True), self.user_texts.collisions(generated), strict=True)
            )
        return self._collide[request_client_cert]
