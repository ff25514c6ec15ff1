"""tlsc apply on a host whose managed files are symbolic links that stay inside --root.

The link stays as the admin made it and the file it leads to is what apply
writes (atomically, in that file's directory, keeping its owner, group and
mode), backs up and restores; access.db and sendmail.cf likewise, since
sendmail opens them through the link. Chains and dangling links are
followed; a loop, or a link out of the root, is refused before anything is
written. Real m4 and makemap, --no-verify (no daemon)."""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apply_helpers import apply_json, db_dump, scratch_root
from conftest import cli_command, cli_env, run_cli
from realtools import scratch_dir

pytestmark = pytest.mark.realtools

SPEC = """\
version: 1
cluster: links
defaults:
  commands: {{restart: "{restart}"}}
  mc: {{defines: {{confTO_IDENT: "{ident}"}}}}
hosts:
  h1: {{fqdn: h1.example.net, address: 127.0.0.1}}
domains:
  secure.example.com: {{outbound: {level}}}
access:
  - Connect:127 RELAY
"""


@pytest.fixture
def root() -> Iterator[Path]:
    with scratch_root("apply-links") as path:
        yield path


def spec(
    root: Path, level: str = "encrypt", ident: str = "5s", restart: str = "echo restart >> log"
) -> Path:
    path = root.parent / f"{root.name}-spec.yaml"
    path.write_text(SPEC.format(level=level, ident=ident, restart=restart), encoding="utf-8")
    return path


def plan_json(spec_path: Path, root: Path, *args: str) -> dict[str, Any]:
    rc, out, err = run_cli(
        "plan", spec_path, "--root", root, "--host", "h1", "--format", "json", *args
    )
    assert rc == 0, err
    host: dict[str, Any] = json.loads(out)["hosts"][0]
    return host


def relink(root: Path, path: str, target: str, link_text: str, mode: int | None = None) -> Path:
    """Move root/path to root/target and leave a link with `link_text` in its place."""
    at, end = root / path, root / target
    end.parent.mkdir(parents=True, exist_ok=True)
    at.rename(end)
    if mode is not None:
        end.chmod(mode)
    at.symlink_to(link_text)
    return end


def leftovers(*directories: Path) -> list[Path]:
    return [p for d in directories for p in d.iterdir() if "tlsc-new" in p.name]


