"""The installed sendmail: the release the spec names, built with what it asks, and
willing to read sendmail.cf.

`sendmail -d0.13 -bt` prints its version ("Version 8.18.1"), the build flags
("Compiled with: ... DANE ... STARTTLS ..."), the FFR flags ("FFR Defines:
... _FFR_MTA_STS ...") and, with `-C FILE`, every error it finds reading
that configuration.
When the host has no sendmail.cf, FILE is an empty one, so the flags are read
without this machine's /etc/mail/sendmail.cf standing in for the host's.
Without a qualified host name sendmail sleeps 60 s before reading its
configuration, so as root it runs in a private UTS namespace whose host name
is the spec host's fqdn (`unshare --uts`); otherwise the flags, which come
first, are read and sendmail is stopped after a few seconds. A run that is
stopped at its timeout is a finding (D033) saying after how long and why,
since the errors in sendmail.cf were then not checked.
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
from compiler.sendmail import releases
from compiler.spec.model import HostSettings

_SEARCH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/lib", "/sbin"])
_CF_ERROR = re.compile(r"^(?P<file>/\S*): line (?P<line>\d+): (?P<msg>.*)$", re.MULTILINE)
TIMEOUT = 10.0
#: without a namespace the flags arrive at once, then sendmail sleeps; stop it then
UNQUALIFIED_TIMEOUT = 3.0


def find_sendmail() -> str | None:
    """The sendmail binary on this machine, if any."""
    return shutil.which("sendmail", path=_SEARCH)


_VERSION = re.compile(r"^Version (\S+)", re.MULTILINE)
_COMPILED = "Compiled with:"
_FFR = "FFR Defines:"
#: what `sendmail -d0.13` must print for what a spec may ask: tls: key -> (heading, flag)s.
#: MTA-STS needs _FFR_MTA_STS and, as its release notes say, the socket map (SOCKETMAP),
#: regex maps (MAP_REGEX: sts.m4's Kstsxmatch ...) and _FFR_TLS_ALTNAMES ({cert_altnames})
NEEDED_FLAGS: dict[str, tuple[tuple[str, str], ...]] = {
    "dane": ((_COMPILED, "DANE"),),
    "mta_sts": (
        (_FFR, "_FFR_MTA_STS"),
        (_FFR, "_FFR_TLS_ALTNAMES"),
        (_COMPILED, "SOCKETMAP"),
        (_COMPILED, "MAP_REGEX"),
    ),
}


def build_flags(output: str, heading: str = _COMPILED) -> set[str]:
    """The words of the `Compiled with:` block (or another `heading`) of `sendmail -d0.13`."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if heading in line:
            words = line.split(heading, 1)[1].split()
            for more in lines[i + 1 :]:
                if not more[:1].isspace() or not more.strip() or ":" in more.split()[0]:
                    break
                words += more.split()
            return set(words)
    return set()


def binary_version(output: str) -> str | None:
    """The `Version 8.18.1` of `sendmail -d0.13` output."""
    m = _VERSION.search(output)
    return m.group(1) if m else None


def check_release(binary: str, output: str, settings: HostSettings, host: str) -> list[Finding]:
    """D034: the binary is not the release the spec names; D035: it lacks what the spec asks."""
    version = binary_version(output)
    flags = build_flags(output)
    out: list[Finding] = []
    target = settings.sendmail
    if version is not None and not releases.binary_satisfies(target, version):
        family = ".".join(version.split(".")[:2])
        # a newer family than a family target has all the spec asks: said, not refused
        newer = target.count(".") == 1 and releases.newer_family(family, target)
        out.append(
            Finding(
                binary,
                "D034",
                "warning" if newer else "error",
                f"{binary} is sendmail {version}, but the spec says host {host} runs"
                f" sendmail: {target}"
                + (
                    f"; tlsc checks it by {target}'s facts, so what {family} adds stays unused"
                    if newer
                    else ""
                ),
                f"set sendmail: {family} for host {host} in the spec"
                + (
                    ""
                    if newer
                    else f", or install sendmail {target} (8.17: Debian 12, 8.18: Debian 13)"
                ),
            )
        )
    if flags:
        tls = settings.tls
        lists = {heading: build_flags(output, heading) for heading in (_COMPILED, _FFR)}
        for key, needed in NEEDED_FLAGS.items():
            if not tls.enabled or not getattr(tls, key):
                continue
            for heading, flag in needed:
                if flag in lists[heading]:
                    continue
                builds = "Debian 13's sendmail-bin" if key == "dane" else "Debian's sendmail-bin"
                out.append(
                    Finding(
                        binary,
                        "D035",
                        "error",
                        f"tls.{key} is on for host {host}, but {binary} was built without"
                        f" {flag} (its '{heading}' list lacks it)",
                        f"install a sendmail built with {flag} ({builds}), or set tls.{key}: false",
                    )
                )
    return out


