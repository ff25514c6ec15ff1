"""compiler/plan/saved.py: --out files and the drift check apply runs on them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import run_cli
from plan_helpers import SPEC, compile_to, write

from compiler.plan.desired import managed_paths
from compiler.plan.make import PlanRequest, make_plan
from compiler.plan.observe import read_tree
from compiler.plan.saved import (
    SavedPlanError,
    check_drift,
    load_saved_plan,
    spec_changed,
    write_saved_plan,
)

CHANGED = SPEC.replace(
    "other.example.org: {outbound: encrypt}", "other.example.org: {outbound: verify}"
)


def saved(tmp_path: Path) -> tuple[Path, Path, Path]:
    spec = write(tmp_path / "cluster.yaml", CHANGED)
    state = compile_to(SPEC, tmp_path / "state")
    (state / "mx2").rename(tmp_path / "gone")  # mx2: every file to create
    out = tmp_path / "plan.json"
    write_saved_plan(make_plan(PlanRequest(str(spec), state=str(state))), out)
    return spec, state, out


def observed(state: Path, host: str) -> dict[str, dict[str, bytes | None]]:
    paths = ["/etc/mail/access", "/etc/mail/sendmail.mc", "/etc/mail/tls/starttls.m4"]
    return {host: read_tree(state / host, paths)}


def test_saved_plan_records_spec_and_file_hashes(tmp_path: Path) -> None:
    spec, state, out = saved(tmp_path)
    plan = load_saved_plan(out)
    assert plan.spec_sha256 == hashlib.sha256(spec.read_bytes()).hexdigest()
    assert not spec_changed(plan, spec.read_bytes())
    assert spec_changed(plan, spec.read_bytes() + b"# edited\n")
    assert (plan.observed_kind, plan.observed_location) == ("state", str(state))
    access = {f.path: f for f in plan.hosts["mx1"]}["/etc/mail/access"]
    on_disk = (state / "mx1/etc/mail/access").read_bytes()
    assert access.before_sha256 == hashlib.sha256(on_disk).hexdigest()
    assert access.after_sha256 != access.before_sha256
    assert all(f.before_sha256 is None for f in plan.hosts["mx2"])
    doc = json.loads(out.read_text())
    assert doc["kind"] == "tlsc-saved-plan" and doc["version"] == 1
    assert doc["changes"] == plan.document["changes"] and doc["hosts"][0]["files"][0]["diff"]


def test_no_drift_when_nothing_moved(tmp_path: Path) -> None:
    _, state, out = saved(tmp_path)
    plan = load_saved_plan(out)
    assert check_drift(plan, {**observed(state, "mx1"), **observed(state, "mx2")}) == []


def test_a_changed_file_is_drift(tmp_path: Path) -> None:
    _, state, out = saved(tmp_path)
    access = state / "mx1/etc/mail/access"
    access.write_bytes(access.read_bytes() + b"Connect:10\tRELAY\n")
    (drift,) = check_drift(load_saved_plan(out), observed(state, "mx1"))
    assert (drift.host, drift.path) == ("mx1", "/etc/mail/access")
    assert drift.message() == (
        "/etc/mail/access on mx1 changed since the plan was made; make a new plan"
    )


def test_a_deleted_or_new_file_is_drift(tmp_path: Path) -> None:
    _, state, out = saved(tmp_path)
    (state / "mx1/etc/mail/sendmail.mc").unlink()
    write(state / "mx2/etc/mail/access", "Connect:10\tRELAY\n")
    drifted = check_drift(
        load_saved_plan(out), {**observed(state, "mx1"), **observed(state, "mx2")}
    )
    assert [(d.host, d.path, d.message().split(" since")[0]) for d in drifted] == [
        ("mx1", "/etc/mail/sendmail.mc", "/etc/mail/sendmail.mc on mx1 is gone"),
        ("mx2", "/etc/mail/access", "/etc/mail/access on mx2 now exists"),
    ]


def test_managed_paths_are_what_the_plan_lists(tmp_path: Path) -> None:
    spec, _, out = saved(tmp_path)
    from compiler.plan.desired import desired_from_file

    desired = desired_from_file(spec)
    assert not isinstance(desired, list)
    plan = load_saved_plan(out)
    assert [f.path for f in plan.hosts["mx1"]] == list(managed_paths(desired.config("mx1")))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not JSON"),
        ('{"kind": "other"}', "not a tlsc saved plan"),
        ('{"kind": "tlsc-saved-plan", "version": 9}', "version 9 plan"),
        ('{"kind": "tlsc-saved-plan", "version": 1, "spec": {}}', "'observed' is missing"),
        ("[" * 100_000, "nested too deeply"),
        ('{"kind": "tlsc-saved-plan", "version": true}', "'version' is missing or wrong"),
        ('{"kind": "tlsc-saved-plan", "version": ' + "1" * 5000 + "}", "far too long"),
    ],
)
def test_bad_plan_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path / "plan.json", content)
    with pytest.raises(SavedPlanError, match=message):
        load_saved_plan(path)
    with pytest.raises(SavedPlanError, match="cannot read"):
        load_saved_plan(tmp_path / "missing.json")


def test_saved_plan_temp_file_is_never_written_through_a_symlink(tmp_path: Path) -> None:
    victim = write(tmp_path / "victim", "precious\n")
    out = tmp_path / "plan.json"
    (tmp_path / "plan.json.tlsc-tmp").symlink_to(victim)
    spec = write(tmp_path / "cluster.yaml", CHANGED)
    state = compile_to(SPEC, tmp_path / "state")
    write_saved_plan(make_plan(PlanRequest(str(spec), state=str(state))), out)
    assert victim.read_text() == "precious\n"
    assert load_saved_plan(out).spec == str(spec)
    assert not (tmp_path / "plan.json.tlsc-tmp").exists()


# -- --out never replaces a file the plan was made from -----------------------------------

FILES_SPEC = CHANGED.replace("access:\n", "access:\n  - file: block.access\n", 1)


@pytest.mark.parametrize(
    ("source", "out", "what"),
    [
        ("state", "cluster.yaml", "the spec"),
        ("state", "link.yaml", "the spec"),
        ("state", "block.access", "an access file the spec names"),
        ("state", "state/mx1/etc/mail/access", "mx1's /etc/mail/access"),
        ("state", "state/mx1/etc/mail/tls/starttls.m4", "mx1's /etc/mail/tls/starttls.m4"),
        ("root", "state/mx1/etc/mail/sendmail.mc", "mx1's /etc/mail/sendmail.mc"),
        ("logs", "mail.log", "a log the plan reads"),
    ],
    ids=["spec", "link-to-spec", "access-file", "state-access", "state-m4", "root-mc", "log"],
)  # fmt: skip
def test_out_onto_an_input_is_refused(tmp_path: Path, source: str, out: str, what: str) -> None:
    spec = write(tmp_path / "cluster.yaml", FILES_SPEC)
    write(tmp_path / "block.access", "Connect:10.1.1.1\tREJECT\n")
    write(tmp_path / "mail.log", "Nov 28 10:00:01 mx1 sm-mta[1]: x: from=<a@b>\n")
    (tmp_path / "link.yaml").symlink_to("cluster.yaml")
    state = compile_to(SPEC, tmp_path / "state")
    args = ["plan", spec, "--out", tmp_path / out]
    if source == "root":
        args += ["--root", state / "mx1", "--host", "mx1"]
    else:
        args += ["--state", state]
    if source == "logs":
        args += ["--logs", tmp_path / "mail.log"]
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    rc, stdout, err = run_cli(*args)
    assert rc == 1 and stdout == "" and "Traceback" not in err
    sentence = f"cannot write the plan to {tmp_path / out}: it is {what}; nothing was written"
    assert err == f"tlsc plan: {sentence}\n"
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
