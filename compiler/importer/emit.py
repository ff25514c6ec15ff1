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
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.representer import RoundTripRepresenter

from compiler.importer.notes import Where
from compiler.problems import printable
from compiler.sendmail import releases
from compiler.spec.loader import is_bool_word
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
    smtp_port: int | None = None
    #: the release family the host runs (`8.18`), None for the default
    sendmail: str | None = None
    #: why tls: is off, for the summary
    tls_off: str = "no starttls include"


def _non_default(values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in defaults or defaults[k] != v}


def settings(parts: SpecParts) -> dict[str, Any]:
    """The `defaults:` block as plain data, defaults left out, in the models' key order."""
    out: dict[str, Any] = {}
    paths = _non_default(parts.paths, Paths().model_dump())
    if paths:
        out["paths"] = {k: paths[k] for k in Paths.model_fields if k in paths}
    if parts.smtp_port not in (None, 25):
        out["smtp_port"] = parts.smtp_port
    tls = _non_default(parts.tls, Tls().model_dump())
    if tls:
        out["tls"] = {k: tls[k] for k in Tls.model_fields if k in tls}
    mc_defaults = Mc().model_dump()
    mc = _non_default(parts.mc, mc_defaults)
    if mc:
        out["mc"] = {k: mc[k] for k in Mc.model_fields if k in mc}
    if parts.sendmail is not None and parts.sendmail != releases.DEFAULT:
        out["sendmail"] = parts.sendmail
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
    if value.isascii() and value.isdigit() and len(value) <= 18 and str(int(value)) == value:
        return int(value)
    return value  # digits no int of a spec holds, or Unicode digits (`²`): as text


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


def _commented_seq(items: list[Any], labels: list[str], indent: int) -> Any:
    """A block list whose items carry aligned `# from FILE:LINE` comments."""
    seq = CommentedSeq(items)
    width = max((len(repr(x)) for x in items), default=0)
    for i, text in enumerate(labels):
        seq.yaml_add_eol_comment(text, i, column=min(indent + 2 + width + 2, 100))
    return seq


#: where a list's items came from, by the list's place in the spec: ("access",) ->
#: ["from /etc/mail/access:3", ...]
Labels = dict[tuple[str, ...], list[str]]


def emit(parts: SpecParts, label: Callable[[Where], str]) -> str:
    """The spec text; `label` names a source line in a comment (`/etc/mail/access:12`)."""
    labels: Labels = {
        ("defaults", "mc", "extra"): [label(at) for at in parts.extra_at],
        ("access",): [label(at) for at in parts.access_at],
    }
    return emit_data(spec_data(parts), labels, parts.header)


_RULE_KEYS = ("domains", "recipients", "issuer_tags", "access")


def _settings_map(
    settings: dict[str, Any], labels: Labels, at: tuple[str, ...], out: CommentedMap
) -> CommentedMap:
    """`defaults:` or a host's settings, with mc: written key by key."""
    for key, value in settings.items():
        if key == "mc":
            out[key] = _mc(value, labels.get((*at, "mc", "extra"), []), 2 * len(at) + 2)
        else:
            out[key] = _block(value)
    return out


def _rules(data: dict[str, Any], labels: Labels, at: tuple[str, ...], out: CommentedMap) -> None:
    """`domains:`, `recipients:`, `issuer_tags:` and `access:` (top level or a host's)."""
    if "domains" in data:
        out["domains"] = CommentedMap((k, _block(v)) for k, v in data["domains"].items())
        out.yaml_set_comment_before_after_key(
            "domains",
            before="TLS rules per peer (TLS_Srv, TLS_Clt, Try_TLS, Srv_Features)",
            indent=2 * len(at),
        )
    if "recipients" in data:
        out["recipients"] = CommentedMap((k, _block(v)) for k, v in data["recipients"].items())
    if "issuer_tags" in data:
        out["issuer_tags"] = CommentedMap(
            (k, CommentedSeq(v)) for k, v in data["issuer_tags"].items()
        )
    if "access" in data:
        out["access"] = _commented_seq(
            list(data["access"]), labels.get((*at, "access"), []), 2 * len(at) + 2
        )
        out.yaml_set_comment_before_after_key(
            "access",
            before="every other line of the access file, in file order",
            indent=2 * len(at),
        )


def emit_data(data: dict[str, Any], labels: Labels, header: list[str]) -> str:
    """Spec data (as spec_data() makes it, or a merged cluster's) as commented YAML."""
    root = CommentedMap()
    root["version"] = 1
    root["cluster"] = data["cluster"]
    if "defaults" in data:
        root["defaults"] = _settings_map(data["defaults"], labels, ("defaults",), CommentedMap())
    hosts = CommentedMap()
    for name, host in data["hosts"].items():
        if set(host) <= {"fqdn", "address"}:
            hosts[name] = _flow(host)
            continue
        at = ("hosts", name)
        entry = CommentedMap((k, host[k]) for k in ("fqdn", "address") if k in host)
        settings = {k: v for k, v in host.items() if k not in (*_RULE_KEYS, "fqdn", "address")}
        _settings_map(settings, labels, at, entry)
        _rules(host, labels, at, entry)
        hosts[name] = entry
    root["hosts"] = hosts
    _rules(data, labels, (), root)
    root.yaml_set_start_comment("\n".join(header))
    yaml = YAML()
    yaml.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    yaml.representer.add_representer(str, _represent_text)
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    buf = io.StringIO()
    yaml.dump(root, buf)
    text = buf.getvalue()
    if printable(text, "\n\t") != text:
        # ruamel escapes control characters but writes a bidi control as it is, and the
        # spec is read on a terminal and in review: written as \u escapes, YAML reads
        # the same value back (non-ASCII is escaped too, in this document only)
        yaml.allow_unicode = False
        buf = io.StringIO()
        yaml.dump(root, buf)
        text = buf.getvalue()
    return text


def _represent_text(r: RoundTripRepresenter, text: str) -> ScalarNode:
    """Text as ruamel writes it, but `yes`, `off`, ... quoted: tlsc refuses them unquoted."""
    node: ScalarNode
    if is_bool_word(text):
        node = r.represent_scalar("tag:yaml.org,2002:str", text, style="'")
    else:
        node = r.represent_str(text)
    return node


def _mc(mc: dict[str, Any], extra_labels: list[str], indent: int) -> CommentedMap:
    out = CommentedMap()
    for key, value in mc.items():
        if key == "defines":
            out[key] = CommentedMap((k, _define_value(v)) for k, v in value.items())
        elif key == "features":
            out[key] = CommentedSeq(f["name"] if not f.get("args") else _flow(f) for f in value)
        elif key == "extra":
            out[key] = _commented_seq(list(value), extra_labels, indent + 2)
        else:
            out[key] = _block(value)
    if "extra" in out:
        out.yaml_set_comment_before_after_key(
            "extra", before="raw m4 kept verbatim, in file order", indent=indent
        )
    return out
