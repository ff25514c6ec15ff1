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

from typing import Any

import click

from compiler.cli import PathName
from compiler.plan.formats import FORMATS
from compiler.plan.run import run_plan


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
def plan(**params: Any) -> None:
    """Show what would change on each host: per-file diffs, the access map's
    changes, what apply would run, and changes that weaken TLS.

    Exit 0 ok; with --detailed-exitcode 0 no changes, 2 changes; 1 error.
    """
    run_plan(**params)  # click passes each option by its name, as run_plan takes it
