"""The log parser never raises, and every record has the documented keys with the right types."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.logs.command import stream_entries
from compiler.logs.parse import LogParser, Notice, Ordered, RulesetEvent, TlsRecord, json_line
from compiler.logs.summary import Summary
from compiler.logs.syslog import YearGuess, split_syslog

YEARS = YearGuess(date(2026, 11, 29))
OPTIONAL_STR = ("time", "host", "version", "verify", "cipher", "error")

prefixes = st.sampled_from(
    [
        "",
        "Nov 28 10:00:01 mta1 sm-mta[1]: ",
        "Nov  8 10:00:01 sendmail[2]: ",
        "<22>Nov 28 10:00:01 sm-A[3]: ",
        "2026-11-28T10:00:01.123456+00:00 mta1 sendmail[1]: ",
        "2026-11-28T10:00:01+0000 mta1 sm-mta[1]: ",
        "<22>1 2026-11-28T10:00:01Z mta1 sm-mta 1 - - ",
        "Nov 28 10:00:01 mta1 sm-mta[1]: 6ASDppfv011274: ",
    ]
)
pieces = st.sampled_from(
    [
        "STARTTLS=server, ",
        "STARTTLS=client, ",
        "STARTTLS=server: ",
        "STARTTLS: ",
        "relay=",
        "localhost [127.0.0.1]",
        "[",
        "]",
        ".",
        ", version=",
        "TLSv1.3",
        ", verify=",
        "OK",
        ", cipher=",
        ", bits=",
        "256/256",
        "/",
        "99999999999999999999",
        "²",
        "error: ",
        "accept failed=-1, reason=x",
        "cert-subject=",
        ", cert-issuer=",
        ", verifymsg=",
        "ruleset=tls_server, arg1=",
        "ruleset=try_tls, ",
        ", reject=",
        "init=1",
        "file /x unsafe: y",
        " ",
        ", ",
        "=",
        "\x00",
        "\ufffd",
        "message repeated 3 times: [ ",
        "message repeated 0 times: [",
        "message repeated 2147483648 times: [ ",
    ]
)
messages = st.lists(st.one_of(pieces, st.text(max_size=8)), max_size=14).map("".join)
lines = st.tuples(prefixes, messages).map("".join)


def check(record: TlsRecord) -> None:
    data = json.loads(json_line(record))
    for key in OPTIONAL_STR:
        assert key in data and (data[key] is None or isinstance(data[key], str))
    assert data["direction"] in ("server", "client")
    for key in ("bits", "bits_max"):
        assert key in data and (data[key] is None or type(data[key]) is int)
    for key in ("relay", "addr", "cert_subject", "cert_issuer"):
        assert key not in data or isinstance(data[key], str)
    assert "relay" not in data or (data["relay"] and not data["relay"].endswith("."))
    assert "addr" not in data or data["addr"].startswith("[")


@settings(max_examples=400, deadline=None)
@given(st.lists(lines, max_size=12), st.integers(min_value=1, max_value=5))
def test_parser_never_raises_and_records_are_well_formed(batch: list[str], window: int) -> None:
    summary = Summary()

    def on_event(event: RulesetEvent | Notice) -> None:
        summary.add_event(event)

    parser = LogParser(on_event, window=window)
    out: list[TlsRecord] = []
    for text in batch:
        out += parser.feed(split_syslog(text, YEARS), text)
    out += parser.flush()
    for record in out:
        check(record)
        summary.add(record)
    summary.worst_peers()
    assert summary.records == sum(r.count for r in out)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes(data: bytes) -> None:
    parser = LogParser()
    for raw in data.split(b"\n"):
        text = raw.decode("utf-8", "replace")
        for record in parser.feed(split_syslog(text, YEARS), text):
            check(record)
    for record in parser.flush():
        check(record)


REAL_LINES = (
    (Path(__file__).resolve().parent.parent / "examples/logs/mail.log").read_bytes().splitlines()
)


#: what sysklogd, FreeBSD, macOS and rsyslog (`$RepeatedMsgContainsOriginalMsg off`)
#: write after a classic stamp for a line logged again (tests/test_logs_last_repeated.py)
LAST_REPEATED = [
    b"colo10 last message repeated 3 times",
    b"colo10 syslogd: last message repeated 2 times",
    b"--- last message repeated 1 time ---",
    b"colo10 sm-mta[1234]: last message repeated 4 times",
    b"colo10 last message repeated 0 times",
    b"other last message repeated 3 times",
]


@st.composite
def mutated_logs(draw: st.DrawFn) -> bytes:
    """Real lines, some cut, spliced with random bytes, indented, or doubled."""
    out: list[bytes] = []
    for _ in range(draw(st.integers(min_value=1, max_value=20))):
        line = draw(st.sampled_from(REAL_LINES))
        how = draw(
            st.sampled_from(
                ["keep", "cut", "insert", "flip", "indent", "join", "bytes", "repeat", "last"]
            )
        )
        at = draw(st.integers(min_value=0, max_value=len(line)))
        if how == "cut":
            line = line[:at]
        elif how == "insert":
            line = line[:at] + draw(st.binary(max_size=6)) + line[at:]
        elif how == "flip" and at < len(line):
            line = line[:at] + bytes([line[at] ^ draw(st.integers(1, 255))]) + line[at + 1 :]
        elif how == "indent":
            line = draw(st.sampled_from([b" ", b"\t", b"    "])) + line
        elif how == "join":
            line = line + draw(st.sampled_from(REAL_LINES))
        elif how == "bytes":
            line = draw(st.binary(max_size=80))
        elif how == "repeat" and b"]: " in line:  # rsyslog's repeat line, or one it never writes
            head, _, msg = line.partition(b"]: ")
            count = draw(st.sampled_from([b"1", b"3", b"0", b"2147483648", b"9" * 30]))
            end = draw(st.sampled_from([b"]", b"", b"]]"]))
            line = head + b"]: message repeated " + count + b" times: [ " + msg[:at] + end
        elif how == "last":  # the other syslogds' repeat line (of the line before), or a cut one
            line = line[:16] + draw(st.sampled_from(LAST_REPEATED))[: at or None]
        out.append(line)
    return b"\n".join(out) + draw(st.sampled_from([b"", b"\n", b"\r\n"]))


def check_entries(data: bytes, tmp: Path) -> None:
    log = tmp / "mail.log"
    log.write_bytes(data)
    out: list[Ordered] = []
    stats, problems = stream_entries((str(log),), out.append, 2026)
    assert problems == []
    assert stats.lines == data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    for entry in out:
        if isinstance(entry, Notice):
            continue
        obj = json.loads(json_line(entry))
        assert obj["kind"] in ("handshake", "error", "refusal")
        if isinstance(entry, TlsRecord):
            check(entry)
            assert obj["kind"] != "handshake" or obj["verify"]
        else:
            assert obj["ruleset"] and obj["direction"] in ("server", "client")


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mutated_logs())
def test_mutated_real_lines(tmp_path: Path, data: bytes) -> None:
    check_entries(data, tmp_path)


def test_seeded_random_bytes(tmp_path: Path) -> None:
    """Random bytes with needles sprinkled in: never a crash, every entry well formed."""
    rng = random.Random(13)
    needles = [b"STARTTLS=server, ", b"ruleset=tls_server, ", b"cert-subject=", b"\n", b" "]
    needles += [b"last message repeated 3 times", b"Nov 28 10:00:01 mta1 "]
    for _ in range(200):
        parts = [
            rng.choice(needles) if rng.random() < 0.3 else rng.randbytes(rng.randrange(20))
            for _ in range(rng.randrange(30))
        ]
        check_entries(b"".join(parts), tmp_path)
