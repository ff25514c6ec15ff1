"""STARTTLS messages and the per-process merge of cert lines (compiler/logs/parse.py)."""

from __future__ import annotations

from datetime import date

import pytest

from compiler.logs.parse import (
    CertLine,
    LogParser,
    Notice,
    RulesetEvent,
    TlsRecord,
    parse_message,
    split_relay,
)
from compiler.logs.syslog import YearGuess, split_syslog

YEARS = YearGuess(date(2026, 11, 29))
# captured from sendmail 8.17.1.9 / OpenSSL 3.0, and the literature
CAPTURED = [
    (
        "STARTTLS=server, relay=localhost [127.0.0.1], version=TLSv1.3, verify=NO, "
        "cipher=TLS_AES_256_GCM_SHA384, bits=256/256",
        ("server", "localhost", "[127.0.0.1]", "TLSv1.3", "NO", "TLS_AES_256_GCM_SHA384", 256, 256),
    ),
    (
        "STARTTLS=client, relay=[127.0.0.1], version=TLSv1.2, verify=OK, "
        "cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128",
        ("client", None, "[127.0.0.1]", "TLSv1.2", "OK", "ECDHE-RSA-AES128-GCM-SHA256", 128, 128),
    ),
    (
        "STARTTLS=client, relay=mail.example.com.netsolmail.net., version=TLSv1/SSLv3, "
        "verify=FAIL, cipher=DHE-RSA-AES256-SHA, bits=256/256",
        (
            "client",
            "mail.example.com.netsolmail.net",
            None,
            "TLSv1/SSLv3",
            "FAIL",
            "DHE-RSA-AES256-SHA",
            256,
            256,
        ),
    ),
    (
        "STARTTLS=server, relay=old.example.org [198.51.100.7] (may be forged), version=TLSv1, "
        "verify=NOT, cipher=DES-CBC3-SHA, bits=168/112",
        ("server", "old.example.org", "[198.51.100.7]", "TLSv1", "NOT", "DES-CBC3-SHA", 168, 112),
    ),
    (  # a DANE build adds a field
        "STARTTLS=client, relay=mx.example., version=TLSv1.3, verify=DANE_FAIL, "
        "cipher=TLS_AES_128_GCM_SHA256, bits=128/128, pubkey_fp=AB:CD",
        ("client", "mx.example", None, "TLSv1.3", "DANE_FAIL", "TLS_AES_128_GCM_SHA256", 128, 128),
    ),
]


def fields(r: TlsRecord) -> tuple[object, ...]:
    return (r.direction, r.relay, r.addr, r.version, r.verify, r.cipher, r.bits, r.bits_max)


@pytest.mark.parametrize(("message", "expected"), CAPTURED)
def test_handshake_lines(message: str, expected: tuple[object, ...]) -> None:
    r = parse_message(message, "2026-11-28T13:51:51", "mta1")
    assert isinstance(r, TlsRecord)
    assert fields(r) == expected and r.error is None
    assert (r.time, r.host) == ("2026-11-28T13:51:51", "mta1")


def test_queue_id_before_the_message() -> None:
    r = parse_message("6ASDppfv011274: " + CAPTURED[0][0])
    assert isinstance(r, TlsRecord) and r.verify == "NO"


@pytest.mark.parametrize(
    ("relay", "expected"),
    [
        ("localhost [127.0.0.1]", ("localhost", "[127.0.0.1]")),
        ("[192.0.2.1]", (None, "[192.0.2.1]")),
        ("mx.example.com.", ("mx.example.com", None)),
        ("mx.example.com. [192.0.2.1]", ("mx.example.com", "[192.0.2.1]")),
        ("host [IPv6:2001:db8::1]", ("host", "[IPv6:2001:db8::1]")),
        ("local", ("local", None)),
        ("", (None, None)),
    ],
)
def test_relay_and_addr(relay: str, expected: tuple[str | None, str | None]) -> None:
    assert split_relay(relay) == expected


