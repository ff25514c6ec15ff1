"""`tlsc doctor`: each finding on a compiled, built test host (sendmail_fixture.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from realtools import SYSTEM_SENDMAIL, SendmailRelease, sendmail_bt
from releases import release
from sendmail_fixture import DaemonFactory, SendmailDaemon, sendmail_daemon, throwaway_ca
from throwaway_ca import key_pem

from compiler.cli import main
from compiler.doctor import Finding, binary, diagnose
from compiler.resolve import resolve
from compiler.spec.loader import load_file
from compiler.spec.validate import validate

__all__ = ["release", "sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools


@pytest.fixture
def host_sendmail(release: SendmailRelease, monkeypatch: pytest.MonkeyPatch) -> SendmailRelease:
    """Each release in turn as this host's sendmail: the test daemon's, and the one doctor
    finds on its search path (the spec names it: sendmail_fixture.fixture_spec)."""
    search = os.pathsep.join([str(release.sendmail.parent), binary._SEARCH])
    monkeypatch.setattr(binary, "_SEARCH", search)
    assert binary.find_sendmail() == str(release.sendmail)
    return release


def doctor(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["doctor", *map(str, args)])


def findings(daemon: SendmailDaemon, root: Path = Path("/")) -> list[Finding]:
    """diagnose() on the daemon's spec host, without running the sendmail binary."""
    cluster = validate(load_file(daemon.spec_path)).cluster
    assert cluster is not None
    host = resolve(cluster, daemon.host)
    return diagnose(host, str(daemon.spec_path), root, check_sendmail=False)


def codes(found: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.path) for f in found]


def tls(daemon: SendmailDaemon, name: str) -> Path:
    return daemon.work / "tls" / name


