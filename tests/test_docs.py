"""docs/spec.md is exactly what compiler/docs.py generates from the models."""

from __future__ import annotations

import re
from pathlib import Path

from compiler import docs
from compiler.spec.model import json_schema

REPO = Path(__file__).resolve().parent.parent


def test_committed_spec_reference_is_current() -> None:
    committed = docs.SPEC_MD.read_text(encoding="utf-8")
    assert committed == docs.render(), f"docs/spec.md is stale; run: {docs.REGENERATE}"


def test_spec_reference_has_every_key_of_every_model() -> None:
    text = docs.render()
    schema = json_schema()
    headings = set(re.findall(r"^### `([^`]+)`$", text, re.MULTILINE))
    leaves = {h.rsplit(".", 1)[-1] for h in headings}
    for model in [schema, *schema["$defs"].values()]:
        for key in model["properties"]:
            assert key in leaves, f"docs/spec.md has no entry for {key}"
    assert "defaults.tls.server_cert" in headings
    assert "domains.KEY.outbound.require" in headings


def test_examples_show_the_lines_the_renderers_write() -> None:
    text = docs.render()
    assert "+define(`confSERVER_CERT', ``/etc/mail/tls/mx1.crt'')dnl" in text
    assert "+TLS_Srv:example.com\tENCR:128" in text
    assert "+Try_TLS:example.com\tNO" in text


def test_a_model_without_a_section_fails_the_generator() -> None:
    schema = json_schema()
    schema["$defs"]["NewModel"] = {"properties": {}}
    try:
        docs.render(schema)
    except ValueError as exc:
        assert "NewModel" in str(exc)
    else:
        raise AssertionError("render() accepted a model it does not document")
