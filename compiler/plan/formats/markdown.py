"""The plan as a pull-request comment (GitHub-flavoured markdown).

The first line is a hidden marker, `<!-- tlsc-plan: SPEC -->`, so that a CI
job can find the comment it posted before and edit it instead of adding one
per push. Downgrades come first, then a table of hosts, the certificates'
facts (collapsed), then each group's diffs collapsed in a `<details>` block.
GitHub refuses comments over 65,536 characters (and the CI step posting one
would fail), so everything after the summary is charged to one budget: diffs
that do not fit are replaced by a line saying how to see them, table rows and
hosts' details that do not fit by a count, and a list of host names is cut
(`mx1, mx2, … and 998 more`).
"""

from __future__ import annotations

import html
import re

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
from compiler.plan.formats.text import count_actions, printable
from compiler.plan.model import AccessDiff, HostPlan, Plan, PlanWarning
from compiler.plan.peers import about

#: the size the whole comment is kept under (GitHub's limit is 65,536)
MAX_CHARS = 60_000
#: room kept for the lines that follow the diffs
_RESERVE = 4_000
MAX_DOWNGRADES_LISTED = 30
MAX_ACCESS_LISTED = 30
MAX_CERTIFICATES_LISTED = 50
#: the most characters of host names one label shows before "… and N more"
MAX_LABEL_CHARS = 400
_SHORT_ACTION = {
    "rebuild_access_db": "rebuild access.db",
    "rebuild_sendmail_cf": "rebuild sendmail.cf",
    "rebuild_submit_cf": "rebuild submit.cf",
    "restart": "restart sendmail",
    "run_after": "run commands.after",
}


def marker(spec: str) -> str:
    """The hidden first line that identifies this spec's plan comment."""
    return f"<!-- tlsc-plan: {spec.replace('--', '-')} -->"


#: a `|` in a table cell, as GitHub's table reader takes it
_PIPE = "\\|"


def code(text: str, cell: bool = False) -> str:
    """`text` as an inline code span, safe whatever backticks it holds; in a table
    `cell`, each `|` escaped (GitHub's table reader takes `\\|` for a `|`, where a code
    span anywhere else shows the backslash)."""
    text = printable(text)
    if cell:
        text = text.replace("|", _PIPE)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=0)
    return "`" * max(3, longest + 1)


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _files_cell(plan: HostPlan) -> str:
    changed = [f for f in plan.files if f.action != "unchanged"]
    if not changed:
        return "no changes"
    return "<br>".join(f"{f.action} {code(f.path, cell=True)}" for f in changed)


def _access_cell(access: AccessDiff) -> str:
    if not access:
        return ""
    return f"+{len(access.added)} −{len(access.removed)} ~{len(access.changed)}"


def _warning_line(hosts: str, w: PlanWarning) -> str:
    where = f" {code(w.path)}" if w.path else ""
    lines = "".join(
        f"<br>&nbsp;&nbsp;{'−' if x.side == 'before' else '+'} line {x.line}: {code(x.text)}"
        for x in w.lines
    )
    return f"- **{hosts}**{where}: {w.code} {html.escape(printable(w.message))}{lines}"


def _about(key: str) -> str:
    words = about(key)
    return f" ({html.escape(printable(words))})" if words else ""


def _access_list(access: AccessDiff, created: bool) -> list[str]:
    if not access or created:
        return []
    rows = (
        [f"- added {code(a.key)} {code(a.value)}{_about(a.key)}" for a in access.added]
        + [f"- removed {code(r.key)} {code(r.value)}" for r in access.removed]
        + [
            f"- changed {code(c.key)}: {code(c.before.value)} → {code(c.after.value)}"
            f"{_about(c.key)}"
            for c in access.changed
        ]
    )
    extra = len(rows) - MAX_ACCESS_LISTED
    out = ["", "Access map:", "", *rows[:MAX_ACCESS_LISTED]]
    if extra > 0:
        out.append(f"- … and {extra} more (`tlsc plan --format json` lists them all)")
    return out


def label(names: list[str]) -> str:
    """`mx1, mx2`; a long list cut at a name, `mx1, mx2, … and 998 more`: a change
    shared by thousands of hosts must not fill the comment with their names."""
    shown = ", ".join(names)
    if len(shown) <= MAX_LABEL_CHARS:
        return shown
    kept: list[str] = []
    size = 0
    for name in names:
        size += len(name) + 2
        if size > MAX_LABEL_CHARS:
            break
        kept.append(name)
    return f"{', '.join(kept)}, … and {len(names) - len(kept)} more"


class _Budget:
    """What is left of the comment's size; each part takes its text's length, or is
    refused when that would leave less than the room kept for the closing notes."""

    def __init__(self, limit: int):
        self.left = limit

    def take(self, text: str) -> bool:
        if len(text) + _RESERVE > self.left:
            return False
        self.left -= len(text)
        return True

    def take_lines(self, lines: list[str]) -> bool:
        return self.take("".join(line + "\n" for line in lines))


