"""schemas/tlsc.schema.json must be exactly what the models generate."""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, BeforeValidator
from pydantic_core import PydanticUndefined
from test_properties import PROFILE, dump, specs

from compiler.spec.loader import SpecLoadError, load_file, load_text
from compiler.spec.model import Cluster, json_schema
from compiler.spec.validate import validate

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "tlsc.schema.json"


def test_committed_schema_matches_models() -> None:
    committed = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert committed == json_schema(), "run: tlsc schema > schemas/tlsc.schema.json"


def test_schema_describes_every_top_level_key() -> None:
    props = json_schema()["properties"]
    assert set(props) == {
        "version",
        "cluster",
        "defaults",
        "hosts",
        "domains",
        "recipients",
        "issuer_tags",
        "access",
    }
    assert json_schema()["additionalProperties"] is False


# -- the committed schema against real specs, with a real JSON Schema validator ---------
#
# The loader and the models are the source of truth: the schema may be looser on
# cross-field rules, but it must never reject a spec that `tlsc validate` accepts,
# or an editor shows false errors on it. Every shorthand a BeforeValidator accepts
# must therefore be in the schema too.

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))

#: valid specs covering every shorthand the models accept
SHORTHAND_SPECS = {
    "feature as a plain string": """\
version: 1
cluster: c
defaults:
  mc:
    features:
      - use_cw_file
      - {name: access_db, args: ["", skip]}
      - {name: greet_pause, args: ["1000"]}
hosts:
  mx1: {fqdn: mx1.example.net, mc: {features: [access_db, mailertable]}}
""",
    "rule levels as strings": """\
version: 1
cluster: c
hosts:
  mx1: {fqdn: mx1.example.net}
domains:
  "*": {outbound: may}
  a.example.com: {outbound: encrypt, inbound: verify}
  b.example.com: {outbound: {require: verify, cn: true, min_bits: 112}}
  c.example.com: {inbound: {require: encrypt, on_failure: permanent, cn: mx.c.example.com}}
  d.example.com: {outbound: {starttls: false}, inbound: null}
  "192.0.2": {inbound: encrypt}
""",
    "recipients as strings": """\
version: 1
cluster: c
hosts:
  mx1: {fqdn: mx1.example.net}
recipients:
  a@example.org: encrypt
  b@example.org: verify
  example.net: {require: encrypt, min_bits: 256}
issuer_tags:
  MyCA: [/C=US/O=My CA/CN=ca.example.net]
""",
    "defines as numbers and booleans": """\
version: 1
cluster: c
defaults:
  mc:
    defines: {confMAX_MESSAGE_SIZE: 10485760, confDONT_PROBE_INTERFACES: true, confLOG_LEVEL: "9"}
hosts:
  mx1:
    fqdn: mx1.example.net
    mc: {defines: {confSAFE_QUEUE: false, confMAX_DAEMON_CHILDREN: 40}}
""",
    "nulls, anchors, merge keys and the rest": """\
version: 1
cluster: c
defaults:
  tls: &tls {crl: null, dh_params: i, cipher_list: null, timeout: null, enabled: true}
  commands: {restart: null, after: make -C /etc/mail}
  ownership: block
  smtp_port: 2525
hosts:
  mx1: {fqdn: mx1.example.net, address: "2001:db8::25"}
  mx2:
    fqdn: mx2.example.net
    tls: {<<: *tls, request_client_cert: true, server_ssl_options: [+SSL_OP_NO_TLSv1]}
  mx3: {fqdn: mx3.example.net, tls: {enabled: false}, ownership: file}
access: ["Connect:127 RELAY", "GreetPause:192.0.2 0"]
""",
}

