"""Apply benchmark: prints figures, asserts nothing about speed.

    python3 bench/apply_bench.py [--access 100000] [--runs 3]

Setup (not timed), under bench/out/apply-ACCESS/ (the checkout's bench/out, so
no world-writable directory lies above the maps, which makemap would warn
about): a one-host spec with ACCESS `access:` entries plus a few TLS rules,
and a host root made by a first `tlsc apply --root`. commands.restart is
`true`, and every apply runs with --no-verify: no sendmail listens for the
benchmark host (the tests verify against a real daemon).

Measured, each in a fresh process, the median of RUNS wall times:

1. `tlsc apply` with nothing to do (no-op);
2. `tlsc apply` of a one-rule change (one access line differs: backup, write,
   makemap, no m4, no restart);
3. `tlsc plan --root` of the same host with nothing to do (the plan alone);
4. `makemap hash` of the same access file into a scratch map (makemap alone).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
TLSC = [sys.executable, "-m", "compiler"]


def spec_text(entries: int, level: str) -> str:
    lines = [
        "version: 1",
        "cluster: bench",
        "defaults:",
        '  commands: {restart: "true"}',
        "hosts:",
        "  mx1: {fqdn: mx1.example.net, address: 127.0.0.1}",
        "domains:",
        f"  bench.example.com: {{outbound: {level}}}",
        "  other.example.org: {outbound: encrypt}",
        "access:",
    ]
    for n in range(entries):
        lines.append(f"  - Connect:10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255} REJECT")
    return "\n".join(lines) + "\n"


def timed(argv: list[str], **kwargs: object) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, check=False, **kwargs)  # type: ignore[call-overload]
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr.decode()}")
    return seconds


def median(argvs: list[list[str]], **kwargs: object) -> float:
    """The median wall time of running each argv."""
    return statistics.median(timed(a, **kwargs) for a in argvs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--access", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    work = OUT / f"apply-{args.access}"
    shutil.rmtree(work, ignore_errors=True)
    root = work / "root"
    root.mkdir(parents=True, mode=0o755)
    # one spec file, rewritten between runs: the files' headers name it, so a second
    # file name would change sendmail.mc too (and rebuild sendmail.cf)
    spec = work / "cluster.yaml"
    texts = {level: spec_text(args.access, level) for level in ("encrypt", "verify")}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # --skip-preflight: the bench root holds no certificates
    argv = [*TLSC, "apply", str(spec), "--root", str(root), "--host", "mx1",
            "--yes", "--no-verify", "--allow-downgrade", "--keep-backups", "2",
            "--skip-preflight"]  # fmt: skip

    def apply(level: str) -> float:
        spec.write_text(texts[level], encoding="utf-8")
        return timed(argv, env=env)

    first = apply("encrypt")
    access = root / "etc/mail/access"
    lines = access.read_text().count("\n")
    noop = statistics.median(apply("encrypt") for _ in range(args.runs))
    levels = ["verify", "encrypt"] * args.runs
    one_rule = statistics.median(apply(level) for level in levels[: args.runs])
    apply("encrypt")
    plan = median(
        [[*TLSC, "plan", str(spec), "--root", str(root), "--host", "mx1"]] * args.runs, env=env
    )
    scratch = work / "scratch"
    scratch.mkdir(mode=0o755)

    def makemap() -> float:
        with access.open("rb") as src:
            return timed(["makemap", "hash", str(scratch / "access")], stdin=src)

    mm = statistics.median(makemap() for _ in range(args.runs))
    size = access.stat().st_size / 1e6
    db = (root / "etc/mail/access.db").stat().st_size / 1e6
    print(
        f"host: {lines} lines of access ({size:.1f} MB), access.db {db:.1f} MB;"
        f" median of {args.runs}"
    )
    print(f"{'first apply (creates everything)':<44}{first:8.2f} s")
    print(f"{'tlsc apply, nothing to do':<44}{noop:8.2f} s")
    print(f"{'tlsc apply, one rule (makemap, no restart)':<44}{one_rule:8.2f} s")
    print(f"{'tlsc plan --root (the plan alone)':<44}{plan:8.2f} s")
    print(f"{'makemap hash (makemap alone)':<44}{mm:8.2f} s")


if __name__ == "__main__":
    main()
