"""compiler/plan/planner.py and make.py: plans against real trees on disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from plan_helpers import SPEC, actions, compile_to, host, plan_state, write

from compiler.plan.make import PlanRequest, make_plan
from compiler.plan.observe import ObserveError
from compiler.plan.planner import PlanError

ACCESS = "/etc/mail/access"
MC = "/etc/mail/sendmail.mc"
TLS = "/etc/mail/tls/starttls.m4"


def test_same_spec_is_unchanged_everywhere(tmp_path: Path) -> None:
    plan = plan_state(tmp_path, SPEC, SPEC)
    assert plan.changes == 0
    for h in plan.hosts:
        assert set(actions(h).values()) == {"unchanged"}
        assert all(f.diff == "" and f.before_sha256 == f.after_sha256 for f in h.files)
        assert h.actions == [] and h.warnings == [] and not h.access


def test_host_missing_from_the_state_tree_is_created(tmp_path: Path) -> None:
    spec = write(tmp_path / "cluster.yaml", SPEC)
    state = tmp_path / "state"
    state.mkdir()
    plan = make_plan(PlanRequest(str(spec), state=str(state), hosts=["mx1"]))
    (mx1,) = plan.hosts
    assert actions(mx1) == {ACCESS: "create", MC: "create", TLS: "create"}
    for f in mx1.files:
        assert f.before_sha256 is None and f.after_sha256 is not None
        assert f.diff.startswith(f"--- /dev/null\n+++ b{f.path}\n@@ -0,0 +1,")
    assert [e.key for e in mx1.access.added][:1] == ["Connect:127"]
    assert [a.action for a in mx1.actions] == [
        "rebuild_access_db",
        "rebuild_sendmail_cf",
        "restart",
    ]
    assert [w.code for w in mx1.warnings] == ["P108"]


def test_rule_change_updates_the_access_file_and_rebuilds_only_the_map(tmp_path: Path) -> None:
    new = SPEC.replace(
        "other.example.org: {outbound: encrypt}", "other.example.org: {outbound: verify}"
    )
    plan = plan_state(tmp_path, SPEC, new)
    mx1 = host(plan, "mx1")
    assert actions(mx1) == {ACCESS: "update", MC: "unchanged", TLS: "unchanged"}
    (change,) = [f for f in mx1.files if f.action == "update"]
    assert (
        "-TLS_Srv:other.example.org\tENCR:128\n+TLS_Srv:other.example.org\tVERIFY\n" in change.diff
    )
    assert change.before_sha256 != change.after_sha256
    state_file = tmp_path / "state" / "mx1" / "etc/mail/access"
    assert change.before_sha256 == hashlib.sha256(state_file.read_bytes()).hexdigest()
    assert mx1.access.to_json()["changed"] == [
        {"key": "TLS_Srv:other.example.org", "old": "ENCR:128", "new": "VERIFY"}
    ]
    assert [a.action for a in mx1.actions] == ["rebuild_access_db"]
    assert not mx1.warnings
    relay = host(plan, "relay1")
    assert [a.action for a in relay.actions] == ["rebuild_access_db", "run_after"]
    assert relay.actions[-1].command == "make -C /etc/mail"


def test_tls_switched_off_leaves_starttls_m4_alone(tmp_path: Path) -> None:
    """The include leaves the .mc (P003: the built .cf loses STARTTLS); the file it
    named is no longer used and is never deleted (P110): a distribution's scripts
    (Debian's update_tls) would only make it again."""
    new = SPEC.replace(
        "mx2: {fqdn: mx2.example.net}", "mx2: {fqdn: mx2.example.net, tls: {enabled: false}}"
    )
    mx2 = host(plan_state(tmp_path, SPEC, new), "mx2")
    assert actions(mx2) == {ACCESS: "unchanged", MC: "update", TLS: "unchanged"}
    assert [a.action for a in mx2.actions] == ["rebuild_sendmail_cf", "restart"]
    assert [w.code for w in mx2.warnings] == ["P110", "P003"]


def test_restart_null_warns_that_sendmail_keeps_old_settings(tmp_path: Path) -> None:
    new = SPEC.replace("version: 1\n", "version: 1\ndefaults:\n  commands: {restart: null}\n")
    new = new.replace("FEATURE", "")
    old = SPEC.replace("cluster: test", "cluster: other")  # VERSIONID line differs
    mx1 = host(plan_state(tmp_path, old, new), "mx1")
    assert [a.action for a in mx1.actions] == ["rebuild_sendmail_cf"]
    assert "P106" in [w.code for w in mx1.warnings]


def block_spec() -> str:
    return SPEC.replace("version: 1\n", "version: 1\ndefaults:\n  ownership: block\n")


def test_block_ownership_keeps_other_lines_and_replaces_the_block(tmp_path: Path) -> None:
    state = compile_to(block_spec(), tmp_path / "state")
    path = state / "mx1/etc/mail/access"
    block = path.read_text()
    write(path, "From:spam.example\tREJECT\n" + block.replace("RELAY", "OK") + "# theirs\n")
    new = block_spec().replace("other.example.org: {outbound: encrypt}", "")
    spec = write(tmp_path / "cluster.yaml", new)
    mx1 = host(make_plan(PlanRequest(str(spec), state=str(state))), "mx1")
    change = next(f for f in mx1.files if f.path == ACCESS)
    assert change.action == "update"
    lines = change.diff.splitlines()
    assert "-Connect:127\tOK" in lines and "+Connect:127\tRELAY" in lines
    assert "-TLS_Srv:other.example.org\tENCR:128" in lines
    assert not any(line[1:].startswith(("From:", "# theirs")) for line in lines if line[:1] in "+-")
    assert lines[2].startswith("@@ -4,")  # line 1 (theirs) untouched
    assert [w.code for w in mx1.warnings] == ["P001"]


def test_block_ownership_appends_a_block_to_a_foreign_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    write(state / "mx1/etc/mail/access", "Connect:10\tRELAY")  # no final newline
    spec = write(tmp_path / "cluster.yaml", block_spec())
    mx1 = host(make_plan(PlanRequest(str(spec), state=str(state), hosts=["mx1"])), "mx1")
    change = next(f for f in mx1.files if f.path == ACCESS)
    assert change.diff.splitlines()[3:6] == [
        "-Connect:10\tRELAY",
        "\\ No newline at end of file",
        "+Connect:10\tRELAY",
    ]
    assert "+# BEGIN tlsc" in change.diff and "P105" in [w.code for w in mx1.warnings]


def test_block_ownership_refuses_broken_markers(tmp_path: Path) -> None:
    state = tmp_path / "state"
    write(state / "mx1/etc/mail/access", "# BEGIN tlsc\nConnect:10\tRELAY\n")
    spec = write(tmp_path / "cluster.yaml", block_spec())
    with pytest.raises(PlanError, match=r"line 1 but no '# END tlsc'"):
        make_plan(PlanRequest(str(spec), state=str(state), hosts=["mx1"]))


def test_root_reads_one_host_and_warns_about_foreign_files(tmp_path: Path) -> None:
    spec = write(tmp_path / "cluster.yaml", SPEC)
    root = tmp_path / "root"
    write(root / "etc/mail/sendmail.mc", "divert(0)dnl\nMAILER(`smtp')dnl\n")
    plan = make_plan(PlanRequest(str(spec), root=str(root), hosts=["mx2"]))
    (mx2,) = plan.hosts
    assert plan.observed.kind == "root"
    assert actions(mx2) == {ACCESS: "create", MC: "update", TLS: "create"}
    # and no certificate is installed under root: one P005 for each the spec names
    assert [w.code for w in mx2.warnings] == ["P101", "P005", "P005", "P005"]


def test_root_needs_exactly_one_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write(tmp_path / "cluster.yaml", SPEC)
    with pytest.raises(PlanError, match="give one --host"):
        make_plan(PlanRequest(str(spec), root=str(tmp_path), hosts=["mx1", "mx2"]))
    monkeypatch.setattr("compiler.localhost.machine_names", lambda: ["nowhere"])
    with pytest.raises(PlanError, match="matches no host"):
        make_plan(PlanRequest(str(spec), root=str(tmp_path)))
    monkeypatch.setattr("compiler.localhost.machine_names", lambda: ["mx2.example.net"])
    assert make_plan(PlanRequest(str(spec), root=str(tmp_path))).hosts[0].host == "mx2"


def test_secret_and_binary_files_are_never_shown(tmp_path: Path) -> None:
    state = compile_to(SPEC, tmp_path / "state")
    key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n"
    write(state / "mx1/etc/mail/tls/starttls.m4", key)
    (state / "mx2/etc/mail/access").write_bytes(b"Connect:1\tOK\n\0\0")
    spec = write(tmp_path / "cluster.yaml", SPEC)
    plan = make_plan(PlanRequest(str(spec), state=str(state)))
    mx1, mx2 = host(plan, "mx1"), host(plan, "mx2")
    tls = next(f for f in mx1.files if f.path == TLS)
    assert tls.action == "update" and tls.diff == "" and tls.before_sha256
    assert "MIIEvQ" not in repr(plan.to_json())
    assert [w.code for w in mx1.warnings] == ["P103"]
    assert [w.code for w in mx2.warnings] == ["P102"]


def test_latin1_file_is_diffed_with_replacement_characters(tmp_path: Path) -> None:
    state = compile_to(SPEC, tmp_path / "state")
    access = state / "mx1/etc/mail/access"
    access.write_bytes(access.read_bytes() + "# Zürich\n".encode("latin-1"))
    spec = write(tmp_path / "cluster.yaml", SPEC)
    mx1 = host(make_plan(PlanRequest(str(spec), state=str(state), hosts=["mx1"])), "mx1")
    change = next(f for f in mx1.files if f.path == ACCESS)
    assert "-# Z\ufffdrich" in change.diff
    assert [w.code for w in mx1.warnings] == ["P104"]


def test_bad_sources_are_one_sentence_errors(tmp_path: Path) -> None:
    spec = write(tmp_path / "cluster.yaml", SPEC)
    with pytest.raises(ObserveError, match="does not exist"):
        make_plan(PlanRequest(str(spec), state=str(tmp_path / "nope")))
    with pytest.raises(PlanError, match="cannot be combined"):
        make_plan(PlanRequest(str(spec), state=str(tmp_path), base="HEAD"))
    with pytest.raises(PlanError, match="no host named 'mx9'"):
        make_plan(PlanRequest(str(spec), state=str(tmp_path), hosts=["mx9"]))
    (tmp_path / "state/mx1/etc/mail/access").mkdir(parents=True)
    with pytest.raises(ObserveError, match="is a directory"):
        make_plan(PlanRequest(str(spec), state=str(tmp_path / "state"), hosts=["mx1"]))
