"""The fast reader (compiler/logs/scan.py, workers.py) against the reference (LogParser).

Both read the same files; the JSON must be the same bytes and the summary
the same counts, whether the fast reader runs in one process or splits a
file between two, on generated logs and on hostile ones.
"""

from __future__ import annotations

import gzip
import math
import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_logs_properties import mutated_logs

from compiler.logs import scan, workers
from compiler.logs.command import stream_entries, time_filter
from compiler.logs.parse import Notice, Ordered, TlsRecord, json_line
from compiler.logs.summary import Summary

PIDS = range(100, 140)
KINDS = [
    "STARTTLS=server, relay=c{n}.example [192.0.2.{n}], version=TLSv1.3, verify=NOT, "
    "cipher=TLS_AES_256_GCM_SHA384, bits=256/256",
    "STARTTLS=client, relay=mx{n}.example., version=TLSv1.2, verify=FAIL, "
    "cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128",
    "STARTTLS=client, relay=[198.51.100.{n}], version=TLSv1.3, verify=DANE_FAIL, "
    "cipher=TLS_AES_128_GCM_SHA256, bits=128/128, pubkey_fp=AB:CD",
    "STARTTLS=server, relay=old{n} [203.0.113.{n}], version=TLSv1, verify=NO, "
    "cipher=DES-CBC3-SHA, bits=168/112",
    "STARTTLS=server, cert-subject=/CN=c{n}, cert-issuer=/CN=CA, verifymsg=ok",
    "STARTTLS=client, cert-subject=/CN=mx{n}, cert-issuer=/CN=mx{n}, "
    "verifymsg=self-signed certificate",
    "STARTTLS=server, cert-subject=, cert-issuer=, verifymsg=ok",
    'STARTTLS=client, cert-subject=/O=a"b/CN=x, cert-issuer=/CN=\\CA, verifymsg=ok',
    "STARTTLS=server, error: accept failed=-1, reason=unexpected eof while reading, "
    "SSL_error=1, errno=0, retry=-1, relay=[203.0.113.{n}]",
    "STARTTLS=client, error: connect failed=-1, reason=unsupported protocol, SSL_error=1",
    "ruleset=tls_server, arg1=SOFTWARE, relay=mx{n}.example. [192.0.2.{n}], "
    "reject=403 4.7.0 TLS handshake failed.",
    "ruleset=tls_server, arg1=NONE, relay=mx{n}.example., reject=454 4.7.0 encryption too weak "
    "0 less than 128",
    "6ASDppfv0{n:05d}: ruleset=check_rcpt, arg1=<u{n}@x>, relay=c{n} [192.0.2.{n}], "
    "reject=454 4.7.0 encryption too weak 0 less than 128",
    "ruleset=check_rcpt, arg1=<u{n}@x>, relay=c{n} [192.0.2.{n}], reject=550 5.1.1 User unknown",
    "ruleset=try_tls, arg1=[192.0.2.{n}], relay=[192.0.2.{n}], status=550 5.7.1 do not try TLS "
    "with [192.0.2.{n}]",
    "ruleset=tls_rcpt, arg1=<a{n}@b>, relay=mx{n}.example., reject=454 4.7.0 authentication failed",
    "STARTTLS: ServerCertFile missing",
    "STARTTLS=server, init=1",
    "STARTTLS=server, relay=cut{n} [192.0.2.{n}], vers",
    "STARTTLS=server, relay=caf\u00e9{n} [192.0.2.{n}], version=TLSv1.3, verify=OK, cipher=X, "
    "bits=256/256",
    "STARTTLS=server, relay=x{n} [192.0.2.{n}], version=TLSv1.3, verify=OK, cipher=X, "
    "bits=256/256 ",
    "NOQUEUE: connect from c{n}.example [192.0.2.{n}]",
    "6ASDppfv0{n:05d}: to=<a@b>, delay=00:00:01, mailer=esmtp, stat=Sent",
    # rsyslog's repeated-message reduction, and what it never writes
    "message repeated {n} times: [ STARTTLS=client, relay=mx{n}.example., version=TLSv1.2, "
    "verify=FAIL, cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128]",
    "message repeated 2 times: [ STARTTLS=server, relay=c{n}.example [192.0.2.{n}], "
    "version=TLSv1.3, verify=NOT, cipher=TLS_AES_256_GCM_SHA384, bits=256/256]",
    "message repeated {n} times: [ STARTTLS=server, cert-subject=/CN=c{n}, cert-issuer=/CN=CA, "
    "verifymsg=ok]",
    "message repeated {n} times: [ STARTTLS=server, error: accept failed=-1, reason=x, "
    "SSL_error=1, errno=0, retry=-1, relay=[203.0.113.{n}]]",
    "message repeated 3 times: [ NOQUEUE: ruleset=tls_server, arg1=SOFTWARE, relay=mx{n}.example. "
    "[192.0.2.{n}], reject=403 4.7.0 TLS handshake failed.]",
    "message repeated 2 times: [ message repeated {n} times: [ STARTTLS: ServerCertFile missing]]",
    "message repeated 2147483647 times: [STARTTLS=client, relay=[198.51.100.{n}], "
    "version=TLSv1.3, verify=DANE_FAIL, cipher=X, bits=128/128]",
    "message repeated 0 times: [ STARTTLS=server, error: x]",
    "message repeated 2147483648 times: [ STARTTLS=server, error: x]",
    "message repeated 1{n:0100d} times: [ STARTTLS=server, error: x]",
    "message repeated {n} times: [ STARTTLS=server, relay=c{n}.example [192.0.2.{n}], vers",
    "message repeated {n} times: [ STARTTLS=server, relay=c{n} [192.0.2.{n}], version=TLSv1.3, "
    "verify=OK, cipher=X, bits=256/256, pubkey_fp=" + "A" * 800 + "]",
    "message repeated {n} times: [ to=<a@b>, delay=00:00:01, mailer=esmtp, stat=Sent]",
]
#: sysklogd's, FreeBSD's, macOS's and rsyslog's old repeat lines, after a classic stamp
LAST_REPEATED = [
    "{host} last message repeated {n} times",
    "{host} syslogd: last message repeated {n} times",
    "--- last message repeated {n} times ---",
    "{host} sm-mta[{pid}]: last message repeated {n} times",
]
PREFIXES = [
    "Nov 28 10:{m:02d}:{s:02d} mta{h} sm-mta[{pid}]: ",
    "Nov  2 10:{m:02d}:{s:02d} mta{h} sm-mta[{pid}]: ",
    "2026-11-28T10:{m:02d}:{s:02d}.123+01:00 mta{h} sendmail[{pid}]: ",
    "2026-11-28T10:{m:02d}:{s:02d}+0100 mta{h} sendmail[{pid}]: ",
    "<22>1 2026-11-28T10:{m:02d}:{s:02d}Z mta{h} sm-mta {pid} - - ",
    "Nov 28 10:{m:02d}:{s:02d} mta{h} sendmail[{pid}]: [ID 702911 mail.notice] ",
    "Dec 31 23:{m:02d}:{s:02d} mta{h} sm-mta[{pid}]: ",
    "  ",
    "sendmail[{pid}]: ",
]


