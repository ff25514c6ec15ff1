"""`tlsc logs --spec` text output: the what-if as rich tables (JSON: whatif.report_json)."""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.text import Text

from compiler.console import SafeTable, shown_text
from compiler.logs.report import make_console
from compiler.logs.tlscheck import UNKNOWN_REASONS
from compiler.logs.whatif import Evaluation, RuleImpact
from compiler.logs.whatif_format import impact_sentence, span


def _rule_text(impact: RuleImpact) -> Text:
    style = "bold" if impact.rule.source == "proposed" else ""
    return shown_text(f"{impact.rule.key}\t{impact.rule.value}".expandtabs(1), style)


def _stopped(impact: RuleImpact) -> Text:
    parts = []
    if impact.deferred:
        parts.append(f"{len(impact.deferred)} deferred")
    if impact.refused:
        parts.append(f"{len(impact.refused)} refused")
    if not parts and impact.stopped_sessions:
        parts.append(f"{impact.stopped_sessions} session(s)")
    return Text(", ".join(parts) or "-", style="red" if parts else "green")


class _Report:
    def __init__(self, console: Console, top: int) -> None:
        self.console = console
        self.top = top

    def table(self, title: str, impacts: list[RuleImpact]) -> None:
        table = SafeTable(title=title, title_justify="left", title_style="bold")
        for column, right in (
            ("Rule", False),
            ("Hosts", False),
            ("Sessions", True),
            ("Messages", True),
            ("Stopped", True),
            ("Unknown", True),
            ("Why", False),
        ):
            table.add_column(column, justify="right" if right else "left", overflow="fold")
        for i in impacts:
            hosts = ", ".join(sorted(i.hosts)[:3]) + (" ..." if len(i.hosts) > 3 else "")
            why = ", ".join(f"{r} {n}" for r, n in i.reasons.most_common())
            unknown = f"{len(i.unknown)} msg" if i.unknown_sessions else ""
            table.add_row(
                _rule_text(i),
                hosts,
                str(i.sessions),
                str(i.deliveries),
                _stopped(i),
                Text(unknown, style="yellow" if unknown else ""),
                why,
            )
        self.console.print(table)

    def details(self, impacts: list[RuleImpact]) -> None:
        top = self.top
        for i in impacts:
            if not (i.stopped_sessions or i.unknown_sessions or i.made_clear):
                continue
            self.console.print()
            self.console.print(_rule_text(i).append(shown_text(f": {impact_sentence(i)}")))
            for p in i.stopped_peers[:top]:
                why = ", ".join(f"{d} ({n})" for d, n in p.details.most_common(3))
                self.console.print(f"  {p.peer}: {p.stopped} of {p.sessions} session(s); {why}")
            more = len(i.stopped_peers) - top
            if more > 0:
                self.console.print(f"  ... and {more} more peer(s)")
            for p in i.unknown_peers[:top]:
                self.console.print(
                    shown_text(f"  {p.peer}: {p.unknown} session(s) the log cannot judge", "yellow")
                )
            for reason in sorted(i.unknown_reasons):
                self.console.print(
                    shown_text(f"  ({UNKNOWN_REASONS.get(reason, reason)})", "yellow")
                )
            for label, counter in (("recipients", i.recipients), ("senders", i.senders)):
                if counter:
                    shown = ", ".join(f"{a} ({n})" for a, n in counter.most_common(top))
                    self.console.print(f"  {label}: {shown}")

    def safe(self, impacts: list[RuleImpact]) -> None:
        rows = [(i, i.safe_to_tighten) for i in impacts if i.safe_to_tighten]
        if not rows:
            return
        self.console.print()
        self.console.print(
            Text("Safe to tighten (verified with enough bits in every session):", "bold")
        )
        for i, peers in rows:
            shown = ", ".join(peers[: self.top]) + (" ..." if len(peers) > self.top else "")
            self.console.print(Text("  ").append(_rule_text(i)).append(shown_text(f": {shown}")))


def print_whatif(
    current: Evaluation,
    proposed: Evaluation | None,
    out: IO[str],
    color: bool,
    *,
    spec: str,
    files: int,
    lines: int,
    top: int = 20,
) -> None:
    """The text what-if: proposals first, then the spec's rules, their stopped mail and peers."""
    console = make_console(out, color)
    rules = current.results()
    first = min((i.first for i in rules if i.first), default=None)
    last = max((i.last for i in rules if i.last), default=None)
    when = span(first, last)
    console.print(
        f"What if: {current.sessions} session(s) in {lines} line(s) of {files} file(s)"
        + (f", stopped mail {when}" if when else "")
        + f", against the TLS rules of {spec} ({len(current.hosts)} host(s))"
    )
    if current.unknown_hosts:
        named = ", ".join(f"{h} ({n})" for h, n in current.unknown_hosts.most_common(5))
        console.print(
            shown_text(
                f"Sessions of hosts the spec does not name, judged by the cluster-wide rules:"
                f" {named}",
                "yellow",
            )
        )
    if current.cut_names:
        console.print(
            Text(
                f"{current.cut_names} session(s) with a peer name sendmail logged cut short"
                " (relay=%.100s, or a to= line's head...tail): matched by address only",
                "yellow",
            )
        )
    report = _Report(console, top)
    if proposed is not None:
        mine = [i for i in proposed.results() if i.rule.source == "proposed"]
        report.table("Proposed rules", mine)
        report.details(mine)
        report.safe(mine)
        console.print()
    if not current.sessions:
        console.print(
            "No sessions: sendmail logs its deliveries (to=) and receipts (from=) at the default"
            " LogLevel 9; are these sendmail's mail logs?"
        )
    if rules:
        met = [i for i in rules if i.sessions]
        shown = met[:top]
        report.table("The spec's TLS rules that met a session, most stopped mail first", shown)
        more = len(met) - len(shown)
        quiet = len(rules) - len(met)
        if more or quiet:
            console.print(
                f"{more} more rule(s) met a session (--top), {quiet} met none;"
                " --format json lists every rule."
            )
        report.details(shown)
        report.safe(shown)
    else:
        console.print("The spec has no TLS rules (domains:, recipients: or TLS access: entries).")
