"""Whether sendmail accepts a TLS file: its safefile() rules, checked from outside.

sendmail 8.17 (tls.c `inittls`, safefile.c) opens every certificate, key,
CA, DH and CRL file with SFF_REGONLY | SFF_SAFEDIRPATH | SFF_NOGWFILES |
SFF_NOWWFILES | SFF_MUSTOWN | SFF_ROOTOK | SFF_OPENASROOT, and a private key
also with SFF_NORFILES (no group or other read), relaxed to SFF_NOWRFILES
(no other read) by DontBlameSendmail=GroupReadableKeyFile. So:

* every directory from / down to the file may not be writable by its group
  (unless GroupWritableDirPathSafe) or by others, except a sticky directory
  under TrustStickyBit; symbolic links are followed and their targets checked;
* the file is a regular file, owned by root or TrustedUser, readable by its
  owner, writable by neither group nor others;
* a key is readable by neither group nor others (group allowed with
  GroupReadableKeyFile).

A file that fails is skipped by sendmail with one syslog line; for the
server's files that means no STARTTLS at all.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from compiler.doctor.finding import Finding
from compiler.tlsfiles import Role

__all__ = ["Role", "SafetyRules", "check_directories", "check_file", "check_key_mode"]


@dataclass(frozen=True)
class SafetyRules:
    """The parts of the running configuration that decide what is safe."""

    dont_blame: frozenset[str]  # DontBlameSendmail flags, lower case
    trusted_user: str | None  # TrustedUser
    group_readable_key_setting: bool  # tls.group_readable_key in the spec

    @property
    def trusted_uids(self) -> frozenset[int]:
        """root, plus TrustedUser when it exists here."""
        uids = {0}
        if self.trusted_user:
            with contextlib.suppress(KeyError):
                uids.add(
                    int(self.trusted_user)
                    if self.trusted_user.isascii() and self.trusted_user.isdigit()
                    else pwd.getpwnam(self.trusted_user).pw_uid
                )
        return frozenset(uids)

    def allows(self, flag: str) -> bool:
        """True when DontBlameSendmail holds `flag` (case-insensitive)."""
        return flag.lower() in self.dont_blame


def check_directories(path: Path, root: Path, rules: SafetyRules, role: Role) -> list[Finding]:
    """The first unsafe directory between `root` and `path`'s parent (sendmail stops there)."""
    unsafe = _unsafe_directory(path.parent, root, rules, depth=0)
    if unsafe is None:
        return []
    directory, mode = unsafe
    if mode & stat.S_IWOTH:
        who, fix = "everyone", f"chmod o-w {directory}"
        if mode & stat.S_ISVTX:
            fix += " (or, since it is sticky, add TrustStickyBit to DontBlameSendmail)"
    else:
        who = "its group"
        fix = f"chmod g-w {directory}, or add GroupWritableDirPathSafe to DontBlameSendmail"
    return [
        Finding(
            str(path),
            "D006",
            role.severity,
            f"{role.label} lies under {directory}, which {who} can write (mode"
            f" {stat.S_IMODE(mode):04o}), {role.refused('the file')}",
            fix,
        )
    ]


def _unsafe_directory(
    directory: Path, root: Path, rules: SafetyRules, depth: int
) -> tuple[Path, int] | None:
    if depth > 20:  # a symbolic link loop; stat() would fail on the file anyway
        return None
    bad_bits = stat.S_IWOTH
    if not rules.allows("GroupWritableDirPathSafe"):
        bad_bits |= stat.S_IWGRP
    try:
        parts = directory.relative_to(root).parts
    except ValueError:  # a link that leads out of --root: not this host's business
        return None
    # sendmail checks / itself too; under --root, DIR itself is not the host's
    candidates = [root] if root == Path("/") else []
    here = root
    for part in parts:
        here = here / part
        candidates.append(here)
    for here in candidates:
        try:
            st = here.lstat()
        except OSError:
            return None  # missing: reported as a missing file
        if stat.S_ISLNK(st.st_mode):
            link = os.readlink(here)
            target = root / link.lstrip("/") if link.startswith("/") else here.parent / link
            found = _unsafe_directory(Path(os.path.normpath(target)), root, rules, depth + 1)
            if found is not None:
                return found
            continue
        sticky_ok = rules.allows("TrustStickyBit") and st.st_mode & stat.S_ISVTX
        if st.st_mode & bad_bits and not sticky_ok:
            return here, st.st_mode
    return None


