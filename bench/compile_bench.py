"""Compile benchmark: prints figures, asserts nothing about speed.

    python bench/compile_bench.py            (or: make bench)

For every spec in examples/ and for a generated large spec (50 hosts, 5000
domains, 100k access entries by default; written under bench/out/):

* in-process wall time of each stage: load (compiler.spec.loader.load_file),
  validate (compiler.spec.validate.validate), render (resolve + render every
  host from the validated result) and the whole compile (load_file +
  compiler.compile.compile_loaded), median of several runs;
* peak Python memory of a whole compile (tracemalloc);
* `tlsc compile SPEC --out DIR` end to end in a subprocess: wall time and
  maximum resident set size (getrusage of that child);

then cold start, median of several runs: `python -c pass`, `tlsc --version`
and `tlsc validate examples/canit-cluster.yaml`; and whether `tlsc --version`
imports pydantic or deepdiff (it must not: the exit status is 1 if it does).
Ends with a markdown table for the README's Benchmark section.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from compiler.compile import compile_loaded
from compiler.render import render_host
from compiler.resolve import resolve
from compiler.rules import ClusterRules
from compiler.spec.loader import LoadedSpec, load_file
from compiler.spec.model import Cluster
from compiler.spec.validate import validate

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
EXAMPLES = ROOT / "examples"
#: modules `tlsc --version` must not import (they cost startup time)
HEAVY = ("pydantic", "deepdiff")
#: modules reported for information only
WATCHED = ("ruamel", "rich", "cryptography", "click")

T = TypeVar("T")


@dataclass
class SpecFigures:
    """Everything measured for one spec."""

    name: str
    hosts: int = 0
    access_lines: int = 0
    load: float = 0.0
    validate: float = 0.0
    render: float = 0.0
    compile: float = 0.0
    tracemalloc_peak: int = 0
    cli_wall: float = 0.0
    cli_maxrss: int = 0  # bytes
    cli_rc: int = 0


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Wall time of one call, and its result."""
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median_time(fn: Callable[[], Any], runs: int) -> float:
    """Median wall time of `runs` calls."""
    return statistics.median(timed(fn)[0] for _ in range(runs))


def median_time_after(setup: Callable[[], T], fn: Callable[[T], Any], runs: int) -> float:
    """Median wall time of `runs` calls of fn(setup()), setup not timed."""
    walls = []
    for _ in range(runs):
        walls.append(timed(functools.partial(fn, setup()))[0])
    return statistics.median(walls)


def tlsc_command() -> list[str]:
    """The tlsc beside this interpreter (the venv's), else on PATH, else `python -m compiler`."""
    beside = Path(sys.executable).parent / "tlsc"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("tlsc")
    return [found] if found else [sys.executable, "-m", "compiler"]


#: Runs argv and reports its own wall time, exit code and peak RSS. It runs in a
#: fresh interpreter: a child's ru_maxrss counts the memory of the process it
#: was forked from, so forking tlsc straight from this (large) process would
#: report our size instead of tlsc's.
_RUNNER = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
proc.returncode = os.waitstatus_to_exitcode(status)
print(wall, proc.returncode, usage.ru_maxrss * 1024)
"""


def run_child(argv: list[str]) -> tuple[float, int, int, bytes]:
    """Run argv; return (wall seconds, exit code, max RSS in bytes, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, *argv], capture_output=True, cwd=ROOT, check=False
    )
    try:
        wall, rc, rss = proc.stdout.split()
    except ValueError:
        return 0.0, proc.returncode or 1, 0, proc.stderr
    return float(wall), int(rc), int(rss), proc.stderr


def median_child(argv: list[str], runs: int) -> tuple[float, float]:
    """(median, min) wall time of `runs` runs of argv."""
    walls = [run_child(argv)[0] for _ in range(runs)]
    return statistics.median(walls), min(walls)


# -- per spec -------------------------------------------------------------


def validated_rules(cluster: Cluster) -> ClusterRules:
    """Fresh rules, with what validation computes (every entry parsed) done already."""
    rules = ClusterRules(cluster)
    for request_client_cert in (False, True):
        rules.all(request_client_cert)
    return rules


def measure_spec(path: Path, runs: int, tlsc: list[str]) -> SpecFigures:
    """All in-process and CLI figures for one spec."""
    fig = SpecFigures(path.name)
    loaded: LoadedSpec = load_file(path)
    result = validate(loaded)
    if not result.ok or result.cluster is None or result.rules is None:
        for p in result.problems[:5]:
            print(f"  {p.path}:{p.line}:{p.col}: {p.code} {p.message}")
        raise SystemExit(f"{path}: the spec is not valid; nothing to measure")
    cluster, rules = result.cluster, result.rules
    fig.hosts = len(cluster.hosts)

    def render_all(rules: ClusterRules = rules) -> dict[str, dict[str, str]]:
        return {
            name: render_host(resolve(cluster, name), loaded.source, rules)
            for name in sorted(cluster.hosts)
        }

    files = render_all()
    fig.access_lines = max(
        sum(1 for line in text.splitlines() if line and not line.startswith("#"))
        for host_files in files.values()
        for p, text in host_files.items()
        if p.endswith("/access")
    )
    del files

    fig.load = median_time(lambda: load_file(path), runs)
    fig.validate = median_time(lambda: validate(loaded), runs)
    # fresh rules each run: the access body is memoised per rules object, and a
    # compile renders with the rules its own validation just made
    fig.render = median_time_after(lambda: validated_rules(cluster), render_all, runs)
    fig.compile = median_time(lambda: compile_loaded(load_file(path)), runs)

    gc.collect()
    tracemalloc.start()
    compiled = compile_loaded(load_file(path))
    fig.tracemalloc_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert compiled.ok
    del compiled
    gc.collect()

    out_dir = OUT / f"compile-{path.stem}"
    shutil.rmtree(out_dir, ignore_errors=True)
    fig.cli_wall, fig.cli_rc, fig.cli_maxrss, err = run_child(
        [*tlsc, "compile", str(path), "--out", str(out_dir)]
    )
    if fig.cli_rc != 0:
        print(f"  tlsc compile failed ({fig.cli_rc}): {err.decode(errors='replace').strip()}")
    return fig