def _details(group: HostGroup, budget: _Budget) -> list[str]:
    plan = group.plan
    changed = [f for f in plan.files if f.action != "unchanged"]
    what = ", ".join(f"{f.action} <code>{html.escape(f.path)}</code>" for f in changed)
    summary = f"<b>{html.escape(label(group.hosts))}</b>: {what or 'warnings only'}"
    out = ["<details>", f"<summary>{summary}</summary>", ""]
    if len(group.hosts) > 1:
        note = f"The same changes on {len(group.hosts)} hosts; shown for {group.hosts[0]}"
        if group.names_differ:
            note += " (each host's header lines name that host)"
        out += [note + ".", ""]
    for f in changed:
        if not f.diff:
            out += [f"{code(f.path)}: diff not shown (see the warnings).", ""]
            continue
        fence = _fence(f.diff)
        block = f"{fence}diff\n{printable_diff(f.diff)}{fence}"
        if budget.take(block):
            out += [block, ""]
        else:
            lines = f.diff.count("\n")
            out += [
                f"{code(f.path)}: the diff ({lines} lines) does not fit in a comment;"
                " run `tlsc plan` to see it.",
                "",
            ]
    created = any(f.path == plan.access_path and f.action == "create" for f in plan.files)
    out += _access_list(plan.access, created)
    if plan.actions:
        out += ["", "Apply would:", ""]
        out += [f"- {html.escape(a.description)}" for a in plan.actions]
    other = [w for w in plan.warnings if not w.downgrade]
    if other:
        out += ["", "Warnings:", ""]
        out += [_warning_line(label(group.hosts), w) for w in other]
    out += ["", "</details>", ""]
    return out


def _certificates(plan: Plan) -> list[str]:
    rows = merged_certificates(plan.hosts)
    not_read = certificates_not_read(plan.hosts)
    if not rows and not not_read:
        return []
    hosts = {h for names, _ in rows for h in names}
    bad = sum(1 for _, f in rows if f.error and not f.error.startswith("not readable"))
    expired = sum(1 for _, f in rows if f.days_left is not None and f.days_left < 0)
    notes = [f"{bad} missing or not a certificate"] if bad else []
    notes += [f"{expired} expired"] if expired else []
    summary = f"Certificates: {_n(len(rows), 'file')} on {_n(len(hosts), 'host')}"
    summary += f" ({', '.join(notes)})" if notes else ""
    out = ["<details>", f"<summary>{html.escape(summary)}</summary>", ""]
    if rows:
        out += [
            "| hosts | role | path | subject | issuer | expiry | sha256 |",
            "|---|---|---|---|---|---|---|",
        ]
    for names, f in rows[:MAX_CERTIFICATES_LISTED]:
        who = html.escape(label(names))
        if f.error:
            sha = code(f.sha256[:12], cell=True) if f.sha256 else ""
            error = html.escape(printable(f.error)).replace("|", _PIPE)
            path = code(f.path, cell=True)
            out.append(f"| {who} | {f.role} | {path} | {error} | | | {sha} |")
            continue
        subject = code(f.subject or "", cell=True) + (
            f" (first of {f.count})" if f.count > 1 else ""
        )
        path, issuer = code(f.path, cell=True), code(f.issuer or "", cell=True)
        out.append(
            f"| {who} | {f.role} | {path} | {subject} | {issuer}"
            f" | {expiry_text(f)} | {code((f.sha256 or '')[:12], cell=True)} |"
        )
    if len(rows) > MAX_CERTIFICATES_LISTED:
        out.append(
            f"\n… and {len(rows) - MAX_CERTIFICATES_LISTED} more"
            " (`tlsc plan --format json` lists them all)"
        )
    if not_read:
        out += [
            "",
            f"Not read: {html.escape(', '.join(not_read))} (the state tree holds none of"
            " their certificate files).",
        ]
    return [*out, "", "</details>", ""]


def _mail_impact(plan: Plan, budget: _Budget) -> list[str]:
    logs = plan.mail_logs
    if logs is None:
        return []
    rows = merged_mail_impact(plan.hosts)
    out = [
        "#### Mail in the logs",
        "",
        f"What each added or changed TLS rule would have stopped in {_n(logs.files, 'log file')}"
        f" ({_n(logs.sessions, 'session')}), on the host's new access map.",
        "",
    ]
    stopping = [m for _, impacts in rows for m in impacts if m.stopped]
    if stopping:
        out[1:1] = [
            "",
            "> [!WARNING]",
            f"> **{_n(len(stopping), 'rule change')} would have stopped mail in the logs.**",
        ]
    if not rows:
        out += ["No TLS rule is added or changed.", ""]
    else:
        out += ["| hosts | rule | change | in the logs |", "|---|---|---|---|"]
        left_out = 0
        for names, impacts in rows:
            for m in impacts:
                if left_out:
                    left_out += 1
                    continue
                change = (
                    f"{code(m.old or '', cell=True)} → {code(m.value, cell=True)}"
                    if m.change == "changed"
                    else (f"added {code(m.value, cell=True)}")
                )
                text = html.escape(printable(m.summary))
                row = (
                    f"| {html.escape(label(names))} | {code(m.key, cell=True)} | {change} |"
                    f" {f'**{text}**' if m.stopped else text} |"
                )
                if budget.take_lines([row]):
                    out.append(row)
                else:
                    left_out = 1
        if left_out:
            out += ["", _no_room(f"{_n(left_out, 'more rule change')} in the logs")]
        out.append("")
    if logs.unknown_hosts:
        named = ", ".join(f"{h} ({n})" for h, n in sorted(logs.unknown_hosts.items()))
        out += [
            f"Sessions of hosts not in the spec, not counted: {html.escape(printable(named))}.",
            "",
        ]
    return out


