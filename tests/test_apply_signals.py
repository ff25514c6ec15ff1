"""tlsc apply stopped from outside at each point of its sequence, by SIGKILL, SIGTERM,
SIGINT or SIGHUP, as an operator (or a reviewer) would: no pause hook of tlsc's own.

Each point is reached through the real thing: a slow `m4` or `makemap` first on
PATH, a slow restart command, a daemon that accepts but does not greet yet (the
verify probe waits for its 220), or strace holding apply just after a system call
(the flock of the lock, the fsync of a temp copy, the rename that installs a file).
Then the signal, and:

(a) every managed file is wholly the old or the new content, with its owner and mode,
    and access.db a whole map of one or the other; after a signal apply can handle
    (SIGTERM, SIGINT, SIGHUP) every file is the old one again, byte for byte, and no
    temp file is left;
(b) the next apply finishes the host (saying so when it found an interrupted apply);
(c) the lock is free; no tool apply ran outlives it;
(d) `tlsc plan --root ROOT` afterwards has nothing to do.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from apply_helpers import ApplyHost, Spec, apply_host, db_dump, expected_db
from conftest import cli_command
from sendmail_fixture import DaemonFactory, sendmail_daemon, throwaway_ca

from compiler.compile import compile_text
from compiler.probe import Target, probe

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = [
    pytest.mark.realtools,
    pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace"),
]

SIGNALS = {
    "KILL": signal.SIGKILL,
    "TERM": signal.SIGTERM,
    "INT": signal.SIGINT,
    "HUP": signal.SIGHUP,
}

#: a tool first on PATH that says it runs (WORK/hooks/NAME.running), waits while
#: WORK/hooks/NAME.slow exists, then becomes the real one
SLOW_TOOL = """#!{python}
import os, sys, time
hooks = {hooks!r}
slow = os.path.join(hooks, "{name}.slow")
if os.path.exists(slow):
    with open(os.path.join(hooks, "{name}.running"), "w") as f:
        f.write(str(os.getpid()))
    deadline = time.monotonic() + 60
    while os.path.exists(slow) and time.monotonic() < deadline:
        time.sleep(0.02)
os.execv({real!r}, [{real!r}, *sys.argv[1:]])
"""

#: the restart command: apply_restart.py, which may first (restart.slow) say it runs and
#: wait, or (restart.stop-after) stop the new daemon once it listens, so it accepts a
#: connection but does not greet until SIGCONT
SLOW_RESTART = """#!/bin/sh
h={hooks}
if [ -e $h/restart.slow ]; then
  echo $$ > $h/restart.running
  i=0; while [ -e $h/restart.slow ] && [ $i -lt 3000 ]; do sleep 0.02; i=$((i+1)); done
fi
{restart} || exit 1
if [ -e $h/restart.stop-after ]; then
  kill -STOP $(head -1 {work}/sendmail.pid); touch $h/daemon.stopped
