"""Scale benchmark: every goal of "plan, validate and compile at cluster scale" as
a ratio to its floor, measured in one run. Prints figures, asserts nothing.

    python bench/scale_bench.py              # small sizes (a few minutes on 2 cores)
    python bench/scale_bench.py --million    # adds 1 host x 1,000,000 entries
    python bench/scale_bench.py --full       # the goals' sizes: 50 x 100k and 1 x 1M

Every run is a fresh process (wall time, the shortest of --runs: the machine
this is measured on is shared; the CPU time of that run and the spread of
all runs are printed too, to show how disturbed they were; peak RSS from
wait4). Specs come from
bench/gen_spec.py and are cached with their state trees under
bench/out/scale-*/ (delete the directory to rebuild).

Goals, each printed as `measured / floor = ratio (goal <= N)`:

1. cluster: `tlsc plan SPEC --state STATE --format json --out PLAN` of HOSTS
   hosts x ACCESS entries where CHANGED hosts' files are an older spec's
   (every 1000th access entry missing, 20 `min_bits` and 3 `cn` rules
   weaker), the others already current; floor: a plain Python loop reading
   and SHA-256-hashing the spec and every file of the state tree (<= 3x);
2. one host x the largest size (1M with --million/--full), its files all
   from the older spec, against the same floor for its tree (<= 10x);
   for information, next to it: the floor of a check in Python of its list
   (checker(): tlsc's split, canonical-entry and key patterns, nothing else),
   and that floor halved for two cores;
3. cost per entry flat: one host with 0, 10k, 100k (and 1M) access entries;
   the marginal cost per entry (time(N) - time(0)) / N at each size, and the
   largest over the smallest (flat: <= 1.5x, our reading of "flat"), in CPU
   time; below 1M, time(N) - time(0) is the median of runs of N less 0's, taken
   in pairs back to back (10 x --runs pairs at 10k, 3 x at 100k): the machine's
   speed drifts (the same run swings by 25 % here), and the shortest of separate
   runs of each caught them at different moments, which moved the 10k marginal
   by several microseconds an entry, either way; at 1M, the CPU time of the
   fastest of --runs runs less that of 0's;
4. memory: (peak RSS(N) - peak RSS(0)) / N at the largest size (<= 200 bytes);
5. cold start against `python -c pass` of the same interpreter:
   `tlsc validate examples/canit-cluster.yaml` (<= 5x), `tlsc plan` of it
   against examples/sandbox (<= 8x), `tlsc lint` of one small file (<= 3x),
   and, for information, `tlsc --help` and the library alone (pydantic with one
   model: the part of a validating start tlsc cannot cut);
6. `tlsc plan --base HEAD` of the cluster spec unchanged in git, against the
   cluster's `plan --state` (<= 1.1x);
7. outputs: tests/regen_golden.py --check (every example's compiled bytes).

For information: `tlsc validate` of the cluster spec alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT / "bench"))

from plan_bench import older  # noqa: E402  (the same "older spec" as the plan bench)

#: for information: what any start that validates a spec costs before tlsc's own code
#: runs: pydantic with one model built, without its plugin scan, as tlsc builds its
#: models (a plain `tlsc validate` command line is read without click, compiler/entry.py,
#: and the example without ruamel.yaml, compiler/spec/plainyaml.py)
LIBRARIES = """
import atexit, gc
atexit.register(gc.freeze)
import compiler.spec.noplugins as noplugins
noplugins.install()
from pydantic import BaseModel, Field
class M(BaseModel):
    x: int = Field(0)
"""

FLOOR = """
import hashlib, sys
from pathlib import Path
total = 0
for name in sys.argv[1:]:
    top = Path(name)
    for path in sorted(top.rglob("*")) if top.is_dir() else [top]:
        if path.is_file():
            data = path.read_bytes()
            hashlib.sha256(data).hexdigest()
            total += len(data)
print(total)
"""

#: the floor of any check written in Python of one host's big `access:` list (see
#: checker()): tlsc's own patterns, each once over the whole list, and nothing else
CHECKER = r"""
import hashlib, re, sys
from compiler.sendmail import accessbulk
from compiler.spec import accesslist
spec, tree = sys.argv[1], sys.argv[2]
data = open(spec, "rb").read()
hashlib.sha256(data).hexdigest()
text = data.decode()
start = text.index("\naccess:\n") + len("\naccess:\n")
end = accesslist._block_end(text, start, True)
items = accesslist._one_per_line(text, start, end, "  ", True)
joined = "\n".join(items) + "\n"
del items
run = re.compile(rf"(?:{accessbulk._entry_pattern(frozenset(), ' ', True)}\n)*+")
pos, stops = 0, 0
while pos < len(joined):
    pos = joined.find("\n", run.match(joined, pos).end()) + 1 or len(joined)
    stops += 1
