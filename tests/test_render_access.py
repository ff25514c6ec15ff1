"""The access file renderer, rule by rule, as README.md explains them.

Each test compiles a small spec and looks at the exact lines of the host's
access file (`KEY<TAB>VALUE`, LF endings). The real-makemap check of the
same bytes is in test_realtools.py.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from realtools import compile_dict, entry_lines, render, spec

from compiler.sendmail.xtext import unxtext, xtext

ACCESS = "/etc/mail/access"


def lines(data: dict[str, Any], host: str = "h1") -> list[str]:
    return entry_lines(render(data, host)[ACCESS])


def domain_lines(rule: dict[str, Any], key: str = "peer.example.com", **top: Any) -> list[str]:
    return lines(spec(domains={key: rule}, **top))


# -- outbound (TLS_Srv / Try_TLS) --------------------------------------------


def test_outbound_starttls_false_is_try_tls_no() -> None:
    assert domain_lines({"outbound": {"starttls": False}}) == ["Try_TLS:peer.example.com\tNO"]


@pytest.mark.parametrize("rule", [{"outbound": "may"}, {"outbound": {"require": "may"}}, {}])
def test_outbound_may_or_absent_writes_no_line(rule: dict[str, Any]) -> None:
    assert domain_lines(rule) == []


def test_outbound_encrypt_defaults_to_128_bits() -> None:
    assert domain_lines({"outbound": "encrypt"}) == ["TLS_Srv:peer.example.com\tENCR:128"]
    assert domain_lines({"outbound": {"require": "encrypt"}}) == [
        "TLS_Srv:peer.example.com\tENCR:128"
    ]


def test_outbound_encrypt_with_min_bits() -> None:
    assert domain_lines({"outbound": {"require": "encrypt", "min_bits": 256}}) == [
        "TLS_Srv:peer.example.com\tENCR:256"
    ]


def test_outbound_verify() -> None:
    assert domain_lines({"outbound": "verify"}) == ["TLS_Srv:peer.example.com\tVERIFY"]


def test_outbound_verify_with_bits() -> None:
    assert domain_lines({"outbound": {"require": "verify", "min_bits": 112}}) == [
        "TLS_Srv:peer.example.com\tVERIFY:112"
    ]


# -- inbound (TLS_Clt, Srv_Features) -------------------------------------------


def test_inbound_encrypt_is_tls_clt() -> None:
    assert domain_lines({"inbound": "encrypt"}) == ["TLS_Clt:peer.example.com\tENCR:128"]
    assert domain_lines({"inbound": {"require": "encrypt", "min_bits": 112}}) == [
        "TLS_Clt:peer.example.com\tENCR:112"
    ]


def test_inbound_verify_without_client_cert_request_adds_srv_features_v() -> None:
    """Debian's TLSSrvOptions=V never asks for a cert: `Srv_Features:KEY v` asks this peer."""
    assert domain_lines({"inbound": {"require": "verify", "min_bits": 112}}) == [
        "TLS_Clt:peer.example.com\tVERIFY:112",
        "Srv_Features:peer.example.com\tv",
    ]


def test_inbound_verify_with_client_cert_request_has_no_srv_features() -> None:
    got = domain_lines({"inbound": "verify"}, defaults={"tls": {"request_client_cert": True}})
    assert got == ["TLS_Clt:peer.example.com\tVERIFY"]


def test_inbound_encrypt_never_adds_srv_features() -> None:
    assert not any(x.startswith("Srv_Features") for x in domain_lines({"inbound": "encrypt"}))


def test_inbound_starttls_false_turns_starttls_off_for_that_client() -> None:
    assert domain_lines({"inbound": {"starttls": False}}) == ["Srv_Features:peer.example.com\tS"]