def check_file(path: Path, role: Role, rules: SafetyRules) -> list[Finding]:
    """Existence, type, owner and mode of one TLS file, as sendmail judges them."""
    sev = role.severity
    try:
        st = path.stat()
    except FileNotFoundError:
        return [
            Finding(
                str(path),
                "D001",
                sev,
                f"{role.label} ({role.setting}) does not exist, so {role.consequence}",
                f"install it at {path}, or point {role.setting} at the right file",
            )
        ]
    except OSError as exc:
        return [
            Finding(
                str(path),
                "D001",
                sev,
                f"{role.label} cannot be examined: {exc.strerror}",
                "run tlsc doctor as root",
            )
        ]
    if not stat.S_ISREG(st.st_mode):
        return [
            Finding(
                str(path),
                "D002",
                sev,
                f"{role.label} is not a regular file, so sendmail refuses it and"
                f" {role.consequence}",
                f"make {role.setting} name a regular file",
            )
        ]
    mode = stat.S_IMODE(st.st_mode)
    out: list[Finding] = []
    if st.st_uid not in rules.trusted_uids:
        owners = "root" + (f" or {rules.trusted_user}" if rules.trusted_user else "")
        out.append(
            Finding(
                str(path),
                "D003",
                sev,
                f"{role.label} is owned by uid {st.st_uid}, not {owners}, {role.refused()}",
                f"chown root {path}",
            )
        )
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        who = "everyone" if mode & stat.S_IWOTH else "its group"
        out.append(
            Finding(
                str(path),
                "D004",
                sev,
                f"{role.label} is writable by {who} (mode {mode:04o}), {role.refused()}",
                f"chmod go-w {path}",
            )
        )
    if not mode & stat.S_IRUSR:
        out.append(
            Finding(
                str(path),
                "D007",
                sev,
                f"{role.label} is not readable by its owner (mode {mode:04o}), {role.refused()}",
                f"chmod u+r {path}",
            )
        )
    if role.key:
        out += _key_mode(path, mode, role, rules)
    return out


def check_key_mode(path: Path, role: Role, rules: SafetyRules) -> list[Finding]:
    """The key's read rules alone, for a file already checked in another role (a
    certificate file that holds the key too: sendmail opens it as the key as well)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return []
    return _key_mode(path, mode, role, rules)


def _key_mode(path: Path, mode: int, role: Role, rules: SafetyRules) -> list[Finding]:
    group_ok = rules.allows("GroupReadableKeyFile")
    if mode & stat.S_IROTH:
        target = "640" if group_ok else "600"
        return [
            Finding(
                str(path),
                "D005",
                role.severity,
                f"{role.label} is readable by everyone (mode {mode:04o}), so sendmail refuses"
                f" it and {role.consequence}",
                f"chmod {target} {path}",
            )
        ]
    if mode & stat.S_IRGRP and not group_ok:
        why = (
            "tls.group_readable_key is false"
            if not rules.group_readable_key_setting
            else "sendmail.cf was built without it"
        )
        return [
            Finding(
                str(path),
                "D005",
                role.severity,
                f"{role.label} is readable by its group (mode {mode:04o}) and DontBlameSendmail"
                f" lacks GroupReadableKeyFile ({why}), so sendmail refuses it and"
                f" {role.consequence}",
                f"chmod 600 {path}, or set tls.group_readable_key: true and run tlsc apply",
            )
        ]
    return []
