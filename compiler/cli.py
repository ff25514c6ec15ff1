"""The `tlsc` command line. Thin: parse arguments, call the core, print, exit.

Imports of the core (pydantic, ruamel.yaml) happen inside the commands, so
`tlsc --version` and `tlsc --help` start fast.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import gc
import math
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from compiler import __version__

# At exit the cyclic collector's passes over every object of the run (a sixth of a
# cold `tlsc validate`) would only free memory the process is about to give back:
# frozen, they are skipped. Registered as the CLI is imported, this runs after the
# exit handlers of everything imported later (atexit runs them last in, first out).
atexit.register(gc.freeze)

FORMAT = click.Choice(["text", "json", "github"])

#: Commands that live in their own modules, imported only when invoked so that
#: `tlsc --version` and the fast paths stay fast. name -> "module:attribute".
LAZY_COMMANDS: dict[str, str] = {
    "apply": "compiler.apply.command:apply",
    "doctor": "compiler.doctor.command:doctor",
    "import": "compiler.importer.command:import_cmd",
    "lint": "compiler.lint.command:lint",
    "logs": "compiler.logs.command:logs",
    "plan": "compiler.plan.command:plan",
    "verify": "compiler.probe.command:verify",
}


#: The first paragraph of each lazy command's help, for the command list of `tlsc
#: --help` (which then imports none of them); tests/test_cli.py holds it to the
#: commands' own help.
LAZY_HELP: dict[str, str] = {
    "apply": "Make this host match SPEC: write the changed files atomically (with a backup),"
    " rebuild access.db and sendmail.cf, restart sendmail if needed, verify STARTTLS,"
    " and put everything back if any of that fails.",
    "doctor": "Check this host's STARTTLS setup offline: files, permissions, certificates, builds.",
    "import": "Read an existing /etc/mail under ROOT into a tlsc spec for host NAME, or"
    " several hosts (NAME=ROOT each) into one spec.",
    "lint": "Lint sendmail .mc/.m4 files and access files (exit 0 clean, 1 errors).",
    "logs": "Analyse sendmail STARTTLS log lines in FILE... (- is stdin; gzip is unpacked).",
    "plan": "Show what would change on each host: per-file diffs, the access map's"
    " changes, what apply would run, and changes that weaken TLS.",
    "verify": "Probe each host of SPEC, or each HOST[:PORT], for STARTTLS and its certificate.",
}


# -- option types the commands share, for values a script passes by mistake --
#
# `--root "$ROOT"` with ROOT unset is `--root ''`, which click.Path takes and
# pathlib reads as the working directory: apply, plan and compile worked on
# whatever directory the script ran in. `--out "$DIR/"` or `--out x/.` names a
# directory, yet pathlib drops the `/` and the `.` and writes the file `x`
# (over one that is there: import's --force check asked for `x/.`, which does
# not exist). A timeout of `inf`, `nan` or `1e300` passed FloatRange(min=...)
# and crashed in socket.settimeout. Each is refused here, before any work, as
# click refuses any other bad value (exit 1, no file touched).

#: the longest wait an option takes, in seconds: a day (a socket timeout of 1e300
#: overflows, and no step of tlsc is worth waiting longer for)
MAX_SECONDS = 86_400.0


def _shown(value: str) -> str:
    from compiler.problems import one_line, shown

    return one_line(shown(value))


class PathName(click.Path):
    """click.Path that refuses an empty name, and for a file (`dir_okay=False`) a name
    only a directory can have: ending in '/', or in a '.' or '..' part."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            if value == "":
                self.fail("'' names no file or directory (an unset variable?)", param, ctx)
            if not self.dir_okay and (
                value.endswith("/") or os.path.basename(value) in (".", "..")
            ):
                self.fail(f"'{_shown(value)}' names a directory, not a file", param, ctx)
        return super().convert(value, param, ctx)


class Seconds(click.FloatRange):
    """A number of seconds from `min` to MAX_SECONDS: not inf, not nan (which every
    comparison of FloatRange lets through)."""

    def __init__(self, min: float = 0.0) -> None:
        super().__init__(min=min, max=MAX_SECONDS)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail("nan is not a number of seconds", param, ctx)
        return number


class LazyGroup(click.Group):
    """A click group whose subcommands in LAZY_COMMANDS are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's command list, with each lazy command's help taken from LAZY_HELP."""
        commands: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            cmd = (
                click.Command(name, help=LAZY_HELP[name])
                if name in LAZY_HELP
                else super().get_command(ctx, name)
            )
            if cmd is not None and not cmd.hidden:
                commands.append((name, cmd))
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            rows = [(name, cmd.get_short_help_str(limit)) for name, cmd in commands]
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            import importlib

            from compiler.gcpause import gc_importing

            module_name, attr = LAZY_COMMANDS[cmd_name].split(":")
            with gc_importing():  # see cliutil.run_validate
                command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    # Usage errors exit 1, like every other error: exit 2 means "changes" to
    # `tlsc plan --detailed-exitcode`, and no command uses click's 2 otherwise.
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            setattr(exc, "exit_code", 1)  # noqa: B010  (click declares it on the class)
            raise

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """click's main, with output that cannot be written (`> /dev/full`, stdout closed)
        one sentence and exit 1, not a traceback (click itself handles only EPIPE)."""
        if sys.stdout is None:  # started with stdout closed (`>&-`)
            from compiler.cliutil import stdout_closed

            stdout_closed()
        try:
            try:
                return super().main(*args, **kwargs)
            finally:
                sys.stdout.flush()  # here, not at exit, where a failure is a traceback
        except OSError as exc:
            from compiler.cliutil import output_failed

            output_failed(exc)

    def invoke(self, ctx: click.Context) -> object:
        from compiler.spec import noplugins

        noplugins.install()  # before a command (or its module) builds a model
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            setattr(exc, "exit_code", 1)  # noqa: B010
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tlsc")
def main() -> None:
    """tlsc: compile one cluster spec into each sendmail host's STARTTLS configuration."""


