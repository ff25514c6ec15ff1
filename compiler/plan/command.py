"""`tlsc plan`: what would change, for review (text, markdown) and for tools (json).

Exit codes, as Terraform's: 0 success (with --detailed-exitcode: no changes),
2 changes (only with --detailed-exitcode), 1 an error, or a downgrade with
--fail-on-downgrade. Usage errors exit 1 too, never 2, so that CI cannot read
a mistyped option as "changes".
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from compiler.plan.formats import FORMATS


def _fail(message: str) -> None:
    click.echo(f"tlsc plan: {message}", err=True)
    sys.exit(1)


@click.command()
@click.argument("spec", default="cluster.yaml", type=click.Path(dir_okay=False))
@click.option(
    "--root",
    type=click.Path(file_okay=False),
    default=None,
    help="compare with one host's files under DIR (default: /)",
)
@click.option(
    "--state",
    type=click.Path(file_okay=False),
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
    type=click.Path(dir_okay=False),
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
) -> None:
    """Show what would change on each host: per-file diffs, the access map's
    changes, what apply would run, and changes that weaken TLS.

    Exit 0 ok; with --detailed-exitcode 0 no changes, 2 changes; 1 error.
    """
    from compiler.cli import print_problems
    from compiler.plan.make import ObserveError, PlanError, PlanRequest, SpecProblems, make_plan

    request = PlanRequest(spec, root=root, state=state, base=base, hosts=list(hosts))
    try:
        result = make_plan(request)
    except SpecProblems as exc:
        print_problems(exc.problems, "text")
        _fail(f"{spec} is not valid; nothing was planned")
        return
    except (PlanError, ObserveError) as exc:
        _fail(str(exc))
        return
    if out is not None:
        from compiler.plan.saved import SavedPlanError, write_saved_plan

        try:
            write_saved_plan(result, out)
        except SavedPlanError as exc:
            _fail(str(exc))
    sys.stdout.write(_render(result, fmt))
    if out is not None and fmt == "text":
        click.echo(f"Saved the plan to {out}.", err=True)
    if fail_on_downgrade and result.downgrades:
        click.echo(
            f"tlsc plan: {len(result.downgrades)} change(s) weaken TLS; failing as"
            " --fail-on-downgrade asks",
            err=True,
        )
        sys.exit(1)
    sys.exit(2 if detailed_exitcode and result.changes else 0)


def _render(result: Any, fmt: str) -> str:
    if fmt == "json":
        from compiler.plan.formats import json as json_format

        return json_format.render(result)
    if fmt == "markdown":
        from compiler.plan.formats import markdown

        return markdown.render(result)
    from compiler.plan.formats import text

    return text.render(result, color=text.want_color(sys.stdout, os.environ))