keys = len(set(re.findall(r"(?m)^[^ \n]*", joined.lower())))
hashlib.sha256(joined.encode()).hexdigest()
from pathlib import Path
for path in sorted(Path(tree).rglob("*")):
    if path.is_file():
        hashlib.sha256(path.read_bytes()).hexdigest()
print(stops, keys)
"""


#: the goals: name -> largest acceptable ratio
GOALS = {
    "cluster": 3.0,
    "single": 10.0,
    "flat": 1.5,
    "memory": 200.0,
    "validate": 5.0,
    "plan": 8.0,
    "lint": 3.0,
    "base": 1.1,
}


@dataclass
class Run:
    """One measured command: wall seconds, largest peak RSS, exit status, CPU seconds
    (user + system) of the run with the shortest wall time."""

    seconds: float
    rss: int
    status: int
    note: str = ""
    cpu: float = 0.0


#: --no-bytecode: run as this environment may (PYTHONDONTWRITEBYTECODE kept), every
#: module of this checkout compiled from source at every start
KEEP_NO_BYTECODE = False


def env() -> dict[str, str]:
    """This checkout's compiler first on the path, whatever is installed.

    Bytecode is cached (under __pycache__, as pip's install compiles it) unless
    --no-bytecode: PYTHONDONTWRITEBYTECODE would make every cold start compile
    tlsc's modules from source, which no installed copy does.
    """
    out = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not KEEP_NO_BYTECODE:
        out.pop("PYTHONDONTWRITEBYTECODE", None)
    return out


#: Runs argv and reports its wall time, exit status and peak RSS, from a fresh small
#: interpreter: a child exec'd from a vfork starts with the peak RSS of the process
#: it came from, so measuring from this (large, after setup) process would report
#: our size instead of tlsc's.
_RUNNER = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = proc.stderr.read()
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
last = err.decode(errors="replace").strip().splitlines()[-1:] if code not in (0, 2) else []
print(wall, code, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime, " ".join(last)[:160])
"""


def once(argv: list[str]) -> Run:
    """Run argv once, output discarded: wall time and its peak RSS (bytes)."""
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, *argv], cwd=ROOT, env=env(), capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    try:
        wall, code, rss, cpu, note = (proc.stdout.rstrip("\n") + " ").split(" ", 4)
    except ValueError:
        return Run(0.0, 0, 1, proc.stderr.strip()[-160:])
    return Run(float(wall), int(rss), int(code), note.strip(), float(cpu))


def measure(argv: list[str], runs: int) -> Run:
    """The shortest wall time of `runs` runs (on a machine others share, the least
    disturbed one), the largest peak RSS."""
    done = [once(argv) for _ in range(runs)]
    worst = max(done, key=lambda r: r.status)
    best = min(done, key=lambda r: r.seconds)
    spread = (
        ""
        if len(done) < 2
        else f"runs {min(r.seconds for r in done):.2f}-{max(r.seconds for r in done):.2f} s"
    )
    return Run(
        best.seconds,
        max(r.rss for r in done),
        worst.status,
        " ".join(x for x in (worst.note, spread) if x),
        best.cpu,
    )


def paired_difference(base: list[str], other: list[str], pairs: int) -> float:
    """The median over `pairs` pairs of runs, back to back, of other's CPU time less
    base's (the order alternating): a drift of the machine's speed falls on both of
    a pair, where the shortest of separate runs of each may come from different ones,
    and CPU time leaves out the waits a shared machine adds to the wall time."""
    diffs = []
    for i in range(pairs):
        first, second = (base, other) if i % 2 == 0 else (other, base)
        a, b = once(first), once(second)
        diffs.append(b.cpu - a.cpu if first is base else a.cpu - b.cpu)
    return statistics.median(diffs)


def tlsc(*args: str | Path) -> list[str]:
    """argv for this checkout's tlsc under this interpreter."""
    return [sys.executable, "-m", "compiler", *map(str, args)]


def floor(*paths: Path) -> list[str]:
    """argv of the floor: read and hash every file under `paths`."""
    return [sys.executable, "-c", FLOOR, *map(str, paths)]


def checker(spec: Path, state: Path) -> list[str]:
    """argv of the floor of a check in Python: read and hash the spec, cut its
    `access:` list into items as the loader does (no positions), match it with the
    canonical entry's pattern (stopping where it stops, parsing nothing), count its
    distinct folded keys, hash the list as one text, read and hash the state tree.
    What tlsc does besides (positions, the other entries parsed, pydantic, the
    `domains:` rules, rendering, diffs, the plan's JSON) is left out."""
    return [sys.executable, "-c", CHECKER, str(spec), str(state)]


# -- setup (not timed) ------------------------------------------------------------


