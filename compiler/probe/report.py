"""`tlsc verify` output: a table for people (rich), a JSON list for programs."""

from __future__ import annotations

import json
from typing import IO

from rich.text import Text

from compiler.console import SafeTable, make_console, shown_text
from compiler.probe.result import ProbePolicy, ProbeResult
from compiler.problems import one_line


def format_json(results: list[ProbeResult], policy: ProbePolicy) -> str:
    """The JSON list README.md documents, one object per target, in target order."""
    return json.dumps([r.as_dict(policy) for r in results], indent=2) + "\n"


def _tls_cell(r: ProbeResult) -> str:
    if r.version is None:
        return "-"
    return one_line(f"{r.version} {r.cipher} ({r.bits} bits)")


def _verify_cell(r: ProbeResult) -> Text:
    if r.verify is None:
        return Text("-")
    style = "green" if r.verify == "OK" else "red"
    text = shown_text(r.verify, style)
    if r.name_matches is False:
        text.append(", wrong name", style="red")
    return text


def _cert_cell(r: ProbeResult) -> str:
    if r.cert is None:
        return "-"
    # each line its own: a subject with a line break in it stays one line of the cell
    names = one_line(", ".join(r.cert.sans) or "no subjectAltName")
    return f"{one_line(r.cert.subject)}\nissued by {one_line(r.cert.issuer)}\nnames: {names}"


def _expires_cell(r: ProbeResult, policy: ProbePolicy) -> Text:
    if r.cert is None or r.days_left is None:
        return Text("-")
    days = r.days_left
    style = "red" if days < 0 else "yellow" if days <= policy.min_days else ""
    left = "expired" if days < 0 else f"{days} days"
    return Text(f"{r.cert.not_after:%Y-%m-%d} ({left})", style=style)


def _status_cell(r: ProbeResult, policy: ProbePolicy) -> Text:
    if r.passed(policy):
        return Text("ok" if not r.problems(policy) else "ok, see below", style="green")
    return Text("FAILED", style="bold red")


def print_table(results: list[ProbeResult], policy: ProbePolicy, out: IO[str], color: bool) -> None:
    """One row per target, then each target's problems, one sentence a line.

    What the server sent (its replies, its certificate's names, the handshake's
    errors) is shown escaped (problems.printable), each value on its own line.
    """
    console = make_console(out, color, width=200)
    table = SafeTable(show_lines=len(results) > 1)
    for column in ("Target", "STARTTLS", "TLS", "Verify", "Certificate", "Expires", "Status"):
        table.add_column(column, overflow="fold")
    for r in results:
        where = f"{one_line(r.target)}\n{_where(r)}" if r.target != r.host else _where(r)
        offered = Text("yes", style="green") if r.starttls else Text("no", style="red")
        table.add_row(
            where,
            offered if r.greeting else Text("-"),
            _tls_cell(r),
            _verify_cell(r),
            _cert_cell(r),
            _expires_cell(r, policy),
            _status_cell(r, policy),
        )
    console.print(table)
    for r in results:
        for problem in r.problems(policy):
            console.print(one_line(f"{r.target if r.target != r.host else _where(r)}: {problem}"))


def _where(r: ProbeResult) -> str:
    return one_line(f"[{r.host}]:{r.port}" if ":" in r.host else f"{r.host}:{r.port}")
