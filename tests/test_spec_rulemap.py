"""compiler/spec/rulemap.py: the `domains:` and `recipients:` mappings read without
the YAML composer give exactly what the general loader gives.

Generated specs put such mappings of every shape (keys plain and quoted, rules
as one word, as flow mappings one and two deep, written below their key,
comments, blank lines, odd spacing, content after the block) and hostile
pieces (YAML indicators, `: ` and ` #` inside, tabs, CRs, NEL, control
characters, non-ASCII, booleans, numbers, null, anchors, aliases, tags,
merge keys, a key twice, a `%YAML` directive) into a small spec; for each,
the loader (fast path where it applies) and the general loader alone must
give the same data, positions, YAML-1.1-boolean marks and marks of numbers
not in plain decimal digits (`0200`, `0x10`), or the same
problems; validation must then report the same problems, and compiling must
write the same bytes.
"""

from __future__ import annotations

from typing import Any

import pytest
from fast_loader_checks import same_load, same_outcome
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compiler.spec import loader, rulemap

HEAD = """\
version: 1
cluster: test
hosts:
  mx1:
    fqdn: mx1.example.net
issuer_tags:
  CA: ["/C=US/O=Example/CN=Example CA"]
"""

_FAST_PATH_BYTES = loader.FAST_PATH_BYTES


def setup_module() -> None:
    """Specs of any size take the fast path here (small ones skip it elsewhere)."""
    loader.FAST_PATH_BYTES = 0


def teardown_module() -> None:
    loader.FAST_PATH_BYTES = _FAST_PATH_BYTES


