"""The probe against a real `sendmail -bD` built from a compiled spec (sendmail_fixture.py)."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
from releases import release
from sendmail_fixture import (
    DaemonFactory,
    SendmailDaemon,
    greet_pause,
    listening_inodes,
    sendmail_daemon,
    throwaway_ca,
)
from throwaway_ca import ThrowawayCA

from compiler.probe import ProbePolicy, ProbeResult, Target, host_target, probe
from compiler.resolve import resolve
from compiler.spec.loader import load_file
from compiler.spec.validate import validate

__all__ = ["release", "sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

#: on both releases: the daemons are 8.17.1.9's, then 8.18.1's
pytestmark = [pytest.mark.realtools, pytest.mark.usefixtures("release")]
STRICT = ProbePolicy(strict=True)


def probe_spec_host(daemon: SendmailDaemon) -> ProbeResult:
    """Probe the daemon the way `tlsc verify SPEC` does: from the spec's host entry."""
    cluster = validate(load_file(daemon.spec_path)).cluster
    assert cluster is not None
    return probe(host_target(resolve(cluster, daemon.host)))


def test_starttls_offered_and_verified(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon()
    r = probe_spec_host(daemon)
    assert r.error is None and r.handshake_ok
    version = daemon.release.version  # the greeting names the binary's and the cf's release
    assert r.greeting is not None
    assert r.greeting.startswith(f"220 {daemon.fqdn} ESMTP Sendmail {version}/{version}; ")
    assert r.version == "TLSv1.3" and r.bits == 256
    assert r.verify == "OK" and r.name_matches is True
    assert r.cert is not None and r.cert.subject == f"/O=tlsc test/CN={daemon.fqdn}"
    assert r.passed(STRICT) and r.problems(STRICT) == []
    assert r.client_cert_requested is False  # the compiled starttls.m4 sets TLSSrvOptions=V
    daemon.wait_for_log(
        r"STARTTLS=server, relay=localhost \[127\.0\.0\.1\], version=TLSv1\.3, verify=NOT"
    )


def tls_sessions(daemon: SendmailDaemon) -> list[str]:
    """The daemon's server-side TLS outcome lines, once the probe's session has ended."""
    daemon.wait_for_log(r"did not issue MAIL/EXPN/VRFY/ETRN")
    return [
        line
        for line in daemon.syslog()
        if re.search(r"STARTTLS=server, (relay=|error)|SSL_accept|alert", line)
    ]


@pytest.mark.parametrize("trust", ["another CA", "the system's CAs", "the daemon's CA"])
def test_one_handshake_per_probe(
    sendmail_daemon: DaemonFactory, tmp_path: Path, trust: str
) -> None:
    """Issue 11: an untrusted certificate costs no second handshake and no `alert unknown ca`."""
    daemon = sendmail_daemon()
    other = tmp_path / "other-ca.crt"
    other.write_bytes(ThrowawayCA().cert_pem)
    ca_file = {"another CA": str(other), "the system's CAs": None}.get(trust, str(daemon.ca_cert))
    r = probe(Target(label="mx", host="127.0.0.1", port=daemon.port, ca_file=ca_file))
    assert r.error is None and r.handshake_ok
    assert r.cert is not None and r.cert.subject == f"/O=tlsc test/CN={daemon.fqdn}"
    (line,) = tls_sessions(daemon)
    assert re.search(r"STARTTLS=server, relay=localhost \[127\.0\.0\.1\], version=TLSv1\.3,", line)
    assert [x for x in daemon.syslog() if "connect from" in x][1:] == []
    if trust == "the daemon's CA":
        assert r.verify == "OK" and r.verify_error is None
        return
    assert r.verify == "FAIL"
    # sendmail sends its CA certificate after the leaf: a root nobody here trusts
    assert r.verify_error == "self-signed certificate in certificate chain"
    trusted = ca_file or "the system's trusted CAs"
    assert r.problems() == [
        f"the certificate does not verify against {trusted}:"
        " self-signed certificate in certificate chain"
    ]


def test_group_readable_key_stops_starttls(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon()  # tls.group_readable_key: false in the fixture spec
    daemon.server_key.chmod(0o640)
    daemon.hup()  # sendmail reads its key when it starts
    r = probe_spec_host(daemon)
    assert r.starttls is False and not r.passed()
    assert r.error == f"127.0.0.1 port {daemon.port} does not offer STARTTLS"
    daemon.wait_for_log(rf"file {daemon.server_key} unsafe: Group readable file")


@pytest.mark.parametrize(
    ("macro", "option"),
    [
        ("confSERVER_CERT", "ServerCertFile"),
        ("confSERVER_KEY", "ServerKeyFile"),
        ("confCACERT", "CACertFile"),
        ("confCACERT_PATH", "CACertPath"),
    ],
)
def test_each_certificate_setting_is_needed(
    sendmail_daemon: DaemonFactory, macro: str, option: str
) -> None:
    """Why validation refuses a null cert, key, CA file or CA path (S214): no STARTTLS."""
    daemon = sendmail_daemon(start=False)
    m4 = Path(daemon.spec["defaults"]["paths"]["starttls_m4"])
    lines = m4.read_text().splitlines(keepends=True)
    m4.write_text("".join(line for line in lines if f"`{macro}'" not in line))
    daemon.build()
    daemon.start()
    r = probe_spec_host(daemon)
    assert r.starttls is False
    daemon.wait_for_log(rf"STARTTLS: {option} missing")


def test_expired_certificate_fails_verification(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(server_cert={"expired_days_ago": 2})
    r = probe_spec_host(daemon)
    assert r.handshake_ok and r.verify == "FAIL"
    assert r.verify_error == "certificate has expired"
    assert r.days_left is not None and r.days_left < 0
    assert r.passed() and not r.passed(STRICT)
    assert r.problems() == [
        f"the certificate does not verify against {daemon.ca_cert} and {daemon.ca_cert.parent}:"
        " certificate has expired"
    ]


def test_soon_expiring_certificate_fails_strict_only(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(server_cert={"days": 5})
    r = probe_spec_host(daemon)
    assert r.verify == "OK" and r.days_left == 4
    assert r.passed() and not r.passed(STRICT)
    assert r.passed(ProbePolicy(strict=True, min_days=3))
    assert r.problems(STRICT)[0].startswith("the certificate expires in 4 days (")


def test_name_mismatch(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(server_cert={"cn": "other.tlsc.test", "names": ["other.tlsc.test"]})
    r = probe_spec_host(daemon)
    assert r.verify == "OK" and r.name_matches is False
    assert r.passed() and not r.passed(STRICT)
    assert r.problems() == [
        f"the certificate is not valid for {daemon.fqdn} (it names other.tlsc.test)"
    ]


def test_greet_pause_passes_because_the_probe_waits(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(edit=greet_pause(600))
    # an early talker is refused: proof that greet_pause is really on
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as rude:
        rude.sendall(b"EHLO rude.tlsc.test\r\n")
        rude.settimeout(5)
        assert rude.recv(4096).startswith(b"554 ")
    r = probe_spec_host(daemon)
    assert r.handshake_ok and r.verify == "OK", r.error
    assert r.passed(STRICT)


def test_client_certificate_request(sendmail_daemon: DaemonFactory) -> None:
    def ask(spec: dict[str, Any]) -> None:
        spec["defaults"]["tls"]["request_client_cert"] = True

    daemon = sendmail_daemon(edit=ask)
    r = probe_spec_host(daemon)
    assert r.client_cert_requested is True
    assert r.passed(ProbePolicy(expect_client_cert=True))
    daemon.wait_for_log(r"STARTTLS=server, relay=.*verify=NO,")


def test_fixture_restarts_and_stops_cleanly(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon()
    first = daemon.pid
    assert first is not None
    assert (daemon.work / "sendmail.pid").read_text().split()[0] == str(first)
    daemon.restart()
    assert daemon.pid not in (None, first)
    assert probe_spec_host(daemon).handshake_ok
    pid = daemon.pid
    assert pid is not None
    daemon.stop()
    assert not Path(f"/proc/{pid}").exists()
    assert not listening_inodes(daemon.port)
