"""TLS-RPT reports (compiler/logs/tlsrpt.py): outcomes, counts, UTC days, names, gzip, schema."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time as time_module
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st
from sendmail_fixture import DaemonFactory, sendmail_daemon, throwaway_ca
from test_logs_sendmail import as_syslog_file
from test_rules_sendmail import GUARDED, OTHER, pair, send, status
from throwaway_ca import ThrowawayCA

from compiler.cli import main
from compiler.logs.sessions import Message, Session
from compiler.logs.tlsrpt import (
    Outcome,
    Report,
    ReportBuilder,
    build_reports,
    classify,
    file_name,
    policy_domains,
    utc_day,
    write_reports,
)

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
SCHEMA = json.loads((REPO / "schemas" / "tlsrpt.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
ORG = "Example Org"
CONTACT = "tlsrpt@sender.example"


def valid(report: Report | dict[str, Any]) -> dict[str, Any]:
    """The report's JSON after checking it against schemas/tlsrpt.schema.json and its sums."""
    body = report.body if isinstance(report, Report) else report
    data: dict[str, Any] = json.loads(json.dumps(body))
    VALIDATOR.validate(data)
    for policy in data["policies"]:
        details = policy.get("failure-details", [])
        assert (
            sum(d["failed-session-count"] for d in details)
            == (policy["summary"]["total-failure-session-count"])
        )
    return data


def out(
    verify: str,
    *rcpts: str,
    relay: str | None = "mx1.dest.example",
    addr: str | None = "[192.0.2.10]",
    time: str | None = "2026-11-28T10:00:00+00:00",
    refusals: tuple[str, ...] = (),
    starttls: bool | None = None,
) -> Session:
    """An outbound session carrying one message to `rcpts`."""
    encrypted = verify in ("OK", "TRUSTED", "NOT", "NO", "FAIL", "DANE_FAIL")
    return Session(
        direction="client",
        time=time,
        host="mta1",
        relay=relay,
        addr=addr,
        starttls=encrypted if starttls is None else starttls,
        verify=verify,
        messages=[Message("q1", "me@sender.example", rcpts or ("a@dest.example",), "Sent")],
        refusals=list(refusals),
    )


# --- outcomes: the documented verify -> result-type mapping -------------------------------


@pytest.mark.parametrize(
    ("verify", "policy", "result"),
    [
        ("OK", "no-policy-found", None),
        ("NOT", "no-policy-found", None),
        ("NO", "no-policy-found", None),
        ("TRUSTED", "tlsa", None),
        ("NONE", "no-policy-found", "starttls-not-supported"),
        ("FAIL", "no-policy-found", "certificate-not-trusted"),
        ("SOFTWARE", "no-policy-found", "validation-failure"),
        ("TEMP", "no-policy-found", "validation-failure"),
        ("PROTOCOL", "no-policy-found", "validation-failure"),
        ("CLEAR", "no-policy-found", "validation-failure"),
        ("DANE_FAIL", "tlsa", "tlsa-invalid"),
        ("DANE_TEMP", "tlsa", "dnssec-invalid"),
        ("DANE_NOTLS", "tlsa", "starttls-not-supported"),
    ],
)
def test_verify_to_result_type(verify: str, policy: str, result: str | None) -> None:
    outcome = classify(out(verify))
    assert (outcome.policy_type, outcome.result_type) == (policy, result)
    assert (outcome.reason is None) == (result is None)
    if result is not None:
        assert outcome.reason == f"verify={verify}"


@pytest.mark.parametrize(
    ("verifymsg", "result"),
    [
        ("certificate has expired", "certificate-expired"),
        ("hostname mismatch", "certificate-host-mismatch"),
        ("Hostname mismatch", "certificate-host-mismatch"),
        ("self-signed certificate", "certificate-not-trusted"),
        ("unable to get local issuer certificate", "certificate-not-trusted"),
    ],
)
def test_fail_is_refined_by_the_cert_lines_verifymsg(verifymsg: str, result: str) -> None:
    outcome = classify(out("FAIL"), verifymsg)
    assert outcome == Outcome("no-policy-found", result, f"verify=FAIL: {verifymsg}")


@pytest.mark.parametrize(
    ("starttls", "error", "result"),
    [
        (True, None, "tlsa-invalid"),  # the handshake was made: the TLSA records did not fit
        (False, None, "starttls-not-supported"),  # 8.17: TLSA in DNS, no STARTTLS offered
        (True, "connect failed=-1, reason=unsupported protocol", "tlsa-invalid"),
    ],
)
def test_dane_fail_without_a_handshake_is_no_starttls(
    starttls: bool, error: str | None, result: str
) -> None:
    session = out("DANE_FAIL", starttls=starttls)
    session.error = error
    assert classify(session).policy_type == "tlsa"
    assert classify(session).result_type == result


def test_a_refused_tls_session_is_a_failure_with_the_reply() -> None:
    reply = "403 4.7.0 encryption too weak 128 less than 256"
    assert classify(out("OK", refusals=(reply,))) == Outcome(
        "no-policy-found", "validation-failure", f"verify=OK: {reply}"
    )
    none = "403 4.7.0 encryption too weak 0 less than 128"
    assert classify(out("NONE", refusals=(none,))).result_type == "starttls-not-supported"


def test_try_tls_no_is_not_blamed_on_the_receiver() -> None:
    session = out("NONE")
    session.tls_skipped = True
    outcome = classify(session)
    assert outcome.result_type == "validation-failure"
    assert outcome.reason == "verify=NONE: STARTTLS not tried (Try_TLS NO in our access map)"


def test_a_broken_handshake_reports_its_error() -> None:
    session = out("SOFTWARE", starttls=True)
    session.error = "connect failed=-1, reason=unsupported protocol, SSL_error=1"
    assert classify(session) == Outcome(
        "no-policy-found", "validation-failure", f"verify=SOFTWARE: {session.error}"
    )


# --- policy domains and days ----------------------------------------------------------------


def test_policy_domains_are_the_recipient_domains() -> None:
    session = out("OK", "a@Dest.Example", "b@dest.example.", "c@other.example", "postmaster")
    session.messages.append(Message("q2", None, ("d@[192.0.2.1]", "<e@third.example>")))
    assert policy_domains(session) == {"dest.example", "other.example", "third.example"}


