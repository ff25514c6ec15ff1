"""Lint benchmark: prints figures, asserts nothing about speed.

    python bench/lint_bench.py [--lines 5000] [--runs 7]

* in-process: lexing and a full lint (every rule) of a generated .mc of
  about 5,000 lines (defines, FEATUREs, DAEMON_OPTIONS, dnl comments, a
  LOCAL_CONFIG section), median of several runs, and lines per second;
* `--fix --dry-run` of the same file with one slip in every 50 lines;
* `--pathological N` (alone, or with the rest): `tlsc lint` in a subprocess
  of a .mc of N lines (default 200,000) in which every line warns (a
  FEATURE without its dnl: M4005), once: wall time, CPU time of the child,
  and how many lines it printed (each rule's first 100 findings per file
  are shown, the rest counted in one line);
* cold start, median of several runs: `python -c pass`, next to
  `tlsc lint` of a small .mc (the compiled example), in a subprocess, the
  way a pre-commit hook runs it; and whether that run imported pydantic,
  deepdiff or ruamel (the exit status is 1 if it did).

Ends with a markdown table for the README's Lint section.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from compiler.lint.engine import LintContext, lint_text  # noqa: E402
from compiler.lint.fix import fix_text  # noqa: E402
from compiler.lint.lexer import lex  # noqa: E402
from compiler.sendmail.confnames import KNOWN_OPTIONS  # noqa: E402

SMALL = """divert(-1)dnl
dnl # sendmail.mc for a benchmark
divert(0)dnl
include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(`bench')
OSTYPE(`debian')dnl
DOMAIN(`debian-mta')dnl
define(`confPRIVACY_FLAGS', ``authwarnings,noexpn,novrfy'')dnl
FEATURE(`access_db', , `skip')dnl
FEATURE(`greet_pause', `1000')dnl
DAEMON_OPTIONS(`Family=inet, Name=MTA-v4, Port=smtp')dnl
include(`/etc/mail/tls/starttls.m4')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
"""


def big_mc(lines: int) -> str:
    """A syntactically varied .mc of about `lines` lines."""
    names = sorted(KNOWN_OPTIONS)
    out = SMALL.split("MAILER(`local')")[0].splitlines()
    k = 0
    while len(out) < lines - 40:
        name = names[k % len(names)]
        out.append(f"dnl # {name}: block {k}, with `quotes' and don't in a comment")
        out.append(f"define(`{name}', ``value-{k}, with a comma'')dnl")
        out.append(f"DAEMON_OPTIONS(`Family=inet, Name=MTA-{k}, Port={1000 + k % 60000}')dnl")
        out.append(f"ifdef(`{name}', `dnl', `define(`{name}', `fallback')dnl')dnl")
        k += 1
    out += ["MAILER(`local')dnl", "MAILER(`smtp')dnl", "LOCAL_CONFIG"]
    out += [f"Kmap{n} hash -o /etc/mail/map{n}" for n in range(lines - len(out))]
    return "".join(line + "\n" for line in out)


def with_slips(text: str, every: int = 50) -> str:
    """One typographic quote slip every `every` lines."""
    lines = text.split("\n")
    for n in range(10, len(lines), every):
        if lines[n].startswith("define(`"):
            lines[n] = lines[n].replace("define(`", "define(\u2018", 1)
    return "\n".join(lines)


def every_line_warns(lines: int) -> str:
    """A .mc of about `lines` lines, each a FEATURE call without its dnl (M4005)."""
    head = SMALL.split("FEATURE(")[0]
    return head + "FEATURE(`use_cw_file')\n" * lines


def pathological(lines: int) -> None:
    """`tlsc lint` of a .mc in which every line warns: time and output size."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "every-line-warns.mc"
        path.write_text(every_line_warns(lines), encoding="utf-8")
        before = os.times()
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "compiler", "lint", str(path)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"},
            check=False,
        )
        wall = time.perf_counter() - start
        after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    out = proc.stderr.splitlines()
    print(f"every line warns: {lines:,} lines, exit {proc.returncode}")
    print(f"tlsc lint:                {wall:8.1f} s wall, {cpu:.1f} s CPU")
    print(f"lines printed:            {len(out):8,}  (last: {out[-1] if out else ''})")
    print()


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cold(argv: list[str], runs: int) -> float:
    def run() -> None:
        subprocess.run(argv, capture_output=True, check=False)

    run()  # warm the page cache
    return median_time(run, runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--pathological",
        type=int,
        nargs="?",
        const=200_000,
        default=None,
        metavar="N",
        help="also (first) time `tlsc lint` of an N-line .mc in which every line warns",
    )
    parser.add_argument("--only-pathological", action="store_true", help="just that")
    args = parser.parse_args()
    if args.pathological is not None or args.only_pathological:
        pathological(args.pathological or 200_000)
        if args.only_pathological:
            return 0

    text = big_mc(args.lines)
    nlines = text.count("\n")
    ctx = LintContext()
    report = lint_text(text, "big.mc", "mc", ctx)
    t_lex = median_time(lambda: lex(text, "big.mc", "mc"), args.runs)
    t_lint = median_time(lambda: lint_text(text, "big.mc", "mc", ctx), args.runs)
    slipped = with_slips(text)
    t_fix = median_time(lambda: fix_text(slipped, "big.mc", "mc", ctx), max(1, args.runs // 2))
    slips = lint_text(slipped, "big.mc", "mc", ctx).errors

    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "sendmail.mc"
        small.write_text(SMALL, encoding="utf-8")
        t_pass = cold([sys.executable, "-c", "pass"], args.runs)
        tlsc = [sys.executable, "-m", "compiler", "lint", str(small)]
        t_cold = cold(tlsc, args.runs)
        imports = subprocess.run(
            [sys.executable, "-X", "importtime", *tlsc[1:]],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            check=False,
        ).stderr
    heavy = sorted(
        {
            line.split("|")[-1].strip().split(".")[0]
            for line in imports.splitlines()
            if line.split("|")[-1].strip().split(".")[0] in ("pydantic", "deepdiff", "ruamel")
        }
    )

    print(f"generated .mc: {nlines} lines, {len(text)} bytes, {len(report.findings)} findings")
    print(f"lex:                      {t_lex * 1000:8.1f} ms  ({nlines / t_lex:,.0f} lines/s)")
    print(f"lint (all rules):         {t_lint * 1000:8.1f} ms  ({nlines / t_lint:,.0f} lines/s)")
    print(f"--fix with {slips} slips:     {t_fix * 1000:8.1f} ms")
    print(f"python -c pass:           {t_pass * 1000:8.1f} ms")
    print(
        f"tlsc lint (small .mc):    {t_cold * 1000:8.1f} ms  (+{(t_cold - t_pass) * 1000:.0f} ms)"
    )
    print(f"heavy imports on the lint path: {', '.join(heavy) or 'none'}")
    print()
    print("| measure | time |")
    print("|---|---|")
    print(f"| lint of a {nlines}-line .mc (in process) | {t_lint * 1000:.0f} ms |")
    print(f"| `--fix` of it with {slips} quote slips | {t_fix * 1000:.0f} ms |")
    print(f"| `python3 -c pass` | {t_pass * 1000:.0f} ms |")
    print(f"| `tlsc lint` of a small .mc, cold | {t_cold * 1000:.0f} ms |")
    return 1 if heavy else 0


if __name__ == "__main__":
    sys.exit(main())
