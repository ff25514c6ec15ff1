"""tlsc apply's guards: a stale saved plan, the lock, --root, confirmation, downgrades,
an invalid spec, host matching, file modes and backup retention.

Most run against a scratch root with --no-verify (no daemon); the --root test
verifies against a real test daemon."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from apply_helpers import apply_host, apply_json, scratch_root
from conftest import cli_command, cli_env, run_cli
from realtools import scratch_dir
from sendmail_fixture import DaemonFactory, sendmail_daemon, throwaway_ca

from compiler.apply.build import BuildError, build_access_db, world_writable_refusal

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools

SPEC = """\
version: 1
cluster: guards
defaults:
  commands: {{restart: "echo restart >> restarts.log"}}
  smtp_port: {port}
hosts:
  h1: {{fqdn: h1.example.net, address: 127.0.0.1}}
domains:
  secure.example.com: {{outbound: {level}}}
access:
  - Connect:127 RELAY
"""


@pytest.fixture
def root() -> Iterator[Path]:
    with scratch_root("apply-root") as path:
        yield path


def spec(root: Path, level: str = "encrypt", port: int = 25, name: str = "spec.yaml") -> Path:
    path = root.parent / f"{root.name}-{name}"
    path.write_text(SPEC.format(level=level, port=port), encoding="utf-8")
    return path


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and "var/backups" not in str(p)
        and not p.name.startswith(".")
        and p.relative_to(root) != Path("run/tlsc-apply.lock")  # the root's lock
    }


def test_saved_plan_refused_when_stale(root: Path) -> None:
    s = spec(root)
    assert apply_json(s, root, "--yes", "--no-verify")[0] == 0
    s = spec(root, level="verify")
    plan = root.parent / f"{root.name}-plan.json"
    rc, _out, err = run_cli("plan", s, "--root", root, "--host", "h1", "--out", plan)
    assert rc == 0, err
    access = root / "etc/mail/access"
    good = access.read_bytes()

    # the host drifted: refused, naming the file, and nothing changed
    access.write_bytes(good + b"Connect:10.1.2.3\tREJECT\n")
    before = files(root)
    rc, report, _ = apply_json(s, root, "--plan", str(plan), "--yes", "--no-verify")
    assert rc == 1 and report["result"] == "refused"
    assert report["message"] == (
        f"refusing the plan {plan}: /etc/mail/access on h1 changed since the plan was made;"
        " make a new plan"
    )
    assert files(root) == before and report["backup"] is None

    # the spec changed: refused
    access.write_bytes(good)
    s.write_text(s.read_text() + "# edited\n")
    rc, report, _ = apply_json(s, root, "--plan", str(plan), "--yes", "--no-verify")
    assert rc == 1 and report["result"] == "refused"
    assert "changed since the plan" in report["message"] and str(s) in report["message"]

    # as planned: applied
    s = spec(root, level="verify")
    rc, report, _ = apply_json(s, root, "--plan", str(plan), "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", report["message"]
    assert b"TLS_Srv:secure.example.com\tVERIFY" in access.read_bytes()


def _saved_and_applied(s: Path, root: Path) -> Path:
    """A plan of `s` saved for h1 (`plan --out`), then applied: its path."""
    plan = root.parent / f"{root.name}-plan.json"
    rc, _out, err = run_cli("plan", s, "--root", root, "--host", "h1", "--out", plan)
    assert rc == 0, err
    rc, report, _ = apply_json(s, root, "--plan", str(plan), "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", report["message"]
    return plan


@pytest.mark.parametrize("start", ["empty", "applied"])
def test_a_saved_plan_applied_once_is_unchanged_the_second_time(root: Path, start: str) -> None:
    """A rollout that stopped at a later host is run again with the same reviewed plans:
    a host that already applied its plan is unchanged (exit 0), not refused as drifted;
    one whose files moved on since (by hand, or by a plan applied only in part) is
    still refused, and nothing is written."""
    if start == "applied":
        assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    s = spec(root, level="verify")
    plan = _saved_and_applied(s, root)
    after = files(root)

    rc, report, _ = apply_json(s, root, "--plan", str(plan), "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "unchanged", report["message"]
    (step,) = [x for x in report["steps"] if x["name"] == "plan"]
    assert f"the saved plan {plan} is already applied" in step["detail"]
    assert files(root) == after

    # any one planned file moved on from what the plan wrote: refused, nothing written
    for name in ("etc/mail/access", "etc/mail/sendmail.mc"):
        path = root / name
        good = path.read_bytes()
        path.write_bytes(good + b"dnl edited\n")
        before = files(root)
        rc, report, _ = apply_json(s, root, "--plan", str(plan), "--yes", "--no-verify")
        assert rc == 1 and report["result"] == "refused", report["message"]
        assert report["message"].startswith(f"refusing the plan {plan}: ")
        assert files(root) == before
        path.write_bytes(good)


def test_a_saved_plan_applied_in_part_is_finished(root: Path) -> None:
    """Each planned file holds what the plan saw or what it writes (one put back by
    hand after the plan was applied, a rollout stopped half-way): the plan ends where
    it says, so apply writes the rest; a file that holds neither is still refused."""
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    access = root / "etc/mail/access"
    old_access = access.read_bytes()
    s = spec(root, level="verify")
    plan = _saved_and_applied(s, root)
    after = files(root)
    assert access.read_bytes() != old_access
    access.write_bytes(old_access)  # one file back as the plan saw it
    rc, report, _ = apply_json(s, root, "--plan", str(plan), "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", report["message"]
    db = "etc/mail/access.db"  # rebuilt: a hash map of the same entries, not the same bytes
    assert {k: v for k, v in files(root).items() if k != db} == {
        k: v for k, v in after.items() if k != db
    }


def test_a_plan_saved_with_base_is_not_applied(root: Path, tmp_path: Path) -> None:
    """A --base plan compares two revisions of the spec, not this host's files."""
    import json

    s = spec(root)
    plan = root.parent / f"{root.name}-plan.json"
    rc, _out, err = run_cli("plan", s, "--root", root, "--host", "h1", "--out", plan)
    assert rc == 0, err
    doc = json.loads(plan.read_text())
    doc["observed"] = {**doc["observed"], "kind": "base", "location": "main"}
    plan.write_text(json.dumps(doc))
    before = files(root)
    rc, report, _ = apply_json(s, root, "--plan", str(plan), "--yes", "--no-verify")
    assert rc == 1 and report["result"] == "refused", report
    assert report["message"] == (
        f"the plan {plan} was made with --base: it compares the spec with itself at git"
        " revision main, not with this host's files; make the plan with --root (or --state)"
        " to apply it"
    )
    assert files(root) == before