def test_json_shape_omits_relay_and_addr_only() -> None:
    r = parse_message(
        "STARTTLS=client, relay=[192.0.2.1], version=TLSv1.3, verify=OK, cipher=X, bits=/"
    )
    assert isinstance(r, TlsRecord)
    assert r.as_json() == {
        "kind": "handshake",
        "time": None,
        "host": None,
        "direction": "client",
        "addr": "[192.0.2.1]",
        "version": "TLSv1.3",
        "verify": "OK",
        "cipher": "X",
        "bits": None,
        "bits_max": None,
        "error": None,
    }


@pytest.mark.parametrize(
    ("message", "direction", "error", "addr"),
    [
        (
            "STARTTLS=server, error: accept failed=-1, reason=unexpected eof while reading, "
            "SSL_error=1, errno=0, retry=-1, relay=localhost [127.0.0.1]",
            "server",
            "accept failed=-1, reason=unexpected eof while reading, SSL_error=1, errno=0, retry=-1",
            "[127.0.0.1]",
        ),
        (
            "STARTTLS=client, error: connect failed=-1, reason=unexpected eof while reading, "
            "SSL_error=1, errno=32, retry=-1",
            "client",
            "connect failed=-1, reason=unexpected eof while reading, SSL_error=1, "
            "errno=32, retry=-1",
            None,
        ),
        (
            "STARTTLS=server, error: SSL_CTX_set_cipher_list('FOO') failed, list ignored",
            "server",
            "SSL_CTX_set_cipher_list('FOO') failed, list ignored",
            None,
        ),
        (
            "STARTTLS=server: file /etc/mail/tls/sendmail-common.key unsafe: Group readable file",
            "server",
            "file /etc/mail/tls/sendmail-common.key unsafe: Group readable file",
            None,
        ),
    ],
)
def test_error_lines(message: str, direction: str, error: str, addr: str | None) -> None:
    r = parse_message(message)
    assert isinstance(r, TlsRecord)
    assert (r.direction, r.error, r.addr, r.version, r.verify, r.bits) == (
        direction,
        error,
        addr,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    "message",
    [
        "STARTTLS=server, init=1",
        "STARTTLS=client, init=1",
        "STARTTLS=client, start=ok",
        "STARTTLS=server, Diffie-Hellman init, key=2048 bit (I)",
        "STARTTLS: CRLFile missing",
        "STARTTLS=client, SSL_shutdown failed: -1",
        "STARTTLS=server: error:0A000126:SSL routines::unexpected eof while reading:x.c:318:",
        "STARTTLS: TLS cert verify: depth=0 /CN=rogue.tlsc.test, state=0, reason=self-signed",
        "tls_srv_features=empty, stat=0, relay=localhost [127.0.0.1]",
        "NOQUEUE: connect from localhost [127.0.0.1]",
        "starting daemon (8.17.1.9): SMTP",
        "",
    ],
)
def test_informational_lines_are_not_records(message: str) -> None:
    assert parse_message(message) is None


def test_cert_line() -> None:
    assert parse_message(
        "STARTTLS=server, cert-subject=/O=tlsc+20test/CN=client.tlsc.test, "
        "cert-issuer=/O=tlsc+20test/CN=tlsc+20Test+20CA, verifymsg=ok"
    ) == CertLine(
        "server", "/O=tlsc+20test/CN=client.tlsc.test", "/O=tlsc+20test/CN=tlsc+20Test+20CA", "ok"
    )


def test_ruleset_and_notice_lines() -> None:
    assert parse_message(
        "ruleset=tls_server, arg1=SOFTWARE, relay=mx.example. [192.0.2.1], "
        "reject=403 4.7.0 TLS handshake failed."
    ) == RulesetEvent(
        None,
        None,
        "tls_server",
        "client",
        "SOFTWARE",
        "mx.example",
        "[192.0.2.1]",
        "403 4.7.0 TLS handshake failed.",
        "SOFTWARE",
    )
    tls_client = parse_message(
        "ruleset=tls_client, arg1=NO, arg2=STARTTLS, relay=a.example [192.0.2.2], reject=454 x"
    )
    assert isinstance(tls_client, RulesetEvent)
    assert (tls_client.direction, tls_client.verify) == ("server", "NO")
    rcpt = parse_message(
        "6ASDppfv011274: ruleset=tls_rcpt, arg1=<a@b>, relay=m [192.0.2.3], reject=454 x"
    )
    assert isinstance(rcpt, RulesetEvent) and rcpt.verify is None
    assert parse_message("STARTTLS: ServerCertFile missing") == Notice(
        None, None, "STARTTLS: ServerCertFile missing"
    )