PROFILE: dict[str, Any] = {
    "deadline": None,
    "max_examples": 800,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

_KEYS = [
    "example.com",
    "mx.Example.NET",
    "10.1",
    "10.1.2.3",
    "IPv6:2001:db8:1",
    "*",
    "user@example.org",
    "postmaster@",
    "bücher.de",
    "yes",
    "12",
    "null",
    "1.5",
    "a b",
]
_WORDS = [
    "encrypt",
    "verify",
    "may",
    "none",
    "128",
    "256",
    "true",
    "false",
    "yes",
    "Off",
    "null",
    "~",
    "1.5",
    "0x10",
    "2001-12-14",
    "CA",
    "temporary",
    "permanent",
    "mx.example.net",
    "1_000",
    "0200",
    "0o17",
    "0b11",
    "+128",
    "-0",
]
_FIELDS = ["outbound", "inbound", "require", "min_bits", "cn", "issuer_tag", "on_failure"]
_FIELDS += ["starttls", "dane", "x"]
_HOSTILE = [": ", " #", "#", ":", "\t", "\r", "\x85", "\x00", "é", "'", '"', "\\", "[", "]"]
_HOSTILE += ["{", "}", ",", "&a ", "*a", "!", "!!str ", "|", ">", "%", "@", "-", "? ", "<<: "]
_HOSTILE += ["  ", "\u2028", "\ufeff", "\u202e", "\u2067"]


def _hostile(draw: st.DrawFn, text: str) -> str:
    for _ in range(draw(st.integers(0, 24)) // 24):
        piece = draw(st.sampled_from(_HOSTILE))
        at = draw(st.integers(0, len(text)))
        text = text[:at] + piece + text[at:]
    return text


@st.composite
def key(draw: st.DrawFn) -> str:
    text = _hostile(draw, draw(st.sampled_from(_KEYS)))
    style = draw(st.sampled_from(["plain", "double", "double", "single"]))
    if style == "double":
        return '"' + text + '"'
    if style == "single":
        return "'" + text + "'"
    return text


@st.composite
def scalar(draw: st.DrawFn) -> str:
    text = _hostile(draw, draw(st.sampled_from(_WORDS)))
    return '"' + text + '"' if draw(st.integers(0, 4)) == 0 else text


def _mostly(usual: str, *others: str) -> st.SearchStrategy[str]:
    """`usual` nine times in ten, else one of the others."""
    return st.sampled_from([usual] * 9 * len(others) + list(others)) if others else st.just(usual)


@st.composite
def flow(draw: st.DrawFn, depth: int) -> str:
    fields = draw(st.lists(st.sampled_from(_FIELDS), min_size=1, max_size=3, unique=True))
    if draw(st.integers(0, 19)) == 0:  # none, or one twice
        fields = draw(st.sampled_from([[], [*fields, fields[0]]]))
    pairs = []
    for field in fields:
        value = draw(flow(depth - 1)) if depth and draw(st.booleans()) else draw(scalar())
        pairs.append(f"{field}{draw(_mostly(': ', ':  ', ':'))}{value}")
    comma = draw(_mostly(", ", ",", " , "))
    inner = draw(_mostly("", " "))
    return "{" + inner + comma.join(pairs) + inner + "}"


@st.composite
def rule_lines(draw: st.DrawFn, indent: str) -> list[str]:
    """One rule: on its key's line, or below it."""
    k = draw(key())
    after = draw(_mostly("", " # note", "  #", " ", "#x"))
    kind = draw(st.integers(0, 5))
    if kind == 0:
        sub = draw(_mostly("  ", "    ", " "))
        lines = [f"{indent}{k}:{after}\n"]
        fields = draw(st.lists(st.sampled_from(_FIELDS), min_size=0, max_size=3, unique=True))
        for field in fields:
            value = draw(flow(0)) if draw(st.booleans()) else draw(scalar())
            lines.append(f"{indent}{sub}{field}: {value}\n")
        return lines
    value = draw(scalar()) if kind == 1 else draw(flow(1))
    return [f"{indent}{k}{draw(_mostly(': ', ':  ', ':'))}{value}{after}\n"]


@st.composite
def spec_text(draw: st.DrawFn) -> str:
    """A spec with a domains: (or recipients:) mapping of some shape, and maybe more."""
    name = draw(st.sampled_from(["domains", "domains", "recipients"]))
    indent = draw(_mostly("  ", "    ", " ", ""))
    lines = [draw(_mostly(f"{name}:\n", f"{name}: # x\n", f"{name} :\n"))]
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.integers(0, 19))
        if kind == 0:
            lines.append(draw(st.sampled_from(["\n", "  # a comment\n", "# top\n", "   \n"])))
        elif kind == 1:
            lines += draw(rule_lines(draw(st.sampled_from(["   ", "", "\t"]))))
        elif kind == 2:
            lines.append(draw(st.sampled_from(["  - x\n", "  &a b: c\n", "  <<: *r\n", "%\n"])))
        else:
            lines += draw(rule_lines(indent))
    tail = draw(
        st.sampled_from(
            [
                "",
                "",
                "",
                "",
                "",
                "",
                "recipients:\n  x@example.com: encrypt\n",
                f"{name}:\n  a.example: encrypt\n",
                "...\n",
                "---\nversion: 1\n",
                "- x\n",
                "access:\n  - Connect:1 OK\n",
                "defaults: &r {}\n",
                f"<<: {{{name}: {{x.example: encrypt}}}}\n",
                "defaults: {<<: {smtp_port: 25, smtp_port: 0x19}}\n",
                "defaults: {<<: {smtp_port: 25}, <<: {smtp_port: 26}}\n",
            ]
        )
    )
    before = draw(_mostly("", "%YAML 1.1\n---\n", "# a comment\n", "access: []\n"))
    text = before + HEAD + "".join(lines) + tail
    if draw(st.integers(0, 20)) == 0:
        text = text.rstrip("\n")
    return text


# -- the comparison ----------------------------------------------------------------


@settings(**PROFILE)
@given(spec_text())
@example(HEAD + 'domains:\n  "*":\n    outbound: may\n  a.example: {outbound: encrypt}\n')
@example(HEAD + "domains:\n  a.example: {outbound: {require: verify, min_bits: 128}}\n")
@example(HEAD + "domains:\n  a.example: {outbound: {require: verify, min_bits: 0200}}\n")
@example(HEAD + "recipients:\n  'x@example.com': encrypt # c\n\n  y@example.com: yes\n")
@example(HEAD + "domains:\n  a.example: {outbound: encrypt, outbound: verify}\n")
@example(HEAD + "domains:\n  a.example: encrypt\n  'a.example': verify\n")
def test_fast_and_general_loaders_agree(text: str) -> None:
    loads = same_load(text)
    if loads is not None:
        same_outcome(*loads)


# -- the fast path applies where it should ------------------------------------------


@pytest.mark.parametrize(
    "block",
    [
        'domains:\n  "*":\n    outbound: may\n  "a.example": {outbound: encrypt}\n',
        "domains:\n  a.example: {outbound: {require: verify, issuer_tag: CA}, inbound: encrypt}\n",
        "domains: # rules\n\n  # one\n  10.1: encrypt  # two\n  IPv6:2001:db8:1: verify\n",
        "recipients:\n  x@example.com: encrypt\n  'y@example.com': {require: verify}\n",
    ],
)
def test_the_plain_shapes_take_the_fast_path(block: str) -> None:
    text = HEAD + block + "access: []\n"
    name = block.split(":")[0]
    assert rulemap.read_rules(text, name) is not None
    assert same_load(text) is not None


@pytest.mark.parametrize(
    "block",
    [
        "domains:\n  a.example: &r {outbound: encrypt}\n  b.example: *r\n",
        'domains:\n  "a\\x41.example": encrypt\n',
        "domains:\n  a.example: !!str encrypt\n",
        "domains:\n  a.example: {outbound: encrypt}\n  a.example: {inbound: encrypt}\n",
        "domains:\n  a.example:\n    outbound:\n      require: verify\n",
        "domains:\n  a.example:\t{outbound: encrypt}\n",
        "domains:\n  a.example: [encrypt]\n",
        "domains:\n  a.example: {outbound: encrypt}\r\n",
        "domains:\n  a.example:\n",
    ],
)
def test_anything_unusual_is_left_to_the_general_loader(block: str) -> None:
    text = HEAD + block
    assert rulemap.read_rules(text, "domains") is None
    same_load(text)


def test_positions_of_rules_on_and_below_their_keys() -> None:
    text = (
        HEAD + 'domains: # x\n\n  # c\n  "*":\n    outbound: may\n  b.example: {inbound: verify}\n'
    )
    loads = same_load(text)
    assert loads is not None
    loaded = loads[0]
    assert loaded.key_positions[("domains", "*")] == (11, 3)
    assert loaded.positions[("domains", "*")] == (12, 5)
    assert loaded.positions[("domains", "b.example")] == (13, 14)
    assert loaded.positions[("domains", "b.example", "inbound")] == (13, 24)
