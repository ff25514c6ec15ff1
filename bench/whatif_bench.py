"""`tlsc logs --spec` (the what-if) and `tlsc plan --logs` benchmark: prints figures,
asserts nothing about speed.

    python bench/whatif_bench.py [--sessions 100000] [--hosts 10] [--domains 5000] [--runs 3]

* generates a spec with bench/gen_spec.py (`--hosts`, `--domains`, 20,000
  access entries) and a syslog file of `--sessions` SMTP sessions: outbound
  ones (`STARTTLS=client`, its cert line, two `to=` lines) to servers under
  the spec's domains and elsewhere, inbound ones (`connect from`,
  `STARTTLS=server`, `from=`), some in clear, spread over the spec's hosts;
* runs `tlsc logs FILE --spec SPEC --format json` with one `--propose`, and
  `tlsc plan SPEC --state DIR --logs FILE` (the state compiled from the same
  spec with one rule changed), each the median of `--runs`, and prints
  sessions per second and the peak memory (max RSS).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from gen_spec import generate as generate_spec  # noqa: E402

TLSC = [sys.executable, "-m", "compiler"]
OUT = (
    "{t} {h} sm-mta[{p}]: STARTTLS=client, relay={mx}., version=TLSv1.3, verify={v}, "
    "cipher=TLS_AES_256_GCM_SHA384, bits={b}/{b}\n"
    "{t} {h} sm-mta[{p}]: STARTTLS=client, cert-subject=/CN={mx}, cert-issuer=/CN=CA, "
    "verifymsg=ok\n"
    "{t} {h} sm-mta[{p}]: {q}1: to=<a{n}@{d}>, delay=00:00:01, mailer=esmtp, pri=1, "
    "relay={mx}. [10.{a}.{c}.1], dsn=2.0.0, stat=Sent (ok)\n"
    "{t} {h} sm-mta[{p}]: {q}2: to=<b{n}@{d}>,<c{n}@{d}>, delay=00:00:01, mailer=esmtp, "
    "pri=1, relay={mx}. [10.{a}.{c}.1], dsn=2.0.0, stat=Sent (ok)\n"
)
IN = (
    "{t} {h} sm-mta[{p}]: NOQUEUE: connect from c{n}.{d} [172.16.{a}.{c}]\n"
    "{t} {h} sm-mta[{p}]: STARTTLS=server, relay=c{n}.{d} [172.16.{a}.{c}], version=TLSv1.3, "
    "verify=NOT, cipher=TLS_AES_256_GCM_SHA384, bits=256/256\n"
    "{t} {h} sm-mta[{p}]: {q}3: from=<s{n}@{d}>, size=1, class=0, nrcpts=1, msgid=<{n}@x>, "
    "proto=ESMTPS, daemon=MTA, relay=c{n}.{d} [172.16.{a}.{c}]\n"
)


def domains_of(spec: str) -> list[str]:
    """The spec's domain keys (lines `  name:` under `domains:`) that are names."""
    out, inside = [], False
    for line in spec.splitlines():
        if not line.startswith(" "):
            inside = line.startswith("domains:")
            continue
        if inside and line.startswith("  ") and not line.startswith("   "):
            key = line.strip().split(":", 1)[0].strip("'\"")
            if "." in key and not key[0].isdigit() and not key.lower().startswith("ipv6"):
                out.append(key)
    return out


def hosts_of(spec: str) -> list[str]:
    out, inside = [], False
    for line in spec.splitlines():
        if not line.startswith(" "):
            inside = line.startswith("hosts:")
            continue
        if inside and line.startswith("  ") and not line.startswith("   ") and line.endswith(":"):
            out.append(line.strip()[:-1])
    return out


def write_log(path: Path, sessions: int, domains: list[str], hosts: list[str]) -> int:
    rng = random.Random(1)
    lines = 0
    with path.open("w", encoding="utf-8") as f:
        for i in range(sessions):
            sec = i * 86400 // sessions
            t = f"Nov 28 {sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"
            d = rng.choice(domains) if rng.random() < 0.7 else f"other{rng.randrange(999)}.example"
            values = {
                "t": t,
                "h": rng.choice(hosts),
                "p": 1000 + i % 30000,
                "q": f"5ASA{i:09d}",
                "n": i,
                "d": d,
                "mx": f"mx.{d}",
                "a": rng.randrange(250),
                "c": rng.randrange(250),
                "v": rng.choice(["OK", "OK", "FAIL", "NOT"]),
                "b": rng.choice([256, 256, 128]),
            }
            text = (OUT if i % 3 else IN).format(**values)
            lines += text.count("\n")
            f.write(text)
    return lines


def run(argv: list[str]) -> tuple[float, int]:
    """Wall time and max RSS (KiB) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 2):
        raise SystemExit(
            f"{argv}: exit {code}: {proc.stderr.read().decode() if proc.stderr else ''}"
        )
    return elapsed, usage.ru_maxrss


def median(argv: list[str], runs: int) -> tuple[float, int]:
    results = [run(argv) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sessions", type=int, default=100_000)
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--domains", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.home() / ".cache") as tmp:
        work = Path(tmp)
        spec_text = generate_spec(args.hosts, args.domains, 20_000)
        spec = work / "cluster.yaml"
        spec.write_text(spec_text, encoding="utf-8")
        domains, hosts = domains_of(spec_text), hosts_of(spec_text)
        log = work / "mail.log"
        lines = write_log(log, args.sessions, domains, hosts)
        print(
            f"{args.sessions:,} sessions in {lines:,} lines, {log.stat().st_size / 2**20:.1f} MiB;"
            f" spec: {len(hosts)} hosts, {len(domains):,} named domains of {args.domains:,},"
            " 20,000 access entries"
        )
        propose = f"{domains[0]}: {{outbound: {{require: verify, cn: true}}}}"
        whatif = [*TLSC, "logs", str(log), "--year", "2026", "--spec", str(spec), "--format"]
        rows = []
        for fmt in ("json", "text"):
            argv = [*whatif, fmt, "--propose", propose]
            seconds, rss = median(argv, args.runs)
            rows.append((f"logs --spec --format {fmt}", seconds, rss))
        old = work / "old.yaml"
        old.write_text(
            spec_text.replace(
                "domains:\n", "domains:\n  zz-bench.example: {outbound: encrypt}\n", 1
            ),
            encoding="utf-8",
        )
        subprocess.run(
            [*TLSC, "compile", str(old), "--out", str(work / "state")],
            check=True,
            cwd=REPO,
            capture_output=True,
        )
        plan = [*TLSC, "plan", str(spec), "--state", str(work / "state"), "--year", "2026"]
        rows.append(("plan --state (no logs)", *median(plan, args.runs)))
        rows.append(("plan --state --logs", *median([*plan, "--logs", str(log)], args.runs)))
        print()
        print("| command | seconds (median) | sessions/s | max RSS MiB |")
        print("|---|---|---|---|")
        for name, seconds, rss in rows:
            rate = (
                f"{args.sessions / seconds:,.0f}"
                if "logs" in name and "no logs" not in name
                else ""
            )
            print(f"| {name} | {seconds:.2f} | {rate} | {rss / 1024:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
