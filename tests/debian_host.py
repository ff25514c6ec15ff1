"""A stock Debian `/etc/mail`, made by the sendmail package's own scripts, and a
private Debian host to run its init script in.

`stock_etc_mail(dest)` runs the package's update scripts (the ones its
postinst runs through update_sendmail: update_conf, update_mc, update_sys,
update_tls, update_db) in a private mount namespace whose `/etc/mail` is a
scratch directory, so the result is exactly what the package writes on a
new install -- and this machine's own `/etc/mail` is neither read nor
touched. newaliases is bound to /bin/true there (it waits a minute for DNS
and builds nothing the tests look at). One tree is made per test session and
copied for each test.

`in_debian_host(etc_mail, script)` runs a shell script as root in private
mount, network, UTS (host name mail1) and PID namespaces: `etc_mail` is bound over /etc/mail, the
spool, run and state directories of sendmail over scratch ones, /etc/hosts
names the host, /run is a scratch directory of its own (so a `tlsc apply` in the
script locks the private host's /run/tlsc-apply.lock, never this machine's, which
another apply may hold), and only a loopback interface exists. The real
`/etc/init.d/sendmail` can start a daemon there on port 25 of that
namespace's 127.0.0.1 -- never the machine's -- and it dies with the
namespace when the script ends.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from realtools import scratch_base

SCRIPTS = Path("/usr/share/sendmail")
UPDATES = ("update_conf", "update_mc", "update_sys", "update_tls", "update_db")
INIT = Path("/etc/init.d/sendmail")
#: the directories of the package's /etc/mail that its scripts expect to exist
_DIRS = ("m4", "peers", "sasl", "smrsh", "tls")
#: what sendmail and its scripts write outside /etc/mail, made private
_PRIVATE = (
    "/etc/cron.d",
    "/var/run/sendmail",
    "/var/spool/mqueue",
    "/var/spool/mqueue-client",
    "/var/lib/sendmail",
)
FQDN = "mail1.example.test"


def why_not() -> str | None:
    """Why a private Debian host cannot be made here (None when it can)."""
    if os.geteuid() != 0:
        return "needs root (private mount and network namespaces)"
    for tool in ("unshare", "ip", "make"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    missing = [s for s in UPDATES if not (SCRIPTS / s).exists()]
    if missing or not INIT.exists():
        return "the Debian sendmail package is not installed"
    return None


def in_debian_host(
    etc_mail: Path, script: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `script` (sh) as root in a private Debian host whose /etc/mail is `etc_mail`."""
    with tempfile.TemporaryDirectory(prefix="deb-", dir=scratch_base()) as tmp:
        work = Path(tmp)
        binds = [f"mount --bind {etc_mail} /etc/mail"]
        for i, target in enumerate(_PRIVATE):
            if Path(target).is_dir():
                (work / f"p{i}").mkdir()
                binds.append(f"mount --bind {work}/p{i} {target}")
        hosts = work / "hosts"
        hosts.write_text(f"127.0.0.1 localhost\n127.0.1.1 {FQDN} mail1\n")
        resolv = work / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\n")  # refused at once: no DNS waits
        binds += [f"mount --bind {hosts} /etc/hosts", f"mount --bind {resolv} /etc/resolv.conf"]
        # last, as it hides a resolv.conf that links into /run (then no DNS either): the
        # init script makes /run/sendmail/{mta,msp} there; tlsc apply locks its own file
        (work / "run").mkdir()
        binds.append(f"mount --bind {work}/run /run")
        prologue = "set -e\n" + "\n".join(binds) + "\nhostname mail1\nip link set lo up\nset +e\n"
        body = work / "script.sh"
        body.write_text(prologue + script)
        return subprocess.run(
            [
                "unshare",
                *("--mount", "--net", "--uts", "--pid", "--fork", "--mount-proc"),
                *("sh", str(body)),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@cache
def _stock_tree() -> Path:
    base = Path(tempfile.mkdtemp(prefix="debian-stock-", dir=scratch_base()))
    atexit.register(shutil.rmtree, base, True)
    etc_mail = base / "etc" / "mail"
    for d in _DIRS:
        (etc_mail / d).mkdir(parents=True)
    updates = "\n".join(f"{SCRIPTS / s} >> /etc/mail/.update.log 2>&1" for s in UPDATES)
    done = in_debian_host(
        etc_mail, "mount --bind /bin/true /usr/libexec/sendmail/newaliases\n" + updates
    )
    if not (etc_mail / "sendmail.mc").exists() or not (etc_mail / "access").exists():
        raise RuntimeError(f"the package's scripts made no /etc/mail: {done.stderr}")
    (etc_mail / ".update.log").unlink()
    return etc_mail


def stock_etc_mail(root: Path) -> Path:
    """ROOT/etc/mail as the Debian package writes it on a new install; returns that dir."""
    dest = root / "etc" / "mail"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(_stock_tree(), dest, symlinks=True)
    return dest
