"""`tlsc logs FILE... --spec SPEC [--propose RULE ...]`: the what-if, wired to the CLI.

Thin: load and validate the spec (every problem printed, exit 1), parse and
validate each proposal (one sentence, exit 1), build each host's access
table (spec_tables.py), read the sessions (sessions.read_sessions), judge
each against the spec's tables and, with proposals, against the tables with
the proposals in them (whatif.py), print text or JSON.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable

import click

from compiler.logs.sessions import Session, read_sessions
from compiler.logs.whatif import Evaluation
from compiler.logs.whatif_format import report_json


def _fail(message: str) -> None:
    from compiler.problems import one_line

    click.echo(f"tlsc: {one_line(message)}", err=True)
    sys.exit(1)


def build_evaluations(
    spec: str, proposals: tuple[str, ...], fmt: str = "text"
) -> tuple[Evaluation, Evaluation | None]:
    """The spec's evaluation and, with proposals, the one with them; exits 1 on bad input
    (a spec that is not valid: its problems as `tlsc validate --format FMT` prints them)."""
    from compiler.cliutil import load_validated_or_exit
    from compiler.logs.spec_tables import (
        ProposalError,
        host_tables,
        parse_proposal,
        validate_proposals,
    )

    failed = f"{spec} is not valid; nothing was evaluated"
    loaded, checked = load_validated_or_exit(spec, fmt, failed)
    assert checked.cluster is not None and checked.rules is not None  # valid: both made
    hosts, fallback = host_tables(checked.cluster, checked.rules)
    current = Evaluation(hosts, fallback)
    if not proposals:
        return current, None
    try:
        parsed = [parse_proposal(text) for text in proposals]
        cluster, rules = validate_proposals(loaded, parsed)
    except ProposalError as exc:
        if fmt == "json":  # the problems on stdout, the sentence on stderr
            from compiler.cliutil import spec_failed

            spec_failed(exc.problems, fmt, f"tlsc: {exc}", listed=False)
        _fail(str(exc))
        raise  # pragma: no cover - _fail exits
    hosts, fallback = host_tables(cluster, rules, parsed)
    return current, Evaluation(hosts, fallback)


def run_whatif(
    files: tuple[str, ...],
    spec: str,
    proposals: tuple[str, ...],
    fmt: str,
    within: Callable[[str | None], bool] | None,
    year: int | None,
    top: int,
) -> list[str]:
    """Evaluate, print; the bad inputs, one sentence each (the caller exits 1 on any)."""
    current, proposed = build_evaluations(spec, proposals, fmt)

    def on_session(session: Session) -> None:
        if within is not None and not within(session.time):
            return
        current.add(session)
        if proposed is not None:
            proposed.add(session)

    stats, problems = read_sessions(files, on_session, year)
    if len(problems) == len(files):
        return problems
    read = len(files) - len(problems)
    if fmt == "json":
        doc = report_json(current, proposed, spec=spec, files=read, lines=stats.lines)
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        from compiler.logs.whatif_report import print_whatif

        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        print_whatif(
            current, proposed, sys.stdout, color, spec=spec, files=read, lines=stats.lines, top=top
        )
    return problems
