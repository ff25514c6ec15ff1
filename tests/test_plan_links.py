"""tlsc plan --root on a host whose files are symbolic links: the P109 note, the hashes of
the files the links lead to, and the links a saved plan keeps for apply to check."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import run_cli
from plan_helpers import SPEC, compile_to, host, write

from compiler.plan.make import PlanRequest, make_plan
from compiler.plan.saved import (
    SavedPlanError,
    check_links,
    load_saved_plan,
    parse_saved_plan,
    saved_document,
    write_saved_plan,
)

CHANGED = SPEC.replace(
    "other.example.org: {outbound: encrypt}", "other.example.org: {outbound: verify}"
)
TLS_OFF = SPEC.replace(
    "mx1: {fqdn: mx1.example.net}", "mx1: {fqdn: mx1.example.net, tls: {enabled: false}}"
)


def linked_root(tmp_path: Path) -> Path:
    """mx1's compiled files, with access and sendmail.mc moved to shared/ behind links."""
    root = compile_to(SPEC, tmp_path / "state") / "mx1"
    mail = root / "etc/mail"
    (mail / "shared").mkdir()
    for name in ("access", "sendmail.mc"):
        (mail / name).rename(mail / "shared" / name)
        (mail / name).symlink_to(f"shared/{name}")
    return root


def test_plan_notes_a_link_it_writes_through(tmp_path: Path) -> None:
    root = linked_root(tmp_path)
    spec = write(tmp_path / "cluster.yaml", CHANGED)
    plan = make_plan(PlanRequest(str(spec), root=str(root), hosts=["mx1"]))
    mx1 = host(plan, "mx1")
    notes = [(w.code, w.path, w.message) for w in mx1.warnings if w.code == "P109"]
    # sendmail.mc is a link too, but unchanged: no note, as nothing is written there
    assert notes == [
        (
            "P109",
            "/etc/mail/access",
            "/etc/mail/access is a symbolic link to /etc/mail/shared/access;"
            " apply writes /etc/mail/shared/access and keeps the link",
        )
    ]
    assert mx1.links == {
        "/etc/mail/access": "/etc/mail/shared/access",
        "/etc/mail/sendmail.mc": "/etc/mail/shared/sendmail.mc",
    }
    target = (root / "etc/mail/shared/access").read_bytes()
    access = next(f for f in mx1.files if f.path == "/etc/mail/access")
    assert access.before_sha256 == hashlib.sha256(target).hexdigest()
    # the JSON plan keeps its documented shape; a saved plan adds the links
    assert "links" not in plan.to_json()["hosts"][0]
    assert saved_document(plan)["hosts"][0]["links"] == mx1.links
    # both formats show the note
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "mx1")
    assert rc == 0, err
    assert "P109 /etc/mail/access is a symbolic link to /etc/mail/shared/access" in out
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "mx1", "--format", "json")
    assert rc == 0, err
    codes = [w["code"] for w in json.loads(out)["hosts"][0]["warnings"]]
    assert "P109" in codes


def test_tls_off_leaves_a_linked_starttls_m4_alone(tmp_path: Path) -> None:
    root = compile_to(SPEC, tmp_path / "state") / "mx1"
    tls = root / "etc/mail/tls"
    (tls / "starttls.m4").rename(tls / "starttls.m4.real")
    (tls / "starttls.m4").symlink_to("starttls.m4.real")
    spec = write(tmp_path / "cluster.yaml", TLS_OFF)
    mx1 = host(make_plan(PlanRequest(str(spec), root=str(root), hosts=["mx1"])), "mx1")
    # nothing is deleted, through a link or not: the unused file stays (P110)
    assert [w.path for w in mx1.warnings if w.code in ("P110", "P109")] == [
        "/etc/mail/tls/starttls.m4"
    ]
    assert [f.action for f in mx1.files if f.path.endswith("starttls.m4")] == ["unchanged"]


def test_state_and_base_plans_record_no_links(tmp_path: Path) -> None:
    state = compile_to(SPEC, tmp_path / "state")
    spec = write(tmp_path / "cluster.yaml", CHANGED)
    plan = make_plan(PlanRequest(str(spec), state=str(state)))
    assert all(h.links is None for h in plan.hosts)
    out = tmp_path / "plan.json"
    write_saved_plan(plan, out)
    saved = load_saved_plan(out)
    assert saved.links == {}
    assert check_links(saved, "mx1", {"/etc/mail/access": "/elsewhere"}) == []


def test_check_links_says_how_a_link_changed(tmp_path: Path) -> None:
    root = linked_root(tmp_path)
    spec = write(tmp_path / "cluster.yaml", CHANGED)
    out = tmp_path / "plan.json"
    write_saved_plan(make_plan(PlanRequest(str(spec), root=str(root), hosts=["mx1"])), out)
    saved = load_saved_plan(out)
    then = {
        "/etc/mail/access": "/etc/mail/shared/access",
        "/etc/mail/sendmail.mc": "/etc/mail/shared/sendmail.mc",
    }
    assert saved.links == {"mx1": then}
    assert check_links(saved, "mx1", then) == []
    now = {
        "/etc/mail/access": "/etc/mail/other/access",
        "/etc/mail/access.db": "/var/db/access.db",
    }
    assert check_links(saved, "mx1", now) == [
        "/etc/mail/access on mx1 is a symbolic link to /etc/mail/other/access now, to"
        " /etc/mail/shared/access when the plan was made; make a new plan",
        "/etc/mail/access.db on mx1 became a symbolic link to /var/db/access.db since the plan"
        " was made; make a new plan",
        "/etc/mail/sendmail.mc on mx1 is no longer a symbolic link (it led to"
        " /etc/mail/shared/sendmail.mc when the plan was made); make a new plan",
    ]


@pytest.mark.parametrize("links", [[], {"/etc/mail/access": 3}])
def test_a_saved_plan_with_mistyped_links_is_refused(tmp_path: Path, links: object) -> None:
    root = linked_root(tmp_path)
    spec = write(tmp_path / "cluster.yaml", CHANGED)
    doc = saved_document(make_plan(PlanRequest(str(spec), root=str(root), hosts=["mx1"])))
    doc["hosts"][0]["links"] = links
    with pytest.raises(SavedPlanError, match="'links'"):
        parse_saved_plan(doc)


@pytest.mark.parametrize("action", ["unchanged", "create", "delete", "update", "renamed"])
def test_a_saved_plan_whose_action_its_hashes_deny_is_refused(tmp_path: Path, action: str) -> None:
    """tlsc plan writes each file's action with its two hashes; apply goes by the
    hashes, so an action edited (`unchanged` over an update) would hide a write from a
    reader of the plan: refused, naming the file. The plan as written is taken."""
    root = linked_root(tmp_path)
    spec = write(tmp_path / "cluster.yaml", CHANGED)
    doc = saved_document(make_plan(PlanRequest(str(spec), root=str(root), hosts=["mx1"])))
    parse_saved_plan(doc)  # as written: consistent
    files = doc["hosts"][0]["files"]
    target = next(f for f in files if f["action"] == "update")
    if action == "update":  # an update whose two hashes are the same
        target["after_sha256"] = target["before_sha256"]
    else:
        target["action"] = action
    with pytest.raises(SavedPlanError, match=f"{target['path']} is '{target['action']}' but"):
        parse_saved_plan(doc)