def test_srv_features_v_follows_each_hosts_request_client_cert() -> None:
    data = spec(
        hosts={
            "asks": {"fqdn": "asks.example.net", "tls": {"request_client_cert": True}},
            "plain": {"fqdn": "plain.example.net"},
        },
        domains={"laptop.example.com": {"inbound": "verify"}},
    )
    assert lines(data, "asks") == ["TLS_Clt:laptop.example.com\tVERIFY"]
    assert lines(data, "plain") == [
        "TLS_Clt:laptop.example.com\tVERIFY",
        "Srv_Features:laptop.example.com\tv",
    ]


def test_both_directions_for_one_key() -> None:
    assert domain_lines({"outbound": "verify", "inbound": "encrypt"}) == [
        "TLS_Srv:peer.example.com\tVERIFY",
        "TLS_Clt:peer.example.com\tENCR:128",
    ]


# -- failure codes and certificate checks --------------------------------------


@pytest.mark.parametrize(("on_failure", "prefix"), [("permanent", "PERM+"), ("temporary", "TEMP+")])
def test_on_failure_prefix(on_failure: str, prefix: str) -> None:
    for require, base in (("encrypt", "ENCR:128"), ("verify", "VERIFY")):
        got = domain_lines({"outbound": {"require": require, "on_failure": on_failure}})
        assert got == [f"TLS_Srv:peer.example.com\t{prefix}{base}"]


def test_on_failure_default_has_no_prefix() -> None:
    assert domain_lines({"outbound": "verify"})[0].endswith("\tVERIFY")


@pytest.mark.parametrize(
    ("checks", "suffix"),
    [
        ({"cn": True}, "+CN"),
        ({"cn": "mx.peer.example.com"}, "+CN:mx.peer.example.com"),
        ({"cn": False}, ""),
        (
            {"subject": "/C=US/O=Peer/CN=mx.peer.example.com"},
            "+CS:/C=US/O=Peer/CN=mx.peer.example.com",
        ),
        ({"issuer": "/C=US/O=Peer CA/CN=Root"}, "+CI:/C=US/O=Peer+20CA/CN=Root"),
        ({"issuer_tag": "MyCA"}, "+CITag:MyCA"),
    ],
)
def test_each_certificate_check(checks: dict[str, Any], suffix: str) -> None:
    data = spec(
        domains={"peer.example.com": {"outbound": {"require": "verify", **checks}}},
        issuer_tags={"MyCA": ["/CN=My CA"]},
    )
    assert lines(data)[0] == f"TLS_Srv:peer.example.com\tVERIFY{suffix}"


def test_certificate_checks_are_joined_with_double_plus_in_a_fixed_order() -> None:
    rule = {
        # written in the opposite order on purpose
        "issuer_tag": "MyCA",
        "issuer": "/O=Issuer",
        "subject": "/O=Subject",
        "cn": True,
        "min_bits": 112,
        "on_failure": "permanent",
        "require": "verify",
    }
    data = spec(domains={"p.example": {"inbound": rule}}, issuer_tags={"MyCA": ["/CN=x"]})
    assert lines(data)[:2] == [
        "TLS_Clt:p.example\tPERM+VERIFY:112+CN++CS:/O=Subject++CI:/O=Issuer++CITag:MyCA",
        "Srv_Features:p.example\tv",
    ]


def test_encrypt_can_carry_certificate_checks() -> None:
    got = domain_lines({"outbound": {"require": "encrypt", "min_bits": 112, "cn": "smtp.x.org"}})
    assert got == ["TLS_Srv:peer.example.com\tENCR:112+CN:smtp.x.org"]


# -- keys ----------------------------------------------------------------------


def test_star_key_is_the_bare_tag() -> None:
    data = spec(domains={"*": {"outbound": "encrypt", "inbound": {"starttls": False}}})
    assert lines(data) == ["TLS_Srv:\tENCR:128", "Srv_Features:\tS"]
    data = spec(domains={"*": {"outbound": {"starttls": False}, "inbound": "verify"}})
    assert lines(data) == ["Try_TLS:\tNO", "TLS_Clt:\tVERIFY", "Srv_Features:\tv"]


def test_star_may_writes_nothing() -> None:
    assert lines(spec(domains={"*": {"outbound": "may"}})) == []


