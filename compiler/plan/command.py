"""`tlsc plan`: what would change, for review (text, markdown) and for tools (json).

Exit codes, as Terraform's: 0 success (with --detailed-exitcode: no changes),
2 changes (only with --detailed-exitcode), 1 an error, or a downgrade with
--fail-on-downgrade, or with --max-deferred N a changed rule that would have
stopped more than N messages in the --logs. Usage errors exit 1 too, never 2,
so that CI cannot read a mistyped option as "changes".

`--logs FILE...` takes every word after it up to the next option, so
`--logs /var/log/mail.log*` works; give SPEC before it.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from typing import Any

import click

from compiler.cli import PathName
from compiler.plan.formats import FORMATS


def greedy(args: list[str], option: str) -> list[str]:
    """`OPT a b c` as `OPT a OPT b OPT c`: the words after OPT's value up to the next
    option (a word starting with `-`, except `-` itself, stdin) are more values."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return out + args[i:]
        out.append(arg)
        i += 1
        if arg == option and i < len(args):
            out.append(args[i])  # its own value, whatever it looks like
            i += 1
        elif not arg.startswith(option + "="):
            continue
        while i < len(args) and (args[i] == "-" or not args[i].startswith("-")):
            out += [option, args[i]]
            i += 1
    return out


class _PlanCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, greedy(args, "--logs"))


def _fail(message: str) -> None:
    from compiler.problems import one_line

    click.echo(f"tlsc plan: {one_line(message)}", err=True)
    sys.exit(1)


@click.command(cls=_PlanCommand)
@click.argument("spec", default="cluster.yaml", type=click.Path())
@click.option(
    "--root",
    type=PathName(file_okay=False),
    default=None,
    help="compare with one host's files under DIR (default: /)",
)
@click.option(
    "--state",
    type=PathName(file_okay=False),
    default=None,
    help="compare with DIR/HOST/<path> for every host (a tree made by tlsc compile)",
)
@click.option(
    "--base",
    "base",
    metavar="GITREF",
    default=None,
    help="compare with the same spec at git revision GITREF (the pull-request view)",
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    help="only this host (repeatable); with --root, default: the host that is this machine",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--out",
    "out",
    type=PathName(dir_okay=False),
    default=None,
    help="also save the plan (with hashes for apply's drift check) to PLAN.json",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="exit 0 when nothing changes, 2 when something does (1 is an error)",
)
@click.option(
    "--fail-on-downgrade",
    is_flag=True,
    help="exit 1 when a change weakens TLS (for CI)",
)
@click.option(
    "--logs",
    "logs",
    multiple=True,
    metavar="FILE...",
    help="mail logs (- is stdin, gzip is unpacked): show the mail each added or changed"
    " TLS rule would have deferred or refused in them",
)
@click.option(
    "--year",
    type=click.IntRange(1970, 9999),
    default=None,
    help="year of each --logs file's first classic syslog stamp (a later day before its:"
    " the year after) [default: from each file's date]",
)
@click.option(
    "--max-deferred",
    type=click.IntRange(0),
    default=None,
    metavar="N",
    help="with --logs: exit 1 when a changed rule would have stopped more than N messages",
)
def plan(
    spec: str,
    root: str | None,
    state: str | None,
    base: str | None,
    hosts: tuple[str, ...],
    fmt: str,
    out: str | None,
    detailed_exitcode: bool,
    fail_on_downgrade: bool,
    logs: tuple[str, ...],
    year: int | None,
    max_deferred: int | None,
) -> None:
    """Show what would change on each host: per-file diffs, the access map's
    changes, what apply would run, and changes that weaken TLS.

    Exit 0 ok; with --detailed-exitcode 0 no changes, 2 changes; 1 error.
    """
    from compiler.plan.prefetch import StatePrefetch

    with ExitStack() as stack:
        # the state tree is read and hashed in a thread while the spec loads (plan/prefetch.py)
        ahead = None
        if state is not None and root is None and base is None:
            ahead = stack.enter_context(StatePrefetch(state, hosts))
        from compiler.cliutil import spec_failed
        from compiler.gcpause import gc_importing

        with gc_importing():  # as `tlsc validate` imports (cli.validate)
            from compiler.plan.make import (
                ObserveError,
                PlanError,
                PlanRequest,
                SpecProblems,
                make_plan,
            )

        if max_deferred is not None and not logs:
            _fail("--max-deferred needs --logs, the mail logs to count the stopped messages in")
        request = PlanRequest(
            spec,
            root=root,
            state=state,
            base=base,
            hosts=list(hosts),
            logs=list(logs),
            year=year,
            ahead=ahead,
        )
        try:
            result = make_plan(request)
        except SpecProblems as exc:
            spec_failed(exc.problems, fmt, f"tlsc plan: {spec} is not valid; nothing was planned")
        except (PlanError, ObserveError) as exc:
            if isinstance(exc, PlanError) and exc.problems is not None:
                spec_failed(exc.problems, fmt, f"tlsc plan: {exc}", listed=False)
            _fail(str(exc))
            return
        if out is not None:
            from compiler.plan.saved import SavedPlanError, write_saved_plan

            try:
                write_saved_plan(result, out, logs)
            except SavedPlanError as exc:
                _fail(str(exc))
        sys.stdout.write(_render(result, fmt))
        if out is not None and fmt == "text":
            click.echo(f"Saved the plan to {out}.", err=True)
        failed = False
        if fail_on_downgrade and result.downgrades:
            click.echo(
                f"tlsc plan: {len(result.downgrades)} change(s) weaken TLS; failing as"
                " --fail-on-downgrade asks",
                err=True,
            )
            failed = True
        over = result.over_deferred(max_deferred) if max_deferred is not None else []
        if over:
            host, worst = over[0]
            more = f" (and {len(over) - 1} more rule(s))" if len(over) > 1 else ""
            click.echo(
                f"tlsc plan: {worst.key} {worst.value} on {host} would have stopped"
                f" {worst.stopped} message(s) in the logs, more than --max-deferred"
                f" {max_deferred}{more}",
                err=True,
            )
            failed = True
        if failed:
            sys.exit(1)
        # what an interrupted apply left undone, or a stale build, counts as a change
        # (--root, P114, P115): apply would act
        from compiler.plan.model import OWED

        pending = any(w.code in OWED for h in result.hosts for w in h.warnings)
        sys.exit(2 if detailed_exitcode and (result.changes or pending) else 0)


def _render(result: Any, fmt: str) -> str:
    if fmt == "json":
        from compiler.plan.formats import json as json_format

        return json_format.render(result)
    if fmt == "markdown":
        from compiler.plan.formats import markdown

        return markdown.render(result)
    from compiler.plan.formats import text

    return text.render(result, color=text.want_color(sys.stdout, os.environ))
