"""Rotated logs are read oldest first (source.chronological): `mail.log*` comes newest
first, and what counts in time order (the summary's span, each peer's last problem,
the what-if's sessions) must not follow the order of the arguments."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run_cli

from compiler.logs.source import chronological

OLD = (
    "Feb 17 03:42:52 mx sm-mta[24870]: STARTTLS=client, relay=mx.bank.example.,"
    " version=TLSv1.2, verify=FAIL, cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128\n"
)
NEW = (
    "Feb 18 10:24:32 mx sm-mta[32283]: ruleset=tls_server, arg1=SOFTWARE,"
    " relay=mx.bank.example., reject=403 4.7.0 TLS handshake failed.\n"
)
DAY = 86_400


def _rotated(tmp_path: Path) -> list[str]:
    """mail.log (the newer lines) and mail.log.1, as the shell expands mail.log*."""
    new, old = tmp_path / "mail.log", tmp_path / "mail.log.1"
    new.write_text(NEW)
    old.write_text(OLD)
    stamp = 1_771_400_000  # 2026-02-18
    os.utime(old, (stamp - DAY, stamp - DAY))
    os.utime(new, (stamp, stamp))
    return [str(new), str(old)]


def test_the_summary_reads_the_newest_file_last(tmp_path: Path) -> None:
    files = _rotated(tmp_path)
    for order in (files, files[::-1]):
        rc, out, err = run_cli("logs", "--year", "2026", *order)
        assert rc == 0, err
        head = out.splitlines()[0]
        assert "2026-02-17T03:42:52 .. 2026-02-18T10:24:32" in head, head
        peer = next(line for line in out.splitlines() if "mx.bank.example" in line)
        assert "tls_server refused verify=SOFTWARE" in peer, out  # the later problem
        assert "verify=FAIL" not in peer, out


def test_json_keeps_the_order_given(tmp_path: Path) -> None:
    files = _rotated(tmp_path)
    rc, out, err = run_cli("logs", "--year", "2026", "--format", "json", *files)
    assert rc == 0, err
    assert [json.loads(line)["time"] for line in out.splitlines()] == [
        "2026-02-18T10:24:32",
        "2026-02-17T03:42:52",
    ]


@pytest.mark.parametrize("same", [True, False])
def test_chronological_keeps_ties_and_stdin_in_the_order_given(tmp_path: Path, same: bool) -> None:
    a, b, c = (tmp_path / n for n in "abc")
    for i, path in enumerate((a, b, c)):
        path.write_text("")
        t = 1_000_000 if same else 1_000_000 - i
        os.utime(path, (t, t))
    names = [str(a), str(b), str(c)]
    assert chronological(names) == tuple(names if same else names[::-1])
    assert chronological([*names, "-"]) == (*names, "-")
    assert chronological([*names, str(tmp_path / "missing")]) == (*names, str(tmp_path / "missing"))
