"""Turn the spec's TLS rules and access entries into access-map entries.

Each entry remembers where in the spec it came from, so that validation can
name both lines of a collision and the planner can explain a change. The
`domains:`, `recipients:` and `issuer_tags:` entries are the same for every
host except `Srv_Features:KEY v`, which only hosts that do not request client
certificates need (see README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from compiler import names
from compiler.accessmap import AccessEntry, Requirement, parse_entry
from compiler.spec.loader import Loc
from compiler.spec.model import Cluster, PeerRule
from compiler.spec.model import Requirement as RequirementSpec
from compiler.xtext import xtext


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


def peer_entries(
    key: str, rule: PeerRule, direction: str, request_client_cert: bool
) -> list[AccessEntry]:
    """Access lines for one direction of one `domains:` key (normalised key)."""
    if direction == "outbound":
        if not rule.starttls:
            return [AccessEntry(f"Try_TLS:{key}", "NO")]
        if rule.require == "may":
            return []
        return [AccessEntry(f"TLS_Srv:{key}", requirement_of(rule).render())]
    if not rule.starttls:
        return [AccessEntry(f"Srv_Features:{key}", "S")]
    if rule.require == "may":
        return []
    out = [AccessEntry(f"TLS_Clt:{key}", requirement_of(rule).render())]
    if rule.require == "verify" and not request_client_cert:
        out.append(AccessEntry(f"Srv_Features:{key}", "v"))
    return out


def _sort_key(raw: str, normalised: str) -> tuple[int, str, str]:
    return (0 if raw == "*" else 1, normalised, raw)


class ClusterRules:
    """All access entries a cluster defines, computed once and shared by its hosts."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.tag_names = frozenset(cluster.issuer_tags)
        self.problems: list[tuple[Loc, str]] = []
        self._by_cert_request: dict[bool, list[SourcedEntry]] = {}

    @cached_property
    def user(self) -> list[SourcedEntry]:
        """The `access:` entries, parsed, in the order written."""
        out = []
        for i, text in enumerate(self.cluster.access):
            try:
                out.append(SourcedEntry(parse_entry(text, self.tag_names), ("access", i), "access"))
            except ValueError as exc:
                self.problems.append((("access", i), str(exc)))
        return out

    @cached_property
    def recipients(self) -> list[SourcedEntry]:
        """`TLS_Rcpt:` entries, sorted by key."""
        items = sorted(
            (
                (raw, names.parse_recipient(raw), req)
                for raw, req in self.cluster.recipients.items()
            ),
            key=lambda t: _sort_key(t[0], t[1]),
        )
        return [
            SourcedEntry(
                AccessEntry(f"TLS_Rcpt:{norm}", requirement_of(req).render()),
                ("recipients", raw),
                "recipients",
            )
            for raw, norm, req in items
        ]

    @cached_property
    def issuer_tags(self) -> list[SourcedEntry]:
        """`TAG:issuer OK` entries for CITag lookups."""
        out = []
        for tag in sorted(self.cluster.issuer_tags):
            for i, dn in enumerate(self.cluster.issuer_tags[tag]):
                out.append(
                    SourcedEntry(
                        AccessEntry(f"{tag}:{xtext(dn)}", "OK"),
                        ("issuer_tags", tag, i),
                        "issuer_tags",
                    )
                )
        return out

    def domains(self, request_client_cert: bool) -> list[SourcedEntry]:
        """`domains:` entries for a host that does (not) request client certs."""
        cached = self._by_cert_request.get(request_client_cert)
        if cached is not None:
            return cached
        items = sorted(
            ((raw, names.parse_peer(raw), rule) for raw, rule in self.cluster.domains.items()),
            key=lambda t: _sort_key(t[0], t[1]),
        )
        out = []
        for raw, norm, rule in items:
            for direction in ("outbound", "inbound"):
                peer_rule = getattr(rule, direction)
                if peer_rule is None:
                    continue
                for entry in peer_entries(norm, peer_rule, direction, request_client_cert):
                    out.append(SourcedEntry(entry, ("domains", raw, direction), "domains"))
        self._by_cert_request[request_client_cert] = out
        return out

    def count(self, request_client_cert: bool) -> int:
        """How many entries a host's access file has."""
        return (
            len(self.user)
            + len(self.domains(request_client_cert))
            + len(self.recipients)
            + len(self.issuer_tags)
        )

    def all(self, request_client_cert: bool) -> list[SourcedEntry]:
        """Every entry of a host's access file, in file order."""
        return [*self.user, *self.domains(request_client_cert), *self.recipients, *self.issuer_tags]
