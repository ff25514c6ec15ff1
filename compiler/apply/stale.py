"""Built files older than their sources: what apply rebuilds though no file changes.

`sendmail.cf` missing, or older than `sendmail.mc` or `starttls.m4` (someone
edited one by hand and did not build, a build that failed); `access.db`
missing, or older than `access`. Apply rebuilds them (and restarts sendmail
when the rebuilt `sendmail.cf` comes out different), and `plan --root` says so
(P115): both ask this one function, so the plan lists what the apply does.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Set
from dataclasses import dataclass

from compiler.spec.model import Paths

#: the end of a reason for a built file that is no regular file (a directory, a FIFO),
#: which apply refuses to replace: the plan says to remove it (plan/leftover.py)
NOT_REGULAR = "is not a regular file"


@dataclass(frozen=True)
class Stale:
    """Which builds are owed, and why (one phrase each; none when a source changes)."""

    rebuild_cf: bool = False
    cf_reason: str | None = None
    rebuild_access: bool = False
    access_reason: str | None = None


def stale_builds(
    p: Paths, stat_of: Callable[[str], os.stat_result | None], changed: Set[str]
) -> Stale:
    """The rebuilds a host owes: a source in `changed` (the paths apply writes), or a
    built file missing, no regular file (a directory, a FIFO: sendmail reads no
    configuration or map from it) or older than its sources (`stat_of` a host path,
    following links; None when there is none)."""

    def mtime(path: str) -> float | None:
        st = stat_of(path)
        return None if st is None else st.st_mtime

    def built(path: str) -> tuple[float, None] | tuple[None, str]:
        """(its mtime, None) for a built file there, else (None, why it is owed)."""
        st = stat_of(path)
        if st is None:
            return None, f"{path} is missing"
        if not stat.S_ISREG(st.st_mode):
            return None, f"{path} {NOT_REGULAR}"
        return st.st_mtime, None

    rebuild_cf, cf_reason = False, None
    if changed & {p.sendmail_mc, p.starttls_m4}:
        rebuild_cf = True
    else:
        cf_time, cf_reason = built(p.sendmail_cf)
        sources = [t for t in (mtime(p.sendmail_mc), mtime(p.starttls_m4)) if t]
        if cf_time is None:
            rebuild_cf = True
        elif any(t > cf_time for t in sources):
            rebuild_cf, cf_reason = True, f"{p.sendmail_cf} is older than its sources"
    rebuild_access, access_reason = False, None
    if p.access in changed:
        rebuild_access = True
    elif (src_time := mtime(p.access)) is not None:  # none: no map (an adopted host's)
        db_time, access_reason = built(p.access_db)
        if db_time is None:
            rebuild_access = True
        elif src_time > db_time:
            rebuild_access, access_reason = True, f"{p.access_db} is older than {p.access}"
    return Stale(rebuild_cf, cf_reason, rebuild_access, access_reason)
