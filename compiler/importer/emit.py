"""The imported spec as YAML a person would write: the documented key order, comments, flow maps.

Settings equal to tlsc's defaults are left out (the compiler fills in the
same values, so the round trip is unchanged); settings whose default differs
from what the files say are written, null and false included. Lines kept
verbatim carry a comment naming the file and line they came from.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from compiler.importer.notes import Where
from compiler.spec.model import Mc, Paths, Tls

#: a short mapping is written in flow style ({outbound: encrypt}) below this width
FLOW_WIDTH = 88


@dataclass
class SpecParts:
    """Everything the spec will say, in plain data, before it becomes YAML."""

    cluster: str
    host: str
    fqdn: str
    paths: dict[str, str] = field(default_factory=dict)
    ownership: str = "file"
    tls: dict[str, Any] = field(default_factory=dict)
    mc: dict[str, Any] = field(default_factory=dict)
    extra_at: list[Where] = field(default_factory=list)
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    recipients: dict[str, Any] = field(default_factory=dict)
    issuer_tags: dict[str, list[str]] = field(default_factory=dict)
    access: list[str] = field(default_factory=list)
    access_at: list[Where] = field(default_factory=list)
    header: list[str] = field(default_factory=list)


def _non_default(values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in defaults or defaults[k] != v}


def settings(parts: SpecParts) -> dict[str, Any]:
    """The `defaults:` block as plain data, defaults left out, in the models' key order."""
    out: dict[str, Any] = {}
    paths = _non_default(parts.paths, Paths().model_dump())
    if paths:
        out["paths"] = {k: paths[k] for k in Paths.model_fields if k in paths}
    tls = _non_default(parts.tls, Tls().model_dump())
    if tls:
        out["tls"] = {k: tls[k] for k in Tls.model_fields if k in tls}
    mc_defaults = Mc().model_dump()
    mc = _non_default(parts.mc, mc_defaults)
    if mc:
        out["mc"] = {k: mc[k] for k in Mc.model_fields if k in mc}
    if parts.ownership != "file":
        out["ownership"] = parts.ownership
    return out


def spec_data(parts: SpecParts) -> dict[str, Any]:
    """The whole spec as plain data (what emit() writes, without comments)."""
    data: dict[str, Any] = {"version": 1, "cluster": parts.cluster}
    defaults = settings(parts)
    if defaults:
        data["defaults"] = defaults
    data["hosts"] = {parts.host: {"fqdn": parts.fqdn}}
    if parts.domains:
        data["domains"] = parts.domains
    if parts.recipients:
        data["recipients"] = parts.recipients
    if parts.issuer_tags:
        data["issuer_tags"] = parts.issuer_tags
    if parts.access:
        data["access"] = parts.access
    return data


def _define_value(value: str) -> Any:
    """A number written as a number when that keeps its text ("15" -> 15, "015" stays)."""
    return int(value) if value.isdigit() and str(int(value)) == value else value


def _flow(value: Any) -> Any:
    """Plain data as ruamel nodes, mappings and lists in flow style."""
    if isinstance(value, dict):
        m = CommentedMap((k, _flow(v)) for k, v in value.items())
        m.fa.set_flow_style()
        return m
    if isinstance(value, list):
        s = CommentedSeq(_flow(v) for v in value)
        s.fa.set_flow_style()
        return s
    return value


_FLOW_UNSAFE = set(":,[]{}#&*!|>'\"%@`")


def _short(value: Any) -> bool:
    """Short, and no string that a flow collection would need to quote."""
    return len(repr(value)) < FLOW_WIDTH and not any(
        isinstance(s, str) and (_FLOW_UNSAFE & set(s) or s == "") for s in _scalars(value)
    )


def _scalars(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [*value, *(x for v in value.values() for x in _scalars(v))]
    if isinstance(value, list):
        return [x for v in value for x in _scalars(v)]
    return [value]


def _block(value: Any) -> Any:
    """Plain data as ruamel nodes: short mappings and lists in flow style, long ones block."""
    if isinstance(value, (dict, list)) and _short(value):
        return _flow(value)
    if isinstance(value, dict):
        return CommentedMap((k, _block(v)) for k, v in value.items())
    if isinstance(value, list):
        return CommentedSeq(_block(v) for v in value)
    return value


def _commented_seq(
    items: list[Any], where: list[Where], label: Callable[[Where], str], indent: int
) -> Any:
    """A block list whose items carry aligned `# from FILE:LINE` comments."""
    seq = CommentedSeq(items)
    width = max((len(repr(x)) for x in items), default=0)
    for i, at in enumerate(where):
        seq.yaml_add_eol_comment(label(at), i, column=min(indent + 2 + width + 2, 100))
    return seq


def emit(parts: SpecParts, label: Callable[[Where], str]) -> str:
    """The spec text; `label` names a source line in a comment (`/etc/mail/access:12`)."""
    data = spec_data(parts)
    root = CommentedMap()
    root["version"] = 1
    root["cluster"] = parts.cluster
    if "defaults" in data:
        defaults = CommentedMap()
        for key, value in data["defaults"].items():
            if key == "mc":
                defaults[key] = _mc(value, parts, label)
            else:
                defaults[key] = _block(value)
        root["defaults"] = defaults
    root["hosts"] = CommentedMap({parts.host: _flow(data["hosts"][parts.host])})
    if "domains" in data:
        root["domains"] = CommentedMap((k, _block(v)) for k, v in data["domains"].items())
        root.yaml_set_comment_before_after_key(
            "domains", before="TLS rules per peer (TLS_Srv, TLS_Clt, Try_TLS, Srv_Features)"
        )
    if "recipients" in data:
        root["recipients"] = CommentedMap((k, _block(v)) for k, v in data["recipients"].items())
    if "issuer_tags" in data:
        root["issuer_tags"] = CommentedMap(
            (k, CommentedSeq(v)) for k, v in data["issuer_tags"].items()
        )
    if "access" in data:
        root["access"] = _commented_seq(list(data["access"]), parts.access_at, label, 2)
        root.yaml_set_comment_before_after_key(
            "access", before="every other line of the access file, in file order"
        )
    root.yaml_set_start_comment("\n".join(parts.header))
    yaml = YAML()
    yaml.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    buf = io.StringIO()
    yaml.dump(root, buf)
    return buf.getvalue()


def _mc(mc: dict[str, Any], parts: SpecParts, label: Callable[[Where], str]) -> CommentedMap:
    out = CommentedMap()
    for key, value in mc.items():
        if key == "defines":
            out[key] = CommentedMap((k, _define_value(v)) for k, v in value.items())
        elif key == "features":
            out[key] = CommentedSeq(f["name"] if not f.get("args") else _flow(f) for f in value)
        elif key == "extra":
            out[key] = _commented_seq(list(value), parts.extra_at, label, 6)
        else:
            out[key] = _block(value)
    if "extra" in out:
        out.yaml_set_comment_before_after_key(
            "extra", before="raw m4 kept verbatim, in file order", indent=4
        )
    return out