fi
"""


#: the source files' owner, group and mode on the host (as a site may have them)
OWNERS = {"sendmail.mc": (1234, 5678, 0o640), "tls/starttls.m4": (0, 5678, 0o604)}
OWNERS["access"] = (1234, 0, 0o600)


def variant(n: int) -> Callable[[Spec], None]:
    """Spec n differs from spec n-1 in sendmail.mc (a define), starttls.m4 (the
    STARTTLS timeout) and the access file (one more rule), so every file, both builds
    and the restart change."""

    def edit(spec: Spec) -> None:
        spec["defaults"]["mc"]["defines"]["confTO_IDENT"] = f"{n % 2}s"
        spec["defaults"]["tls"]["timeout"] = f"{n + 2}m"
        for i in range(n + 1):
            spec["domains"][f"sig{i}.example.org"] = {"outbound": "encrypt"}

    return edit


@dataclass
class Trial:
    host: ApplyHost
    hooks: Path
    old: dict[str, Any]
    old_db: list[str]
    new: dict[str, bytes]
    proc: subprocess.Popen[str] | None = None
    #: apply's pid (strace's child when it runs under strace)
    pid: int = 0


def temps(work: Path) -> list[str]:
    return sorted(str(p) for p in work.rglob(".*tlsc-new*"))


def setup(factory: DaemonFactory) -> Trial:
    host = apply_host(factory)
    hooks = host.work / "hooks"
    hooks.mkdir()
    for name in ("m4", "makemap"):
        real = shutil.which(name, path=host.env["PATH"])
        assert real is not None
        tool = hooks / name
        tool.write_text(
            SLOW_TOOL.format(python=sys.executable, hooks=str(hooks), name=name, real=real)
        )
        tool.chmod(0o755)
    script = hooks / "restart.sh"
    script.write_text(
        SLOW_RESTART.format(hooks=hooks, restart=host.restart_command, work=host.work)
    )
    script.chmod(0o755)
    host.restart_command = f"/bin/sh {script}"
    host.env["PATH"] = f"{hooks}:{host.env['PATH']}"
    host.write_spec(host.spec(variant(0)))
    rc, report, _ = host.apply()
    assert rc == 0, report["message"]
    # owners and modes of the host's own, not apply's defaults: kept through it all
    for name, (uid, gid, mode) in OWNERS.items():
        os.chown(host.work / name, uid, gid)
        os.chmod(host.work / name, mode)
    old = host.snapshot()
    old_db = db_dump(host.work / "access.db")
    host.write_spec(host.spec(variant(1)))
    text = host.spec_path.read_text(encoding="utf-8")
    compiled = compile_text(text, str(host.spec_path))
    files = compiled.hosts[host.daemon.host]
    new = {n: files[host.path(n)].encode() for n in ("sendmail.mc", "tls/starttls.m4", "access")}
    return Trial(host, hooks, old, old_db, new)


def start(t: Trial, strace: list[str] | None = None) -> None:
    argv = t.host.command()
    if strace:
        log = t.hooks / "strace.log"
        argv = ["strace", "-qq", "-o", str(log), *strace, *argv]
    t.proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=t.host.env,
    )
    t.pid = t.proc.pid
    if strace:
        deadline = time.monotonic() + 10
        while True:
            kids = Path(f"/proc/{t.proc.pid}/task/{t.proc.pid}/children")
            # (strace forks short-lived children of its own to test ptrace first)
            found = [k for k in (kids.read_text().split() if kids.exists() else []) if _is_apply(k)]
            if found:
                t.pid = int(found[0])
                break
            assert time.monotonic() < deadline, "strace started nothing"
            time.sleep(0.005)


def _is_apply(pid: str) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    # (a child strace forked has strace's argv until it execs)
    return argv[0] != b"strace" and b"apply" in argv


def wait_for(t: Trial, ready: Callable[[], bool], what: str) -> None:
    assert t.proc is not None
    deadline = time.monotonic() + 30
    while not ready():
        if t.proc.poll() is not None:
            out, err = t.proc.communicate()
            raise AssertionError(f"apply ended before {what}:\n{out[-2000:]}\n{err[-2000:]}")
        assert time.monotonic() < deadline, f"apply never reached {what}"
        time.sleep(0.01)


def stop(t: Trial, sig: signal.Signals) -> tuple[int, str, str]:
    """Send `sig` to apply (only), let strace go, and reap apply: (status, out, err)."""
    assert t.proc is not None
    try:
        os.kill(t.pid, sig)
    except ProcessLookupError:
        out, err = t.proc.communicate()
        log = (t.hooks / "strace.log").read_text() if (t.hooks / "strace.log").exists() else ""
        raise AssertionError(f"apply {t.pid} was gone: {err}\n{log[-3000:]}") from None
    # (strace holds apply until its delay ends: a signal queued meanwhile takes effect
    # there, where apply was held); the restart command and the daemon are let go at once,
    # the slow m4 and makemap are not: they must end with apply
    release(t, tools=False)
    out, err = t.proc.communicate(timeout=90)
    status = t.proc.returncode
    return status, out, err


def call_index(factory: DaemonFactory, syscall: str, suffix: str) -> int:
    """Which of apply's `syscall` calls (1-based; rename or fsync) acts on a path ending in
    `suffix`, in an apply from variant 0 to variant 1 (learnt once by tracing one)."""
    calls = _CALLS.get("seq")
    if calls is None:
        t = setup(factory)
        log = t.hooks / "trace.log"
        # -y: an fsync's descriptor as the path it names
        argv = ["strace", "-qq", "-y", "-o", str(log), "-e", "trace=rename,fsync"]
        argv += t.host.command()
        proc = subprocess.run(
            argv, capture_output=True, text=True, env=t.host.env, check=False, timeout=120
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        calls = []
        for line in log.read_text().splitlines():
            m = re.match(r'rename\("[^"]*", "([^"]*)"\) += 0', line) or re.match(
                r"(fsync)\(\d+<([^>]*)>\) += 0", line
            )
            if m and m.group(1) == "fsync":
                calls.append(("fsync", m.group(2)))
            elif m:
                calls.append(("rename", m.group(1)))
        _CALLS["seq"] = calls
    # (the backup's manifest and the journal are written first)
    n = 0
    for name, path in calls:
        if name == syscall:
            n += 1
            if path.endswith(suffix):
                return n
    raise AssertionError(f"no {syscall} of {suffix} in {calls}")


_CALLS: dict[str, list[tuple[str, str]]] = {}


def lock_free(host: ApplyHost) -> bool:
    with open(host.root / "run" / "tlsc-apply.lock", "rb") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True


def live(host: ApplyHost) -> bool:
    return probe(Target("t", "127.0.0.1", host.daemon.port, host.daemon.fqdn)).handshake_ok


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def check(t: Trial, sig: str, point: str, status: int, out: str, err: str) -> dict[str, Any]:
    """(a) to (d) of the module docstring, after apply ended with `status`."""
    host = t.host
    seen: dict[str, Any] = {"status": status}
    # (c) no m4 or makemap of the stopped apply runs on (it would write beside the
    # files, or install a map, after the lock is free)
    for tool in ("m4", "makemap"):
        running = t.hooks / f"{tool}.running"
        if running.exists():
            pid = int(running.read_text())
            deadline = time.monotonic() + 2
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            alive = _alive(pid)
            release(t)
            assert not alive, (point, f"the {tool} of the stopped apply still runs")
    assert lock_free(host), point
    # (a) each file wholly old or wholly new, its owner and mode kept
    now = host.snapshot()
    for name in ("sendmail.mc", "tls/starttls.m4", "access"):
        data, mode, uid, gid = now[name]
        assert data in (t.old[name][0], t.new[name]), (point, name)
        assert (mode, uid, gid) == t.old[name][1:], (point, name)
        seen[name] = "old" if data == t.old[name][0] else "new"
    for name in ("sendmail.cf", "access.db"):
        assert now[name][1:] == t.old[name][1:], (point, name)
    db = db_dump(host.work / "access.db")
    assert db in (t.old_db, expected_db(t.new["access"].decode())), point
    seen["access.db"] = "old" if db == t.old_db else "new"
    crashed_cf = now["sendmail.cf"][0]
    seen["temps"] = temps(host.work)
    seen["pending"] = (host.work / ".tlsc-apply.pending").exists()
    if sig == "KILL":
        assert status == -signal.SIGKILL, (point, status)
    else:
        # a signal apply can handle: it says what it did, in its report, and exits 1
        assert "Traceback" not in err, (point, err)
        report = json.loads(out)
        seen["result"], seen["message"] = report["result"], report["message"]
        assert status == 1, (point, status, report["message"])
        assert seen["temps"] == [], point
        stopped = f"stopped by SIG{sig}"
        assert stopped in report["message"], (point, report["message"])
        if point == "lock":
            assert report["result"] == "failed", point
            assert report["message"].endswith("before it changed anything; nothing was changed")
            assert now == t.old and not seen["pending"], point
        elif point == "rollback-restart":
            # the files are back; the restart that would have made sendmail read them again
            # did not finish: the journal says so to the next apply
            assert report["result"] == "failed", point
            assert "the rollback was stopped by" in report["message"], point
            assert seen["pending"], point
        else:
            assert report["result"] == "rolled-back", (point, report["message"])
            assert now == t.old and db == t.old_db and not seen["pending"], point
            assert live(host), point
    # (b) the next apply finishes the host
    rc, report, err2 = host.apply("--lock-timeout", "0")
    seen["second"] = report["message"]
    assert rc == 0 and report["result"] == "applied", (point, report["message"], err2)
    if seen["pending"]:
        assert "finished the apply started " in report["message"], (point, report["message"])
    final = host.snapshot()
    for name in ("sendmail.mc", "tls/starttls.m4", "access"):
        assert final[name][0] == t.new[name], (point, name)
        assert final[name][1:] == t.old[name][1:], (point, name)
    for name in ("sendmail.cf", "access.db"):
        assert final[name][1:] == t.old[name][1:], (point, name)
    assert crashed_cf in (t.old["sendmail.cf"][0], final["sendmail.cf"][0]), point
    seen["sendmail.cf"] = "old" if crashed_cf == t.old["sendmail.cf"][0] else "new"
    assert db_dump(host.work / "access.db") == expected_db(t.new["access"].decode())
    assert not (host.work / ".tlsc-apply.pending").exists(), point
    assert temps(host.work) == [], point
    assert lock_free(host), point
    assert live(host), point
    # (d) nothing left to do
    proc = subprocess.run(
        cli_command(
            "plan", host.spec_path, "--root", host.root, "--host", host.daemon.host,
            "--detailed-exitcode",
        ),
        capture_output=True, text=True, env=host.env, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, (point, proc.stdout, proc.stderr)
    rc, report, _ = host.apply()
    assert rc == 0 and report["result"] == "unchanged", (point, report["message"])
    return seen


def reach(t: Trial, factory: DaemonFactory, point: str) -> None:
    """Start apply and return once it is at `point`."""
    h = t.hooks
    if point == "lock":
        # held just after flock(2) took the lock
        start(t, ["-e", "trace=flock", "-e", "inject=flock:delay_exit=2000000:when=1"])
        wait_for(t, lambda: _holds_flock(t.pid), point)
    elif point.startswith("renamed:"):
        target = point.partition(":")[2]
        n = call_index(factory, "rename", "/" + target.rsplit("/", 1)[-1])
        before = os.stat(t.host.work / target).st_ino
        start(t, ["-e", "trace=rename", "-e", f"inject=rename:delay_exit=2000000:when={n}"])
        # held just after the rename: the file is another inode now
        wait_for(t, lambda: os.stat(t.host.work / target).st_ino != before, point)
    elif point.startswith("synced:"):
        # the temp copy written and flushed, not yet renamed over the file
        target = point.partition(":")[2]
        temp = t.host.work / target
        temp = temp.with_name(f".{temp.name}.tlsc-new{'.db' if target == 'access.db' else ''}")
        n = call_index(factory, "fsync", "/" + temp.name)
        start(t, ["-e", "trace=fsync", "-e", f"inject=fsync:delay_exit=2000000:when={n}"])
        wait_for(t, lambda: temp.exists() and _held(t.pid), point)
    elif point in ("m4", "makemap"):
        (h / f"{point}.slow").touch()
        start(t)
        wait_for(t, (h / f"{point}.running").exists, point)
    elif point == "restart":
        (h / "restart.slow").touch()
        start(t)
        wait_for(t, (h / "restart.running").exists, point)
    elif point == "probe":
        (h / "restart.stop-after").touch()
        start(t)

        def connected() -> bool:
            return (h / "daemon.stopped").exists() and _established(t.host.daemon.port, t.pid)

        wait_for(t, connected, point)
    elif point == "rollback-restart":
        (t.host.work / "fail-next-restart").touch()
        (h / "restart.slow").touch()
        start(t)
        wait_for(t, (h / "restart.running").exists, "the first restart")
        # the failing restart goes on; the rollback's restart is the next to wait
        (h / "restart.running").unlink()
        (h / "restart.slow").unlink()
        deadline = time.monotonic() + 10
        while (t.host.work / "fail-next-restart").exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        (h / "restart.slow").touch()
        wait_for(t, (h / "restart.running").exists, point)
    else:
        raise AssertionError(point)


def _held(pid: int) -> bool:
    """Whether strace holds process `pid` stopped (twice in a row, 50 ms apart: it stops
    at every system call, but only for a moment)."""
    for n in range(2):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False
        if "State:\tt (tracing stop)" not in status:
            return False
        if n == 0:
            time.sleep(0.05)
    return True


def _holds_flock(pid: int) -> bool:
    """Whether process `pid` holds a flock(2) lock."""
    return any(
        f[1] == "FLOCK" and f[4] == str(pid)
        for f in (line.split() for line in Path("/proc/locks").read_text().splitlines())
        if len(f) > 4
    )


def _established(port: int, pid: int) -> bool:
    """Whether process `pid` holds a TCP connection to 127.0.0.1:`port`."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[2].endswith(f":{port:04X}") and f[3] == "01" and f[9] in inodes:
            return True
    return False


