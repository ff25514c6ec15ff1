"""The plan for a person at a terminal.

Hosts with the same changes are printed once. Diffs are printed exactly,
unindented, so they can be copied into `patch`; colour (ANSI) only when asked
for, which the command does only on a terminal without NO_COLOR.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TextIO

from compiler import problems
from compiler.plan.formats.grouping import (
    HostGroup,
    certificates_not_read,
    expiry_text,
    group_hosts,
    merged_certificates,
    merged_downgrades,
    merged_mail_impact,
)
from compiler.plan.model import (
    OWED,
    AccessDiff,
    CertificateFacts,
    FileChange,
    MailImpact,
    Plan,
    PlanWarning,
)
from compiler.plan.peers import about

#: entries of the access map listed per group; the rest are counted
MAX_ACCESS_LINES = 50
#: certificates expiring within this many days are highlighted
SOON_DAYS = 14

_STYLE = {
    "bold": "\033[1m",
    "add": "\033[32m",
    "del": "\033[31m",
    "hunk": "\033[36m",
    "warn": "\033[33m",
    "danger": "\033[1;31m",
    "dim": "\033[2m",
}
_RESET = "\033[0m"
_ACTION_STYLE = {"create": "add", "update": "warn", "delete": "del", "unchanged": "dim"}


class _Out:
    def __init__(self, color: bool):
        self.color = color
        self.lines: list[str] = []

    def style(self, text: str, style: str) -> str:
        return f"{_STYLE[style]}{text}{_RESET}" if self.color and text else text

    def add(self, text: str = "", style: str | None = None) -> None:
        self.lines.append(self.style(text, style) if style else text)


def want_color(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (to anything but "")."""
    return stream.isatty() and not environ.get("NO_COLOR")


def printable(text: str) -> str:
    """Control characters (C0 but tab, C1, bidi) shown as escapes, so a value from a host's
    file or a log cannot move the cursor, colour the terminal or reorder the line."""
    return problems.printable(text, "\t")


def count_actions(plan: Plan) -> Counter[str]:
    """How many files would be created, updated, deleted (over all hosts)."""
    return Counter(f.action for h in plan.hosts for f in h.files if f.action != "unchanged")


def summary(plan: Plan) -> str:
    """One sentence: how much changes where."""
    if not plan.hosts:
        return "Plan: no hosts."
    counts = count_actions(plan)
    changed = [h for h in plan.hosts if h.changes]
    same = len(plan.hosts) - len(changed)
    if not changed:
        owed = [h for h in plan.hosts if any(w.code in OWED for w in h.warnings)]
        if owed:  # every file matches, but apply still rebuilds (--root: P114, P115)
            return (
                f"Plan: no file changes on {_n(len(plan.hosts), 'host')}; apply still has"
                f" rebuilds to do on {_n(len(owed), 'host')} (see its warnings)."
            )
        return f"Plan: no changes on {_n(len(plan.hosts), 'host')}."
    return (
        f"Plan: {_n(plan.changes, 'file change')} on {_n(len(changed), 'host')}"
        f" ({counts['create']} to create, {counts['update']} to update,"
        f" {counts['delete']} to delete); {_n(same, 'host')} unchanged."
    )


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _diff(out: _Out, diff: str) -> None:
    # the host's lines as markdown and lint --diff show them: a control character escaped
    for number, line in enumerate(problems.printable(diff.rstrip("\n"), "\t\n").split("\n")):
        if number < 2 and line.startswith(("--- ", "+++ ")):
            out.add(line, "bold")
        elif line.startswith("@@"):
            out.add(line, "hunk")
        elif line.startswith("+"):
            out.add(line, "add")
        elif line.startswith("-"):
            out.add(line, "del")
        else:
            out.add(line)


def _files(out: _Out, files: list[FileChange], hashes: bool) -> None:
    width = max((len(f.action) for f in files), default=0)
    path_width = max((len(f.path) for f in files), default=0)
    for f in files:
        line = f"  {out.style(f.action.ljust(width), _ACTION_STYLE[f.action])}  {printable(f.path)}"
        if hashes and f.action != "unchanged":
            line = line.ljust(len(line) + path_width - len(f.path))
            line += out.style(f"  {_short(f.before_sha256)} -> {_short(f.after_sha256)}", "dim")
        out.add(line)


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "(none)"


def _access(out: _Out, access: AccessDiff, created: bool) -> None:
    if not access:
        return
    out.add(
        f"  access map: {len(access.added)} added, {len(access.removed)} removed,"
        f" {len(access.changed)} changed"
    )
    if created:
        return
    rows = (
        [("+", a.key, printable(a.value), "add") for a in access.added]
        + [("-", r.key, printable(r.value), "del") for r in access.removed]
        + [
            ("~", c.key, f"{printable(c.before.value)} -> {printable(c.after.value)}", "warn")
            for c in access.changed
        ]
    )
    for sign, key, value, style in rows[:MAX_ACCESS_LINES]:
        words = about(key)
        note = f"  {out.style(f'({printable(words)})', 'dim')}" if words and sign != "-" else ""
        out.add(f"    {out.style(sign, style)} {printable(key)}  {value}{note}")
    if len(rows) > MAX_ACCESS_LINES:
        out.add(f"    ... and {len(rows) - MAX_ACCESS_LINES} more (--format json lists them all)")


