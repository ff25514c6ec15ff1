"""compiler/sendmail/names.py: the exact text sendmail compares for domains, IPs and recipients."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.sendmail import names

# -- domains -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("example.com", "example.com"),
        ("Example.COM", "example.com"),
        ("MX1.Sub.Example.Com", "mx1.sub.example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("_dmarc.example.com", "_dmarc.example.com"),
        ("a-b.example", "a-b.example"),
        ("localhost", "localhost"),
    ],
)
def test_parse_domain_normalises(written: str, key: str) -> None:
    assert names.parse_domain(written) == key


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("", "cannot be empty"),
        (".example.com", "starts with a dot; write 'example.com'"),
        ("example.com.", "ends with a dot; write 'example.com'"),
        ("bad domain.com", "cannot contain a space"),
        ("x\ny.com", "cannot contain a newline"),
        ("x\ty.com", "cannot contain a tab"),
        ("ex`ample.com", "cannot contain a back-tick"),
        ("it's.com", "cannot contain an apostrophe"),
        ('a"b.com', "cannot contain a double quote"),
        ("a#b.com", "cannot contain a '#'"),
        ("a%b.com", "cannot contain a '%'"),
        ("a\\b.com", "cannot contain a backslash"),
        ("a\x00b.com", "cannot contain the control character U+0000"),
        ("-bad.com", "(bad label '-bad')"),
        ("bad-.com", "(bad label 'bad-')"),
        ("a..com", "(bad label '')"),
        ("a" * 64 + ".com", "bad label"),
        ("[192.0.2.1]", "(bad label '[192')"),
        (".".join(["abcdefghi"] * 26), "longer than 253 characters"),
        ("example.123", "last label is a number"),
    ],
)
def test_parse_domain_refuses(written: str, words: str) -> None:
    with pytest.raises(ValueError) as err:
        names.parse_domain(written)
    assert words in str(err.value)


# -- IDNA 2008 (UTS #46, non-transitional) -------------------------------------------
# IDNA 2003 (Python's "idna" codec, used before) wrote 'straße.de' as 'strasse.de',
# another domain, dropped a zero-width joiner and took any 'xn--' label as it was.


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("straße.de", "xn--strae-oqa.de"),
        ("STRASSE.de", "strasse.de"),
        ("Straße.DE", "xn--strae-oqa.de"),
        ("XN--bcher-kva.de", "xn--bcher-kva.de"),
        ("xn--strae-oqa.de", "xn--strae-oqa.de"),
        # a joiner where CONTEXTJ allows it (after a virama) is kept, not dropped
        ("\u0915\u094d\u200d\u0937.in", "xn--11b2ezcw70k.in"),
        # UTS #46 maps the ideographic full stop to a dot, the Kelvin sign to 'k'
        ("bücher\u3002de", "xn--bcher-kva.de"),
        ("ab\u212a.com", "abk.com"),
        # plain ASCII labels next to an IDNA one keep what IDNA 2008 would refuse
        ("_dmarc.bücher.de", "_dmarc.xn--bcher-kva.de"),
        ("mx1.example.com", "mx1.example.com"),
        ("_dmarc.example.com", "_dmarc.example.com"),
    ],
)
def test_idna_2008(written: str, key: str) -> None:
    assert names.parse_domain(written) == key


@pytest.mark.parametrize(
    ("written", "words"),
    [
        (
            "a\u200db.com",
            "'a\\u200db.com' is not a valid internationalised domain name under IDNA 2008"
            " (Joiner U+200D not allowed",
        ),
        ("a\u200cb.com", "Joiner U+200C not allowed"),
        ("xn--zz.example.com", "'xn--zz.example.com' is not a valid internationalised domain"),
        ("mx.XN--ZZ.example.com", "Invalid A-label"),
        ("xn--ls8h.la", "Codepoint U+1F4A9"),
    ],
)
def test_idna_2008_refuses(written: str, words: str) -> None:
    with pytest.raises(ValueError) as err:
        names.parse_domain(written)
    assert words in str(err.value)
    assert str(err.value).count(". ") == 0


#: letters that look like Latin ones (or like each other), of the scripts names.py checks
_LOOKALIKES = {
    "\u0430": "Cyrillic",  # а
    "\u0435": "Cyrillic",  # е
    "\u0440": "Cyrillic",  # р
    "\u03bf": "Greek",  # ο
    "\u03b1": "Greek",  # α
    "\u057d": "Armenian",  # ս
    "\u13aa": "Cherokee",  # Ꭺ
}


@pytest.mark.parametrize("char", list(_LOOKALIKES), ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("at", [0, 2, 6])
@pytest.mark.parametrize(
    "parse", [names.parse_domain, names.parse_peer, lambda t: names.parse_recipient("a@" + t)]
)
def test_a_label_mixing_lookalike_scripts_is_refused(char: str, at: int, parse: Any) -> None:
    """`exаmple.com` with a Cyrillic а is a valid IDNA name, and not example.com: a rule
    for it would not cover the name a reviewer reads in the diff."""
    label = "example"[:at] + char + "example"[at + 1 :]
    with pytest.raises(ValueError) as err:
        parse(f"mx.{label}.com")
    message = str(err.value)
    scripts = {"Latin", _LOOKALIKES[char]}
    said = re.search(r"mixes (\w+) and (\w+) letters in the label '([^']*)'", message)
    assert said is not None and set(said.groups()[:2]) == scripts, message
    assert message.endswith("it is another name than the one it looks like; write each label in"
                            " one script")  # fmt: skip


@pytest.mark.parametrize(
    "written",
    [
        "\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",  # пример.рф: one script
        "\u03b1\u03b2\u03b3.gr",  # αβγ.gr
        "\u0430\u0435.example.com",  # a Cyrillic label beside Latin ones
        "\u65e5\u672cabc.jp",  # CJK with Latin
        "b\u00fccher.de",
        "xn--exmple-4nf.com",  # the A-label of a mixed one, written so: what the diff shows
        "ab\u212a.com",  # the Kelvin sign is mapped to k
    ],
)
def test_labels_of_one_lookalike_script_pass(written: str) -> None:
    assert names.parse_domain(written)


def test_cyrillic_beside_greek_is_refused_too() -> None:
    with pytest.raises(ValueError, match="mixes Cyrillic and Greek letters"):
        names.parse_domain("\u0430\u03b1.com")


def test_ascii_names_do_not_load_idna() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from compiler.sendmail import names;"
        " names.parse_domain('Mx1.Example.com'); names.parse_recipient('a@b.example');"
        " names.parse_peer('_dmarc.example.com');"
        " print('idna' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_parse_domain_trailing_newline_is_refused() -> None:
    # `$` in a Python regex also matches before a final newline; names must not.
    with pytest.raises(ValueError, match="cannot contain a newline"):
        names.parse_domain("example.com\n")


def test_parse_hostname_is_a_domain() -> None:
    assert names.parse_hostname("MX1.Example.NET") == "mx1.example.net"
    with pytest.raises(ValueError, match="bad label"):
        names.parse_hostname("mx_1..example.net")


# -- IPv4 --------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["127", "10.1", "192.0.2", "192.0.2.10", "0", "255.255.255.255"])
def test_ipv4_prefix_on_octet_boundary_is_kept(prefix: str) -> None:
    assert names.parse_ipv4_prefix(prefix) == prefix
    assert names.parse_peer(prefix) == prefix


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("10.0.0.0/8", "sendmail does not understand CIDR"),
        ("192.0.2.0/24", "e.g. '10.1' for 10.1.0.0/16"),
        ("10.0.0.", "ends with a dot, which never matches; write '10.0.0'"),
        ("127.", "write '127'"),
        ("192.0.2.300", "has an octet larger than 255"),
        ("256", "has an octet larger than 255"),
        ("010.1", "leading zero"),
        ("10.01.2", "leading zero"),
        ("10.1.2.3\n", "is not an IPv4 address or prefix"),
    ],
)
def test_ipv4_prefix_refuses(written: str, words: str) -> None:
    with pytest.raises(ValueError) as err:
        names.parse_ipv4_prefix(written)
    assert words in str(err.value)


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("10.0.0.0/8", "CIDR"),
        ("10.0.0.", "ends with a dot"),
        ("192.0.2.300", "octet larger than 255"),
        ("1.2.3.4.5", "last label is a number"),
    ],
)
def test_parse_peer_refuses_bad_ipv4(written: str, words: str) -> None:
    with pytest.raises(ValueError) as err:
        names.parse_peer(written)
    assert words in str(err.value)


# -- IPv6 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "key"),
    [
        # sendmail (IPV6_FULL, as Debian builds it) compares uncompressed groups
        ("IPv6:2001:DB8:0:0::1", "IPv6:2001:db8:0:0:0:0:0:1"),
        ("IPv6:2001:0db8:0000:0000:0000:0000:0000:0001", "IPv6:2001:db8:0:0:0:0:0:1"),
        ("ipv6:2001:db8::1", "IPv6:2001:db8:0:0:0:0:0:1"),
        ("IPV6:::1", "IPv6:0:0:0:0:0:0:0:1"),
        ("IPv6:fe80::1:0:0:0", "IPv6:fe80:0:0:0:1:0:0:0"),
        ("IPv6:2001:0db8", "IPv6:2001:db8"),
        ("IPv6:2001:DB8:00AB", "IPv6:2001:db8:ab"),
        ("IPv6:fe80", "IPv6:fe80"),
    ],
)
def test_ipv6_normalisation(written: str, key: str) -> None:
    assert names.parse_ipv6(written) == key
    assert names.parse_peer(written) == key


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("2001:db8::1", "must start with 'IPv6:'"),
        ("IPv6:2001:db8:", "is not an IPv6 address or prefix of colon groups"),
        ("IPv6:2001:db8\n", "is not an IPv6 address or prefix of colon groups"),
        ("IPv6:12345::1", "is not an IPv6 address"),
        ("IPv6:g::1", "is not an IPv6 address"),
        ("IPv6:2001:db8::", "ends with '::'; sendmail compares uncompressed addresses"),
        ("IPv6:::", "ends with '::'"),
        ("IPv6:::ffff:192.0.2.1", "sendmail looks up as 192.0.2.1; write '192.0.2.1'"),
    ],
)
def test_ipv6_refuses(written: str, words: str) -> None:
    with pytest.raises(ValueError) as err:
        names.parse_ipv6(written)
    assert words in str(err.value)


def test_bare_ipv6_peer_suggests_the_prefix() -> None:
    with pytest.raises(ValueError) as err:
        names.parse_peer("2001:db8::1")
    assert str(err.value) == "'2001:db8::1' is an IPv6 address; write 'IPv6:2001:db8::1'"


def test_peer_with_a_colon_that_is_no_address() -> None:
    with pytest.raises(ValueError) as err:
        names.parse_peer("mail:example.com")
    assert "is not a domain, an IPv4 prefix or an 'IPv6:' address" in str(err.value)


def test_peer_star_is_the_bare_tag() -> None:
    assert names.parse_peer("*") == ""
    assert names.parse_recipient("*") == ""


def test_peer_domain_goes_through_idna() -> None:
    assert names.parse_peer("Bücher.DE") == "xn--bcher-kva.de"


# -- recipients --------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("user@example.com", "user@example.com"),
        ("user@Example.COM", "user@example.com"),
        ("darth+tls@bücher.de", "darth+tls@xn--bcher-kva.de"),
        ("postmaster@", "postmaster@"),
        ("example.com", "example.com"),
        ("Example.ORG", "example.org"),
        ("first.last@example.com", "first.last@example.com"),
    ],
)
def test_recipient_forms(written: str, key: str) -> None:
    assert names.parse_recipient(written) == key


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("@example.com", "'@example.com' has no local part before the '@'"),
        ("us er@example.com", "the local part of 'us er@example.com' cannot contain a space"),
        ("user\n@example.com", "cannot contain a newline"),
        ("a@b@example.com", "cannot contain '@'"),
        ("it's@example.com", "cannot contain an apostrophe"),
        (".user@example.com", "misplaced dot in its local part"),
        ("user.@example.com", "misplaced dot"),
        ("us..er@example.com", "misplaced dot"),
        ("user@bad..dom", "'bad..dom' is not a valid domain name (bad label '')"),
        ("user@example.com.", "ends with a dot"),
    ],
)
def test_recipient_refuses(written: str, words: str) -> None:
    with pytest.raises(ValueError) as err:
        names.parse_recipient(written)
    assert words in str(err.value)


# -- addresses and helpers ---------------------------------------------------


@pytest.mark.parametrize(
    ("written", "address"),
    [("192.0.2.10", "192.0.2.10"), ("2001:DB8::0:1", "2001:db8::1")],
)
def test_parse_address(written: str, address: str) -> None:
    assert names.parse_address(written) == address


@pytest.mark.parametrize("written", ["192.0.2.300", "192.0.2.", "192.0.2", "10.0.0.0/8", "x"])
def test_parse_address_refuses(written: str) -> None:
    with pytest.raises(ValueError) as err:
        names.parse_address(written)
    assert str(err.value) == f"'{written}' is not an IP address"


def test_describe_char_and_first_unsafe() -> None:
    assert names.describe_char(" ") == "a space"
    assert names.describe_char("\x7f") == "the control character U+007F"
    assert names.describe_char("x") == "'x'"
    assert names.first_unsafe("abc def`") == " "
    assert names.first_unsafe("abc.def") is None


@pytest.mark.parametrize(
    ("char", "said"),
    [
        ("\u202e", "the character U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("\u200b", "the character U+200B (ZERO WIDTH SPACE)"),
        ("\ufeff", "the character U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
        ("\u00a0", "the character U+00A0 (NO-BREAK SPACE)"),
        ("\u3000", "the character U+3000 (IDEOGRAPHIC SPACE)"),
        ("\u0301", "the character U+0301 (COMBINING ACUTE ACCENT)"),
        ("\u20dd", "the character U+20DD (COMBINING ENCLOSING CIRCLE)"),
        ("\ue000", "the character U+E000"),  # private use: no name
        ("\U000e0041", "the character U+E0041 (TAG LATIN CAPITAL LETTER A)"),
        ("\u0378", "the character U+0378"),  # unassigned
        ("\ud800", "the character U+D800"),  # a surrogate (surrogateescape, JSON)
        ("é", "'é'"),
        ("\u00c4", "'\u00c4'"),
    ],
)
def test_describe_char_names_a_character_a_quote_would_not_show(char: str, said: str) -> None:
    """Quoted alone, a zero-width, bidi, blank or combining character showed as '' (or
    reversed the line, or sat on the quote): it is named by its code point instead."""
    assert names.describe_char(char) == said


def _ipv6_by_ipaddress(rest: str) -> str | None:
    """What parse_ipv6 gave for `IPv6:rest` before its fast path (None: refused)."""
    saved = names._expanded
    names._expanded = lambda rest: None  # type: ignore[assignment]
    try:
        return names.parse_ipv6("IPv6:" + rest)
    except ValueError:
        return None
    finally:
        names._expanded = saved  # type: ignore[assignment]


@given(
    st.text(alphabet="0123456789abcdefABCDEF:::.%xg", max_size=45)
    | st.lists(st.text(alphabet="0123456789abcdefABCDEF", max_size=5), min_size=1, max_size=9).map(
        ":".join
    )
    | st.lists(st.integers(0, 0xFFFF).map("{:x}".format), min_size=0, max_size=8).flatmap(
        lambda groups: st.integers(0, len(groups)).map(
            lambda k: ":".join(groups[:k]) + "::" + ":".join(groups[k:])
        )
    )
)
@settings(max_examples=1500, deadline=None)
def test_compressed_ipv6_fast_path_is_ipaddress(rest: str) -> None:
    fast = names._expanded(rest)
    if fast is not None:
        assert fast == _ipv6_by_ipaddress(rest)
        assert names.parse_ipv6("IPv6:" + rest) == fast


def test_compressed_ipv6_fast_path_takes_the_usual_keys() -> None:
    assert names._expanded("2001:db8:ad5a::cbcc") == "IPv6:2001:db8:ad5a:0:0:0:0:cbcc"
    assert names._expanded("::1") == "IPv6:0:0:0:0:0:0:0:1"
    for other in ("::ffff:1.2.3.4", "::ffff:102:304", "1::", "1:2:3:4:5:6::7", "fe80::1%eth0"):
        assert names._expanded(other) is None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["*", "Example.COM", "10.1", "IPv6:::1", "a..b", "x@", ""])
        | st.text(max_size=20),
        max_size=6,
    )
)
def test_remembered_keys_read_as_read_afresh(texts: list[str]) -> None:
    """parse_peer and parse_recipient remember what they gave: the same answer, and the
    same refusal every time, as reading the key afresh."""
    for parse in (names.parse_peer, names.parse_recipient):
        for text in texts * 2:
            try:
                want: str | Exception = parse.__wrapped__(text)
            except ValueError as exc:
                want = exc
            if isinstance(want, Exception):
                with pytest.raises(ValueError, match=re.escape(str(want))):
                    parse(text)
            else:
                assert parse(text) == want
