"""Classic stamps across a new year: time goes on, never back, and no line is a year off.

A classic syslog stamp (`Dec 31 23:59:59`, RFC 3164; `%b %e %H:%M:%S` in
FreeBSD's syslogd.c RFC3164_DATEFMT, `ctime() + 4` in BusyBox's and sysklogd's
syslogd.c) has no year. The year comes from the file's modification time, or,
with `--year`, is that of each file's first classic stamp: a log goes on in
order, so a day before the first one's is in the year after (a weekly
`mail.log.1` from Dec 28 to Jan 3). The class: every way to read
a log across the new year (one file or two, plain, gzip or stdin, with their
dates or `--year`, the reference reader and the fast one in one process or
two) gives the times in order, with the right year, in the JSON, in TLS-RPT's
UTC days and in the what-if's dates; and files given newest first
(`mail.log*`) keep their years.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_logs_scan import fast, reference

from compiler.cli import main
from compiler.logs import workers

#: an outbound session (its handshake and its delivery) at STAMP, as sendmail logs them
SESSION = (
    "{stamp} mta1 sm-mta[{pid}]: STARTTLS=client, relay=mx1.dest.example., version=TLSv1.3, "
    "verify=FAIL, cipher=TLS_AES_256_GCM_SHA384, bits=256/256\n"
    "{stamp} mta1 sm-mta[{pid}]: 6ASE{pid:010d}: to=<a@dest.example>, delay=00:00:01, "
    "xdelay=00:00:01, mailer=esmtp, pri=120391, relay=mx1.dest.example. [192.0.2.10], "
    "dsn=2.0.0, stat=Sent (ok)\n"
)
DECEMBER = ["Dec 30 12:00:00", "Dec 31 23:59:59"]
JANUARY = ["Jan  1 00:00:01", "Jan  1 12:00:00", "Jan  2 08:00:00"]
WANT = [
    "2026-12-30T12:00:00",
    "2026-12-31T23:59:59",
    "2027-01-01T00:00:01",
    "2027-01-01T12:00:00",
    "2027-01-02T08:00:00",
]


def log(stamps: list[str], first_pid: int) -> str:
    return "".join(SESSION.format(stamp=s, pid=first_pid + i) for i, s in enumerate(stamps))


def written_on(path: Path, when: tuple[int, int, int]) -> None:
    stamp = time.mktime((*when, 12, 0, 0, 0, 0, -1))
    os.utime(path, (stamp, stamp))


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Classic stamps are local time: read in Europe/Berlin (UTC+1 in winter)."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


#: (name, files to write: (name, stamps, gzip?, modified), --year, stdin stamps)
WAYS = [
    ("one file, its date", [("mail.log", DECEMBER + JANUARY, False, (2027, 1, 2))], None, None),
    (
        "one file, copied in March",
        [("mail.log", DECEMBER + JANUARY, False, (2027, 3, 5))],
        None,
        None,
    ),
    (
        "one file, --year of its start",
        [("mail.log", DECEMBER + JANUARY, False, (2030, 6, 1))],
        2026,
        None,
    ),
    (
        "rotated pair, their dates",
        [("mail.log.1", DECEMBER, True, (2027, 1, 1)), ("mail.log", JANUARY, False, (2027, 1, 2))],
        None,
        None,
    ),
    (
        "gzip, --year",
        [("mail.log.1.gz", DECEMBER + JANUARY, True, (2030, 6, 1))],
        2026,
        None,
    ),
    ("stdin, --year", [], 2026, DECEMBER + JANUARY),
]


def run(tmp_path: Path, way: tuple[str, list, int | None, list[str] | None], *args: str) -> str:
    _, files, year, stdin = way
    paths = []
    pid = 100
    for name, stamps, packed, modified in files:
        path = tmp_path / name
        text = log(stamps, pid).encode()
        path.write_bytes(gzip.compress(text) if packed else text)
        written_on(path, modified)
        paths.append(str(path))
        pid += 10
    if stdin is not None:
        paths.append("-")
    argv = ["logs", *args, *(["--year", str(year)] if year else []), *paths]
    result = CliRunner().invoke(main, argv, input=log(stdin, pid) if stdin else None)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.usefixtures("berlin")
@pytest.mark.parametrize("way", WAYS, ids=[w[0] for w in WAYS])
def test_a_log_across_the_new_year_keeps_its_order_and_years(
    tmp_path: Path, way: tuple[str, list, int | None, list[str] | None]
) -> None:
    out = run(tmp_path, way, "--format", "json")
    times = [json.loads(line)["time"] for line in out.splitlines()]
    assert times == WANT
    # the what-if's dates: the first and the last of the sessions the rule would stop
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "version: 1\ncluster: t\nhosts:\n  mta1: {fqdn: mta1.example.net}\n"
        "domains:\n  dest.example: {outbound: verify}\n",
        encoding="utf-8",
    )
    text = run(tmp_path, way, "--spec", str(spec), "--format", "json")
    rule = next(r for r in json.loads(text)["rules"] if r["key"] == "TLS_Srv:dest.example")
    assert (rule["first"], rule["last"]) == (WANT[0], WANT[-1])
    # TLS-RPT: UTC days; Jan 1 00:00:01 in Berlin is Dec 31 23:00:01 UTC
    out_dir = tmp_path / "reports"
    out_dir.mkdir()
    printed = run(
        tmp_path,
        way,
        "--format",
        "tlsrpt",
        "--org",
        "Org",
        "--contact",
        "t@sender.example",
        "--out-dir",
        str(out_dir),
    )
    days = {}
    for path in printed.split():
        report = json.loads(gzip.decompress(Path(path).read_bytes()))
        start = report["date-range"]["start-datetime"][:10]
        days[start] = report["policies"][0]["summary"]["total-failure-session-count"]
    assert days == {"2026-12-30": 1, "2026-12-31": 2, "2027-01-01": 1, "2027-01-02": 1}


@pytest.mark.parametrize("procs", [1, 2])
def test_the_fast_reader_dates_as_the_reference_with_a_year(
    tmp_path: Path, procs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--year` is the year of the input's first classic stamp in every reader: lines of
    other stamps (ISO, none) before it, pieces read by other processes, gzip."""
    monkeypatch.setattr(workers, "CHUNK", 8192)
    head = "2026-12-29T10:00:00+01:00 mta1 sm-mta[9]: STARTTLS=server, error: x\n" * 200
    across = log(sorted(DECEMBER * 40) + sorted(JANUARY * 40), 100)
    packed = tmp_path / "mail.log.1.gz"
    packed.write_bytes(gzip.compress((head + across).encode()))
    plain = tmp_path / "mail.log"
    plain.write_text("Nov  1 " + "x" * 70000 + "\n" + head + across)  # too long: not its start
    for paths in ((str(packed),), (str(plain),), (str(plain), str(packed))):
        want = reference(paths, 1000)
        assert fast(paths, tmp_path, 1000, procs) == want
        times = [json.loads(line)["time"] for line in want[0].splitlines()][:400]
        assert (times[199], times[200], times[-1]) == (
            "2026-12-29T10:00:00+01:00",
            WANT[0],
            WANT[-1],
        )
        assert times[200:] == sorted(times[200:])