def test_apply_writes_through_links_and_keeps_them(root: Path) -> None:
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    mail = root / "etc/mail"
    shared = relink(root, "etc/mail/access", "etc/mail/shared/access", "shared/access", 0o600)
    site_db = relink(root, "etc/mail/access.db", "etc/site/access.db", "../site/access.db")
    old_access = shared.read_bytes()
    s = spec(root, level="verify")

    # the plan names both links and the files apply writes
    host = plan_json(s, root)
    notes = {w["path"]: w["message"] for w in host["warnings"] if w["code"] == "P109"}
    assert notes == {
        "/etc/mail/access": "/etc/mail/access is a symbolic link to /etc/mail/shared/access;"
        " apply writes /etc/mail/shared/access and keeps the link",
        "/etc/mail/access.db": "/etc/mail/access.db is a symbolic link to /etc/site/access.db;"
        " apply writes /etc/site/access.db and keeps the link",
    }
    # the observed hash is the target's
    access_entry = next(f for f in host["files"] if f["path"] == "/etc/mail/access")
    assert access_entry["action"] == "update"
    assert access_entry["before_sha256"] == hashlib.sha256(old_access).hexdigest()
    rc, text, _ = run_cli("plan", s, "--root", root, "--host", "h1")
    assert rc == 0 and "P109" in text and "/etc/mail/shared/access" in text

    rc, report, _ = apply_json(s, root, "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", report["message"]
    assert os.readlink(mail / "access") == "shared/access"
    assert os.readlink(mail / "access.db") == "../site/access.db"
    assert b"TLS_Srv:secure.example.com\tVERIFY" in shared.read_bytes()
    assert shared.stat().st_mode & 0o777 == 0o600
    assert "tls_srv:secure.example.com\tVERIFY" in db_dump(site_db)
    assert leftovers(mail, shared.parent, site_db.parent) == []
    # the backup holds the target's old bytes under the link's host path
    backup = Path(report["backup"])
    assert (backup / "files/etc/mail/access").read_bytes() == old_access
    # and nothing is left to do
    rc, report, _ = apply_json(s, root, "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "unchanged", report["message"]


def test_rollback_restores_the_files_links_lead_to(root: Path) -> None:
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    mail = root / "etc/mail"
    shared = relink(root, "etc/mail/access", "etc/common/access", "../common/access", 0o604)
    db = relink(root, "etc/mail/access.db", "etc/common/access.db", "../common/access.db")
    mc = relink(root, "etc/mail/sendmail.mc", "etc/common/sendmail.mc", "../common/sendmail.mc")
    cf = relink(root, "etc/mail/sendmail.cf", "etc/common/sendmail.cf", "../common/sendmail.cf")
    files = (shared, db, mc, cf)
    before = {p: (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime_ns) for p in files}
    # a new define changes sendmail.mc and sendmail.cf, so the restart runs: it fails
    # once, and the rollback's restart succeeds
    once = "if [ -e failed ]; then true; else touch failed; echo no >&2; exit 3; fi"
    s = spec(root, level="verify", ident="0s", restart=once)
    rc, report, _ = apply_json(s, root, "--yes", "--no-verify")
    assert rc == 1 and report["result"] == "rolled-back", report["message"]
    assert report["message"].startswith("the restart command failed")
    names = {x["name"]: x["status"] for x in report["steps"]}
    assert names["write"] == names["build-cf"] == names["build-access"] == "ok"
    for link in ("access", "access.db", "sendmail.cf", "sendmail.mc"):
        assert (mail / link).is_symlink(), link
    for p, (data, mode, mtime) in before.items():
        assert (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime_ns) == (data, mode, mtime), p
    assert shared.stat().st_mode & 0o777 == 0o604
    assert leftovers(mail, shared.parent) == []


def test_a_chain_of_links_is_followed_to_its_end(root: Path) -> None:
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    end = relink(root, "etc/mail/access", "srv/mail/access", "hop1")
    (root / "etc/mail/hop1").symlink_to("../hop2")
    (root / "etc/hop2").symlink_to(root / "srv/mail/access")  # absolute, inside the root
    rc, report, _ = apply_json(spec(root, level="verify"), root, "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", report["message"]
    assert b"VERIFY" in end.read_bytes()
    assert [p.is_symlink() for p in (root / "etc/mail/access", root / "etc/hop2")] == [True, True]
    assert (root / "etc/mail/access").read_bytes() == end.read_bytes()


def test_a_dangling_link_gets_its_file_created(root: Path) -> None:
    mail = root / "etc/mail"
    mail.mkdir(parents=True)
    (mail / "access").symlink_to("../../common/new/access")
    host = plan_json(spec(root), root)
    assert [w["message"] for w in host["warnings"] if w["code"] == "P109"] == [
        "/etc/mail/access is a symbolic link to /common/new/access, which does not exist yet;"
        " apply creates /common/new/access and keeps the link"
    ]
    rc, report, _ = apply_json(spec(root), root, "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", report["message"]
    created = root / "common/new/access"
    assert (mail / "access").is_symlink() and created.is_file()
    assert created.stat().st_mode & 0o777 == 0o640
    assert b"Connect:127\tRELAY" in created.read_bytes()


def test_a_loop_of_links_is_refused_naming_the_path(root: Path) -> None:
    mail = root / "etc/mail"
    mail.mkdir(parents=True)
    (mail / "access").symlink_to("access.2")
    (mail / "access.2").symlink_to("access")
    rc, report, _ = apply_json(spec(root), root, "--yes", "--no-verify")
    assert rc == 1 and report["result"] == "refused"
    assert report["message"] == (
        f"{mail / 'access'} is a loop of symbolic links (or a chain of more than 40);"
        " nothing is read or written through it"
    )
    assert sorted(p.name for p in mail.iterdir()) == ["access", "access.2"]
    assert not (root / "var").exists()
    rc, _out, err = run_cli("plan", spec(root), "--root", root, "--host", "h1")
    assert rc == 1 and "is a loop of symbolic links" in err


def test_links_out_of_the_root_are_still_refused(root: Path) -> None:
    with scratch_dir("apply-links-outside") as outside:
        victim = outside / "access"
        victim.write_bytes(b"precious\n")
        mail = root / "etc/mail"
        mail.mkdir(parents=True)
        (mail / "access").symlink_to(victim)
        rc, report, _ = apply_json(spec(root), root, "--yes", "--no-verify")
        assert rc == 1 and report["result"] == "refused"
        assert report["message"] == (
            f"{mail / 'access'} leads out of {root} through a symbolic link;"
            " nothing there is read or written through it"
        )
        # out and back in again counts the same: a link outside is not the root's to trust
        (mail / "access").unlink()
        (outside / "hop").symlink_to(root / "etc/mail/real")
        (mail / "access").symlink_to(outside / "hop")
        rc, report, _ = apply_json(spec(root), root, "--yes", "--no-verify")
        assert rc == 1 and "leads out of" in report["message"]
        assert victim.read_bytes() == b"precious\n"
        assert sorted(p.name for p in outside.iterdir()) == ["access", "hop"]
        assert sorted(p.name for p in mail.iterdir()) == ["access"]


def test_a_saved_plan_is_refused_when_a_link_leads_elsewhere(root: Path) -> None:
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    mail = root / "etc/mail"
    shared = relink(root, "etc/mail/access", "etc/mail/shared/access", "shared/access")
    s = spec(root, level="verify")
    plan = root.parent / f"{root.name}-plan.json"
    rc, _out, err = run_cli("plan", s, "--root", root, "--host", "h1", "--out", plan)
    assert rc == 0, err
    assert json.loads(plan.read_text())["hosts"][0]["links"] == {
        "/etc/mail/access": "/etc/mail/shared/access"
    }
    # the file the link leads to drifted
    good = shared.read_bytes()
    shared.write_bytes(good + b"Connect:10.1.2.3\tREJECT\n")
    rc, report, _ = apply_json(s, root, "--plan", str(plan), "--yes", "--no-verify")
    assert rc == 1 and report["message"] == (
        f"refusing the plan {plan}: /etc/mail/access on h1 changed since the plan was made;"
        " make a new plan"
    )
    # the same bytes, but the link now leads to another file
    shared.write_bytes(good)
    other = mail / "other/access"
    other.parent.mkdir()
    other.write_bytes(good)
    (mail / "access").unlink()
    (mail / "access").symlink_to("other/access")
    rc, report, _ = apply_json(s, root, "--plan", str(plan), "--yes", "--no-verify")
    assert rc == 1 and report["message"] == (
        f"refusing the plan {plan}: /etc/mail/access on h1 is a symbolic link to"
        " /etc/mail/other/access now, to /etc/mail/shared/access when the plan was made;"
        " make a new plan"
    )
    assert other.read_bytes() == shared.read_bytes() == good
    # back as planned: applied through the link
    (mail / "access").unlink()
    (mail / "access").symlink_to("shared/access")
    rc, report, _ = apply_json(s, root, "--plan", str(plan), "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", report["message"]
    assert b"VERIFY" in shared.read_bytes() and other.read_bytes() == good


def test_kill_9_mid_write_leaves_the_link_and_a_whole_file(root: Path) -> None:
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    mail = root / "etc/mail"
    shared = relink(root, "etc/mail/access", "etc/common/access", "../common/access")
    old = shared.read_bytes()
    s = spec(root, level="verify")
    marker = root.parent / f"{root.name}-paused"
    pause = {"TLSC_APPLY_PAUSE_AT": "write.partial", "TLSC_APPLY_PAUSE_FILE": str(marker)}
    env = {**cli_env(), **pause}
    argv = cli_command(
        "apply", s, "--root", root, "--host", "h1", "--yes", "--no-verify", "--skip-preflight"
    )
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    marker.unlink()
    # /etc/mail/access is the first file written: wholly new, through the link
    assert (mail / "access").is_symlink() and shared.read_bytes() != old
    assert b"TLS_Srv:secure.example.com\tVERIFY" in shared.read_bytes()
    rc, report, _ = apply_json(s, root, "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", report["message"]
    assert (mail / "access").is_symlink() and b"VERIFY" in shared.read_bytes()
    assert leftovers(mail, shared.parent) == []


def test_a_file_gone_behind_its_link_comes_back_through_it(root: Path) -> None:
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    tls = root / "etc/mail/tls"
    end = relink(
        root, "etc/mail/tls/starttls.m4", "etc/common/starttls.m4", "../../common/starttls.m4"
    )
    tls_off = "h1.example.net, tls: {enabled: false}, address"
    text = spec(root).read_text().replace("h1.example.net, address", tls_off)
    off = root.parent / f"{root.name}-off.yaml"
    off.write_text(text, encoding="utf-8")
    rc, report, _ = apply_json(off, root, "--yes", "--no-verify", "--allow-downgrade")
    assert rc == 0 and report["result"] == "applied", report["message"]
    # STARTTLS off: the file no include names is left alone, link and all (P110)
    assert (tls / "starttls.m4").is_symlink() and end.exists()
    end.unlink()  # someone removes it: the dangling link stays for apply to write through
    rc, report, _ = apply_json(spec(root), root, "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", report["message"]
    assert (tls / "starttls.m4").is_symlink() and b"STARTTLS" in end.read_bytes().upper()


def _wait_for_line(proc: subprocess.Popen[str], text: str, deadline: float) -> str:
    """Read `proc`'s stderr until a line holding `text` (apply says when it waits)."""
    assert proc.stderr is not None
    while True:
        ready, _, _ = select.select([proc.stderr], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no line with {text!r} in time"
        line = proc.stderr.readline()
        assert line, f"stderr ended before a line with {text!r}"
        if text in line:
            return line


def test_a_link_changed_while_apply_waits_for_the_lock_is_followed_to_its_new_end(
    root: Path,
) -> None:
    """Links are settled again once the lock is held: the write goes where the link
    leads then, not where it led when this apply started waiting."""
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    mail = root / "etc/mail"
    old = relink(root, "etc/mail/access", "etc/mail/old/access", "old/access")
    s = spec(root, level="verify")
    marker = root.parent / f"{root.name}-paused"
    argv = cli_command(
        "apply", s, "--root", root, "--host", "h1", "--yes", "--no-verify", "--skip-preflight"
    )
    pause = {**cli_env(), "TLSC_APPLY_PAUSE_AT": "write", "TLSC_APPLY_PAUSE_FILE": str(marker)}
    pipes: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    first = subprocess.Popen(argv, env=pause, stdin=subprocess.DEVNULL, **pipes)
    second = None
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.01)
        second = subprocess.Popen(
            [*argv, "--lock-timeout", "30", "--format", "json"],
            env=cli_env(),
            stdin=subprocess.DEVNULL,
            **pipes,
        )
        # it has settled its links and now waits for the first one's lock
        _wait_for_line(second, "waiting for the lock", deadline)
        # the admin moves the shared file while the second apply waits
        new = mail / "new/access"
        new.parent.mkdir()
        new.write_bytes(old.read_bytes())
        (mail / "access").unlink()
        (mail / "access").symlink_to("new/access")
        marker.unlink()
        assert first.wait(30) == 0, first.communicate()
        out, err = second.communicate(timeout=30)
        report = json.loads(out)
        assert second.returncode == 0 and report["result"] == "applied", (report, err)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert os.readlink(mail / "access") == "new/access"
    assert b"TLS_Srv:secure.example.com\tVERIFY" in new.read_bytes()
    assert b"TLS_Srv:secure.example.com\tVERIFY" in old.read_bytes()  # the first apply's


# -- a directory swapped for a link out of the root while apply holds the lock --------


def _tree_bytes(top: Path) -> dict[str, bytes | str]:
    """Every entry under `top`: a file's bytes, a link's text, '<dir>'."""
    out: dict[str, bytes | str] = {}
    for p in sorted(top.rglob("*")):
        name = str(p.relative_to(top))
        if p.is_symlink():
            out[name] = "-> " + os.readlink(p)
        elif p.is_dir():
            out[name] = "<dir>"
        else:
            out[name] = p.read_bytes()
    return out


def _swap_while_paused(
    root: Path, spec_path: Path, point: str, directory: str, outside: Path, *extra: str
) -> tuple[int, dict[str, Any], Path]:
    """Start apply paused at `point`, replace ROOT/`directory` by a link to `outside`
    (the real one moved aside to DIRECTORY.orig), let it go on: (exit, report, .orig)."""
    marker = root.parent / f"{root.name}-paused"
    marker.unlink(missing_ok=True)
    argv = cli_command(
        "apply",
        spec_path,
        "--root",
        root,
        "--host",
        "h1",
        "--yes",
        "--no-verify",
        "--skip-preflight",
    )
    env = {**cli_env(), "TLSC_APPLY_PAUSE_AT": point, "TLSC_APPLY_PAUSE_FILE": str(marker)}
    pipes: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    proc = subprocess.Popen(
        [*argv, "--format", "json", *extra], env=env, stdin=subprocess.DEVNULL, **pipes
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.01)
        at = root / directory
        orig = at.with_name(at.name + ".orig")
        at.rename(orig)
        at.symlink_to(outside, target_is_directory=True)
        marker.unlink()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err, err
    return proc.returncode, json.loads(out), orig


def _decoy(outside: Path) -> dict[str, bytes | str]:
    """Files out there that look like a mail directory (a write to them would show)."""
    for name in ("access", "access.db", "sendmail.cf", "sendmail.mc", "tls/starttls.m4"):
        (outside / name).parent.mkdir(exist_ok=True)
        (outside / name).write_bytes(b"outside " + name.encode() + b"\n")
    return _tree_bytes(outside)


def test_etc_mail_swapped_for_a_link_out_after_the_lock_is_never_written_through(
    root: Path,
) -> None:
    # the directories apply writes in are held open from the lock on (O_NOFOLLOW walk
    # from the root): the write goes to the directory apply settled, now etc/mail.orig
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    with scratch_dir("apply-outside") as outside:
        before = _decoy(outside)
        rc, report, orig = _swap_while_paused(
            root, spec(root, level="verify"), "plan", "etc/mail", outside
        )
        assert _tree_bytes(outside) == before
        assert rc == 0 and report["result"] == "applied", report["message"]
        assert b"TLS_Srv:secure.example.com\tVERIFY" in (orig / "access").read_bytes()
        assert "tls_srv:secure.example.com\tVERIFY" in db_dump(orig / "access.db")
        assert (orig / "sendmail.cf").stat().st_mtime >= (orig / "sendmail.mc").stat().st_mtime
        assert leftovers(orig, orig / "tls") == []
        assert not (orig / ".tlsc-apply.pending").exists()


def test_the_rollback_never_restores_through_a_directory_swapped_for_a_link(
    root: Path,
) -> None:
    # the restart fails, so apply rolls back; etc/mail is swapped for a link out just
    # before the restore: the backup goes back into the directory apply wrote
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    old = (root / "etc/mail/access").read_bytes()
    with scratch_dir("apply-outside") as outside:
        before = _decoy(outside)
        rc, report, orig = _swap_while_paused(
            root,
            spec(root, level="verify", ident="7s", restart="false"),
            "rollback",
            "etc/mail",
            outside,
        )
        assert _tree_bytes(outside) == before
        assert rc == 1 and report["result"] in ("rolled-back", "failed"), report
        assert "the restart command failed" in report["message"]
        assert (orig / "access").read_bytes() == old


def test_a_missing_tls_directory_made_a_link_out_after_the_lock_is_refused(
    root: Path,
) -> None:
    # etc/mail/tls did not exist when apply took the lock, so it is made (walked) only
    # when written: by then a link, which the O_NOFOLLOW walk refuses
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    shutil.rmtree(root / "etc/mail/tls")
    with scratch_dir("apply-outside") as outside:
        marker = root.parent / f"{root.name}-paused"
        argv = cli_command(
            "apply",
            spec(root),
            "--root",
            root,
            "--host",
            "h1",
            "--yes",
            "--no-verify",
            "--skip-preflight",
        )
        env = {**cli_env(), "TLSC_APPLY_PAUSE_AT": "plan", "TLSC_APPLY_PAUSE_FILE": str(marker)}
        proc = subprocess.Popen(
            [*argv, "--format", "json"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not marker.exists():
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.01)
            (root / "etc/mail/tls").symlink_to(outside, target_is_directory=True)
            marker.unlink()
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert "Traceback" not in err, err
        report = json.loads(out)
        assert list(outside.iterdir()) == []
        assert proc.returncode == 1 and report["result"] == "refused", report
        assert report["message"] == (
            f"{root}/etc/mail/tls is no longer the directory apply settled (it became a"
            " symbolic link or a file while apply ran); nothing is written through it"
        )


def test_kill_9_after_etc_mail_was_swapped_mid_write_then_repair(root: Path) -> None:
    # stopped after its first write, etc/mail is swapped for a link out and the apply
    # resumed then killed -9 mid-way: nothing lands outside; the next apply refuses the
    # link, and once the admin puts the directory back it repairs the host
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    s = spec(root, level="verify", ident="9s")
    with scratch_dir("apply-outside") as outside:
        before = _decoy(outside)
        marker = root.parent / f"{root.name}-paused"
        pause = {
            "TLSC_APPLY_PAUSE_AT": "write.partial,build-cf",
            "TLSC_APPLY_PAUSE_FILE": str(marker),
        }
        argv = cli_command(
            "apply", s, "--root", root, "--host", "h1", "--yes", "--no-verify", "--skip-preflight"
        )
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env={**cli_env(), **pause}
        )
        try:
            deadline = time.monotonic() + 30
            while not marker.exists():
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.01)
            mail, orig = root / "etc/mail", root / "etc/mail.orig"
            mail.rename(orig)
            mail.symlink_to(outside, target_is_directory=True)
            marker.unlink()  # on to the other writes, then stopped again at build-cf
            while not marker.exists():
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.01)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            marker.unlink(missing_ok=True)
        assert _tree_bytes(outside) == before
        assert b"TLS_Srv:secure.example.com\tVERIFY" in (orig / "access").read_bytes()
        assert b"9s" in (orig / "sendmail.mc").read_bytes()
        rc, report, _ = apply_json(s, root, "--yes", "--no-verify", "--lock-timeout", "0")
        assert rc == 1 and report["result"] == "refused", report["message"]
        assert "leads out of" in report["message"]
        assert _tree_bytes(outside) == before
    mail.unlink()
    orig.rename(mail)
    rc, report, _ = apply_json(s, root, "--yes", "--no-verify", "--lock-timeout", "0")
    assert rc == 0 and report["result"] == "applied", report["message"]
    assert "tls_srv:secure.example.com\tVERIFY" in db_dump(mail / "access.db")
    assert b"9s" in (mail / "sendmail.cf").read_bytes()
    assert leftovers(mail, mail / "tls") == []
    assert not (mail / ".tlsc-apply.pending").exists()


def test_a_backup_dir_swapped_for_a_link_after_the_lock_still_gets_the_backup(
    root: Path,
) -> None:
    # --backup-dir is walked from / without following links and held open like the rest
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    (root / "bk").mkdir(mode=0o700)
    with scratch_dir("apply-outside") as outside:
        rc, report, orig = _swap_while_paused(
            root,
            spec(root, level="verify"),
            "plan",
            "bk",
            outside,
            "--backup-dir",
            str(root / "bk"),
        )
        assert list(outside.iterdir()) == []
        assert rc == 0 and report["result"] == "applied", report["message"]
        name = Path(report["backup"]).name
        assert report["backup"] == str(root / "bk" / name)
        assert (orig / name / "manifest.json").is_file()