def gen(hosts: int, domains: int, access: int, out: Path) -> None:
    """A spec from bench/gen_spec.py."""
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gen_spec.py"), "--hosts", str(hosts),
         "--domains", str(domains), "--access", str(access), "--out", str(out)],
        check=True,
    )  # fmt: skip


def compile_to(spec: Path, out: Path) -> None:
    """`tlsc compile SPEC --out OUT`."""
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(tlsc("compile", spec, "--out", out), check=True, capture_output=True, env=env())


def git(repo: Path, *args: str) -> None:
    """git in `repo`, with a fixed identity."""
    who = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.net",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.net"}  # fmt: skip
    subprocess.run(["git", *args], cwd=repo, env={**os.environ, **who}, check=True,
                   capture_output=True)  # fmt: skip


def setup(name: str, hosts: int, domains: int, access: int, changed: int) -> tuple[Path, Path]:
    """(spec, state) under bench/out/scale-NAME/: the spec committed in a git repo,
    the state compiled from it except `changed` hosts, compiled from the older spec."""
    work = OUT / f"scale-{name}"
    spec, state = work / "repo" / "cluster.yaml", work / "state"
    if spec.exists() and (work / "done").exists():
        return spec, state
    shutil.rmtree(work, ignore_errors=True)
    spec.parent.mkdir(parents=True)
    print(f"  setting up {name}: {hosts} host(s) x {access:,} entries ...", flush=True)
    gen(hosts, domains, access, spec)
    git(spec.parent, "init", "-q")
    git(spec.parent, "add", "cluster.yaml")
    git(spec.parent, "commit", "-q", "-m", "spec")
    compile_to(spec, state)
    if changed:
        old_spec = work / "older.yaml"
        old_spec.write_text(older(spec.read_text()))
        compile_to(old_spec, work / "older")
        for host in sorted(p.name for p in state.iterdir())[:changed]:
            shutil.rmtree(state / host)
            shutil.copytree(work / "older" / host, state / host)
        shutil.rmtree(work / "older")
    (work / "done").write_text("")
    return spec, state


# -- report -----------------------------------------------------------------------


def ratio_line(label: str, value: float, base: float, goal: str, unit: str = "s") -> float:
    """Print `label: value / base = ratio (goal)`; the ratio."""
    ratio = value / base if base else float("inf")
    if unit == "s":
        fmt = lambda x: f"{x:.3f} s"  # noqa: E731
    elif unit == "us":
        fmt = lambda x: f"{x * 1e6:.2f} us"  # noqa: E731
    else:
        fmt = lambda x: f"{x:.0f} {unit}"  # noqa: E731
    ok = "ok" if ratio <= GOALS[goal] else "MISSED"
    print(f"  {label}: {fmt(value)} / {fmt(base)} = {ratio:.2f}x (goal <= {GOALS[goal]}x) {ok}")
    return ratio


