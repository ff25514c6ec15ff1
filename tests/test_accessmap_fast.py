"""The fast paths of parse_entry and the names parsers give exactly what the slow ones give.

parse_entry skips canonical_key for keys already in canonical form and caches
canonical_value; parse_domain and parse_peer return canonical text at once.
Here the original parse_domain and parse_peer are kept as the reference, and
every outcome (the result, or the exception's type and message) of the fast
code is compared with the reference on generated keys and values: hostile
characters, IDNA and upper-case names, IPv4 and IPv6 look-alikes, labels and
names around the 63 and 253 character limits, addresses, tags in odd spellings.
Runs are reproducible (`derandomize=True`, no example database).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compiler.problems import shown
from compiler.sendmail import accessmap, mapline, names
from compiler.sendmail.accessmap import (
    TAGS,
    AccessEntry,
    canonical_key,
    canonical_value,
    parse_entry,
)

PROFILE: dict[str, Any] = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    "max_examples": 1500,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

# -- the reference: the names parsers as they were before their fast paths --------------


def ref_parse_domain(text: str) -> str:
    if not text:
        raise ValueError("a domain name cannot be empty")
    if text.startswith("."):
        raise ValueError(
            f"'{shown(text)}' starts with a dot; write '{text.lstrip('.')}', which already"
            " matches the domain and every sub-domain"
        )
    if text.endswith("."):
        raise ValueError(f"'{shown(text)}' ends with a dot; write '{text.rstrip('.')}'")
    bad = names.first_unsafe(text)
    if bad is not None:
        raise ValueError(f"a domain name cannot contain {names.describe_char(bad)}")
    if not text.isascii() or "xn--" in text.lower():
        text = names.to_ascii(text)  # IDNA 2008 (test_names.py holds it)
    name = text.lower()
    if len(name) > 253:
        raise ValueError("a domain name cannot be longer than 253 characters")
    for label in name.split("."):
        if not names._LABEL.match(label):
            raise ValueError(
                f"'{shown(text)}' is not a valid domain name (bad label '{shown(label)}')"
            )
    if name.rsplit(".", 1)[-1].isdigit():
        raise ValueError(
            f"'{shown(text)}' is not a domain name (its last label is a number) nor an IPv4 address"
        )
    return name


def ref_parse_peer(text: str) -> str:
    if text == "*":
        return ""
    if text.lower().startswith("ipv6:"):
        return names.parse_ipv6(text)
    if ":" in text:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            raise ValueError(
                f"'{shown(text)}' is not a domain, an IPv4 prefix or an 'IPv6:' address"
            ) from None
        raise ValueError(f"'{shown(text)}' is an IPv6 address; write 'IPv6:{text}'")
    if "/" in text or names._IPV4_PREFIX.match(text.rstrip(".")):
        return names.parse_ipv4_prefix(text)
    return ref_parse_domain(text)


@contextmanager
def reference_names() -> Iterator[None]:
    """canonical_key, parse_recipient, ... calling the reference parsers."""
    with (
        mock.patch.object(names, "parse_domain", ref_parse_domain),
        mock.patch.object(names, "parse_peer", ref_parse_peer),
    ):
        yield


def ref_parse_entry(text: str, issuer_tags: frozenset[str] = frozenset()) -> AccessEntry:
    """parse_entry without its fast paths: canonical_key and canonical_value on every
    entry, the key ended where makemap ends it (mapline.split)."""
    if "\n" in text or "\r" in text:
        raise ValueError("an access entry must be one line")
    if text and text[0] in mapline.BLANKS:
        raise ValueError("an access entry cannot start with a blank; makemap drops such lines")
    key, _, rest = mapline.split(text)
    odd = next((c for c in key if c.isspace() and c not in mapline.BLANKS), None)
    if odd is not None:
        before = key[: key.index(odd)]
        where = f" after '{shown(before)}'" if before else ""
        raise ValueError(
            f"{names.describe_char(odd)}{where} is no blank to makemap, which ends a key"
            " only at a space, tab, vertical tab, form feed or carriage return, so it"
            " would be part of the key; separate the key from the value with a space or"
            " a tab"
        )
    if not key or key.startswith("#"):
        raise ValueError("an access entry needs a key and a value (comments are not entries)")
    value = rest.rstrip(mapline.BLANKS)
    if not value:
        raise ValueError(f"the access entry '{key}' has no value")
    with reference_names():
        key = canonical_key(key, issuer_tags)
        head = key.partition(":")[0]
        is_tag = head in issuer_tags and head not in TAGS
        tag = head if head in TAGS and ":" in key else None
        value = canonical_value(tag, value, issuer_tag=is_tag)
    return AccessEntry(key, value)


def outcome(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # any difference, in the exception too, counts
        return (type(exc).__name__, str(exc))


# -- generated material ----------------------------------------------------------------

LABEL_CHARS = "abcxyz0189_-ABZéü"
HOSTILE = (
    "`'\"#%\\ \t\x00\x85\u2028\u00a0\ufeff\U0001f600.:@/*+=[]{}|~!$&^?\u00c4\u00df\u0130\u212a"
)

label = st.one_of(
    st.text(LABEL_CHARS, min_size=0, max_size=8),
    st.sampled_from(["xn--bcher-kva", "xn--", "bücher", "ß", "İ", "a" * 63, "b" * 64, "123"]),
    st.integers(60, 66).map(lambda n: "c" * n),
    st.from_regex(r"[a-z0-9_][a-z0-9_-]{0,5}[a-z0-9_]", fullmatch=True),
)
domain = st.one_of(
    st.lists(label, min_size=1, max_size=5).map(".".join),
    # names around the 253 character limit
    st.tuples(st.integers(248, 258), st.sampled_from(["com", "1", "x-"])).map(
        lambda t: ("a" * 61 + ".") * 4 + "z" * max(1, t[0] - 248) + "." + t[1]
    ),
    st.tuples(st.integers(0, 10), st.lists(label, min_size=1, max_size=3)).map(
        lambda t: ("d" * 63 + ".") * 3 + "e" * (50 + t[0]) + "." + ".".join(t[1])
    ),
)
octet = st.one_of(st.integers(0, 300).map(str), st.sampled_from(["00", "01", "007", "", "1a"]))
ipv4 = st.lists(octet, min_size=1, max_size=5).map(".".join)
ipv6 = st.one_of(
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded),
    st.sampled_from(["::1", "::", "1::", "::ffff:1.2.3.4", "2001:DB8::1", "2001:db8", "fe80::1%1"]),
)
local = st.one_of(
    st.text("abXY09.!$&*+/=?^_{|}~-" + HOSTILE, min_size=0, max_size=8),
    st.from_regex(r"[a-z0-9!$&*+/=?^_{|}~-]{1,6}(\.[A-Za-z0-9]{1,4}){0,2}", fullmatch=True),
)
address = st.one_of(
    st.tuples(local, st.one_of(domain, st.just(""))).map("@".join),
    st.tuples(local, local, domain).map(lambda t: f"{t[0]}@{t[1]}@{t[2]}"),
)
body = st.one_of(
    domain,
    ipv4,
    ipv4.map(lambda s: s + "."),
    ipv4.map(lambda s: s + "/24"),
    ipv6,
    ipv6.map(lambda s: "IPv6:" + s),
    ipv6.map(lambda s: "ipv6:" + s),
    address,
    st.sampled_from(["*", "", ".", "..", "a..b", ".a", "a.", "-a", "a-", "_", "localhost"]),
    st.text(LABEL_CHARS + HOSTILE, max_size=12),
    st.tuples(domain, st.sampled_from(HOSTILE)).map(lambda t: t[0] + t[1]),
)
TAG_WORDS = [*TAGS, "connect", "CONNECT", "to", "tls_srv", "IPv6", "ipv6", "MyCA", "myca", "X", ""]
tag = st.one_of(st.sampled_from(TAG_WORDS), st.text(LABEL_CHARS, max_size=6))
key = st.one_of(
    body,
    st.tuples(tag, body).map(":".join),
    st.tuples(st.sampled_from(TAG_WORDS), st.sampled_from(TAG_WORDS), body).map(":".join),
)
VALUES = [
    "OK",
    "ok",
    "RELAY",
    "REJECT",
    "DISCARD",
    "SKIP",
    "FRIEND",
    "HATER",
    "NO",
    "YES",
    "0",
    "5000",
    "007",
    "ENCR:128",
    "encr:256",
    "VERIFY",
    "VERIFY:112+CN",
    "PERM+VERIFY+CN:Bücher.example",
    "TEMP+ENCR:0",
    'ERROR:"550 go away"',
    "ERROR:5.7.1:550 no",
    "ERROR:nope",
    "TEMP:later",
    "QUARANTINE:held",
    "550 Go away",
    "S",
    "v",
    "A D",
    "AD",
    "Options=SSL_OP_NO_TLSv1_3",
    "CertFile=/a; KeyFile=/b",
    "SUBJECT",
    "ok # comment",
    "100%",
    "100%%",
    "a`b",
    "queue.1",
]
value = st.one_of(st.sampled_from(VALUES), st.text("OKRELAY:+ENCR01 %#`\t" + HOSTILE, max_size=10))
issuer_tags = st.sampled_from([frozenset(), frozenset({"MyCA"}), frozenset({"MyCA", "localhost"})])


# -- the properties --------------------------------------------------------------------


@settings(**PROFILE)
@given(st.one_of(domain, body))
@example("a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 61 + ".e")  # 253
@example("a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 62 + ".e")  # 254
@example("x.1-2")
@example("x.12")
@example("10.0.0.1")
@example("256.1")
@example("01.2")
@example("1.2.3.4.5")
@example("a_.b")
@example("-a.b")
@example("a-.b")
@example("ab\n")
@example("ab\u212a")  # Kelvin sign: not ASCII, IDNA maps it to 'k'
@example("xn--zz.b")  # invalid Punycode: never taken as it is by the fast path
@example("xn--bcher-kva.de")
def test_names_fast_paths_match_the_reference(text: str) -> None:
    assert outcome(names.parse_domain, text) == outcome(ref_parse_domain, text)
    assert outcome(names.parse_peer, text) == outcome(ref_parse_peer, text)
    with reference_names():
        slow = outcome(names.parse_recipient, text)
    assert outcome(names.parse_recipient, text) == slow


@settings(**PROFILE)
@given(key, issuer_tags)
@example("Connect:10.1", frozenset())
@example("Connect:localhost", frozenset())
@example("localhost", frozenset({"localhost"}))
@example("From:a.b@", frozenset())
@example("From:.a@b.example", frozenset())
@example("To:a..b@b.example", frozenset())
@example("Spam:10.1.2.3", frozenset())
@example("QGRP:x.example", frozenset())
@example("Compat:x.example", frozenset())
@example("Clt_Features:x.example", frozenset())
@example("CertIssuer:x.example", frozenset())
@example("MyCA:x.example", frozenset({"MyCA"}))
@example("a@b@c.example", frozenset())
def test_canonical_keys_match_the_reference(text: str, tags: frozenset[str]) -> None:
    with reference_names():
        slow = outcome(canonical_key, text, tags)
    assert outcome(canonical_key, text, tags) == slow
    if accessmap._already_canonical(text):
        assert slow == ("ok", text)


@settings(**PROFILE)
@given(
    key,
    value,
    issuer_tags,
    # makemap's blanks, and what str.split() takes for one that makemap keeps in the key
    st.sampled_from([" ", "\t", "  ", " \t", "\v", "\f", "\xa0", "\x1c", "\u2003", " \xa0"]),
    st.sampled_from(["", " ", "\xa0", "\u3000"]),
)
@example("Connect:10.1", "RELAY", frozenset(), " ", "")
@example("localhost", "OK", frozenset({"localhost"}), " ", "")
@example("Connect:x.example", "ok # no", frozenset(), " ", "")
@example("GreetPause:x.example", "007", frozenset(), " ", "")
@example("TLS_Srv:x.example", "encr:256", frozenset(), " ", "")
def test_parse_entry_matches_the_reference(
    text: str, val: str, tags: frozenset[str], gap: str, tail: str
) -> None:
    line = text + gap + val + tail
    expected = outcome(ref_parse_entry, line, tags)
    assert outcome(parse_entry, line, tags) == expected
    assert outcome(parse_entry, line, tags) == expected  # again, now from the value cache


@settings(**PROFILE)
@given(st.sampled_from([None, *TAGS, "MyCA"]), value, st.booleans())
def test_cached_values_match_canonical_value(tag: str | None, val: str, issuer: bool) -> None:
    expected = outcome(canonical_value, tag, val, issuer)
    for _ in range(2):
        assert outcome(accessmap._cached_value, tag, val, issuer) == expected
