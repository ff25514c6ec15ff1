"""compiler/probe/certinfo.py, result.py and targets.py: pure functions, no network."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from throwaway_ca import ThrowawayCA

from compiler.probe import ProbePolicy, ProbeResult, TargetError, adhoc_target, parse_target
from compiler.probe.certinfo import CertInfo, cert_info, oneline

UTC = dt.UTC


@pytest.fixture(scope="module")
def ca() -> ThrowawayCA:
    return ThrowawayCA()


def info(
    dns: tuple[str, ...] = (), ips: tuple[str, ...] = (), cns: tuple[str, ...] = ()
) -> CertInfo:
    now = dt.datetime(2026, 1, 1, tzinfo=UTC)
    return CertInfo("/CN=x", "/CN=ca", cns, dns, ips, now, now + dt.timedelta(days=10))


def test_oneline_is_openssl_form() -> None:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "safe co"),
            x509.NameAttribute(NameOID.COMMON_NAME, "example.net"),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, "pm@example.net"),
        ]
    )
    assert oneline(name) == "/C=US/ST=CA/O=safe co/CN=example.net/emailAddress=pm@example.net"
    assert oneline(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "é")])) == "/CN=\\xE9"


@pytest.mark.parametrize(
    ("pattern", "name", "ok"),
    [
        ("mx.example.net", "MX.Example.NET.", True),
        ("*.example.net", "mx.example.net", True),
        ("*.example.net", "a.mx.example.net", False),
        ("*.example.net", "example.net", False),
        ("mx.example.net", "mx2.example.net", False),
    ],
)
def test_dns_names_match_rfc6125(pattern: str, name: str, ok: bool) -> None:
    assert info(dns=(pattern,)).matches(name) is ok


def test_common_name_counts_only_without_sans() -> None:
    assert info(cns=("mx.example.net",)).matches("mx.example.net")
    assert not info(dns=("other.example.net",), cns=("mx.example.net",)).matches("mx.example.net")


def test_ip_addresses_match_ip_sans_only() -> None:
    assert info(ips=("127.0.0.1",)).matches("127.0.0.1")
    assert info(ips=("2001:db8::1",)).matches("[2001:db8:0::1]")
    assert not info(dns=("127.0.0.1",)).matches("127.0.0.1")


def test_cert_info_reads_what_a_certificate_says(ca: ThrowawayCA) -> None:
    issued = ca.issue("mx.example.net", ["mx.example.net", "192.0.2.1"], days=3)
    got = cert_info(issued.cert)
    assert got.subject == "/O=tlsc test/CN=mx.example.net"
    assert got.issuer == "/O=tlsc test/CN=tlsc Test CA"
    assert got.sans == ["DNS:mx.example.net", "IP:192.0.2.1"]
    assert got.days_left() == 2  # 3 days minus the seconds since it was made
    assert not got.expired()
    assert got.not_after_text().endswith("Z")


def result_with(cert: CertInfo, **kw: object) -> ProbeResult:
    r = ProbeResult(
        target="mx",
        host="192.0.2.1",
        port=25,
        server_name="mx.example.net",
        starttls=True,
        version="TLSv1.3",
        cipher="TLS_AES_256_GCM_SHA384",
        bits=256,
        verify="OK",
        cert=cert,
        name_matches=cert.matches("mx.example.net"),
        client_cert_requested=False,
        checked_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
    )
    for key, value in kw.items():
        setattr(r, key, value)
    return r


def test_policy_strict_min_days_and_client_cert() -> None:
    good = result_with(info(dns=("mx.example.net",)))  # 10 days left
    assert good.passed() and good.passed(ProbePolicy(strict=True, min_days=9))
    assert not good.passed(ProbePolicy(strict=True, min_days=10))
    assert good.problems(ProbePolicy(min_days=10)) == [
        "the certificate expires in 10 days (2026-01-11), within the 10-day margin"
    ]
    assert not good.passed(ProbePolicy(expect_client_cert=True))
    assert good.problems(ProbePolicy(min_days=1, expect_client_cert=True)) == [
        "the server did not ask for a client certificate"
    ]


def test_wrong_name_fails_only_strict() -> None:
    r = result_with(info(dns=("other.example.net",)))
    assert r.passed() and not r.passed(ProbePolicy(strict=True, min_days=1))
    assert r.problems(ProbePolicy(min_days=1)) == [
        "the certificate is not valid for mx.example.net (it names other.example.net)"
    ]
    assert r.as_dict(ProbePolicy(min_days=1))["error"] == r.problems(ProbePolicy(min_days=1))[0]


def test_a_certificate_of_thousands_of_names_is_named_in_a_short_sentence() -> None:
    many = tuple(f"n{i}.example.net" for i in range(5000))
    r = result_with(info(dns=many))
    (problem,) = r.problems(ProbePolicy(min_days=1))
    listed = ", ".join(many[:10])
    assert problem == (
        f"the certificate is not valid for mx.example.net (it names {listed} and 4,990 more)"
    )


def test_json_shape_is_exactly_designs() -> None:
    d = result_with(info(dns=("mx.example.net",))).as_dict(ProbePolicy(min_days=1))
    assert list(d) == [
        "target",
        "port",
        "starttls",
        "version",
        "cipher",
        "bits",
        "verify",
        "cert_subject",
        "cert_issuer",
        "cert_not_after",
        "error",
    ]
    assert d["cert_not_after"] == "2026-01-11T00:00:00Z" and d["error"] is None
    assert d["bits"] == 256 and d["port"] == 25 and d["starttls"] is True


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("mx.example.net", "mx.example.net", 25),
        ("mx.example.net:2525", "mx.example.net", 2525),
        ("192.0.2.1:587", "192.0.2.1", 587),
        ("[2001:db8::1]:2525", "2001:db8::1", 2525),
        ("2001:db8::1", "2001:db8::1", 25),
    ],
)
def test_parse_target(text: str, host: str, port: int) -> None:
    assert parse_target(text) == (host, port)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mx:0", "'0' is not a port number (1-65535)"),
        ("mx:smtp", "'smtp' is not a port number (1-65535)"),
        ("mx:", "'mx:' has an empty port"),
        ("[::1", "'[::1' has an unclosed '['"),
        ("bad host", "'bad host' is not a host name or IP address"),
        (":25", "':25' names no host"),
    ],
)
def test_bad_targets_say_why(text: str, message: str) -> None:
    with pytest.raises(TargetError) as err:
        parse_target(text)
    assert str(err.value) == message


def test_adhoc_target_checks_the_name_it_was_given() -> None:
    t = adhoc_target("mx.example.net:2525", "/tmp/ca.crt")
    assert (t.label, t.host, t.port, t.server_name) == (
        "mx.example.net",
        "mx.example.net",
        2525,
        t.host,
    )
    assert t.trust == "/tmp/ca.crt"
    assert adhoc_target("mx").trust == "the system's trusted CAs"