@pytest.mark.parametrize(
    ("key", "written"),
    [
        ("Secure.Example.COM", "secure.example.com"),
        ("192.0.2", "192.0.2"),
        ("10", "10"),
        ("192.0.2.25", "192.0.2.25"),
        ("IPv6:2001:DB8:0:0:0:0:0:1", "IPv6:2001:db8:0:0:0:0:0:1"),
        ("IPv6:2001:db8::1", "IPv6:2001:db8:0:0:0:0:0:1"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_domain_keys_are_written_as_sendmail_matches_them(key: str, written: str) -> None:
    assert domain_lines({"outbound": "encrypt"}, key=key) == [f"TLS_Srv:{written}\tENCR:128"]


def test_domain_rules_are_sorted_by_key_with_the_bare_tag_first() -> None:
    data = spec(
        domains={
            "zeta.example": {"outbound": "encrypt"},
            "*": {"outbound": "encrypt"},
            "alpha.example": {"outbound": "encrypt"},
            "192.0.2": {"outbound": "encrypt"},
        }
    )
    assert [x.split("\t")[0] for x in lines(data)] == [
        "TLS_Srv:",
        "TLS_Srv:192.0.2",
        "TLS_Srv:alpha.example",
        "TLS_Srv:zeta.example",
    ]


# -- TLS_Rcpt ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "written"),
    [
        ("darth@endmail.org", "darth@endmail.org"),
        ("darth@", "darth@"),
        ("endmail.org", "endmail.org"),
        ("darth@EndMail.ORG", "darth@endmail.org"),
        ("*", ""),
    ],
)
def test_tls_rcpt_keys(key: str, written: str) -> None:
    data = spec(recipients={key: {"require": "encrypt", "min_bits": 112}})
    assert lines(data) == [f"TLS_Rcpt:{written}\tENCR:112"]


def test_tls_rcpt_full_requirement() -> None:
    data = spec(
        recipients={
            "darth@endmail.org": {"require": "encrypt", "min_bits": 112, "cn": "smtp.endmail.org"},
            "ops@": "verify",
        }
    )
    assert lines(data) == [
        "TLS_Rcpt:darth@endmail.org\tENCR:112+CN:smtp.endmail.org",
        "TLS_Rcpt:ops@\tVERIFY",
    ]


def test_tls_rcpt_never_adds_srv_features() -> None:
    data = spec(recipients={"a@b.example": "verify"})
    assert lines(data) == ["TLS_Rcpt:a@b.example\tVERIFY"]


# -- issuer tags and xtext -----------------------------------------------------


def test_issuer_tag_lines_are_tag_colon_xtext_dn_ok() -> None:
    data = spec(
        issuer_tags={
            "MyCA": ["/C=US/ST=CA/O=safe/CN=example.net/", "/O=Second CA/CN=Root (2)"],
            "Alpha": ["/CN=alpha"],
        }
    )
    assert lines(data) == [
        "Alpha:/CN=alpha\tOK",
        "MyCA:/C=US/ST=CA/O=safe/CN=example.net/\tOK",
        "MyCA:/O=Second+20CA/CN=Root+20+282+29\tOK",
    ]


@pytest.mark.parametrize(
    ("natural", "encoded"),
    [
        ("/O=Example Corp", "/O=Example+20Corp"),
        ("/CN=a+b", "/CN=a+2Bb"),
        ("/CN=x(y)", "/CN=x+28y+29"),
        ("/CN=<q>", "/CN=+3Cq+3E"),
        ('/CN="q"', "/CN=+22q+22"),
        ("/CN=back\\slash", "/CN=back+5Cslash"),
        # OpenSSL's X509_NAME_oneline, which sendmail calls before xtextify, writes a
        # byte outside ' '..'~' as \xHH; xtext then encodes the backslash
        ("/CN=tab\there", "/CN=tab+5Cx09here"),
        ("/O=Société", "/O=Soci+5CxC3+5CxA9t+5CxC3+5CxA9"),
        ("/O=東京", "/O=+5CxE6+5Cx9D+5CxB1+5CxE4+5CxBA+5CxAC"),
        ("/CN=plain.example/emailAddress=a@b", "/CN=plain.example/emailAddress=a@b"),
    ],
)
def test_xtext_encoding(natural: str, encoded: str) -> None:
    assert xtext(natural) == encoded
    assert unxtext(encoded) == natural


def test_xtext_reaches_the_access_file_in_subject_issuer_and_tag_lines() -> None:
    dn = "/C=DE/O=Société (Test+1)/CN=Root CA"
    enc = "/C=DE/O=Soci+5CxC3+5CxA9t+5CxC3+5CxA9+20+28Test+2B1+29/CN=Root+20CA"
    data = spec(
        domains={"p.example": {"outbound": {"require": "verify", "subject": dn, "issuer": dn}}},
        issuer_tags={"Tag": [dn]},
    )
    assert lines(data) == [
        f"TLS_Srv:p.example\tVERIFY+CS:{enc}++CI:{enc}",
        f"Tag:{enc}\tOK",
    ]


def _sendmail_xtextify(raw: bytes) -> str:
    """sendmail's xtextify(buf, "<>\\")"), written independently of compiler.sendmail.xtext."""
    return "".join(
        f"+{b:02X}" if b < 0x21 or b > 0x7E or chr(b) in '+\\()<>"' else chr(b) for b in raw
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")
def test_xtext_is_what_sendmail_makes_of_a_real_certificate_name(tmp_path: Path) -> None:
    """sendmail's ${cert_subject} is xtextify(X509_NAME_oneline(subject)); the compat
    name option prints X509_NAME_oneline, non-ASCII bytes as \\xHH."""
    natural = "/C=DE/O=Bücher & Söhne (Test)/CN=mx.example"
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-utf8", "-days", "1",
         "-subj", natural, "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    shown = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-subject", "-nameopt", "compat"],
        check=True, capture_output=True,
    ).stdout.strip()  # fmt: skip
    oneline = shown.removeprefix(b"subject=")
    assert b"\\xC3\\xBC" in oneline
    assert xtext(natural) == _sendmail_xtextify(oneline)


# -- user entries, sections, order ------------------------------------------------


def test_user_entries_come_first_in_the_order_written_and_canonical() -> None:
    data = spec(
        access=["Connect:192.0.2 reject", "connect:127 relay", "GreetPause:127 0"],
        domains={"a.example": {"outbound": "encrypt"}},
        recipients={"u@a.example": "verify"},
        issuer_tags={"T": ["/CN=t"]},
    )
    assert lines(data) == [
        "Connect:192.0.2\tREJECT",
        "Connect:127\tRELAY",
        "GreetPause:127\t0",
        "TLS_Srv:a.example\tENCR:128",
        "TLS_Rcpt:u@a.example\tVERIFY",
        "T:/CN=t\tOK",
    ]


def test_sections_are_introduced_by_comments() -> None:
    data = spec(
        access=["Connect:127 RELAY"],
        domains={"a.example": {"outbound": "encrypt"}},
        recipients={"u@a.example": "verify"},
        issuer_tags={"T": ["/CN=t"]},
    )
    text = render(data)[ACCESS]
    comments = [x for x in text.split("\n") if x.startswith("#")]
    assert comments[3:] == [
        "# access: entries",
        "# domains: TLS rules per peer",
        "# recipients: TLS rules per recipient (TLS_Rcpt)",
        "# issuer_tags: certificate issuers for CITag checks",
    ]


def test_a_section_without_entries_has_no_comment() -> None:
    text = render(spec(domains={"a.example": {"outbound": "encrypt"}}))[ACCESS]
    assert "# access: entries" not in text
    assert "# recipients" not in text


def test_never_a_clt_features_line() -> None:
    data = spec(
        domains={
            "a.example": {"outbound": {"starttls": False}, "inbound": {"starttls": False}},
            "*": {"outbound": {"starttls": False}},
        }
    )
    assert not any(x.startswith("Clt_Features") for x in lines(data))


# -- file shape ------------------------------------------------------------------


def full_spec() -> dict[str, Any]:
    return spec(
        access=["Connect:127 RELAY"],
        domains={"a.example": {"outbound": "encrypt"}, "*": {"inbound": "verify"}},
        recipients={"u@a.example": "verify"},
        issuer_tags={"T": ["/CN=t"]},
    )


def test_header_names_the_spec_file_and_host_without_a_timestamp() -> None:
    text = render(full_spec(), source="specs/prod-cluster.yaml")[ACCESS]
    head = text.split("\n")[:3]
    assert head == [
        "# access for host h1 (h1.example.net).",
        "# Generated by tlsc from prod-cluster.yaml; do not edit this file:",
        "# change the spec and run tlsc apply.",
    ]
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}", "\n".join(head))