def test_idn_domains_become_a_labels() -> None:
    assert policy_domains(out("OK", "a@bücher.example")) == {"xn--bcher-kva.example"}


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        # the deviation characters: IDNA 2003 (Python's `idna` codec) maps them to
        # another domain (strasse.de, xn--4xa.example, xn--10cl1a0b.example); RFC 5891's
        # IDNA 2008 keeps them
        ("a@straße.de", "xn--strae-oqa.de"),
        ("a@Straße.DE.", "xn--strae-oqa.de"),
        ("a@ς.example", "xn--3xa.example"),
        ("a@\u0dc1\u0dca\u200d\u0dbb\u0dd3.example", "xn--10cl1a0b660p.example"),
        # case, full-width dots and letters (UTS #46 mapping), A-labels as given
        ("a@BÜCHER.example", "xn--bcher-kva.example"),
        ("a@XN--BCHER-KVA.Example", "xn--bcher-kva.example"),
        ("a@ｄｅｓｔ。example", "dest.example"),
    ],
)
def test_policy_domains_are_idna_2008_a_labels(address: str, domain: str) -> None:
    assert policy_domains(out("OK", address)) == {domain}
    (report,) = build_reports([out("OK", address)], ORG, CONTACT)
    assert report.filename.split("!")[1] == domain
    assert valid(report)["policies"][0]["policy"]["policy-domain"] == domain


@pytest.mark.parametrize(
    "address",
    [
        "a@xn--zz.example",  # not Punycode of a valid name
        "a@-dest.example",
        "a@dest-.example",
        "a@dest..example",
        "a@dest.example/x",
        "a@dest!example.net",
        "a@" + "x" * 64 + ".example",  # a label of 64
        "a@\u200d.example",  # a joiner alone: no label under IDNA 2008
    ],
)
def test_recipients_of_no_valid_domain_name_make_no_report(address: str) -> None:
    assert policy_domains(out("OK", address)) == set()


def test_utc_day_from_offsets_and_local_zone() -> None:
    assert utc_day("2026-11-28T23:30:00-02:00") == date(2026, 11, 29)
    assert utc_day("2026-11-28T00:30:00+01:00") == date(2026, 11, 27)
    assert utc_day("2026-11-28T23:59:59.999999Z") == date(2026, 11, 28)
    berlin = ZoneInfo("Europe/Berlin")
    assert utc_day("2026-11-28T00:30:00", berlin) == date(2026, 11, 27)
    assert utc_day("2026-07-01T01:59:00", berlin) == date(2026, 6, 30)  # CEST, +02:00
    assert utc_day("2026-07-01T02:00:00", berlin) == date(2026, 7, 1)
    assert utc_day("2026-11-28T00:30:00", ZoneInfo("UTC")) == date(2026, 11, 28)
    assert utc_day(None) is None
    assert utc_day("Nov 28 10:00:00") is None


# --- counts on a small constructed log, by hand ---------------------------------------------


def small_log() -> list[Session]:
    """Eight outbound sessions and one inbound, over two UTC days and three domains.

    2026-11-28 dest.example: OK, OK, NONE(mx2), FAIL+expired(mx1) -> 2 ok, 2 failed
               other.example: the second OK also carried other.example -> 1 ok
               dane.example: TRUSTED(mx.dane), DANE_FAIL(mx.dane) -> tlsa 1 ok 1 failed
    2026-11-29 dest.example: SOFTWARE (23:30 at -02:00 is 01:30 UTC) -> 1 failed
    """
    expired = Session(
        "client",
        "2026-11-28T12:00:00+00:00",
        "mta1",
        "mx1.dest.example",
        "[192.0.2.10]",
        starttls=True,
        verify="FAIL",
        messages=[Message("q1", None, ("a@dest.example",), "Sent")],
        verifymsg="certificate has expired",
    )
    return [
        out("OK", time="2026-11-28T01:00:00Z"),
        out("OK", "a@dest.example", "b@other.example", time="2026-11-28T02:00:00+00:00"),
        out("NONE", relay="mx2.dest.example", addr="[192.0.2.20]"),
        expired,
        out("TRUSTED", "x@dane.example", relay="mx.dane.example", addr="[IPv6:2001:db8::25]"),
        out("DANE_FAIL", "y@dane.example", relay="mx.dane.example", addr="[IPv6:2001:db8::25]"),
        out("SOFTWARE", time="2026-11-28T23:30:00-02:00", starttls=False),
        Session("server", "2026-11-28T03:00:00Z", "mta1", "client.example", "[192.0.2.99]"),
    ]


def test_counts_per_day_domain_and_policy() -> None:
    builder = ReportBuilder()
    for session in small_log():
        builder.add(session)
    assert builder.sessions == 7
    reports = builder.reports(ORG, CONTACT, "198.51.100.1")
    assert [(r.day.isoformat(), r.policy_domain) for r in reports] == [
        ("2026-11-28", "dane.example"),
        ("2026-11-28", "dest.example"),
        ("2026-11-28", "other.example"),
        ("2026-11-29", "dest.example"),
    ]
    dane, dest, other, next_day = (valid(r) for r in reports)

    assert dest["policies"] == [
        {
            "policy": {"policy-type": "no-policy-found", "policy-domain": "dest.example"},
            "summary": {"total-successful-session-count": 2, "total-failure-session-count": 2},
            "failure-details": [
                {
                    "result-type": "certificate-expired",
                    "sending-mta-ip": "198.51.100.1",
                    "receiving-mx-hostname": "mx1.dest.example",
                    "receiving-ip": "192.0.2.10",
                    "failed-session-count": 1,
                    "failure-reason-code": "verify=FAIL: certificate has expired",
                },
                {
                    "result-type": "starttls-not-supported",
                    "sending-mta-ip": "198.51.100.1",
                    "receiving-mx-hostname": "mx2.dest.example",
                    "receiving-ip": "192.0.2.20",
                    "failed-session-count": 1,
                    "failure-reason-code": "verify=NONE",
                },
            ],
        }
    ]
    assert other["policies"] == [
        {
            "policy": {"policy-type": "no-policy-found", "policy-domain": "other.example"},
            "summary": {"total-successful-session-count": 1, "total-failure-session-count": 0},
        }
    ]
    assert dane["policies"] == [
        {
            "policy": {
                "policy-type": "tlsa",
                "policy-domain": "dane.example",
                "mx-host": ["mx.dane.example"],
            },
            "summary": {"total-successful-session-count": 1, "total-failure-session-count": 1},
            "failure-details": [
                {
                    "result-type": "tlsa-invalid",
                    "sending-mta-ip": "198.51.100.1",
                    "receiving-mx-hostname": "mx.dane.example",
                    "receiving-ip": "2001:db8::25",
                    "failed-session-count": 1,
                    "failure-reason-code": "verify=DANE_FAIL",
                }
            ],
        }
    ]
    assert next_day["date-range"] == {
        "start-datetime": "2026-11-29T00:00:00Z",
        "end-datetime": "2026-11-29T23:59:59Z",
    }
    assert next_day["policies"][0]["summary"] == {
        "total-successful-session-count": 0,
        "total-failure-session-count": 1,
    }
    assert next_day["policies"][0]["failure-details"][0]["result-type"] == "validation-failure"
    for data in (dane, dest, other, next_day):
        assert data["organization-name"] == ORG
        assert data["contact-info"] == CONTACT