# -- startup --------------------------------------------------------------


def imported_by_version(python: str) -> set[str]:
    """Top-level modules that `python -X importtime -m compiler --version` imports."""
    proc = subprocess.run(
        [python, "-X", "importtime", "-m", "compiler", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    names = set()
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", line)
        if m:
            names.add(m.group(1).split(".")[0])
    return names


# -- output ---------------------------------------------------------------


def ms(seconds: float) -> str:
    """Seconds as a short human figure."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def mib(n: int) -> str:
    """Bytes as MiB."""
    return f"{n / 2**20:.1f} MiB"


def print_table(figs: list[SpecFigures]) -> None:
    """The per-spec markdown table."""
    print(
        "| spec | hosts | access lines/host | load | validate | render | compile"
        " (in-process) | tracemalloc peak | `tlsc compile` wall | `tlsc compile` max RSS |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for f in figs:
        print(
            f"| {f.name} | {f.hosts} | {f.access_lines:,} | {ms(f.load)} | {ms(f.validate)}"
            f" | {ms(f.render)} | {ms(f.compile)} | {mib(f.tracemalloc_peak)}"
            f" | {ms(f.cli_wall)} | {mib(f.cli_maxrss)} |"
        )


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description="tlsc compile benchmark")
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--domains", type=int, default=5000)
    parser.add_argument("--access", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10, help="runs of each small measurement")
    parser.add_argument("--large-runs", type=int, default=1, help="runs on the generated spec")
    args = parser.parse_args(argv)

    tlsc = tlsc_command()
    cpus = os.cpu_count()
    print(f"python {platform.python_version()} ({sys.executable}), {cpus} CPU(s)")
    print(f"tlsc: {' '.join(tlsc)}")

    OUT.mkdir(parents=True, exist_ok=True)
    generated = OUT / f"gen-{args.hosts}x{args.access}.yaml"
    wall, rc, _, err = run_child(
        [
            sys.executable,
            str(ROOT / "bench" / "gen_spec.py"),
            "--hosts",
            str(args.hosts),
            "--domains",
            str(args.domains),
            "--access",
            str(args.access),
            "--out",
            str(generated),
        ]
    )
    if rc != 0:
        sys.stderr.write(err.decode(errors="replace"))
        return 1
    size = generated.stat().st_size
    print(f"generated {generated.relative_to(ROOT)} ({mib(size)}) in {ms(wall)}\n")

    figs = []
    for path in [*sorted(EXAMPLES.glob("*.yaml")), generated]:
        runs = args.large_runs if path == generated else args.runs
        print(f"measuring {path.relative_to(ROOT)} ({runs} run(s) per stage) ...", flush=True)
        figs.append(measure_spec(path, runs, tlsc))

    print("\ncold start (median of", args.runs, "runs each):")
    canit = str(EXAMPLES / "canit-cluster.yaml")
    starts = [
        ("`python3 -c pass`", [sys.executable, "-c", "pass"]),
        ("`tlsc --version`", [*tlsc, "--version"]),
        ("`tlsc validate examples/canit-cluster.yaml`", [*tlsc, "validate", canit]),
    ]
    start_figs = [(label, *median_child(cmd, args.runs)) for label, cmd in starts]

    imported = imported_by_version(sys.executable)
    heavy = [m for m in HEAVY if m in imported]
    watched = [m for m in WATCHED if m in imported]

    print("\n## Results\n")
    print(f"Machine: {cpus} cores, Python {platform.python_version()}.\n")
    print_table(figs)
    print("\n| cold start | median | min |")
    print("|---|--:|--:|")
    for label, med, low in start_figs:
        print(f"| {label} | {ms(med)} | {ms(low)} |")
    verdict = "no" if not heavy else "YES (" + ", ".join(heavy) + ")"
    print(f"\n`tlsc --version` imports pydantic or deepdiff: {verdict}")
    print(f"`tlsc --version` imports of {', '.join(WATCHED)}: {', '.join(watched) or 'none'}")
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"(this benchmark process peaked at {mib(peak_self)} RSS)")
    return 1 if heavy or any(f.cli_rc for f in figs) else 0


if __name__ == "__main__":
    sys.exit(main())
