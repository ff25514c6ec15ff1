"""Helpers for the tlsc apply tests: a host made of a test daemon's work directory.

`ApplyHost` wraps a running `sendmail_daemon(rooted=True)` (`apply_host()`
makes one): its spec's paths point into the daemon's work directory, and
`commands.restart` is apply_restart.py (a SIGHUP that returns once sendmail
listens again). Apply runs as a real `python -m compiler apply --root ROOT`
process, ROOT the daemon's own host root, with its backups in WORK/backups.
So each host has a lock of its own, ROOT/run/tlsc-apply.lock: an apply of a
test never waits for, or is refused by, an apply of another test suite that
runs on the same machine (which takes /run/tlsc-apply.lock, or its own
root's lock).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import cli_command, cli_env, run_cli
from realtools import (
    SYSTEM_SENDMAIL,
    SendmailRelease,
    makemap_command,
    scratch_base,
    scratch_dir,
    tool_path,
)
from ruamel.yaml import YAML
from sendmail_fixture import DaemonFactory, SendmailDaemon

HERE = Path(__file__).resolve().parent
RESTART = HERE / "apply_restart.py"
#: the files apply manages (and builds) in a daemon's work directory
FILES = ("sendmail.mc", "tls/starttls.m4", "access", "sendmail.cf", "access.db")

Spec = dict[str, Any]


def dump_yaml(data: Spec, path: Path) -> Path:
    """Write a spec dict as YAML."""
    with path.open("w", encoding="utf-8") as f:
        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False
        yaml.width = 4096
        yaml.dump(data, f)
    return path


def db_dump(db: Path, release: SendmailRelease = SYSTEM_SENDMAIL) -> list[str]:
    """`makemap -u hash` of a db (`release`'s makemap), sorted; raises when it is not a
    whole map."""
    stem = str(db).removesuffix(".db")
    out = subprocess.run(
        [*makemap_command(release), "-u", "hash", stem], capture_output=True, text=True, check=True
    )
    assert out.stderr == "", out.stderr
    return sorted(line for line in out.stdout.split("\n") if line)


def expected_db(access_text: str) -> list[str]:
    """What the dump of a db built from `access_text` must be."""
    out = []
    for line in access_text.split("\n"):
        if line and not line.startswith("#"):
            key, _, value = line.partition("\t")
            out.append(f"{key.lower()}\t{value}")
    return sorted(out)


class ApplyHost:
    """A test daemon as a host for tlsc apply, under a root of its own."""

    def __init__(self, daemon: SendmailDaemon):
        if daemon.root is None:
            raise AssertionError("an apply host needs a daemon made with rooted=True")
        self.daemon = daemon
        #: the host's root (apply's --root): its lock is ROOT/run/tlsc-apply.lock
        self.root = daemon.root
        #: the work directory as the spec and sendmail name it (a host path)
        self.host_work = daemon.work
        #: the work directory on this machine, under the root: what apply reads and
        #: writes, and names in its messages
        self.work = self.root / str(daemon.work).lstrip("/")
        self.spec_path = self.work / "cluster.yaml"
        self.backups = self.work / "backups"
        self.restart_command = f"{sys.executable} {RESTART} {self.work} {daemon.port}"
        #: apply's environment: its PATH finds the daemon's release's sendmail and makemap
        self.env = {**cli_env(), "PATH": tool_path(daemon.release)}
        # the host's sendmail, as the pre-flight finds it under a root (tlsc doctor's
        # D034/D035 check it against the release the spec names, as they do PATH's for /)
        binary = self.root / "usr/sbin/sendmail"
        binary.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(daemon.release.sendmail, binary)

    def path(self, *parts: str) -> str:
        """The host path (what a spec names) of a file in the work directory."""
        return str(self.host_work.joinpath(*parts))

    # -- specs ---------------------------------------------------------------

    def spec(self, edit: Callable[[Spec], None] | None = None) -> Spec:
        """The daemon's spec with the restart command set, edited by `edit`."""
        data: Spec = json.loads(json.dumps(self.daemon.spec))
        data["defaults"]["commands"] = {"restart": self.restart_command}
        if edit is not None:
            edit(data)
        return data

    def write_spec(self, data: Spec, name: str = "cluster.yaml") -> Path:
        """Write `data` as the spec apply reads."""
        return dump_yaml(data, self.work / name)

    # -- apply ---------------------------------------------------------------

    def command(self, *args: str, spec: Path | None = None) -> list[str]:
        """The argv of an apply of this host."""
        return cli_command(
            "apply",
            spec or self.spec_path,
            "--root",
            self.root,
            "--host",
            self.daemon.host,
            "--backup-dir",
            self.backups,
            "--yes",
            "--format",
            "json",
            *args,
        )

    def apply(self, *args: str, spec: Path | None = None) -> tuple[int, dict[str, Any], str]:
        """Run apply to the end: (exit code, JSON report, stderr)."""
        proc = subprocess.run(
            self.command(*args, spec=spec),
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if os.environ.get("TLSC_APPLY_TEST_DEBUG"):
            print(proc.stderr, proc.stdout[-3000:], file=sys.stderr)
        try:
            report = json.loads(proc.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"no JSON report:\n{proc.stdout}\n{proc.stderr}") from None
        return proc.returncode, report, proc.stderr

    def start_paused(self, point: str, *args: str) -> tuple[subprocess.Popen[str], Path]:
        """Start apply with the pause hook at `point`; returns once it has stopped there."""
        marker = self.work / f"paused-{point}"
        marker.unlink(missing_ok=True)
        env = {
            **self.env,
            "TLSC_APPLY_PAUSE_AT": point,
            "TLSC_APPLY_PAUSE_FILE": str(marker),
            "TLSC_APPLY_PAUSE_SECONDS": "60",
        }
        proc = subprocess.Popen(
            self.command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        deadline = time.monotonic() + 30
        while not marker.exists():
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"apply ended before {point}:\n{out}\n{err}")
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"apply never reached {point}")
            time.sleep(0.01)
        return proc, marker

    @staticmethod
    def kill(proc: subprocess.Popen[str]) -> None:
        """kill -9, and reap it."""
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)

    # -- state ---------------------------------------------------------------

    def snapshot(self) -> dict[str, tuple[bytes, int, int, int] | None]:
        """Each managed and built file: (bytes, mode, uid, gid), or None when absent."""
        out: dict[str, tuple[bytes, int, int, int] | None] = {}
        for name in FILES:
            path = self.work / name
            try:
                st = path.stat()
                out[name] = (path.read_bytes(), st.st_mode & 0o7777, st.st_uid, st.st_gid)
            except FileNotFoundError:
                out[name] = None
        return out

    def sources(self) -> dict[str, bytes | None]:
        """The bytes of the three files tlsc writes (None: absent)."""
        out: dict[str, bytes | None] = {}
        for name in FILES[:3]:
            path = self.work / name
            out[name] = path.read_bytes() if path.exists() else None
        return out

    def restarts(self) -> int:
        """How many times the restart command ran."""
        log = self.work / "restarts.log"
        return len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0


