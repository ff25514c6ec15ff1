"""A real sendmail enforces the TLS rules that tlsc writes into the access file.

The rules are written in the spec (`domains:`, `recipients:`, `issuer_tags:`),
compiled by tlsc and built by sendmail_fixture.py; the tests assert on the
replies the daemon gives and on the lines it logs, and each has a case where
the rule is absent or met, so that each can fail.

Inbound (TLS_Clt): sendmail sees the client 127.0.0.1 as `localhost`, and
looks the rule up by that name, then by the address and its prefixes, then
the bare tag. Outbound (TLS_Srv, Try_TLS, TLS_Rcpt): daemon A relays to daemon
B through `SMART_HOST` `[127.0.0.1]`, with the relay mailer pointed at B's port
(`RELAY_MAILER_ARGS` `TCP $h PORT`) and interactive delivery, so A delivers in
the SMTP session that handed it the message and keeps in its queue what it
defers (no queue runner retries it). For A the server's name is `[127.0.0.1]`,
so the rules are keyed by the address `127.0.0.1` or the bare tag.

Every test runs twice (tests/releases.py): with daemons of sendmail 8.17.1.9
and of 8.18.1. Both give the same replies; where their log lines differ the
test says so (the try_tls line, the bounce's DSN code).
"""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from realtools import SendmailRelease
from releases import release
from sendmail_fixture import DaemonFactory, SendmailDaemon, sendmail_daemon, throwaway_ca
from test_logs_sendmail import as_syslog_file, tlsc_logs
from throwaway_ca import ThrowawayCA

__all__ = ["release", "sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

#: every test runs on both releases: its daemons are 8.17.1.9's, then 8.18.1's
pytestmark = [pytest.mark.realtools, pytest.mark.usefixtures("release")]

Edit = Callable[[dict[str, Any]], None]
SENDER = "postmaster@a.tlsc.test"
#: B's local users: postmaster (an alias of root) and root
GUARDED = "postmaster@b.tlsc.test"
OTHER = "root@b.tlsc.test"
CA_NAME = "/O=tlsc test/CN=tlsc Test CA"  # the session CA (throwaway_ca.ThrowawayCA)


def rules(**sections: Any) -> Edit:
    """A spec edit: replace the example's `domains:`, `recipients:`, ... sections."""

    def edit(spec: dict[str, Any]) -> None:
        spec.update(sections)

    return edit


def access_text(daemon: SendmailDaemon) -> str:
    return Path(daemon.spec["defaults"]["paths"]["access"]).read_text(encoding="utf-8")


@contextmanager
def client(daemon: SendmailDaemon, starttls: bool, cert: bool = False) -> Iterator[smtplib.SMTP]:
    """An SMTP session after EHLO (and STARTTLS and EHLO again), with or without a client cert."""
    smtp = smtplib.SMTP(timeout=10)
    smtp._host = "127.0.0.1"  # type: ignore[attr-defined]  # SNI and the name check use it
    smtp.connect("127.0.0.1", daemon.port)
    try:
        smtp.ehlo("client.tlsc.test")
        if starttls:
            ctx = ssl.create_default_context(cafile=str(daemon.ca_cert))
            if cert:
                tls = daemon.work / "tls"
                ctx.load_cert_chain(str(tls / "client.crt"), str(tls / "client.key"))
            smtp.starttls(context=ctx)
            smtp.ehlo("client.tlsc.test")
        yield smtp
    finally:
        smtp.close()


def reply(smtp: smtplib.SMTP, command: str) -> str:
    code, text = smtp.docmd(command)
    return f"{code} {text.decode()}"


def mail_from(daemon: SendmailDaemon, starttls: bool, cert: bool = False) -> str:
    with client(daemon, starttls, cert) as smtp:
        return reply(smtp, "MAIL FROM:<someone@client.tlsc.test>")


# -- inbound: TLS_Clt -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "request_client_cert"),
    [
        ("localhost", False),  # ${client_name}
        ("127.0.0.1", False),  # ${client_addr}
        ("127", False),  # an address prefix
        ("*", False),  # the bare tag
        ("127.0.0.1", True),  # the client is asked anyway: no Srv_Features line needed
    ],
)
def test_inbound_verify(
    sendmail_daemon: DaemonFactory, key: str, request_client_cert: bool
) -> None:
    def edit(spec: dict[str, Any]) -> None:
        spec["domains"] = {key: {"inbound": "verify"}}
        spec["defaults"]["tls"]["request_client_cert"] = request_client_cert

    daemon = sendmail_daemon(edit=edit)
    entry = "" if key == "*" else key
    assert f"\nTLS_Clt:{entry}\tVERIFY\n" in access_text(daemon)
    assert (f"\nSrv_Features:{entry}\tv\n" in access_text(daemon)) is not request_client_cert
    assert mail_from(daemon, starttls=True, cert=True) == (
        "250 2.1.0 <someone@client.tlsc.test>... Sender ok"
    )
    daemon.wait_for_log(r"STARTTLS=server, relay=localhost \[127\.0\.0\.1\], .*verify=OK,")
    assert mail_from(daemon, starttls=True) == "454 4.7.0 not authenticated"
    daemon.wait_for_log(
        r"ruleset=tls_client, arg1=NO, arg2=STARTTLS, relay=localhost \[127\.0\.0\.1\],"
        r" reject=454 4\.7\.0 not authenticated"
    )
    assert mail_from(daemon, starttls=False) == "454 4.7.0 authentication required"


