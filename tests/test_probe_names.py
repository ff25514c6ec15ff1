"""`tlsc verify` on a mistyped target or an odd certificate name: no traceback.

A host name with an empty label (`a..b`) or one over 63 bytes made the idna
codec raise UnicodeError out of getaddrinfo; a certificate whose iPAddress
entry is 8 or 32 bytes (a network, as name constraints write it, which
OpenSSL still loads) made the name check raise ValueError. Both found by
fuzzing; neither reaches the network here (the resolver is never asked).
"""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from compiler.probe.certinfo import cert_info
from compiler.probe.smtp import ProbeError, Target, _connect
from compiler.probe.targets import TargetError, parse_target


@pytest.mark.parametrize("host", ["a..b", "a" * 64, f"{'a' * 64}.example", ".example", "x.."])
def test_a_host_name_the_resolver_cannot_encode(host: str) -> None:
    with pytest.raises(TargetError, match="is not a host name or IP address"):
        parse_target(f"{host}:2525")
    with pytest.raises(ProbeError, match="it is no host name"):
        _connect(Target(host, host, 2525), 1.0)


def test_names_that_are_fine() -> None:
    longest = ".".join(["a" * 63] * 3) + "." + "b" * 61
    assert parse_target(f"{longest}:2525") == (longest, 2525)
    assert parse_target("mx.example.:26") == ("mx.example.", 26)


def _certificate(*alt: x509.GeneralName) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.example")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(list(alt)), critical=False)
        .sign(key, hashes.SHA256())
    )


def test_an_ip_san_that_is_a_network_matches_no_address() -> None:
    info = cert_info(
        _certificate(
            x509.IPAddress(ipaddress.ip_network("127.0.0.1/32")),
            x509.IPAddress(ipaddress.ip_network("::1/128")),
            x509.DNSName("mx.example"),
        )
    )
    assert not info.matches("127.0.0.1") and not info.matches("[::1]")
    assert info.matches("mx.example")
    both = cert_info(
        _certificate(
            x509.IPAddress(ipaddress.ip_network("192.0.2.0/24")),
            x509.IPAddress(ipaddress.ip_address("192.0.2.7")),
        )
    )
    assert both.matches("192.0.2.7") and not both.matches("192.0.2.8")