SECTIONS = ("cluster", "single", "cold", "base", "outputs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--access", type=int, default=20_000)
    parser.add_argument("--changed", type=int, default=4, help="hosts whose files are older")
    parser.add_argument("--domains", type=int, default=5000)
    parser.add_argument("--million", action="store_true", help="also 1 host x 1,000,000 entries")
    parser.add_argument("--full", action="store_true", help="50 x 100k, 10 changed, and 1M")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold-runs", type=int, default=11)
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated, of {', '.join(SECTIONS)}"
    )
    parser.add_argument(
        "--no-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE if set"
    )
    args = parser.parse_args()
    global KEEP_NO_BYTECODE
    KEEP_NO_BYTECODE = args.no_bytecode
    if args.full:
        args.hosts, args.access, args.changed, args.million = 50, 100_000, 10, True
    only = set(args.only.split(","))
    sizes = [10_000, 100_000] + ([1_000_000] if args.million else [])
    runs = args.runs
    results: dict[str, float] = {}
    plan_out = OUT / "scale-plan.json"

    print("setup (cached under bench/out/):")
    cluster_spec, cluster_state = setup(
        f"{args.hosts}x{args.access}", args.hosts, args.domains, args.access, args.changed
    )
    state_run: Run | None = None
    if only & {"cluster", "base"}:
        print(f"\n1. cluster: {args.hosts} hosts x {args.access:,} entries, {args.changed} changed")
        state_run = measure(
            tlsc("plan", cluster_spec, "--state", cluster_state, "--format", "json",
                 "--out", plan_out), runs,
        )  # fmt: skip
        cluster_floor = measure(floor(cluster_spec, cluster_state), runs)
        print(
            f"  plan --state: status {state_run.status}, CPU {state_run.cpu:.3f} s {state_run.note}"
        )
        results["cluster"] = ratio_line(
            "plan --state / floor", state_run.seconds, cluster_floor.seconds, "cluster"
        )
        val = measure(tlsc("validate", cluster_spec), runs)
        print(f"  (validate alone: {val.seconds:.3f} s, status {val.status} {val.note})")

    if "single" in only:
        singles = {n: setup(f"1x{n}", 1, args.domains, n, 1) for n in [0, *sizes]}
        biggest = sizes[-1]
        print(f"\n2. one host x {biggest:,} entries, every file older")
        argvs = {n: tlsc("plan", s, "--state", st, "--format", "json", "--out", plan_out)
                 for n, (s, st) in singles.items()}  # fmt: skip
        singles_run = {n: measure(argv, runs) for n, argv in argvs.items()}
        big_spec, big_state = singles[biggest]
        big_floor = measure(floor(big_spec, big_state), runs)
        for n, r in singles_run.items():
            print(f"  plan --state 1x{n:,}: {r.seconds:.3f} s, CPU {r.cpu:.3f} s,"
                  f" {r.rss / 2**20:.0f} MiB, status {r.status} {r.note}")  # fmt: skip
        results["single"] = ratio_line(
            f"plan 1x{biggest:,} / floor", singles_run[biggest].seconds, big_floor.seconds, "single"
        )
        check = measure(checker(big_spec, big_state), runs)
        bare = measure([sys.executable, "-c", "pass"], runs)
        best = (check.seconds - bare.seconds) / 2 + bare.seconds
        print(
            f"  (floor of a check in Python: the list split, matched and its keys counted"
            f" with tlsc's patterns, nothing else: {check.seconds:.3f} s ="
            f" {check.seconds / big_floor.seconds:.2f}x the floor; on 2 cores at best"
            f" {best:.3f} s = {best / big_floor.seconds:.2f}x; status {check.status})"
        )

        print("\n3. cost per entry, marginal: (time(N) - time(0)) / N")
        zero = singles_run[0]
        per = {
            n: (
                (singles_run[n].cpu - zero.cpu)
                if n >= 1_000_000
                else paired_difference(argvs[0], argvs[n], 10 * runs if n <= 10_000 else 3 * runs)
            )
            / n
            for n in sizes
        }
        for n, cost in per.items():
            print(f"  {n:>9,} entries: {cost * 1e6:.2f} us/entry")
        if min(per.values()) <= 0:
            print("  (a marginal cost is not positive: the runs were disturbed; run again)")
        results["flat"] = ratio_line(
            "largest / smallest per-entry cost", max(per.values()), min(per.values()), "flat", "us"
        )

        print("\n4. memory, marginal: (peak RSS(N) - peak RSS(0)) / N")
        per_entry = (singles_run[biggest].rss - zero.rss) / biggest
        results["memory"] = ratio_line(
            f"bytes per entry at {biggest:,} (vs 1 byte)", per_entry, 1.0, "memory", "B"
        )

    if "cold" in only:
        print(f"\n5. cold start (best of {args.cold_runs}, after one run to warm the caches)")
        bare = measure([sys.executable, "-c", "pass"], args.cold_runs)
        example = ROOT / "examples" / "canit-cluster.yaml"
        small = ROOT / "tests" / "golden" / "canit-cluster" / "colo10" / "etc" / "mail"
        cold = {
            "validate": tlsc("validate", example),
            "plan": tlsc("plan", example, "--state", ROOT / "examples" / "sandbox"),
            "lint": tlsc("lint", small / "sendmail.mc"),
            "help": tlsc("--help"),
            "libraries": [sys.executable, "-c", LIBRARIES],
        }
        print(f"  python -c pass: {bare.seconds:.3f} s")
        for goal, argv in cold.items():
            once(argv)  # writes the bytecode cache, fills the page cache
            r = measure(argv, args.cold_runs)
            if goal in GOALS:
                results[goal] = ratio_line(f"tlsc {goal} / bare", r.seconds, bare.seconds, goal)
            else:
                times = r.seconds / bare.seconds
                label = "tlsc --help" if goal == "help" else "pydantic alone"
                print(f"  {label} / bare: {r.seconds:.3f} s = {times:.2f}x")

    if "base" in only and state_run is not None:
        print("\n6. plan --base HEAD of the unchanged cluster spec")
        base_run = measure(
            tlsc("plan", cluster_spec, "--base", "HEAD", "--format", "json", "--out", plan_out),
            runs,
        )
        print(f"  plan --base: status {base_run.status} {base_run.note}")
        results["base"] = ratio_line(
            "plan --base / plan --state", base_run.seconds, state_run.seconds, "base"
        )

    if "outputs" in only:
        print("\n7. outputs")
        check = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "regen_golden.py"), "--check"],
            cwd=ROOT, env=env(), capture_output=True, text=True, check=False,
        )  # fmt: skip
        print(f"  regen_golden --check: {'identical' if check.returncode == 0 else 'DIFFERS'}")

    print("\nsummary: " + ", ".join(f"{k} {v:.2f}x" for k, v in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