@pytest.mark.parametrize(
    ("on_failure", "refusal"),
    [("temporary", "403 4.7.0 not authenticated"), ("permanent", "503 5.7.0 not authenticated")],
)
def test_inbound_on_failure(sendmail_daemon: DaemonFactory, on_failure: str, refusal: str) -> None:
    rule = {"require": "verify", "on_failure": on_failure}
    daemon = sendmail_daemon(edit=rules(domains={"localhost": {"inbound": rule}}))
    assert mail_from(daemon, starttls=True) == refusal
    assert mail_from(daemon, starttls=True, cert=True).startswith("250 ")


def test_inbound_verify_needs_the_certificate_request(sendmail_daemon: DaemonFactory) -> None:
    """Why tlsc adds `Srv_Features:KEY v`: without it the client is never asked."""
    daemon = sendmail_daemon(edit=rules(domains={"127.0.0.1": {"inbound": "verify"}}), start=False)
    access = Path(daemon.spec["defaults"]["paths"]["access"])
    lines = access.read_text(encoding="utf-8").splitlines(keepends=True)
    access.write_text("".join(line for line in lines if not line.startswith("Srv_Features:")))
    daemon.build()
    daemon.start()
    assert mail_from(daemon, starttls=True, cert=True) == "454 4.7.0 no authentication requested"
    daemon.wait_for_log(r"STARTTLS=server, relay=localhost \[127\.0\.0\.1\], .*verify=NOT,")


@pytest.mark.parametrize(
    ("min_bits", "with_tls"),
    [
        (None, "250 2.1.0 <someone@client.tlsc.test>... Sender ok"),
        (300, "454 4.7.0 encryption too weak 256 less than 300"),
    ],
)
def test_inbound_encrypt(
    sendmail_daemon: DaemonFactory, min_bits: int | None, with_tls: str
) -> None:
    rule: dict[str, Any] = {"require": "encrypt"}
    if min_bits is not None:
        rule["min_bits"] = min_bits
    daemon = sendmail_daemon(edit=rules(domains={"127.0.0.1": {"inbound": rule}}))
    assert f"\nTLS_Clt:127.0.0.1\tENCR:{min_bits or 128}\n" in access_text(daemon)
    assert mail_from(daemon, starttls=False) == (
        f"454 4.7.0 encryption too weak 0 less than {min_bits or 128}"
    )
    daemon.wait_for_log(
        r"ruleset=check_mail, arg1=<someone@client\.tlsc\.test>, relay=localhost \[127\.0\.0\.1\],"
        rf" reject=454 4\.7\.0 encryption too weak 0 less than {min_bits or 128}$"
    )
    assert mail_from(daemon, starttls=True) == with_tls


