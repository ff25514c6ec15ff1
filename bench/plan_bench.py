"""Plan benchmark: prints figures and ratios, asserts nothing about speed.

    python3 bench/plan_bench.py [--hosts 50 --domains 5000 --access 100000]
                                [--install-ansible | --no-ansible]

Setup (not timed), under bench/out/plan-HOSTSxACCESS/:

* a large spec from bench/gen_spec.py (or a small built-in generator when
  that script is absent), and an older version of it: every 1000th `access:`
  entry missing, 20 `outbound: encrypt` rules at `min_bits: 112`, and 3
  `outbound: verify` rules that also checked `cn: true` (so the plan finds
  added entries, strengthened rules and 3 downgrades);
* repo/: a git repository whose HEAD holds the older spec and whose work tree
  holds the new one (for --base HEAD);
* state/: the older spec compiled by `tlsc compile` (for --state);
* build/: the new spec compiled (the templates for Ansible).

Measured, each in a fresh process (wall time; peak RSS from wait4, which is
the largest single process of the tree):

1. `tlsc plan cluster.yaml --state state --format json --out plan.json`
2. `tlsc plan cluster.yaml --base HEAD --format json`
3. the floor: a plain Python loop that reads and SHA-256-hashes every file of
   state/ (what any plan must at least do for --state);
4. `ansible-playbook --check --diff` of a playbook that templates the same
   files (build/ -> state/, local connection, one inventory host per mail
   host). ansible-core is not a dependency of tlsc; install it into a venv
   of its own (python3 -m venv /tmp/ansible-venv && /tmp/ansible-venv/bin/pip
   install ansible-core) and point TLSC_BENCH_ANSIBLE at its
   ansible-playbook, or have it on PATH, or let --install-ansible put it in
   bench/out/ansible-venv. Without it: "ansible: not installed, skipped".
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
ANSIBLE_VENV = OUT / "ansible-venv"

FLOOR = """
import hashlib, sys
from pathlib import Path
total = 0
for path in sorted(Path(sys.argv[1]).rglob("*")):
    if path.is_file():
        data = path.read_bytes()
        hashlib.sha256(data).hexdigest()
        total += len(data)
