"""compiler/sendmail/accessbulk.py: entries checked in bulk give exactly what parse_entry gives.

The keys, values and issuer tags are test_accessmap_fast.py's generated
material (hostile characters, IDNA and upper-case names, IPv4 and IPv6
look-alikes, names around the length limits, tags in odd spellings), mixed
with entries already in canonical form so that the bulk path has runs to
skip. For every list: the same accepted entries in the same order, the same
problems at the same locations, the same `KEY<TAB>VALUE` lines.
"""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_accessmap_fast import PROFILE, address, body, domain, issuer_tags, key, value

from compiler.sendmail import accessbulk, names
from compiler.sendmail.accessbulk import AccessTexts, Segment, canonical
from compiler.sendmail.accessmap import AccessEntry, parse_entry

CANONICAL_SAMPLES = [
    "Connect:127 RELAY",
    "Connect:10.1.2.3 REJECT",
    'Connect:10.1.2.4 ERROR:"550 go away"',
    "Connect:10.1.2.5 ERROR:5.7.1:550 Rejected; see https://x.example/",
    "From:spammer@example.com DISCARD",
    "To:bob@example.org RELAY",
    "Spam:abuse@ FRIEND",
    "GreetPause:10.1 5000",
    "ClientRate:10.2 0",
    "TLS_Srv:secure.example ENCR:128",
    "TLS_Rcpt:bob@example.org PERM+VERIFY:112",
    "Try_TLS:broken.example NO",
    "Srv_Features:10.3 S v",
    "QGRP:bob@example.org slow.1",
    "example.com OK",
    "localhost RELAY",
    "Connect:10.1.2.6 550 go away",
    "Connect:10.1.2.7 QUARANTINE:later",
]

entry_text = st.one_of(
    st.sampled_from(CANONICAL_SAMPLES),
    st.sampled_from(CANONICAL_SAMPLES),
    st.tuples(key, st.sampled_from([" ", "  ", "\t", ""]), value).map("".join),
    st.tuples(key, value).map(" ".join),
)

_SMALL = accessbulk.SMALL
_BLOCK = accessbulk._BLOCK
_KEY_BLOCK = accessbulk._KEY_BLOCK


def setup_module() -> None:
    """Lists of any size take the bulk path here (small ones skip it elsewhere), and
    bodies are made three entries at a time (a block's edge among any few)."""
    accessbulk.SMALL = 0
    accessbulk._BLOCK = 3
    accessbulk._KEY_BLOCK = 20  # and the keys read in blocks of a line or two: halves


def teardown_module() -> None:
    accessbulk.SMALL = _SMALL
    accessbulk._BLOCK = _BLOCK
    accessbulk._KEY_BLOCK = _KEY_BLOCK


def reference(texts: list[str], loc: tuple[str | int, ...], tags: frozenset[str]):  # type: ignore[no-untyped-def]
    accepted, problems = [], []
    for i, text in enumerate(texts):
        try:
            accepted.append((parse_entry(text, tags), (*loc, i)))
        except ValueError as exc:
            problems.append(((*loc, i), str(exc)))
    return accepted, problems


@settings(**{**PROFILE, "max_examples": 800})
@given(
    st.lists(entry_text, max_size=12),
    st.lists(entry_text, max_size=4),
    issuer_tags,
)
@example(["localhost REJECT", "localhost OK"], [], frozenset({"localhost"}))
@example(["Connect:1 OK\nConnect:2 OK", "Connect:3 OK"], ["Connect:4 ok"], frozenset())
@example(["Connect:1 OK "], [" Connect:2 OK"], frozenset())
def test_bulk_check_equals_parse_entry(
    cluster: list[str], host: list[str], tags: frozenset[str]
) -> None:
    segments = [Segment(cluster, ("access",)), Segment(host, ("hosts", "mx1", "access"))]
    bulk = AccessTexts(segments, tags)
    want_a, want_p = reference(cluster, ("access",), tags)
    want_b, want_q = reference(host, ("hosts", "mx1", "access"), tags)
    accepted = want_a + want_b
    assert bulk.problems == want_p + want_q
    assert list(bulk.entries()) == accepted
    assert bulk.body == "".join(e.line() + "\n" for e, _ in accepted)
    keys = [e.folded_key for e, _ in accepted]
    assert bulk.folded_keys() == keys
    others = [[], [keys[0]] if keys else ["x"], ["y", "y"], ["z"]]
    assert bulk.collisions(others) == [len(set(keys + o)) != len(keys + o) for o in others]
    assert len(bulk) == len(cluster) + len(host)
    features = ("TLS_Srv_Features", "TLS_Clt_Features")
    assert [x for x in bulk.parsed() if x[0].tag in features] == [
        x for x in accepted if x[0].tag in features
    ]

    # the same lists, their texts let go of once checked (as a plan does): the host's
    # list as the body is made, the cluster's kept (another set of rules reads it)
    mine, theirs = list(cluster), list(host)
    released = AccessTexts(
        [Segment(mine, ("access",)), Segment(theirs, ("hosts", "mx1", "access"))], tags
    )
    released.release(lambda texts: texts is theirs)
    assert released.released
    assert mine == cluster
    assert theirs == [None] * len(host)
    for segment in released.segments:
        with pytest.raises(RuntimeError):
            segment.texts[0]
    assert released.problems == bulk.problems
    assert list(released.entries()) == accepted
    assert list(released.parsed()) == list(bulk.parsed())
    assert released.body == bulk.body
    assert released.folded_keys() == keys
    assert released.collisions(others) == bulk.collisions(others)
    assert len(released) == len(bulk) and released.accepted == bulk.accepted
    # and its body lent to a text that holds it (a host's file)
    text = "# head\n" + released.body + "# tail\n"
    if released.body:
        with pytest.raises(ValueError):
            released.lend("# other head\n" + released.body, len("# head\n"))
    released.lend(text, len("# head\n"))
    assert released.body == bulk.body
    assert list(released.entries()) == accepted


