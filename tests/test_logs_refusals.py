"""Refusals (`ruleset=` lines of the TLS rules) and the line forms the parser must not miss."""

from __future__ import annotations

import json
from datetime import date

import pytest

from compiler.logs.parse import (
    Entry,
    LogParser,
    RulesetEvent,
    TlsRecord,
    Unreadable,
    json_line,
    parse_message,
    read_message,
    reply_reason,
)
from compiler.logs.summary import VERIFY_MEANING, Summary, rank
from compiler.logs.syslog import YearGuess, split_syslog

YEARS = YearGuess(date(2026, 11, 29))
PREFIX = "Nov 28 10:00:01 mta1 sm-mta[77]: "
HANDSHAKE = (
    "STARTTLS=server, relay=c.example [192.0.2.7], version=TLSv1.3, verify=NO, "
    "cipher=TLS_AES_256_GCM_SHA384, bits=256/256"
)
CERT = "STARTTLS=server, cert-subject=, cert-issuer=, verifymsg=ok"


def entries(lines: list[str], window: int = LogParser.WINDOW) -> tuple[list[Entry], LogParser]:
    parser = LogParser(window=window)
    out: list[Entry] = []
    for text in lines:
        out += parser.feed_entries(split_syslog(text, YEARS), text)
    return out + parser.flush_entries(), parser


# -- refusals ------------------------------------------------------------------------

#: the TLS rules' reply texts (proto.m4 of 8.17 and 8.18), as check_* lines carry them
TLS_REPLIES = [
    "454 4.7.0 encryption too weak 0 less than 128",
    "454 4.7.0 encryption too weak 56 less than 112",
    "454 4.7.0 not authenticated",
    "503 5.7.0 not authenticated",
    "454 4.7.0 authentication required",
    "454 4.7.0 authentication failed",
    "454 4.7.0 authentication failure TEMP",
    "454 4.7.0 no authentication requested",
    "454 4.7.0 other side does not support STARTTLS",
    "454 4.7.0 STARTTLS failed.",
    "454 4.7.0 STARTTLS temporarily not possible.",
    "403 4.7.0 TLS handshake failed.",
    "454 4.7.0 CN client.example does not match mx.example",
    "454 4.7.0 Cert Issuer /O=x/CN=CA not acceptable",
    "454 4.7.0 Cert Subject /CN=a does not match /CN=b",
    "454 4.7.0 DANE check failed.",
]


@pytest.mark.parametrize("reply", TLS_REPLIES)
@pytest.mark.parametrize("ruleset", ["check_mail", "check_rcpt", "check_relay", "check_compat"])
def test_check_rulesets_with_a_tls_reason_are_tls_clt_refusals(ruleset: str, reply: str) -> None:
    line = (
        f"6ASDppfv011274: ruleset={ruleset}, arg1=<user@x.example>, relay=c [192.0.2.7], "
        f"reject={reply}"
    )
    event = parse_message(line, "2026-11-28T10:00:01", "mta1")
    assert isinstance(event, RulesetEvent)
    assert (event.kind, event.ruleset, event.rule, event.direction) == (
        "refusal",
        ruleset,
        "TLS_Clt",
        "server",
    )
    assert (event.arg1, event.verify, event.relay, event.addr, event.reply) == (
        "<user@x.example>",
        None,
        "c",
        "[192.0.2.7]",
        reply,
    )
    data = json.loads(json_line(event))
    assert list(data) == [
        "kind",
        "time",
        "host",
        "direction",
        "relay",
        "addr",
        "ruleset",
        "arg1",
        "reply",
    ]


@pytest.mark.parametrize(
    "reply",
    [
        "550 5.1.1 <user@x.example>... User unknown",
        "553 5.1.8 <a@b>... Domain of sender address a@b does not exist",
        "550 5.7.1 <a@b>... Relaying denied",
        "451 4.1.8 Domain of sender address a@b does not resolve",
    ],
)
def test_check_rulesets_without_a_tls_reason_are_not_ours(reply: str) -> None:
    line = f"ruleset=check_rcpt, arg1=<user@x.example>, relay=c [192.0.2.7], reject={reply}"
    assert parse_message(line) is None
    assert (
        parse_message(f"ruleset=srv_features, arg1=x, relay=c [192.0.2.7], reject={reply}") is None
    )


