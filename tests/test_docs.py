"""docs/: spec.md is exactly what compiler/docs.py generates; every link stays inside the repo."""

from __future__ import annotations

import re
from pathlib import Path

from compiler import docs
from compiler.spec.model import json_schema

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"


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


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, blanks to '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return {_slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def test_docs_links_resolve_inside_the_repository() -> None:
    pages = sorted(DOCS.glob("*.md"))
    assert DOCS / "README.md" in pages
    checked = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "://" not in text, f"{page.name} points outside the repository"
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            assert dest.is_relative_to(REPO), f"{page.name}: {target} leaves the repository"
            assert dest.exists(), f"{page.name}: {target} does not exist"
            if anchor:
                assert anchor in _anchors(dest), f"{page.name}: no heading #{anchor} in {file}"
            checked += 1
    assert checked >= 5
