"""Managed files that are symbolic links: which file apply writes, and the P109 note;
files with other hard links, which apply's replace leaves behind (P116).

observe.resolve_tree finds, for each host path, the file at the end of its
links; this module names those ends as host paths (for the reviewer and for
a saved plan, which apply refuses once a link leads elsewhere) and notes
each link whose end apply will write.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from compiler.plan.model import HostPlan, PlanWarning
from compiler.plan.observe import host_path
from compiler.plan.submit import submit_cf_path
from compiler.resolve import HostConfig


def written_paths(config: HostConfig) -> tuple[str, ...]:
    """Every file apply may write on a host: the managed files, sendmail.cf, access.db and
    submit.cf (rebuilt when its submit.mc includes a file the apply changes)."""
    p = config.settings.paths
    built = {p.sendmail_cf, p.access_db, submit_cf_path(p.sendmail_cf)}
    return tuple(sorted({p.sendmail_mc, p.starttls_m4, p.access, *built}))


def link_ends(base: Path, files: Mapping[str, Path]) -> dict[str, str]:
    """{path: the host path its links lead to}, for each path of `files` that is a link."""
    top = Path(os.path.realpath(base))
    return {
        path: "/" + str(target.relative_to(top))
        for path, target in sorted(files.items())
        if target != host_path(base, path)
    }


def note_links(plan: HostPlan, config: HostConfig, base: Path, files: Mapping[str, Path]) -> None:
    """Record `files`' links on `plan`, with a P109 note for each one apply writes through."""
    p = config.settings.paths
    plan.links = link_ends(base, files)
    actions = {f.path: f.action for f in plan.files if f.action != "unchanged"}
    rebuilds = {a.action for a in plan.actions}
    if "rebuild_access_db" in rebuilds:
        actions[p.access_db] = "update"
    if "rebuild_sendmail_cf" in rebuilds:
        actions[p.sendmail_cf] = "update"
    if "rebuild_submit_cf" in rebuilds:
        actions[submit_cf_path(p.sendmail_cf)] = "update"
    for path, end in plan.links.items():
        action = actions.get(path)
        if action is None:
            continue
        if action == "delete":
            what = f"; apply deletes {end} and keeps the link"
        elif files[path].exists():
            what = f"; apply writes {end} and keeps the link"
        else:
            what = f", which does not exist yet; apply creates {end} and keeps the link"
        plan.warnings.append(PlanWarning("P109", f"{path} is a symbolic link to {end}{what}", path))
    for path in sorted(actions):
        note = _hard_links(path, files[path], plan.links.get(path))
        if note is not None:
            plan.warnings.append(note)


def _hard_links(path: str, target: Path, end: str | None) -> PlanWarning | None:
    """P116 for a file apply replaces that has other hard links: the rename puts a new
    file under this name, and the other names keep the old one's bytes."""
    try:
        st = target.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_nlink < 2:
        return None
    others = st.st_nlink - 1
    name = path if end is None else f"{path} (through its link, {end})"
    return PlanWarning(
        "P116",
        f"{name} has {others} other hard link{'' if others == 1 else 's'}: apply puts a new"
        f" file in its place, so {'that name keeps' if others == 1 else 'those names keep'}"
        " the old content; make the other names symbolic links to it",
        path,
    )
