"""`tlsc verify`: arguments, output formats and exit codes, against real and fake servers.

The real servers are test daemons of each release (tests/releases.py): 8.17.1.9, 8.18.1.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fake_smtp import FakeSmtp, Session
from releases import release
from sendmail_fixture import DaemonFactory, free_port, sendmail_daemon, throwaway_ca

from compiler.cli import main

__all__ = ["release", "sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

KEYS = [
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


def verify(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["verify", *map(str, args)])


def as_json(result: Result) -> list[dict[str, Any]]:
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    for item in data:
        assert list(item) == KEYS
    return data


@pytest.mark.realtools
@pytest.mark.usefixtures("release")
def test_spec_json_is_designs_shape(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon()
    result = verify(daemon.spec_path, "--format", "json")
    assert result.exit_code == 0, result.output
    [item] = as_json(result)
    assert item["target"] == daemon.host and item["port"] == daemon.port
    assert item["starttls"] is True and item["verify"] == "OK"
    assert item["version"] == "TLSv1.3" and item["bits"] == 256
    assert item["cert_subject"] == f"/O=tlsc test/CN={daemon.fqdn}"
    assert item["cert_issuer"] == "/O=tlsc test/CN=tlsc Test CA"
    assert item["cert_not_after"].endswith("Z") and item["error"] is None


@pytest.mark.realtools
@pytest.mark.usefixtures("release")
def test_spec_text_table(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon()
    result = verify(daemon.spec_path, "--strict")
    assert result.exit_code == 0, result.output
    for text in (daemon.host, f"127.0.0.1:{daemon.port}", "TLSv1.3", "OK", f"CN={daemon.fqdn}"):
        assert text in result.stdout
    assert "\x1b[" not in result.stdout  # no colour when not on a terminal
    assert result.stderr == "tlsc verify: 1 of 1 target(s) passed (strict)\n"


@pytest.mark.realtools
@pytest.mark.usefixtures("release")
def test_strict_needs_more_than_min_days(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(server_cert={"days": 5})
    assert verify(daemon.spec_path).exit_code == 0
    strict = verify(daemon.spec_path, "--strict")
    assert strict.exit_code == 1
    assert f"{daemon.host}: the certificate expires in 4 days (" in strict.stdout
    assert verify(daemon.spec_path, "--strict", "--min-days", "3").exit_code == 0


@pytest.mark.realtools
@pytest.mark.usefixtures("release")
def test_name_mismatch_fails_strict(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(server_cert={"cn": "other.tlsc.test", "names": ["other.tlsc.test"]})
    assert verify(daemon.spec_path).exit_code == 0
    result = verify(daemon.spec_path, "--strict", "--format", "json")
    assert result.exit_code == 1
    [item] = as_json(result)
    assert item["verify"] == "OK"
    assert (
        item["error"]
        == f"the certificate is not valid for {daemon.fqdn} (it names other.tlsc.test)"
    )


@pytest.mark.realtools
@pytest.mark.usefixtures("release")
def test_adhoc_target_with_and_without_ca(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon()
    target = f"127.0.0.1:{daemon.port}"
    result = verify(target, "--ca", daemon.ca_cert, "--strict", "--format", "json")
    assert result.exit_code == 0, result.output
    [item] = as_json(result)
    assert item["target"] == "127.0.0.1" and item["verify"] == "OK"
    # without --ca: the system's CAs do not know the test CA; encrypted all the same
    result = verify(target, "--format", "json")
    assert result.exit_code == 0
    [item] = as_json(result)
    assert item["verify"] == "FAIL" and item["version"] == "TLSv1.3"
    assert item["error"].startswith("the certificate does not verify against the system's")
    assert verify(target, "--strict").exit_code == 1


@pytest.mark.realtools
@pytest.mark.usefixtures("release")
def test_expect_client_cert(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon()
    result = verify(daemon.spec_path, "--expect-client-cert")
    assert result.exit_code == 1
    assert f"{daemon.host}: the server did not ask" in result.stdout


@pytest.mark.realtools
@pytest.mark.usefixtures("release")
def test_host_selects_from_a_spec(sendmail_daemon: DaemonFactory) -> None:
    dead = free_port()

    def second_host(spec: dict[str, Any]) -> None:
        spec["hosts"]["mta2"] = {
            "fqdn": "mta2.tlsc.test",
            "address": "127.0.0.1",
            "smtp_port": dead,
        }

    daemon = sendmail_daemon(edit=second_host)
    both = verify(daemon.spec_path, "--format", "json")
    assert both.exit_code == 1
    assert [(i["target"], i["port"]) for i in as_json(both)] == [
        (daemon.host, daemon.port),
        ("mta2", dead),
    ]
    one = verify(daemon.spec_path, "--host", daemon.host, "--format", "json")
    assert one.exit_code == 0 and [i["target"] for i in as_json(one)] == [daemon.host]


def test_nothing_listening_and_454_fail() -> None:
    def refuses_tls(s: Session) -> None:
        s.send("220 fake ESMTP\n")
        s.expect("EHLO")
        s.send("250-fake\n250 STARTTLS\n")
        s.expect("STARTTLS")
        s.send("454 4.7.0 TLS not available due to local problem\n")

    dead = free_port()
    with FakeSmtp(refuses_tls) as fake:
        result = verify(f"127.0.0.1:{fake.port}", f"127.0.0.1:{dead}", "--format", "json")
    assert result.exit_code == 1
    refused, nothing = as_json(result)
    assert refused["starttls"] is True and refused["version"] is None
    assert refused["error"] == (
        f"127.0.0.1 port {fake.port} refused STARTTLS: 454 4.7.0 TLS not available due to"
        " local problem"
    )
    assert nothing["starttls"] is False
    assert nothing["error"] == f"127.0.0.1 port {dead} refused the connection (nothing listening?)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere.yaml"], "tlsc verify: cannot read nowhere.yaml: no such file\n"),
        (["x.yaml", "mx:25"], "tlsc verify: give one SPEC or any number of HOST[:PORT] targets"),
        (["mx:99999"], "tlsc verify: '99999' is not a port number (1-65535)\n"),
        (["mx", "--host", "mx"], "tlsc verify: --host selects hosts of a SPEC"),
    ],
)
def test_usage_errors_are_one_sentence(args: list[str], message: str) -> None:
    result = verify(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.output


def test_bad_spec_and_unknown_host(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_text("version: 1\ncluster: c\nhosts:\n  mx1:\n    fqdn: mx1.example.net\n")
    result = verify(spec, "--host", "mx9")
    assert result.exit_code == 1
    assert result.stderr == f"tlsc verify: no host named 'mx9' in {spec}; hosts are mx1\n"
    spec.write_text("version: 1\ncluster: c\nhosts: {}\n")
    result = verify(spec)
    assert result.exit_code == 1 and f"{spec}:3:" in result.stderr


def test_spec_ca_missing_here_is_said(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    dead = free_port()
    spec.write_text(
        "version: 1\ncluster: c\ndefaults:\n  tls:\n"
        f"    ca_cert: {tmp_path}/nowhere/ca.crt\n    ca_cert_path: {tmp_path}/nowhere\n"
        "hosts:\n  mx1:\n    fqdn: mx1.example.net\n    address: 127.0.0.1\n"
        f"    smtp_port: {dead}\n"
    )
    result = verify(spec)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"tlsc verify: mx1: tls.ca_cert {tmp_path}/nowhere/ca.crt is not on this machine;"
        " verifying against the system's trusted CAs (give the CA with --ca FILE)\n"
    )


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from compiler.probe import ProbeOptions, Timeouts, adhoc_target
    from compiler.probe.command import _run

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    ports = [free_port(), free_port(), free_port()]
    options = ProbeOptions(timeouts=Timeouts(1, 1, 1, 1))
    results = _run([adhoc_target(f"127.0.0.1:{p}") for p in ports], options)
    assert [r.port for r in results] == ports
    assert all(r.error and "refused the connection" in r.error for r in results)


def test_a_host_with_starttls_off_in_the_spec_is_not_probed(tmp_path: Path) -> None:
    """Off by design: `tlsc verify SPEC` leaves it out with a note (a monitor of the
    cluster would else fail for good); named with --host it is probed."""
    from conftest import run_cli
    from sendmail_fixture import free_port

    port = free_port()  # nothing listens there: a probe of it fails
    spec = tmp_path / "cluster.yaml"
    spec.write_text(
        "version: 1\ncluster: c\nhosts:\n"
        f"  mx1: {{fqdn: mx1.example.net, address: 127.0.0.1, smtp_port: {port},"
        " tls: {enabled: false}}\n"
    )
    rc, out, err = run_cli("verify", spec)
    assert rc == 0, out + err
    assert "tlsc verify: mx1: STARTTLS is off in the spec (tls.enabled: false); not probed" in err
    assert "0 of 0 target(s) passed" in err
    rc, out, err = run_cli("verify", spec, "--host", "mx1")
    assert rc == 1 and "not probed" not in err, out + err


@pytest.mark.parametrize("domain", ["", ".", " "])
def test_an_empty_mx_domain_is_refused_before_any_lookup(domain: str) -> None:
    """`--mx "$DOMAIN"` with DOMAIN unset: refused as an empty path is, not a DNS query
    for the root answered 'no MX record'."""
    from conftest import run_cli

    rc, out, err = run_cli("verify", "--mx", domain)
    assert rc == 1 and out == "", out + err
    assert f"'{domain}' names no domain (an unset variable?)" in err
