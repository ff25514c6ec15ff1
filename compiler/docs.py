"""docs/spec.md, the spec reference, generated from the models.

    make docs                          # or: python -m compiler.docs
    python -m compiler.docs --check    # only say whether docs/spec.md is current (exit 1)

For every key (dotted path) it lists the type, the default and the
description from the JSON Schema of the spec (`compiler.spec.model`), and,
for a key with an example, what that example changes in the files tlsc
writes. That change is not written by hand: a small spec is compiled with
and without the example, and the lines that differ are shown, per file.
tests/test_docs.py regenerates the text in memory and compares it with the
committed file, so the reference cannot drift from the models.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.compile import compile_text
from compiler.spec.model import Paths, json_schema

REPO = Path(__file__).resolve().parent.parent
SPEC_MD = REPO / "docs" / "spec.md"
REGENERATE = "make docs (or: python -m compiler.docs)"

#: the spec every example is compiled into; the example's lines are what it changes
BASE: dict[str, Any] = {
    "version": 1,
    "cluster": "c",
    "hosts": {"mx1": {"fqdn": "mx1.example.org"}},
    "access": ["Connect:localhost RELAY"],
}
#: an issuer tag the rule examples may name (in the base and the example spec alike)
_TAGS = {"MyCA": ["/C=US/O=My CA/CN=ca.example.net"]}

#: which file a managed path holds, by its key in `paths:`
_ROLES = {"sendmail_mc": "sendmail.mc", "starttls_m4": "starttls.m4", "access": "access"}

Place = Callable[[dict[str, Any], str, Any], None]

_DANE_HOST = {
    "sendmail": "8.18",
    "tls": {"dane": True},
    "mc": {"features": ["tls_session_features"]},
}
#: what the base spec needs for a key's example to compile (by dotted key)
_NEEDS: dict[str, dict[str, Any]] = {
    "defaults.tls.dane": {"defaults": {"sendmail": "8.18"}},
    "domains.KEY.outbound.dane": {"defaults": _DANE_HOST},
}
#: keys of a rule that only one direction has: the example is shown there alone
_ONE_DIRECTION = {"dane": "outbound"}
#: the access files the examples name (`access: [{file: ...}]`), read from here
_EXAMPLE_FILES = {
    "blocklist.access": b"# from the abuse desk\nConnect:192.0.2.66\tREJECT\n",
    "mx1-blocklist.access": b"Connect:198.51.100.7\tREJECT\n",
}


def _at(*path: str) -> Place:
    """Put the value at `path` + key, making the mappings on the way."""

    def place(spec: dict[str, Any], key: str, value: Any) -> None:
        node = spec
        for part in path:
            node = node.setdefault(part, {})
        node[key] = value

    return place


def _feature(spec: dict[str, Any], key: str, value: Any) -> None:
    feature = {"name": value} if key == "name" else {"name": "greet_pause", key: value}
    spec.setdefault("defaults", {})["mc"] = {"features": [feature]}


def _access_file(spec: dict[str, Any], key: str, value: Any) -> None:
    spec["access"] = [*spec.get("access", []), {key: value}]


def _rule(section: str, peer: str, direction: str | None) -> Place:
    """A rule of `section` for `peer` (one direction): the key alone for a level,
    with require: verify for a check."""

    def place(spec: dict[str, Any], key: str, value: Any) -> None:
        alone = key in ("require", "starttls", "dane")
        rule = {key: value} if alone else {"require": "verify", key: value}
        spec[section] = {peer: {direction: rule} if direction else rule}

    return place


@dataclass(frozen=True)
class Section:
    """One model of the spec, where it stands, and how an example of a key is placed."""

    model: str  # the $defs name, or "" for the root
    path: str  # dotted path of the keys, e.g. "defaults.tls"
    also: str  # the other places the same keys stand (text)
    places: tuple[tuple[str, Place], ...]  # (label, place) per way of showing an example
    skip: tuple[str, ...] = ()  # keys documented in another section
    tags: bool = False  # the example specs need the issuer tag _TAGS


SECTIONS = (
    Section("", "", "", (("", _at()),)),
    Section(
        "HostSettings",
        "defaults",
        "every key here may stand in `hosts.NAME` too",
        (("", _at("defaults")),),
    ),
    Section("Paths", "defaults.paths", "`hosts.NAME.paths`", (("", _at("defaults", "paths")),)),
    Section(
        "Commands",
        "defaults.commands",
        "`hosts.NAME.commands`",
        (("", _at("defaults", "commands")),),
    ),
    Section("Tls", "defaults.tls", "`hosts.NAME.tls`", (("", _at("defaults", "tls")),)),
    Section(
        "MtaSts",
        "defaults.tls.mta_sts",
        "`hosts.NAME.tls.mta_sts`; `true` is short for `{}` (the resolver's default socket)",
        (("", _at("defaults", "tls", "mta_sts")),),
    ),
    Section("Mc", "defaults.mc", "`hosts.NAME.mc`", (("", _at("defaults", "mc")),)),
    Section(
        "Feature",
        "defaults.mc.features[]",
        "`hosts.NAME.mc.features[]`; a plain string is short for `{name: STRING}`",
        (("", _feature),),
    ),
    Section(
        "AccessFile",
        "access[]",
        "`hosts.NAME.access[]`; an item of the list that is not a string",
        (("", _access_file),),
    ),
    Section(
        "Host",
        "hosts.NAME",
        "the keys of `defaults` (above) may stand here too, deep-merged over them",
        (("", _at("hosts", "mx1")),),
        skip=("paths", "commands", "smtp_port", "tls", "mc", "ownership", "sendmail"),
    ),
    Section(
        "DomainRule",
        "domains.KEY",
        "`hosts.NAME.domains.KEY`",
        (("", _at("domains", "example.com")),),
    ),
    Section(
        "PeerRule",
        "domains.KEY.outbound",
        "`domains.KEY.inbound` (the same keys); a plain level is short for `{require: LEVEL}`",
        (
            ("outbound", _rule("domains", "example.com", "outbound")),
            ("inbound", _rule("domains", "example.com", "inbound")),
        ),
        tags=True,
    ),
    Section(
        "Requirement",
        "recipients.KEY",
        "`hosts.NAME.recipients.KEY`; a plain level is short for `{require: LEVEL}`",
        (("", _rule("recipients", "postmaster@example.org", None)),),
        tags=True,
    ),
)


def md_text(text: str) -> str:
    """Plain text for Markdown: every character Markdown could take for markup escaped."""
    return "".join("\\" + c if c in "\\`*_<>[]|#" else c for c in text)


def md_code(text: str) -> str:
    """Inline code holding `text` exactly, however many back-ticks it contains."""
    run = 1
    while "`" * run in text:
        run += 1
    fence = "`" * run
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def yaml_value(value: Any) -> str:
    """A value as a spec would write it (YAML flow style: JSON, strings bare)."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def type_text(prop: dict[str, Any]) -> str:
    """The type of a schema property in words."""
    if "$ref" in prop:
        return "mapping (" + str(prop["$ref"]).rsplit("/", 1)[-1] + ")"
    if "anyOf" in prop or "oneOf" in prop:
        return " or ".join(type_text(p) for p in prop.get("anyOf") or prop["oneOf"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        return "list of " + type_text(prop.get("items", {}))
    if kind == "object":
        values = prop.get("additionalProperties")
        if values is None and "patternProperties" in prop:
            values = next(iter(prop["patternProperties"].values()))
        return "mapping of names to " + type_text(values or {})
    if kind == "integer" and "minimum" in prop:
        return f"integer {prop['minimum']}–{prop['maximum']}"
    return str(kind or "any")


def default_text(name: str, prop: dict[str, Any], required: list[str]) -> str:
    """The default of a key as the docs show it."""
    if name in required:
        return "required"
    if "$ref" in prop:
        return "the defaults of its keys"
    return md_code(yaml_value(prop.get("default")))


def _files(spec: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """{role: (path, lines)} of host mx1's files, compiled from `spec`."""
    result = compile_text(json.dumps(spec), "cluster.yaml", _EXAMPLE_FILES.__getitem__)
    if not result.ok:
        problems = "; ".join(f"{p.code} {p.message}" for p in result.problems)
        raise ValueError(f"an example spec does not compile: {problems}\n{json.dumps(spec)}")
    where = Paths().model_dump()
    where.update(spec.get("defaults", {}).get("paths", {}))
    files = result.hosts["mx1"]
    return {
        role: (where[key], files[where[key]].splitlines())
        for key, role in _ROLES.items()
        if where[key] in files
    }


def changes(base: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """What `spec` writes differently from `base`: per file, the lines removed and added."""
    before, after = _files(base), _files(spec)
    out: list[str] = []
    for role in _ROLES.values():
        if role not in after:
            if role in before:
                out.append(f"# {role}: not written")
            continue
        path, new = after[role]
        old_path, old = before.get(role, (path, []))
        lines: list[str] = []
        matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op != "equal":
                lines += [f"-{line}" for line in old[i1:i2]]
                lines += [f"+{line}" for line in new[j1:j2]]
        if path != old_path:
            out.append(f"# {role}: written to {path} (not {old_path})")
        elif lines:
            out.append(f"# {role}")
        out += lines
    return out


def _example(prop: dict[str, Any]) -> tuple[bool, Any]:
    """(True, the first example that is not the default) or (False, None)."""
    examples = prop.get("examples", [])
    if not examples:
        return False, None
    other = [e for e in examples if "default" not in prop or e != prop["default"]]
    return True, (other or examples)[0]


def key_entry(section: Section, name: str, prop: dict[str, Any], required: list[str]) -> list[str]:
    dotted = f"{section.path}.{name}" if section.path else name
    out = [
        f"### `{dotted}`",
        "",
        f"- type: {md_code(type_text(prop))}",
        f"- default: {default_text(name, prop, required)}",
        "",
        md_text(prop["description"]),
        "",
    ]
    found, value = _example(prop)
    if not found:
        return out
    for label, place in section.places:
        if label and _ONE_DIRECTION.get(name, label) != label:
            continue
        base = copy.deepcopy(BASE)
        if section.tags:
            base["issuer_tags"] = _TAGS
        base.update(copy.deepcopy(_NEEDS.get(dotted, {})))
        spec = copy.deepcopy(base)
        place(spec, name, value)
        written = f"{name}: {yaml_value(value)}"
        where = f" under {label}" if label else ""
        lines = changes(base, spec)
        if "default" in prop and value == prop["default"]:
            out += [f"Example{where}: {md_code(written)} (the default).", ""]
            continue
        if not lines:
            out += [f"Example{where}: {md_code(written)} changes no line of the files.", ""]
            continue
        out += [f"Example{where}: {md_code(written)}", "", "```diff", *lines, "```", ""]
    return out


def render(schema: dict[str, Any] | None = None) -> str:
    """The text of docs/spec.md."""
    schema = json_schema() if schema is None else schema
    defs = schema["$defs"]
    missing = set(defs) - {s.model for s in SECTIONS}
    if missing:
        raise ValueError(f"compiler/docs.py has no section for {', '.join(sorted(missing))}")
    out = [
        "# The spec, key by key",
        "",
        "<!-- Generated by compiler/docs.py from the models; do not edit."
        f" Regenerate: {REGENERATE}. -->",
        "",
        "Every key of a tlsc spec: its type, its default and what it does (the"
        " same text an editor shows from `schemas/tlsc.schema.json`). Where a key"
        " has an example, the lines below it are what that example changes in the"
        " files tlsc writes for a host, compiled from this spec with and without"
        " it (`-` a line removed, `+` a line added; an access line's key and value"
        " are separated by a tab):",
        "",
        "```yaml",
        *json.dumps(BASE, indent=2).splitlines(),
        "```",
        "",
        "The rule examples also define the issuer tag `MyCA` (`issuer_tags`).",
        "",
    ]
    for section in SECTIONS:
        model = defs[section.model] if section.model else schema
        title = f"`{section.path}`" if section.path else "The top level"
        out += [f"## {title}", ""]
        if section.model:
            out += [md_text(model.get("description", "")), ""]
        if section.also:
            out += [f"Also: {section.also}.", ""]
        required = model.get("required", [])
        for name, prop in model["properties"].items():
            if name not in section.skip:
                out += key_entry(section, name, prop, required)
    while out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if docs/spec.md is stale"
    )
    args = parser.parse_args(argv)
    text = render()
    current = SPEC_MD.read_text(encoding="utf-8") if SPEC_MD.exists() else None
    if args.check:
        if current != text:
            print(f"{SPEC_MD} is stale; run: {REGENERATE}")
            return 1
        return 0
    SPEC_MD.parent.mkdir(parents=True, exist_ok=True)
    SPEC_MD.write_text(text, encoding="utf-8")
    print(f"wrote {SPEC_MD}" + (" (unchanged)" if current == text else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