def apply_host(factory: DaemonFactory, **kwargs: Any) -> ApplyHost:
    """A running test daemon, in a work directory makemap trusts under a root of its
    own, as an apply host."""
    return ApplyHost(factory(base=scratch_base(), rooted=True, **kwargs))


def steps(report: dict[str, Any]) -> dict[str, str]:
    """name -> status of a report's steps."""
    return {s["name"]: s["status"] for s in report["steps"]}


@contextmanager
def scratch_root(name: str) -> Iterator[Path]:
    """A host root for `--root` in a scratch directory; spec files written beside it
    (`ROOT-*`) are removed with it."""
    with scratch_dir(name) as root:
        try:
            yield root
        finally:
            for p in root.parent.glob(f"{root.name}-*"):
                p.unlink()


def apply_json(
    spec_path: Path, root: Path, *args: str, preflight: bool = False
) -> tuple[int, dict[str, Any], str]:
    """`tlsc apply SPEC --root ROOT --host h1 --format json ARGS`: (exit code, report, stderr).

    With --skip-preflight unless `preflight`: a scratch root holds no certificates,
    so the pre-flight (tests/test_apply_preflight.py) would refuse every apply."""
    skip = () if preflight else ("--skip-preflight",)
    rc, out, err = run_cli(
        "apply", spec_path, "--root", root, "--host", "h1", "--format", "json", *skip, *args
    )
    assert out, err
    return rc, json.loads(out), err
