"""`tlsc apply SPEC`: make this host match the spec (see compiler.apply for the steps).

Exit 0 when the host matches the spec afterwards (applied, or nothing to
do); 1 for everything else: a refusal (nothing changed), a failure rolled
back, a failure that could not be. Usage errors exit 1 too.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from compiler.apply.report import Step
from compiler.cli import PathName, Seconds

if TYPE_CHECKING:
    from compiler.plan.model import Plan


@click.command()
@click.argument("spec", default="cluster.yaml", type=click.Path())
@click.option("--host", default=None, help="the spec's host to apply (default: this machine's)")
@click.option(
    "--root",
    type=PathName(file_okay=False),
    default="/",
    show_default=True,
    help="the host's files are under DIR (as DESTDIR); nothing outside it is written",
)
@click.option(
    "--plan",
    "plan_file",
    type=PathName(dir_okay=False),
    default=None,
    help="apply this saved plan (tlsc plan --out), refusing it if the host or spec changed",
)
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.option("--allow-downgrade", is_flag=True, help="apply changes that weaken TLS")
@click.option(
    "--no-restart",
    is_flag=True,
    help="never run commands.restart (a new sendmail.cf takes effect at the next restart)",
)
@click.option(
    "--no-verify",
    is_flag=True,
    help="skip the STARTTLS probe (a host whose sendmail does not run yet)",
)
@click.option(
    "--lock-timeout",
    type=Seconds(min=0),
    default=60.0,
    show_default=True,
    help="seconds to wait for another apply's lock",
)
@click.option(
    "--backup-dir",
    type=PathName(file_okay=False),
    default=None,
    help="where backups go (default: /var/backups/tlsc, under --root)",
)
@click.option(
    "--keep-backups",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="how many backups to keep",
)
@click.option(
    "--verify-wait",
    type=Seconds(min=0),
    default=10.0,
    show_default=True,
    help="seconds verify retries while sendmail is not answering yet",
)
@click.option(
    "--skip-preflight",
    is_flag=True,
    help="do not refuse when tlsc doctor's checks of the spec's TLS files find errors",
)
@click.option(
    "--mail-log",
    type=PathName(dir_okay=False),
    default=None,
    help="the log sendmail writes to, quoted when verify fails after a restart"
    " (default: /var/log/mail.log or /var/log/maillog)",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def apply(
    spec: str,
    host: str | None,
    root: str,
    plan_file: str | None,
    yes: bool,
    allow_downgrade: bool,
    no_restart: bool,
    no_verify: bool,
    lock_timeout: float,
    backup_dir: str | None,
    keep_backups: int,
    verify_wait: float,
    skip_preflight: bool,
    mail_log: str | None,
    fmt: str,
) -> None:
    """Make this host match SPEC: write the changed files atomically (with a backup),
    rebuild access.db and sendmail.cf, restart sendmail if needed, verify STARTTLS,
    and put everything back if any of that fails.

    Exit 0 done or nothing to do; 1 refused, failed or rolled back.
    """
    from compiler.apply.runner import ApplyOptions, run_apply, signals_stop_apply
    from compiler.cliutil import print_problems

    text = fmt == "text"
    root_path = Path(root)
    options = ApplyOptions(
        spec=spec,
        root=root_path,
        host=host,
        plan_file=plan_file,
        yes=yes,
        allow_downgrade=allow_downgrade,
        no_restart=no_restart,
        no_verify=no_verify,
        skip_preflight=skip_preflight,
        lock_timeout=lock_timeout,
        backup_dir=Path(backup_dir) if backup_dir else None,
        keep_backups=keep_backups,
        verify_wait=verify_wait,
        mail_log=mail_log,
        confirm=_ask if sys.stdin.isatty() else None,
        waiting=lambda who: click.echo(f"tlsc apply: waiting for the lock ({who})", err=True),
    )
    if text:
        options.show_plan = _show_plan
        options.progress = _progress
    # a signal once the work is over is noted, not raised, until the report is out
    with signals_stop_apply() as stops:
        report = run_apply(options, stops)
        if report.problems:
            print_problems(report.problems, "text")
        if text:
            if report.preflight:
                from compiler.doctor.finding import format_text

                sys.stderr.write(format_text(report.preflight))
            from compiler.problems import one_line

            if report.exit_code == 0:
                click.echo(one_line(report.message) + ".")
            else:
                click.echo(f"tlsc apply: {one_line(report.message)}.", err=True)
        else:
            sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
        sys.stdout.flush()
    sys.exit(report.exit_code)


def _ask(question: str) -> bool:
    return click.confirm(question, default=False, err=True)


def _progress(step: Step) -> None:
    click.echo(step.text(), err=True)


def _show_plan(plan: Plan, extra: list[str]) -> None:
    from compiler.plan.formats import text
    from compiler.problems import one_line

    sys.stdout.write(text.render(plan, color=text.want_color(sys.stdout, os.environ)))
    for line in extra:
        click.echo(f"Also: {one_line(line)}.")
    sys.stdout.flush()