def test_inbound_without_a_rule_accepts(sendmail_daemon: DaemonFactory) -> None:
    """The control: the example's rules name other peers, so 127.0.0.1 may do as it likes."""
    daemon = sendmail_daemon()
    clt = re.findall(r"^TLS_Clt:(\S*)\t", access_text(daemon), re.MULTILINE)
    assert clt == ["192.0.2", "laptop.example.com"]
    for starttls in (False, True):
        with client(daemon, starttls) as smtp:
            assert reply(smtp, "MAIL FROM:<someone@client.tlsc.test>").startswith("250 2.1.0 ")
            assert reply(smtp, f"RCPT TO:<postmaster@{daemon.fqdn}>").startswith("250 2.1.5 ")
    assert not [line for line in daemon.syslog() if "ruleset=tls_client" in line]


def test_inbound_starttls_false(sendmail_daemon: DaemonFactory) -> None:
    daemon = sendmail_daemon(edit=rules(domains={"127.0.0.1": {"inbound": {"starttls": False}}}))
    assert "\nSrv_Features:127.0.0.1\tS\n" in access_text(daemon)
    with client(daemon, starttls=False) as smtp:
        assert not smtp.has_extn("starttls")
        assert reply(smtp, "STARTTLS") == "503 5.5.0 TLS not available"


def test_tls_rcpt_is_not_checked_inbound(sendmail_daemon: DaemonFactory) -> None:
    """A server does not check TLS_Rcpt: it accepts the recipient from any client.

    TLS_Rcpt guards the recipients we *send* to (cf.README: tls_rcpt "is called before
    a RCPT TO: command is sent"); test_outbound_tls_rcpt shows it working.
    """

    def edit(spec: dict[str, Any]) -> None:
        fqdn = next(iter(spec["hosts"].values()))["fqdn"]
        spec["recipients"] = {f"postmaster@{fqdn}": "verify", "*": "verify"}

    daemon = sendmail_daemon(edit=edit)
    assert f"\nTLS_Rcpt:postmaster@{daemon.fqdn}\tVERIFY\n" in access_text(daemon)
    with client(daemon, starttls=True) as smtp:
        assert reply(smtp, "MAIL FROM:<someone@client.tlsc.test>").startswith("250 ")
        assert reply(smtp, f"RCPT TO:<postmaster@{daemon.fqdn}>").startswith("250 2.1.5 ")
    daemon.wait_for_log(r"STARTTLS=server, relay=localhost \[127\.0\.0\.1\], .*verify=NOT,")


# -- outbound: TLS_Srv, Try_TLS, TLS_Rcpt ---------------------------------------------


def named(fqdn: str) -> Edit:
    """A spec edit: the host's fqdn (two daemons with one $j see a mail loop)."""

    def edit(spec: dict[str, Any]) -> None:
        next(iter(spec["hosts"].values()))["fqdn"] = fqdn
        spec["defaults"]["mc"]["defines"]["confDOMAIN_NAME"] = fqdn

    return edit


def pair(
    sendmail_daemon: DaemonFactory, edit: Edit, b_ca: ThrowawayCA | None = None
) -> tuple[SendmailDaemon, SendmailDaemon]:
    """Daemons A and B, A relaying everything to B; A's spec gets `edit`.

    B's server certificate comes from `b_ca` (default: the CA that A trusts).
    """
    b = sendmail_daemon(edit=named("b.tlsc.test"), start=False)
    if b_ca is not None:
        b.install_server_cert(b_ca.issue(b.fqdn, [b.fqdn, "127.0.0.1"]))
    b.start()

    def edit_a(spec: dict[str, Any]) -> None:
        named("a.tlsc.test")(spec)
        defines = spec["defaults"]["mc"]["defines"]
        defines["SMART_HOST"] = "[127.0.0.1]"
        defines["RELAY_MAILER_ARGS"] = f"TCP $h {b.port}"
        defines["confDELIVERY_MODE"] = "interactive"
        spec["recipients"] = {}
        edit(spec)

    return sendmail_daemon(edit=edit_a), b


