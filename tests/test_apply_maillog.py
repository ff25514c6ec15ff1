"""compiler/apply/maillog.py: sendmail's TLS lines since the restart, from the mail log."""

from __future__ import annotations

import os
from pathlib import Path

from compiler.apply.maillog import MAX_QUOTED, find_log, mark, tls_lines_since

OLD = "Dec  2 10:00:00 mx sm-mta[10]: STARTTLS=server: file /k unsafe: Group readable file\n"
NEW = (
    "Dec  2 10:01:00 mx sm-mta[20]: starting daemon (8.17.1.9): SMTP+queueing@00:10:00\n"
    "Dec  2 10:01:00 mx sm-mta[20]: STARTTLS=server, error: SSL_CTX_check_private_key failed\n"
    "Dec  2 10:01:01 mx sm-mta[21]: 6B2J29pW: localhost did not issue MAIL during connection\n"
)


def test_only_the_tls_lines_written_after_the_mark(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(OLD)
    at = mark(log)
    with log.open("a") as f:
        f.write(NEW)
    assert tls_lines_since(log, at) == [
        "Dec  2 10:01:00 mx sm-mta[20]: STARTTLS=server, error: SSL_CTX_check_private_key failed"
    ]


def test_a_log_rotated_after_the_mark_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(OLD * 10)
    at = mark(log)
    log.write_text(NEW)  # smaller than the mark: a new file
    assert len(tls_lines_since(log, at)) == 1


def test_the_last_few_lines_are_quoted_and_long_ones_cut(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    at = mark(log)  # not there yet: everything that appears is new
    log.write_text("".join(f"x sm-mta[{i}]: STARTTLS: {'y' * 400}\n" for i in range(20)))
    said = tls_lines_since(log, at)
    assert len(said) == MAX_QUOTED and said[-1].startswith("x sm-mta[19]:")
    assert all(len(line) <= 300 for line in said)


def test_no_log_or_a_fifo_quotes_nothing(tmp_path: Path) -> None:
    assert tls_lines_since(None, None) == []
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert tls_lines_since(fifo, 0) == []  # never waits on it
    assert find_log(str(fifo)) == fifo
