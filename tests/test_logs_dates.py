"""A stamp no calendar or clock has (Nov 31, Feb 29 of a year without one, 25:61:61,
an ISO month 13) is no time: the record says `time: null`, as for a line without a
stamp, never an ISO text that is no date. The fast scanner and the reference reader
agree (the fast one leaves such lines to the reference one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from compiler.logs.command import stream_records

MSG = "pf sm-mta[{n}]: STARTTLS=server, relay=a.example [192.0.2.1], version=TLSv1.2,"
MSG += " verify=NO, cipher=TLS_AES_256_GCM_SHA384, bits=256/256"


@pytest.mark.parametrize(
    ("stamp", "year", "time"),
    [
        ("Nov 31 03:23:34", "2026", None),
        ("Apr 31 03:23:34", "2026", None),
        ("Feb 30 03:23:34", "2026", None),
        ("Feb 29 03:23:34", "2025", None),
        ("Feb 29 03:23:34", "2024", "2024-02-29T03:23:34"),
        ("Nov 28 25:61:61", "2026", None),
        ("Nov 28 23:59:59", "2026", "2026-11-28T23:59:59"),
        ("Nov  0 01:00:00", "2026", None),
        ("Nov  1 01:00:00", "2026", "2026-11-01T01:00:00"),
        ("Jan 31 01:00:00", "2026", "2026-01-31T01:00:00"),
        ("2026-13-45T09:00:00+00:00", "2026", None),
        ("2026-11-31T09:00:00+00:00", "2026", None),
        ("2026-11-30T09:00:00+00:00", "2026", "2026-11-30T09:00:00+00:00"),
    ],
)
def test_a_stamp_no_calendar_has_is_no_time(
    tmp_path: Path, stamp: str, year: str, time: str | None
) -> None:
    log = tmp_path / "mail.log"
    log.write_text(f"{stamp} {MSG.format(n=1)}\n")
    rc, out, err = run_cli("logs", "--year", year, "--format", "json", log)
    assert rc == 0, err
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record["time"] == time and record["relay"] == "a.example", record
    got: list[object] = []
    stream_records((str(log),), got.append, None, int(year))
    assert [getattr(r, "time", None) for r in got] == [time]  # the reference reader