def send(a: SendmailDaemon, *recipients: str) -> None:
    with smtplib.SMTP("127.0.0.1", a.port, timeout=10) as smtp:
        refused = smtp.sendmail(SENDER, list(recipients), "Subject: tlsc rules\r\n\r\nhello\r\n")
        assert refused == {}


def status(a: SendmailDaemon, recipient: str) -> str:
    """What A's delivery attempt did for `recipient`: the `stat=` of its log line."""
    to = re.escape(f"<{recipient}>")
    line = a.wait_for_log(rf"to=(\S+,)?{to}(,\S+)?, .* stat=")
    return line.split(" stat=", 1)[1]


def queued(a: SendmailDaemon, timeout: float = 5.0) -> tuple[str, list[str]]:
    """The one message A keeps queued: its status (`M` line) and recipients left (`R` lines)."""
    deadline = time.monotonic() + timeout
    while True:
        qfs = list((a.work / "mqueue").glob("qf*"))
        lines = qfs[0].read_bytes().decode("latin-1").splitlines() if len(qfs) == 1 else []
        status = [line[1:] for line in lines if line.startswith("M")]
        if status or time.monotonic() > deadline:
            assert status, f"A's queue holds {qfs}"
            recipients = [line.split(":", 1)[1] for line in lines if line.startswith("R")]
            return status[0], recipients
        time.sleep(0.02)