def generated(lines: int, seed: int, hostile: bool = False) -> bytes:
    """A log whose handshakes and cert lines pair (or not) in every way the rules allow."""
    rng = random.Random(seed)
    out: list[str] = []
    for i in range(lines):
        pid = rng.choice(PIDS)
        n = rng.randrange(1, 250)
        kind = rng.choice(KINDS) if hostile or rng.random() < 0.5 else rng.choice(KINDS[:8])
        prefix = rng.choice(PREFIXES) if hostile else PREFIXES[0]
        line = prefix.format(m=i // 60 % 60, s=i % 60, h=rng.randrange(2), pid=pid)
        out.append(line + kind.format(n=n))
        if rng.random() < 0.3 and "relay=" in kind and "cert-" not in kind:  # its cert line
            out.append(line + rng.choice(KINDS[4:8]).format(n=n))
        if hostile and rng.random() < 0.1:  # the other syslogds' repeat of the line before
            host = f"mta{rng.randrange(2)}"
            out.append(line[:16] + rng.choice(LAST_REPEATED).format(n=n, host=host, pid=pid))
    text = "\n".join(out) + "\n"
    data = text.encode()
    if hostile:
        data = data.replace(b"\n\n", b"\r\n") + b"\xff\xfe STARTTLS=server, x\n" + b"x" * 70000
    return data


def reference(
    paths: tuple[str, ...], window: int, within: object = None
) -> tuple[bytes, Summary, object]:
    out: list[str] = []
    summary = Summary()
    check = within if callable(within) else None

    def on_entry(entry: Ordered) -> None:
        if check is None or check(entry.time):
            if isinstance(entry, TlsRecord):
                summary.add(entry)
            else:
                summary.add_event(entry)
            if not isinstance(entry, Notice):
                out.append(json_line(entry))

    stats, _ = stream_entries(paths, on_entry, 2026, window)
    return "".join(out).encode(), summary, (stats.lines, stats.unreadable)


def fast(
    paths: tuple[str, ...], tmp: Path, window: int, procs: int, within: object = None
) -> tuple[bytes, Summary, object]:
    check = within if callable(within) else None
    target = tmp / "fast.json"
    with target.open("wb") as f:
        result = workers.scan_files(paths, "json", f, check, 2026, procs, window)  # type: ignore[arg-type]
    text = workers.scan_files(paths, "text", None, check, 2026, procs, window)  # type: ignore[arg-type]
    assert (text.stats.lines, text.stats.unreadable) == (
        result.stats.lines,
        result.stats.unreadable,
    )
    return (
        target.read_bytes(),
        scan.summary_of(text.tally),
        (text.stats.lines, text.stats.unreadable),
    )


TASKS: list[int] = []


@pytest.fixture
def small_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces of 8 KiB, so that small logs are read by the worker processes."""
    monkeypatch.setattr(workers, "CHUNK", 8192)
    run = workers._Pool.run

    def spy(self: workers._Pool, pieces: object, meanwhile: object = None) -> None:
        TASKS.append(len(self._workers))
        run(self, pieces, meanwhile)  # type: ignore[arg-type]

    monkeypatch.setattr(workers._Pool, "run", spy)
    TASKS.clear()


@pytest.mark.parametrize("procs", [1, 2])
@pytest.mark.parametrize("window", [3, 200, 1000])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.usefixtures("small_split")
def test_fast_reader_is_the_reference(tmp_path: Path, seed: int, window: int, procs: int) -> None:
    log = tmp_path / "mail.log"
    log.write_bytes(generated(3000, seed, hostile=seed % 2 == 1))
    want = reference((str(log),), window)
    got = fast((str(log),), tmp_path, window, procs)
    assert got[0] == want[0]  # the JSON, byte for byte
    assert got[2] == want[2]  # lines, unreadable
    assert got[1] == want[1]  # the summary
    assert ([2, 2] if procs == 2 else []) == TASKS  # JSON and summary: two workers each


@pytest.mark.usefixtures("small_split")
def test_several_files_gzip_and_a_time_filter(tmp_path: Path) -> None:
    paths = []
    for k in range(3):
        data = generated(1500, 40 + k, hostile=k == 1)
        path = tmp_path / f"mail.log.{k}"
        path.write_bytes(gzip.compress(data) if k == 0 else data)
        paths.append(str(path))
    from datetime import datetime

    within = time_filter(datetime(2026, 11, 28, 10, 5), datetime(2026, 11, 28, 10, 30))
    for window in (5, 1000):
        for check in (None, within):
            want = reference(tuple(paths), window, check)
            TASKS.clear()
            got = fast(tuple(paths), tmp_path, window, 2, check)
            assert got == want
            assert TASKS == [2, 2]


@pytest.mark.parametrize("procs", [1, 2])
@pytest.mark.parametrize("lines", [0, 40, 3000])
@pytest.mark.usefixtures("small_split")
def test_meanwhile_runs_once_and_the_counts_are_the_same(
    tmp_path: Path, procs: int, lines: int
) -> None:
    """`meanwhile` (the summary's imports) runs once, while the workers read or after a
    read in this process, and the counts (the workers' tallies, the first one taken as
    it is) are those of a read without it."""
    log = tmp_path / "mail.log"
    log.write_bytes(generated(lines, 7, hostile=True) if lines else b"")
    calls: list[int] = []
    with_it = workers.scan_files(
        (str(log),), "text", None, workers=procs, meanwhile=lambda: calls.append(1)
    )
    without = workers.scan_files((str(log),), "text", None, workers=procs)
    assert calls == [1]
    assert with_it.tally == without.tally
    assert with_it.stats == without.stats
    assert with_it.tally.keys or not lines


@pytest.mark.usefixtures("small_split")
def test_a_worker_writes_each_relays_json_once_over_its_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JSON of a relay= value is made once per worker, not once per piece (a quarter
    of the JSON's time at 8 MiB pieces), and the output is still the reference's."""
    log = tmp_path / "mail.log"
    log.write_bytes(generated(3000, 2))
    made = tmp_path / "made"
    real = scan._relay_json

    def counted(relay: bytes) -> bytes:
        fd = os.open(made, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.write(fd, relay + b"\n")
        os.close(fd)
        return real(relay)

    monkeypatch.setattr(scan, "_relay_json", counted)
    got = fast((str(log),), tmp_path, 200, 2)
    assert TASKS == [2, 2]
    relays = made.read_bytes().splitlines()
    assert len(set(relays)) > 30  # many relays, in every piece (about 8 pieces)
    assert max(relays.count(r) for r in set(relays)) <= 2  # one per worker at most
    assert got[0] == reference((str(log),), 200)[0]


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mutated_logs(), st.sampled_from([2, 50, 1000]))
def test_fast_reader_on_mutated_real_lines(tmp_path: Path, data: bytes, window: int) -> None:
    log = tmp_path / "mail.log"
    log.write_bytes(data)
    assert fast((str(log),), tmp_path, window, 1) == reference((str(log),), window)


@pytest.mark.parametrize("seed", range(3))
def test_worst_peers_is_a_stable_sort_by_badness(tmp_path: Path, seed: int) -> None:
    """The peers table's order: worst first, ties in the order the peers were first seen."""
    from compiler.logs.summary import rank

    log = tmp_path / "mail.log"
    log.write_bytes(generated(2000, seed, hostile=True))
    summary = reference((str(log),), 50)[1]
    by_badness = sorted(
        ((d, p) for (d, _), p in summary.peers.items()),
        key=lambda dp: (
            -rank(dp[1].worst),
            -(dp[1].errors + dp[1].refused),
            -dp[1].handshakes,
            dp[0],
            dp[1].label,
        ),
    )
    assert len(by_badness) > 50
    assert summary.worst_peers() == by_badness


@pytest.mark.parametrize("procs", [1, 2, 3])
@pytest.mark.parametrize("size", [1, 20_000, 100_001])
def test_a_plain_file_is_cut_in_even_pieces_for_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, procs: int, size: int
) -> None:
    """As many pieces as a multiple of the workers, each of about one size, every line
    in exactly one (so no worker reads one piece more while the others wait)."""
    from datetime import date

    from compiler.logs.syslog import YearGuess

    monkeypatch.setattr(workers, "CHUNK", 8192)
    data = b"".join(b"%d %s\n" % (i, b"x" * (i % 70)) for i in range(size))[:size]
    log = tmp_path / "mail.log"
    log.write_bytes(data)
    with log.open("rb") as f:
        years = YearGuess(date(2026, 12, 3))
        pieces = list(workers._range_pieces(years, str(log), f.fileno(), size, 3, procs))
    assert b"".join(data[p.start : p.end] for p in pieces) == data
    assert all(data[p.end - 1 : p.end] == b"\n" for p in pieces[:-1])
    at_most_chunk = math.ceil(size / 8192)
    want = math.ceil(at_most_chunk / procs) * procs
    assert len(pieces) == want or (len(pieces) < want and size < 8192 * procs)
    sizes = [p.end - p.start for p in pieces[:-1]]
    assert not sizes or max(sizes) - min(sizes) <= 2 * 80
