"""`tlsc verify --mx DOMAIN` against a DNS server of the test's own and a real sendmail -bD.

The DNS server (dns_server.py) answers on 127.0.0.1 at a port it opened; the
MX records point to the test daemon's name, which resolves to 127.0.0.1, and
the probe goes to the daemon's port (--port).
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from dns_server import DnsServer
from sendmail_fixture import DaemonFactory, SendmailDaemon, sendmail_daemon, throwaway_ca
from throwaway_ca import ThrowawayCA

from compiler.probe.mx import MxHost, StsPolicy, parse_server

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools
TLSA = "3 1 1 " + "ab" * 32


def zone(daemon: SendmailDaemon, domain: str) -> dict[str, dict[str, list[str]]]:
    """`domain` with one MX, the daemon's name, at 127.0.0.1; TLSA and MTA-STS records."""
    return {
        domain: {"MX": [f"10 {daemon.fqdn}."]},
        daemon.fqdn: {"A": ["127.0.0.1"]},
        f"_25._tcp.{daemon.fqdn}": {"TLSA": [TLSA]},
        f"_mta-sts.{domain}": {"TXT": ['"v=STSv1; id=20261202T000000"']},
        f"mta-sts.{domain}": {"A": ["127.0.0.1"]},
    }


@contextmanager
def policy_server(
    ca: ThrowawayCA, domain: str, policy: str, tmp: Path
) -> Iterator[tuple[int, list[str]]]:
    """https://mta-sts.DOMAIN/.well-known/mta-sts.txt on 127.0.0.1: (port, paths asked)."""
    host = f"mta-sts.{domain}"
    issued = ca.issue(host, [host])
    issued.write(tmp / "sts.crt", tmp / "sts.key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "sts.crt", tmp / "sts.key")
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(f"{self.headers['Host']}{self.path}")
            found = self.path == "/.well-known/mta-sts.txt"
            body = policy.encode() if found else b"not here\n"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], asked
    finally:
        server.shutdown()
        server.server_close()


def verify_mx(dns: DnsServer, daemon: SendmailDaemon, domain: str, *extra: str) -> Any:
    rc, out, err = run_cli(
        "verify",
        "--mx",
        domain,
        "--dns-server",
        dns.address,
        "--port",
        str(daemon.port),
        "--format",
        "json",
        *extra,
    )
    assert err == "", err
    return rc, json.loads(out)


def test_mx_in_the_domain(
    sendmail_daemon: DaemonFactory, throwaway_ca: ThrowawayCA, tmp_path: Path
) -> None:
    daemon = sendmail_daemon()
    parent = daemon.fqdn.split(".", 1)[1]  # colo10.example.net -> example.net
    policy = f"version: STSv1\nmode: enforce\nmx: *.{parent}\nmax_age: 86400\n"
    with (
        DnsServer(zone(daemon, parent)) as dns,
        policy_server(throwaway_ca, parent, policy, tmp_path) as (https_port, asked),
    ):
        rc, report = verify_mx(
            dns, daemon, parent, "--ca-file", str(daemon.ca_cert), "--https-port", str(https_port)
        )
        assert (daemon.fqdn, "MX") not in dns.queries and (parent, "MX") in dns.queries
    assert rc == 0, report
    assert asked == [f"mta-sts.{parent}:{https_port}/.well-known/mta-sts.txt"]
    assert report["domain"] == parent and report["implicit_mx"] is False
    assert report["mta_sts"] == {
        "records": ["v=STSv1; id=20261202T000000"],
        "id": "20261202T000000",
        "error": None,
        "policy": {
            "url": f"https://mta-sts.{parent}:{https_port}/.well-known/mta-sts.txt",
            "mode": "enforce",
            "max_age": "86400",
            "mx": [f"*.{parent}"],
            "error": None,
        },
    }
    (mx,) = report["mx"]
    assert mx["name"] == daemon.fqdn and mx["preference"] == 10
    assert mx["addresses"] == ["127.0.0.1"]
    labels = daemon.fqdn.split(".")
    assert mx["tls_srv_keys"] == [".".join(labels[i:]) for i in range(len(labels))]
    assert mx["domain_rule_applies"] is True and report["domain_rule_applies"] == [daemon.fqdn]
    assert mx["tlsa"] == [{"usage": 3, "selector": 1, "mtype": 1, "data": "ab" * 32}]
    assert mx["tlsa_dnssec_validated"] is False  # our server sets no AD flag
    assert mx["mta_sts_listed"] is True
    (probe,) = mx["probes"]
    assert probe["starttls"] is True and probe["version"] == "TLSv1.3"
    assert probe["verify"] == "OK" and probe["name_matches"] is True and probe["passed"]
    assert probe["cert_common_names"] == [daemon.fqdn]
    assert probe["cert_sans"] == [f"DNS:{daemon.fqdn}", "IP:127.0.0.1"]
    assert probe["port"] == daemon.port and probe["address"] == "127.0.0.1"


