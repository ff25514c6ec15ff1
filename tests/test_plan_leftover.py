"""`tlsc plan --root` on a host where apply still has work though every file matches:
an apply killed (kill -9) after its writes, before its rebuilds or restart.

The plan must say what the next apply does: the same rebuilds and restart, P114
for the journal of the interrupted apply, and `--detailed-exitcode` 2, so an
automation that applies only on 2 does not leave sendmail on the old settings;
once that apply ran, the plan has nothing left (exit 0). Real m4 and makemap,
under a scratch root.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from apply_helpers import apply_json, scratch_root
from conftest import cli_command, cli_env

pytestmark = pytest.mark.realtools

SPEC = """\
version: 1
cluster: leftover
defaults:
  commands: {{restart: "echo restart >> restarts.log", after: "true"}}
  mc:
    defines: {{confTO_IDENT: "{ident}"}}
hosts:
  h1: {{fqdn: h1.example.net, address: 127.0.0.1}}
domains:
  secure.example.com: {{outbound: {level}}}
access:
  - Connect:127 RELAY
"""

#: the pause points an apply with --no-verify reaches once it has begun to write
POINTS = ["write.partial", "build-cf", "build-access", "build-access.built", "restart", "after"]


@pytest.fixture
def root() -> Iterator[Path]:
    with scratch_root("plan-leftover") as path:
        rc, report, err = apply_json(spec(path, "old"), path, "--yes", "--no-verify")
        assert rc == 0, (report, err)
        yield path


def spec(root: Path, which: str) -> Path:
    path = root.parent / f"{root.name}-{which}.yaml"
    ident, level = ("5s", "encrypt") if which == "old" else ("7s", "verify")
    path.write_text(SPEC.format(ident=ident, level=level), encoding="utf-8")
    return path


def plan(root: Path) -> tuple[int, dict[str, object]]:
    """`tlsc plan --root --detailed-exitcode --format json` of the new spec."""
    proc = subprocess.run(
        cli_command(
            "plan", spec(root, "new"), "--root", root, "--host", "h1", "--format", "json",
            "--detailed-exitcode",
        ),
        capture_output=True, text=True, env=cli_env(), timeout=120, check=False,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def planned(doc: dict[str, object]) -> tuple[set[str], set[str]]:
    """(the actions, the warning codes) of the plan's one host."""
    (host,) = doc["hosts"]
    return {a["action"] for a in host["actions"]}, {w["code"] for w in host["warnings"]}


def done(report: dict[str, object]) -> set[str]:
    """What an apply did, as plan actions."""
    out = set()
    for path in report["rebuilt"]:
        out.add("rebuild_access_db" if path.endswith(".db") else "rebuild_sendmail_cf")
    if report["restarted"]:
        out.add("restart")
    return out


def kill_at(root: Path, point: str) -> None:
    """Start an apply of the new spec, stop it at `point` and kill -9 it there."""
    marker = root.parent / f"{root.name}-paused"
    env = {
        **cli_env(),
        "TLSC_APPLY_PAUSE_AT": point,
        "TLSC_APPLY_PAUSE_FILE": str(marker),
        "TLSC_APPLY_PAUSE_SECONDS": "60",
    }
    argv = cli_command(
        "apply", spec(root, "new"), "--root", root, "--host", "h1", "--yes", "--no-verify",
        "--skip-preflight", "--format", "json",
    )  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"apply never reached {point}"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    marker.unlink()


def check_plan_matches_the_next_apply(root: Path) -> None:
    rc, doc = plan(root)
    actions, codes = planned(doc)
    rc_apply, report, err = apply_json(spec(root, "new"), root, "--yes", "--no-verify")
    assert rc_apply == 0 and report["result"] == "applied", (report, err)
    did = done(report)
    assert did, report  # apply had work left: the plan must have said so
    assert rc == 2, doc
    # every rebuild and restart apply ran was in the plan, and why
    assert did <= actions, (did, actions)
    assert "P114" in codes, codes
    assert plan(root)[0] == 0


@pytest.mark.parametrize("point", POINTS)
def test_plan_after_apply_was_killed_says_what_the_next_apply_does(root: Path, point: str) -> None:
    kill_at(root, point)
    assert (root / "etc/mail/.tlsc-apply.pending").exists()
    check_plan_matches_the_next_apply(root)