#: specs the schema itself must refuse (strictness kept: closed mappings, enums)
INVALID_SPECS = {
    "unknown top-level key": "bogus: 1\n",
    "unknown key in tls": "defaults: {tls: {server_crt: /a}}\n",
    "unknown key in a rule": "domains: {a.example.com: {outbound: {require: verify, cm: true}}}\n",
    "misspelt level shorthand": "domains: {a.example.com: {outbound: verfy}}\n",
    "bad require in a mapping": "domains: {a.example.com: {inbound: {require: must}}}\n",
    "may is no recipient level": "recipients: {a@example.org: may}\n",
    "bad ownership": "defaults: {ownership: shared}\n",
    "feature as a number": "defaults: {mc: {features: [1]}}\n",
    "define as a list": "defaults: {mc: {defines: {confX: [a]}}}\n",
    "wrong version": "version: 2\n",
    "string port": "defaults: {smtp_port: '25'}\n",
}

_BASE = "version: 1\ncluster: c\nhosts: {mx1: {fqdn: mx1.example.net}}\n"


def committed_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


VALIDATOR = committed_validator()


def schema_errors(data: Any) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in VALIDATOR.iter_errors(data)
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_validate_against_the_schema(path: Path) -> None:
    loaded = load_file(path)
    assert validate(loaded).ok
    assert schema_errors(loaded.data) == []


@pytest.mark.parametrize("text", SHORTHAND_SPECS.values(), ids=list(SHORTHAND_SPECS))
def test_shorthands_validate_against_the_schema(text: str) -> None:
    loaded = load_text(text)
    result = validate(loaded)
    assert result.ok, result.problems
    assert schema_errors(loaded.data) == []


@pytest.mark.parametrize("extra", INVALID_SPECS.values(), ids=list(INVALID_SPECS))
def test_schema_refuses_what_the_models_refuse(extra: str) -> None:
    data = {**load_text(_BASE).data, **load_text(extra).data}
    assert not validate(load_text(json.dumps(data))).ok
    assert schema_errors(data) != []


def _before_validators(tp: Any, seen: set[int]) -> Iterator[tuple[str, BeforeValidator]]:
    """Every BeforeValidator in a type, following models' fields."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if id(tp) in seen:
            return
        seen.add(id(tp))
        for name, field in tp.model_fields.items():
            for meta in field.metadata:
                if isinstance(meta, BeforeValidator):
                    yield f"{tp.__name__}.{name}", meta
            yield from _before_validators(field.annotation, seen)
        return
    if typing.get_origin(tp) is typing.Annotated:
        inner, *metadata = typing.get_args(tp)
        for meta in metadata:
            if isinstance(meta, BeforeValidator):
                yield repr(inner), meta
        yield from _before_validators(inner, seen)
        return
    for arg in typing.get_args(tp):
        yield from _before_validators(arg, seen)


def test_every_shorthand_declares_its_json_schema_input() -> None:
    found = list(_before_validators(Cluster, set()))
    assert len(found) >= 5  # features, outbound/inbound, recipients, defines, cn
    missing = [where for where, v in found if v.json_schema_input_type is PydanticUndefined]
    assert missing == [], "give these BeforeValidators a json_schema_input_type"


@settings(max_examples=150, **PROFILE)
@given(spec=st.one_of(specs(clean=True), specs()))
def test_schema_accepts_every_spec_the_loader_accepts(spec: dict[str, Any]) -> None:
    try:
        loaded = load_text(dump(spec))
    except SpecLoadError:
        return
    if validate(loaded).ok:
        assert schema_errors(loaded.data) == []


# -- help on hover: every key of the spec says what it does ------------------------------


def _undescribed(schema: dict[str, Any]) -> list[str]:
    """Every property of the root and of each $defs model without a description."""
    models = {"(root)": schema, **{f"$defs.{n}": d for n, d in schema.get("$defs", {}).items()}}
    missing = []
    for where, model in models.items():
        for key, prop in model.get("properties", {}).items():
            text = prop.get("description")
            if not isinstance(text, str) or not text.strip():
                missing.append(f"{where}.{key}")
    return missing


def test_every_key_has_a_description() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert len(schema["$defs"]) >= 10
    assert _undescribed(schema) == [], "give these keys Field(description=...)"


def test_the_description_walk_finds_a_key_without_one() -> None:
    schema = json_schema()
    del schema["$defs"]["Tls"]["properties"]["server_cert"]["description"]
    schema["properties"]["cluster"]["description"] = " "
    assert _undescribed(schema) == ["(root).cluster", "$defs.Tls.server_cert"]