def queue_empties(a: SendmailDaemon, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while list((a.work / "mqueue").glob("qf*")):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_outbound_verify_delivers(sendmail_daemon: DaemonFactory) -> None:
    a, b = pair(sendmail_daemon, rules(domains={"127.0.0.1": {"outbound": "verify"}}))
    assert "\nTLS_Srv:127.0.0.1\tVERIFY\n" in access_text(a)
    send(a, GUARDED)
    assert status(a, GUARDED).startswith("Sent (")
    a.wait_for_log(r"STARTTLS=client, relay=\[127\.0\.0\.1\], version=TLSv1\.3, verify=OK,")
    assert not [line for line in a.syslog() if "ruleset=tls_server" in line]
    b.wait_for_log(rf"from=<{SENDER}>, .*proto=ESMTPS, ")
    assert queue_empties(a)
    # tlsc logs reads A's real client-side lines
    records = [r for r in tlsc_logs(stdin=as_syslog_file(a)) if r["direction"] == "client"]
    assert len(records) == 1, records
    (record,) = records
    assert {k: record[k] for k in ("host", "direction", "addr", "version", "verify")} == {
        "host": a.host,
        "direction": "client",
        "addr": "[127.0.0.1]",
        "version": "TLSv1.3",
        "verify": "OK",
    }
    assert "relay" not in record  # sendmail logs `relay=[127.0.0.1]`: an address, no name
    assert record["bits"] == record["bits_max"] == 256 and record["error"] is None
    assert record["cert_subject"] == "/O=tlsc+20test/CN=b.tlsc.test"
    assert record["cert_issuer"] == "/O=tlsc+20test/CN=tlsc+20Test+20CA"


@pytest.mark.parametrize("rule", [True, False], ids=["verify", "no-rule"])
def test_outbound_verify_refuses_an_untrusted_server(
    sendmail_daemon: DaemonFactory, rule: bool
) -> None:
    domains = {"127.0.0.1": {"outbound": "verify"}} if rule else {}
    a, b = pair(sendmail_daemon, rules(domains=domains), b_ca=ThrowawayCA("Other CA"))
    send(a, GUARDED)
    a.wait_for_log(r"STARTTLS=client, relay=\[127\.0\.0\.1\], version=TLSv1\.3, verify=FAIL,")
    if not rule:  # the control: TLS without a rule takes any certificate
        assert status(a, GUARDED).startswith("Sent (")
        assert queue_empties(a)
        return
    assert status(a, GUARDED) == "Deferred: 454 4.7.0 authentication failed"
    a.wait_for_log(
        r"ruleset=tls_server, arg1=FAIL, relay=\[127\.0\.0\.1\],"
        r" reject=454 4\.7\.0 authentication failed"
    )
    assert queued(a) == ("Deferred: 454 4.7.0 authentication failed", [f"<{GUARDED}>"])
    b.wait_for_log(r"did not issue MAIL/EXPN/VRFY/ETRN")
    assert not [line for line in b.syslog() if f"from=<{SENDER}>" in line]
    records = [r for r in tlsc_logs(stdin=as_syslog_file(a)) if r["direction"] == "client"]
    assert [(r["kind"], r["addr"], r["verify"]) for r in records] == [
        ("handshake", "[127.0.0.1]", "FAIL"),
        ("refusal", "[127.0.0.1]", "FAIL"),  # ruleset=tls_server, arg1=FAIL
    ]
    assert records[1]["reply"] == "454 4.7.0 authentication failed"


def test_outbound_try_tls_no(sendmail_daemon: DaemonFactory, release: SendmailRelease) -> None:
    a, b = pair(sendmail_daemon, rules(domains={"127.0.0.1": {"outbound": {"starttls": False}}}))
    assert "\nTry_TLS:127.0.0.1\tNO\n" in access_text(a)
    send(a, GUARDED)
    assert status(a, GUARDED).startswith("Sent (")
    # 8.17.1.9 logs the skip as a rejection, 8.18.1 as a status: the same reply either way
    word = "reject" if release.family == "8.17" else "status"
    a.wait_for_log(
        rf"ruleset=try_tls, arg1=\[127\.0\.0\.1\], relay=\[127\.0\.0\.1\], {word}=550 5\.7\.1"
        r" <postmaster@b\.tlsc\.test>\.\.\. do not try TLS with \[127\.0\.0\.1\] \[127\.0\.0\.1\]$"
    )
    assert not [line for line in a.syslog() if "STARTTLS=client" in line]
    b.wait_for_log(rf"from=<{SENDER}>, .*proto=ESMTP, ")
    assert not [line for line in b.syslog() if "STARTTLS=server, relay=" in line]


ISSUER_CHECKS = {"require": "verify", "issuer_tag": "TestCA", "issuer": CA_NAME}


@pytest.mark.parametrize(
    ("rule", "issuer_tags", "outcome"),
    [
        ({"require": "verify", "cn": "b.tlsc.test"}, {}, "Sent"),
        (
            {"require": "verify", "cn": "c.tlsc.test"},
            {},
            "Deferred: 454 4.7.0 CN b.tlsc.test does not match c.tlsc.test",
        ),
        # sendmail compares a bare CN with the server's name, here the smart host `[127.0.0.1]`
        (
            {"require": "verify", "cn": True},
            {},
            "Deferred: 454 4.7.0 CN b.tlsc.test does not match [127.0.0.1]",
        ),
        ({"require": "verify", "subject": "/O=tlsc test/CN=b.tlsc.test"}, {}, "Sent"),
        (ISSUER_CHECKS, {"TestCA": [CA_NAME]}, "Sent"),
        (
            ISSUER_CHECKS,
            {"TestCA": ["/O=tlsc test/CN=Other CA"]},
            "Deferred: 454 4.7.0 Cert Issuer /O=tlsc+20test/CN=tlsc+20Test+20CA not acceptable",
        ),
        (
            {"require": "encrypt", "min_bits": 300},
            {},
            "Deferred: 454 4.7.0 encryption too weak 256 less than 300",
        ),
    ],
    ids=["cn", "cn-other", "cn-true", "subject", "issuer", "issuer-other", "bits"],
)
def test_outbound_certificate_checks(
    sendmail_daemon: DaemonFactory,
    rule: dict[str, Any],
    issuer_tags: dict[str, list[str]],
    outcome: str,
) -> None:
    """The `+CN`, `+CS`, `+CI` and `+CITag` extensions, with tlsc's +XX encoding of names."""
    edit = rules(domains={"*": {"outbound": rule}}, issuer_tags=issuer_tags)
    a, _ = pair(sendmail_daemon, edit)
    send(a, GUARDED)
    a.wait_for_log(r"STARTTLS=client, relay=\[127\.0\.0\.1\], version=TLSv1\.3, verify=OK,")
    if outcome == "Sent":
        assert status(a, GUARDED).startswith("Sent (")
    else:
        assert status(a, GUARDED) == outcome
        assert queued(a) == (outcome, [f"<{GUARDED}>"])


@pytest.mark.parametrize("trusted", [True, False])
def test_outbound_tls_rcpt(sendmail_daemon: DaemonFactory, trusted: bool) -> None:
    edit = rules(recipients={GUARDED: "verify"})
    a, b = pair(sendmail_daemon, edit, b_ca=None if trusted else ThrowawayCA("Other CA"))
    assert f"\nTLS_Rcpt:{GUARDED}\tVERIFY\n" in access_text(a)
    send(a, GUARDED, OTHER)
    assert status(a, OTHER).startswith("Sent (")
    if trusted:
        assert status(a, GUARDED).startswith("Sent (")
        b.wait_for_log(rf"from=<{SENDER}>, .*nrcpts=2, .*proto=ESMTPS, ")
        return
    assert status(a, GUARDED) == "Deferred"
    a.wait_for_log(
        rf"ruleset=tls_rcpt, arg1={re.escape(GUARDED)}, relay=\[127\.0\.0\.1\],"
        r" reject=454 4\.7\.0 authentication failed"
    )
    b.wait_for_log(rf"from=<{SENDER}>, .*nrcpts=1, .*proto=ESMTPS, ")
    # the status is the reply's text; only the guarded recipient is left
    assert queued(a) == ("authentication failed", [f"<{GUARDED}>"])


def test_outbound_tls_rcpt_after_try_tls_no_bounces(
    sendmail_daemon: DaemonFactory, release: SendmailRelease
) -> None:
    """A quirk of both releases: after Try_TLS NO, a failing TLS_Rcpt bounces the recipient.

    It gets "Data format error" and a DSN (8.17.1.9: dsn=5.5.2, 8.18.1: dsn=5.6.0), where
    a server that offers no STARTTLS or shows an untrusted certificate
    (test_outbound_tls_rcpt) gets the recipient deferred.
    """
    edit = rules(
        domains={"127.0.0.1": {"outbound": {"starttls": False}}}, recipients={GUARDED: "encrypt"}
    )
    a, b = pair(sendmail_daemon, edit)
    send(a, GUARDED, OTHER)
    assert status(a, OTHER).startswith("Sent (")
    a.wait_for_log(
        rf"ruleset=tls_rcpt, arg1={re.escape(GUARDED)}, relay=\[127\.0\.0\.1\],"
        r" reject=454 4\.7\.0 encryption too weak 0 less than 128"
    )
    assert status(a, GUARDED) == "Data format error"
    dsn = {"8.17": r"5\.5\.2", "8.18": r"5\.6\.0"}[release.family]
    a.wait_for_log(rf"to=<{re.escape(GUARDED)}>, .* dsn={dsn}, stat=Data format error$")
    a.wait_for_log(r"DSN: Data format error")
    b.wait_for_log(rf"from=<{SENDER}>, .*nrcpts=1, .*proto=ESMTP, ")
