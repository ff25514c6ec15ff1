"""The installed sendmail: built with STARTTLS, and willing to read sendmail.cf.

`sendmail -d0.1 -bt` prints the build flags ("Compiled with: ... STARTTLS
...") and, with `-C FILE`, every error it finds reading that configuration.
When the host has no sendmail.cf, FILE is an empty one, so the flags are read
without this machine's /etc/mail/sendmail.cf standing in for the host's.
Without a qualified host name sendmail sleeps 60 s before reading its
configuration, so as root it runs in a private UTS namespace whose host name
is the spec host's fqdn (`unshare --uts`); otherwise the flags, which come
first, are read and sendmail is stopped after a few seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from compiler.doctor.finding import Finding

_SEARCH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/lib", "/sbin"])
_CF_ERROR = re.compile(r"^(?P<file>/\S*): line (?P<line>\d+): (?P<msg>.*)$", re.MULTILINE)
TIMEOUT = 10.0
#: without a namespace the flags arrive at once, then sendmail sleeps; stop it then
UNQUALIFIED_TIMEOUT = 3.0


def find_sendmail() -> str | None:
    """The sendmail binary on this machine, if any."""
    return shutil.which("sendmail", path=_SEARCH)


def build_flags(output: str) -> set[str]:
    """The words of the `Compiled with:` block of `sendmail -d0.1` output."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if "Compiled with:" in line:
            words = line.split("Compiled with:", 1)[1].split()
            for more in lines[i + 1 :]:
                if not more[:1].isspace() or not more.strip():
                    break
                words += more.split()
            return set(words)
    return set()


def _command(binary: str, cf: Path | None, fqdn: str) -> tuple[list[str], float]:
    argv = [binary, "-d0.1", "-bt"] + (["-C", str(cf)] if cf else [])
    if "." in socket.gethostname():
        return argv, TIMEOUT
    unshare = shutil.which("unshare", path=_SEARCH)
    if os.geteuid() == 0 and unshare:
        return [unshare, "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', fqdn, *argv], TIMEOUT
    return argv, UNQUALIFIED_TIMEOUT


def run_sendmail_check(binary: str, cf: Path | None, fqdn: str) -> tuple[str, bool]:
    """The output of `sendmail -d0.1 -bt [-C cf]`, and whether sendmail finished."""
    argv, timeout = _command(binary, cf, fqdn)
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        # POSIX hands over what was read so far as bytes, even in text mode
        raw = exc.stdout or b""
        return (raw.decode(errors="replace") if isinstance(raw, bytes) else raw), False
    return proc.stdout + proc.stderr, True


def check_binary(cf: Path, fqdn: str) -> list[Finding]:
    """STARTTLS among the build flags (D030), and no errors reading sendmail.cf (D032)."""
    binary = find_sendmail()
    if binary is None:
        return [
            Finding(
                "sendmail",
                "D031",
                "warning",
                "sendmail is not installed here, so its STARTTLS support was not checked",
                "run tlsc doctor on the mail host",
            )
        ]
    try:
        if cf.is_file():
            output, finished = run_sendmail_check(binary, cf, fqdn)
        else:  # an empty .cf: never this machine's /etc/mail/sendmail.cf in its place
            with tempfile.TemporaryDirectory(prefix="tlsc-doctor-") as tmp:
                empty = Path(tmp) / "empty.cf"
                empty.touch()
                output, finished = run_sendmail_check(binary, empty, fqdn)
    except OSError as exc:
        return [
            Finding(
                binary,
                "D031",
                "warning",
                f"{binary} could not be run ({exc.strerror}), so its STARTTLS support was"
                " not checked",
                "run tlsc doctor as root on the mail host",
            )
        ]
    flags = build_flags(output)
    if not flags:
        return [
            Finding(
                binary,
                "D031",
                "warning",
                f"{binary} -d0.1 -bt printed no build flags, so its STARTTLS support was"
                " not checked",
                "run tlsc doctor as root on the mail host",
            )
        ]
    out = []
    if "STARTTLS" not in flags:
        out.append(
            Finding(
                binary,
                "D030",
                "error",
                f"{binary} was built without STARTTLS, so it cannot offer TLS whatever its"
                " configuration says",
                "install a sendmail built with STARTTLS (Debian: sendmail-bin)",
            )
        )
    if finished:
        for m in _CF_ERROR.finditer(output):
            out.append(
                Finding(
                    f"{m.group('file')}:{m.group('line')}",
                    "D032",
                    "error",
                    f"sendmail reports: {m.group('msg').strip()}",
                    "fix the spec or the .mc it came from, rebuild sendmail.cf (tlsc apply)"
                    " and restart sendmail",
                )
            )
    return out