def test_same_failure_at_one_mx_is_one_detail_with_a_count() -> None:
    sessions = [out("NONE") for _ in range(3)] + [out("OK") for _ in range(5)]
    (report,) = build_reports(sessions, ORG, CONTACT)
    data = valid(report)
    (policy,) = data["policies"]
    assert policy["summary"] == {
        "total-successful-session-count": 5,
        "total-failure-session-count": 3,
    }
    assert policy["failure-details"] == [
        {
            "result-type": "starttls-not-supported",
            "receiving-mx-hostname": "mx1.dest.example",
            "receiving-ip": "192.0.2.10",
            "failed-session-count": 3,
            "failure-reason-code": "verify=NONE",
        }
    ]  # no sending-mta-ip without --sending-ip


#: `contoso-com.mail.protection.outlook.example.` as a `to=` line logs it (shortenstring, 40)
WHOLE = "contoso-com.mail.protection.outlook.example"
CUT = "contoso-com.mail.p...n.outlook.example"
#: a name longer than the 100 bytes of a handshake line's relay=%.100s
LONG = "mx" + ".abcdefghi" * 12


def cut(verify: str, name: str = CUT, **kwargs: Any) -> Session:
    """A session whose relay name the log cut short."""
    return replace(out(verify, **kwargs), relay=name, name_cut=True)


def mx_names(report: Report) -> list[tuple[str, list[str] | None, list[str | None]]]:
    """(policy type, mx-host, receiving-mx-hostname of each failure) of each policy."""
    return [
        (
            p["policy"]["policy-type"],
            p["policy"].get("mx-host"),
            [d.get("receiving-mx-hostname") for d in p.get("failure-details", [])],
        )
        for p in valid(report)["policies"]
    ]


@pytest.mark.parametrize(
    ("sessions", "names"),
    [
        # another session's handshake line shows the whole name (before or after)
        (lambda: [out("OK", relay=WHOLE), cut("NONE")], [("no-policy-found", None, [WHOLE])]),
        (lambda: [cut("NONE"), out("OK", relay=WHOLE)], [("no-policy-found", None, [WHOLE])]),
        # no whole name in the log, or two that fit: the name is left out, not made up
        (lambda: [cut("NONE")], [("no-policy-found", None, [None])]),
        (
            lambda: [
                cut("NONE"),
                out("OK", relay=WHOLE),
                out("OK", relay="contoso-com.mail.protection.region.outlook.example"),
            ],
            [("no-policy-found", None, [None])],
        ),
        # sendmail's 100 bytes of a handshake line's relay=%.100s
        (
            lambda: [cut("FAIL", LONG[:100]), out("OK", relay=LONG)],
            [("no-policy-found", None, [LONG])],
        ),
        # DANE without a handshake line (DANE_NOTLS): the tlsa policy's mx-host too
        (
            lambda: [cut("DANE_NOTLS"), out("TRUSTED", relay=WHOLE)],
            [("tlsa", [WHOLE], [WHOLE])],
        ),
        (lambda: [cut("DANE_NOTLS")], [("tlsa", None, [None])]),
        # one MX host, whatever the case of its logged name: one policy
        (
            lambda: [out("TRUSTED", relay="MX1.Dest.Example"), out("DANE_FAIL")],
            [("tlsa", ["mx1.dest.example"], ["mx1.dest.example"])],
        ),
    ],
)
def test_mx_names_the_log_cut_short_are_made_whole_or_left_out(
    sessions: Callable[[], list[Session]],
    names: list[tuple[str, list[str] | None, list[str | None]]],
) -> None:
    (report,) = build_reports(sessions(), ORG, CONTACT)
    assert mx_names(report) == names
    assert "..." not in json.dumps(report.body)


@pytest.mark.parametrize(
    ("addr", "ip"),
    [
        ("[192.0.2.10]", "192.0.2.10"),
        ("[IPv6:2001:db8::1]", "2001:db8::1"),
        ("[IPv6:2001:DB8:0:0:0:0:0:1]", "2001:db8::1"),  # RFC 5952: lower case, compressed
        ("[IPv6:2001:db8:0:0:1:0:0:1]", "2001:db8::1:0:0:1"),
        ("[IPv6:::ffff:192.0.2.9]", "::ffff:192.0.2.9"),  # RFC 5952 section 5
        ("[IPv6:::FFFF:c000:209]", "::ffff:192.0.2.9"),
        ("[may be forged]", None),  # no address: left out
    ],
)
def test_receiving_ip_is_rfc_5952_text(addr: str, ip: str | None) -> None:
    (report,) = build_reports([out("NONE", addr=addr)], ORG, CONTACT)
    (detail,) = valid(report)["policies"][0]["failure-details"]
    assert detail.get("receiving-ip") == ip


#: what a drawn session may be: its verify value, recipients, relay (whole or cut), address
_VERIFY = st.sampled_from(
    ["OK", "NOT", "NO", "TRUSTED", "NONE", "FAIL", "SOFTWARE", "TEMP", "DANE_FAIL", "DANE_TEMP",
     "DANE_NOTLS", "PROTOCOL"]
)  # fmt: skip
_RCPT = st.sampled_from(
    ["a@dest.example", "b@Dest.Example.", "c@straße.de", "d@bücher.example", "e@xn--zz.example",
     "postmaster", "f@[192.0.2.1]", "g@other.example"]
)  # fmt: skip
_RELAY = st.sampled_from([("mx1.dest.example", False), ("MX2.dest.example", False),
                          (WHOLE, False), (CUT, True), ("mx9.other.example", False)])  # fmt: skip
_ADDR = st.sampled_from(["[192.0.2.10]", "[IPv6:2001:DB8:0:0:0:0:0:1]", "[IPv6:::ffff:192.0.2.9]"])
_TIME = st.sampled_from(
    ["2026-11-28T00:00:00Z", "2026-11-28T23:59:59+00:00", "2026-11-29T00:30:00+01:00",
     "2026-11-29T12:00:00Z"]
)  # fmt: skip


@st.composite
def drawn_sessions(draw: st.DrawFn) -> list[Session]:
    sessions = []
    for _ in range(draw(st.integers(1, 12))):
        verify, (relay, name_cut) = draw(_VERIFY), draw(_RELAY)
        session = out(verify, *draw(st.lists(_RCPT, min_size=1, max_size=3)), relay=relay,
                      addr=draw(_ADDR), time=draw(_TIME))  # fmt: skip
        session.name_cut = name_cut
        session.host = draw(st.sampled_from(["mta1", "mta2", None]))
        sessions.append(session)
    return sessions