@settings(**{**PROFILE, "max_examples": 3000})
@given(entry_text, issuer_tags)
@example("Connect:10.1.2.3 ERROR:550", frozenset())
@example("GreetPause:1 0123", frozenset())
@example("TLS_Srv:a.example ENCR:0", frozenset())
@example("TLS_Srv:a.example VERIFY:65536", frozenset())
@example("Connect:a.example QUARANTINE: x", frozenset())
def test_a_canonical_entry_is_what_parse_entry_gives_back(text: str, tags: frozenset[str]) -> None:
    plain_tag = text.partition(" ")[0] in tags
    if canonical().fullmatch(text) and not plain_tag:
        key_text, _, value_text = text.partition(" ")
        assert parse_entry(text, tags) == AccessEntry(key_text, value_text)


@settings(**{**PROFILE, "max_examples": 2000})
@given(entry_text, issuer_tags, st.sampled_from([" ", "\t"]))
@example("a" * 250 + " OK", frozenset(), " ")
@example("Connect:" + "a" * 244 + " OK", frozenset(), " ")
@example("To:" + "a" * 248 + "\tOK", frozenset(), "\t")
def test_the_pattern_for_short_texts_matches_as_the_full_one(
    text: str, tags: frozenset[str], sep: str
) -> None:
    """_not_canonical leaves out the key's length look-ahead for texts of at most
    KEY_MAX + 1 characters: for those it matches exactly what the full pattern does."""
    text = text.replace(" ", sep, 1)
    full = re.compile(accessbulk._entry_pattern(tags, sep))
    short = re.compile(accessbulk._entry_pattern(tags, sep, short=True))
    if len(text) <= accessbulk.KEY_MAX + 1:
        assert bool(short.fullmatch(text)) == bool(full.fullmatch(text))
    joined = [text, "Connect:10.1.2.3 OK".replace(" ", sep)]
    assert accessbulk._not_canonical(joined, tags, sep) == [
        i for i, t in enumerate(joined) if not full.fullmatch(t)
    ]


def test_canonical_samples_are_canonical() -> None:
    for text in CANONICAL_SAMPLES:
        assert canonical().fullmatch(text), text
    bulk = AccessTexts([Segment(CANONICAL_SAMPLES, ("access",))], frozenset())
    assert list(bulk.parsed()) == []  # none went through parse_entry


@settings(**{**PROFILE, "max_examples": 1500})
def _written(address: ipaddress.IPv6Address) -> str:
    """An address as parse_ipv6 writes it (eight groups, no leading zeros)."""
    return ":".join(format(int(g, 16), "x") for g in address.exploded.split(":"))


_GROUPS = ["0", "1", "ffff", "0001", "A", "db8", "12345", ""]


@given(
    st.one_of(
        st.ip_addresses(v=6).map(_written),
        st.lists(st.sampled_from(_GROUPS), min_size=1, max_size=9).map(":".join),
    ),
    st.sampled_from(["Connect:IPv6:", "IPv6:", "TLS_Srv:IPv6:", "ipv6:", "Connect:ipv6:"]),
    st.sampled_from([frozenset(), frozenset({"IPv6"})]),
)
@example("0:0:0:0:0:ffff:102:304", "Connect:IPv6:", frozenset())
@example("0:0:0:0:0:ffff:102", "Connect:IPv6:", frozenset())
@example("1:2:3:4:5:6:7:8", "IPv6:", frozenset({"IPv6"}))
def test_ipv6_keys_in_bulk_equal_parse_entry(groups: str, head: str, tags: frozenset[str]) -> None:
    value_text = "ENCR:128" if head.startswith("TLS_Srv") else "REJECT"
    texts = [f"{head}{groups} {value_text}", "Connect:127 RELAY"]
    bulk = AccessTexts([Segment(texts, ("access",))], tags)
    accepted, problems = reference(texts, ("access",), tags)
    assert list(bulk.entries()) == accepted
    assert bulk.problems == problems


@settings(**{**PROFILE, "max_examples": 3000})
@given(st.one_of(domain, body, address))
@example("10.1.2.3")
@example("10.1.2.300")
@example("1.2.3.4.5")
@example("a" * 63 + ".b")
@example("a" * 64 + ".b")
@example("xn--a.b")
@example("a-.b")
@example("x.12")
@example("bob@")
def test_the_run_patterns_accept_what_the_names_fast_paths_accept(text: str) -> None:
    if " " in text or "\n" in text:
        return
    peer = re.fullmatch(rf"{accessbulk._PEER} ", text + " ") is not None
    assert peer == (names.CANONICAL_PEER.match(text) is not None)
    recipient = re.fullmatch(rf"{accessbulk._RECIPIENT} ", text + " ") is not None
    assert recipient == (names.CANONICAL_RECIPIENT.match(text) is not None)