def release(t: Trial, tools: bool = True) -> None:
    """Let the hooks go: the restart command's, the daemon, and (`tools`) m4 and makemap."""
    names = ["restart.slow", "restart.stop-after"]
    names += ["m4.slow", "makemap.slow"] if tools else []
    for name in names:
        (t.hooks / name).unlink(missing_ok=True)
    if (t.hooks / "daemon.stopped").exists():
        pid = int((t.host.work / "sendmail.pid").read_text().split()[0])
        os.kill(pid, signal.SIGCONT)
        (t.hooks / "daemon.stopped").unlink()


POINTS = [
    "lock",
    "synced:access",
    "renamed:access",
    "renamed:sendmail.mc",
    "renamed:tls/starttls.m4",
    "m4",
    "synced:sendmail.cf",
    "renamed:sendmail.cf",
    "makemap",
    "synced:access.db",
    "renamed:access.db",
    "restart",
    "probe",
    "rollback-restart",
]

#: every point by SIGKILL, SIGTERM and SIGINT; SIGHUP (the terminal gone) at a few
TRIALS = [(p, s) for p in POINTS for s in ("KILL", "TERM", "INT")]
TRIALS += [(p, "HUP") for p in ("renamed:access", "makemap", "restart")]


@pytest.mark.parametrize(("point", "sig"), TRIALS)
def test_signal_at_point(sendmail_daemon: DaemonFactory, point: str, sig: str) -> None:
    t = setup(sendmail_daemon)
    try:
        reach(t, sendmail_daemon, point)
        status, out, err = stop(t, SIGNALS[sig])
        seen = check(t, sig, point, status, out, err)
    finally:
        release(t)
        if t.proc is not None and t.proc.poll() is None:
            t.proc.kill()
            t.proc.communicate()
    print(f"{point} x SIG{sig}: {seen}")  # the trial's table row, with -s