@settings(max_examples=150)
@given(drawn_sessions())
def test_any_sessions_make_reports_a_receiver_reads(sessions: list[Session]) -> None:
    """Every report is valid, its counts are its sessions, its names and addresses real."""
    reports = build_reports(sessions, ORG, CONTACT)
    expected: Counter[tuple[date, str]] = Counter()
    for session in sessions:
        day = utc_day(session.time)
        assert day is not None
        for domain in policy_domains(session):
            expected[day, domain] += 1
    seen: Counter[tuple[date, str]] = Counter()
    for report in reports:
        data = valid(report)  # the schema, and failure-details summing to the failures
        for policy in data["policies"]:
            total = policy["summary"]
            seen[report.day, report.policy_domain] += (
                total["total-successful-session-count"] + total["total-failure-session-count"]
            )
        assert "..." not in json.dumps(data)
        sender, domain, begin, end, tail = report.filename.split("!")
        assert (sender, domain) == ("sender.example", report.policy_domain)
        assert int(end) - int(begin) == 86399
        assert tail == f"{data['report-id'].rsplit('_', 1)[1]}.json.gz"
    assert seen == expected
    assert len({r.body["report-id"] for r in reports}) == len(reports)
    again = build_reports(sessions, ORG, CONTACT)
    assert [r.gzip_bytes() for r in again] == [r.gzip_bytes() for r in reports]
    reversed_order = build_reports(sessions[::-1], ORG, CONTACT)  # the files in another order
    assert [r.gzip_bytes() for r in reversed_order] == [r.gzip_bytes() for r in reports]


def test_a_session_for_two_domains_counts_once_in_each() -> None:
    session = out("NONE", "a@one.example", "b@one.example", "c@two.example")
    session.messages.append(Message("q2", None, ("d@one.example",), "Deferred"))
    reports = build_reports([session], ORG, CONTACT)
    assert [r.policy_domain for r in reports] == ["one.example", "two.example"]
    for report in reports:
        policy = valid(report)["policies"][0]
        assert policy["summary"]["total-failure-session-count"] == 1


def test_sessions_left_out_and_why() -> None:
    builder = ReportBuilder()
    builder.add(out("OK", "postmaster"))
    builder.add(out("OK", time=None))
    builder.add(out("OK", relay=None, addr="[127.0.0.1]"))
    builder.add(Session("server", "2026-11-28T03:00:00Z", None, "c.example", None))
    assert builder.reports(ORG, CONTACT) == []
    assert builder.skipped.sentences() == [
        "1 outbound session(s) carried no mail to a domain",
        "1 outbound session(s) have no readable time",
        "1 outbound session(s) went to an address literal (a [host] relay or smart host),"
        " not to an MX host name",
    ]


def test_naive_times_are_read_in_the_given_zone() -> None:
    late = out("OK", time="2026-11-28T00:30:00")
    (utc_report,) = build_reports([late], ORG, CONTACT, local=ZoneInfo("UTC"))
    (berlin_report,) = build_reports([late], ORG, CONTACT, local=ZoneInfo("Europe/Berlin"))
    assert utc_report.day == date(2026, 11, 28)
    assert berlin_report.day == date(2026, 11, 27)
    assert valid(berlin_report)["date-range"]["start-datetime"] == "2026-11-27T00:00:00Z"


# --- names, ids, gzip -----------------------------------------------------------------------


def test_file_name_follows_rfc_8460_section_5_3() -> None:
    (report,) = build_reports([out("OK")], ORG, "TLS-Reports@Sender.Example")
    sender, domain, begin, end, tail = report.filename.split("!")
    assert (sender, domain) == ("sender.example", "dest.example")
    assert int(begin) == int(datetime(2026, 11, 28, tzinfo=UTC).timestamp()) == 1795824000
    assert int(end) == int(begin) + 86399
    unique, ext = tail.split(".", 1)
    assert ext == "json.gz"
    assert unique.isalnum() and unique.isascii()
    assert report.body["report-id"] == f"2026-11-28T00:00:00Z_dest.example_{unique}"
    assert file_name("s.example", "d.example", date(1970, 1, 2), "x1") == (
        "s.example!d.example!86400!172799!x1.json.gz"
    )


def _long_domain(first: str, size: int) -> str:
    """A domain name of `size` bytes: `first`, labels of up to 60 bytes, `.example`."""
    labels, left = [first], size - len(first) - len(".example")
    while left > 1:
        label = "l" * min(60, left - 1)
        labels.append(label)
        left -= len(label) + 1
    name = ".".join(labels) + ".example"
    assert len(name) == size
    return name


@pytest.mark.parametrize("sender_size", [14, 120, 253])
def test_a_file_name_fits_in_255_bytes_whatever_the_domains(
    tmp_path: Path, sender_size: int
) -> None:
    """Two reports for two domains of 253 bytes that differ only in their first label:
    each name has at most 255 bytes and keeps the rightmost whole labels of the sender
    and of the domain, the two names differ, both files are written, and each report
    names its whole domain."""
    sender = _long_domain("sender", sender_size)
    first, second = _long_domain("aaa", 253), _long_domain("bbb", 253)
    reports = build_reports(
        [out("OK", f"u@{first}"), out("NONE", f"u@{second}")], ORG, f"tlsrpt@{sender}"
    )
    names = [r.filename for r in reports]
    assert len(set(names)) == 2
    for report, domain in zip(reports, (first, second), strict=True):
        assert len(report.filename.encode()) <= 255
        cut_sender, cut_domain, begin, end, tail = report.filename.split("!")
        for whole, cut in ((sender, cut_sender), (domain, cut_domain)):
            assert cut and (cut == whole or whole.endswith("." + cut))
        assert cut_domain != domain  # 253 + 47 bytes of the rest do not fit
        assert (int(end) - int(begin), tail.endswith(".json.gz")) == (86399, True)
        assert valid(report)["policies"][0]["policy"]["policy-domain"] == domain
    if sender_size == 14:
        assert all(n.startswith(sender + "!") for n in names)  # the short one stays whole
    written, why = write_reports(reports, str(tmp_path / "out"))
    assert why is None and sorted(Path(p).name for p in written) == sorted(names)


def test_same_input_same_id_different_input_different_id() -> None:
    a = build_reports([out("NONE")], ORG, CONTACT)[0]
    b = build_reports([out("NONE")], ORG, CONTACT)[0]
    c = build_reports([out("NONE"), out("OK")], ORG, CONTACT)[0]
    d = build_reports([out("NONE")], ORG, CONTACT, sending_ip="192.0.2.1")[0]
    assert a.filename == b.filename and a.gzip_bytes() == b.gzip_bytes()
    assert len({a.filename, c.filename, d.filename}) == 3
    assert a.body["report-id"] != c.body["report-id"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # two hosts of a cluster, each delivering one message to dest.example
        (lambda: [out("OK")], lambda: [replace(out("OK"), host="mta2")]),
        # a host without a name in its log (RFC 5424 `-`) and one with
        (lambda: [out("OK")], lambda: [replace(out("OK"), host=None)]),
        # one host, two runs over two parts of the day (log rotation at 06:25)
        (
            lambda: [out("NONE", time="2026-11-28T05:00:00+00:00")],
            lambda: [out("NONE", time="2026-11-28T07:00:00+00:00")],
        ),
        (
            lambda: [out("OK", time="2026-11-28T01:00:00Z"), out("NONE")],
            lambda: [out("OK", time="2026-11-28T02:00:00Z"), out("NONE")],
        ),
    ],
)
def test_reports_of_other_sessions_with_the_same_counts_have_other_ids(
    first: Callable[[], list[Session]], second: Callable[[], list[Session]]
) -> None:
    (a,) = build_reports(first(), ORG, CONTACT)
    (b,) = build_reports(second(), ORG, CONTACT)
    assert a.body["policies"] == b.body["policies"]  # the same numbers ...
    assert a.body["report-id"] != b.body["report-id"]  # ... but not one report
    assert a.filename != b.filename
    (again,) = build_reports(first(), ORG, CONTACT)
    assert again.gzip_bytes() == a.gzip_bytes() and again.filename == a.filename
    (both,) = build_reports(first() + second(), ORG, CONTACT)
    (other_order,) = build_reports(second() + first(), ORG, CONTACT)  # `tlsc logs b a`
    assert other_order.gzip_bytes() == both.gzip_bytes()


