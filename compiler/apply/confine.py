"""m4 confined to the files a build reads, with Landlock (Linux 5.13 and later).

apply builds sendmail.cf as root, and the .cf is world-readable (0644): a file
m4 includes ends up in it. The include guard of a tlsc .mc (m4text.include_guard)
refuses other files at the m4 level, but m4 code in `mc.extra` can reach m4's
own include under a name it builds at run time (`define(`Z', defn(P`'_include))`),
which no check of the text can see. So apply's m4 also runs under a Landlock
ruleset that lets it read only: the system's programs and libraries (/usr, /lib*)
and tlsc's own Python, the cf tree of the cf.m4 the .mc includes, each other file
the .mc includes by a path written out and the files those include, and a private
temporary directory (m4 puts large diversions there). Anything else (/etc/shadow,
a TLS key, /etc/mail/access) is "Permission denied" to m4, so the build fails and
nothing is installed.

On a kernel without Landlock the ruleset cannot be made and m4 runs as before,
with the include guard alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
import sys
from collections.abc import Callable, Sequence

from compiler.fileio import read_regular
from compiler.sendmail.m4text import included_paths

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same on every arch
_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_READ_FILE, _READ_DIR = 1 << 2, 1 << 3
_PR_SET_NO_NEW_PRIVS = 38

#: what any program needs to start (the loader, its libraries) and nothing secret
SYSTEM = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/etc/ld.so.cache")

try:
    _libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - no C library to call
    _libc = None


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def available() -> bool:
    """True when this kernel can confine a process with Landlock."""
    if _libc is None:
        return False
    return int(_libc.syscall(_CREATE_RULESET, None, 0, _RULESET_VERSION)) >= 1


#: how many files the includes of a .mc may name, followed through the files they name
MAX_INCLUDED = 200


def readable(text: bytes, cwd: str, tmpdir: str) -> list[str]:
    """What an m4 building `text` (a .mc, run in `cwd`) may read: SYSTEM, this Python's
    own tree (a tool wrapped in a script of it), `tmpdir`, the cf tree of each
    `.../m4/cf.m4` it includes and each other file it includes by a path written out
    (relative ones from `cwd`, as m4 finds them), and the files those include."""
    out = [*SYSTEM, *sorted({sys.prefix, sys.base_prefix, sys.exec_prefix}), tmpdir]
    queue: list[bytes] = [text]
    seen: set[str] = set()
    while queue and len(seen) < MAX_INCLUDED:
        lines = queue.pop().decode("utf-8", "surrogateescape").splitlines()
        # the same reading of an include as validation's and import's (quoted or not)
        for name in (p for line in lines for _, p in included_paths(line) if p is not None):
            path = os.path.join(cwd, name)
            if path in seen:
                continue
            seen.add(path)
            if path.endswith("/m4/cf.m4"):
                out.append(os.path.dirname(os.path.dirname(path)))
                continue
            out.append(path)
            with contextlib.suppress(OSError, ValueError):
                queue.append(read_regular(path, 1 << 20))
    return out


def confined(paths: Sequence[str]) -> Callable[[], None]:
    """A preexec_fn step: this child (and the m4 it becomes) may read only below
    `paths` (a file: that file). Missing paths are passed over; without Landlock it
    does nothing."""

    def confine() -> None:  # pragma: no cover - runs in the child
        if _libc is None:
            return
        handled = ctypes.c_uint64(_READ_FILE | _READ_DIR)
        ruleset = int(_libc.syscall(_CREATE_RULESET, ctypes.byref(handled), 8, 0))
        if ruleset < 0:
            return  # no Landlock here: the include guard alone
        try:
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
                    rule = _PathBeneath(_READ_FILE | (_READ_DIR if is_dir else 0), fd)
                    _libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
                finally:
                    os.close(fd)
            _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
            if int(_libc.syscall(_RESTRICT_SELF, ruleset, 0)) != 0:
                os._exit(126)  # made, yet not applied: never run m4 unconfined then
        finally:
            os.close(ruleset)

    return confine
