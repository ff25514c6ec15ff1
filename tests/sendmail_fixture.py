"""A real `sendmail -bD` on 127.0.0.1, built from the compiled example, as a pytest fixture.

tests/conftest.py is not ours, so import the fixtures into each test module
(tests/ is on sys.path) and list them in `__all__` so they count as used:

    from sendmail_fixture import DaemonFactory, sendmail_daemon, throwaway_ca

    __all__ = ["sendmail_daemon", "throwaway_ca"]

    def test_offers_starttls(sendmail_daemon: DaemonFactory) -> None:
        daemon = sendmail_daemon()      # running, STARTTLS on, certificate from the test CA
        ...daemon.port, daemon.host, daemon.fqdn, daemon.ca_cert, daemon.spec_path...
        ...daemon.syslog(), daemon.wait_for_log(regex), daemon.hup(), daemon.restart()...

`sendmail_daemon(edit=..., server_cert=..., key_mode=..., start=...)` takes
examples/canit-cluster.yaml and adapts it through the spec alone
(`fixture_spec`): every path in a fresh work directory under /tmp, and what
a test daemon needs as spec settings (ostype
linux, confDOMAIN_NAME, QUEUE_DIR, confPID_FILE, TrustStickyBit because /tmp
is world-writable, queue-only delivery, a DAEMON_OPTIONS line for a free port
on 127.0.0.1). It compiles the spec with tlsc, writes the files where the
spec says, builds sendmail.cf with m4 (any stderr fails) and access.db with
makemap, and starts the daemon through sendmail_launcher.py in private mount
and UTS namespaces (the host's fqdn as host name, a private /dev/log whose
messages land in WORK/syslog.txt, a private /etc/mail holding only the work
directory's service.switch). The daemon's pid (also in its pid file) is a
real one, so `kill -HUP` from a test or a restart command works. On
teardown every daemon is stopped and every work directory removed.

Needs root, unshare, m4, makemap and sendmail (scripts/install-sysdeps); the
tests that use it are skipped, with the reason, when any is missing.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from netinfo import listening_inodes
from realtools import SYSTEM_SENDMAIL, SendmailRelease
from ruamel.yaml import YAML
from throwaway_ca import Issued, ThrowawayCA, dh_params_pem

from compiler.compile import compile_text

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "sendmail_launcher.py"
#: the example the test daemon is built from (adapted through its spec, see fixture_spec)
EXAMPLE = HERE.parent / "examples" / "canit-cluster.yaml"
START_TIMEOUT = 10.0


def missing_tools(release: SendmailRelease = SYSTEM_SENDMAIL) -> str | None:
    """Why the daemon of `release` cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (private namespaces, sendmail -bD)"
    for tool in ("unshare", "m4", "makemap", "mount"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            return f"needs {tool} (scripts/install-sysdeps)"
    if not release.sendmail.exists() or not release.cf_m4.exists():
        return f"needs {release.sendmail} and {release.cf_m4} (scripts/install-sysdeps)"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 held bound but never listening while the block runs:
    every connection to it is refused, and no other socket is given it (a port merely
    given back may be handed to the next daemon's free_port(), which would answer)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def fixture_spec(
    work: Path, port: int, example: Path = EXAMPLE, release: SendmailRelease = SYSTEM_SENDMAIL
) -> dict[str, Any]:
    """The bundled example, adapted through the spec alone to run on 127.0.0.1:`port`.

    Its first host keeps its name and fqdn and gets address 127.0.0.1 (the
    others are dropped: they name real networks); every path moves into
    `work`; mc gets ostype linux, no DOMAIN, the test defines and FEATUREs
    below and one DAEMON_OPTIONS line for the port. Its own
    defines, FEATUREs (greet_pause included), TLS rules and access entries
    stay as they are. A `release` other than the system's gets its own cf.m4
    (mc.cf_m4), so m4 builds the .cf from that release's cf tree, and is named
    by the spec's `sendmail:` (8.18), so tlsc validates the spec for it.
    """
    w = str(work)
    spec: dict[str, Any] = YAML(typ="safe", pure=True).load(example.read_text(encoding="utf-8"))
    name, host = next(iter(spec["hosts"].items()))
    fqdn = host["fqdn"]
    spec["hosts"] = {name: {"fqdn": fqdn, "address": "127.0.0.1"}}
    defaults = spec.setdefault("defaults", {})
    defaults["paths"] = {
        "sendmail_mc": f"{w}/sendmail.mc",
        "sendmail_cf": f"{w}/sendmail.cf",
        "starttls_m4": f"{w}/tls/starttls.m4",
        "access": f"{w}/access",
        "access_db": f"{w}/access.db",
    }
    defaults["commands"] = {"restart": None}
    defaults["smtp_port"] = port
    defaults["tls"] = {
        **defaults.get("tls", {}),
        "ca_cert_path": f"{w}/tls",
        "ca_cert": f"{w}/tls/ca.crt",
        "server_cert": f"{w}/tls/server.crt",
        "server_key": f"{w}/tls/server.key",
        "client_cert": f"{w}/tls/client.crt",
        "client_key": f"{w}/tls/client.key",
        "dh_params": f"{w}/tls/dh.pem",
        # Debian's default is true (0640 keys); false lets a test break STARTTLS with chmod
        "group_readable_key": False,
    }
    if release.family != SYSTEM_SENDMAIL.family:
        defaults["sendmail"] = release.family  # what tlsc validates the spec for
    mc = defaults.setdefault("mc", {})
    mc["ostype"] = "linux"
    if release.cf_m4 != SYSTEM_SENDMAIL.cf_m4:
        mc["cf_m4"] = str(release.cf_m4)
    mc["domain"] = None
    mc["defines"] = {
        **mc.get("defines", {}),
        "confDOMAIN_NAME": fqdn,
        "confSERVICE_SWITCH_FILE": f"{w}/service.switch",
        "confDONT_PROBE_INTERFACES": "true",
        "QUEUE_DIR": f"{w}/mqueue",
        "confPID_FILE": f"{w}/sendmail.pid",
        "STATUS_FILE": f"{w}/statistics",
        "ALIAS_FILE": f"{w}/aliases",
        "confCW_FILE": f"{w}/local-host-names",
        "confLOG_LEVEL": "14",
        "confTO_IDENT": "0s",
        "confDELIVERY_MODE": "queueonly",
        # the work directory lies under /tmp, world-writable but sticky
        "confDONT_BLAME_SENDMAIL": "TrustStickyBit",
        "LOCAL_MAILER_PATH": "/bin/true",
        "LOCAL_MAILER_ARGS": "true $u",
    }
    test_features = ["no_default_msa", "nocanonify", "accept_unresolvable_domains"]
    features: list[Any] = list(test_features)
    for feature in mc.get("features", []):
        feature_name = feature if isinstance(feature, str) else feature["name"]
        if feature_name == "access_db":  # must read the map in the work directory
            rest = feature.get("args", [])[1:] if isinstance(feature, dict) else []
            feature = {"name": "access_db", "args": [f"hash -T<TMPF> {w}/access", *rest]}
        if feature_name not in test_features:
            features.append(feature)
    mc["features"] = features
    mc["daemon_options"] = [f"Family=inet, Name=MTA-tlsc, Port={port}, Addr=127.0.0.1"]
    mc["mailers"] = ["local", "smtp"]
    return spec


def greet_pause(ms: int) -> Callable[[dict[str, Any]], None]:
    """A spec edit: FEATURE(greet_pause, ms), and no access entry that lifts it for 127.*."""

    def edit(spec: dict[str, Any]) -> None:
        mc = spec["defaults"]["mc"]
        mc["features"] = [
            f for f in mc["features"] if not (isinstance(f, dict) and f["name"] == "greet_pause")
        ] + [{"name": "greet_pause", "args": [str(ms)]}]
        spec["access"] = [a for a in spec.get("access", []) if not a.startswith("GreetPause:")]

    return edit


class SendmailDaemon:
    """One test daemon: its spec, files, certificates and process."""

    def __init__(
        self,
        ca: ThrowawayCA,
        work: Path,
        port: int,
        spec: dict[str, Any],
        release: SendmailRelease = SYSTEM_SENDMAIL,
        root: Path | None = None,
    ) -> None:
        self.ca = ca
        #: the host root the work directory lies under (`rooted=True`), else None
        self.root = root
        #: the sendmail binary, makemap and cf tree the daemon is built and run with
        self.release = release
        self.work = work
        self.port = port
        self.spec = spec
        #: the spec's host name and fqdn (the daemon's own host name)
        self.host: str = next(iter(spec["hosts"]))
        self.fqdn: str = spec["hosts"][self.host]["fqdn"]
        tls = spec["defaults"]["tls"]
        #: the test CA's certificate (whatever tls.ca_cert says)
        self.ca_cert = work / "tls" / "ca.crt"
        self.server_cert = Path(tls["server_cert"])
        self.server_key = Path(tls["server_key"])
        self.spec_path = work / "cluster.yaml"
        self.cf = Path(spec["defaults"]["paths"]["sendmail_cf"])
        self.pid: int | None = None
        #: (file, host path) pairs bound over the host path for the daemon alone at start
        #: (sendmail_launcher.py --bind), e.g. a test's own /etc/ssl/openssl.cnf
        self.binds: list[tuple[Path, str]] = []
        self._launcher: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str] = queue.Queue()

    # -- files -----------------------------------------------------------------

    def write_spec(self) -> None:
        """Write the spec to `spec_path` and tlsc's compiled files to their paths."""
        with self.spec_path.open("w", encoding="utf-8") as f:
            yaml = YAML(typ="safe", pure=True)
            yaml.default_flow_style = False
            yaml.width = 4096
            yaml.dump(self.spec, f)
        compiled = compile_text(self.spec_path.read_text(encoding="utf-8"), str(self.spec_path))
        if not compiled.ok:
            raise AssertionError(
                "the fixture spec does not validate:\n"
                + "\n".join(f"{p.line}:{p.col}: {p.code} {p.message}" for p in compiled.problems)
            )
        for path, text in compiled.hosts[self.host].items():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")

    def install_server_cert(self, issued: Issued, key_mode: int = 0o600) -> None:
        """Put a server certificate and key where the spec says."""
        issued.write(self.server_cert, self.server_key, key_mode)

    def build(self) -> None:
        """sendmail.cf from sendmail.mc with m4 (any stderr fails), access.db with makemap."""
        paths = self.spec["defaults"]["paths"]
        m4 = subprocess.run(
            ["m4", "-D_NO_MAKEINFO_", paths["sendmail_mc"]],
            capture_output=True,
            text=True,
            check=False,
        )
        if m4.returncode != 0 or m4.stderr:
            raise AssertionError(f"m4 failed (rc {m4.returncode}):\n{m4.stderr}")
        self.cf.write_text(m4.stdout, encoding="utf-8")
        access = Path(paths["access"])
        with access.open("rb") as src:
            mm = subprocess.run(
                [str(self.release.makemap), "-C", str(self.cf), "hash", str(access)],
                stdin=src,
                capture_output=True,
                text=True,
                check=False,
            )
        if mm.returncode != 0:
            raise AssertionError(f"makemap failed (rc {mm.returncode}):\n{mm.stderr}")

    # -- process ---------------------------------------------------------------

    def start(self) -> None:
        """Start the daemon and wait until it listens."""
        assert self._launcher is None, "already running"
        self._lines = queue.Queue()
        self._launcher = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--uts",
                "--propagation",
                "private",
                sys.executable,
                str(LAUNCHER),
                "--work",
                str(self.work),
                "--hostname",
                self.fqdn,
                "--cf",
                str(self.cf),
                "--sendmail",
                str(self.release.sendmail),
                *(f"--bind={source}={target}" for source, target in self.binds),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, args=(self._launcher,), daemon=True).start()
        line = self._expect("pid ")
        self.pid = int(line.split()[1])
        self.wait_listening(set())

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._lines.put(line.strip())
        self._lines.put("eof")

    def _expect(self, prefix: str, timeout: float = START_TIMEOUT) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the daemon launcher said nothing in {timeout} s") from None
        if not line.startswith(prefix):
            raise AssertionError(f"daemon launcher: {line}\n{self.diagnostics()}")
        return line

    def wait_listening(self, old: set[str] | None = None) -> None:
        """Wait until a listening socket not in `old` (inodes) is on the port, e.g. after a HUP."""
        old = old or set()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if listening_inodes(self.port) - old:
                return
            with contextlib.suppress(queue.Empty):
                line = self._lines.get_nowait()
                raise AssertionError(f"daemon launcher: {line}\n{self.diagnostics()}")
            time.sleep(0.01)
        raise AssertionError(f"sendmail is not listening on {self.port}\n{self.diagnostics()}")

    def hup(self) -> None:
        """SIGHUP the daemon (it re-execs, rereading sendmail.cf, certs and keys); wait for it."""
        assert self._launcher is not None and self._launcher.stdin is not None
        old = listening_inodes(self.port)
        self._launcher.stdin.write("hup\n")
        self._launcher.stdin.flush()
        self._expect("ok")
        self.wait_listening(old)

    def stop(self) -> None:
        """Stop the daemon (TERM, then KILL after 5 s) and its launcher."""
        proc, self._launcher = self._launcher, None
        if proc is None:
            return
        with contextlib.suppress(BrokenPipeError, OSError):
            assert proc.stdin is not None
            proc.stdin.write("stop\n")
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if self.pid is not None and _alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
        if proc.stdout is not None:
            proc.stdout.close()
        self.pid = None

    def restart(self) -> None:
        """Rebuild sendmail.cf and access.db from the files on disk, then start afresh."""
        self.stop()
        self.build()
        self.start()

    # -- logs ------------------------------------------------------------------

    def syslog(self) -> list[str]:
        """Every syslog line the daemon wrote so far."""
        path = self.work / "syslog.txt"
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    def wait_for_log(self, pattern: str, timeout: float = 5.0) -> str:
        """The first syslog line matching regex `pattern`, waiting for it up to `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.syslog():
                if re.search(pattern, line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no syslog line matches {pattern!r}:\n" + "\n".join(self.syslog())
                )
            time.sleep(0.02)

    def diagnostics(self) -> str:
        out = self.work / "sendmail.out"
        text = out.read_text(encoding="utf-8", errors="replace") if out.exists() else ""
        return "sendmail output:\n" + text + "syslog:\n" + "\n".join(self.syslog())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="session")
def throwaway_ca() -> ThrowawayCA:
    """One test CA for the whole session."""
    return ThrowawayCA()


DaemonFactory = Callable[..., SendmailDaemon]


@pytest.fixture
def sendmail_daemon(
    throwaway_ca: ThrowawayCA, request: pytest.FixtureRequest
) -> Iterator[DaemonFactory]:
    """A factory of running test daemons; all are stopped and removed afterwards.

    Call it as `sendmail_daemon(edit=None, server_cert=None, key_mode=0o600, start=True)`:
    `edit(spec)` changes the spec dict before it is compiled (see
    `greet_pause()`); `server_cert` is a dict of ThrowawayCA.issue() arguments
    (default: CN and SANs the host's fqdn and 127.0.0.1, valid 30 days);
    `key_mode` is the server key's mode; `start=False` only writes and builds
    the files (for offline checks); `release` is the sendmail to build and
    run (default: the test's `release` fixture of tests/releases.py when it
    takes one, else the system's; realtools.sendmail_818() for 8.18.1); `base`
    is where the work directory is
    made (default /tmp; tlsc apply's tests pass realtools.scratch_base(),
    since makemap warns about maps below world-writable /tmp, and apply
    counts any makemap message as a failure). `rooted=True` puts the work
    directory under a host root of its own, as `tlsc apply --root ROOT` sees a
    host: the work directory's path W, which the spec and sendmail name, is a
    symbolic link to ROOT/W, where the files are (`daemon.root` is ROOT); so an
    apply with --root ROOT writes the files the daemon reads, and takes the lock
    ROOT/run/tlsc-apply.lock, not this machine's /run/tlsc-apply.lock.
    """
    reason = missing_tools()
    if reason:
        pytest.skip(reason)
    daemons: list[SendmailDaemon] = []
    works: list[Path] = []
    roots: list[Path] = []
    default_release: SendmailRelease = (
        request.getfixturevalue("release") if "release" in request.fixturenames else SYSTEM_SENDMAIL
    )

    def make(
        edit: Callable[[dict[str, Any]], None] | None = None,
        server_cert: dict[str, Any] | None = None,
        key_mode: int = 0o600,
        start: bool = True,
        base: Path | None = None,
        release: SendmailRelease | None = None,
        rooted: bool = False,
    ) -> SendmailDaemon:
        release = release or default_release
        reason = missing_tools(release)
        if reason:
            raise AssertionError(f"cannot run sendmail {release.version}: {reason}")
        work = Path(tempfile.mkdtemp(prefix="tlsc-sm-", dir=base or "/tmp"))
        works.append(work)
        root = None
        if rooted:
            root = Path(tempfile.mkdtemp(prefix="tlsc-root-", dir=base or "/tmp"))
            roots.append(root)
            root.chmod(0o755)
            real = root / str(work).lstrip("/")  # where --root ROOT finds host path W
            real.mkdir(parents=True)
            work.rmdir()
            work.symlink_to(real, target_is_directory=True)
        work.chmod(0o755)
        spec = fixture_spec(work, free_port(), release=release)
        if edit is not None:
            edit(spec)
        port = spec["defaults"]["smtp_port"]
        daemon = SendmailDaemon(throwaway_ca, work, port, spec, release, root)
        daemons.append(daemon)
        tls_dir = work / "tls"
        tls_dir.mkdir(mode=0o755)
        (work / "mqueue").mkdir(mode=0o700)
        for name in ("statistics", "local-host-names"):
            (work / name).touch()
        (work / "service.switch").write_text("hosts\t\tfiles\naliases\t\tfiles\n")
        (work / "aliases").write_text("postmaster: root\n")
        (tls_dir / "ca.crt").write_bytes(throwaway_ca.cert_pem)
        (tls_dir / "dh.pem").write_bytes(dh_params_pem())
        args = {"cn": daemon.fqdn, "names": [daemon.fqdn, "127.0.0.1"], **(server_cert or {})}
        daemon.install_server_cert(throwaway_ca.issue(**args), key_mode)
        throwaway_ca.issue("client.tlsc.test", client=True).write(
            tls_dir / "client.crt", tls_dir / "client.key"
        )
        daemon.write_spec()
        daemon.build()
        if start:
            daemon.start()
        return daemon

    try:
        yield make
    finally:
        for daemon in daemons:
            daemon.stop()
        for work in works:
            if work.is_symlink():
                work.unlink()  # its files are under its root
            shutil.rmtree(work, ignore_errors=True)
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)