print(total)
"""


@dataclass
class Run:
    """One measured command."""

    name: str
    seconds: float
    max_rss_mb: float
    status: int
    note: str = ""


def measure(name: str, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run argv, output discarded; wall time and the tree's peak RSS (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    note = err.decode(errors="replace").strip().splitlines()[-1:] if proc.returncode else []
    return Run(name, seconds, usage.ru_maxrss / 1024, proc.returncode, " ".join(note)[:120])


def tlsc(*args: str | Path) -> list[str]:
    """argv for tlsc with this interpreter."""
    return [sys.executable, "-m", "compiler", *map(str, args)]


# -- setup ------------------------------------------------------------------


def generate(hosts: int, domains: int, access: int, out: Path) -> None:
    """The new spec: bench/gen_spec.py when present, else the fallback below."""
    gen = ROOT / "bench" / "gen_spec.py"
    if gen.exists():
        subprocess.run(
            [sys.executable, str(gen), "--hosts", str(hosts), "--domains", str(domains),
             "--access", str(access), "--out", str(out)],
            check=True,
        )  # fmt: skip
        return
    lines = ["version: 1", "cluster: bench", "hosts:"]
    lines += [f"  mx{i:03d}: {{fqdn: mx{i:03d}.example.net}}" for i in range(hosts)]
    lines.append("domains:")
    for i in range(domains):
        rule = ("{outbound: encrypt}", "{outbound: verify}", "{inbound: encrypt}")[i % 3]
        lines.append(f'  "d{i}.example.com": {rule}')
    lines.append("access:")
    lines += [
        f'  - "Connect:10.{i // 65536}.{i // 256 % 256}.{i % 256} RELAY"' for i in range(access)
    ]
    out.write_text("\n".join(lines) + "\n")


def older(text: str) -> str:
    """The spec before the change the benchmark plans."""
    lines = text.split("\n")
    out = []
    in_access = False
    access_item = 0
    encrypt = verify = 0
    for line in lines:
        if re.match(r"^[a-z_]+:", line):
            in_access = line.startswith("access:")
        if in_access and line.startswith("  - "):
            access_item += 1
            if access_item % 1000 == 0:
                continue
        if "{outbound: encrypt}" in line and encrypt < 20:
            line = line.replace(
                "{outbound: encrypt}", "{outbound: {require: encrypt, min_bits: 112}}"
            )
            encrypt += 1
        elif "{outbound: verify}" in line and verify < 3:
            line = line.replace("{outbound: verify}", "{outbound: {require: verify, cn: true}}")
            verify += 1
        out.append(line)
    return "\n".join(out)


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.net",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.net"}  # fmt: skip
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def setup(work: Path, hosts: int, domains: int, access: int) -> tuple[Path, Path, Path]:
    """(repo/cluster.yaml, state/, build/), made once and reused."""
    repo, state, build = work / "repo", work / "state", work / "build"
    spec = repo / "cluster.yaml"
    if spec.exists() and state.is_dir() and build.is_dir():
        return spec, state, build
    shutil.rmtree(work, ignore_errors=True)
    repo.mkdir(parents=True)
    new = work / "new.yaml"
    generate(hosts, domains, access, new)
    text = new.read_text()
    spec.write_text(older(text))
    git(repo, "init", "-q")
    git(repo, "add", "cluster.yaml")
    git(repo, "commit", "-q", "-m", "older")
    print("compiling the older spec into state/ and the new one into build/ ...", flush=True)
    subprocess.run(tlsc("compile", spec, "--out", state), check=True, capture_output=True)
    spec.write_text(text)
    subprocess.run(tlsc("compile", spec, "--out", build), check=True, capture_output=True)
    return spec, state, build


# -- ansible ------------------------------------------------------------------


def find_ansible(install: bool) -> Path | None:
    """ansible-playbook: $TLSC_BENCH_ANSIBLE, bench/out/ansible-venv, or on PATH."""
    given = os.environ.get("TLSC_BENCH_ANSIBLE")
    if given:
        path = Path(given)
        if path.is_dir():  # a venv, or its bin directory
            path = next(
                (p for p in (path / "bin" / "ansible-playbook", path / "ansible-playbook")
                 if p.exists()),
                path / "bin" / "ansible-playbook",
            )  # fmt: skip
        if path.exists():
            return path
        print(f"TLSC_BENCH_ANSIBLE={given}: no ansible-playbook there")
    venv_bin = ANSIBLE_VENV / "bin" / "ansible-playbook"
    if venv_bin.exists():
        return venv_bin
    found = shutil.which("ansible-playbook")
    if found:
        return Path(found)
    if not install:
        return None
    print("installing ansible-core from PyPI into bench/out/ansible-venv ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(ANSIBLE_VENV)], check=True)
        subprocess.run(
            [str(ANSIBLE_VENV / "bin" / "pip"), "install", "-q", "ansible-core"], check=True
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"ansible-core could not be installed: {exc}")
        return None
    return venv_bin if venv_bin.exists() else None


#: Jinja delimiters no file holds, so each compiled file templates to itself
_DELIMS = {
    "variable_start_string": "<<@@",
    "variable_end_string": "@@>>",
    "block_start_string": "<<%%",
    "block_end_string": "%%>>",
    "comment_start_string": "<<##",
    "comment_end_string": "##>>",
}


def ansible_files(work: Path, build: Path, state: Path, hosts: list[str]) -> tuple[Path, Path]:
    """An inventory (one local host per mail host) and a playbook templating its files."""
    inventory = work / "inventory.ini"
    inventory.write_text(
        "[mail]\n"
        + "".join(
            f"{h} ansible_connection=local ansible_python_interpreter={sys.executable}\n"
            for h in hosts
        )
    )
    files = sorted(
        str(p.relative_to(build / hosts[0])) for p in (build / hosts[0]).rglob("*") if p.is_file()
    )
    opts = "".join(f"        {k}: {v!r}\n" for k, v in _DELIMS.items())
    tasks = "".join(
        f"    - name: {f}\n"
        f"      ansible.builtin.template:\n"
        f"        src: {build}/{{{{ inventory_hostname }}}}/{f}\n"
        f"        dest: {state}/{{{{ inventory_hostname }}}}/{f}\n"
        f"{opts}"
        for f in files
    )
    playbook = work / "playbook.yml"
    playbook.write_text(f"- hosts: mail\n  gather_facts: false\n  tasks:\n{tasks}")
    return inventory, playbook


# -- report ---------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--domains", type=int, default=5000)
    parser.add_argument("--access", type=int, default=100_000)
    parser.add_argument("--forks", type=int, default=5, help="ansible forks (its default: 5)")
    parser.add_argument("--no-ansible", action="store_true")
    parser.add_argument("--install-ansible", action="store_true")
    args = parser.parse_args()

    work = OUT / f"plan-{args.hosts}x{args.access}"
    spec, state, build = setup(work, args.hosts, args.domains, args.access)
    hosts = sorted(p.name for p in state.iterdir() if p.is_dir())
    size = sum(p.stat().st_size for p in state.rglob("*") if p.is_file())
    print(
        f"{len(hosts)} hosts, {args.access} access entries; state tree"
        f" {size / 1e6:.0f} MB in {sum(1 for p in state.rglob('*') if p.is_file())} files"
    )
    runs = [
        measure(
            "tlsc plan --state",
            tlsc("plan", spec, "--state", state, "--format", "json", "--out", work / "plan.json"),
            ROOT,
        ),
        measure("tlsc plan --base", tlsc("plan", spec, "--base", "HEAD", "--format", "json"), ROOT),
        measure("floor: read+sha256", [sys.executable, "-c", FLOOR, str(state)], ROOT),
    ]
    ansible: Run | None = None
    if not args.no_ansible:
        playbook_bin = find_ansible(args.install_ansible)
        if playbook_bin is None:
            print("ansible: not installed, skipped (set TLSC_BENCH_ANSIBLE or --install-ansible)")
        else:
            inventory, playbook = ansible_files(work, build, state, hosts)
            env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_NOCOLOR": "1"}
            ansible = measure(
                "ansible-playbook --check --diff",
                [str(playbook_bin), "-i", str(inventory), str(playbook), "--check", "--diff",
                 "--forks", str(args.forks)],
                ROOT,
                env,
            )  # fmt: skip
            runs.append(ansible)
    import json

    plan = json.loads((work / "plan.json").read_text())
    downgrades = sum(w["downgrade"] for h in plan["hosts"] for w in h["warnings"])
    print(f"plan: {plan['changes']} file changes, {downgrades} downgrade warnings\n")
    floor = runs[2]
    print("| run | wall s | peak RSS MB | x floor (time) | x floor (RSS) | status |")
    print("|---|---:|---:|---:|---:|---|")
    for r in runs:
        print(
            f"| {r.name} | {r.seconds:.2f} | {r.max_rss_mb:.0f} | {r.seconds / floor.seconds:.1f}"
            f" | {r.max_rss_mb / floor.max_rss_mb:.1f} | {r.status} {r.note} |"
        )
    if ansible is not None:
        for r in runs[:2]:
            print(
                f"{r.name}: {ansible.seconds / r.seconds:.1f}x faster than Ansible,"
                f" {r.max_rss_mb / ansible.max_rss_mb:.2f}x its peak RSS"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
