"""Hosts with the same changes, shown once (text and markdown; JSON lists every host);
and certificate facts that hosts share, listed once.

Two hosts group when the same files change in the same way: the same added
and removed lines at the same places, the same access-map changes, actions
and warnings. Context lines and hashes may differ, and so may the host's own
name in tlsc's header lines (`for host colo10 (colo10.example.net)`,
`VERSIONID(`tlsc colo/colo10')`): every host's files name it, so without
this two hosts could never group when a header line changes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from compiler.plan.model import CertificateFacts, HostPlan, MailImpact, PlanWarning

_HOST_HEADER = re.compile(r"for host (\S+) \((\S+)\)")
_VERSIONID = re.compile(r"(VERSIONID\(`tlsc [^/']+/)([^']+)'")


@dataclass
class HostGroup:
    """Hosts whose plans are the same; `plan` is the first host's, shown for all."""

    hosts: list[str]
    plan: HostPlan
    #: the hosts' changed lines differ in their own names (header lines) only
    names_differ: bool = False

    @property
    def unchanged(self) -> bool:
        """True when nothing changes and nothing needs a look."""
        return self.plan.changes == 0 and not self.plan.warnings

    def label(self) -> str:
        """`colo10` or `colo10, colo11`."""
        return ", ".join(self.hosts)


def _changed_lines(diff: str) -> tuple[str, ...]:
    return tuple(line for line in diff.split("\n")[2:] if line and line[0] != " ")


def _normalise(host: str, lines: tuple[str, ...]) -> tuple[str, ...]:
    def header(m: re.Match[str]) -> str:
        return "for host <host> (<fqdn>)" if m.group(1) == host else m.group(0)

    def versionid(m: re.Match[str]) -> str:
        return m.group(1) + "<host>'" if m.group(2) == host else m.group(0)

    return tuple(_VERSIONID.sub(versionid, _HOST_HEADER.sub(header, line)) for line in lines)


def _signature(plan: HostPlan, normalise: bool) -> str:
    files = [
        [
            f.path,
            f.action,
            _normalise(plan.host, _changed_lines(f.diff)) if normalise else _changed_lines(f.diff),
        ]
        for f in plan.files
    ]
    rest = plan.to_json()
    return json.dumps([files, rest["access"], rest["actions"], rest["warnings"]], sort_keys=True)


def group_hosts(hosts: list[HostPlan]) -> list[HostGroup]:
    """Groups in order of their first host; hosts keep their order inside a group."""
    groups: dict[str, HostGroup] = {}
    for plan in hosts:
        key = _signature(plan, normalise=True)
        group = groups.get(key)
        if group is None:
            groups[key] = HostGroup([plan.host], plan)
            continue
        group.hosts.append(plan.host)
        if _signature(plan, False) != _signature(group.plan, False):
            group.names_differ = True
    return list(groups.values())


def merged_downgrades(hosts: list[HostPlan]) -> list[tuple[list[str], PlanWarning]]:
    """Each distinct downgrade once, with the hosts it happens on."""
    merged: dict[PlanWarning, list[str]] = {}
    for plan in hosts:
        for warning in plan.downgrades:
            merged.setdefault(warning, []).append(plan.host)
    return [(names, warning) for warning, names in merged.items()]


def merged_certificates(hosts: list[HostPlan]) -> list[tuple[list[str], CertificateFacts]]:
    """Each distinct certificate fact once (a CA file all hosts share is one row), with its
    hosts: server certificates first, then client certificates, then CA files."""
    merged: dict[CertificateFacts, list[str]] = {}
    for plan in hosts:
        for facts in plan.certificates or ():
            merged.setdefault(facts, []).append(plan.host)
    rows = [(names, facts) for facts, names in merged.items()]
    return sorted(rows, key=lambda row: _ROLE_ORDER.get(row[1].role, len(_ROLE_ORDER)))


_ROLE_ORDER = {"server_cert": 0, "client_cert": 1, "ca_cert": 2}


def certificates_not_read(hosts: list[HostPlan]) -> list[str]:
    """Hosts whose certificates were not read, when those of others were (--state)."""
    if all(plan.certificates is None for plan in hosts):
        return []
    return [plan.host for plan in hosts if plan.certificates is None]


def expiry_text(facts: CertificateFacts) -> str:
    """`expires 2027-01-31 (30 days)` or `expired 2025-01-31 (3 days ago)`."""
    date = (facts.not_after or "")[:10]
    days = facts.days_left or 0
    if days < 0:
        return f"expired {date} ({-days} day{'' if days == -1 else 's'} ago)"
    return f"expires {date} ({days} day{'' if days == 1 else 's'})"


def merged_mail_impact(hosts: list[HostPlan]) -> list[tuple[list[str], list[MailImpact]]]:
    """Hosts whose added and changed rules did the same to the mail in the logs, listed
    once with their impacts (--logs); hosts with no such rule are left out."""
    merged: dict[tuple[MailImpact, ...], list[str]] = {}
    for plan in hosts:
        if plan.mail_impact:
            merged.setdefault(tuple(plan.mail_impact), []).append(plan.host)
    return [(names, list(impacts)) for impacts, names in merged.items()]
