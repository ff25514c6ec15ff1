"""The syslog prefix forms `tlsc logs` reads (compiler/logs/syslog.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_logs_repeated import read
from test_logs_scan import fast, reference

from compiler.logs.syslog import SyslogLine, YearGuess, first_classic, split_syslog

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
        (  # RFC 5424 6.2.3: `-` (NILVALUE) when the sender knows no time (FreeBSD's
            # syslogd.c fprintlog_rfc5424 writes it when strftime fails): no time
            f"<22>1 - mta1 sm-mta 123 - - {MSG}",
            SyslogLine(None, "mta1", "sm-mta", "123", MSG),
        ),
        (  # BusyBox's syslogd (sysklogd/syslogd.c timestamp_and_log: "%s %.64s %s %s\n",
            # timestamp, hostname, facility.priority from parse_fac_prio_20, msg)
            f"Nov 28 13:51:51 mta1 mail.info sm-mta[11274]: {MSG}",
            SyslogLine("2026-11-28T13:51:51", "mta1", "sm-mta", "11274", MSG),
        ),
        (  # ... and `<PRI>` for a facility or level it has no name for
            f"Nov 28 13:51:51 mta1.example.net <22> sendmail[1]: {MSG}",
            SyslogLine("2026-11-28T13:51:51", "mta1.example.net", "sendmail", "1", MSG),
        ),
        (  # ... and local7.warn
            f"Nov  8 13:51:51 mta1 local7.warn sm-msp-queue[2]: {MSG}",
            SyslogLine("2026-11-08T13:51:51", "mta1", "sm-msp-queue", "2", MSG),
        ),
        (  # ... and with -S (small): no host, no level
            f"Nov 28 13:51:51 sm-mta[11274]: {MSG}",
            SyslogLine("2026-11-28T13:51:51", None, "sm-mta", "11274", MSG),
        ),
        (  # macOS's repeat line in older releases: a colon after the time (asl_action.c)
            "Oct  2 00:32:52: --- last message repeated 1 time ---",
            SyslogLine(
                "2026-10-02T00:32:52", None, None, None, "--- last message repeated 1 time ---"
            ),
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


@pytest.mark.parametrize(
    "line",
    ["", "garbage", f"sendmail[1]: {MSG}", "Nov 28 13:51", f"Nov 28 13:51:51: mta1 x[1]: {MSG}"],
)
def test_unknown_prefix(line: str) -> None:
    assert split_syslog(line, YEARS) is None


#: lines real syslogds write, each with a handshake (and its cert line) of the host and the
#: process, and the time it is read at (T: 2026-11-28T10:00:01)
T = "2026-11-28T10:00:01"
WRITTEN = [
    # BusyBox syslogd (sysklogd/syslogd.c timestamp_and_log): the facility.priority after the host
    ("Nov 28 10:00:01 mta1 mail.info sm-mta[123]: {msg}", T, "mta1"),
    ("Nov 28 10:00:01 mta1 mail.notice sm-mta[123]: {msg}", T, "mta1"),
    ("Nov 28 10:00:01 mta1 <22> sm-mta[123]: {msg}", T, "mta1"),
    # RFC 5424 without a time (NILVALUE)
    ("<22>1 - mta1 sm-mta 123 - - {msg}", None, "mta1"),
    # rsyslog RSYSLOG_SyslogProtocol23Format (two blanks: it keeps the one after `tag:`)
    (
        "<22>1 2026-11-28T10:00:01.123456+01:00 mta1 sm-mta 123 - -  {msg}",
        "2026-11-28T10:00:01.123456+01:00",
        "mta1",
    ),
    (
        "<22>1 2026-11-28T10:00:01.123456+01:00 mta1 sm-mta 123 - - {msg}",
        "2026-11-28T10:00:01.123456+01:00",
        "mta1",
    ),
    # rsyslog RSYSLOG_FileFormat (high precision), RSYSLOG_TraditionalFileFormat
    (
        "2026-11-28T10:00:01.123456-05:00 mta1.example.net sendmail[123]: {msg}",
        "2026-11-28T10:00:01.123456-05:00",
        "mta1.example.net",
    ),
    ("Nov 28 10:00:01 mta1.example.net sm-msp-queue[123]: {msg}", T, "mta1.example.net"),
    # a host logged by its address (rsyslog's FROMHOST without DNS; FreeBSD's cvthname)
    ("Nov 28 10:00:01 2001:db8::25 sm-mta[123]: {msg}", T, "2001:db8::25"),
    ("Nov 28 10:00:01 192.0.2.25 sm-mta[123]: {msg}", T, "192.0.2.25"),
    # journalctl -o short, short-iso, short-precise, short-iso-precise, short-full, short-unix
    ("Nov 28 10:00:01 mta1 sm-mta[123]: {msg}", T, "mta1"),
    ("Nov 08 10:00:01 mta1 sm-mta[123]: {msg}", "2026-11-08T10:00:01", "mta1"),
    ("2026-11-28T10:00:01+0100 mta1 sm-mta[123]: {msg}", T + "+01:00", "mta1"),
    ("Nov 28 10:00:01.123456 mta1 sm-mta[123]: {msg}", T, "mta1"),
    (
        "2026-11-28T10:00:01.123456+0100 mta1 sm-mta[123]: {msg}",
        "2026-11-28T10:00:01.123456+01:00",
        "mta1",
    ),
    ("Sat 2026-11-28 10:00:01 CET mta1 sm-mta[123]: {msg}", T, "mta1"),
    ("1796029201.123456 mta1 sm-mta[123]: {msg}", "2026-11-30T09:00:01.123456+00:00", "mta1"),
    # FreeBSD syslogd -v / -vv
    ("Nov 28 10:00:01 <2.6> mta1 sm-mta[123]: {msg}", T, "mta1"),
    ("Nov 28 10:00:01 <mail.info> mta1 sm-mta[123]: {msg}", T, "mta1"),
    # Solaris, illumos
    ("Nov 28 10:00:01 mta1 sendmail[123]: [ID 702911 mail.info] {msg}", T, "mta1"),
]


@pytest.mark.parametrize(("form", "time", "host"), WRITTEN)
def test_a_real_syslogds_line_is_read_by_both_readers(
    tmp_path: Path, form: str, time: str | None, host: str
) -> None:
    """Each form gives the handshake of its host and process (its cert line pairs with it),
    at its time, the same from the reference reader and the fast one; a postfix line
    about STARTTLS between them is nothing."""
    handshake = (
        "STARTTLS=client, relay=mx.example.net., version=TLSv1.2, verify=FAIL, "
        "cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128"
    )
    cert = "STARTTLS=client, cert-subject=/CN=mx, cert-issuer=/CN=CA, verifymsg=self-signed"
    postfix = (
        "Nov 28 10:00:01 mta1 postfix/smtpd[9]: lost connection after STARTTLS from "
        "c.example[192.0.2.1]"
    )
    text = f"{form.format(msg=handshake)}\n{postfix}\n{form.format(msg=cert)}\n"
    (entry,), unreadable = read(tmp_path, text)
    assert unreadable == 0
    assert (entry.host, entry.verify, entry.cert_subject) == (host, "FAIL", "/CN=mx")
    assert entry.time == time
    log = str(tmp_path / "mail.log")
    assert fast((log,), tmp_path, 1000, 1) == reference((log,), 1000)


def test_year_of_classic_stamps_follows_the_reference_date() -> None:
    january = YearGuess(date(2027, 1, 3))
    assert january.year("Dec", 31) == 2026  # logged before the new year, rotated after
    assert january.year("Jan", 3) == 2027
    assert YearGuess(date(2027, 1, 3), fixed=2020).year("Dec", 31) == 2020  # no start yet
    line = split_syslog(f"Dec 31 23:59:59 mta1 sm-mta[1]: {MSG}", january)
    assert line is not None and line.time == "2026-12-31T23:59:59"


@pytest.mark.parametrize(
    ("reference", "month", "day", "year"),
    [
        # later in the same month than the file was last written: the year before
        (date(2026, 12, 3), "Dec", 20, 2025),
        (date(2026, 12, 3), "Dec", 3, 2026),
        # one day of grace: a host whose clock is in a time zone ahead of the reader's
        (date(2026, 12, 3), "Dec", 4, 2026),
        (date(2026, 12, 3), "Dec", 5, 2025),
        (date(2026, 12, 31), "Jan", 1, 2027),
        (date(2027, 1, 1), "Jan", 3, 2026),
        # a month after the reference: the year before (as before)
        (date(2026, 11, 29), "Dec", 1, 2025),
        (date(2026, 11, 29), "Jan", 15, 2026),
        # Feb 29 goes back to the last leap year not after the reference
        (date(2027, 3, 1), "Feb", 29, 2024),
        (date(2028, 3, 1), "Feb", 29, 2028),
        (date(2028, 2, 27), "Feb", 29, 2024),
        # a day no month has: this year, as logged
        (date(2026, 12, 3), "Feb", 30, 2026),
    ],
)
def test_year_of_a_classic_stamp_is_never_after_the_reference(
    reference: date, month: str, day: int, year: int
) -> None:
    assert YearGuess(reference).year(month, day) == year


@pytest.mark.parametrize(
    ("start", "month", "day", "year"),
    [
        # a log from Dec 28 on: what comes before Dec 27 in the calendar is the new year
        (("Dec", 28), "Dec", 31, 2026),
        (("Dec", 28), "Jan", 3, 2027),
        (("Dec", 28), "Dec", 27, 2026),  # a day of grace: lines a relay held back
        (("Dec", 28), "Dec", 26, 2027),
        # a whole year from Jan 1: all of it in the year given
        (("Jan", 1), "Dec", 31, 2026),
        (("Mar", 1), "Feb", 28, 2027),
        (("Mar", 1), "Feb", 29, 2026),  # within the day of grace
        (None, "Jan", 3, 2026),  # no classic stamp seen yet: the year given
        (("Dec", 28), "Feb", 30, 2026),  # no such day: as logged
    ],
)
def test_a_fixed_year_is_that_of_the_first_classic_stamp(
    start: tuple[str, int] | None, month: str, day: int, year: int
) -> None:
    years = YearGuess(date(2030, 6, 1), fixed=2026)
    years.note_start(b"2026-06-15T10:00:00+00:00 mta1 sm-mta[1]: x")  # not a classic stamp
    if start is not None:
        years.note_start(f"{start[0]} {start[1]:2d} 10:00:00 mta1 sm-mta[1]: x".encode())
        years.note_start(b"Jun 15 10:00:00 mta1 sm-mta[1]: x")  # only the first counts
    assert years.year(month, day) == year


def test_a_day_later_in_the_month_than_the_file_is_last_year(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Read from a file: its modification time is the reference, in every reader of logs."""
    import os
    import time

    from compiler.logs.workers import scan_files

    root = tmp_path_factory.mktemp("years")
    log = root / "mail.log"
    log.write_text(
        "Dec 20 10:00:00 mta1 sm-mta[1]: STARTTLS=server, relay=a.example [192.0.2.1],"
        " version=TLSv1.3, verify=NO, cipher=TLS_AES_256_GCM_SHA384, bits=256/256\n"
        "Dec  2 10:00:00 mta1 sm-mta[2]: STARTTLS=server, relay=b.example [192.0.2.2],"
        " version=TLSv1.3, verify=NO, cipher=TLS_AES_256_GCM_SHA384, bits=256/256\n"
    )
    stamp = time.mktime((2026, 12, 3, 12, 0, 0, 0, 0, -1))
    os.utime(log, (stamp, stamp))
    tally = scan_files((str(log),), "text", None, workers=1).tally
    assert (tally.first, tally.last) == ("2025-12-20T10:00:00", "2026-12-02T10:00:00")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"2026-11-28T10:00:01+01:00 mta1 sm-mta[1]: x",
                b"Nov 28 10:00:01 mta1 sm-mta[1]: x",
                b"<22>Dec  1 10:00:01 sm-mta[1]: x",
                b"<22>1 2026-11-28T10:00:01Z mta1 sm-mta 1 - - x",
                b"Jan " + "\u0662\u0668".encode() + b" 10:00:01 mta1 x[1]: y",  # digits str reads
                b"Nov 28 10:00:01 " + b"y" * 300,  # too long for the limit below
                b"Nov 2x 10:00:01 mta1 x[1]: y",
                b"  Nov 28 10:00:01 mta1 x[1]: y",
                b"Oct  2 00:32:52: --- last message repeated 1 time ---",
                b'{"MESSAGE": "x"}',
                b"",
            ]
        ),
        max_size=8,
    ),
    st.sampled_from([b"\n", b"\r\n"]),
)
def test_first_classic_of_a_block_is_the_first_the_lines_give(
    lines: list[bytes], end: bytes
) -> None:
    """The workers find a fixed year's start in a block as the line reader does, one by one
    (lines too long to read skipped)."""
    years = YearGuess(date(2030, 1, 1), fixed=2026)
    for line in lines:
        if len(line) <= 200:
            years.note_start(line)
    assert first_classic(end.join(lines) + end, 200) == years.start
