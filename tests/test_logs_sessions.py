"""Sessions rebuilt from sendmail's lines: STARTTLS lines joined with delivery and receipt lines."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from releases import release
from sendmail_fixture import DaemonFactory, sendmail_daemon, throwaway_ca
from test_logs_sendmail import as_syslog_file
from test_rules_sendmail import GUARDED, OTHER, SENDER, pair, rules, send, status
from throwaway_ca import ThrowawayCA

from compiler.logs.sessions import Session, SessionBuilder, read_sessions
from compiler.logs.syslog import YearGuess, split_syslog

__all__ = ["release", "sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

YEARS = YearGuess(date(2026, 12, 3))

#: a hand-written log: every session kind, processes interleaved (answers below by hand)
LOG = (Path(__file__).parent / "fixtures" / "sessions.log").read_text(encoding="utf-8")


def sessions_of(text: str, window: int = SessionBuilder.WINDOW) -> list[Session]:
    builder = SessionBuilder(window=window)
    out: list[Session] = []
    for raw in text.splitlines():
        out += builder.feed(split_syslog(raw, YEARS))
    return out + builder.flush()


def brief(s: Session) -> tuple[object, ...]:
    return (
        s.direction,
        s.peer,
        s.verify,
        s.bits_max,
        [(m.qid, m.sender, m.recipients, m.status) for m in s.messages],
    )


def test_sessions_of_a_mixed_log() -> None:
    got = sorted((brief(s) for s in sessions_of(LOG)), key=repr)
    assert got == sorted(
        [
            # inbound over TLS: the receipt line joined with the handshake of process 100,
            # its recipients from the later delivery lines of its queue id
            ("server", "client.example [192.0.2.5]", "NO", 256,
             [("6B1A0001000100", "alice@client.example",
               ("bob@bank.example", "carol@bank.example", "root"), None)]),
            # inbound in clear: no STARTTLS line, proto=ESMTP
            ("server", "[203.0.113.9]", "NONE", 0,
             [("6B1A0002000200", "dave@plain.example", (), None)]),
            # one connection, two messages (connection cache); the refused connect made none
            ("client", "mx.bank.example [198.51.100.7]", "FAIL", 128,
             [("6B1A0001000100", "alice@client.example",
               ("bob@bank.example", "carol@bank.example"), "Sent"),
              ("6B1A0003000300", None, ("erin@bank.example",), "Sent")]),
            # outbound in clear: the same process, another server, no handshake
            ("client", "mx.clear.example [192.0.2.77]", "NONE", 0,
             [("6B1A0004000400", None, ("frank@clear.example",), "Sent")]),
            ("client", "mx.skip.example [192.0.2.88]", "NONE", 0,
             [("6B1A0005000500", None, ("g@skip.example",), "Sent")]),
            # process 400's handshake, its cert line never logged
            ("client", "mx.other.example [198.51.100.9]", "OK", 256,
             [("6B1A0006000600", None, ("h@other.example",), "Sent")]),
            ("server", "weak.example [192.0.2.6]", "NONE", 0, []),
        ],
        key=repr,
    )  # fmt: skip


def test_session_details() -> None:
    by_peer = {s.peer: s for s in sessions_of(LOG)}
    bank = by_peer["mx.bank.example [198.51.100.7]"]
    assert (bank.cert_subject, bank.cert_issuer) == ("/CN=mx.bank.example", "/CN=Bank+20CA")
    assert bank.verifymsg == "unable to get local issuer certificate"
    assert bank.encrypted and bank.version == "TLSv1.2" and bank.time == "2026-12-01T10:00:04"
    assert bank.end == "2026-12-01T10:00:05"
    assert by_peer["mx.other.example [198.51.100.9]"].cert_subject is None
    skip = by_peer["mx.skip.example [192.0.2.88]"]
    assert skip.tls_skipped and not skip.encrypted
    assert not by_peer["mx.clear.example [192.0.2.77]"].tls_skipped
    weak = by_peer["weak.example [192.0.2.6]"]
    assert weak.refusals == ["454 4.7.0 encryption too weak 0 less than 128"]
    assert weak.ip == "192.0.2.6" and weak.host == "mx1"


def test_inbound_recipients_come_from_later_deliveries() -> None:
    (inbound,) = [s for s in sessions_of(LOG) if s.peer.startswith("client.example")]
    # the refused attempt gives none; the relayed delivery and the local one do
    assert inbound.messages[0].recipients == ("bob@bank.example", "carol@bank.example", "root")


def test_a_handshake_failure_is_a_software_session() -> None:
    text = (
        "Dec  1 11:00:00 mx1 sm-mta[7]: STARTTLS=client, error: connect failed=-1,"
        " reason=unexpected eof while reading, SSL_error=1, errno=32, retry=-1\n"
        "Dec  1 11:00:00 mx1 sm-mta[7]: ruleset=tls_server, arg1=SOFTWARE,"
        " relay=mx.bad.example., reject=403 4.7.0 TLS handshake failed.\n"
        "Dec  1 11:00:00 mx1 sm-mta[7]: 6B1B0000000007: to=<z@bad.example>, delay=00:00:01,"
        " mailer=esmtp, pri=1, relay=mx.bad.example. [192.0.2.99], dsn=4.0.0,"
        " stat=Deferred: 403 4.7.0 TLS handshake failed.\n"
    )
    (session,) = sessions_of(text)
    assert session.verify == "SOFTWARE" and session.starttls and not session.encrypted
    assert session.error is not None and session.error.startswith("connect failed")
    assert session.refusals == ["403 4.7.0 TLS handshake failed."]
    assert [m.status for m in session.messages] == ["Deferred"]
    assert session.peer == "mx.bad.example [192.0.2.99]"


def test_a_new_handshake_is_a_new_connection() -> None:
    hs = (
        "Dec  1 11:00:0{n} mx1 sm-mta[7]: STARTTLS=client, relay=mx.a.example., version=TLSv1.3,"
        " verify={v}, cipher=TLS_AES_256_GCM_SHA384, bits=256/256\n"
    )
    to = (
        "Dec  1 11:00:0{n} mx1 sm-mta[7]: 6B1B000000000{n}: to=<u@a.example>, mailer=esmtp,"
        " pri=1, relay=mx.a.example. [192.0.2.1], dsn=2.0.0, stat=Sent (ok)\n"
    )
    text = hs.format(n=1, v="OK") + to.format(n=2) + hs.format(n=3, v="FAIL") + to.format(n=4)
    assert [(s.verify, len(s.messages)) for s in sessions_of(text)] == [("OK", 1), ("FAIL", 1)]


def test_open_sessions_close_after_the_window() -> None:
    text = LOG + "".join(f"Dec  1 12:00:00 mx1 other[9]: line {i}\n" for i in range(600))
    builder = SessionBuilder(window=300)
    closed_before_end: list[Session] = []
    for raw in text.splitlines():
        closed_before_end += builder.feed(split_syslog(raw, YEARS))
    assert len(closed_before_end) == 7 and builder.flush() == []


@pytest.mark.parametrize(
    "line",
    [
        "",
        "garbage",
        "Dec  1 10:00:00 mx1 sm-mta[1]: to=",
        "Dec  1 10:00:00 mx1 sm-mta[1]: from=",
        "Dec  1 10:00:00 mx1 sm-mta[1]: ruleset=",
        "Dec  1 10:00:00 mx1 sm-mta[1]: ruleset=tls_server",
        "Dec  1 10:00:00 mx1 sm-mta[1]: connect from ",
        "Dec  1 10:00:00 mx1 sm-mta[1]: STARTTLS=client, relay=, version=, verify=, bits=/",
        "Dec  1 10:00:00 mx1 sm-mta[1]: XXXXXXXX0000: to=<a>, relay=[, stat=Deferred: 4",
        "Dec  1 10:00:00 mx1 sm-mta[1]: from=<a>, proto=, relay=\x00\xff",
    ],
)
def test_truncated_lines_never_crash(line: str) -> None:
    for session in sessions_of(line + "\n" + line):
        assert session.direction in ("client", "server")


def test_read_sessions_reads_files_and_reports_bad_ones(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(LOG, encoding="utf-8")
    seen: list[Session] = []
    stats, problems = read_sessions([str(log), str(tmp_path / "missing.log")], seen.append)
    assert len(seen) == 7 and stats.lines == len(LOG.splitlines())
    assert problems == [f"{tmp_path / 'missing.log'}: cannot be read: no such file or directory"]


# -- a real sendmail's lines: A relays to B (tests/test_rules_sendmail.py's pair) ----------
# of each release: 8.17.1.9 logs the Try_TLS NO skip with reject=, 8.18.1 with status=


@pytest.mark.realtools
@pytest.mark.usefixtures("release")
def test_real_outbound_sessions(sendmail_daemon: DaemonFactory, tmp_path: Path) -> None:
    """A defers to a B whose certificate it cannot verify, and sends in clear past a Try_TLS NO."""
    a, _b = pair(
        sendmail_daemon,
        rules(domains={"127.0.0.1": {"outbound": "verify"}}),
        b_ca=ThrowawayCA("Other CA"),
    )
    send(a, GUARDED, OTHER)
    assert status(a, GUARDED).startswith("Deferred: 454 4.7.0")
    log = tmp_path / "a.log"
    log.write_text(as_syslog_file(a), encoding="utf-8")
    seen: list[Session] = []
    read_sessions([str(log)], seen.append)
    inbound = [s for s in seen if s.direction == "server"]
    (outbound,) = [s for s in seen if s.direction == "client"]
    assert [(s.peer, s.verify, s.starttls) for s in inbound] == [
        ("localhost [127.0.0.1]", "NONE", False)
    ]
    assert (outbound.relay, outbound.addr, outbound.verify, outbound.bits_max) == (
        None,
        "[127.0.0.1]",
        "FAIL",
        256,
    )
    assert outbound.cert_issuer == "/O=tlsc+20test/CN=Other+20CA"
    assert outbound.refusals == ["454 4.7.0 authentication failed"]
    (message,) = outbound.messages
    assert (message.sender, set(message.recipients), message.status) == (
        SENDER,
        {GUARDED, OTHER},
        "Deferred",
    )


@pytest.mark.realtools
@pytest.mark.usefixtures("release")
def test_real_sessions_in_clear(sendmail_daemon: DaemonFactory, tmp_path: Path) -> None:
    a, b = pair(sendmail_daemon, rules(domains={"127.0.0.1": {"outbound": {"starttls": False}}}))
    send(a, GUARDED)
    assert status(a, GUARDED).startswith("Sent (")
    b.wait_for_log(rf"from=<{SENDER}>, .*proto=ESMTP, ")
    for daemon, direction in ((a, "client"), (b, "server")):
        log = tmp_path / f"{daemon.host}-{direction}.log"
        log.write_text(as_syslog_file(daemon), encoding="utf-8")
        seen: list[Session] = []
        read_sessions([str(log)], seen.append)
        (session,) = [s for s in seen if s.direction == direction and s.messages]
        assert (session.verify, session.starttls, session.bits_max) == ("NONE", False, 0)
        assert session.tls_skipped is (direction == "client")
        assert [m.sender for m in session.messages] == [SENDER]