@pytest.mark.usefixtures("host_sendmail")
def test_healthy_host_has_no_findings(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(start=False)
    result = doctor(daemon.spec_path, "--host", daemon.host)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"tlsc doctor: {daemon.host}: no problems found\n"
    assert (
        json.loads(doctor(daemon.spec_path, "--host", daemon.host, "--format", "json").stdout) == []
    )


@pytest.mark.usefixtures("host_sendmail")
def test_group_readable_key_fails_verify_and_doctor_names_it(
    sendmail_daemon: DaemonFactory,
) -> None:
    daemon = sendmail_daemon()
    daemon.server_key.chmod(0o640)
    daemon.hup()
    verify = CliRunner().invoke(main, ["verify", str(daemon.spec_path)])
    assert verify.exit_code == 1
    assert f"{daemon.host}: 127.0.0.1 port {daemon.port} does not offer STARTTLS" in verify.stdout
    result = doctor(daemon.spec_path, "--host", daemon.host, "--format", "json")
    assert result.exit_code == 1
    [item] = json.loads(result.stdout)
    assert item["host"] == daemon.host and item["code"] == "D005" and item["severity"] == "error"
    assert item["path"] == str(daemon.server_key)
    assert item["message"] == (
        "the server key is readable by its group (mode 0640) and DontBlameSendmail lacks"
        " GroupReadableKeyFile (tls.group_readable_key is false), so sendmail refuses it and"
        " STARTTLS is not offered"
    )
    assert item["fix"] == (
        f"chmod 600 {daemon.server_key}, or set tls.group_readable_key: true and run tlsc apply"
    )
    text = doctor(daemon.spec_path, "--host", daemon.host)
    assert text.stdout.startswith(f"{daemon.server_key}: error: D005 the server key is readable")
    assert "\n  fix: chmod 600 " in text.stdout
    assert text.stderr == f"tlsc doctor: {daemon.host}: 1 error(s), 0 warning(s)\n"


def test_group_readable_key_is_fine_with_group_readable_key_file(
    sendmail_daemon: DaemonFactory,
) -> None:
    def allow(spec: dict[str, Any]) -> None:
        spec["defaults"]["tls"]["group_readable_key"] = True

    daemon = sendmail_daemon(edit=allow, key_mode=0o640)
    assert findings(daemon) == []
    daemon.server_key.chmod(0o644)
    [found] = findings(daemon)
    assert (found.code, found.path) == ("D005", str(daemon.server_key))
    assert "readable by everyone (mode 0644)" in found.message
    assert found.fix == f"chmod 640 {daemon.server_key}"


def test_key_contents(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(start=False)
    other = daemon.ca.issue("other.tlsc.test")
    daemon.server_key.write_bytes(other.key_pem)
    [found] = findings(daemon)
    assert found.code == "D011" and found.path == str(daemon.server_key)
    assert found.message.startswith("the server key does not belong to the certificate")
    daemon.server_key.write_bytes(key_pem(other.key, b"secret"))
    [found] = findings(daemon)
    assert found.code == "D010"
    assert "is encrypted (sendmail would prompt for its pass phrase)" in found.message
    daemon.server_key.write_bytes(b"\x30\x82garbage")
    [found] = findings(daemon)
    assert (found.code, found.severity) == ("D010", "error")
    assert "is not in PEM form" in found.message


def test_certificate_dates_and_name(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(start=False, server_cert={"expired_days_ago": 1})
    [found] = findings(daemon)
    assert (found.code, found.severity) == ("D013", "error")
    assert found.message.startswith("the server certificate expired on ")
    daemon.install_server_cert(daemon.ca.issue("other.tlsc.test", days=3))
    assert codes(findings(daemon)) == [
        ("D014", str(daemon.server_cert)),
        ("D015", str(daemon.server_cert)),
    ]


def test_missing_and_broken_files(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(start=False)
    tls(daemon, "ca.crt").unlink()
    tls(daemon, "dh.pem").write_text("not dh\n")
    found = findings(daemon)
    assert [(f.code, f.severity, f.path) for f in found] == [
        ("D001", "error", str(tls(daemon, "ca.crt"))),
        ("D016", "warning", str(tls(daemon, "dh.pem"))),
    ]
    assert found[0].message == (
        "the CA file (tls.ca_cert) does not exist, so STARTTLS is not offered"
    )
    tls(daemon, "dh.pem").unlink()
    assert ("D001", "warning") in [(f.code, f.severity) for f in findings(daemon)]


def test_permissions_owner_and_directories(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(start=False)
    daemon.server_cert.chmod(0o664)
    os.chown(tls(daemon, "client.crt"), 65534, -1)
    tls(daemon, "client.key").chmod(0o200)
    (daemon.work / "tls").chmod(0o777)
    found = findings(daemon)
    assert [f.code for f in found if f.path == str(daemon.server_cert)] == ["D006", "D004"]
    assert found[0].message.startswith(
        f"the server certificate lies under {daemon.work / 'tls'}, which everyone can write"
    )
    client = [(f.code, f.severity) for f in found if f.path == str(tls(daemon, "client.crt"))]
    assert ("D003", "warning") in client
    assert ("D007", "warning") in [
        (f.code, f.severity) for f in found if f.path == str(tls(daemon, "client.key"))
    ]


def test_sticky_tmp_needs_trust_sticky_bit(sendmail_daemon: DaemonFactory) -> None:
    def untrusting(spec: dict[str, Any]) -> None:
        del spec["defaults"]["mc"]["defines"]["confDONT_BLAME_SENDMAIL"]

    daemon = sendmail_daemon(start=False, edit=untrusting)
    found = [f for f in findings(daemon) if f.code == "D006"]
    assert found and all("lies under /tmp, which everyone can write" in f.message for f in found)
    assert "TrustStickyBit" in found[0].fix


def test_stale_builds(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(start=False)
    later = time.time() + 60
    mc = daemon.work / "sendmail.mc"
    os.utime(mc, (later, later))
    os.utime(daemon.work / "access", (later, later))
    assert codes(findings(daemon)) == [
        ("D021", str(daemon.cf)),
        ("D022", str(daemon.work / "access.db")),
    ]
    (daemon.work / "access.db").unlink()
    assert "access.db does not exist" in findings(daemon)[-1].message
    mc.unlink()
    [missing] = [f for f in findings(daemon) if f.code == "D001"]
    assert (missing.path, missing.severity) == (str(mc), "warning")
    assert missing.message == (
        "sendmail.mc (paths.sendmail_mc) does not exist, so this host does not run what the"
        " spec says"
    )


def test_cf_that_ignores_the_spec(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(start=False)
    text = daemon.cf.read_text()
    daemon.cf.write_text(
        text.replace(f"O ServerCertFile={daemon.server_cert}", "#O ServerCertFile")
    )
    [found] = findings(daemon)
    assert found.code == "D023"
    assert found.message.startswith(
        f"sendmail.cf should set ServerCertFile={daemon.server_cert} (tls.server_cert) but does"
        " not set it"
    )


#: hand edits of a .cf's ServerCertFile line: sendmail takes a name in any case or an
#: unambiguous prefix of it, a blank before the name or a tab before `=` makes it
#: unknown, `OServerCertFile=` is the one-letter option S (StatusFile)
HAND_EDITS = [
    "O servercertfile={v}",
    "O SERVERCERTFILE={v}",
    "O ServerCert={v}",
    "O ServerCertFile = {v}  ",
    "OServerCertFile={v}",
    "O ServerCertFile\t={v}",
    "O  ServerCertFile={v}",
    "O ServerCertFile={v}\n\tcontinued",
    "o ServerCertFile={v}",
    "O ServerCertFile={v}\r",
]


@pytest.mark.parametrize("form", HAND_EDITS, ids=[repr(f) for f in HAND_EDITS])
def test_cf_is_read_as_sendmail_reads_it(sendmail_daemon: DaemonFactory, form: str) -> None:
    """D023 exactly when the real sendmail (-d37.1) runs with another ServerCertFile."""
    daemon = sendmail_daemon(start=False)
    text = daemon.cf.read_text()
    old = f"O ServerCertFile={daemon.server_cert}"
    assert old in text
    daemon.cf.write_text(text.replace(old, form.format(v=daemon.server_cert)))
    done = sendmail_bt(SYSTEM_SENDMAIL, daemon.cf, flags=("-d37.1",))
    said = re.findall(r"^setoption ServerCertFile \(0x[0-9a-f]+\)=(.*)$", done.stdout, re.M)
    sendmail_uses_it = bool(said) and said[-1] == str(daemon.server_cert)
    d023 = [f for f in findings(daemon) if f.code == "D023"]
    assert bool(d023) == (not sendmail_uses_it), (said, d023)


def test_unset_ca_cert_path(sendmail_daemon: DaemonFactory) -> None:
    # validation refuses such a spec (S214); diagnose() still reports it for a HostConfig
    daemon = sendmail_daemon(start=False)
    cluster = validate(load_file(daemon.spec_path)).cluster
    assert cluster is not None
    host = resolve(cluster, daemon.host)
    tls = host.settings.tls.model_copy(update={"ca_cert_path": None})
    host = dataclasses.replace(host, settings=host.settings.model_copy(update={"tls": tls}))
    [found] = diagnose(host, str(daemon.spec_path), check_sendmail=False)
    assert (found.code, found.path) == ("D008", str(daemon.spec_path))
    assert found.message == (
        f"tls.ca_cert_path is not set for host {daemon.host}, so sendmail logs"
        " 'CACertPath missing' and STARTTLS is not offered"
    )


@pytest.mark.usefixtures("host_sendmail")
def test_sendmail_binary_checks(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(start=False)
    assert binary.check_binary(daemon.cf, daemon.fqdn) == []
    with daemon.cf.open("a") as f:
        f.write("feature(access_db)\n")
    [found] = binary.check_binary(daemon.cf, daemon.fqdn)
    assert found.code == "D032" and found.path.startswith(f"{daemon.cf}:")
    assert found.message == 'sendmail reports: unknown configuration line "feature(access_db)"'


def test_build_flags_and_missing_sendmail(monkeypatch: pytest.MonkeyPatch) -> None:
    output = "Version 8.17.1.9\n Compiled with: DNSMAP LOG\n\t\tNEWDB STARTTLS\n\n=== SYSTEM ===\n"
    assert binary.build_flags(output) == {"DNSMAP", "LOG", "NEWDB", "STARTTLS"}
    assert binary.build_flags(output.replace("STARTTLS", "")) == {"DNSMAP", "LOG", "NEWDB"}
    monkeypatch.setattr(binary, "find_sendmail", lambda: None)
    [found] = binary.check_binary(Path("/nonexistent/sendmail.cf"), "mx.example.net")
    assert (found.code, found.severity) == ("D031", "warning")


def test_root_reads_the_host_files_under_a_directory(
    sendmail_daemon: DaemonFactory, tmp_path: Path
) -> None:
    daemon = sendmail_daemon(start=False)
    copy = tmp_path / "img" / daemon.work.relative_to("/")
    shutil.copytree(daemon.work, copy, symlinks=True)
    (tmp_path / "img").chmod(0o755)
    assert findings(daemon, tmp_path / "img") == []
    (copy / "tls" / "server.key").chmod(0o644)
    [found] = findings(daemon, tmp_path / "img")
    assert (found.code, found.path) == ("D005", str(copy / "tls" / "server.key"))
    result = doctor(daemon.spec_path, "--host", daemon.host, "--root", tmp_path / "img")
    assert result.exit_code == 1 and str(copy / "tls" / "server.key") in result.stdout


def test_host_is_this_machine_unless_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text(
        "version: 1\ncluster: c\nhosts:\n"
        "  mx1: {fqdn: mx1.example.net}\n  mx2: {fqdn: mx2.example.net}\n"
    )
    monkeypatch.setattr("compiler.localhost.machine_names", lambda: ["vm", "vm"])
    result = doctor(spec, "--root", tmp_path)
    assert result.exit_code == 1
    assert "this machine (vm) matches no host in the spec; name one with --host" in result.output
    monkeypatch.setattr("compiler.localhost.machine_names", lambda: ["mx2", "mx2.example.net"])
    result = doctor(spec, "--root", tmp_path, "--format", "json")
    reported = json.loads(result.stdout)
    assert reported and {f["host"] for f in reported} == {"mx2"}


def _slow_sendmail(tmp_path: Path, flags: bool) -> Path:
    """A stand-in for sendmail that prints (or not) its build flags, then hangs, as
    sendmail does while the host name does not resolve."""
    script = tmp_path / "sendmail"
    first = 'echo "Version 8.17.1.9"; echo " Compiled with: LOG STARTTLS"; ' if flags else ""
    script.write_text(f"#!/bin/sh\n{first}exec sleep 30\n")
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("flags", [True, False])
def test_sendmail_check_cut_short_is_a_finding(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, flags: bool
) -> None:
    script = _slow_sendmail(tmp_path, flags)
    monkeypatch.setattr(binary, "find_sendmail", lambda: str(script))
    argv = [str(script), "-d0.13", "-bt"]
    monkeypatch.setattr(binary, "_command", lambda *_: (argv, 0.5, "mx1.example.net"))
    start = time.monotonic()
    [found] = binary.check_binary(tmp_path / "sendmail.cf", "mx1.example.net")
    assert time.monotonic() - start < 10
    unchecked = "sendmail.cf was" if flags else "its STARTTLS support and sendmail.cf were"
    assert (found.path, found.code, found.severity) == (str(script), "D033", "warning")
    assert found.message == (
        f"cut short after 0.5 s: {script} -d0.13 -bt did not finish (sendmail waits while"
        f" the host name mx1.example.net does not resolve), so {unchecked} not checked for"
        " errors"
    )
    assert found.fix.startswith("make mx1.example.net resolve on this machine")


def test_sendmail_check_cut_short_without_a_qualified_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = _slow_sendmail(tmp_path, True)
    monkeypatch.setattr(binary, "find_sendmail", lambda: str(script))
    monkeypatch.setattr(binary, "UNQUALIFIED_TIMEOUT", 0.25)
    monkeypatch.setattr(binary.socket, "gethostname", lambda: "vm")
    monkeypatch.setattr(binary.os, "geteuid", lambda: 1000)
    [found] = binary.check_binary(tmp_path / "sendmail.cf", "mx1.example.net")
    assert found.code == "D033"
    assert found.message.startswith(f"cut short after 0.25 s: {script} -d0.13 -bt did not")
    assert "host name vm is not qualified" in found.message
    assert "run tlsc doctor as root" in found.fix
