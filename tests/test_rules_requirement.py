"""rules.requirement_text: a requirement's text made once per distinct rule is the text
requirement_of makes of each rule."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import rules
from compiler.spec.model import PeerRule
from compiler.spec.model import Requirement as RequirementSpec

_FIELDS = st.fixed_dictionaries(
    {"require": st.sampled_from(["encrypt", "verify"])},
    optional={
        "min_bits": st.sampled_from([1, 112, 128, 256, 65535]),
        "on_failure": st.sampled_from(["permanent", "temporary", None]),
        "cn": st.sampled_from([True, False, None, "mx.example.net", "MX.Example.NET"]),
        "subject": st.sampled_from(["/C=US/O=Example/CN=mx.example.net", "/CN=a b%c"]),
        "issuer": st.sampled_from(["/C=US/O=Example/CN=Example CA", "/CN=x+y"]),
        "issuer_tag": st.sampled_from(["MyCA", "Other"]),
    },
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), _FIELDS), min_size=1, max_size=12))
def test_requirement_text_is_requirement_of_rendered(
    made: list[tuple[bool, dict[str, Any]]],
) -> None:
    for peer, fields in made:
        rule = (PeerRule if peer else RequirementSpec).model_validate(fields)
        assert rules.requirement_text(rule) == rules.requirement_of(rule).render()


def test_the_remembered_texts_are_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(rules, "_RENDERED", {})
    monkeypatch.setattr(rules, "_RENDERED_MAX", 3)
    for bits in range(1, 20):
        rule = PeerRule.model_validate({"require": "encrypt", "min_bits": bits})
        assert rules.requirement_text(rule) == f"ENCR:{bits}"
        assert len(rules._RENDERED) <= 3
