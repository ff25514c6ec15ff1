"""schemas/tlsc.schema.json must be exactly what the models generate."""

from __future__ import annotations

import json
from pathlib import Path

from compiler.spec.model import json_schema

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
