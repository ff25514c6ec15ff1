"""DANE's resolver check (D037, D038) against a DNS server of the test's own on 127.0.0.1."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from conftest import run_cli
from dns_server import DnsServer

from compiler.doctor.resolver import _is_local, check_resolver, nameserver
from compiler.spec.model import HostSettings, Tls

ROOT_ZONE = {".": {"SOA": ["a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400"]}}
DANE = HostSettings(sendmail="8.18", tls=Tls(dane=True))


def codes(found: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(f.code, f.severity) for f in found]


def test_a_validating_local_resolver_passes(tmp_path: Path) -> None:
    with DnsServer(ROOT_ZONE, validated=True) as dns:
        assert check_resolver(DANE, tmp_path, dns.address) == []
        assert dns.queries == [(".", "SOA")]


def test_a_resolver_that_does_not_validate(tmp_path: Path) -> None:
    with DnsServer(ROOT_ZONE) as dns:
        (found,) = check_resolver(DANE, tmp_path, dns.address)
    assert (found.code, found.severity) == ("D037", "error")
    assert "does not validate DNSSEC" in found.message and "unbound" in found.fix


def test_no_resolver_answers(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as quiet:  # bound, never answers
        quiet.bind(("127.0.0.1", 0))
        port = quiet.getsockname()[1]
        found = check_resolver(DANE, tmp_path, f"127.0.0.1:{port}")
    assert codes(found) == [("D037", "error")] and "did not answer" in found[0].message


def test_resolv_conf_without_a_nameserver(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/resolv.conf").write_text("search example.net\n")
    assert codes(check_resolver(DANE, tmp_path)) == [("D037", "error")]


def test_the_first_nameserver_of_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# local\nsearch example.net\nnameserver 127.0.0.53\nnameserver 192.0.2.1\n")
    assert nameserver(conf) == "127.0.0.53"
    assert nameserver(tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1", True),
        ("127.0.0.53", True),
        ("::1", True),
        ("192.0.2.1", False),
        ("2001:db8::1", False),
        ("fe80::1%eth0", False),
        ("not-an-address", False),
    ],
)
def test_which_resolvers_are_local(address: str, local: bool) -> None:
    assert _is_local(address) is local


def test_nothing_to_check_without_dane(tmp_path: Path) -> None:
    assert check_resolver(HostSettings(sendmail="8.18"), tmp_path, "127.0.0.1:9") == []


SPEC = """\
version: 1
cluster: c
defaults:
  sendmail: "8.18"
  tls: {{dane: {dane}}}
hosts:
  mx1: {{fqdn: mx1.example.net}}
"""


@pytest.mark.parametrize("validated", [True, False])
def test_doctor_command_reports_it(tmp_path: Path, validated: bool) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_text(SPEC.format(dane="true"))
    with DnsServer(ROOT_ZONE, validated=validated) as dns:
        _rc, out, _err = run_cli(
            "doctor", spec, "--host", "mx1", "--root", tmp_path, "--dns-server", dns.address
        )
    assert ("D037" in out) is not validated, out
