"""Import several hosts into one spec: what all share goes to `defaults:`, the rest per host.

Each host is imported on its own (`import_host`, round trip included) under the
same cluster name; the specs are then merged as plain data, so fields the
single-host import gains later merge the same way:

- settings (`paths`, `tls`, `mc`, `ownership`, ...) are compared key by key,
  down through mappings (`mc.defines`), the way resolve merges them: a value
  every host has, equal, goes to `defaults:`; any other value stays under
  the host that has it. A host without a key has tlsc's default there, and
  `defaults:` does not set such a key, so the host keeps it.
- `domains:`, `recipients:`, `issuer_tags:`: a key every host has with the
  same value goes to the top level; the others stay with the host that has
  them (`hosts.NAME.domains:`, ...), never replacing a top-level key.
- `access:`: the entries every host starts with, in the same order, go to the
  top level; each host's remaining entries follow them on that host.

The merged spec is then compiled and every host's files compared with those
of its own single-host import, byte for byte.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.compile import compile_text
from compiler.importer.emit import Labels, emit_data, spec_data
from compiler.importer.host import Imported, import_host
from compiler.importer.notes import Where
from compiler.importer.read_mc import valid
from compiler.spec.model import HostName, Word

_RULE_MAPS = ("domains", "recipients", "issuer_tags")
_MISSING = object()
SOURCE = "cluster.yaml"


class HostArgumentError(ValueError):
    """A NAME=ROOT argument that names no host."""


def parse_host_args(args: list[str]) -> list[tuple[str, str]]:
    """NAME=ROOT arguments as (name, root); a sentence in HostArgumentError if one is bad."""
    out: list[tuple[str, str]] = []
    for arg in args:
        name, eq, root = arg.partition("=")
        if not eq and os.path.isdir(arg):
            # `tlsc import /etc/mail`: a ROOT given without the name of its host
            raise HostArgumentError(
                f"{arg!r} is not NAME=ROOT: one ROOT needs its host's name,"
                f" `tlsc import {arg} --host NAME` (or NAME={arg})"
            )
        if not eq or not name or not root:
            raise HostArgumentError(f"{arg!r} is not NAME=ROOT (a host name, '=', its root)")
        problem = valid(HostName, name)
        if problem:
            raise HostArgumentError(f"{arg!r}: host name {name!r}: {problem}")
        if any(name == n for n, _ in out):
            raise HostArgumentError(f"{arg!r}: host {name} is named twice")
        if not os.path.isdir(root):
            raise HostArgumentError(f"{arg!r}: {root} is not a directory")
        out.append((name, root))
    return out


def default_cluster_name(hosts: list[str]) -> str:
    """The hosts' common prefix without trailing digits and separators (mx1, mx2 -> mx),
    else the first host's name."""
    prefix = ""
    for chars in zip(*hosts, strict=False):
        if len(set(chars)) > 1:
            break
        prefix += chars[0]
    prefix = prefix.rstrip("0123456789.-_")
    if len(hosts) > 1 and len(prefix) >= 2 and not valid(Word, prefix):
        return prefix
    return hosts[0]


