"""The other syslogds' reduction: `last message repeated N times` is the line before it, N times.

A syslogd that gets the same message again and again writes it once, then,
when another comes (or a timer runs out, 30 s to 10 min), one line saying how
many more came. The forms, as their sources write them:

* sysklogd 1.5 (Debian's and Red Hat's old `sysklogd`, syslogd.c `fprintlog`),
  OpenBSD and NetBSD (usr.sbin/syslogd/syslogd.c `fprintlog`): the time, the
  repeated line's host (`f_prevhost`), `last message repeated %d times`, no tag;
* FreeBSD 12 and later (usr.sbin/syslogd/syslogd.c `fprintlog_successive`):
  `fprintlog_first(f, LocalHostName, "syslogd", NULL, ...)`, so its own host
  and name: `HOST syslogd: last message repeated %d times` (RFC 5424 with
  `-O rfc5424`: `<PRI>1 TIME HOST syslogd - - - last message repeated %d times`);
* macOS syslogd (asl_action.c `_act_file_send_repeat_msg`): `"%s --- last
  message repeated %u time%s ---\\n"`, the ctime without weekday, no host, `1 time`;
* rsyslog with `$RepeatedMsgContainsOriginalMsg off` (action.c): the repeated
  message's own host and tag with ` last message repeated %d times` as its text.

Each writes the repeat line right after the line it repeats (its state is per
output file), and another after it when more came: a repeat line repeats the
last line before it that is not one. Such a line counts that line's record,
refusal or notice N more times, at the repeat line's time, as rsyslog's
`message repeated N times: [MSG]` does (tests/test_logs_repeated.py). The
class: a log with runs of the same line reads, in each syslogd's reduced form,
as the log of every line does (JSON objects with `count: N` standing for N).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from test_logs_repeated import COUNTED, read, summarize
from test_logs_scan import KINDS, fast, reference

from compiler.logs import workers
from compiler.logs.parse import Notice, Ordered
from compiler.logs.source import MAX_LINE

HEAD = "Dec  1 10:00:00 mta1 sm-mta[1234]: "
STAMP = "Dec  1 10:00:05"
#: (name, the repeat line of N that follows a line of HEAD), as each daemon writes it
FORMS = {
    "sysklogd": STAMP + " mta1 last message repeated {n} times",
    "freebsd": STAMP + " mta1 syslogd: last message repeated {n} times",
    "freebsd-remote": STAMP + " loghost syslogd: last message repeated {n} times",
    "freebsd-5424": "<22>1 2026-12-01T10:00:05.000000+01:00 mta1 syslogd - - - "
    "last message repeated {n} times",
    "macos": STAMP + " --- last message repeated {n} time{s} ---",
    "macos-old": STAMP + ": --- last message repeated {n} time{s} ---",
    "sysklogd-ipv6": STAMP + " 2001:db8::25 last message repeated {n} times",
    "rsyslog-old": STAMP + " mta1 sm-mta[1234]: last message repeated {n} times",
}


def repeat_line(form: str, n: int) -> str:
    return FORMS[form].format(n=n, s="" if n == 1 else "s")


def head_of(form: str) -> str:
    """The syslog prefix of the line a repeat line of `form` repeats."""
    return HEAD.replace("mta1", "2001:db8::25") if "ipv6" in form else HEAD


def objects(entries: list[Ordered]) -> list[dict[str, object]]:
    """The JSON objects, each of count N given N times, without time (the repeat's own)."""
    out: list[dict[str, object]] = []
    for entry in entries:
        if isinstance(entry, Notice):
            continue
        obj = entry.as_json()
        obj.pop("time")
        n = obj.pop("count", 1)
        assert isinstance(n, int)
        out += [obj] * n
    return out


@pytest.mark.parametrize("n", [1, 2, 7])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("message", COUNTED)
def test_a_repeat_line_is_the_line_before_it_n_more_times(
    tmp_path: Path, message: str, form: str, n: int
) -> None:
    if form == "freebsd" and n == 1:
        n = 2  # the BSDs write the line itself again for one
    head = head_of(form)
    text = f"{head}{message}\n{repeat_line(form, n)}\n"
    entries, unreadable = read(tmp_path, text)
    assert unreadable == 0
    first, again = entries
    assert (first.count, again.count, type(again)) == (1, n, type(first))
    if not isinstance(first, Notice):
        want = first.as_json()
        got = again.as_json()
        assert got.pop("count", 1) == n
        assert got.pop("time") == (
            "2026-12-01T10:00:05" if "5424" not in form else "2026-12-01T10:00:05.000000+01:00"
        )
        want.pop("time")
        assert got == want
    # the summary is that of the line logged n + 1 times
    plain, _ = read(tmp_path, f"{head}{message}\n" * (n + 1), "plain.log")
    assert summarize(entries).records == summarize(plain).records
    log = str(tmp_path / "mail.log")
    assert fast((log,), tmp_path, 1000, 1) == reference((log,), 1000)


@pytest.mark.parametrize(
    "lines",
    [
        # another host's line before it: not the one repeated (sysklogd names the host)
        [HEAD + COUNTED[0], "Dec  1 10:00:01 mta2 sm-mta[9]: from=<a@b>", FORMS["sysklogd"]],
        ["Dec  1 10:00:01 mta2 sm-mta[9]: " + COUNTED[0], FORMS["sysklogd"]],
        # another process's line (rsyslog names the process)
        ["Dec  1 10:00:01 mta1 sm-mta[99]: " + COUNTED[0], FORMS["rsyslog-old"]],
        # a line about something else before it
        [HEAD + COUNTED[0], HEAD + "to=<a@b>, delay=00:00:01, stat=Sent", FORMS["macos"]],
        # nothing before it
        [FORMS["freebsd"]],
        # a line too long to read before it
        [HEAD + COUNTED[0], HEAD + "x" * (MAX_LINE + 1), FORMS["freebsd"]],
    ],
)
def test_a_repeat_line_of_nothing_we_count_is_nothing(tmp_path: Path, lines: list[str]) -> None:
    text = "\n".join(line.format(n=3, s="s") for line in lines) + "\n"
    entries, unreadable = read(tmp_path, text)
    assert unreadable == sum(len(line) > MAX_LINE for line in lines)  # a line too long
    assert sum(e.count for e in entries) == sum(COUNTED[0] in line for line in lines)
    log = str(tmp_path / "mail.log")
    assert fast((log,), tmp_path, 1000, 1) == reference((log,), 1000)


@pytest.mark.parametrize("form", FORMS)
def test_repeat_lines_in_a_row_repeat_the_same_line(tmp_path: Path, form: str) -> None:
    """The timer writes one, and the next duplicates another: both are the line before."""
    text = f"{head_of(form)}{COUNTED[3]}\n{repeat_line(form, 3)}\n{repeat_line(form, 4)}\n"
    entries, _ = read(tmp_path, text)
    assert [e.count for e in entries] == [1, 3, 4]
    log = str(tmp_path / "mail.log")
    assert fast((log,), tmp_path, 1000, 1) == reference((log,), 1000)


@pytest.mark.parametrize("procs", [1, 2])
def test_a_repeat_line_looks_back_as_far_as_the_window(
    tmp_path: Path, procs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run of repeat lines (FreeBSD's timer writes one every 10 minutes) repeats its line
    only within the pairing window: a reader of one part of the log sees no further."""
    monkeypatch.setattr(workers, "CHUNK", 8192)
    again = repeat_line("freebsd", 2)
    text = (
        f"{HEAD}{COUNTED[1]}\n" + f"{again}\n" * 40 + f"{HEAD}{COUNTED[3]}\n" + f"{again}\n" * 3000
    )
    log = tmp_path / "mail.log"
    log.write_text(text)
    for window in (3, 1000):
        want = reference((str(log),), window)
        assert fast((str(log),), tmp_path, window, procs) == want
        counts = [json.loads(line).get("count", 1) for line in want[0].splitlines()]
        assert counts == [1] + [2] * min(40, window) + [1] + [2] * window


def reduce(lines: list[str], form: str) -> list[str]:
    """`lines` as a syslogd with repeat reduction writes them (runs of equal lines)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        j = i
        while j + 1 < len(lines) and lines[j + 1] == lines[i]:
            j += 1
        out.append(lines[i])
        n = j - i
        if n and form == "rsyslog":
            head, _, msg = lines[i].partition("]: ")
            out.append(f"{head}]: message repeated {n} times: [ {msg}]")
        elif n and form == "rsyslog-old":
            head, _, _ = lines[i].partition("]: ")
            out.append(f"{head}]: last message repeated {n} times")
        elif n:
            host = lines[i].split()[3]
            stamp = lines[i][:15]
            out.append(
                {
                    "sysklogd": f"{stamp} {host} last message repeated {n} times",
                    "freebsd": f"{stamp} {host} syslogd: last message repeated {n} times",
                    "macos": f"{stamp} --- last message repeated {n} time{'s' * (n > 1)} ---",
                }[form]
            )
        i = j + 1
    return out


#: the lines of test_logs_scan that are read (a cut one is unreadable: one, whatever N)
READ = [kind for kind in KINDS[:24] if not kind.endswith(", vers")]


def runs(seed: int, count: int = 400) -> list[str]:
    """Lines of a few processes, each line maybe logged several times in a row."""
    rng = random.Random(seed)
    out: list[str] = []
    for i in range(count):
        host, pid = rng.choice([("mta1", 101), ("mta1", 102), ("mta2", 101)])
        kind = rng.choice(READ).format(n=rng.randrange(1, 4))
        line = f"Nov 28 10:{i // 60 % 60:02d}:{i % 60:02d} {host} sm-mta[{pid}]: {kind}"
        out += [line] * rng.choice([1, 1, 1, 2, 3, 5])
        if rng.random() < 0.3 and "relay=" in kind and "cert-" not in kind:  # its cert line
            cert = rng.choice(KINDS[4:8]).format(n=rng.randrange(1, 4))
            out += [line.partition("]: ")[0] + "]: " + cert] * rng.choice([1, 1, 2])
    return out


@pytest.mark.parametrize("form", ["rsyslog", "rsyslog-old", "sysklogd", "freebsd", "macos"])
@pytest.mark.parametrize("seed", range(6))
def test_a_reduced_log_reads_as_the_whole_log(tmp_path: Path, seed: int, form: str) -> None:
    """Every record of the whole log, cert lines paired as in it, in each reduced form.

    Of a handshake logged N times in a row, all but the last are followed by the
    next, so have no cert line: only the last takes the cert line after the run.
    """
    lines = runs(seed)
    whole, _ = read(tmp_path, "\n".join(lines) + "\n", "whole.log")
    reduced, unreadable = read(tmp_path, "\n".join(reduce(lines, form)) + "\n")
    assert unreadable == 0
    assert objects(reduced) == objects(whole)
    want, got = summarize(whole), summarize(reduced)
    assert (got.records, got.handshakes, got.refusals) == (
        want.records,
        want.handshakes,
        want.refusals,
    )
    assert got == want
    log = str(tmp_path / "mail.log")
    assert fast((log,), tmp_path, 1000, 1) == reference((log,), 1000)
    assert fast((log,), tmp_path, 3, 1) == reference((log,), 3)


def test_rsyslogs_repeated_handshake_and_its_cert_line(tmp_path: Path) -> None:
    """rsyslog's own output (tests/fixtures/rsyslog-repeated.log): the FAIL handshake
    logged 4 times, then its cert line. Only the 4th handshake is followed by the cert
    line; the 2nd and 3rd (the repeat line's first two) are followed by another handshake."""
    path = Path(__file__).parent / "fixtures" / "rsyslog-repeated.log"
    entries, _ = read(tmp_path, path.read_text(encoding="utf-8"))
    rows = [json.loads(json.dumps(e.as_json())) for e in entries if not isinstance(e, Notice)]
    fails = [r for r in rows if r.get("verify") == "FAIL"]
    assert [(r.get("count", 1), "cert_issuer" in r) for r in fails] == [
        (1, False),
        (2, False),
        (1, True),
    ]
    summary = summarize(entries)
    assert summary.handshakes[("client", "FAIL")] == 4
    assert summary.records == 9


@pytest.mark.parametrize("form", ["rsyslog-old", "sysklogd", "freebsd", "macos"])
@pytest.mark.parametrize("seed", range(3))
def test_the_sessions_of_a_reduced_log_are_those_of_rsyslogs(
    tmp_path: Path, seed: int, form: str
) -> None:
    """The what-if's and TLS-RPT's sessions: a repeat line is its line once more (no other
    line of the process came between, so no delivery), as rsyslog's `message repeated` is."""
    from compiler.logs.sessions import read_sessions

    rng = random.Random(seed)
    lines: list[str] = []
    for line in (Path(__file__).parent / "fixtures" / "tlsrpt-mail.log").read_text().splitlines():
        lines += [line] * rng.choice([1, 1, 2, 4])

    def sessions(name: str, text: str) -> list[object]:
        path = tmp_path / name
        path.write_text(text)
        out: list[object] = []
        read_sessions((str(path),), out.append, 2026)
        return out

    want = sessions("rsyslog.log", "\n".join(reduce(lines, "rsyslog")) + "\n")
    assert want and want == sessions("other.log", "\n".join(reduce(lines, form)) + "\n")
