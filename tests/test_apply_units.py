"""Unit tests of tlsc apply's parts: the lock, atomic writes, backups, the journal, the hook."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from compiler.apply import hooks
from compiler.apply.atomic import clean_temps, temp_path, write_atomic
from compiler.apply.backup import BackupError, load_backup, make_backup, prune, restore
from compiler.apply.build import db_temp, host_includes, rooted_includes, run_command
from compiler.apply.dirfd import DirError, SafeDirs, proc_fd
from compiler.apply.lock import ApplyLock, LockError
from compiler.apply.pending import Pending, clear_pending, read_pending, write_pending
from compiler.apply.report import ApplyReport, Step

# -- lock ----------------------------------------------------------------------


@pytest.mark.parametrize("stale", ["", "4242 2026-01-01T00:00:00Z\n"])
def test_a_lock_another_process_took_names_its_pid(tmp_path: Path, stale: str) -> None:
    """`flock FILE CMD` writes no pid (or the file still names an earlier apply): the
    kernel's /proc/locks tells who holds it."""
    import subprocess
    import sys

    path = tmp_path / ".tlsc-apply.lock"
    path.write_text(stale)
    child = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1]);"
         " fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)", str(path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        with pytest.raises(LockError) as err:
            ApplyLock(path).acquire(0)
        assert str(err.value).startswith("another process holds the lock")
        assert f"(pid {child.pid}, which is no tlsc apply)" in str(err.value)
    finally:
        child.kill()
        child.wait()


def test_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    path = tmp_path / "etc" / ".tlsc-apply.lock"
    first = ApplyLock(path)
    first.acquire(0)
    assert first.held and path.read_text().split()[0] == str(os.getpid())
    second = ApplyLock(path)
    waited: list[str] = []
    start = time.monotonic()
    with pytest.raises(LockError) as err:
        second.acquire(0.2, waited.append)
    assert time.monotonic() - start >= 0.2
    assert f"(pid {os.getpid()} (since " in str(err.value)
    assert "--lock-timeout" in str(err.value)
    assert waited and waited[0].startswith(f"pid {os.getpid()}")
    first.release()
    second.acquire(0)
    assert second.held
    second.release()


def test_lock_is_released_when_its_holder_is_killed(tmp_path: Path) -> None:
    path = tmp_path / ".tlsc-apply.lock"
    code = (
        "import sys, time; from pathlib import Path; from compiler.apply.lock import ApplyLock;"
        f"ApplyLock(Path({str(path)!r})).acquire(0); print('locked', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    with pytest.raises(LockError):
        ApplyLock(path).acquire(0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    lock = ApplyLock(path)
    lock.acquire(0)  # the kernel dropped the dead holder's lock
    lock.release()
    proc.stdout.close()


def test_lock_is_not_inherited_by_commands(tmp_path: Path) -> None:
    lock = ApplyLock(tmp_path / "l")
    lock.acquire(0)
    # a command apply runs (and any daemon it starts) must not keep the lock alive
    script = (
        f"{sys.executable} -c \"import fcntl, os; fd = os.open('{tmp_path / 'l'}', os.O_RDWR);"
        ' fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)" && echo free || echo busy'
    )
    out = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "busy"  # still ours (flock conflicts across descriptors)
    assert lock._fd is not None and not os.get_inheritable(lock._fd)
    lock.release()


def test_lock_never_follows_a_planted_symlink(tmp_path: Path) -> None:
    # a lock file that is a symlink (to /etc/passwd, say) must not be opened,
    # truncated or written through: apply refuses and the target keeps its bytes
    victim = tmp_path / "victim"
    victim.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n")
    path = tmp_path / "etc" / ".tlsc-apply.lock"
    path.parent.mkdir()
    path.symlink_to(victim)
    with pytest.raises(LockError) as err:
        ApplyLock(path).acquire(0)
    assert str(path) in str(err.value) and "symbolic link" in str(err.value)
    assert victim.read_bytes() == b"root:x:0:0:root:/root:/bin/bash\n"
    # a dangling one is not created through either
    path.unlink()
    path.symlink_to(tmp_path / "created")
    with pytest.raises(LockError):
        ApplyLock(path).acquire(0)
    assert not (tmp_path / "created").exists()


def test_lock_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / ".tlsc-apply.lock"
    os.mkfifo(path)  # opening a FIFO for writing would block forever
    with pytest.raises(LockError) as err:
        ApplyLock(path).acquire(0)
    assert "not a regular file" in str(err.value)


# -- atomic writes --------------------------------------------------------------


def test_write_atomic_new_file_gets_default_mode(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "access"
    write_atomic(target, b"x\n", 0o640)
    assert target.read_bytes() == b"x\n"
    assert target.stat().st_mode & 0o7777 == 0o640
    assert target.parent.stat().st_mode & 0o777 == 0o755
    assert not temp_path(target).exists()


def test_write_atomic_keeps_owner_group_mode(tmp_path: Path) -> None:
    target = tmp_path / "sendmail.mc"
    target.write_bytes(b"old\n")
    target.chmod(0o604)
    if os.geteuid() == 0:
        os.chown(target, 65534, 65534)
    inode = target.stat().st_ino
    write_atomic(target, b"new\n", 0o644)
    st = target.stat()
    assert target.read_bytes() == b"new\n" and st.st_mode & 0o7777 == 0o604
    assert st.st_ino != inode  # replaced by rename, never rewritten in place
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (65534, 65534)


def test_write_atomic_failure_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):  # fails after the temp file is written
        write_atomic(target, b"new", 0o644, mtime_ns="x")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old" and not temp_path(target).exists()


def test_clean_temps_removes_leftovers(tmp_path: Path) -> None:
    mc, db = tmp_path / "sendmail.mc", tmp_path / "access.db"
    temp_path(mc).write_bytes(b"half")
    stem, built = db_temp(db)
    built.write_bytes(b"half a map")
    removed = clean_temps([mc, db])
    assert sorted(removed) == sorted([temp_path(mc), built])
    assert stem == temp_path(db) and built.name == ".access.db.tlsc-new.db"
    assert clean_temps([mc, db]) == []


# -- backups ---------------------------------------------------------------------


def test_backup_and_restore_byte_for_byte(tmp_path: Path) -> None:
    root = tmp_path / "root"
    a = root / "etc/mail/access"
    a.parent.mkdir(parents=True)
    a.write_bytes(b"old access\n")
    a.chmod(0o600)
    os.utime(a, ns=(1_000_000_000, 1_000_000_000))
    files = {"/etc/mail/access": a, "/etc/mail/new": root / "etc/mail/new"}
    backup = make_backup(tmp_path / "backups", files, {"host": "h1"})
    assert load_backup(backup.directory) == backup
    assert backup.directory.stat().st_mode & 0o777 == 0o700
    # the saved copy of the 0600 access file is 0600 too, whatever the umask
    # (the backup must stay private if its directory is ever copied or opened up)
    assert backup.stored("/etc/mail/access").stat().st_mode & 0o777 == 0o600
    write_atomic(a, b"new access\n", 0o644)
    write_atomic(files["/etc/mail/new"], b"created\n", 0o644)
    restored = restore(backup, files)
    assert sorted(restored) == ["/etc/mail/access", "/etc/mail/new"]
    assert a.read_bytes() == b"old access\n" and a.stat().st_mode & 0o777 == 0o600
    assert a.stat().st_mtime_ns == 1_000_000_000
    assert not files["/etc/mail/new"].exists()
    assert restore(backup, files) == []  # already back: nothing to do


def test_damaged_backup_is_not_restored(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"old")
    backup = make_backup(tmp_path / "b", {"/f": f}, {})
    backup.stored("/f").write_bytes(b"tampered")
    f.write_bytes(b"new")
    with pytest.raises(BackupError, match="damaged"):
        restore(backup, {"/f": f})
    assert f.read_bytes() == b"new"


def test_prune_keeps_the_newest(tmp_path: Path) -> None:
    base = tmp_path / "b"
    f = tmp_path / "f"
    f.write_bytes(b"x")
    made = [make_backup(base, {"/f": f}, {}).directory for _ in range(4)]
    (base / "not-a-backup").mkdir()
    (base / "20990101T000000.000000Z").mkdir()  # incomplete: no manifest, never counted
    removed = prune(base, 2)
    assert removed == made[:2]
    assert sorted(p.name for p in base.iterdir()) == sorted(
        [made[2].name, made[3].name, "not-a-backup", "20990101T000000.000000Z"]
    )


# -- the rest ----------------------------------------------------------------------


def test_rooted_includes() -> None:
    mc = b"include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\ninclude(`/etc/mail/tls/starttls.m4')dnl\n"
    out = rooted_includes(mc, {"/etc/mail/tls/starttls.m4": Path("/r/etc/mail/tls/starttls.m4")})
    assert out == (
        b"include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n"
        b"include(`/r/etc/mail/tls/starttls.m4')dnl\n"
    )


def test_host_includes_are_the_mcs_own_directorys() -> None:
    """Under --root these come from the root too: Debian's m4/dialup.m4, not this machine's."""
    mc = (
        b"include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n"
        b"include(`/etc/mail/m4/dialup.m4')dnl\n"
        b"dnl include(`/etc/mail/m4/old.m4')dnl\n"
        b"include(`/etc/mailx/other.m4')dnl\n"
        b"include(`/etc/mail/tls/starttls.m4')dnl\n"
    )
    assert host_includes(mc, "/etc/mail") == ["/etc/mail/m4/dialup.m4", "/etc/mail/tls/starttls.m4"]


def test_pending_round_trip(tmp_path: Path) -> None:
    path = tmp_path / ".tlsc-apply.pending"
    assert read_pending(path) is None
    p = Pending(12, "2024-01-01T00:00:00Z", "h1", "/b", True, False, True)
    write_pending(path, p)
    assert read_pending(path) == p
    path.write_text("{not json")
    damaged = read_pending(path)
    assert damaged is not None and damaged.rebuild_cf and damaged.rebuild_access
    clear_pending(path)
    assert not path.exists()
    clear_pending(path)


@pytest.mark.parametrize("kind", ["fifo", "symlink", "directory"])
def test_a_journal_that_is_not_a_regular_file_counts_as_damaged(tmp_path: Path, kind: str) -> None:
    """Never blocks on a FIFO, never reads through a symlink: redo every rebuild."""
    path = tmp_path / ".tlsc-apply.pending"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        target = tmp_path / "elsewhere"
        write_pending(target, Pending(1, "x", "h1", "/b", False, False, False))
        path.symlink_to(target)
    else:
        path.mkdir()
    damaged = read_pending(path)
    assert damaged is not None
    assert (damaged.rebuild_cf, damaged.rebuild_access, damaged.restart) == (True, True, True)


def test_run_command_reports_exit_and_last_line(tmp_path: Path) -> None:
    assert run_command("true", tmp_path, {}, 5) is None
    said = run_command("echo one; echo two >&2; exit 3", tmp_path, {}, 5)
    assert said == "'echo one; echo two >&2; exit 3' exited 3: two"
    assert run_command("sleep 5", tmp_path, {}, 0.2) == "'sleep 5' did not finish within 0.2 s"
    run_command('echo "$TLSC_HOST" > out', tmp_path, {"TLSC_HOST": "h1"}, 5)
    assert (tmp_path / "out").read_text() == "h1\n"


def test_pause_hook_waits_until_the_marker_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "paused"
    monkeypatch.setenv(hooks.ENV_AT, "write,verify")
    monkeypatch.setenv(hooks.ENV_FILE, str(marker))
    hooks.pause_at("backup")  # not asked for: returns at once
    assert not marker.exists()
    done = threading.Event()
    thread = threading.Thread(target=lambda: (hooks.pause_at("write"), done.set()))
    thread.start()
    deadline = time.monotonic() + 5
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.read_text() == f"{os.getpid()} write\n"
    assert not done.wait(0.1)
    marker.unlink()
    assert done.wait(5)
    thread.join()


def test_report_json_shape() -> None:
    report = ApplyReport(spec="s.yaml", root="/", host="h1", result="unchanged", message="m")
    report.steps.append(Step("load", "ok", 0.0123456789, "host h1"))
    doc = report.to_json()
    assert doc["version"] == 1 and doc["result"] == "unchanged" and report.exit_code == 0
    assert doc["steps"] == [
        {"name": "load", "status": "ok", "seconds": 0.012346, "detail": "host h1"}
    ]
    assert set(doc) >= {"host", "spec", "root", "message", "changes", "files", "backup", "verify"}
    assert ApplyReport(spec="s", root="/", result="rolled-back").exit_code == 1


# -- directories held open -------------------------------------------------------


def test_safe_dirs_name_the_path_a_proc_fd_name_stands_for(tmp_path: Path) -> None:
    """A message of an OSError raised through a held directory (its filename is
    /proc/self/fd/N/NAME) names the real path instead; a name through a descriptor
    these directories do not hold, or another path, is left as it is (None)."""
    root = tmp_path / "root"
    (root / "etc/mail").mkdir(parents=True)
    dirs = SafeDirs(root)
    try:
        at = dirs.path(root.resolve() / "etc/mail/.tlsc-apply.pending")
        assert at is not None and str(at).startswith("/proc/self/fd/")
        assert dirs.shown(at) == root.resolve() / "etc/mail/.tlsc-apply.pending"
        assert dirs.shown(at.parent) == root.resolve() / "etc/mail"
        assert dirs.shown(Path("/proc/self/fd/99999/x")) is None
        assert dirs.shown(root / "etc/mail/access") is None
    finally:
        dirs.close()


def test_safe_dirs_hold_the_directory_not_its_name(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/mail").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    dirs = SafeDirs(root)
    umask = os.umask(0o077)
    try:
        at = dirs.path(root.resolve() / "etc/mail/access")
        assert at is not None and proc_fd(at) is not None
        # the name is swapped for a link out: the open directory is still written
        (root / "etc/mail").rename(root / "etc/mail.orig")
        (root / "etc/mail").symlink_to(outside, target_is_directory=True)
        write_atomic(at, b"x\n", 0o640)
        assert (root / "etc/mail.orig/access").read_bytes() == b"x\n"
        assert list(outside.iterdir()) == []
        # a directory not opened yet is walked without following links: refused
        (root / "etc/new").symlink_to(outside, target_is_directory=True)
        with pytest.raises(DirError, match="no longer the directory apply settled"):
            dirs.path(root.resolve() / "etc/new/file")
        with pytest.raises(DirError, match="is not under"):
            dirs.path(outside / "file")
        # missing directories are made: 0755 above, the mode asked for at the end
        assert dirs.open(root.resolve() / "var/backups/tlsc", create=False) is None
        dirs.open(root.resolve() / "var/backups/tlsc", mode=0o700)
        assert (root / "var").stat().st_mode & 0o777 == 0o755
        assert (root / "var/backups/tlsc").stat().st_mode & 0o777 == 0o700
    finally:
        os.umask(umask)
        dirs.close()


def test_prune_keeps_the_backup_this_apply_made_whatever_its_name(tmp_path: Path) -> None:
    """Backups a clock that ran ahead named (2099...) do not outrank the one just made:
    it stays, and counts as the newest of the `keep`."""
    base = tmp_path / "b"
    f = tmp_path / "f"
    f.write_bytes(b"x")
    future = []
    for day in (1, 2, 3):
        made = make_backup(base, {"/f": f}, {}).directory
        future.append(made.rename(base / f"209912{day:02d}T000000.000000Z"))
    ours = make_backup(base, {"/f": f}, {}).directory
    removed = prune(base, 2, ours.name)
    assert removed == future[:2]
    assert sorted(p.name for p in base.iterdir()) == sorted([future[2].name, ours.name])


def test_a_stop_while_the_backup_is_made_leaves_no_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop (the exception apply's signal handler raises) halfway through the backup
    takes the partial directory away, as a failure there does."""
    from compiler.apply import backup as backup_module

    base = tmp_path / "b"
    f = tmp_path / "f"
    f.write_bytes(b"x")

    def stopped(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(backup_module, "write_atomic", stopped)
    with pytest.raises(KeyboardInterrupt):
        make_backup(base, {"/f": f}, {})
    assert list(base.iterdir()) == []


def test_a_restore_puts_back_every_file_it_can_and_names_the_others(tmp_path: Path) -> None:
    from compiler.apply.backup import RestoreError

    a, b = tmp_path / "a", tmp_path / "d" / "b"
    b.parent.mkdir()
    a.write_bytes(b"old a")
    b.write_bytes(b"old b")
    files = {"/etc/mail/b": b, "/etc/mail/a": a}
    backup = make_backup(tmp_path / "backups", files, {})
    a.write_bytes(b"new a")
    b.write_bytes(b"new b")
    # b's directory replaced by a file: the file system refuses to put b back
    (tmp_path / "d" / "b").unlink()
    (tmp_path / "d").rmdir()
    (tmp_path / "d").write_bytes(b"")
    with pytest.raises(RestoreError) as caught:
        restore(backup, files)
    assert [path for path, _ in caught.value.failed] == ["/etc/mail/b"]
    assert caught.value.restored == ["/etc/mail/a"]
    assert a.read_bytes() == b"old a"  # tried after the one that failed: back too
