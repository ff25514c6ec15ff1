"""The tlsc.sendmail.rollout playbook with the real ansible-core, ansible_connection=local.

Three hosts of one spec: mx1, the canary, is a real `sendmail -bd` on
127.0.0.1 (its files in the daemon's work directory under the daemon's own
root, so its apply takes that root's lock, never /run/tlsc-apply.lock;
restarted by apply_restart.py) and is verified for real; mx2 and mx3 have scratch roots
holding a copy of those files, `true` as restart command, and an smtp_port
nothing listens on, so apply's verify fails there. The canary applies, mx2
fails and tlsc rolls it back byte for byte, mx3 is never touched, and
ansible-playbook exits non-zero. Then `--check --diff` reports a hand edit on
mx3 as drift and writes nothing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from ansible_helpers import COLLECTION, TLSC, playbook
from apply_helpers import Spec, apply_host, dump_yaml
from conftest import run_cli
from realtools import scratch_dir
from sendmail_fixture import DaemonFactory, free_port, sendmail_daemon, throwaway_ca

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools

PLAYBOOK = COLLECTION / "playbooks" / "rollout.yml"


#: the empty lock file tlsc apply leaves under its root (not a managed file)
LOCK = "run/tlsc-apply.lock"


def tree(root: Path) -> dict[str, bytes]:
    """Every regular file under root and its bytes (tlsc's lock file aside)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and str(p.relative_to(root)) != LOCK
    }


def tls_off(spec: Spec) -> None:
    spec["defaults"]["tls"]["enabled"] = False


def test_canary_rollout_stops_at_the_failed_host(
    sendmail_daemon: DaemonFactory, throwaway_ca: Any
) -> None:
    host = apply_host(sendmail_daemon, edit=tls_off)
    work = host.work
    #: the work directory as the spec names it, the same in every host's root
    at = host.host_work.relative_to("/")
    spec = host.spec()
    spec["defaults"]["tls"]["enabled"] = True
    mx1 = host.daemon.host
    spec["hosts"][mx1]["groups"] = ["canary"]
    for name in ("mx2", "mx3"):
        spec["hosts"][name] = {
            "fqdn": f"{name}.tlsc.test",
            "address": "127.0.0.1",
            "smtp_port": free_port(),
            "commands": {"restart": "true"},
        }
    with scratch_dir("ans") as scratch:
        roots = {mx1: host.root}
        for name in ("mx2", "mx3"):
            roots[name] = scratch / f"root-{name}"
            shutil.copytree(work, roots[name] / at, symlinks=True, ignore=_runtime)
        spec_path = dump_yaml(spec, scratch / "cluster.yaml")
        inv = scratch / "inv"
        (inv / "host_vars").mkdir(parents=True)
        (inv / "tlsc.yml").write_text(
            f"plugin: tlsc.sendmail.spec\nspec: {spec_path}\n", encoding="utf-8"
        )
        for name, root in roots.items():
            home = scratch / f"home-{name}"
            home.mkdir()
            hv = {
                "ansible_connection": "local",
                "tlsc_root": str(root),
                "tlsc_spec_dest": str(home / "cluster.yaml"),
                "tlsc_backup_dir": str(home / "backups"),
                "tlsc_executable": TLSC,
                "tlsc_apply_args": ["--verify-wait", "5" if name == mx1 else "0"],
            }
            (inv / "host_vars" / f"{name}.yml").write_text(json.dumps(hv), encoding="utf-8")
        before = {name: tree(r) for name, r in roots.items() if name != mx1}
        mx1_before = tree(work)

        proc, lines = playbook("-i", inv / "tlsc.yml", PLAYBOOK, scratch=scratch)
        assert proc.returncode != 0, proc.stdout[-3000:]
        results = {x["host"]: x["result"] for x in lines if x["task"].startswith("Apply")}
        verified = [x["host"] for x in lines if x["task"].startswith("Verify")]
        assert verified == [mx1], proc.stdout[-3000:]
        # the canary applied for real: files changed, sendmail restarted and verified
        assert results[mx1]["changed"] is True and results[mx1]["result"] == "applied"
        assert results[mx1]["verify"]["starttls"] is True
        assert tree(work) != mx1_before and host.restarts() == 1
        # mx2 failed verification and was rolled back byte for byte
        assert [x["status"] for x in lines if x["host"] == "mx2"][-1] == "failed"
        assert results["mx2"]["rolled_back"] is True, results["mx2"]["msg"]
        rollback = {s["name"]: s["status"] for s in results["mx2"]["rollback"]}
        assert rollback == {
            "rollback": "ok",
            "rollback-restart": "ok",
            "rollback-verify": "skipped",
        }
        assert "back where it was" in results["mx2"]["msg"]
        assert tree(roots["mx2"]) == before["mx2"]
        # mx3 never ran
        assert "mx3" not in results and not (roots["mx3"] / LOCK).exists()
        assert tree(roots["mx3"]) == before["mx3"]

        # drift report: a hand edit on mx3 shows as a diff, and nothing is written
        access = roots["mx3"] / at / "access"
        access.write_text(access.read_text() + "Connect:192.0.2.99\tREJECT\n")
        edited = tree(roots["mx3"])
        proc, lines = playbook(
            "-i",
            inv / "tlsc.yml",
            PLAYBOOK,
            "--check",
            "--diff",
            "-e",
            "tlsc_hosts=mx3",
            scratch=scratch,
        )
        assert proc.returncode == 0, proc.stdout[-3000:]
        drift = [x["result"] for x in lines if x["task"].startswith("Apply")]
        assert len(drift) == 1 and drift[0]["changed"] is True
        prepared = "\n".join(d["prepared"] for d in drift[0]["diff"])
        assert "-Connect:192.0.2.99\tREJECT" in prepared
        assert "-Connect:192.0.2.99" in proc.stdout  # the default callback shows the diff
        assert tree(roots["mx3"]) == edited and not (roots["mx3"] / LOCK).exists()

        # a saved plan per host (tlsc_plan_dir) is shipped and applied with --plan: mx3
        # drifted again after its plan was made, so tlsc refuses it and writes nothing
        plans = scratch / "plans"
        plans.mkdir()
        rc, _, err = run_cli(
            "plan", spec_path, "--root", roots["mx3"], "--host", "mx3", "--out", plans / "mx3.plan"
        )
        assert rc == 0, err
        access.write_text(access.read_text() + "Connect:192.0.2.98\tREJECT\n")
        edited = tree(roots["mx3"])
        proc, lines = playbook(
            "-i",
            inv / "tlsc.yml",
            PLAYBOOK,
            "-e",
            "tlsc_hosts=mx3",
            "-e",
            f"tlsc_plan_dir={plans}",
            scratch=scratch,
        )
        assert proc.returncode != 0
        applied = [x["result"] for x in lines if x["task"].startswith("Apply")]
        assert applied[0]["result"] == "refused", applied[0]["msg"]
        assert "changed since the plan was made" in applied[0]["msg"]
        assert "--plan" in applied[0]["cmd"]
        assert tree(roots["mx3"]) == edited


def _runtime(directory: str, names: list[str]) -> list[str]:
    """What copytree leaves out: the daemon's runtime files."""
    return [n for n in names if n in ("sendmail.pid", "mqueue", "backups", "restarts.log", "dev")]