@dataclass
class ClusterImport:
    """The outcome of importing several hosts into one spec."""

    cluster: str
    hosts: dict[str, Imported]
    text: str | None = None
    #: problems of the merged spec itself (it does not validate, or a host's files differ)
    errors: list[str] = field(default_factory=list)
    #: host -> what was compared ("3 files the same as its own import")
    checked: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every host imported and the merged spec reproduces each one."""
        return self.text is not None and not self.errors and all(r.ok for r in self.hosts.values())


def import_cluster(
    hosts: list[tuple[str, str]],
    cluster: str | None = None,
    check_cf: bool = True,
    ownership: str | None = None,
) -> ClusterImport:
    """Import every (name, root), merge them into one spec and check it host by host."""
    name = cluster or default_cluster_name([n for n, _ in hosts])
    results = {
        host: import_host(root, host, None, name, check_cf=check_cf, ownership=ownership)
        for host, root in hosts
    }
    out = ClusterImport(name, results)
    if not all(r.ok and r.parts is not None and r.text is not None for r in results.values()):
        return out
    roots = dict(hosts)
    datas: dict[str, dict[str, Any]] = {}
    labels: dict[str, Labels] = {}
    for host, result in results.items():
        assert result.parts is not None
        datas[host] = spec_data(result.parts)

        def label(at: Where, root: str = roots[host], host: str = host) -> str:
            return (
                f"from {host}:{host_path(root, at)}"
                if len(hosts) > 1
                else (f"from {host_path(root, at)}")
            )

        labels[host] = {
            ("mc", "extra"): [label(at) for at in result.parts.extra_at],
            ("access",): [label(at) for at in result.parts.access_at],
        }
    data, merged_labels = merge(name, datas, labels)
    header = [
        "tlsc spec imported by `tlsc import "
        + " ".join(f"{h}={r}" for h, r in hosts)
        + f" --cluster {name}`.",
        "What every host has alike is in defaults: and the top-level rules; what",
        "differs stays under its host. Settings equal to tlsc's defaults are left out.",
    ]
    if any(r.parts is not None and r.parts.ownership == "tls" for r in results.values()):
        header += [
            "ownership: tls -- an adopted host's files stay as they are; tlsc owns only",
            "the STARTTLS include of sendmail.mc, starttls.m4 and its block of the access file.",
        ]
    if any(r.parts is not None and r.parts.ownership != "tls" for r in results.values()):
        header += [
            "For hosts tlsc owns whole, comments of the original files were dropped, and",
            "lines tlsc cannot model are kept verbatim (mc.extra, access:), each with the",
            "host, file and line.",
        ]
    text = emit_data(data, merged_labels, header)
    out.errors = _check(text, results)
    if not out.errors:
        out.text = text
        out.checked = {h: "its files are the same as those of its own import" for h in results}
    return out


def host_path(root: str, at: Where) -> str:
    """`/etc/mail/access:12` for a file of the host under ROOT (or an /etc/mail ROOT)."""
    base = Path(root).resolve()
    try:
        rel = Path(at.path).resolve().relative_to(base)
    except ValueError:
        return str(at)
    prefix = "/etc/mail/" if _is_etc_mail(base) else "/"
    return f"{prefix}{rel}:{at.line}"


def _is_etc_mail(root: Path) -> bool:
    return (root / "sendmail.mc").is_file() and not (root / "etc/mail/sendmail.mc").is_file()


def merge(
    cluster: str, datas: dict[str, dict[str, Any]], labels: dict[str, Labels]
) -> tuple[dict[str, Any], Labels]:
    """One spec's data from several single-host specs' data (see the module docstring)."""
    names = list(datas)
    data: dict[str, Any] = {"version": 1, "cluster": cluster}
    out_labels: Labels = {}
    shared, own = _split([d.get("defaults", {}) for d in datas.values()])
    if shared:
        data["defaults"] = shared
        if "extra" in shared.get("mc", {}):
            out_labels[("defaults", "mc", "extra")] = labels[names[0]][("mc", "extra")]
    hosts: dict[str, dict[str, Any]] = {}
    for host, settings in zip(names, own, strict=True):
        hosts[host] = {**datas[host]["hosts"][host], **settings}
        if "extra" in settings.get("mc", {}):
            out_labels[("hosts", host, "mc", "extra")] = labels[host][("mc", "extra")]
    for section in _RULE_MAPS:
        maps = [d.get(section, {}) for d in datas.values()]
        top = {k: v for k, v in maps[0].items() if all(k in m and m[k] == v for m in maps[1:])}
        if top:
            data[section] = top
        for host, m in zip(names, maps, strict=True):
            rest = {k: v for k, v in m.items() if k not in top}
            if rest:
                hosts[host][section] = rest
    lists = [list(d.get("access", [])) for d in datas.values()]
    common = 0
    while all(len(x) > common for x in lists) and all(x[common] == lists[0][common] for x in lists):
        common += 1
    if common:
        data["access"] = lists[0][:common]
        out_labels[("access",)] = labels[names[0]][("access",)][:common]
    for host, entries in zip(names, lists, strict=True):
        if entries[common:]:
            hosts[host]["access"] = entries[common:]
            out_labels[("hosts", host, "access")] = labels[host][("access",)][common:]
    data["hosts"] = hosts
    # the spec's key order: version, cluster, defaults, hosts, then the rules
    order = ["version", "cluster", "defaults", "hosts", *_RULE_MAPS, "access"]
    return {k: data[k] for k in order if k in data}, out_labels


def _split(blocks: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(what every block has alike, what each block has besides), mappings key by key.

    A key missing from a block has tlsc's default there; it is shared only when
    every block has it with the same value."""
    shared: dict[str, Any] = {}
    own: list[dict[str, Any]] = [{} for _ in blocks]
    keys = list(dict.fromkeys(k for b in blocks for k in b))
    for key in keys:
        values = [b.get(key, _MISSING) for b in blocks]
        if all(isinstance(v, dict) for v in values if v is not _MISSING):
            subs = [v if isinstance(v, dict) else {} for v in values]
            sub_shared, sub_own = _split(subs)
            if sub_shared:
                shared[key] = sub_shared
            for mine, rest in zip(own, sub_own, strict=True):
                if rest:
                    mine[key] = rest
        elif all(v is not _MISSING and v == values[0] for v in values):
            shared[key] = values[0]
        else:
            for mine, value in zip(own, values, strict=True):
                if value is not _MISSING:
                    mine[key] = value
    return shared, own


def _check(text: str, results: dict[str, Imported]) -> list[str]:
    """Compile the merged spec: every host's files must equal its own import's."""
    merged = compile_text(text, SOURCE)
    if not merged.ok:
        return [
            f"the merged spec does not validate: {p.path}:{p.line}: {p.code} {p.message}"
            for p in merged.problems
            if p.severity == "error"
        ]
    errors = []
    for host, result in results.items():
        assert result.text is not None
        alone = compile_text(result.text, SOURCE)
        mine, theirs = merged.hosts[host], alone.hosts[host]
        for path in sorted(set(mine) | set(theirs)):
            if mine.get(path) != theirs.get(path):
                errors.append(
                    f"host {host}: {path} compiled from the merged spec differs from the"
                    " host's own import"
                )
    return errors
