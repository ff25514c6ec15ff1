"""`tlsc logs` benchmark: prints figures, asserts nothing about speed.

    python bench/logs_bench.py [--lines 1370000] [--runs 3]

* generates a syslog file of `--lines` lines (1,370,000: about 200 MB), one
  in five a STARTTLS or ruleset line (handshakes in both directions, cert
  lines, errors, ruleset refusals), the rest the connect/from/to/AUTH lines
  around them, its gzip, and a file a quarter the size;
* times `grep -F -c STARTTLS=` on the file and `zcat | grep -F -c STARTTLS=`
  on its gzip in the same run, then `tlsc logs` (text summary and
  `--format json`) on each, the fastest of `--runs` (on a shared machine,
  the least disturbed), and prints each as a ratio of grep's throughput (1.0:
  as fast as grep), with the CPU time of its processes and the peak memory
  (max RSS) for both sizes;
* the floor of any reader written in Python that looks at each candidate
  line: one process that only finds each line holding `STARTTLS` or
  `ruleset=` (C-level searches, as tlsc's) and splits it with tlsc's one
  regular expression, no pairing and no counting; its CPU time halved (two
  cores, perfectly shared) plus an interpreter's start, as a ratio of grep:
  what tlsc's text summary could reach at best in CPython on this machine;
* cold start: `python -c pass` next to `tlsc logs` of the 54-line example;
  and whether the logs path imported pydantic, ruamel or deepdiff (exit 1 if so).

Ends with a markdown table for the README.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "logs" / "mail.log"
TLSC = [sys.executable, "-m", "compiler", "logs"]

SESSIONS = [
    "STARTTLS=server, relay=mail{n}.example.org [198.51.{a}.{b}], version=TLSv1.3, "
    "verify=NOT, cipher=TLS_AES_256_GCM_SHA384, bits=256/256",
    "STARTTLS=server, cert-subject=, cert-issuer=, verifymsg=ok",
    "STARTTLS=client, relay=mx{n}.example.com., version=TLSv1.2, verify=FAIL, "
    "cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128",
    "STARTTLS=server, error: accept failed=-1, reason=unexpected eof while reading, "
    "SSL_error=1, errno=0, retry=-1, relay=[203.0.{a}.{b}]",
    "ruleset=tls_server, arg1=SOFTWARE, relay=old{n}.example.net [192.0.{a}.{b}], "
    "reject=403 4.7.0 TLS handshake failed.",
]
OTHER = [
    "NOQUEUE: connect from mail{n}.example.org [198.51.{a}.{b}]",
    "AUTH: available mech=DIGEST-MD5 CRAM-MD5 PLAIN LOGIN, allowed mech=EXTERNAL GSSAPI",
    "6ASDppfv{n:06d}: from=<user{n}@example.org>, size=18230, class=0, nrcpts=1, "
    "msgid=<{n}@example.org>, proto=ESMTPS, daemon=MTA-v4, "
    "relay=mail{n}.example.org [198.51.{a}.{b}]",
    "6ASDppfv{n:06d}: to=<alice@example.net>, delay=00:00:01, xdelay=00:00:00, mailer=local, "
    "pri=48420, dsn=2.0.0, stat=Sent",
]


def generate(path: Path, lines: int) -> None:
    rng = random.Random(1)
    with path.open("w", encoding="utf-8") as f:
        for i in range(lines):
            n = rng.randrange(5000)
            pool = SESSIONS if i % 5 == 0 else OTHER
            text = rng.choice(pool).format(n=n, a=n % 250, b=n // 250 + 1)
            sec = i * 86400 // lines
            f.write(
                f"Nov 28 {sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d} colo10 "
                f"sm-mta[{1000 + n}]: {text}\n"
            )


def run(argv: list[str], shell: bool = False) -> tuple[float, int, float]:
    """Wall time, max RSS (KiB) and CPU seconds (its processes') of one run, output to a file.

    Not /dev/null: GNU grep stops at the first match when its output goes there.
    """
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv if not shell else ["/bin/sh", "-c", argv[0]],
            stdout=out,
            stderr=subprocess.PIPE,
            cwd=REPO,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{argv}: exit {code}")
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def best_run(argv: list[str], runs: int, shell: bool = False) -> tuple[float, int, float]:
    """The fastest of `runs` (on a shared machine the least disturbed), the largest RSS."""
    results = [run(argv, shell) for _ in range(runs)]
    fastest = min(results)
    return fastest[0], max(m for _, m, _ in results), fastest[2]


#: the floor (see the docstring): CPU seconds of the candidate search and split alone
FLOOR = """
import sys, time
from compiler.logs.scan import _CANON
match = _CANON.match
start = time.process_time()
with open(sys.argv[1], "rb") as f:
    carry = b""
    while chunk := f.read(8 << 20):
        block = carry + chunk
        end = block.rfind(b"\\n") + 1
        carry = block[end:]
        find, rfind = block.find, block.rfind
        for word in (b"STARTTLS", b"ruleset="):
            at = find(word, 0, end)
            while at >= 0:
                s = rfind(b"\\n", 0, at) + 1
                e = find(b"\\n", at, end)
                m = match(block, s, e)
                if m is not None:
                    m.groups()
                at = find(word, e, end)
print(time.process_time() - start)
"""


def floor_cpu(log: Path, runs: int) -> float:
    """The least CPU time of FLOOR on `log` over `runs` runs."""
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", FLOOR, str(log)],
            capture_output=True, text=True, cwd=REPO, check=True,
        ).stdout  # fmt: skip
        times.append(float(out))
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=1_370_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    rows: list[tuple[str, str, float, float, int | None]] = []
    rss: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "mail.log"
        generate(log, args.lines)
        small = Path(tmp) / "mail.log.small"
        generate(small, args.lines // 4)
        gz = Path(tmp) / "mail.log.1.gz"
        # streamed, so that this process stays small: its children's RSS starts from it
        with log.open("rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst)
        size, gz_size = log.stat().st_size / 1e6, gz.stat().st_size / 1e6
        print(f"generated: {args.lines:,} lines, {size:.0f} MB ({gz_size:.0f} MB gzip)")
        t_grep, _, _ = best_run(["grep", "-F", "-c", "STARTTLS=", str(log)], max(args.runs, 5))
        t_zgrep, _, _ = best_run(
            [f"zcat {gz} | grep -F -c STARTTLS="], max(args.runs, 5), shell=True
        )
        print(f"grep -F -c STARTTLS=        : {t_grep:6.2f} s")
        print(f"zcat | grep -F -c STARTTLS=  : {t_zgrep:6.2f} s")
        floor = floor_cpu(log, args.runs)
        for fmt in ("text", "json"):
            for name, path, base in (("plain", log, t_grep), ("gzip", gz, t_zgrep)):
                t, peak, cpu = best_run(
                    [*TLSC, "--format", fmt, "--year", "2026", str(path)], args.runs
                )
                label = f"`tlsc logs --format {fmt}`, {name}"
                versus = "`grep`" if name == "plain" else "`zcat \\| grep`"
                rows.append((label, versus, t, base / t, peak, cpu))
                print(
                    f"{fmt:4} {name:5}: {t:6.2f} s  {args.lines / t:>12,.0f} lines/s  "
                    f"{base / t:5.2f}x grep  max RSS {peak / 1024:.0f} MiB  CPU {cpu:.2f} s"
                )
            _, peak_small, _ = run([*TLSC, "--format", fmt, "--year", "2026", str(small)])
            rss[fmt] = peak_small
            print(f"{fmt:4} quarter size: max RSS {peak_small / 1024:.0f} MiB")
    t_pass, _, _ = best_run([sys.executable, "-c", "pass"], 5)
    t_cold_json, _, _ = best_run([*TLSC, "--format", "json", str(SAMPLE)], 5)
    t_cold_text, _, _ = best_run([*TLSC, str(SAMPLE)], 5)
    imports = subprocess.run(
        [sys.executable, "-X", "importtime", *TLSC[1:], "--format", "json", str(SAMPLE)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    ).stderr
    heavy = sorted(
        {
            name
            for line in imports.splitlines()
            if (name := line.split("|")[-1].strip().split(".")[0])
            in ("pydantic", "deepdiff", "ruamel")
        }
    )
    best = floor / 2 + t_pass
    print(
        f"floor of a Python reader (find + one regex per candidate line, nothing else):"
        f" {floor:.2f} CPU-s; on 2 cores at best {best:.2f} s = {t_grep / best:.2f}x grep"
        " (the text goal is 0.25x)"
    )
    print(f"python -c pass:              {t_pass * 1000:6.0f} ms")
    print(f"tlsc logs --format json, 54 lines: {t_cold_json * 1000:6.0f} ms")
    print(f"tlsc logs (text), 54 lines:   {t_cold_text * 1000:6.0f} ms")
    print(f"heavy imports on the logs path: {', '.join(heavy) or 'none'}")
    print()
    lines = f"{args.lines:,} lines ({size:.0f} MB)"
    print(f"| {lines} | wall | throughput vs | ratio | CPU | max RSS |")
    print("|---|--:|---|--:|--:|--:|")
    print(f"| `grep -F -c STARTTLS=` | {t_grep:.2f} s | | | | |")
    print(f"| `zcat \\| grep -F -c STARTTLS=` | {t_zgrep:.2f} s | | | | |")
    for label, versus, t, ratio, peak, cpu in rows:
        mib = f"{peak / 1024:.0f} MiB"
        print(f"| {label} | {t:.2f} s | {versus} | {ratio:.2f}x | {cpu:.2f} s | {mib} |")
    for fmt, peak in rss.items():
        print(f"| `tlsc logs --format {fmt}`, a quarter the size | | | | | {peak / 1024:.0f} MiB |")
    print(
        f"| floor: find + one regex per candidate line, nothing else, 2 cores at best"
        f" | {best:.2f} s | `grep` | {t_grep / best:.2f}x | {floor:.2f} s | |"
    )
    print(f"| `python3 -c pass` | {t_pass * 1000:.0f} ms | | | | |")
    print(
        f"| `tlsc logs --format json` of the example, cold | {t_cold_json * 1000:.0f} ms | | | | |"
    )
    print(f"| `tlsc logs` (text) of the example, cold | {t_cold_text * 1000:.0f} ms | | | | |")
    return 1 if heavy else 0


if __name__ == "__main__":
    sys.exit(main())