def _warning(out: _Out, w: PlanWarning) -> None:
    number = next((x.line for x in w.lines if x.side == "after"), None)
    number = number or next((x.line for x in w.lines), None)
    path = printable(w.path or "")
    where = f"{path}:{number}: " if path and number else f"{path}: " if path else ""
    kind = out.style("downgrade" if w.downgrade else "warning", "danger" if w.downgrade else "warn")
    out.add(f"    {where}{kind}: {w.code} {printable(w.message)}")
    for line in w.lines:
        sign = "-" if line.side == "before" else "+"
        out.add(f"        {sign} line {line.line}: {printable(line.text)}")


def _group(out: _Out, group: HostGroup) -> None:
    plan = group.plan
    title = group.label()
    if len(group.hosts) > 1:
        note = f"{len(group.hosts)} hosts with the same changes; shown for {group.hosts[0]}"
        if group.names_differ:
            note += ", other hosts' header lines name themselves"
        title += f" ({note})"
    out.add(title, "bold")
    _files(out, plan.files, hashes=len(group.hosts) == 1)
    for f in plan.files:
        if f.diff:
            out.add()
            _diff(out, f.diff)
    if any(f.diff for f in plan.files):
        out.add()
    created = any(f.path == plan.access_path and f.action == "create" for f in plan.files)
    _access(out, plan.access, created=created)
    if plan.actions:
        out.add("  apply would:")
        for action in plan.actions:
            out.add(f"    {printable(action.description)}")
    if plan.warnings:
        out.add("  warnings:")
        for w in plan.warnings:
            _warning(out, w)


def certificate_line(facts: CertificateFacts) -> str:
    """One certificate's facts (or why there are none): never its contents."""
    where = f"{facts.role}  {printable(facts.path)}"
    if facts.error:
        sha = f"  sha256 {_short(facts.sha256)}" if facts.sha256 else ""
        return f"{where}  {printable(facts.error)}{sha}"
    bundle = f" (first of {facts.count})" if facts.count > 1 else ""
    return (
        f"{where}  {printable(facts.subject or '')}{bundle}  issuer {printable(facts.issuer or '')}"
        f"  {expiry_text(facts)}  sha256 {_short(facts.sha256)}"
    )


def _certificates(out: _Out, plan: Plan) -> None:
    rows = merged_certificates(plan.hosts)
    not_read = certificates_not_read(plan.hosts)
    if not rows and not not_read:
        return
    out.add()
    out.add("Certificates (subject, issuer, expiry, sha256 of the file; never contents):", "bold")
    for hosts, facts in rows:
        style = None
        if facts.error and not facts.error.startswith("not readable"):
            style = "danger"
        elif facts.days_left is not None and facts.days_left <= SOON_DAYS:
            style = "danger" if facts.days_left < 0 else "warn"
        line = certificate_line(facts)
        out.add(f"  {', '.join(hosts)}  {out.style(line, style) if style else line}")
    if not_read:
        out.add(
            f"  not read: {', '.join(not_read)} (the state tree holds none of their"
            " certificate files)",
            "dim",
        )


def mail_impact_line(m: MailImpact) -> str:
    """`+ TLS_Srv:x VERIFY: would have deferred ...` (`~ KEY OLD -> NEW: ...` for a change)."""
    if m.change == "changed":
        return (
            f"~ {printable(m.key)} {printable(m.old or '')} -> {printable(m.value)}:"
            f" {printable(m.summary)}"
        )
    return f"+ {printable(m.key)} {printable(m.value)}: {printable(m.summary)}"


def _mail_impact(out: _Out, plan: Plan) -> None:
    logs = plan.mail_logs
    if logs is None:
        return
    out.add()
    out.add(
        f"Mail in the logs ({_n(logs.files, 'file')}, {_n(logs.sessions, 'session')}) that"
        " each added or changed TLS rule would have stopped, on the host's new access map:",
        "bold",
    )
    rows = merged_mail_impact(plan.hosts)
    if not rows:
        out.add("  no TLS rule is added or changed", "dim")
    for names, impacts in rows:
        out.add(f"  {', '.join(names)}")
        for m in impacts:
            out.add(f"    {mail_impact_line(m)}", "danger" if m.stopped else None)
    if logs.unknown_hosts:
        named = ", ".join(f"{h} ({n})" for h, n in sorted(logs.unknown_hosts.items()))
        out.add(f"  sessions of hosts not in the spec, not counted: {printable(named)}", "warn")


def render(plan: Plan, color: bool = False) -> str:
    """The plan as text; `color` adds ANSI colours."""
    out = _Out(color)
    observed = printable(plan.observed.describe())
    out.add(f"tlsc plan for {printable(plan.spec)}, compared with {observed}", "bold")
    groups = group_hosts(plan.hosts)
    quiet = [g for g in groups if g.unchanged]
    for group in groups:
        if group.unchanged:
            continue
        out.add()
        _group(out, group)
    if quiet:
        out.add()
        names = ", ".join(h for g in quiet for h in g.hosts)
        out.add(f"No changes: {names}", "dim")
    _mail_impact(out, plan)
    _certificates(out, plan)
    out.add()
    out.add(summary(plan), "bold")
    downgrades = merged_downgrades(plan.hosts)
    if downgrades:
        hosts = {h for names, _ in downgrades for h in names}
        verb = "weakens" if len(downgrades) == 1 else "weaken"
        out.add(
            f"{_n(len(downgrades), 'change')} {verb} TLS on {_n(len(hosts), 'host')}"
            " (the downgrade lines above); tlsc apply will need --allow-downgrade.",
            "danger",
        )
    return "\n".join(out.lines) + "\n"
