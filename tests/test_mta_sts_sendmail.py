"""A real sendmail of each release enforces MTA-STS as tls.mta_sts sets it up.

Daemon A relays to daemon B (test_rules_sendmail.py's pair, here with the
release as a parameter) and asks tests/sts_socketmap.py, which answers as
postfix-mta-sts-resolver does, about the recipient's domain b.tlsc.test.

MTA-STS is per recipient domain and per MX *name*: sendmail's STS_Check
(tls_rcpt) compares `{server_name}` with the policy's `match=` list and
STS_SAN (the same ruleset) with the server certificate's names, and
STS_secure (tls_server) wants it verified. Through `SMART_HOST`
`[127.0.0.1]` the server's name would be the address literal, so A relays to
`[localhost]`, which sendmail qualifies with its domain: the server A sees is
`localhost.tlsc.test` (the policy's MX and B's certificate name it, or not).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from releases import RELEASE_IDS as RELEASES
from releases import release_of
from sendmail_fixture import (
    DaemonFactory,
    SendmailDaemon,
    refused_port,
    sendmail_daemon,
    throwaway_ca,
)
from sts_socketmap import Policy, StsSocketmap
from test_rules_sendmail import GUARDED, OTHER, SENDER, named, queue_empties, queued, send, status
from throwaway_ca import ThrowawayCA

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools

DOMAIN = "b.tlsc.test"  # GUARDED's and OTHER's domain
#: the name A gives B, reached through SMART_HOST [localhost]
MX = "localhost.tlsc.test"


def sts_pair(
    sendmail_daemon: DaemonFactory,
    which: str,
    socket: str,
    b_names: list[str],
    b_ca: ThrowawayCA | None = None,
) -> tuple[SendmailDaemon, SendmailDaemon]:
    """B (certificate naming `b_names`, from `b_ca`, default the CA A trusts) and A,
    relaying to B by name, with tls.mta_sts asking `socket`; both run release `which`."""
    release = release_of(which)
    family = "8.17" if which == "8.17" else "8.18"

    def edit_b(spec: dict[str, Any]) -> None:
        named(DOMAIN)(spec)
        spec["defaults"]["sendmail"] = family

    b = sendmail_daemon(edit=edit_b, start=False, release=release)
    b.install_server_cert((b_ca or b.ca).issue(b.fqdn, b_names))
    b.start()

    def edit_a(spec: dict[str, Any]) -> None:
        named("a.tlsc.test")(spec)
        spec["defaults"]["sendmail"] = family
        defines = spec["defaults"]["mc"]["defines"]
        defines["SMART_HOST"] = "[localhost]"
        defines["RELAY_MAILER_ARGS"] = f"TCP $h {b.port}"
        defines["confDELIVERY_MODE"] = "interactive"
        spec["recipients"] = {}
        spec["defaults"]["tls"]["mta_sts"] = {"socket": socket}

    return sendmail_daemon(edit=edit_a, release=release), b


def starttls_line(a: SendmailDaemon) -> str:
    return next(
        line
        for line in open(a.spec["defaults"]["paths"]["starttls_m4"], encoding="utf-8")
        if line.startswith("FEATURE(`sts'")
    )


@pytest.mark.parametrize("which", RELEASES)
@pytest.mark.parametrize("pattern", [MX, "*.tlsc.test"], ids=["exact", "wildcard"])
def test_delivers_when_the_policy_names_the_mx_and_its_certificate(
    sendmail_daemon: DaemonFactory, which: str, pattern: str
) -> None:
    with StsSocketmap({DOMAIN: Policy("enforce", [pattern])}) as sts:
        a, b = sts_pair(sendmail_daemon, which, sts.address, [MX, DOMAIN])
        assert starttls_line(a) == f"FEATURE(`sts', ``socket -d5 -T<TMPF> {sts.address}'')dnl\n"
        assert "\nKsts socket -d5 -T<TMPF> " + sts.address + "\n" in a.cf.read_text()
        send(a, GUARDED, OTHER)
        assert status(a, GUARDED).startswith("Sent (")
        assert status(a, OTHER).startswith("Sent (")
        asked = list(sts.queries)
    assert ("sts", DOMAIN) in asked and {d for _z, d in asked} == {DOMAIN}
    # the policy's servername=hostname: sendmail sends the MX name as SNI
    a.wait_for_log(r"tls_clt_features=sts=secure;servername=hostname, relay=" + re.escape(MX))
    a.wait_for_log(rf"STARTTLS=client, relay={re.escape(MX)}\., version=TLSv1\.3, verify=OK,")
    b.wait_for_log(rf"from=<{SENDER}>, .*nrcpts=2, .*proto=ESMTPS, ")
    assert queue_empties(a)


@pytest.mark.parametrize("which", RELEASES)
def test_defers_when_the_policy_does_not_list_the_mx(
    sendmail_daemon: DaemonFactory, which: str
) -> None:
    with StsSocketmap({DOMAIN: Policy("enforce", ["mx.elsewhere.example"])}) as sts:
        a, b = sts_pair(sendmail_daemon, which, sts.address, [MX, DOMAIN])
        send(a, GUARDED)
        assert status(a, GUARDED) == "Deferred"
    reply = f"450 4.7.0 <{GUARDED}>... {MX} not found in mx.elsewhere.example"
    a.wait_for_log(
        rf"ruleset=tls_rcpt, arg1={re.escape(GUARDED)}, relay={re.escape(MX)}\.,"
        rf" reject={re.escape(reply)}$"
    )
    assert queued(a) == (f"<{GUARDED}>... {MX} not found in mx.elsewhere.example", [f"<{GUARDED}>"])
    # A gave B the envelope sender, then no recipient (the check runs before RCPT)
    b.wait_for_log(rf"from=<{SENDER}>, .*nrcpts=0, proto=ESMTPS, ")


@pytest.mark.parametrize("which", RELEASES)
def test_defers_when_the_certificate_does_not_name_the_mx(
    sendmail_daemon: DaemonFactory, which: str
) -> None:
    """The policy lists the MX, but B's certificate (trusted, verify=OK) names only
    b.tlsc.test: RFC 8461 wants the MX name among its names."""
    with StsSocketmap({DOMAIN: Policy("enforce", [MX])}) as sts:
        a, _b = sts_pair(sendmail_daemon, which, sts.address, [DOMAIN, "127.0.0.1"])
        send(a, GUARDED)
        assert status(a, GUARDED) == "Deferred"
    a.wait_for_log(rf"STARTTLS=client, relay={re.escape(MX)}\., version=TLSv1\.3, verify=OK,")
    a.wait_for_log(
        rf"ruleset=tls_rcpt, arg1={re.escape(GUARDED)}, relay={re.escape(MX)}\.,"
        rf" reject=450 4\.7\.0 <{re.escape(GUARDED)}>\.\.\. {re.escape(MX)} not listed in SANs$"
    )
    assert queued(a)[1] == [f"<{GUARDED}>"]


@pytest.mark.parametrize("which", RELEASES)
def test_defers_when_the_certificate_is_not_trusted(
    sendmail_daemon: DaemonFactory, which: str
) -> None:
    """`secure` asks tls_server for a verified certificate (no TLS_Srv rule needed)."""
    with StsSocketmap({DOMAIN: Policy("enforce", [MX])}) as sts:
        a, _b = sts_pair(sendmail_daemon, which, sts.address, [MX], ThrowawayCA("Other CA"))
        send(a, GUARDED)
        got = status(a, GUARDED)
    a.wait_for_log(rf"STARTTLS=client, relay={re.escape(MX)}\., version=TLSv1\.3, verify=FAIL,")
    # STS_secure: TLS_connection with <TEMP+VERIFY:128>, hence the 403
    a.wait_for_log(
        rf"ruleset=tls_server, arg1=FAIL, relay={re.escape(MX)},"
        r" reject=403 4\.7\.0 authentication failed$"
    )
    assert got == "Deferred: 403 4.7.0 authentication failed"
    assert queued(a)[1] == [f"<{GUARDED}>"]


@pytest.mark.parametrize("which", RELEASES)
@pytest.mark.parametrize("mode", ["testing", "none", "no policy"])
def test_a_testing_policy_never_reaches_sendmail(
    sendmail_daemon: DaemonFactory, which: str, mode: str
) -> None:
    """The resolver answers NOTFOUND for testing and none policies (strict_testing off),
    so the same mismatch as above is delivered: the control of the two tests above."""
    policies = {} if mode == "no policy" else {DOMAIN: Policy(mode, ["mx.elsewhere.example"])}
    with StsSocketmap(policies) as sts:
        a, _b = sts_pair(sendmail_daemon, which, sts.address, [DOMAIN, "127.0.0.1"])
        send(a, GUARDED)
        assert status(a, GUARDED).startswith("Sent (")
        assert ("sts", DOMAIN) in sts.queries
    assert not [line for line in a.syslog() if "ruleset=tls_rcpt" in line]


@pytest.mark.parametrize("which", RELEASES)
def test_no_resolver_defers_every_recipient(sendmail_daemon: DaemonFactory, which: str) -> None:
    """The trap tlsc's socket default avoids: nothing listens where the map points."""
    with refused_port() as port:  # held throughout: no daemon is given it to listen on
        a, b = sts_pair(sendmail_daemon, which, f"inet:{port}@127.0.0.1", [MX, DOMAIN])
        send(a, GUARDED, OTHER)
        # the lookup for the SNI (tls_clt_features) and for the TLS check (tls_server) fail,
        # before any RCPT: one reply for both recipients
        for rcpt in (GUARDED, OTHER):
            got = status(a, rcpt)
            assert got.startswith("Deferred: 450 4.7.0 <") and got.endswith(
                ">... STS lookup temp fail"
            ), got
        a.wait_for_log(rf"ruleset=tls_clt_features, arg1={re.escape(MX)}, .*STS lookup temp fail$")
        a.wait_for_log(
            rf"ruleset=tls_server, arg1=TEMP, relay={re.escape(MX)}, reject=450 4\.7\.0 .*"
            r"\.\.\. STS lookup temp fail$"
        )
        status_line, left = queued(a)
        assert status_line == f"sts map: lookup ({DOMAIN}): deferred"
        assert sorted(left) == sorted([f"<{GUARDED}>", f"<{OTHER}>"])
        assert not [line for line in b.syslog() if f"from=<{SENDER}>" in line]