def _no_room(what: str) -> str:
    """The line in place of what the comment has no room for (`what`: its subject)."""
    return f"… {what} do not fit in a comment (`tlsc plan` shows them all)."


def printable_diff(diff: str) -> str:
    """A diff with control characters (but not tabs and newlines) escaped."""
    return "\n".join(printable(line) for line in diff.split("\n"))


def _table(shown: list[HostGroup], quiet: list[str], budget: _Budget) -> list[str]:
    """One row per group of hosts with the same changes, while they fit."""
    out = ["", "| hosts | files | access map | apply would |", "|---|---|---|---|"]
    for i, g in enumerate(shown):
        actions = "<br>".join(_SHORT_ACTION[a.action] for a in g.plan.actions)
        row = (
            f"| {html.escape(label(g.hosts))} | {_files_cell(g.plan)} |"
            f" {_access_cell(g.plan.access)} | {actions} |"
        )
        if not budget.take_lines([row]):
            hosts = sum(len(h.hosts) for h in shown[i:])
            out += ["", _no_room(f"{_n(hosts, 'more host')} with changes")]
            break
        out.append(row)
    else:
        row = f"| {html.escape(label(quiet))} | no changes | | |"
        if quiet and budget.take_lines([row]):
            out.append(row)
    return [*out, ""]


def _all_details(shown: list[HostGroup], budget: _Budget) -> list[str]:
    """Each group's collapsed details, while they fit (their diffs are charged as they
    are shown; the rest of a block once it is made)."""
    out: list[str] = []
    for i, g in enumerate(shown):
        before = budget.left
        block = _details(g, budget)
        rest = sum(len(line) + 1 for line in block) - (before - budget.left)
        if rest + _RESERVE > budget.left:
            budget.left = before
            hosts = sum(len(h.hosts) for h in shown[i:])
            out += [_no_room(f"the details of {_n(hosts, 'more host')}"), ""]
            break
        budget.left -= rest
        out += block
    return out


def render(plan: Plan) -> str:
    """The plan as one pull-request comment."""
    groups = group_hosts(plan.hosts)
    shown = [g for g in groups if not g.unchanged]
    quiet = [h for g in groups if g.unchanged for h in g.hosts]
    counts = count_actions(plan)
    changed_hosts = sum(1 for h in plan.hosts if h.changes)
    out = [
        marker(plan.spec),
        f"### tlsc plan for {code(plan.spec)}",
        "",
        f"Compared with {html.escape(plan.observed.describe())}.",
        "",
    ]
    if plan.changes:
        out.append(
            f"**{_n(plan.changes, 'file change')} on {_n(changed_hosts, 'host')}**"
            f" ({counts['create']} create, {counts['update']} update,"
            f" {counts['delete']} delete); {_n(len(quiet), 'host')} unchanged."
        )
    else:
        out.append(f"**No changes** on {_n(len(plan.hosts), 'host')}.")
    downgrades = merged_downgrades(plan.hosts)
    if downgrades:
        verb = "weakens" if len(downgrades) == 1 else "weaken"
        out += [
            "",
            "> [!CAUTION]",
            f"> **{_n(len(downgrades), 'change')} {verb} TLS.**"
            " `tlsc apply` will need `--allow-downgrade`.",
            ">",
        ]
        out += [
            "> " + _warning_line(label(names), w) for names, w in downgrades[:MAX_DOWNGRADES_LISTED]
        ]
        if len(downgrades) > MAX_DOWNGRADES_LISTED:
            out.append(f"> - … and {len(downgrades) - MAX_DOWNGRADES_LISTED} more")
    budget = _Budget(MAX_CHARS - sum(len(line) + 1 for line in out))
    if shown:
        out += _table(shown, quiet, budget)
    impact = _mail_impact(plan, budget)
    if impact and out[-1]:
        out.append("")
    out += impact
    certificates = _certificates(plan)
    if certificates and out[-1]:
        out.append("")
    budget.take_lines(certificates)  # at most MAX_CERTIFICATES_LISTED rows
    out += certificates
    out += _all_details(shown, budget)
    # the last guard: each value from a host's files or the logs is escaped where it is
    # quoted, and a comment is read in CI logs and terminals too, where nothing may act
    return problems.printable("\n".join(out).rstrip("\n") + "\n", "\n\t")