@pytest.mark.parametrize(
    ("ruleset", "arg1", "direction", "verify", "rule"),
    [
        ("tls_server", "SOFTWARE", "client", "SOFTWARE", "TLS_Srv"),
        ("tls_server", "DANE_FAIL", "client", "DANE_FAIL", "TLS_Srv"),
        ("tls_server", "DANE_TEMP", "client", "DANE_TEMP", "TLS_Srv"),
        ("tls_server", "DANE_NOTLS", "client", "DANE_NOTLS", "TLS_Srv"),
        ("tls_client", "NO", "server", "NO", "TLS_Clt"),
        ("tls_rcpt", "<a@b.example>", "client", None, "TLS_Rcpt"),
        ("try_tls", "[192.0.2.9]", "client", None, "Try_TLS"),
    ],
)
def test_tls_rulesets_are_refusals_whatever_their_reply(
    ruleset: str, arg1: str, direction: str, verify: str | None, rule: str
) -> None:
    for reply_key in ("reject", "status"):  # 8.17.2 and later log try_tls with status=
        event = parse_message(
            f"ruleset={ruleset}, arg1={arg1}, relay=mx.example. [192.0.2.9], "
            f"{reply_key}=454 4.7.0 whatever it says"
        )
        assert isinstance(event, RulesetEvent)
        assert (event.direction, event.verify, event.rule, event.arg1) == (
            direction,
            verify,
            rule,
            arg1,
        )
        assert event.relay == "mx.example" and event.reply == "454 4.7.0 whatever it says"
        data = event.as_json()
        assert ("verify" in data) == (ruleset in ("tls_server", "tls_client"))


@pytest.mark.parametrize("value", ["TRUSTED", "DANE_FAIL", "DANE_TEMP", "DANE_NOTLS"])
def test_sendmail_818_verify_values_have_a_meaning(value: str) -> None:
    assert value in VERIFY_MEANING
    assert rank(value) == (0 if value == "TRUSTED" else 3 if value == "DANE_FAIL" else 5)


def test_dane_fail_handshake_with_its_pubkey_fingerprint() -> None:
    r = parse_message(
        "STARTTLS=client, relay=mx.example., version=TLSv1.3, verify=DANE_FAIL, "
        "cipher=TLS_AES_128_GCM_SHA256, bits=128/128, pubkey_fp=AB:CD:EF"
    )
    assert isinstance(r, TlsRecord) and (r.verify, r.bits, r.bits_max) == ("DANE_FAIL", 128, 128)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("454 4.7.0 encryption too weak 0 less than 128", "encryption too weak 0 less than 128"),
        ("454 4.7.0 CN a.example does not match b.example", "CN ... does not match ..."),
        ("454 4.7.0 Cert Issuer /O=x not acceptable", "Cert Issuer ... not acceptable"),
        ("550 5.7.1 <mx.x>... do not try TLS with mx.x [192.0.2.1]", "do not try TLS with ..."),
        ("403 4.7.0 TLS handshake failed.", "TLS handshake failed."),
        (None, "(no reply)"),
    ],
)
def test_reply_reasons_group_by_rule(reply: str | None, reason: str) -> None:
    assert reply_reason(reply) == reason


def test_summary_counts_refusals_per_rule_and_per_peer() -> None:
    lines = [
        PREFIX + "6ASDppfv000001: ruleset=check_rcpt, arg1=<u@x>, relay=c [192.0.2.7], "
        "reject=454 4.7.0 encryption too weak 0 less than 128",
        PREFIX + "6ASDppfv000002: ruleset=check_rcpt, arg1=<v@x>, relay=c [192.0.2.7], "
        "reject=454 4.7.0 encryption too weak 0 less than 128",
        PREFIX + "ruleset=check_mail, arg1=<u@x>, relay=d [192.0.2.8], "
        "reject=454 4.7.0 encryption too weak 0 less than 128",
        PREFIX + "ruleset=tls_server, arg1=NONE, relay=mx.y. [192.0.2.9], "
        "reject=454 4.7.0 encryption too weak 0 less than 128",
        PREFIX + "6ASDppfv000003: ruleset=tls_rcpt, arg1=<a@y>, relay=mx.y. [192.0.2.9], "
        "reject=454 4.7.0 authentication failed",
        PREFIX
        + "ruleset=check_rcpt, arg1=<u@x>, relay=c [192.0.2.7], reject=550 5.1.1 User unknown",
    ]
    summary = Summary()
    parser = LogParser(summary.add_event)
    for text in lines:
        for record in parser.feed(split_syslog(text, YEARS), text):
            summary.add(record)
    weak = "encryption too weak 0 less than 128"
    assert summary.rule_refusals == {
        ("TLS_Clt", "check_rcpt", weak): 2,
        ("TLS_Clt", "check_mail", weak): 1,
        ("TLS_Srv", "tls_server", weak): 1,
        ("TLS_Rcpt", "tls_rcpt", "authentication failed"): 1,
    }
    peers = {(d, p.label): p.refused for d, p in summary.worst_peers()}
    assert peers == {
        ("server", "c [192.0.2.7]"): 2,
        ("server", "d [192.0.2.8]"): 1,
        ("client", "mx.y [192.0.2.9]"): 2,
    }
    assert summary.refusals == {("client", "NONE"): 1}


