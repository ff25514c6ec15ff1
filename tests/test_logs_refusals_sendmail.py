"""`tlsc logs` on the refusals a real sendmail logged: TLS_Clt, Try_TLS NO, a TLS_Srv deferral.

Inbound, a client on 127.0.0.1 talks to one daemon (sendmail sees it as
`localhost`); outbound, daemon A relays to daemon B (test_rules_sendmail.pair).
The JSON and the text summary are both read from the daemon's own syslog.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from realtools import sendmail_818
from sendmail_fixture import DaemonFactory, SendmailDaemon, sendmail_daemon, throwaway_ca
from test_logs_sendmail import REPO, as_syslog_file, tlsc_logs
from test_rules_sendmail import GUARDED, client, named, pair, reply, rules, send, status
from throwaway_ca import ThrowawayCA

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools
SENDER = "<someone@client.tlsc.test>"


def summary(daemon: SendmailDaemon) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "compiler", "logs", "-"],
        input=as_syslog_file(daemon),
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def refusals(daemon: SendmailDaemon) -> list[dict[str, Any]]:
    return [r for r in tlsc_logs(stdin=as_syslog_file(daemon)) if r["kind"] == "refusal"]


def row(text: str, *cells: str) -> bool:
    """A table row holding these cells, in order."""
    return any(
        all(c in line for c in cells) and line.index(cells[0]) < line.index(cells[-1])
        for line in text.splitlines()
    )


@pytest.mark.parametrize("delay_checks", [False, True], ids=["check_mail", "delay_checks"])
def test_tls_clt_refusal_of_a_clear_text_client(
    sendmail_daemon: DaemonFactory, delay_checks: bool
) -> None:
    """ENCR:128 for localhost: a client without STARTTLS is refused at MAIL (at RCPT with
    delay_checks, whose check_rcpt runs the check_mail rules), logged by check_*."""

    def edit(spec: dict[str, Any]) -> None:
        rules(domains={"localhost": {"inbound": "encrypt"}})(spec)
        if delay_checks:
            spec["defaults"]["mc"]["features"].append("delay_checks")

    daemon = sendmail_daemon(edit=edit)
    weak = "454 4.7.0 encryption too weak 0 less than 128"
    with client(daemon, starttls=False) as smtp:
        if delay_checks:
            assert reply(smtp, f"MAIL FROM:{SENDER}").startswith("250 ")
            assert reply(smtp, f"RCPT TO:<postmaster@{daemon.fqdn}>") == weak
        else:
            assert reply(smtp, f"MAIL FROM:{SENDER}") == weak
    ruleset = "check_rcpt" if delay_checks else "check_mail"
    daemon.wait_for_log(rf"ruleset={ruleset}, arg1=<.*reject={weak}")
    (refusal,) = refusals(daemon)
    arg1 = f"<postmaster@{daemon.fqdn}>" if delay_checks else SENDER
    assert refusal == {
        "kind": "refusal",
        "time": refusal["time"],
        "host": daemon.host,
        "direction": "server",
        "relay": "localhost",
        "addr": "[127.0.0.1]",
        "ruleset": ruleset,
        "arg1": arg1,
        "reply": weak,
    }
    text = summary(daemon)
    assert row(text, "TLS_Clt", ruleset, "encryption too weak 0 less than 128", "1")
    assert row(text, "localhost [127.0.0.1]", "server (in)", f"{ruleset} refused (TLS_Clt)")


def test_tls_clt_refusal_after_starttls(sendmail_daemon: DaemonFactory) -> None:
    """VERIFY for localhost, a client with no certificate: `ruleset=tls_client, arg1=NO`."""

    def edit(spec: dict[str, Any]) -> None:
        rules(domains={"localhost": {"inbound": "verify"}})(spec)
        spec["defaults"]["tls"]["request_client_cert"] = True

    daemon = sendmail_daemon(edit=edit)
    with client(daemon, starttls=True) as smtp:
        assert reply(smtp, f"MAIL FROM:{SENDER}") == "454 4.7.0 not authenticated"
    daemon.wait_for_log(r"ruleset=tls_client, arg1=NO, arg2=STARTTLS, .*not authenticated")
    records = tlsc_logs(stdin=as_syslog_file(daemon))
    assert [(r["kind"], r["verify"]) for r in records] == [("handshake", "NO"), ("refusal", "NO")]
    refusal = records[1]
    assert (refusal["ruleset"], refusal["arg1"], refusal["direction"], refusal["relay"]) == (
        "tls_client",
        "NO",
        "server",
        "localhost",
    )
    text = summary(daemon)
    assert row(text, "server (in)", "NO", "1", "1")  # one handshake, one refusal
    assert row(text, "TLS_Clt", "tls_client", "not authenticated", "1")


def test_try_tls_no(sendmail_daemon: DaemonFactory) -> None:
    a, _ = pair(sendmail_daemon, rules(domains={"127.0.0.1": {"outbound": {"starttls": False}}}))
    send(a, GUARDED)
    assert status(a, GUARDED).startswith("Sent (")
    line = a.wait_for_log(r"ruleset=try_tls, ")
    assert ", reject=550 5.7.1 " in line  # 8.17.1
    (refusal,) = refusals(a)
    assert {k: refusal[k] for k in ("direction", "ruleset", "arg1", "addr")} == {
        "direction": "client",
        "ruleset": "try_tls",
        "arg1": "[127.0.0.1]",
        "addr": "[127.0.0.1]",
    }
    assert "verify" not in refusal and "do not try TLS with [127.0.0.1]" in refusal["reply"]
    text = summary(a)
    assert row(text, "Try_TLS", "try_tls", "do not try TLS with ...", "1")
    assert "TLS not tried (Try_TLS NO): [127.0.0.1] (1)" in text


def test_tls_srv_deferral(sendmail_daemon: DaemonFactory) -> None:
    """VERIFY for B, whose certificate A does not trust: a handshake with verify=FAIL,
    then `ruleset=tls_server, arg1=FAIL` and the message deferred."""
    edit = rules(domains={"127.0.0.1": {"outbound": "verify"}})
    a, _ = pair(sendmail_daemon, edit, b_ca=ThrowawayCA("Other CA"))
    send(a, GUARDED)
    assert status(a, GUARDED) == "Deferred: 454 4.7.0 authentication failed"
    a.wait_for_log(r"ruleset=tls_server, arg1=FAIL, ")
    (refusal,) = refusals(a)
    assert {k: refusal[k] for k in ("direction", "ruleset", "arg1", "verify", "addr", "reply")} == {
        "direction": "client",
        "ruleset": "tls_server",
        "arg1": "FAIL",
        "verify": "FAIL",
        "addr": "[127.0.0.1]",
        "reply": "454 4.7.0 authentication failed",
    }
    text = summary(a)
    assert row(text, "TLS_Srv", "tls_server", "authentication failed", "1")
    assert row(text, "client (out)", "FAIL", "1", "1")
    assert row(text, "[127.0.0.1]", "client (out)", "tls_server refused verify=FAIL")


def test_try_tls_no_on_sendmail_818(sendmail_daemon: DaemonFactory) -> None:
    """8.17.2 and later log try_tls with `status=` where 8.17.1 wrote `reject=`."""
    release = sendmail_818()
    b = sendmail_daemon(edit=named("b.tlsc.test"), release=release)

    def edit_a(spec: dict[str, Any]) -> None:
        named("a.tlsc.test")(spec)
        defines = spec["defaults"]["mc"]["defines"]
        defines["SMART_HOST"] = "[127.0.0.1]"
        defines["RELAY_MAILER_ARGS"] = f"TCP $h {b.port}"
        defines["confDELIVERY_MODE"] = "interactive"
        spec["recipients"] = {}
        spec["domains"] = {"127.0.0.1": {"outbound": {"starttls": False}}}

    a = sendmail_daemon(edit=edit_a, release=release)
    send(a, GUARDED)
    line = a.wait_for_log(r"ruleset=try_tls, ")
    (refusal,) = refusals(a)
    assert refusal["ruleset"] == "try_tls" and refusal["arg1"] == "[127.0.0.1]"
    assert f", status={refusal['reply']}" in line
    assert refusal["reply"].startswith("550 5.7.1 ") and "do not try TLS with" in refusal["reply"]