@pytest.mark.parametrize("sig", ["HUP", "TERM"])
def test_a_terminal_gone_does_not_cut_the_rollback_short(
    sendmail_daemon: DaemonFactory, sig: str
) -> None:
    """SIGHUP is what apply gets when its terminal goes away (ssh dropped), and then its
    progress lines can no longer be written: the rollback must still run to its end."""
    t = setup(sendmail_daemon)
    (t.hooks / "makemap.slow").touch()
    t.proc = subprocess.Popen(
        [*t.host.command(), "--format", "text"],  # progress lines on stderr
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=t.host.env,
    )
    t.pid = t.proc.pid
    try:
        wait_for(t, (t.hooks / "makemap.running").exists, "makemap")
        assert t.proc.stdout is not None and t.proc.stderr is not None
        t.proc.stdout.close()  # the terminal is gone: every write fails (EPIPE)
        t.proc.stderr.close()
        os.kill(t.pid, SIGNALS[sig])
        assert t.proc.wait(timeout=60) == 1
    finally:
        release(t)
        if t.proc.poll() is None:
            t.proc.kill()
            t.proc.wait()
    assert t.host.snapshot() == t.old  # rolled back, byte for byte
    assert db_dump(t.host.work / "access.db") == t.old_db
    assert not (t.host.work / ".tlsc-apply.pending").exists()
    assert temps(t.host.work) == [] and lock_free(t.host) and live(t.host)
