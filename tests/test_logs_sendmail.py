"""`tlsc logs` on the lines a real sendmail wrote (sendmail_fixture.py), not on samples."""

from __future__ import annotations

import json
import re
import smtplib
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from releases import release
from sendmail_fixture import DaemonFactory, SendmailDaemon, sendmail_daemon, throwaway_ca

__all__ = ["release", "sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

#: on both releases: the lines of a sendmail 8.17.1.9, then of an 8.18.1
pytestmark = [pytest.mark.realtools, pytest.mark.usefixtures("release")]
REPO = Path(__file__).resolve().parent.parent
#: the sink's lines: "HH:MM:SS <PRI>Mon DD HH:MM:SS TAG[PID]: message"
SINK = re.compile(r"\d\d:\d\d:\d\d (<\d+>)(\w{3} [ \d]\d \d\d:\d\d:\d\d) (.*)")


def session(daemon: SendmailDaemon, client_cert: bool = False, tls12: bool = False) -> None:
    ctx = ssl.create_default_context(cafile=str(daemon.ca_cert))
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if client_cert:
        tls = daemon.work / "tls"
        ctx.load_cert_chain(str(tls / "client.crt"), str(tls / "client.key"))
    smtp = smtplib.SMTP(timeout=10)
    smtp._host = "127.0.0.1"  # type: ignore[attr-defined]  # SNI and the name check use it
    smtp.connect("127.0.0.1", daemon.port)
    smtp.ehlo("client.tlsc.test")
    smtp.starttls(context=ctx)
    smtp.ehlo("client.tlsc.test")
    smtp.quit()


def as_syslog_file(daemon: SendmailDaemon) -> str:
    """The sink's raw messages as a syslog daemon writes them: time, host, tag[pid]: message."""
    out = []
    for line in daemon.syslog():
        m = SINK.fullmatch(line)
        assert m is not None, line
        out.append(f"{m[2]} {daemon.host} {m[3]}\n")
    return "".join(out)


def tlsc_logs(*args: str, stdin: str) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "compiler", "logs", "--format", "json", *args, "-"],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_real_server_side_lines(sendmail_daemon: DaemonFactory) -> None:
    def ask(spec: dict[str, Any]) -> None:
        spec["defaults"]["tls"]["request_client_cert"] = True

    daemon = sendmail_daemon(edit=ask)
    session(daemon)  # no client certificate: verify=NO
    session(daemon, client_cert=True, tls12=True)  # verify=OK, TLS 1.2
    daemon.wait_for_log(r"STARTTLS=server, relay=.*verify=OK")
    daemon.wait_for_log(r"STARTTLS=server, cert-subject=/O=tlsc\+20test/CN=client")
    records = tlsc_logs(stdin=as_syslog_file(daemon))
    assert len(records) == 2
    first, second = records
    assert {k: first[k] for k in ("host", "direction", "relay", "addr", "verify")} == {
        "host": daemon.host,
        "direction": "server",
        "relay": "localhost",
        "addr": "[127.0.0.1]",
        "verify": "NO",
    }
    assert first["version"] == "TLSv1.3" and first["cipher"].startswith("TLS_")
    assert first["bits"] == first["bits_max"] == 256 and first["error"] is None
    assert first["cert_subject"] == first["cert_issuer"] == ""  # LogLevel 14: cert line, no cert
    assert (second["version"], second["verify"]) == ("TLSv1.2", "OK")
    assert isinstance(second["bits"], int) and second["bits"] >= 128
    assert second["cipher"].startswith("ECDHE-")
    assert second["cert_subject"] == "/O=tlsc+20test/CN=client.tlsc.test"
    assert second["cert_issuer"].startswith("/O=tlsc+20test/CN=")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", first["time"])
    # the raw socket messages (no host) parse too
    raw = "".join(SINK.sub(r"\1\2 \3", line) + "\n" for line in daemon.syslog())
    assert [r["verify"] for r in tlsc_logs(stdin=raw)] == ["NO", "OK"]


def test_real_handshake_failure(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon()
    smtp = smtplib.SMTP(timeout=10)
    smtp.connect("127.0.0.1", daemon.port)
    smtp.ehlo("client.tlsc.test")
    assert smtp.docmd("STARTTLS")[0] == 220
    smtp.close()  # no handshake: the server's accept fails
    daemon.wait_for_log(r"STARTTLS=server, error: accept failed")
    (record,) = tlsc_logs(stdin=as_syslog_file(daemon))
    assert record["direction"] == "server" and record["addr"] == "[127.0.0.1]"
    assert record["error"].startswith("accept failed=-1, reason=")
    assert record["verify"] is None and record["bits"] is None