def test_files_newest_first_keep_their_years(tmp_path: Path) -> None:
    """`tlsc logs --year 2026 /var/log/mail.log*`: mail.log (Nov 29) comes before
    mail.log.1 (Nov 22): each file is dated from its own first stamp, not the first's."""
    newest, older = tmp_path / "mail.log", tmp_path / "mail.log.1"
    newest.write_text(log(["Nov 29 10:00:00", "Nov 30 10:00:00"], 100))
    older.write_text(log(["Nov 22 10:00:00", "Nov 23 10:00:00"], 200))
    result = CliRunner().invoke(
        main, ["logs", "--format", "json", "--year", "2026", str(newest), str(older)]
    )
    times = [json.loads(line)["time"][:10] for line in result.stdout.splitlines()]
    assert times == ["2026-11-29", "2026-11-30", "2026-11-22", "2026-11-23"]
    paths = (str(newest), str(older))
    assert fast(paths, tmp_path, 1000, 1) == reference(paths, 1000)


def test_the_edges_of_the_calendar_are_no_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file dated past year 9999 (a file system that stores such a time) is dated today,
    a reference of the last day a date holds still guesses years, and a TLS-RPT run over
    times at the calendar's edges (a UTC day no date holds) leaves them out as unreadable:
    exit 0, no traceback."""
    from datetime import date

    from compiler.logs import source
    from compiler.logs.syslog import YearGuess
    from compiler.logs.tlsrpt import utc_day

    assert YearGuess(date.max).year("Dec", 31) == 9999
    assert YearGuess(date.max).year("Jan", 1) == 9999
    assert utc_day("9999-12-31T23:59:59-14:00") is None
    assert utc_day("0001-01-01T00:00:00+14:00") is None
    assert utc_day("0001-01-01T00:00:00") in (None, date(1, 1, 1))  # east of UTC: none
    assert utc_day("2026-11-28T23:00:00-05:00") == date(2026, 11, 29)
    edge = tmp_path / "edge.log"
    edge.write_text(
        log(["9999-12-31T23:59:59.000000-14:00", "0001-01-01T00:00:00.000000+14:00"], 100)
    )
    real_fstat = os.fstat

    class Far:
        """fstat's answer, but a modification time in the year 31,690"""

        def __init__(self, fd: int) -> None:
            self._real = real_fstat(fd)

        def __getattr__(self, name: str) -> object:
            return 1e15 if name == "st_mtime" else getattr(self._real, name)

    monkeypatch.setattr(source.os, "fstat", Far)
    with source.open_input(str(edge)) as (_stream, modified):
        assert modified == date.today()
    monkeypatch.undo()
    report = ["--format", "tlsrpt", "--org", "X", "--contact", "r@sender.example"]
    result = CliRunner().invoke(
        main, ["logs", *report, "--out-dir", str(tmp_path / "o"), str(edge)]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0, result.output
    assert "2 outbound session(s) have no readable time" in result.output