def test_gzip_holds_the_json() -> None:
    (report,) = build_reports(small_log()[:1], ORG, CONTACT)
    raw = report.gzip_bytes()
    assert raw[:2] == b"\x1f\x8b"
    data = json.loads(gzip.decompress(raw))
    assert data == valid(report)
    assert list(data) == [
        "organization-name",
        "date-range",
        "contact-info",
        "report-id",
        "policies",
    ]


# --- the schema itself ----------------------------------------------------------------------


def test_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def rfc_style_example() -> dict[str, Any]:
    """A report shaped like the RFC's section 4.5 example (mx-host an array, erratum 6241)."""
    return {
        "organization-name": "Company-X",
        "date-range": {
            "start-datetime": "2016-04-01T00:00:00Z",
            "end-datetime": "2016-04-01T23:59:59Z",
        },
        "contact-info": "sts-reporting@company-x.example",
        "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
        "policies": [
            {
                "policy": {
                    "policy-type": "sts",
                    "policy-string": ["version: STSv1", "mode: testing"],
                    "policy-domain": "company-y.example",
                    "mx-host": ["*.mail.company-y.example"],
                },
                "summary": {
                    "total-successful-session-count": 5326,
                    "total-failure-session-count": 303,
                },
                "failure-details": [
                    {
                        "result-type": "certificate-expired",
                        "sending-mta-ip": "2001:db8:abcd:0012::1",
                        "receiving-mx-hostname": "mx1.mail.company-y.example",
                        "failed-session-count": 100,
                    },
                    {
                        "result-type": "starttls-not-supported",
                        "sending-mta-ip": "2001:db8:abcd:0013::1",
                        "receiving-mx-hostname": "mx2.mail.company-y.example",
                        "receiving-ip": "203.0.113.56",
                        "failed-session-count": 200,
                        "additional-information": "https://reports.company-x.example/id/1",
                    },
                    {
                        "result-type": "validation-failure",
                        "sending-mta-ip": "198.51.100.62",
                        "receiving-ip": "203.0.113.58",
                        "receiving-mx-hostname": "mx-backup.mail.company-y.example",
                        "failed-session-count": 3,
                        "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED",
                    },
                ],
            }
        ],
    }


def test_schema_accepts_an_rfc_shaped_report() -> None:
    VALIDATOR.validate(rfc_style_example())


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: r.pop("report-id"),
        lambda r: r["date-range"].update({"end-datetime": "2016-04-01 23:59:59"}),
        lambda r: r["policies"][0]["policy"].update({"policy-type": "dane"}),
        lambda r: r["policies"][0]["policy"].update({"mx-host": "*.mail.company-y.example"}),
        lambda r: r["policies"][0]["summary"].pop("total-failure-session-count"),
        lambda r: r["policies"][0]["failure-details"][0].update({"result-type": "expired"}),
        lambda r: r["policies"][0]["failure-details"][0].update({"sending-mta-ip": "mta1"}),
        lambda r: r["policies"][0]["failure-details"][0].update({"failed-session-count": -1}),
        lambda r: r["policies"][0]["failure-details"][0].update({"receiving-mx-name": "x"}),
        lambda r: r.update({"contact-info": "nobody"}),
        lambda r: r.update({"policies": []}),
        # date-times out of range (no validator checks `format` without extra packages)
        lambda r: r["date-range"].update({"start-datetime": "2016-13-01T00:00:00Z"}),
        lambda r: r["date-range"].update({"start-datetime": "2016-04-00T00:00:00Z"}),
        lambda r: r["date-range"].update({"end-datetime": "2016-04-01T24:00:00Z"}),
        lambda r: r["date-range"].update({"end-datetime": "2016-04-01T23:60:00Z"}),
        lambda r: r["date-range"].update({"end-datetime": "2016-04-01T23:59:59+24:00"}),
        # domains: A-labels, no trailing dot, real labels (section 4.4)
        lambda r: r["policies"][0]["policy"].update({"policy-domain": "bücher.example"}),
        lambda r: r["policies"][0]["policy"].update({"policy-domain": "company-y.example."}),
        lambda r: r["policies"][0]["policy"].update({"policy-domain": "company..example"}),
        lambda r: r["policies"][0]["policy"].update({"policy-domain": "-company.example"}),
        lambda r: r["policies"][0]["policy"].update({"policy-domain": "a/b.example"}),
        lambda r: r["policies"][0]["policy"].update({"policy-domain": "x" * 64 + ".example"}),
        lambda r: r["policies"][0]["policy"].update({"mx-host": ["mx1.company-y.example."]}),
        lambda r: r["policies"][0]["policy"].update({"mx-host": ["mx1..company-y.example"]}),
        lambda r: r["policies"][0]["policy"].update({"mx-host": ["*mx.company-y.example"]}),
        lambda r: r["policies"][0]["policy"].update({"mx-host": [""]}),
        lambda r: r["policies"][0]["failure-details"][0].update(
            {"receiving-mx-hostname": "contoso-com.mail.p...n.outlook.example"}
        ),
        lambda r: r["policies"][0]["failure-details"][0].update(
            {"receiving-mx-hostname": "mx1.mail.company-y.example."}
        ),
        lambda r: r["policies"][0]["failure-details"][0].update({"receiving-mx-hostname": ""}),
        # addresses in RFC 5952 text: lower case, no zone
        lambda r: r["policies"][0]["failure-details"][0].update({"sending-mta-ip": "2001:DB8::1"}),
        lambda r: r["policies"][0]["failure-details"][1].update({"receiving-ip": "fe80::1%eth0"}),
        lambda r: r["policies"][0]["failure-details"][1].update(
            {"additional-information": "see the report"}
        ),
    ],
)
def test_schema_refuses_a_damaged_report(damage: Any) -> None:
    report = rfc_style_example()
    damage(report)
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(report)


# --- the command, end to end on real log lines ----------------------------------------------