def _paused(spec_path: Path, root: Path, marker: Path) -> subprocess.Popen[str]:
    env = {**cli_env(), "TLSC_APPLY_PAUSE_AT": "write", "TLSC_APPLY_PAUSE_FILE": str(marker)}
    proc = subprocess.Popen(
        cli_command(
            "apply",
            spec_path,
            "--root",
            root,
            "--host",
            "h1",
            "--yes",
            "--no-verify",
            "--skip-preflight",
            "--format",
            "json",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    return proc


def test_concurrent_applies_are_serialised(root: Path) -> None:
    s = spec(root)
    marker = root.parent / f"{root.name}-paused"
    first = _paused(s, root, marker)
    try:
        # a second apply that will not wait fails at once, naming the holder
        rc, report, _ = apply_json(s, root, "--yes", "--no-verify", "--lock-timeout", "0.2")
        assert rc == 1 and report["result"] == "refused"
        assert f"holds the lock {root}/run/tlsc-apply.lock (pid {first.pid}" in (report["message"])
        assert not (root / "etc/mail/access").exists()
        # a third waits, and runs after the first: it finds nothing left to do
        third = subprocess.Popen(
            cli_command(
                "apply",
                s,
                "--root",
                root,
                "--host",
                "h1",
                "--yes",
                "--no-verify",
                "--skip-preflight",
                "--format",
                "json",
                "--lock-timeout",
                "30",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=cli_env(),
        )
        assert third.stderr is not None
        waiting = third.stderr.readline()  # printed once it finds the lock taken
        assert waiting.startswith(f"tlsc apply: waiting for the lock (pid {first.pid}")
        assert third.poll() is None
        marker.unlink()
        out1, _ = first.communicate(timeout=60)
        out3, _ = third.communicate(timeout=60)
    finally:
        for proc in (first,):
            if proc.poll() is None:
                proc.kill()
    r1, r3 = json.loads(out1), json.loads(out3)
    assert first.returncode == 0 and r1["result"] == "applied"
    assert third.returncode == 0 and r3["result"] == "unchanged", r3["message"]
    assert r3["steps"][1]["name"] == "lock"


def _tree(path: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for p in [path, *path.rglob("*")] if path.exists() else []:
        st = p.lstat()
        out[str(p)] = (st.st_mtime_ns, st.st_size)
    return out


def test_root_writes_nothing_outside(sendmail_daemon: DaemonFactory) -> None:
    daemon = apply_host(sendmail_daemon).daemon  # verify probes it (STARTTLS on)
    with scratch_dir("apply-parent") as parent:
        root = parent / "root"
        root.mkdir(mode=0o755)
        sibling = parent / "sibling"
        sibling.mkdir(mode=0o755)
        (sibling / "file").write_text("untouched\n")
        s = parent / "spec.yaml"
        s.write_text(
            SPEC.format(level="encrypt", port=daemon.port).replace(
                'echo restart >> restarts.log"}',
                'touch restarted-here"}\n  tls: {server_cert: /etc/mail/tls/rooted.crt}',
            )
        )
        watched = [sibling, Path("/etc/mail"), Path("/var/backups"), Path("/etc/mail/tls")]
        outside = {str(p): _tree(p) for p in watched}
        parent_entries = sorted(os.listdir(parent))
        rc, report, err = apply_json(s, root, "--yes")
        assert rc == 0, (report["message"], err)
        assert report["verify"]["starttls"] is True
        assert {str(p): _tree(p) for p in watched} == outside
        assert sorted(os.listdir(parent)) == parent_entries
        for name in ("sendmail.mc", "tls/starttls.m4", "access", "access.db", "sendmail.cf"):
            assert (root / "etc/mail" / name).is_file(), name
        assert (root / "run/tlsc-apply.lock").is_file()
        assert (root / "restarted-here").is_file()  # commands run with the root as cwd
        [backup] = (root / "var/backups/tlsc").iterdir()
        assert (backup / "manifest.json").is_file()
        # m4 read the starttls.m4 under the root, not this machine's /etc/mail/tls
        cf = (root / "etc/mail/sendmail.cf").read_text()
        assert "O ServerCertFile=/etc/mail/tls/rooted.crt\n" in cf


def test_no_terminal_no_yes_is_refused(root: Path) -> None:
    rc, report, _ = apply_json(spec(root), root, "--no-verify")
    assert rc == 1 and report["result"] == "refused"
    assert "no terminal to ask for confirmation" in report["message"]
    assert "--yes" in report["message"]
    assert files(root) == {}


def test_downgrade_needs_allow_downgrade(root: Path) -> None:
    assert apply_json(spec(root, "verify"), root, "--yes", "--no-verify")[0] == 0
    before = files(root)
    rc, report, _ = apply_json(spec(root, "encrypt"), root, "--yes", "--no-verify")
    assert rc == 1 and report["result"] == "refused"
    assert "weakens TLS" in report["message"] and "--allow-downgrade" in report["message"]
    assert files(root) == before
    rc, report, _ = apply_json(
        spec(root, "encrypt"), root, "--yes", "--no-verify", "--allow-downgrade"
    )
    assert rc == 0 and report["result"] == "applied"


def test_invalid_spec_reports_problems(root: Path) -> None:
    bad = root.parent / f"{root.name}-bad.yaml"
    bad.write_text(SPEC.format(level="encrpt", port=25))
    rc, _out, err = run_cli("apply", bad, "--root", root, "--yes")
    assert rc == 1
    # the problem as validate prints it: FILE:LINE:COL: error: CODE sentence
    assert re.search(rf"^{re.escape(str(bad))}:9:\d+: error: S10\d ", err, re.MULTILINE), err
    assert err.rstrip().endswith(f"tlsc apply: {bad} is not valid; nothing was changed.")
    assert "Traceback" not in err and files(root) == {}


def test_host_must_match_this_machine(root: Path) -> None:
    rc, _out, err = run_cli("apply", spec(root), "--root", root, "--yes")
    assert rc == 1
    assert "matches no host in the spec; name one with --host" in err
    assert "Traceback" not in err


def test_usage_error_exits_1(root: Path) -> None:
    rc, _, err = run_cli("apply", spec(root), "--no-such-option")
    assert rc == 1 and "No such option" in err


def test_modes_new_and_kept(root: Path) -> None:
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    mail = root / "etc/mail"
    modes = {
        n: (mail / n).stat().st_mode & 0o7777
        for n in ("sendmail.mc", "tls/starttls.m4", "access", "sendmail.cf", "access.db")
    }
    assert modes == {
        "sendmail.mc": 0o644,
        "tls/starttls.m4": 0o644,
        "access": 0o640,
        "sendmail.cf": 0o644,
        "access.db": 0o640,
    }
    (mail / "access").chmod(0o600)
    os.chown(mail / "access", 65534, 65534)
    (mail / "access.db").chmod(0o644)
    assert apply_json(spec(root, "verify"), root, "--yes", "--no-verify")[0] == 0
    st = (mail / "access").stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o600, 65534, 65534)
    assert (mail / "access.db").stat().st_mode & 0o7777 == 0o644


def test_backups_keep_the_last_n(root: Path) -> None:
    for level in ("may", "encrypt", "verify"):
        rc, report, _ = apply_json(
            spec(root, level), root, "--yes", "--no-verify", "--keep-backups", "2"
        )
        assert rc == 0, report["message"]
    backups = sorted((root / "var/backups/tlsc").iterdir())
    assert len(backups) == 2
    manifest = json.loads((backups[-1] / "manifest.json").read_text())
    saved = {f["path"]: f for f in manifest["files"]}
    assert saved["/etc/mail/access"]["existed"] is True
    stored = backups[-1] / "files/etc/mail/access"
    assert b"TLS_Srv:secure.example.com\tENCR:128" in stored.read_bytes()


def test_backups_an_apply_killed_while_making_them_left_are_pruned(root: Path) -> None:
    """A backup directory without its manifest (its apply was killed while copying) is
    removed by a later apply's pruning once it is over an hour old and older than the
    newest complete backup; a younger one (perhaps in progress) is left alone."""
    backups = root / "var/backups/tlsc"
    stale, young = backups / "20200101T000000.000000Z", backups / "20200101T000001.000000Z"
    for d in (stale, young):
        (d / "files/etc/mail").mkdir(parents=True)
        (d / "files/etc/mail/access").write_text("half a copy\n")
        (d / ".manifest.json.tlsc-new").write_text("{")
    hour_ago = time.time() - 3700
    os.utime(stale, (hour_ago, hour_ago))
    for level in ("may", "encrypt"):
        rc, report, _ = apply_json(
            spec(root, level), root, "--yes", "--no-verify", "--keep-backups", "1"
        )
        assert rc == 0, report["message"]
    left = sorted(p.name for p in backups.iterdir())
    assert stale.name not in left and young.name in left
    complete = [n for n in left if (backups / n / "manifest.json").is_file()]
    assert len(complete) == 1 and len(left) == 2, left


def test_missing_access_db_is_rebuilt(root: Path) -> None:
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    (root / "etc/mail/access.db").unlink()
    rc, report, _ = apply_json(spec(root), root, "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", report["message"]
    names = {s["name"]: s["status"] for s in report["steps"]}
    assert names["build-access"] == "ok" and names["build-cf"] == "skipped"
    assert (root / "etc/mail/access.db").is_file()
    assert not (root / "restarts.log").read_text().count("\n") > 1


def test_no_restart_when_the_rebuilt_cf_is_the_same(root: Path) -> None:
    # the spec's file name is in the .mc's and starttls.m4's `dnl #` header only:
    # both files change, m4 runs, and sendmail.cf comes out byte for byte the same,
    # so sendmail is not restarted (restart only when sendmail.cf changed)
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    cf = root / "etc/mail/sendmail.cf"
    before = cf.read_bytes()
    assert (root / "restarts.log").read_text() == "restart\n"
    renamed = spec(root, name="renamed.yaml")
    rc, report, _ = apply_json(renamed, root, "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", report["message"]
    names = {s["name"]: (s["status"], s["detail"]) for s in report["steps"]}
    assert names["write"][0] == "ok" and "sendmail.mc" in names["write"][1]
    assert names["build-cf"][0] == "ok"
    assert names["restart"] == ("skipped", "sendmail.cf came out the same as before")
    assert report["restarted"] is False
    assert "restarted sendmail" not in report["message"]
    assert "next restart" not in report["message"]
    assert cf.read_bytes() == before
    assert (root / "restarts.log").read_text() == "restart\n"
    # and the next apply has nothing to do (the .cf is newer than its sources)
    rc, report, _ = apply_json(renamed, root, "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "unchanged", report["message"]


def test_root_with_a_symlink_out_is_refused_before_anything_is_written(root: Path) -> None:
    # an image under --root whose etc/mail is an absolute link (/srv/mail in the
    # image) would make apply write on this machine: refused, and nothing is
    # created out there, not even the lock file
    with scratch_dir("apply-outside") as outside:
        (root / "etc").mkdir()
        (root / "etc/mail").symlink_to(outside, target_is_directory=True)
        rc, report, _ = apply_json(spec(root), root, "--yes", "--no-verify")
        assert rc == 1 and report["result"] == "refused"
        assert report["message"] == (
            f"{root / 'etc/mail/sendmail.mc'} leads out of {root} through a symbolic link;"
            " nothing there is read or written through it"
        )
        assert list(outside.iterdir()) == []
        assert not (root / "var").exists()


@pytest.mark.parametrize("mode", [0o777, 0o1777])
def test_world_writable_staging_is_refused_before_anything_is_written(mode: int) -> None:
    # makemap (8.17.1.9, as root) warns "World writable directory /tmp" for every such
    # directory above the map, sticky bit or not, and exits 0: refuse before writing
    staging = Path(tempfile.mkdtemp(prefix="tlsc-ww-", dir="/tmp"))
    try:
        staging.chmod(mode)
        root = staging / "root"
        root.mkdir()
        spec_path = staging / "spec.yaml"
        spec_path.write_text(SPEC.format(level="encrypt", port=25), encoding="utf-8")
        rc, report, _ = apply_json(spec_path, root, "--yes", "--no-verify")
        assert rc == 1 and report["result"] == "refused"
        db = root / "etc/mail/access.db"
        assert report["message"] == (
            f"cannot build {db}: makemap warns about a map below the world-writable"
            " directory /tmp (sendmail's safety check against map tampering, sticky bit or"
            " not) and tlsc installs no map makemap complains about; stage under a directory"
            " that is not world-writable, e.g. ~/.cache/tlsc"
        )
        assert files(root) == {}
        assert not (root / "var").exists()
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def test_makemap_warning_on_a_world_writable_directory_is_explained() -> None:
    staging = Path(tempfile.mkdtemp(prefix="tlsc-ww-", dir="/tmp"))
    try:
        staging.chmod(0o1777)
        access = staging / "access"
        access.write_text("Connect:127 RELAY\n", encoding="utf-8")
        with pytest.raises(BuildError) as caught:
            build_access_db(access, staging / "access.db", None)
        assert str(caught.value) == world_writable_refusal(staging / "access.db", Path("/tmp"))
        assert sorted(p.name for p in staging.iterdir()) == ["access"]
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@pytest.mark.parametrize(
    ("where", "leftover"),
    [("etc/mail/tls/starttls.m4", False), ("etc/mail/access", False), ("etc/mail/access", True)],
)
def test_a_read_only_managed_directory_is_one_sentence(
    root: Path, where: str, leftover: bool
) -> None:
    # the file's directory on a read-only bind mount (in a mount namespace of its own,
    # so nothing is left mounted): apply says so in one sentence, exit 1, no traceback;
    # also when a crashed apply's temp file there cannot be removed
    assert apply_json(spec(root), root, "--yes", "--no-verify")[0] == 0
    mail = (root / where).parent
    (root / where).unlink()  # so the apply must write there
    temp = mail / f".{Path(where).name}.tlsc-new"
    if leftover:
        temp.write_bytes(b"half")
    before = files(root)
    argv = cli_command("apply", spec(root), "--root", root, "--host", "h1", "--yes")
    script = f"mount --bind {mail} {mail} && mount -o remount,ro,bind {mail} && exec" + "".join(
        f" '{a}'" for a in [*argv, "--no-verify", "--format", "json"]
    )
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    report = json.loads(proc.stdout)
    assert report["result"] in ("refused", "failed"), report
    assert "Read-only file system" in report["message"], report["message"]
    assert "\n" not in report["message"]
    if leftover:
        assert report["message"] == (
            f"cannot remove the temp file {temp} an interrupted apply left: Read-only file"
            " system; nothing was changed"
        )
    assert files(root) == before


def test_two_specs_that_put_sendmail_mc_elsewhere_share_the_roots_lock(root: Path) -> None:
    # the lock is one per root (ROOT/run/tlsc-apply.lock), not beside paths.sendmail_mc:
    # a second spec naming another sendmail.mc cannot enter the write step alongside
    s = spec(root)
    other = spec(root, name="other.yaml")
    text = other.read_text(encoding="utf-8").replace(
        "  smtp_port: 25\n", "  smtp_port: 25\n  paths: {sendmail_mc: /etc/mail/b/sendmail.mc}\n"
    )
    other.write_text(text, encoding="utf-8")
    marker = root.parent / f"{root.name}-paused"
    first = _paused(s, root, marker)
    try:
        rc, report, _ = apply_json(other, root, "--yes", "--no-verify", "--lock-timeout", "0")
        assert rc == 1 and report["result"] == "refused", report["message"]
        assert f"holds the lock {root}/run/tlsc-apply.lock (pid {first.pid}" in report["message"]
        assert not (root / "etc/mail/b").exists()
        marker.unlink()
        out, _ = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0 and json.loads(out)["result"] == "applied"


@pytest.mark.parametrize("name", ["it's", "back`tick", "both`'"])
def test_a_root_named_with_a_quote_or_a_back_tick_builds_sendmail_cf(name: str) -> None:
    # m4 reads the rooted include of starttls.m4 through /proc/self/fd/N/starttls.m4,
    # so no quote of the root's name reaches m4's text
    with scratch_dir("apply-quote") as base:
        root = base / name
        root.mkdir()
        spec_path = base / "spec.yaml"
        spec_path.write_text(SPEC.format(level="encrypt", port=25), encoding="utf-8")
        rc, report, err = apply_json(spec_path, root, "--yes", "--no-verify")
        assert rc == 0 and report["result"] == "applied", (report["message"], err)
        cf = (root / "etc/mail/sendmail.cf").read_bytes()
        assert b"/proc/self/fd" not in cf
        # what starttls.m4 sets is in the built .cf
        assert b"\nO ServerCertFile=/etc/mail/tls/sendmail-server.crt\n" in cf
        rc, report, _ = apply_json(spec_path, root, "--yes", "--no-verify")
        assert rc == 0 and report["result"] == "unchanged", report["message"]


def test_a_saved_plan_with_a_5000_digit_number_is_one_sentence(root: Path) -> None:
    s = spec(root)
    plan = root.parent / f"{root.name}-plan.json"
    rc, _out, err = run_cli("plan", s, "--root", root, "--host", "h1", "--out", plan)
    assert rc == 0, err
    doc = plan.read_text(encoding="utf-8")
    plan.write_text(doc.replace('"version": 1', '"version": ' + "9" * 5000, 1), encoding="utf-8")
    rc, report, err = apply_json(s, root, "--plan", str(plan), "--yes", "--no-verify")
    assert "Traceback" not in err, err
    assert rc == 1 and report["result"] == "refused"
    assert report["message"] == (
        f"{plan} is not a tlsc saved plan (a number in it is far too long)"
    )
    assert files(root) == {}
