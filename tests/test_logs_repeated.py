"""rsyslog's repeated-message reduction: `message repeated N times: [MSG]` is MSG, N times.

With `$RepeatedMsgReduction on` rsyslog writes a message that a process logs
again and again once, then, when another comes, ` message repeated %d
times: [%.800s]` (rsyslog's ratelimit.c): N is how many it held back, MSG
the message with its leading blank, cut at 800 bytes. A record or refusal
read from such a line counts N times (`count` in JSON); a line rsyslog
cannot write (N zero, too big, a missing bracket) or whose message may be
cut is unreadable, never a record. tests/fixtures/rsyslog-repeated.log and
its `-iso` twin (RSYSLOG_FileFormat) are rsyslogd 8.2302's own output
(`rsyslogd -n -f CONF` with `$RepeatedMsgReduction on`, imuxsock on a socket
of its own, fed by `logger -u SOCK -t sm-mta --id=PID MSG` 4x a FAIL
handshake, its cert line, 3x a tls_server refusal, 2x an error line, 6x a
`ServerCertFile missing`, 3x a 900-byte cert line, 2x and 1x a handshake).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_logs_scan import fast, reference

from compiler.cli import main
from compiler.logs.command import stream_entries
from compiler.logs.parse import Notice, Ordered, TlsRecord, read_message
from compiler.logs.summary import Summary

FIXTURES = Path(__file__).parent / "fixtures"
PREFIXES = (
    "Nov 28 06:31:12 colo10 sm-mta[1234]: ",
    "2026-11-28T06:31:12.123456+00:00 colo10 sm-mta[1234]: ",
    "<22>1 2026-11-28T06:31:12Z colo10 sm-mta 1234 - - ",
    "Nov 28 06:31:12 colo10 sendmail[1234]: [ID 702911 mail.info] ",
)
#: one message of each kind that counts (handshakes, errors, refusals, notices)
COUNTED = (
    "STARTTLS=server, relay=c.example [192.0.2.1], version=TLSv1.3, verify=NOT, "
    "cipher=TLS_AES_256_GCM_SHA384, bits=256/256",
    "STARTTLS=client, relay=mx.example.net., version=TLSv1.2, verify=FAIL, "
    "cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128",
    "STARTTLS=client, relay=[198.51.100.7], version=TLSv1.3, verify=DANE_FAIL, "
    "cipher=TLS_AES_128_GCM_SHA256, bits=128/128, pubkey_fp=AB:CD",
    "STARTTLS=server, error: accept failed=-1, reason=unexpected eof while reading, "
    "SSL_error=1, errno=0, retry=-1, relay=[203.0.113.99]",
    "STARTTLS=client, error: connect failed=-1, reason=unsupported protocol, SSL_error=1",
    "STARTTLS=server: file /etc/mail/tls/key.pem unsafe: Permission denied",
    "NOQUEUE: ruleset=tls_server, arg1=SOFTWARE, relay=mx.broken.example. [203.0.113.25], "
    "reject=403 4.7.0 TLS handshake failed.",
    "6ASDppfv011274: ruleset=check_rcpt, arg1=<u@x>, relay=c [192.0.2.9], "
    "reject=454 4.7.0 encryption too weak 0 less than 128",
    "ruleset=try_tls, arg1=[192.0.2.5], relay=[192.0.2.5], status=550 5.7.1 do not try TLS "
    "with [192.0.2.5]",
    "STARTTLS: ServerCertFile missing",
)


def read(tmp: Path, text: str, name: str = "mail.log") -> tuple[list[Ordered], int]:
    log = tmp / name
    log.write_text(text, encoding="utf-8")
    out: list[Ordered] = []
    stats, _ = stream_entries((str(log),), out.append, 2026)
    return out, stats.unreadable


def summarize(
    entries: list[Ordered], summary: Summary | None = None, n: int | None = None
) -> Summary:
    summary = summary or Summary()
    for entry in entries:
        if isinstance(entry, TlsRecord):
            summary.add(entry, n)
        else:
            summary.add_event(entry, n)
    return summary


@pytest.mark.parametrize("blank", [" ", ""])
@pytest.mark.parametrize("n", [2, 3, 2147483647])
@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("message", COUNTED)
def test_a_repeat_line_is_its_message_logged_n_times(
    tmp_path: Path, message: str, prefix: str, n: int, blank: str
) -> None:
    (plain,), _ = read(tmp_path, prefix + message + "\n", "plain.log")
    line = f"{prefix}message repeated {n} times: [{blank}{message}]\n"
    (entry,), unreadable = read(tmp_path, line)
    assert unreadable == 0
    assert entry.count == n
    assert type(entry) is type(plain)
    if not isinstance(entry, Notice):
        got = entry.as_json()
        assert got.pop("count") == n and got == plain.as_json()  # count: the only new key
        assert list(entry.as_json())[-1] == "count"
    # the summary of one repeat line is that of the message logged n times
    want = Summary()
    for _ in range(min(n, 3)):
        summarize([plain], want)
    if n > 3:
        summarize([plain], want, n - 3)
    assert summarize([entry]) == want
    # and the fast reader says the same, JSON bytes and summary
    log = str(tmp_path / "mail.log")
    assert fast((log,), tmp_path, 1000, 1) == reference((log,), 1000)


@pytest.mark.parametrize(
    "head",
    [
        "message repeated 0 times: [ ",  # rsyslog never writes 0 or leading zeros
        "message repeated 03 times: [ ",
        "message repeated -3 times: [ ",
        "message repeated 2147483648 times: [ ",  # over a C int
        "message repeated 1" + "0" * 5000 + " times: [ ",  # more digits than int() takes
        "message repeated  3 times: [ ",
        "message repeated 3 times: ",
        "message repeated 3 times:[ ",
        "message repeated x times: [ ",
    ],
)
@pytest.mark.parametrize("message", COUNTED)
def test_a_repeat_line_rsyslog_cannot_write_is_unreadable(
    tmp_path: Path, head: str, message: str
) -> None:
    entries, unreadable = read(tmp_path, f"{PREFIXES[0]}{head}{message}]\n")
    assert (entries, unreadable) == ([], 1)
    log = str(tmp_path / "mail.log")
    assert fast((log,), tmp_path, 1000, 1) == reference((log,), 1000)


@pytest.mark.parametrize("message", COUNTED)
def test_a_repeat_line_cut_off_or_at_the_800_byte_cut_is_unreadable(
    tmp_path: Path, message: str
) -> None:
    head = f"{PREFIXES[0]}message repeated 3 times: [ "
    filler = ", x=" + "y" * 800
    lines = [
        head + message,  # the closing bracket lost: the line was cut
        head + message + "] trailing",
        head + (message + filler)[:799] + "]",  # 800 bytes with the blank: maybe cut
        head + message + filler + "]",
    ]
    entries, unreadable = read(tmp_path, "\n".join(lines) + "\n")
    assert (entries, unreadable) == ([], len(lines))
    if message.startswith("STARTTLS: "):
        return  # a notice with more words is no notice
    # 799 bytes: whole
    short = head + message + ", x=" + "y" * (799 - 1 - len(message) - 4) + "]"
    entries, unreadable = read(tmp_path, short + "\n")
    assert unreadable == 0 and [e.count for e in entries] == [3]


def test_nested_repeats_multiply_and_other_messages_are_nothing(tmp_path: Path) -> None:
    """A repeat line forwarded and reduced again (rsyslog relaying to rsyslog)."""
    nested = (
        "message repeated 2 times: [ message repeated 5 times: [ STARTTLS: ServerCertFile missing]]"
    )
    lines = [
        PREFIXES[0] + nested,
        PREFIXES[0] + "message repeated 4 times: [ to=<a@b>, delay=00:00:01, stat=Sent]",
        PREFIXES[0] + "message repeated 4 times: [ cut in the midd",
        PREFIXES[0] + "message repeated 3 times: [ STARTTLS=server, cert-subject=/CN=c, "
        "cert-issuer=/CN=CA, verifymsg=ok]",  # a cert line, no record
    ]
    entries, unreadable = read(tmp_path, "\n".join(lines) + "\n")
    assert unreadable == 0
    assert [(type(e).__name__, e.count) for e in entries] == [("Notice", 10)]
    assert read_message("message repeated 2 times: [ message repeated 3 times: [ x]]") is None


@pytest.mark.parametrize("fixture", ["rsyslog-repeated.log", "rsyslog-repeated-iso.log"])
def test_rsyslogs_own_repeat_lines(tmp_path: Path, fixture: str) -> None:
    """rsyslogd's real output: every message counted as often as it was logged."""
    path = str(FIXTURES / fixture)
    entries, unreadable = read(tmp_path, Path(path).read_text(encoding="utf-8"))
    assert unreadable == 1  # the repeat of the 900-byte cert line, cut at 800
    summary = summarize(entries)
    assert summary.handshakes == {("client", "FAIL"): 4, ("server", "NOT"): 3}
    assert sum(summary.errors.values()) == 2
    assert summary.refusals == {("client", "SOFTWARE"): 3}
    assert summary.notices == {"STARTTLS: ServerCertFile missing": 6}
    assert summary.records == 9
    assert fast((path,), tmp_path, 1000, 1) == reference((path,), 1000)

    result = CliRunner().invoke(main, ["logs", "--format", "json", path])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["kind"], r.get("count", 1)) for r in rows] == [
        ("handshake", 1),
        ("handshake", 2),  # followed by the next: no cert line
        ("handshake", 1),  # the 4th, followed by the cert line
        ("refusal", 1),
        ("refusal", 2),
        ("error", 1),
        ("error", 1),
        ("handshake", 1),
        ("handshake", 1),
        ("handshake", 1),
    ]
    assert "cert_issuer" not in rows[1]
    assert rows[2]["cert_issuer"] == "/CN=mx.example.net"  # the cert line after the repeat
    text = CliRunner().invoke(main, ["logs", path])
    assert text.exit_code == 0, text.output
    assert "1 line" in text.stdout and "unreadable" in text.stdout
