"""`tlsc lint`: its command line (click). What it does is compiler/lint/run.py."""

from __future__ import annotations

import click

from compiler.lint.run import FORMATS, run_lint

_FORMAT = click.Choice(list(FORMATS))


@click.command(name="lint")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=_FORMAT, default="text", show_default=True)
@click.option("--fix", is_flag=True, help="Repair what is safe to repair and print the diff.")
@click.option("--dry-run", is_flag=True, help="With --fix: print the diff, change nothing.")
@click.option("--deep", is_flag=True, help="Also build with real m4/sendmail-cf and makemap.")
@click.option(
    "--sendmail",
    "release",
    type=click.Choice(["8.17", "8.18"]),
    default="8.17",
    show_default=True,
    help="The sendmail release the files are for (8.17: Debian 12, 8.18: Debian 13).",
)
def lint(
    files: tuple[str, ...], fmt: str, fix: bool, dry_run: bool, deep: bool, release: str
) -> None:
    """Lint sendmail .mc/.m4 files and access files (exit 0 clean, 1 errors)."""
    if dry_run and not fix:
        raise click.UsageError("--dry-run only goes with --fix")
    run_lint(files, fmt, fix, dry_run, deep, release)
