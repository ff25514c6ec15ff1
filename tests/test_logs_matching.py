"""sendmail's access lookups for TLS (compiler/logs/matching.py), each key form against
the order proto.m4's rulesets D (domains), A (addresses) and tls_rcpt try."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import MC, STARTTLS, imported, recompiled, tree
from realtools import SendmailRelease, bt_answers, m4_build, makemap_roundtrip, sendmail_bt
from releases import release

from compiler.logs.matching import (
    AccessTable,
    address_keys,
    domain_keys,
    ipv6_text,
    recipient_keys,
)

__all__ = ["release"]  # a fixture, imported for pytest


def test_domain_keys_whole_labels_parents_and_dot_forms() -> None:
    assert domain_keys("MX1.Sub.Example.COM.") == [
        "mx1.sub.example.com",
        ".sub.example.com",
        "sub.example.com",
        ".example.com",
        "example.com",
        ".com",
        "com",
    ]
    assert domain_keys("[192.0.2.1]")[0] == "[192.0.2.1]"
    assert domain_keys("") == []


def test_ipv4_prefixes_on_octet_boundaries() -> None:
    assert address_keys("[10.1.2.3]") == ["10.1.2.3", "10.1.2", "10.1", "10"]
    assert address_keys("not an address") == []


def test_ipv6_full_form_one_group_at_a_time() -> None:
    keys = address_keys("[IPv6:2001:db8::25]")
    assert keys[0] == "ipv6:2001:db8:0:0:0:0:0:25"
    assert keys[1] == "ipv6:2001:db8:0:0:0:0:0"
    assert keys[-2:] == ["ipv6:2001:db8", "ipv6:2001"]
    assert len(keys) == 8
    assert ipv6_text("2001:DB8::0025") == "2001:db8:0:0:0:0:0:25"
    # an IPv4-mapped address is looked up as IPv4
    assert address_keys("[IPv6:::ffff:192.0.2.7]")[0] == "192.0.2.7"


def test_recipient_keys_user_at_domain_user_at_then_domains() -> None:
    assert recipient_keys("<Alice@Bank.Example>") == [
        "alice@bank.example",
        "alice@",
        "bank.example",
        ".example",
        "example",
    ]
    assert recipient_keys("bob+tag@x.example")[:6] == [
        "bob+tag@x.example",
        "bob+*@x.example",
        "bob@x.example",
        "bob+tag@",
        "bob+*@",
        "bob@",
    ]


TABLE = AccessTable(
    [
        ("TLS_Srv:example.com", "ENCR:128"),
        ("TLS_Srv:bank.example.com", "VERIFY"),
        ("TLS_Srv:.sub.example.org", "VERIFY"),
        ("TLS_Srv:10.1", "ENCR:256"),
        ("TLS_Srv:IPv6:2001:db8", "VERIFY:256"),
        ("TLS_Srv:", "ENCR:112"),
        ("tls_srv:EXAMPLE.com", "ignored: the first of a key wins"),
        ("TLS_Rcpt:alice@bank.example", "VERIFY"),
        ("TLS_Rcpt:postmaster@", "ENCR:128"),
        ("TLS_Rcpt:bank.example", "ENCR:256"),
        ("TLS_Rcpt:", "ENCR:64"),
    ]
)


@pytest.mark.parametrize(
    ("name", "addr", "key"),
    [
        ("mx.example.com", "[192.0.2.1]", "TLS_Srv:example.com"),
        ("example.com", None, "TLS_Srv:example.com"),
        ("mx.bank.example.com", "[10.1.2.3]", "TLS_Srv:bank.example.com"),  # name before addr
        ("notexample.com", "[192.0.2.1]", "TLS_Srv:"),  # whole labels only
        ("sub.example.org", "[192.0.2.1]", "TLS_Srv:"),  # a dot key: sub-domains only
        ("mx.sub.example.org", "[192.0.2.1]", "TLS_Srv:.sub.example.org"),
        ("mx.other.net", "[10.1.2.3]", "TLS_Srv:10.1"),
        ("mx.other.net", "[10.11.2.3]", "TLS_Srv:"),  # 10.1 is not 10.11
        (None, "[IPv6:2001:db8::1]", "TLS_Srv:IPv6:2001:db8"),
        (None, "[IPv6:2001:db9::1]", "TLS_Srv:"),
    ],
)
def test_peer_lookup_name_then_address_then_bare_tag(
    name: str | None, addr: str | None, key: str
) -> None:
    hit = TABLE.peer("TLS_Srv", name, addr)
    assert hit is not None
    assert hit.key == key


def test_keys_fold_case_and_the_first_wins() -> None:
    hit = TABLE.get("TLS_SRV:Example.COM")
    assert hit is not None
    assert hit.value == "ENCR:128"
    assert AccessTable().peer("TLS_Srv", "x.example", "[192.0.2.1]") is None


@pytest.mark.parametrize(
    ("rcpt", "key"),
    [
        ("Alice@bank.example", "TLS_Rcpt:alice@bank.example"),
        ("bob@bank.example", "TLS_Rcpt:bank.example"),
        ("postmaster@bank.example", "TLS_Rcpt:postmaster@"),  # user@ before the domain
        ("bob@mx.bank.example", "TLS_Rcpt:bank.example"),  # parents
        ("bob@elsewhere.example", "TLS_Rcpt:"),
    ],
)
def test_recipient_lookup(rcpt: str, key: str) -> None:
    hit = TABLE.recipient("TLS_Rcpt", rcpt)
    assert hit is not None
    assert hit.key == key


#: address-literal keys (Connect:[192.0.2], TLS_Clt:[IPv6:...]: sendmail's cf/README and
#: FreeBSD's access.sample write them) and the client names they are looked up for: the
#: ${client_name} of a client whose address does not resolve is its literal
LITERAL_MAP = [
    ("TLS_Clt:[192.0.2]", "ENCR:128"),
    ("TLS_Clt:[198.51.100.7]", "ENCR:256"),
    ("TLS_Clt:[IPv6:2001:db8:0:0:0:0:0]", "VERIFY"),
    ("TLS_Clt:[10]", "VERIFY:112"),
]
LITERAL_NAMES = {
    "[192.0.2.1]": "ENCR:128",  # its net, inside the brackets
    "[192.0.2]": "ENCR:128",
    "[198.51.100.7]": "ENCR:256",
    "[198.51.100.8]": None,
    "[10.9.8.7]": "VERIFY:112",
    "[100.9.8.7]": None,  # whole octets: [10] is not [100]
    "[IPv6:2001:db8:0:0:0:0:0:1]": "VERIFY",
    # as written: compressed, it finds no key of the full form tlsc writes (with
    # IPV6_FULL, as Debian builds it, sendmail names the client in full)
    "[IPv6:2001:db8::1]": None,
    "[IPv6:2001:db9:0:0:0:0:0:1]": None,
}


def test_address_literal_names_try_their_prefixes_inside_the_brackets() -> None:
    assert domain_keys("[10.1.2.3]") == ["[10.1.2.3]", "[10.1.2]", "[10.1]", "[10]"]
    assert domain_keys("[IPv6:2001:DB8:0:0:0:0:0:25]")[:2] == [
        "[ipv6:2001:db8:0:0:0:0:0:25]",
        "[ipv6:2001:db8:0:0:0:0:0]",
    ]
    assert domain_keys("[IPv6:2001:db8::25]") == [
        "[ipv6:2001:db8::25]",
        "[ipv6:2001:db8]",
        "[ipv6:2001]",
        "[ipv6]",
    ]
    # "no check is done whether it is an IP number!" (proto.m4)
    assert domain_keys("[not.an.address]") == ["[not.an.address]", "[not.an]", "[not]"]
    table = AccessTable(LITERAL_MAP)
    for name, value in LITERAL_NAMES.items():
        hit = table.peer("TLS_Clt", name, None)
        assert (hit.value if hit else None) == value, name
        # logged with no name (`relay=[192.0.2.1]`): sendmail names the peer so
        hit = table.peer("TLS_Clt", None, name)
        assert (hit.value if hit else None) == value, name
    # a name it has comes first, and the address's own keys after the literal's
    assert table.peer("TLS_Clt", "mx.example", "[192.0.2.1]") is None
    assert AccessTable([("TLS_Clt:192.0.2", "ENCR:64")]).peer("TLS_Clt", None, "[192.0.2.1]") == (
        "TLS_Clt:192.0.2",
        "ENCR:64",
    )


@pytest.mark.realtools
def test_address_literal_lookups_are_sendmails(tmp_path: Path, release: SendmailRelease) -> None:
    """What ruleset D of the real sendmail finds for each literal name is what the
    what-if's table finds (they were looked up as names with no prefixes)."""
    files = recompiled(imported(tree(tmp_path / "host", "Connect:127\tRELAY\n"))).hosts["h1"]
    bt = tmp_path / "bt"
    (bt / "etc-mail").mkdir(parents=True)
    rc, cf, err = m4_build(files[MC], files[STARTTLS], bt, release)
    assert rc == 0, err
    (bt / "bt.cf").write_text(cf, encoding="utf-8")
    access = "".join(f"{key}\t{value}\n" for key, value in LITERAL_MAP)
    assert makemap_roundtrip(access, bt / "etc-mail", release)[0] == 0
    lookups = "".join(f"D <{name}> <?> <! TLS_Clt> <>\n" for name in LITERAL_NAMES)
    done = sendmail_bt(release, bt / "bt.cf", ("-d0.1",), lookups)
    answers = bt_answers(done.stdout)
    table = AccessTable(LITERAL_MAP)
    ours = []
    for name in LITERAL_NAMES:
        hit = table.peer("TLS_Clt", name, None)
        ours.append(hit.value if hit else "?")
    assert answers == ours, done.stdout