#: outbound sessions as sendmail logs them: the handshake (or its failure) before the `to=` lines;
#: the times are classic syslog (local, no year)
MAIL_LOG = (FIXTURES / "tlsrpt-mail.log").read_text(encoding="utf-8")
#: journald short-iso: 23:30 at -02:00 is 01:30 UTC the next day
ISO_LOG = (FIXTURES / "tlsrpt-journal.log").read_text(encoding="utf-8")
DAY28 = "1795824000!1795910399"
DAY29 = "1795910400!1795996799"


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set this process's local zone (TZ), restored afterwards."""

    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time_module.tzset()

    yield set_zone
    monkeypatch.undo()
    time_module.tzset()


def logs(tmp_path: Path, *args: str) -> Result:
    (tmp_path / "mail.log").write_text(MAIL_LOG, encoding="utf-8")
    (tmp_path / "journal.log").write_text(ISO_LOG, encoding="utf-8")
    argv = ["logs", "--format", "tlsrpt", "--year", "2026", *args]
    return CliRunner().invoke(main, argv, catch_exceptions=False)


def written(result: Result, out_dir: Path) -> dict[str, dict[str, Any]]:
    """The reports the command printed, by file name, each checked against the schema."""
    paths = result.stdout.split()
    assert sorted(paths) == sorted(str(p) for p in out_dir.iterdir())
    reports = {}
    for path in paths:
        raw = Path(path).read_bytes()
        assert raw[:2] == b"\x1f\x8b", path
        reports[Path(path).name] = valid(json.loads(gzip.decompress(raw)))
    return reports


def summary(report: dict[str, Any]) -> list[tuple[str, int, int, list[tuple[str, str, int]]]]:
    return [
        (
            p["policy"]["policy-type"],
            p["summary"]["total-successful-session-count"],
            p["summary"]["total-failure-session-count"],
            [
                (d["result-type"], d["receiving-mx-hostname"], d["failed-session-count"])
                for d in p.get("failure-details", [])
            ],
        )
        for p in report["policies"]
    ]