@pytest.mark.parametrize("point", POINTS)
def test_a_saved_plan_after_a_kill_finishes_it_or_says_why_not(root: Path, point: str) -> None:
    saved = root.parent / f"{root.name}-saved.json"
    proc = subprocess.run(
        cli_command("plan", spec(root, "new"), "--root", root, "--host", "h1", "--out", saved),
        capture_output=True, text=True, env=cli_env(), timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    kill_at(root, point)
    journal = root / "etc/mail/.tlsc-apply.pending"
    rc, report, err = apply_json(
        spec(root, "new"), root, "--yes", "--no-verify", "--plan", str(saved)
    )
    # every file holds what the plan saw or what it writes (apply writes each whole): the
    # plan ends where it says, and this apply finishes the rebuilds and the restart of
    # the one killed, even killed half-way through the writes
    assert rc == 0 and report["result"] == "applied", (report, err)
    assert "finished the apply started" in str(report["message"]), report
    if point != "write.partial":  # every file written: the plan was applied already
        assert "is already applied" in " ".join(str(s["detail"]) for s in report["steps"])
    assert not journal.exists()
    assert plan(root)[0] == 0


def _older(path: Path, than: Path) -> None:
    t = than.stat().st_mtime - 60
    os.utime(path, (t, t))


#: a built file missing or older than its sources, each way apply finds one
STALE = {
    "sendmail.cf missing": lambda mail: (mail / "sendmail.cf").unlink(),
    "sendmail.cf older than sendmail.mc": lambda mail: _older(
        mail / "sendmail.cf", mail / "sendmail.mc"
    ),
    "sendmail.cf older than starttls.m4": lambda mail: _older(
        mail / "sendmail.cf", mail / "tls/starttls.m4"
    ),
    "access.db missing": lambda mail: (mail / "access.db").unlink(),
    "access.db older than access": lambda mail: _older(mail / "access.db", mail / "access"),
    "both": lambda mail: (
        _older(mail / "access.db", mail / "access"),
        (mail / "sendmail.cf").unlink(),
    ),
}


@pytest.mark.parametrize("how", list(STALE))
def test_plan_of_a_stale_build_says_what_the_next_apply_does(root: Path, how: str) -> None:
    """Every file matches the spec, but apply rebuilds a built file missing or older
    than its sources (and restarts sendmail when sendmail.cf comes out different):
    the plan lists that rebuild with P115 and --detailed-exitcode 2; it said "no
    changes" and 0. Once apply ran, nothing is left."""
    old = spec(root, "old")
    rc, doc = plan_of(root, old)
    assert rc == 0 and planned(doc) == (set(), {"P005"}), doc  # P005: no certificates here
    STALE[how](root / "etc/mail")
    rc, doc = plan_of(root, old)
    actions, codes = planned(doc)
    rc_apply, report, err = apply_json(old, root, "--yes", "--no-verify")
    assert rc_apply == 0 and report["result"] == "applied", (report, err)
    did = done(report) - {"restart"}
    assert did and did == actions - {"restart"}, (did, actions)
    assert codes == {"P005", "P115"} and rc == 2, doc
    assert plan_of(root, old)[0] == 0


def plan_of(root: Path, spec_path: Path) -> tuple[int, dict[str, object]]:
    proc = subprocess.run(
        cli_command(
            "plan", spec_path, "--root", root, "--host", "h1", "--format", "json",
            "--detailed-exitcode",
        ),
        capture_output=True, text=True, env=cli_env(), timeout=120, check=False,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.parametrize("built", ["sendmail.cf", "access.db"])
def test_a_built_file_that_is_a_directory_is_owed_not_taken_for_built(
    root: Path, built: str
) -> None:
    """sendmail.cf (or access.db) replaced by a directory had an mtime, so plan and apply
    took it for an up-to-date build: "nothing to do", exit 0, while sendmail read no
    configuration (a fuzzing find). Now the plan owes its rebuild (P115, exit 2) and says
    to remove it; apply refuses it in one sentence and changes nothing."""
    old = spec(root, "old")
    target = root / "etc/mail" / built
    target.unlink()
    target.mkdir()
    rc, doc = plan_of(root, old)
    p115 = [w for h in doc["hosts"] for w in h["warnings"] if w["code"] == "P115"]
    assert rc == 2 and len(p115) == 1, doc
    assert p115[0]["message"] == (
        f"/etc/mail/{built} is not a regular file, so sendmail does not run what it holds:"
        " remove it, then tlsc apply rebuilds it"
    )
    etc = root / "etc"  # (run/ holds apply's lock)
    before = sorted((p, p.stat().st_mtime_ns) for p in etc.rglob("*") if p.is_file())
    rc_apply, report, err = apply_json(old, root, "--yes", "--no-verify")
    assert rc_apply == 1 and f"{target} is not a regular file" in err + json.dumps(report)
    assert sorted((p, p.stat().st_mtime_ns) for p in etc.rglob("*") if p.is_file()) == before
    assert target.is_dir()
