"""The rollout's batches with the real ansible-core: after a host that did not finish, no
later batch starts; a rollout that matches no host fails; re-run with the same reviewed
plans, the hosts already rolled out are unchanged; --check fails for a host whose apply
would be refused.

A fleet of scratch roots (ansible_connection=local, TLS off, `true` as restart command,
--no-verify), so no daemon is needed: what is checked is which hosts were reached.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible_helpers import COLLECTION, TLSC, playbook
from conftest import run_cli
from realtools import scratch_dir

pytestmark = pytest.mark.realtools

PLAYBOOK = COLLECTION / "playbooks" / "rollout.yml"
HOSTS = ("mx1", "mx2", "mx3", "mx4")


def spec_text(names: tuple[str, ...], level: str = "encrypt") -> str:
    hosts = "".join(f"  {n}: {{fqdn: {n}.example.net, address: 127.0.0.1}}\n" for n in names)
    return (
        "version: 1\ncluster: batches\ndefaults:\n  tls: {enabled: false}\n"
        f"  commands: {{restart: 'true'}}\nhosts:\n{hosts}"
        f"domains:\n  secure.example.com: {{outbound: {level}}}\n"
    )


class Fleet:
    """A spec, its inventory and a scratch root and home per host."""

    def __init__(self, scratch: Path, names: tuple[str, ...] = HOSTS):
        self.scratch = scratch
        self.names = names
        self.spec = scratch / "cluster.yaml"
        self.spec.write_text(spec_text(names), encoding="utf-8")
        self.inv = scratch / "inv" / "tlsc.yml"
        (self.inv.parent / "host_vars").mkdir(parents=True)
        self.inv.write_text("plugin: tlsc.sendmail.spec\nspec: ../cluster.yaml\n")
        for name in names:
            self.root(name).mkdir()
            self.home(name).mkdir()
            self.host_vars(name)

    def root(self, name: str) -> Path:
        return self.scratch / f"root-{name}"

    def home(self, name: str) -> Path:
        return self.scratch / f"home-{name}"

    def host_vars(self, name: str, **extra: Any) -> None:
        hv = {
            "ansible_connection": "local",
            "tlsc_root": str(self.root(name)),
            "tlsc_spec_dest": str(self.home(name) / "cluster.yaml"),
            "tlsc_backup_dir": str(self.home(name) / "backups"),
            "tlsc_executable": TLSC,
            "tlsc_apply_args": ["--no-verify"],
            "tlsc_verify": False,
            **extra,
        }
        (self.inv.parent / "host_vars" / f"{name}.yml").write_text(json.dumps(hv))

    def reached(self) -> list[str]:
        """The hosts something was written to (the spec shipped, or files applied)."""
        return [
            n
            for n in self.names
            if any(self.root(n).iterdir()) or (self.home(n) / "cluster.yaml").exists()
        ]

    def run(self, *args: str | Path, **env: str) -> tuple[Any, list[dict[str, Any]]]:
        return playbook("-i", self.inv, PLAYBOOK, *args, scratch=self.scratch, **env)


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    with scratch_dir("ans-batches") as scratch:
        yield Fleet(scratch)


def unreachable(fleet: Fleet, name: str) -> None:
    """ssh to a port nothing listens on: Ansible reports the host unreachable."""
    fleet.host_vars(name, ansible_connection="ssh", ansible_host="127.0.0.1", ansible_port=1)


def failing(fleet: Fleet, name: str) -> None:
    """A root that does not exist: tlsc apply refuses it, the task fails."""
    fleet.host_vars(name, tlsc_root=str(fleet.scratch / "no-such-root"))


@pytest.mark.parametrize(
    ("broken", "how", "serial", "untouched"),
    [
        ("mx1", unreachable, None, ["mx2", "mx3", "mx4"]),
        ("mx2", unreachable, [1, 2, "100%"], ["mx4"]),
        ("mx3", unreachable, [1, 2, "100%"], ["mx4"]),
        ("mx1", failing, None, ["mx2", "mx3", "mx4"]),
        ("mx2", failing, [1, 2, "100%"], ["mx4"]),
    ],
)
def test_a_host_that_did_not_finish_stops_every_later_batch(
    fleet: Fleet, broken: str, how: Any, serial: list[Any] | None, untouched: list[str]
) -> None:
    how(fleet, broken)
    args = ["-e", json.dumps({"tlsc_serial": serial})] if serial else []
    proc, lines = fleet.run(*args)
    assert proc.returncode != 0, proc.stdout[-3000:]
    reached = fleet.reached()
    assert not set(untouched) & set(reached), (reached, proc.stdout[-3000:])
    if untouched != ["mx2", "mx3", "mx4"]:
        assert "mx1" in reached  # the canary did roll out
    stop = [x for x in lines if x["task"].startswith("Stop when") and x["status"] == "failed"]
    if how is unreachable:
        # the sentence names the host that did not finish
        assert stop, proc.stdout[-3000:]
        hosts, _, rest = stop[0]["result"]["msg"].partition(" of an earlier batch did not finish")
        assert broken in hosts.split(", ") and rest, stop[0]["result"]["msg"]


@pytest.mark.parametrize("how", ["refused spec", "no such host"])
def test_a_rollout_that_matches_no_host_fails(fleet: Fleet, how: str) -> None:
    env = {}
    args: list[str] = []
    if how == "refused spec":
        # without ANSIBLE_INVENTORY_UNPARSED_FAILED the refused spec is only a warning
        fleet.spec.write_text(spec_text(HOSTS).replace("mx2.example.net", "mx2..example.net"))
        env["ANSIBLE_INVENTORY_UNPARSED_FAILED"] = "False"
    else:
        args = ["-e", "tlsc_hosts=mx9"]
    proc, lines = fleet.run(*args, **env)
    assert proc.returncode != 0, proc.stdout[-3000:]
    (failed,) = [x for x in lines if x["status"] == "failed"]
    assert "nothing would be rolled out" in failed["result"]["msg"]
    assert fleet.reached() == []


def test_a_stopped_rollout_reruns_with_the_same_plans(fleet: Fleet) -> None:
    """The reviewed plans of a rollout that stopped after the canary: run again, the canary
    is unchanged, the rest apply; a third run changes nothing."""
    plans = fleet.scratch / "plans"
    plans.mkdir()
    for name in fleet.names:
        rc, _, err = run_cli(
            "plan",
            fleet.spec,
            "--root",
            fleet.root(name),
            "--host",
            name,
            "--out",
            plans / f"{name}.plan",
        )
        assert rc == 0, err
    with_plans = ("-e", f"tlsc_plan_dir={plans}")
    proc, _ = fleet.run(*with_plans, "-e", "tlsc_hosts=mx1")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert fleet.reached() == ["mx1"]
    for run, expect in (("again", {"mx1": False, "mx2": True}), ("third", {})):
        proc, lines = fleet.run(*with_plans)
        assert proc.returncode == 0, (run, proc.stdout[-3000:])
        applied = {x["host"]: x["result"] for x in lines if x["task"].startswith("Apply")}
        assert sorted(applied) == list(fleet.names)
        for name, result in applied.items():
            assert "--plan" in result["cmd"]
            assert result["changed"] is expect.get(name, run == "again"), (run, name, result)
    # the third run is idempotent: no task of any host changed anything
    assert [x["task"] for x in lines if x["result"].get("changed")] == []


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "case",
    [
        "holds", "downgrade", "downgrade allowed", "drifted", "spec changed", "other host",
        "link", "preflight", "preflight skipped",
    ],
)  # fmt: skip
def test_check_mode_fails_where_the_apply_would_refuse(fleet: Fleet, case: str) -> None:
    """--check predicts the real run: for every refusal of tlsc apply (a plan that weakens
    TLS, a reviewed plan that no longer holds, a pre-flight that finds the TLS files
    missing) check mode fails, with apply's own sentence for a saved plan and the
    pre-flight; where the apply goes through, check mode is ok."""
    args = ["-e", "tlsc_hosts=mx1"]
    if case.startswith("preflight"):  # STARTTLS on for mx1, its TLS files not there
        fleet.spec.write_text(
            spec_text(HOSTS).replace(
                "  mx1: {fqdn: mx1.example.net, address: 127.0.0.1}\n",
                "  mx1: {fqdn: mx1.example.net, address: 127.0.0.1, tls: {enabled: true,"
                " server_cert: /etc/mail/tls/mx1.crt, server_key: /etc/mail/tls/mx1.key,"
                " ca_cert: /etc/mail/tls/ca.crt}}\n",
            )
        )
        if case == "preflight skipped":
            fleet.host_vars("mx1", tlsc_apply_args=["--no-verify", "--skip-preflight"])
    if case.startswith("downgrade"):
        rc, _, err = run_cli(
            "apply", fleet.spec, "--root", fleet.root("mx1"), "--host", "mx1", "--yes",
            "--no-verify", "--backup-dir", fleet.home("mx1") / "backups",
        )  # fmt: skip
        assert rc == 0, err
        fleet.spec.write_text(spec_text(HOSTS, level="may"))
        if case == "downgrade allowed":
            fleet.host_vars("mx1", tlsc_apply_args=["--no-verify", "--allow-downgrade"])
    else:
        plans = fleet.scratch / "plans"
        plans.mkdir()
        planned = "mx2" if case == "other host" else "mx1"
        mail = fleet.root("mx1") / "etc/mail"
        if case == "link":  # access is a link; it leads to another file of the same bytes later
            mail.mkdir(parents=True)
            for name in ("access.a", "access.b"):
                (mail / name).write_text("Connect:10\tRELAY\n")
            (mail / "access").symlink_to("access.a")
        rc, _, err = run_cli(
            "plan", fleet.spec, "--root", fleet.root(planned), "--host", planned,
            "--out", plans / "mx1.plan",
        )  # fmt: skip
        assert rc == 0, err
        args += ["-e", f"tlsc_plan_dir={plans}"]
        if case == "drifted":
            mail.mkdir(parents=True)
            (mail / "access").write_text("Connect:10\tRELAY\n")
        if case == "link":
            (mail / "access").unlink()
            (mail / "access").symlink_to("access.b")
        if case == "spec changed":
            fleet.spec.write_text(fleet.spec.read_text() + "# edited\n")
    before = _tree(fleet.root("mx1"))
    check, lines = fleet.run(*args, "--check", "--diff")
    (planned_result,) = [x for x in lines if x["task"].startswith("Apply")]
    assert _tree(fleet.root("mx1")) == before  # check mode wrote nothing managed
    # nor the spec or plan where the host keeps them (those of its last rollout)
    home = fleet.home("mx1")
    assert [p.name for p in home.iterdir() if p.is_file()] == []
    assert sorted(p.name for p in (home / ".check").iterdir()) == (
        ["cluster.yaml"] + (["mx1.plan"] if "tlsc_plan_dir" in args[-1] else [])
    )
    real, lines = fleet.run(*args)
    (applied,) = [x for x in lines if x["task"].startswith("Apply")]
    refused = case not in ("holds", "downgrade allowed", "preflight skipped")
    assert (real.returncode != 0) is refused, real.stdout[-3000:]
    assert (check.returncode != 0) is refused, check.stdout[-3000:]
    assert planned_result["status"] == ("failed" if refused else "ok")
    if not refused:
        assert planned_result["result"]["changed"] is True
        assert applied["result"]["result"] == "applied"
        return
    assert applied["result"]["result"] == "refused"
    assert planned_result["result"]["changed"] is False
    if case == "downgrade":
        assert "the plan weakens TLS (1 downgrade(s): P001)" in planned_result["result"]["msg"]
    else:
        # apply's sentence, naming the spec and plan as shipped for --check (DIR/.check/NAME)
        assert planned_result["result"]["msg"].replace("/.check/", "/") == applied["result"]["msg"]


@pytest.mark.parametrize("form", ["new directories", "blanks in paths"])
def test_the_rollout_reaches_its_paths_on_a_fresh_host(fleet: Fleet, form: str) -> None:
    """Where the spec, the saved plan and tlsc are on the host: directories that do not
    exist yet are made, a path with blanks is one argument, and the verify step runs the
    same tlsc the apply runs (tlsc_executable split like a shell word list)."""
    home = fleet.home("mx1") / ("new/er" if form == "new directories" else "a b")
    exe = fleet.scratch / "bin dir" / "tlsc"
    exe.parent.mkdir()
    exe.write_text(f'#!/bin/sh\nexec {TLSC} "$@"\n')
    exe.chmod(0o755)
    fleet.host_vars(
        "mx1",
        tlsc_spec_dest=str(home / "spec dir" / "cluster.yaml"),
        tlsc_plan_dest=str(home / "plans" / "mx1.plan"),
        tlsc_executable=f"'{exe}'",
        tlsc_verify=True,  # nothing listens on mx1's port 25 here: the step fails
    )
    plans = fleet.scratch / "plans"
    plans.mkdir()
    rc, _, err = run_cli(
        "plan", fleet.spec, "--root", fleet.root("mx1"), "--host", "mx1",
        "--out", plans / "mx1.plan",
    )  # fmt: skip
    assert rc == 0, err
    proc, lines = fleet.run("-e", "tlsc_hosts=mx1", "-e", f"tlsc_plan_dir={plans}")
    (applied,) = [x["result"] for x in lines if x["task"].startswith("Apply")]
    assert applied["result"] == "applied", (applied.get("msg"), proc.stdout[-3000:])
    assert applied["cmd"][0] == str(exe)
    (verified,) = [x["result"] for x in lines if x["task"].startswith("Verify")]
    assert verified["cmd"][:4] == [
        str(exe),
        "verify",
        str(home / "spec dir" / "cluster.yaml"),
        "--host",
    ]
    assert "No such file" not in str(verified.get("msg")), verified


@pytest.mark.parametrize("dest", ["kept", "renamed"])
def test_the_spec_keeps_its_name_on_the_host(fleet: Fleet, dest: str) -> None:
    """tlsc writes the spec's file name into every file (its header): a spec named
    colo.yaml on the controller is colo.yaml on the host, so the reviewed plan (made from
    colo.yaml) applies and --check shows its bytes; a tlsc_spec_dest of another name is
    refused before anything is written."""
    colo = fleet.spec.rename(fleet.scratch / "colo.yaml")
    fleet.inv.write_text("plugin: tlsc.sendmail.spec\nspec: ../colo.yaml\n")
    home = fleet.home("mx1")
    # (not the default /etc/tlsc/colo.yaml: this machine's /etc is not the test's)
    fleet.host_vars(
        "mx1", tlsc_spec_dest=str(home / f"{'cluster' if dest == 'renamed' else 'colo'}.yaml")
    )
    plans = fleet.scratch / "plans"
    plans.mkdir()
    rc, _, err = run_cli(
        "plan", colo, "--root", fleet.root("mx1"), "--host", "mx1", "--out", plans / "mx1.plan"
    )
    assert rc == 0, err
    args = ("-e", "tlsc_hosts=mx1", "-e", f"tlsc_plan_dir={plans}")
    if dest == "renamed":
        proc, lines = fleet.run(*args)
        assert proc.returncode != 0
        (failed,) = [x for x in lines if x["status"] == "failed"]
        assert "renames the spec colo.yaml" in failed["result"]["msg"]
        assert fleet.reached() == []
        return
    planned = json.loads((plans / "mx1.plan").read_text())["hosts"][0]["files"]
    check, lines = fleet.run(*args, "--check", "--diff")
    assert check.returncode == 0, check.stdout[-3000:]
    (preview,) = [x["result"] for x in lines if x["task"].startswith("Apply")]
    assert [f["after_sha256"] for f in preview["files"]] == [f["after_sha256"] for f in planned]
    proc, lines = fleet.run(*args)
    assert proc.returncode == 0, proc.stdout[-3000:]
    (applied,) = [x["result"] for x in lines if x["task"].startswith("Apply")]
    assert applied["result"] == "applied" and (home / "colo.yaml").exists()
    assert (
        b"Generated by tlsc from colo.yaml" in (fleet.root("mx1") / "etc/mail/access").read_bytes()
    )


@pytest.mark.parametrize(
    ("tlsc", "says"),
    [
        ("", "tlsc is empty"),
        ("   ", "tlsc is empty"),
        ("'/opt/tlsc/bin/tlsc", "is not a shell word list: No closing quotation"),
        ("/no/such/tlsc", "tlsc: /no/such/tlsc is not an executable on this host"),
        ("no-such-tlsc-here", "tlsc: no-such-tlsc-here is not an executable on this host"),
        (".", "tlsc: . is not an executable on this host"),
    ],
)
@pytest.mark.parametrize("mode", ["apply", "check"])
def test_a_tlsc_the_module_cannot_run_is_one_sentence(
    fleet: Fleet, tlsc: str, says: str, mode: str
) -> None:
    """O(tlsc) that names no executable of the host fails the task with a sentence that
    says so, in both modes, and nothing is written (not "Error executing command", not a
    module traceback)."""
    play = fleet.scratch / "one.yml"
    task = {"tlsc.sendmail.apply": {"spec": str(fleet.spec), "host": "mx1", "tlsc": tlsc}}
    task["tlsc.sendmail.apply"]["root"] = str(fleet.root("mx1"))
    play.write_text(json.dumps([{"hosts": "mx1", "gather_facts": False, "tasks": [task]}]))
    proc, lines = playbook(
        "-i", fleet.inv, play, *(["--check"] if mode == "check" else []), scratch=fleet.scratch
    )
    assert proc.returncode != 0
    (result,) = [x["result"] for x in lines]
    assert says in result["msg"] and "\n" not in result["msg"], result
    assert "module_stderr" not in result and "Traceback" not in json.dumps(result), result
    assert fleet.reached() == []