def test_refusals_come_in_input_order_between_records() -> None:
    lines = [
        PREFIX + HANDSHAKE,  # waits for its cert line
        "Nov 28 10:00:02 mta1 sm-mta[78]: ruleset=tls_client, arg1=NO, arg2=MAIL, "
        "relay=c [192.0.2.7], reject=454 4.7.0 not authenticated",
        PREFIX + CERT,
    ]
    out, _ = entries(lines)
    assert [e.kind for e in out] == ["handshake", "refusal"]
    assert isinstance(out[0], TlsRecord) and out[0].cert_subject == ""


# -- line forms ----------------------------------------------------------------------


@pytest.mark.parametrize("level", ["mail.notice", "mail.info", "mail.warning", "local0.err"])
@pytest.mark.parametrize("qid", ["", "6ASDppfv011274: ", "NOQUEUE: "])
@pytest.mark.parametrize("stamp", ["Nov 28 10:00:01 mta1", "2026-11-28T10:00:01+00:00 mta1"])
def test_solaris_message_ids(level: str, qid: str, stamp: str) -> None:
    line = f"{stamp} sendmail[123]: [ID 702911 {level}] {qid}{HANDSHAKE}"
    (record,), parser = entries([line])
    assert isinstance(record, TlsRecord)
    assert (record.host, record.verify, record.addr) == ("mta1", "NO", "[192.0.2.7]")
    assert parser.unreadable == 0


@pytest.mark.parametrize("tail", [" ", "  ", "\t", " \t ", " extra", "\tx=y", ", pubkey_fp=AB"])
@pytest.mark.parametrize("bits", ["256/256", "168/112", "0/0"])
def test_bits_with_anything_after_them(bits: str, tail: str) -> None:
    r = parse_message(HANDSHAKE.replace("bits=256/256", f"bits={bits}") + tail)
    assert isinstance(r, TlsRecord)
    a, b = bits.split("/")
    assert (r.bits, r.bits_max) == (int(a), int(b))


@pytest.mark.parametrize("indent", [" ", "  ", "\t", " \t", "        "])
@pytest.mark.parametrize(
    "body",
    [
        HANDSHAKE,
        CERT,
        "STARTTLS=client, error: connect failed=-1",
        "ruleset=tls_server, arg1=NONE, relay=x, reject=454 4.7.0 x",
        PREFIX + HANDSHAKE,
    ],
)
def test_continuation_lines_are_never_records(indent: str, body: str) -> None:
    out, parser = entries([indent + body])
    assert out == [] and parser.unreadable == 1


def test_an_indented_line_does_not_steal_a_cert_line() -> None:
    out, parser = entries([PREFIX + HANDSHAKE, "  " + CERT, PREFIX + CERT])
    assert [getattr(e, "cert_subject", None) for e in out] == [""]
    assert parser.unreadable == 1


def test_cert_fields_empty_or_absent() -> None:
    (with_cert,), _ = entries([PREFIX + HANDSHAKE, PREFIX + CERT])
    data = json.loads(json_line(with_cert))
    assert data["cert_subject"] == "" and data["cert_issuer"] == ""
    (without,), _ = entries([PREFIX + HANDSHAKE])  # LogLevel under 12: no cert line
    assert "cert_subject" not in json.loads(json_line(without))


@pytest.mark.parametrize("cut", range(1, len(HANDSHAKE)))
def test_cut_off_handshake_lines(cut: int) -> None:
    """Every cut of a handshake line is the whole record, nothing, or counted as unreadable."""
    message = HANDSHAKE[:cut]
    msg = read_message(message)
    out, parser = entries([PREFIX + message])
    if isinstance(msg, Unreadable):
        assert out == [] and parser.unreadable == 1
    elif msg is None:
        assert out == [] and parser.unreadable == 0
    else:  # cut in the last number
        assert isinstance(msg, TlsRecord) and message.startswith(HANDSHAKE[:-3])
        (record,) = out
        assert (record.time, record.host, record.verify, record.bits) == (
            "2026-11-28T10:00:01",
            "mta1",
            "NO",
            256,
        )


@pytest.mark.parametrize(
    "message",
    [
        "STARTTLS=serv",
        "STARTTLS=server, relay=c [192.0.2.7], vers",
        "STARTTLS=server, cert-subject=/CN=x, cert-iss",
        "ruleset=tls_serv",
    ],
)
def test_cut_off_lines_are_unreadable(message: str) -> None:
    out, parser = entries([PREFIX + message])
    assert out == [] and parser.unreadable == 1


@pytest.mark.parametrize(
    "line",
    [
        "\x00\x01\x02 STARTTLS=server, relay=x, version=TLSv1.3, verify=OK",
        "garbage ruleset=tls_server, arg1=NONE, relay=x, reject=454 4.7.0 x",
        "\ufffd\ufffdSTARTTLS=client, error: connect failed",
    ],
)
def test_binary_lines_without_a_prefix_are_unreadable(line: str) -> None:
    out, parser = entries([line])
    assert out == [] and parser.unreadable == 1