def test_reports_from_real_lines_in_berlin(tmp_path: Path, zone: Callable[[str], None]) -> None:
    zone("Europe/Berlin")  # classic stamps are the logging host's local time
    out_dir = tmp_path / "reports"
    result = logs(
        tmp_path,
        "--org", ORG, "--contact", "tlsrpt@mta1.sender.example", "--out-dir", str(out_dir),
        "--sending-ip", "198.51.100.1",
        str(tmp_path / "mail.log"), str(tmp_path / "journal.log"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    reports = written(result, out_dir)
    names = {name.rsplit("!", 1)[0]: name for name in reports}
    assert sorted(names) == [
        f"mta1.sender.example!dest.example!{DAY28}",
        f"mta1.sender.example!dest.example!{DAY29}",
        f"mta1.sender.example!other.example!{DAY28}",
    ]
    dest = reports[names[f"mta1.sender.example!dest.example!{DAY28}"]]
    # 2001 OK (two to= lines, one session), 2006 OK (00:30 in Berlin is 23:30 UTC),
    # 2002 no STARTTLS at mx2, 2003 self-signed at mx1, 2004 handshake failed at old,
    # 2007 expired at mx3
    assert summary(dest) == [
        (
            "no-policy-found",
            2,
            4,
            [
                ("certificate-expired", "mx3.dest.example", 1),
                ("certificate-not-trusted", "mx1.dest.example", 1),
                ("starttls-not-supported", "mx2.dest.example", 1),
                ("validation-failure", "old.dest.example", 1),
            ],
        )
    ]
    details = dest["policies"][0]["failure-details"]
    assert {d["sending-mta-ip"] for d in details} == {"198.51.100.1"}
    assert details[3]["receiving-ip"] == "192.0.2.30"
    assert details[3]["failure-reason-code"].startswith("verify=SOFTWARE: connect failed=-1")
    assert details[0]["failure-reason-code"] == "verify=FAIL: certificate has expired"
    assert details[1]["failure-reason-code"] == "verify=FAIL: self-signed certificate"
    assert summary(reports[names[f"mta1.sender.example!other.example!{DAY28}"]]) == [
        ("no-policy-found", 1, 0, [])
    ]
    assert summary(reports[names[f"mta1.sender.example!dest.example!{DAY29}"]]) == [
        ("no-policy-found", 0, 1, [("starttls-not-supported", "mx2.dest.example", 1)])
    ]


def test_the_same_lines_in_utc_split_the_day_elsewhere(
    tmp_path: Path, zone: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    zone("UTC")
    monkeypatch.chdir(tmp_path)  # --out-dir defaults to the current directory
    result = logs(
        tmp_path, "--org", ORG, "--contact", CONTACT,
        str(tmp_path / "mail.log"), str(tmp_path / "journal.log"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert all(Path(p).parent == Path(".") for p in result.stdout.split())
    reports = {
        name.rsplit("!", 1)[0]: report for name, report in written_in(tmp_path, result).items()
    }
    assert summary(reports[f"sender.example!dest.example!{DAY28}"])[0][1:3] == (1, 4)
    assert summary(reports[f"sender.example!dest.example!{DAY29}"]) == [
        ("no-policy-found", 1, 1, [("starttls-not-supported", "mx2.dest.example", 1)])
    ]
    assert "sending-mta-ip" not in json.dumps(reports)  # unknown without --sending-ip


def written_in(directory: Path, result: Result) -> dict[str, dict[str, Any]]:
    """Like `written`, for paths printed relative to `directory`."""
    reports = {}
    for path in result.stdout.split():
        reports[Path(path).name] = valid(
            json.loads(gzip.decompress((directory / path).read_bytes()))
        )
    assert len(reports) == len([p for p in directory.iterdir() if p.name.endswith(".json.gz")])
    return reports


def test_since_until_pick_the_sessions(tmp_path: Path, zone: Callable[[str], None]) -> None:
    zone("UTC")
    out_dir = tmp_path / "r"
    result = logs(
        tmp_path, "--org", ORG, "--contact", CONTACT, "--out-dir", str(out_dir),
        "--since", "2026-11-28T09:05", "--until", "2026-11-28T09:25", str(tmp_path / "mail.log"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (report,) = written(result, out_dir).values()
    assert summary(report)[0][1:3] == (0, 2)  # 2002 and 2003 only


def test_an_existing_report_is_never_overwritten(
    tmp_path: Path, zone: Callable[[str], None]
) -> None:
    zone("UTC")
    out_dir = tmp_path / "r"
    args = (
        "--org",
        ORG,
        "--contact",
        CONTACT,
        "--out-dir",
        str(out_dir),
        str(tmp_path / "mail.log"),
    )
    first = logs(tmp_path, *args)
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    assert len(before) == 3
    again = logs(tmp_path, *args)
    assert again.exit_code == 1
    assert again.stdout == ""
    (sentence,) = [line for line in again.stderr.splitlines() if "note:" not in line]
    assert sentence.startswith(f"tlsc: {out_dir}/sender.example!")
    assert sentence.endswith("exists; tlsc never overwrites a report (move it away first)")
    assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == before


def test_what_was_left_out_is_said(tmp_path: Path, zone: Callable[[str], None]) -> None:
    zone("UTC")
    log = tmp_path / "relay.log"
    log.write_text(
        "Nov 28 07:20:00 mta1 sm-mta[1210]: STARTTLS=client, relay=[127.0.0.1], version=TLSv1.3,"
        " verify=OK, cipher=TLS_AES_256_GCM_SHA384, bits=256/256\n"
        "Nov 28 07:20:00 mta1 sm-mta[1210]: 6ASEK0Pq001205: to=<canit@example.net>,"
        " delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=30120, relay=[127.0.0.1]"
        " [127.0.0.1], dsn=2.0.0, stat=Sent (accepted)\n",
        encoding="utf-8",
    )
    argv = ["logs", "--format", "tlsrpt", "--org", ORG, "--contact", CONTACT, "--year", "2026"]
    result = CliRunner().invoke(main, [*argv, "--out-dir", str(tmp_path / "r"), str(log)])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "went to an address literal" in result.stderr
    assert "no report written" in result.stderr
    assert not (tmp_path / "r").exists()


def line_of(lines: str, words: str) -> str:
    """The first line of `lines` holding `words`."""
    return next(line for line in lines.splitlines(keepends=True) if words in line)


def log_level(lines: str, level: int) -> str:
    """The lines sendmail would have logged at LogLevel `level` (tls.c, deliver.c): the
    handshake and its error at 9 and above, a deferral at 9, a delivery at 8."""
    kept = []
    for line in lines.splitlines(keepends=True):
        if level < 9 and ("STARTTLS=" in line or "stat=Deferred" in line):
            continue
        if level < 8 and " to=" in line:
            continue
        kept.append(line)
    return "".join(kept)


@pytest.mark.parametrize(
    ("lines", "level", "reports"),
    [
        (MAIL_LOG, 9, 3),
        (MAIL_LOG, 8, None),  # every session would be starttls-not-supported
        (MAIL_LOG + ISO_LOG, 8, None),
        (ISO_LOG, 9, None),  # one clear session, nothing to tell 9 from 8
        # LogLevel 9 shown by one line of any kind: an inbound handshake, a handshake's
        # error, a deferral
        (line_of(MAIL_LOG, "STARTTLS=server, relay=") + ISO_LOG, 9, 1),
        (line_of(MAIL_LOG, "STARTTLS=client, error: ") + ISO_LOG, 9, 1),
        (
            ISO_LOG
            + "2026-11-28T23:40:00-02:00 mta1 sm-mta[3002]: 6ASE0008003002: to=<j@dest.example>,"
            " delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=120391,"
            " relay=mx2.dest.example. [192.0.2.20], dsn=4.2.0, stat=Deferred: 450 4.2.0 later\n",
            9,
            1,
        ),
    ],
)
def test_logs_below_log_level_9_make_no_report(
    tmp_path: Path, zone: Callable[[str], None], lines: str, level: int, reports: int | None
) -> None:
    """At LogLevel 8 sendmail logs deliveries but no handshake: every session to every
    domain would be reported as starttls-not-supported, which no receiver could tell
    from the truth. One sentence, exit 1, nothing written."""
    zone("UTC")
    log = tmp_path / "mail.log"
    log.write_text(log_level(lines, level), encoding="utf-8")
    argv = ["logs", "--format", "tlsrpt", "--org", ORG, "--contact", CONTACT, "--year", "2026"]
    result = CliRunner().invoke(main, [*argv, "--out-dir", str(tmp_path / "r"), str(log)])
    if reports is not None:
        assert result.exit_code == 0, result.output
        assert len(written(result, tmp_path / "r")) == reports
        return
    assert result.exit_code == 1
    assert result.stdout == ""
    (sentence,) = [line for line in result.stderr.splitlines() if "note:" not in line]
    assert sentence.startswith("tlsc: the logs read show ")
    assert (
        "no STARTTLS line and no deferral: sendmail logs its handshakes at LogLevel 9" in sentence
    )
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--contact", CONTACT], "--format tlsrpt needs --org NAME and --contact EMAIL"),
        (["--org", ORG], "--format tlsrpt needs --org NAME and --contact EMAIL"),
        (["--org", ORG, "--contact", "nobody"], "'nobody' is not an email address"),
        (["--org", ORG, "--contact", CONTACT, "--sending-ip", "mta1"], "'mta1' is not an IPv4"),
        (["--org", ORG, "--contact", CONTACT, "--sending-ip", "fe80::1%eth0"], "is not an IPv4"),
        # the contact's domain names every file: no path, no `!`, no label that is no label
        (["--org", ORG, "--contact", "a@../../x.example"], "'../../x.example' is not a domain"),
        (["--org", ORG, "--contact", "a@r/../x.example"], "'r/../x.example' is not a domain"),
        (["--org", ORG, "--contact", "a@b!c.example"], "'b!c.example' is not a domain name"),
        (["--org", ORG, "--contact", "a@-x.example"], "'-x.example' is not a domain name"),
        (["--org", ORG, "--contact", "a@x..example"], "'x..example' is not a domain name"),
    ],
)
def test_bad_options_are_one_sentence(tmp_path: Path, args: list[str], words: str) -> None:
    (tmp_path / "mail.log").write_text(MAIL_LOG, encoding="utf-8")
    argv = ["logs", "--format", "tlsrpt", "--out-dir", str(tmp_path / "r"), *args]
    result = CliRunner().invoke(main, [*argv, str(tmp_path / "mail.log")])
    assert result.exit_code == 1
    assert words in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists()
    assert sorted(p.name for p in tmp_path.parent.iterdir() if p.name.endswith(".json.gz")) == []
    assert [p.name for p in tmp_path.iterdir()] == ["mail.log"]


def test_the_sender_of_the_file_names_is_the_contacts_a_label(tmp_path: Path) -> None:
    (report,) = build_reports([out("OK")], ORG, "TLS@Straße.Example.")
    assert report.filename.startswith("xn--strae-oqa.example!dest.example!")
    assert valid(report)["contact-info"] == "TLS@Straße.Example."


#: a handshake line with the whole name, then `to=` lines that shorten it (one of a session
#: without STARTTLS, whose report would otherwise name no host)
CUT_LOG = (
    f"Nov 28 09:00:01 mta1 sm-mta[2001]: STARTTLS=client, relay={WHOLE}., version=TLSv1.3,"
    " verify=OK, cipher=TLS_AES_256_GCM_SHA384, bits=256/256\n"
    "Nov 28 09:00:02 mta1 sm-mta[2001]: 6ASE0001002001: to=<a@contoso.example>, delay=00:00:01,"
    f" xdelay=00:00:01, mailer=esmtp, pri=120391, relay={CUT}. [192.0.2.10], dsn=2.0.0,"
    " stat=Sent (ok 1)\n"
    "Nov 28 09:10:00 mta1 sm-mta[2002]: 6ASE0003002002: to=<d@contoso.example>, delay=00:00:01,"
    f" xdelay=00:00:01, mailer=esmtp, pri=120391, relay={CUT}. [IPv6:2001:DB8:0:0:0:0:0:1],"
    " dsn=2.0.0, stat=Sent (ok 3)\n"
)


@pytest.mark.parametrize(
    ("sending_ip", "text"),
    [("2001:DB8::1", "2001:db8::1"), ("::ffff:c000:209", "::ffff:192.0.2.9"), ("192.0.2.1",) * 2],
)
def test_names_and_addresses_of_real_lines(
    tmp_path: Path, zone: Callable[[str], None], sending_ip: str, text: str
) -> None:
    zone("UTC")
    log = tmp_path / "cut.log"
    log.write_text(CUT_LOG, encoding="utf-8")
    argv = ["logs", "--format", "tlsrpt", "--org", ORG, "--contact", CONTACT, "--year", "2026"]
    argv += ["--sending-ip", sending_ip, "--out-dir", str(tmp_path / "r"), str(log)]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    (report,) = written(result, tmp_path / "r").values()
    (policy,) = report["policies"]
    assert policy["summary"] == {
        "total-successful-session-count": 1,
        "total-failure-session-count": 1,
    }
    assert policy["failure-details"] == [
        {
            "result-type": "starttls-not-supported",
            "sending-mta-ip": text,
            "receiving-mx-hostname": WHOLE,
            "receiving-ip": "2001:db8::1",
            "failed-session-count": 1,
            "failure-reason-code": "verify=NONE",
        }
    ]


def test_check_jsonschema_agrees(tmp_path: Path, zone: Callable[[str], None]) -> None:
    zone("UTC")
    out_dir = tmp_path / "r"
    result = logs(
        tmp_path, "--org", ORG, "--contact", CONTACT, "--out-dir", str(out_dir),
        "--sending-ip", "2001:db8::1", str(tmp_path / "mail.log"), str(tmp_path / "journal.log"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    plain = []
    for path in out_dir.iterdir():
        target = tmp_path / (path.name.removesuffix(".gz"))
        target.write_bytes(gzip.decompress(path.read_bytes()))
        plain.append(str(target))
    tool = Path(sys.executable).parent / "check-jsonschema"
    schema = REPO / "schemas" / "tlsrpt.schema.json"
    run = subprocess.run(
        [str(tool), "--schemafile", str(schema), *plain], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**json.loads(Path(plain[0]).read_text()), "report-id": 7}))
    run = subprocess.run(
        [str(tool), "--schemafile", str(schema), str(broken)], capture_output=True, text=True
    )
    assert run.returncode == 1


# --- a real sendmail's lines: A relays to B through the smart host [localhost] --------------


@pytest.mark.realtools
def test_report_from_a_real_sendmail(
    sendmail_daemon: DaemonFactory, tmp_path: Path, zone: Callable[[str], None]
) -> None:
    """B's certificate is from a CA A does not trust: verify=FAIL, still sent, one failure."""

    def smart_host_by_name(spec: dict[str, Any]) -> None:
        # a named relay, as an MX host is: `[127.0.0.1]` would be an address literal
        spec["defaults"]["mc"]["defines"]["SMART_HOST"] = "[localhost]"

    a, _b = pair(sendmail_daemon, smart_host_by_name, b_ca=ThrowawayCA("Other CA"))
    send(a, GUARDED, OTHER)
    assert status(a, GUARDED).startswith("Sent (")
    log = tmp_path / "a.log"
    log.write_text(as_syslog_file(a), encoding="utf-8")
    zone("UTC")
    out_dir = tmp_path / "r"
    argv = ["logs", "--format", "tlsrpt", "--org", ORG, "--contact", CONTACT]
    result = CliRunner().invoke(main, [*argv, "--out-dir", str(out_dir), str(log)])
    assert result.exit_code == 0, result.output
    ((name, report),) = written(result, out_dir).items()  # both recipients are b.tlsc.test
    assert name.startswith("sender.example!b.tlsc.test!")
    (detail,) = report["policies"][0]["failure-details"]
    mx = detail["receiving-mx-hostname"]  # sendmail qualifies the name: localhost.<domain>
    assert mx.split(".")[0] == "localhost"
    assert summary(report) == [("no-policy-found", 0, 1, [("certificate-not-trusted", mx, 1)])]
    assert detail["receiving-ip"] == "127.0.0.1"
    # the fixture logs at LogLevel 12 and above: the cert line's verify message is there
    assert detail["failure-reason-code"] == "verify=FAIL: unable to get local issuer certificate"


# --- the MX hosts a delivery tried before the one its to= line names -------------------

_MX_TRIES = "".join(
    f"Feb 17 03:4{i}:00 mx sm-mta[24870]: STARTTLS=client,"
    f" relay={name}.gmail-smtp-in.l.google.com., version=TLSv1.2, verify=FAIL,"
    " cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128\n"
    for i, name in enumerate(["", "alt1", "alt2"])
).replace("relay=.gmail", "relay=gmail")
_MX_TO = (
    "Feb 17 03:44:00 mx sm-mta[24870]: s1H8ZKsI024804: to=<a@gmail.com>, delay=00:08:18,"
    " xdelay=00:00:56, mailer=esmtp, pri=120310, relay=alt2.gmail-smtp-in.l.google.com."
    " [173.194.65.27], dsn=4.0.0, stat=Deferred: 421-4.7.0 try again later\n"
)


@pytest.mark.parametrize("delivered", [True, False])
def test_each_mx_host_a_delivery_tried_is_a_session_of_its_domain(
    tmp_path: Path, delivered: bool
) -> None:
    """sendmail logs only the last relay it tried: the STARTTLS=client lines of the
    process before its to= line are the MX hosts it tried first, for the same mail."""
    from compiler.logs.sessions import read_sessions

    log = tmp_path / "mail.log"
    log.write_text(_MX_TRIES + (_MX_TO if delivered else ""))
    builder = ReportBuilder()
    read_sessions([str(log)], builder.add, 2014)
    reports = builder.reports(ORG, CONTACT, None)
    if not delivered:  # no mail named: no domain to report to
        assert reports == []
        return
    (report,) = reports
    doc = valid(report)
    (policy,) = doc["policies"]
    assert policy["summary"] == {
        "total-successful-session-count": 0,
        "total-failure-session-count": 3,
    }
    hosts = sorted(d["receiving-mx-hostname"] for d in policy["failure-details"])
    assert hosts == [
        "alt1.gmail-smtp-in.l.google.com",
        "alt2.gmail-smtp-in.l.google.com",
        "gmail-smtp-in.l.google.com",
    ]
    assert {d["result-type"] for d in policy["failure-details"]} == {"certificate-not-trusted"}
