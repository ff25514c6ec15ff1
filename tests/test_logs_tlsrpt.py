"""TLS-RPT reports (compiler/logs/tlsrpt.py): outcomes, counts, UTC days, names, gzip, schema."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest

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
)

REPO = Path(__file__).resolve().parent.parent
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
        assert sum(d["failed-session-count"] for d in details) == (
            policy["summary"]["total-failure-session-count"]
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


def test_a_refused_tls_session_is_a_failure_with_the_reply() -> None:
    reply = "403 4.7.0 encryption too weak 128 less than 256"
    assert classify(out("OK", refusals=(reply,))) == Outcome(
        "no-policy-found", "validation-failure", f"verify=OK: {reply}"
    )
    none = "403 4.7.0 encryption too weak 0 less than 128"
    assert classify(out("NONE", refusals=(none,))).result_type == "starttls-not-supported"


def test_try_tls_no_is_not_blamed_on_the_receiver() -> None:
    reply = "550 5.7.1 <x.example>... do not try TLS with x.example [192.0.2.99]"
    outcome = classify(out("NONE", refusals=(reply,)))
    assert outcome.result_type == "validation-failure"
    assert outcome.reason == f"verify=NONE: {reply}"


# --- policy domains and days ----------------------------------------------------------------


def test_policy_domains_are_the_recipient_domains() -> None:
    session = out("OK", "a@Dest.Example", "b@dest.example.", "c@other.example", "postmaster")
    session.messages.append(Message("q2", None, ("d@[192.0.2.1]", "<e@third.example>")))
    assert policy_domains(session) == {"dest.example", "other.example", "third.example"}


def test_idn_domains_become_a_labels() -> None:
    assert policy_domains(out("OK", "a@bücher.example")) == {"xn--bcher-kva.example"}


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
    expired = out("FAIL", time="2026-11-28T12:00:00+00:00")
    expired.verifymsg = "certificate has expired"  # type: ignore[attr-defined]
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
    assert int(begin) == int(datetime(2026, 11, 28, tzinfo=UTC).timestamp()) == 1796256000
    assert int(end) == int(begin) + 86399
    unique, ext = tail.split(".", 1)
    assert ext == "json.gz"
    assert unique.isalnum() and unique.isascii()
    assert report.body["report-id"] == f"2026-11-28T00:00:00Z_dest.example_{unique}"
    assert file_name("s.example", "d.example", date(1970, 1, 2), "x1") == (
        "s.example!d.example!86400!172799!x1.json.gz"
    )


def test_same_input_same_id_different_input_different_id() -> None:
    a = build_reports([out("OK")], ORG, CONTACT)[0]
    b = build_reports([out("OK")], ORG, CONTACT)[0]
    c = build_reports([out("OK"), out("OK")], ORG, CONTACT)[0]
    d = build_reports([out("OK")], ORG, CONTACT, sending_ip="192.0.2.1")[0]
    assert a.filename == b.filename and a.gzip_bytes() == b.gzip_bytes()
    assert len({a.filename, c.filename, d.filename}) == 3
    assert a.body["report-id"] != c.body["report-id"]


def test_gzip_holds_the_json() -> None:
    (report,) = build_reports(small_log()[:2], ORG, CONTACT)
    raw = report.gzip_bytes()
    assert raw[:2] == b"\x1f\x8b"
    data = json.loads(gzip.decompress(raw))
    assert data == valid(report)
    assert list(data) == ["organization-name", "date-range", "contact-info", "report-id", "policies"]


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
    ],
)
def test_schema_refuses_a_damaged_report(damage: Any) -> None:
    report = rfc_style_example()
    damage(report)
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(report)
