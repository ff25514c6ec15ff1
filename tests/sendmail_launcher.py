"""Run one sendmail daemon for a test, inside private mount and UTS namespaces.

Started by sendmail_fixture.py as

    unshare --mount --uts --propagation private python3 sendmail_launcher.py \
        --work W --hostname FQDN --cf W/sendmail.cf --tag TAG

Inside the namespaces it (1) sets a qualified host name, or every sendmail
invocation sleeps 60 s; (2) gives the namespace a private /dev that still has
the real device nodes plus our own /dev/log, and appends every syslog message
to W/syslog.txt; (3) binds W/etc-mail, holding only W/service.switch, over
/etc/mail: sendmail reads /etc/mail/service.switch before its -C file, and the
.cf's defaults (relay-domains, ...) are read from there, so the daemon never
sees this machine's /etc/mail; (3b) binds each `--bind SRC=DST` file over
DST (a test's own /etc/ssl/openssl.cnf, which the daemon's OpenSSL reads:
sendmail clears its environment, so OPENSSL_CONF cannot point it elsewhere);
(4) starts `/usr/sbin/sendmail -bD` (full path, so SIGHUP can re-exec it;
`--sendmail PATH` runs another release's binary) with stdin from /dev/null.

It talks to the fixture over stdin/stdout, one line each:
  out: "pid N" once the daemon runs, "exited RC" if it ever exits by itself;
  in:  "hup" (SIGHUP the daemon, answered "ok"), "stop" or end of input
       (stop the daemon and leave). SIGTERM, and the death of the test
       process (PR_SET_PDEATHSIG), also stop it. The mounts vanish with the
       namespace; the fixture removes W afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

SENDMAIL = "/usr/sbin/sendmail"
DEVICES = ("null", "zero", "random", "urandom", "tty", "full")
PR_SET_PDEATHSIG = 1


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def die_with_parent() -> None:
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        sys.exit(1)


def private_dev(work: Path) -> None:
    dev = work / "dev"
    dev.mkdir(exist_ok=True)
    for name in DEVICES:
        (dev / name).touch()
        subprocess.run(["mount", "--bind", f"/dev/{name}", str(dev / name)], check=True)
    subprocess.run(["mount", "--rbind", str(dev), "/dev"], check=True)


def private_etc_mail(work: Path) -> None:
    etc_mail = work / "etc-mail"
    etc_mail.mkdir(exist_ok=True)
    (etc_mail / "service.switch").write_bytes((work / "service.switch").read_bytes())
    if Path("/etc/mail").is_dir():  # else there is nothing of this machine's to read
        subprocess.run(["mount", "--bind", str(etc_mail), "/etc/mail"], check=True)


def syslog_sink(out: Path) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    with contextlib.suppress(FileNotFoundError):  # left by an earlier run (restart)
        os.unlink("/dev/log")
    sock.bind("/dev/log")
    os.chmod("/dev/log", 0o666)

    def run() -> None:
        with out.open("a", buffering=1, encoding="utf-8") as f:
            while True:
                data = sock.recv(65536)
                text = data.decode("utf-8", "replace").rstrip("\x00\n")
                f.write(time.strftime("%H:%M:%S ") + text + "\n")

    threading.Thread(target=run, daemon=True).start()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--hostname", required=True)
    ap.add_argument("--cf", required=True)
    ap.add_argument("--tag", default="tlsc-test")
    ap.add_argument("--sendmail", default=SENDMAIL, help="the binary (another release's)")
    ap.add_argument(
        "--bind",
        action="append",
        default=[],
        metavar="SRC=DST",
        help="bind file SRC over DST for the daemon alone (e.g. /etc/ssl/openssl.cnf)",
    )
    args = ap.parse_args()

    die_with_parent()
    socket.sethostname(args.hostname)
    private_dev(args.work)
    private_etc_mail(args.work)
    for bind in args.bind:
        source, _, target = bind.partition("=")
        subprocess.run(["mount", "--bind", source, target], check=True)
    (args.work / "syslog.txt").touch()
    syslog_sink(args.work / "syslog.txt")

    with (args.work / "sendmail.out").open("ab") as log:
        daemon = subprocess.Popen(
            [args.sendmail, "-C", args.cf, "-bD", "-L", args.tag],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    stopping = threading.Event()

    def stop(*_: Any) -> None:
        stopping.set()
        if daemon.poll() is None:
            daemon.terminate()
            try:
                daemon.wait(5)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)

    def watch() -> None:
        rc = daemon.wait()
        if not stopping.is_set():
            say(f"exited {rc}")

    threading.Thread(target=watch, daemon=True).start()
    say(f"pid {daemon.pid}")
    for line in sys.stdin:
        command = line.strip()
        if command == "hup":
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGHUP)
            say("ok")
        elif command == "stop":
            break
    stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
