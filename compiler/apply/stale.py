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

    def not_built(path: str) -> str | None:
        st = stat_of(path)
        if st is None:
            return f"{path} is missing"
        return None if stat.S_ISREG(st.st_mode) else f"{path} is not a regular file"

    rebuild_cf, cf_reason = False, None
    if changed & {p.sendmail_mc, p.starttls_m4}:
        rebuild_cf = True
    else:
        cf_time = mtime(p.sendmail_cf)
        sources = [t for t in (mtime(p.sendmail_mc), mtime(p.starttls_m4)) if t]
        if (why := not_built(p.sendmail_cf)) is not None:
            rebuild_cf, cf_reason = True, why
        elif any(t > cf_time for t in sources if cf_time is not None):
            rebuild_cf, cf_reason = True, f"{p.sendmail_cf} is older than its sources"
    rebuild_access, access_reason = False, None
    if p.access in changed:
        rebuild_access = True
    else:
        db_time, src_time = mtime(p.access_db), mtime(p.access)
        if src_time is None:
            pass  # no access file (an adopted host's, none of tlsc's entries): no map
        elif (why := not_built(p.access_db)) is not None:
            rebuild_access, access_reason = True, why
        elif db_time is not None and src_time > db_time:
            rebuild_access, access_reason = True, f"{p.access_db} is older than {p.access}"
    return Stale(rebuild_cf, cf_reason, rebuild_access, access_reason)
