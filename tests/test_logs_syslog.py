"""The syslog prefix forms `tlsc logs` reads (compiler/logs/syslog.py)."""

from __future__ import annotations

from datetime import date

import pytest

from compiler.logs.syslog import SyslogLine, YearGuess, split_syslog

MSG = "STARTTLS=server, relay=localhost [127.0.0.1], version=TLSv1.3, verify=OK"
YEARS = YearGuess(date(2026, 11, 29))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            f"Nov 28 13:51:51 mta1 sm-mta[11274]: {MSG}",
            SyslogLine("2026-11-28T13:51:51", "mta1", "sm-mta", "11274", MSG),
        ),
        (
            f"Nov  8 03:01:02 mta1 sendmail[7]: {MSG}",
            SyslogLine("2026-11-08T03:01:02", "mta1", "sendmail", "7", MSG),
        ),
        (  # a raw socket message: priority, no host (what the test daemon's sink records)
            f"<22>Nov 28 13:51:51 sm-A[11274]: {MSG}",
            SyslogLine("2026-11-28T13:51:51", None, "sm-A", "11274", MSG),
        ),
        (
            f"Nov 28 13:51:51 mta1 sm-mta: {MSG}",
            SyslogLine("2026-11-28T13:51:51", "mta1", "sm-mta", None, MSG),
        ),
        (  # rsyslog high precision (RSYSLOG_FileFormat)
            f"2026-11-28T10:00:01.123456+00:00 mta1 sendmail[123]: {MSG}",
            SyslogLine("2026-11-28T10:00:01.123456+00:00", "mta1", "sendmail", "123", MSG),
        ),
        (  # journalctl -o short-iso
            f"2026-11-28T10:00:01+0100 mta1 sm-mta[123]: {MSG}",
            SyslogLine("2026-11-28T10:00:01+01:00", "mta1", "sm-mta", "123", MSG),
        ),
        (  # journalctl -o short-iso-precise
            f"2026-11-28T10:00:01.000123-0500 mta1 sm-mta[9]: {MSG}",
            SyslogLine("2026-11-28T10:00:01.000123-05:00", "mta1", "sm-mta", "9", MSG),
        ),
        (
            f"2026-11-28T10:00:01Z mta1.example.net sm-mta[9]: {MSG}",
            SyslogLine("2026-11-28T10:00:01Z", "mta1.example.net", "sm-mta", "9", MSG),
        ),
        (  # RFC 5424 on the wire
            f"<22>1 2026-11-28T10:00:01.5Z mta1 sm-mta 123 - - {MSG}",
            SyslogLine("2026-11-28T10:00:01.5Z", "mta1", "sm-mta", "123", MSG),
        ),
        (
            f'<22>1 2026-11-28T10:00:01+01:00 mta1 sm-mta - ID47 [x@1 a="b\\]"] {MSG}',
            SyslogLine("2026-11-28T10:00:01+01:00", "mta1", "sm-mta", None, MSG),
        ),
        (  # a queue id stays in the message
            "Nov 28 13:51:51 mta1 sm-mta[1]: 6ASDppfv011274: to=<a@b>, stat=Sent",
            SyslogLine(
                "2026-11-28T13:51:51", "mta1", "sm-mta", "1", "6ASDppfv011274: to=<a@b>, stat=Sent"
            ),
        ),
    ],
)
def test_prefix_forms(line: str, expected: SyslogLine) -> None:
    assert split_syslog(line, YEARS) == expected


@pytest.mark.parametrize("line", ["", "garbage", f"sendmail[1]: {MSG}", "Nov 28 13:51"])
def test_unknown_prefix(line: str) -> None:
    assert split_syslog(line, YEARS) is None


def test_year_of_classic_stamps_follows_the_reference_date() -> None:
    january = YearGuess(date(2027, 1, 3))
    assert january.year("Dec") == 2026  # logged before the new year, rotated after
    assert january.year("Jan") == 2027
    assert YearGuess(date(2027, 1, 3), fixed=2020).year("Dec") == 2020
    line = split_syslog(f"Dec 31 23:59:59 mta1 sm-mta[1]: {MSG}", january)
    assert line is not None and line.time == "2026-12-31T23:59:59"
