"""`tlsc logs`: files, stdin, gzip, exit codes, formats, and the imports it avoids."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from compiler.cli import main

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "logs" / "mail.log"
KEYS = [
    "kind",
    "time",
    "host",
    "direction",
    "version",
    "verify",
    "cipher",
    "bits",
    "bits_max",
    "error",
]
LINE = (
    "Nov 28 10:00:0{s} colo10 sm-mta[{pid}]: STARTTLS=server, relay=c{pid} [192.0.2.{pid}], "
    "version=TLSv1.3, verify=NOT, cipher=TLS_AES_256_GCM_SHA384, bits=256/256\n"
)


def tlsc(*args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["logs", *args], input=stdin, catch_exceptions=False)


def records(result: Result) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_sample_as_json_lines() -> None:
    result = tlsc("--format", "json", "--year", "2026", str(SAMPLE))
    assert result.exit_code == 0, result.output
    everything = records(result)
    assert [r["kind"] for r in everything].count("refusal") == 4
    out = [r for r in everything if r["kind"] != "refusal"]
    assert len(out) == 11
    for record in out:
        assert set(KEYS) <= set(record) <= {*KEYS, "relay", "addr", "cert_subject", "cert_issuer"}
        assert record["direction"] in ("server", "client")
        assert record["kind"] == ("handshake" if record["error"] is None else "error")
    assert out[1] == {
        "kind": "handshake",
        "time": "2026-11-28T06:40:27",
        "host": "colo10",
        "direction": "server",
        "relay": "laptop7.example.com",
        "addr": "[192.0.2.77]",
        "version": "TLSv1.2",
        "verify": "OK",
        "cipher": "ECDHE-ECDSA-AES256-GCM-SHA384",
        "bits": 256,
        "bits_max": 256,
        "error": None,
        "cert_subject": "/O=tlsc+20test/CN=client.tlsc.test",
        "cert_issuer": "/O=tlsc+20test/CN=tlsc+20Test+20CA",
    }
    refusals = [r for r in everything if r["kind"] == "refusal"]
    assert refusals[0] == {
        "kind": "refusal",
        "time": "2026-11-28T07:10:03",
        "host": "colo10",
        "direction": "client",
        "relay": "legacy-mx.broken.example",
        "addr": "[203.0.113.25]",
        "ruleset": "tls_server",
        "arg1": "SOFTWARE",
        "verify": "SOFTWARE",
        "reply": "403 4.7.0 TLS handshake failed.",
    }
    assert [(r["ruleset"], r.get("verify"), r["arg1"]) for r in refusals[1:]] == [
        ("tls_server", "NONE", "NONE"),
        ("try_tls", None, "broken.server"),
        ("tls_client", "NO", "NO"),
    ]
    # in input order: the refusal of pid 1102 comes after its error line
    kinds = [(r["kind"], r["time"]) for r in everything]
    assert (
        kinds.index(("refusal", "2026-11-28T07:10:03"))
        == kinds.index(("error", "2026-11-28T07:10:03")) + 1
    )
    errors = [r for r in out if r["error"] is not None]
    assert [(r["direction"], r.get("addr")) for r in errors] == [
        ("server", "[203.0.113.99]"),
        ("client", None),
    ]


def test_sample_summary() -> None:
    result = tlsc("--year", "2026", str(SAMPLE))
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "11 STARTTLS record(s) in 54 line(s) of 1 file(s)" in text
    for expected in (
        "weak: deprecated by RFC 8996",  # TLSv1 from the old printer
        "DES-CBC3-SHA",  # 112 effective bits
        "accept failed: unexpected eof while reading",
        "connect failed: unsupported protocol",
        '"legacy-mx.broken.example": {outbound: {starttls: false}}',
        "Why certificates failed to verify: self-signed certificate (1)",
        "TLS not tried (Try_TLS NO): broken.server [192.0.2.99] (1)",
        "no certificate asked for (TLSSrvOptions V",
    ):
        assert expected in text, expected
    assert "\x1b[" not in text  # no colour off a terminal


def test_stdin_gzip_and_order_of_files(tmp_path: Path) -> None:
    old = tmp_path / "mail.log.2.gz"
    old.write_bytes(gzip.compress(LINE.format(s=1, pid=1).encode()))
    rotated = tmp_path / "mail.log.1"  # compressed, though the name does not say so
    rotated.write_bytes(gzip.compress(LINE.format(s=2, pid=2).encode()))
    current = LINE.format(s=3, pid=3).encode()
    result = tlsc("--format", "json", "--year", "2026", str(old), str(rotated), "-", stdin=current)
    assert result.exit_code == 0
    assert [r["relay"] for r in records(result)] == ["c1", "c2", "c3"]


def test_missing_file_exits_1_after_reading_the_others(tmp_path: Path) -> None:
    good = tmp_path / "mail.log"
    good.write_text(LINE.format(s=1, pid=1))
    result = tlsc("--format", "json", str(tmp_path / "nope.log"), str(good))
    assert result.exit_code == 1
    assert len(records(result)) == 1
    assert result.stderr == (
        f"tlsc: {tmp_path / 'nope.log'}: cannot be read: no such file or directory\n"
    )


def test_directory_and_damaged_gzip(tmp_path: Path) -> None:
    broken = tmp_path / "mail.log.1.gz"
    data = gzip.compress((LINE.format(s=1, pid=1) * 200).encode())
    broken.write_bytes(data[: len(data) // 2])
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"\x1f\x8b" + b"\x00" * 40)
    result = tlsc(str(tmp_path), str(broken), str(bad))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"tlsc: {tmp_path}: cannot be read: it is a directory, not a file or a pipe",
        f"tlsc: {broken}: the gzip data ends early (truncated file)",
        f"tlsc: {bad}: not a valid gzip file",
    ]
    assert "Traceback" not in result.output


def test_binary_garbage_and_long_lines(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(
        bytes(range(256)) * 50
        + b"\n"
        + b"STARTTLS=" * 20000  # longer than a line may be: skipped
        + b"\n\xff\xfe STARTTLS=server, relay=\xff [1.2.3.4], version=TLSv1.3, verify=OK\r\n"
        + LINE.format(s=1, pid=9).encode()
    )
    result = tlsc("--format", "json", str(junk))
    assert result.exit_code == 0
    out = records(result)
    # the binary line has no syslog prefix and no tag: skipped, as the too long one
    assert [r.get("addr") for r in out] == ["[192.0.2.9]"]
    text = tlsc(str(junk)).stdout
    assert "2 line(s) skipped as unreadable" in text
    junk.write_bytes(
        b"Nov 28 10:00:01 h sm-mta[1]: STARTTLS=server, relay=\xff [1.2.3.4], "
        b"version=TLSv1.3, verify=OK, cipher=X, bits=256/256\r\n"
    )
    (record,) = records(tlsc("--format", "json", str(junk)))
    assert record["relay"] == "\ufffd" and record["addr"] == "[1.2.3.4]"


def test_no_starttls_lines_is_not_an_error(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text("Nov 28 10:00:00 colo10 sm-mta[1]: starting daemon (8.17.1.9): SMTP\n")
    result = tlsc(str(log))
    assert result.exit_code == 0
    assert "No STARTTLS lines" in result.stdout and "LogLevel 9" in result.stdout


def test_since_and_until() -> None:
    args = ["--format", "json", "--year", "2026", str(SAMPLE)]
    result = tlsc("--since", "2026-11-28T07:00", "--until", "2026-11-28T07:30", *args)
    times = [r["time"] for r in records(result)]
    assert times and all("2026-11-28T07:00" <= str(t) < "2026-11-28T07:30" for t in times)
    bad = tlsc("--since", "yesterday", str(SAMPLE))
    assert bad.exit_code == 1 and "not an ISO 8601 date or time" in bad.output


@pytest.mark.parametrize(
    ("since", "until"),
    [
        ("2026-11-29", "2026-11-28"),  # a day later
        ("2026-11-28T07:30", "2026-11-28T07:00"),
        ("2026-11-28T07:00", "2026-11-28T07:00"),  # equal: since inclusive, until exclusive
        ("2026-11-28T07:00+01:00", "2026-11-28T05:30Z"),  # later once in one zone
        ("2026-11-28T07:00", "2026-11-28T06:00+00:00"),  # naive and aware: as wall-clock times
    ],
    ids=["day", "minutes", "equal", "zones", "naive-aware"],
)
@pytest.mark.parametrize(
    "mode",
    [[], ["--format", "json"], ["--spec", "{spec}"], ["--format", "tlsrpt", "--org", "o",
     "--contact", "tlsrpt@example.com", "--out-dir", "{tmp}"]],
    ids=["text", "json", "what-if", "tlsrpt"],
)  # fmt: skip
def test_a_window_that_holds_no_time_is_a_usage_error(
    tmp_path: Path, mode: list[str], since: str, until: str
) -> None:
    """--since not before --until: one sentence naming both, exit 1, before any input is
    read (the file named does not exist), in every mode that takes them."""
    spec = tmp_path / "cluster.yaml"
    spec.write_text("version: 1\ncluster: c\nhosts:\n  mx1: {fqdn: mx1.example.net}\n")
    args = [a.format(spec=spec, tmp=tmp_path) for a in mode]
    result = tlsc(*args, "--since", since, "--until", until, str(tmp_path / "absent.log"))
    assert result.exit_code == 1 and result.stdout == ""
    error = [line for line in result.stderr.split("\n") if line.startswith("Error: ")]
    assert error == [
        f"Error: --since '{since}' is not before --until '{until}', so no line could be in"
        " both (since is inclusive, until exclusive); give the earlier time to --since"
    ]
    assert "absent.log" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.yaml"]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_the_logs_path_imports_no_heavy_library(fmt: str) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "compiler",
            "logs",
            "--format",
            fmt,
            str(SAMPLE),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "compiler.logs.parse" in imported
    for heavy in ("pydantic", "deepdiff", "ruamel", "ruamel.yaml", "cryptography"):
        assert heavy not in imported, heavy
    assert ("rich" in imported) == (fmt == "text")


def test_broken_pipe_is_quiet() -> None:
    big = (LINE.format(s=1, pid=1) * 20000).encode()
    proc = subprocess.run(
        f"{sys.executable} -m compiler logs --format json - | head -1",
        shell=True,
        input=big,
        capture_output=True,
        check=False,
        cwd=REPO,
    )
    assert proc.stdout.count(b"\n") == 1 and b"Traceback" not in proc.stderr