def test_recipient_domain_does_not_match_its_servers(
    sendmail_daemon: DaemonFactory, throwaway_ca: ThrowawayCA, tmp_path: Path
) -> None:
    """The gmail.com case: MX hosts named outside the domain, so a domains: rule never applies."""
    daemon = sendmail_daemon()
    policy = "version: STSv1\nmode: enforce\nmx: mx.customer.test\nmax_age: 604800\n"
    with (
        DnsServer(zone(daemon, "customer.test")) as dns,
        policy_server(throwaway_ca, "customer.test", policy, tmp_path) as (https_port, _),
    ):
        rc, report = verify_mx(dns, daemon, "customer.test", "--https-port", str(https_port))
        rc_text, text, err = run_cli(
            "verify", "--mx", "customer.test", "--dns-server", dns.address,
            "--port", str(daemon.port), "--ca", str(daemon.ca_cert),
            "--https-port", str(https_port),
        )  # fmt: skip
    # verified against the system's CAs, the test CA's certificate does not verify,
    # but STARTTLS works: not --strict, so it passes
    (mx,) = report["mx"]
    assert rc == 0 and mx["probes"][0]["verify"] == "FAIL"
    assert mx["probes"][0]["error"].startswith(
        "the certificate does not verify against the system's trusted CAs: "
    )
    assert mx["domain_rule_applies"] is False and report["domain_rule_applies"] == []
    assert "customer.test" not in mx["tls_srv_keys"]
    # without the test CA the policy host's certificate does not verify either
    sts_error = report["mta_sts"]["policy"]["error"]
    assert sts_error.startswith("the certificate of mta-sts.customer.test does not verify: ")
    assert mx["mta_sts_listed"] is None

    assert rc_text == 0, err
    assert err == "tlsc verify: 1 of 1 MX address(es) passed\n"
    assert f"MX 10 {daemon.fqdn} (127.0.0.1)" in text
    assert f"certificate: subject CN {daemon.fqdn}; SANs DNS:{daemon.fqdn}, IP:127.0.0.1" in text
    assert f"verifies against {daemon.ca_cert}: yes" in text
    assert f"valid for {daemon.fqdn}: yes" in text
    assert f"TLSA _25._tcp.{daemon.fqdn} (not DNSSEC-validated):\n    {TLSA}" in text
    assert (
        "MTA-STS: policy id 20261202T000000, mode enforce, max_age 604800, mx mx.customer.test"
        f" (https://mta-sts.customer.test:{https_port}/.well-known/mta-sts.txt)" in text
    )
    assert (
        "  MTA-STS: NOT listed in the policy's mx (mx.customer.test): senders that enforce"
        " MTA-STS refuse to deliver here" in text
    )
    assert (
        f"A domains: rule for customer.test (outbound:) would NOT apply to {daemon.fqdn}:" in text
    )
    assert "For mail to customer.test use recipients: {customer.test: ...} (TLS_Rcpt)" in text
    assert (
        f"TLS_Srv keys sendmail tries for this server, in order (domains: keys): {daemon.fqdn},"
        in text
    )


def test_mx_without_starttls_fails_and_dns_errors_are_one_sentence(
    sendmail_daemon: DaemonFactory,
) -> None:
    daemon = sendmail_daemon()
    records = {
        **zone(daemon, "example.org"),
        "nomail.test": {"MX": ["0 ."]},
        "down.test": {"MX": ["10 down-mx.test."]},
        "down-mx.test": {"A": ["127.0.0.1"]},
    }
    with DnsServer(records) as dns:
        rc, out, err = run_cli("verify", "--mx", "nomail.test", "--dns-server", dns.address)
        assert (rc, out) == (1, "")
        assert err == "tlsc verify: nomail.test has a null MX (RFC 7505): it accepts no mail\n"
        rc, out, err = run_cli("verify", "--mx", "absent.test", "--dns-server", dns.address)
        assert (rc, out) == (1, "")
        assert err == (
            "tlsc verify: absent.test has no MX record and no address: no mail server to check\n"
        )
        # an MX whose port has nothing listening: the report says so and exits 1
        daemon.stop()
        rc, report = verify_mx(dns, daemon, "down.test")
    assert rc == 1
    (probe,) = report["mx"][0]["probes"]
    assert "refused the connection" in probe["error"] and probe["passed"] is False
    rc, out, err = run_cli("verify", "--mx", "x.test", "--dns-server", "not-an-address")
    assert (rc, out) == (1, "")
    assert err == (
        "tlsc verify: --dns-server: 'not-an-address' is not ADDRESS[:PORT]"
        " (an IP address is needed)\n"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
    ],
)
def test_dns_server_forms(text: str, expected: tuple[str, int]) -> None:
    assert parse_server(text) == expected


@pytest.mark.parametrize("text", ["dns.example", "127.0.0.1:x", "[::1]5353", "127.0.0.1:0"])
def test_dns_server_refused(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"'{text}'")):
        parse_server(text)


def test_policy_mx_patterns_and_tls_srv_keys() -> None:
    policy = StsPolicy(url="u", mode="enforce", mx=["*.l.google.com", "mx.example.net"])
    assert policy.lists("gmail-smtp-in.l.google.com") and policy.lists("MX.example.net.")
    assert not policy.lists("l.google.com") and not policy.lists("a.b.l.google.com")
    host = MxHost(5, "gmail-smtp-in.l.google.com")
    assert host.tls_srv_keys == ["gmail-smtp-in.l.google.com", "l.google.com", "google.com", "com"]
    assert host.address_keys("192.0.2.7") == ["192.0.2.7", "192.0.2", "192.0", "192"]
    assert host.address_keys("2001:db8::1") == ["IPv6:2001:db8::1"]