def release_findings(binary: str, settings: HostSettings, host: str, fqdn: str) -> list[Finding]:
    """check_release of `binary`, run on an empty .cf (what apply's pre-flight asks)."""
    try:
        output, _cut = _run_on(binary, None, fqdn)
    except OSError as exc:
        return [_not_run(binary, exc, "its release", "tlsc apply")]
    return check_release(binary, output, settings, host)


def _run_on(binary: str, cf: Path | None, fqdn: str) -> tuple[str, Finding | None]:
    """`_run` on `cf`, or on an empty .cf: never this machine's sendmail.cf in its place."""
    if cf is not None and cf.is_file():
        return _run(binary, cf, fqdn)
    with tempfile.TemporaryDirectory(prefix="tlsc-doctor-") as tmp:
        empty = Path(tmp) / "empty.cf"
        empty.touch()
        return _run(binary, empty, fqdn)


def _not_run(binary: str, exc: OSError, what: str, command: str) -> Finding:
    return Finding(
        binary,
        "D031",
        "warning",
        f"{binary} could not be run ({exc.strerror}), so {what} was not checked",
        f"run {command} as root on the mail host",
    )


def _command(binary: str, cf: Path | None, fqdn: str) -> tuple[list[str], float, str]:
    """The argv, its timeout, and the host name sendmail will see."""
    argv = [binary, "-d0.13", "-bt"] + (["-C", str(cf)] if cf else [])
    name = socket.gethostname()
    if "." in name:
        return argv, TIMEOUT, name
    unshare = shutil.which("unshare", path=_SEARCH)
    if os.geteuid() == 0 and unshare:
        argv = [unshare, "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', fqdn, *argv]
        return argv, TIMEOUT, fqdn
    return argv, UNQUALIFIED_TIMEOUT, name


def run_sendmail_check(binary: str, cf: Path | None, fqdn: str) -> tuple[str, bool]:
    """The output of `sendmail -d0.13 -bt -C CF`, and whether sendmail finished; without
    `cf` (or with one that is missing) an empty .cf, never this machine's sendmail.cf."""
    output, cut = _run_on(binary, cf, fqdn)
    return output, cut is None


def _run(binary: str, cf: Path | None, fqdn: str) -> tuple[str, Finding | None]:
    """The output, and the finding that says why it was cut short (None: it finished)."""
    argv, timeout, name = _command(binary, cf, fqdn)
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
        output = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        return output, _cut_short(binary, timeout, name, bool(build_flags(output)))
    return proc.stdout + proc.stderr, None


def _cut_short(binary: str, timeout: float, name: str, got_flags: bool) -> Finding:
    """D033: `sendmail -d0.13 -bt` was stopped at `timeout`, and what was not checked."""
    unchecked = "sendmail.cf was" if got_flags else "its STARTTLS support and sendmail.cf were"
    if timeout == UNQUALIFIED_TIMEOUT:
        why = (
            f"this machine's host name {name} is not qualified, and sendmail waits for a"
            " qualified one before it reads sendmail.cf"
        )
        fix = (
            "run tlsc doctor as root (it gives sendmail the spec's fqdn in a private UTS"
            " namespace), or give this machine a qualified host name"
        )
    else:
        why = f"sendmail waits while the host name {name} does not resolve"
        fix = f"make {name} resolve on this machine (a line in /etc/hosts), then run tlsc doctor"
    return Finding(
        binary,
        "D033",
        "warning",
        f"cut short after {timeout:g} s: {binary} -d0.13 -bt did not finish ({why}), so"
        f" {unchecked} not checked for errors",
        fix,
    )


def check_binary(
    cf: Path, fqdn: str, settings: HostSettings | None = None, host: str = ""
) -> list[Finding]:
    """STARTTLS among the build flags (D030), no errors reading sendmail.cf (D032), and,
    given the host's settings, the release and flags they ask for (D034, D035)."""
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
        output, cut = _run_on(binary, cf, fqdn)
    except OSError as exc:
        return [_not_run(binary, exc, "its STARTTLS support", "tlsc doctor")]
    flags = build_flags(output)
    if not flags and cut is not None:
        return [cut]
    if not flags:
        return [
            Finding(
                binary,
                "D031",
                "warning",
                f"{binary} -d0.13 -bt printed no build flags, so its STARTTLS support was"
                " not checked",
                "run tlsc doctor as root on the mail host",
            )
        ]
    out = [] if cut is None else [cut]
    if settings is not None:
        out += check_release(binary, output, settings, host)
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
    if cut is None:
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