@main.command()
@click.argument("spec", default="cluster.yaml", type=click.Path())
@click.option("--format", "fmt", type=FORMAT, default="text", show_default=True)
def validate(spec: str, fmt: str) -> None:
    """Check SPEC and report every problem at once (exit 0 valid, 1 invalid)."""
    from compiler.cliutil import run_validate

    run_validate(spec, fmt)


@main.command(name="compile")
@click.argument("spec", default="cluster.yaml", type=click.Path())
@click.option(
    "--out", "out_dir", required=True, type=PathName(file_okay=False), help="output directory"
)
@click.option("--host", "host", default=None, help="only this host")
@click.option("--format", "fmt", type=FORMAT, default="text", show_default=True)
def compile_cmd(spec: str, out_dir: str, host: str | None, fmt: str) -> None:
    """Write OUT/HOST/<path> for every managed file of every host (or --host)."""
    from compiler.cliutil import print_problems
    from compiler.gcpause import gc_importing

    with gc_importing():  # see cliutil.run_validate
        from compiler.compile import compile_file

    # lazy: each host is rendered, written and dropped before the next one
    result = compile_file(spec, [host] if host is not None else None, lazy=True)
    print_problems(result.problems, fmt)
    if not result.ok:
        sys.exit(1)
    root = Path(out_dir)
    written = 0
    try:
        written = _write_tree(root, result.iter_hosts(), spec)
    except _TreeError as exc:
        reason = str(exc.error.strerror or exc.error).removesuffix("; nothing was written")
        from compiler.problems import one_line

        click.echo(
            f"tlsc: cannot write {one_line(str(exc.error.filename or exc.target))}: {reason};"
            f" {exc.written} file{'s' if exc.written != 1 else ''} written before it",
            err=True,
        )
        sys.exit(1)
    if fmt == "text":
        click.echo(
            f"wrote {written} file(s) for {len(result.host_names)} host(s) under {root}", err=True
        )


class _TreeError(Exception):
    """A file of `compile --out` could not be written (error: the OSError)."""

    def __init__(self, error: OSError, target: Path, written: int):
        super().__init__(str(error))
        self.error, self.target, self.written = error, target, written


def _write_tree(root: Path, hosts: Iterable[tuple[str, dict[str, str]]], spec: str) -> int:
    """Write each host's files under ROOT/HOST/; the number written.

    Every file is first written beside its target (NAME.tlsc-tmp), host by host, and
    only when all are written is each renamed into place: a failure (a full disk, a
    file where a directory must be, ^C, SIGTERM) takes the temporary files and the
    directories made away again, so it changes nothing. A device or FIFO there is
    never replaced (nor written through), nor is the spec itself.
    """
    from compiler.compile import output_path
    from compiler.fileio import check_write_target, signals_as_exceptions

    try:
        spec_id = (os.stat(spec).st_dev, os.stat(spec).st_ino)
    except OSError:
        spec_id = None
    staged: list[tuple[Path, Path]] = []
    made: list[Path] = []
    target = root
    written = 0
    with signals_as_exceptions():
        try:
            for name, files in hosts:
                for path, text in files.items():
                    target = output_path(root, name, path)
                    _make_dirs(target.parent, made)
                    _no_link_below(root, target.parent)
                    check_write_target(target)
                    if spec_id is not None and target.exists():
                        info = target.stat()
                        if (info.st_dev, info.st_ino) == spec_id:
                            raise OSError(errno.EEXIST, "it is the spec", str(target))
                    tmp = target.with_name(target.name + ".tlsc-tmp")
                    tmp.unlink(missing_ok=True)  # a planted FIFO or link: never written through
                    with open(tmp, "x", encoding="utf-8", newline="\n") as handle:
                        staged.append((tmp, target))
                        handle.write(text)
                del files  # before the next host is rendered
            for tmp, target in staged:
                os.replace(tmp, target)
                written += 1
        except BaseException as exc:
            for tmp, _ in staged[written:]:
                tmp.unlink(missing_ok=True)
            for directory in reversed(made):
                with contextlib.suppress(OSError):  # it holds a file renamed into place
                    directory.rmdir()
            if isinstance(exc, OSError):
                raise _TreeError(exc, target, written) from None
            raise
    return written


def _no_link_below(root: Path, directory: Path) -> None:
    """OSError when a directory between ROOT (itself may be a link: the user's choice)
    and `directory` is a symbolic link: a link planted in the output tree (a
    committed `build/mx1 -> /etc`) would take the files outside it."""
    at = directory
    while at != root and at.parent != at:
        if at.is_symlink():
            raise OSError(
                errno.ELOOP,
                "it is a symbolic link, and compile writes nothing through a link below --out",
                str(at),
            )
        at = at.parent


def _make_dirs(directory: Path, made: list[Path]) -> None:
    """`mkdir -p DIRECTORY`, each directory it makes appended to `made`."""
    missing: list[Path] = []
    at = directory
    while not at.is_dir():
        if os.path.lexists(at):  # a file (or a dangling link) where a directory must be
            raise NotADirectoryError(errno.ENOTDIR, "it is not a directory", str(at))
        missing.append(at)
        if at.parent == at:
            break
        at = at.parent
    for path in reversed(missing):
        path.mkdir()
        made.append(path)


@main.command()
def schema() -> None:
    """Print the JSON Schema of the spec."""
    import json

    from compiler.spec.model import json_schema

    click.echo(json.dumps(json_schema(), indent=2, sort_keys=True))