def feed_all(parser: LogParser, lines: list[str]) -> list[TlsRecord]:
    out: list[TlsRecord] = []
    for text in lines:
        out += parser.feed(split_syslog(text, YEARS), text)
    return out + parser.flush()


MAIN = (
    "Nov 28 10:00:0{s} mta1 sm-mta[{pid}]: STARTTLS=server, relay=c{pid} [192.0.2.{pid}], "
    "version=TLSv1.3, verify=OK, cipher=TLS_AES_256_GCM_SHA384, bits=256/256"
)
CERT = (
    "Nov 28 10:00:0{s} mta1 sm-mta[{pid}]: STARTTLS=server, cert-subject=/CN=c{pid}, "
    "cert-issuer=/CN=CA, verifymsg=ok"
)
OTHER = "Nov 28 10:00:0{s} mta1 sm-mta[{pid}]: 6ASDppfv0000{pid}: from=<a@b>, size=1"


def test_cert_line_after_its_handshake_line_interleaved() -> None:
    lines = [
        MAIN.format(s=1, pid=11),
        MAIN.format(s=1, pid=12),
        OTHER.format(s=1, pid=13),
        CERT.format(s=2, pid=12),
        CERT.format(s=2, pid=11),
    ]
    records = feed_all(LogParser(), lines)
    assert [(r.relay, r.cert_subject, r.cert_issuer) for r in records] == [
        ("c11", "/CN=c11", "/CN=CA"),
        ("c12", "/CN=c12", "/CN=CA"),
    ]
    assert records[0].as_json()["cert_subject"] == "/CN=c11"


def test_cert_line_before_its_handshake_line() -> None:
    records = feed_all(LogParser(), [CERT.format(s=1, pid=21), MAIN.format(s=1, pid=21)])
    assert [(r.relay, r.cert_subject) for r in records] == [("c21", "/CN=c21")]


def test_same_pid_on_another_host_is_another_process() -> None:
    lines = [MAIN.format(s=1, pid=31), CERT.format(s=1, pid=31).replace(" mta1 ", " mta2 ")]
    (record,) = feed_all(LogParser(), lines)
    assert record.cert_subject is None


def test_records_are_emitted_in_input_order_as_soon_as_complete() -> None:
    parser = LogParser(window=3)
    first = MAIN.format(s=1, pid=41)
    assert list(parser.feed(split_syslog(first, YEARS), first)) == []  # waits for its cert line
    error = "Nov 28 10:00:02 mta1 sm-mta[42]: STARTTLS=server, error: accept failed=-1"
    assert list(parser.feed(split_syslog(error, YEARS), error)) == []  # behind the first
    emitted: list[TlsRecord] = []
    for n in range(4):  # the window passes: both come out, in order
        other = OTHER.format(s=3, pid=50 + n)
        emitted += parser.feed(split_syslog(other, YEARS), other)
    assert [r.relay or r.error for r in emitted] == ["c41", "accept failed=-1"]
    assert parser.flush() == []


def test_a_second_record_of_the_process_closes_the_first() -> None:
    parser = LogParser()
    out: list[TlsRecord] = []
    for text in (MAIN.format(s=1, pid=51), MAIN.format(s=2, pid=51)):
        out += parser.feed(split_syslog(text, YEARS), text)
    assert [r.time for r in out] == ["2026-11-28T10:00:01"]


def test_lines_without_a_known_prefix_still_parse() -> None:
    line = (
        "sendmail[28450]: STARTTLS=client, relay=mail.example.com.netsolmail.net., "
        "version=TLSv1/SSLv3, verify=FAIL, cipher=DHE-RSA-AES256-SHA, bits=256/256"
    )
    (record,) = feed_all(LogParser(), [line, "... " + CAPTURED[0][0]])[:1]
    assert (record.time, record.host, record.verify) == (None, None, "FAIL")