def test_the_file_ends_with_one_newline_and_has_lf_only() -> None:
    text = render(full_spec())[ACCESS]
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "\r" not in text
    assert all(line == line.strip(" ") for line in text.split("\n"))


def test_an_empty_access_file_is_just_the_header() -> None:
    text = render(spec())[ACCESS]
    assert entry_lines(text) == []
    assert text.count("\n") == 3


def test_same_bytes_in_any_order_of_keys() -> None:
    data = full_spec()
    data["domains"] = {f"d{i}.example": {"outbound": "encrypt"} for i in range(8)}
    first = render(data)
    rng = random.Random(7)
    for _ in range(5):
        items = list(data.items())
        rng.shuffle(items)
        shuffled = dict(items)
        doms = list(data["domains"].items())
        rng.shuffle(doms)
        shuffled["domains"] = dict(doms)
        assert render(shuffled) == first


def test_ownership_block_wraps_the_text_in_markers() -> None:
    plain = render(full_spec())[ACCESS]
    data = full_spec()
    data["defaults"] = {"ownership": "block"}
    block = render(data)[ACCESS]
    assert block == "# BEGIN tlsc\n" + plain + "# END tlsc\n"


def test_ownership_block_per_host() -> None:
    data = full_spec()
    data["hosts"]["h2"] = {"fqdn": "h2.example.net", "ownership": "block"}
    result = compile_dict(data)
    assert result.ok
    assert not result.hosts["h1"][ACCESS].startswith("# BEGIN tlsc")
    h2 = result.hosts["h2"][ACCESS]
    assert h2.startswith("# BEGIN tlsc\n") and h2.endswith("# END tlsc\n")
    assert h2.count("# BEGIN tlsc") == 1 and h2.count("# END tlsc") == 1


def test_access_path_follows_paths_access() -> None:
    data = spec(defaults={"paths": {"access": "/srv/mail/access"}})
    files = render(data)
    assert "/srv/mail/access" in files and ACCESS not in files


# -- regressions -----------------------------------------------------------------


def test_cn_name_is_written_as_the_certificate_carries_it() -> None:
    """IDNA A-label, lower case: `cn: Bücher.Example` as typed would never match."""
    got = domain_lines({"outbound": {"require": "verify", "cn": "Bücher.Example"}})
    assert got == ["TLS_Srv:peer.example.com\tVERIFY+CN:xn--bcher-kva.example"]


def test_percent_in_a_certificate_name_is_doubled_in_values_not_in_keys() -> None:
    """sendmail rewrites access values (%1 is a map argument, %% a literal %); keys are not."""
    dn = "/O=100%1 Corp"
    data = spec(
        domains={"p.example": {"outbound": {"require": "verify", "subject": dn, "issuer": dn}}},
        issuer_tags={"T": [dn]},
    )
    assert lines(data) == [
        "TLS_Srv:p.example\tVERIFY+CS:/O=100%%1+20Corp++CI:/O=100%%1+20Corp",
        "T:/O=100%1+20Corp\tOK",
    ]
