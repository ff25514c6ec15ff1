"""What `tlsc apply` still owes a host whose files already match the spec: the work
of an apply that died (P114), and builds older than their sources (P115).

An apply killed (kill -9, a power cut) after its writes, before its rebuilds or
its restart, leaves its journal (`.tlsc-apply.pending`, beside `sendmail.mc`),
and the next apply finishes those rebuilds and the restart
(compiler.apply.pending). Every file then matches the spec, so a plan of the
same root (`--root`) that read the files alone would say "no changes" while
sendmail may still run the settings from before the apply, and
`--detailed-exitcode` would tell an automation that applies only on 2 that
there is nothing to do. So the plan names the journal (P114) and lists the
rebuilds and the restart the journal holds.

The same holds for a `sendmail.cf` or `access.db` missing or older than its
sources (compiler.apply.stale, which apply itself asks): apply rebuilds it, and
restarts sendmail when the rebuilt `sendmail.cf` comes out different, so the
plan lists the rebuild (P115).
"""

from __future__ import annotations

import os
from pathlib import Path

from compiler.apply.pending import PENDING_NAME, read_pending
from compiler.apply.stale import NOT_REGULAR, stale_builds
from compiler.plan.model import ActionName, HostPlan, PlannedAction, PlanWarning
from compiler.plan.observe import host_path
from compiler.resolve import HostConfig
from compiler.spec.model import Paths

UNFINISHED = "an interrupted apply did not finish it (P114)"


def _access_rebuild(p: Paths) -> str:
    return f"rebuild {p.access_db} from {p.access} (makemap hash)"


def _cf_rebuild(p: Paths) -> str:
    return f"rebuild {p.sendmail_cf} from {p.sendmail_mc} (m4)"


def note_leftover(plan: HostPlan, config: HostConfig, base: Path) -> None:
    """Add P114, and the rebuilds and restart apply owes the host, when the journal of an
    interrupted apply is under `base`."""
    s = config.settings
    p = s.paths
    here = os.path.dirname(p.sendmail_mc)
    pending = read_pending(host_path(base, here) / PENDING_NAME)
    if pending is None:
        return
    who = (
        f"an apply started {pending.started} (pid {pending.pid})"
        if pending.pid
        else "an apply (its journal is damaged)"
    )
    plan.warnings.append(
        PlanWarning(
            "P114",
            f"{who} did not finish (its journal {here}/{PENDING_NAME} is there): tlsc apply"
            " finishes its rebuilds and the restart, as sendmail may still run the settings"
            " from before it",
            p.sendmail_mc,
        )
    )
    owed: list[tuple[bool, ActionName, str, tuple[str, ...], str | None]] = [
        (
            pending.rebuild_access,
            "rebuild_access_db",
            _access_rebuild(p),
            (p.access_db,),
            None,
        ),
        (
            pending.rebuild_cf,
            "rebuild_sendmail_cf",
            _cf_rebuild(p),
            (p.sendmail_cf,),
            None,
        ),
        (
            pending.restart and bool(s.commands.restart),
            "restart",
            f"restart sendmail: {s.commands.restart}",
            (p.sendmail_cf,),
            s.commands.restart,
        ),
    ]
    have = {a.action for a in plan.actions}
    for wanted, action, description, because, command in owed:
        if wanted and action not in have:
            plan.actions.append(
                PlannedAction(action, f"{description}; {UNFINISHED}", because, command)
            )


def _stat(base: Path, path: str) -> os.stat_result | None:
    try:
        return host_path(base, path).stat()
    except OSError:
        return None


def note_stale(plan: HostPlan, config: HostConfig, base: Path) -> None:
    """Add P115 and the rebuild apply does when a built file under `base` is missing, no
    regular file, or older than its sources while the plan changes none of them."""
    p = config.settings.paths
    changed = {f.path for f in plan.files if f.action != "unchanged"}
    stale = stale_builds(p, lambda path: _stat(base, path), changed)
    have = {a.action for a in plan.actions}
    restart = config.settings.commands.restart
    owed: list[tuple[str | None, ActionName, str, str, str]] = [
        (
            stale.access_reason,
            "rebuild_access_db",
            _access_rebuild(p),
            p.access_db,
            p.access,
        ),
        (
            stale.cf_reason,
            "rebuild_sendmail_cf",
            _cf_rebuild(p)
            + ("; sendmail is restarted if it comes out different" if restart else ""),
            p.sendmail_cf,
            p.sendmail_mc,
        ),
    ]
    for reason, action, description, built, source in owed:
        if reason is None or action in have:
            continue
        # apply replaces only a regular file (or none): a directory there it refuses
        then = (
            "remove it, then tlsc apply rebuilds it"
            if reason.endswith(NOT_REGULAR)
            else "tlsc apply rebuilds it"
        )
        plan.warnings.append(
            PlanWarning("P115", f"{reason}, so sendmail does not run what it holds: {then}", source)
        )
        plan.actions.append(PlannedAction(action, f"{description}; {reason}", (built,), None))
