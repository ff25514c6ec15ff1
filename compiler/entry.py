"""The `tlsc` command's start: a plain `tlsc validate`, `lint` or `plan` without click.

`tlsc lint` runs in pre-commit hooks on every commit, `tlsc validate` and `tlsc
plan` in CI on every push; importing click and building its command tree is
about a tenth of a cold `validate` or `plan` and a sixth of a cold `lint` of
one file. A command line of the plain shape each has (its own options, spelt
out in full, each at most once but `--host`, values click takes as they are,
its files) is read here and the command run through the same code click would
call (compiler/cliutil.py, compiler/lint/run.py, compiler/plan/run.py), with
click's handling of what can end a run: ^C (`Aborted!`, exit 1), a closed pipe
(exit 1, nothing more), an output that cannot be written (one sentence, exit
1). Anything else (help, another command, an abbreviation, `--`, a repeated
option, a value click would refuse or check, `--dry-run` without `--fix`,
plan's `--out`, `--logs`, `--year` and `--max-deferred`, shell completion)
goes to click, which says what it says for it.
tests/test_entry.py holds both ways to the same output and exit code.
"""

from __future__ import annotations

import atexit
import errno
import gc
import os
import stat
import sys
from collections.abc import Callable, Sequence
from typing import Any

#: --format of `tlsc validate` (cli.FORMAT), `tlsc lint` (lint.run.FORMATS), `tlsc plan`
#: (plan.formats.FORMATS)
VALIDATE_FORMATS = ("text", "json", "github")
LINT_FORMATS = ("text", "json", "sarif", "github", "codequality")
PLAN_FORMATS = ("text", "json", "markdown")
LINT_RELEASES = ("8.17", "8.18")

Accept = Callable[[str], bool]


def _path(value: str) -> bool:
    """What click.Path() takes as it is: a name that is not there, or one that is
    there and readable (click refuses an unreadable one with its own message)."""
    try:
        os.stat(value)
    except OSError:
        return True
    return os.access(value, os.R_OK)


def _directory(value: str) -> bool:
    """What cli.PathName(file_okay=False) takes as it is: not there, or a readable
    directory (click refuses a file, an unreadable directory, an empty name)."""
    try:
        st = os.stat(value)
    except OSError:
        return True
    return stat.S_ISDIR(st.st_mode) and os.access(value, os.R_OK)


def _word(value: str) -> bool:
    return True


def _options(
    args: Sequence[str],
    values: dict[str, Accept],
    flags: tuple[str, ...] = (),
    multiple: tuple[str, ...] = (),
) -> tuple[dict[str, list[str]], list[str]] | None:
    """The options and the other words of a plain command line, or None.

    `values`: each option that takes a value and what it takes. None for
    anything click reads otherwise or refuses: an option not in `values` or
    `flags`, one given twice (but those in `multiple`), a value it does not
    take, a word (or a value) that starts with `-`, an empty word (an unset
    variable).
    """
    given: dict[str, list[str]] = {}
    words: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg:
            return None
        if not arg.startswith("-"):
            words.append(arg)
            continue
        name, eq, value = arg.partition("=")
        if name in given and name not in multiple:
            return None
        if name in flags and not eq:
            given[name] = []
            continue
        if name not in values:
            return None
        if not eq:
            if i == len(args):
                return None
            value = args[i]
            i += 1
        if not value or value.startswith("-") or not values[name](value):
            return None
        given.setdefault(name, []).append(value)
    return given, words


def _one(given: dict[str, list[str]], name: str, default: str | None) -> str | None:
    return given[name][0] if name in given else default


def plain(argv: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
    """The command a plain `validate`, `lint` or `plan` command line runs and its
    parameters (as click would pass them), or None: click reads it."""
    if not argv:
        return None
    command, args = argv[0], argv[1:]
    if command == "validate":
        read = _options(args, {"--format": VALIDATE_FORMATS.__contains__})
        if read is None or len(read[1]) > 1 or not all(map(_path, read[1])):
            return None
        given, words = read
        spec = words[0] if words else "cluster.yaml"
        return "validate", {"spec": spec, "fmt": _one(given, "--format", "text")}
    if command == "lint":
        read = _options(
            args,
            {"--format": LINT_FORMATS.__contains__, "--sendmail": LINT_RELEASES.__contains__},
            ("--fix", "--dry-run", "--deep"),
        )
        if read is None or not read[1] or not all(map(_path, read[1])):
            return None
        given, files = read
        if "--dry-run" in given and "--fix" not in given:
            return None  # click's usage error
        return "lint", {
            "files": tuple(files),
            "fmt": _one(given, "--format", "text"),
            "fix": "--fix" in given,
            "dry_run": "--dry-run" in given,
            "deep": "--deep" in given,
            "release": _one(given, "--sendmail", "8.17"),
        }
    if command == "plan":
        # --out, --logs, --year and --max-deferred: click's (its checks of their values)
        read = _options(
            args,
            {
                "--format": PLAN_FORMATS.__contains__,
                "--state": _directory,
                "--root": _directory,
                "--base": _word,
                "--host": _word,
            },
            ("--detailed-exitcode", "--fail-on-downgrade"),
            ("--host",),
        )
        if read is None or len(read[1]) > 1 or not all(map(_path, read[1])):
            return None
        given, words = read
        return "plan", {
            "spec": words[0] if words else "cluster.yaml",
            "root": _one(given, "--root", None),
            "state": _one(given, "--state", None),
            "base": _one(given, "--base", None),
            "hosts": tuple(given.get("--host", ())),
            "fmt": _one(given, "--format", "text"),
            "out": None,
            "detailed_exitcode": "--detailed-exitcode" in given,
            "fail_on_downgrade": "--fail-on-downgrade" in given,
            "logs": (),
            "year": None,
            "max_deferred": None,
        }
    return None


def _validate(spec: str, fmt: str) -> None:
    from compiler.cliutil import run_validate

    run_validate(spec, fmt)


def _lint(
    files: tuple[str, ...], fmt: str, fix: bool, dry_run: bool, deep: bool, release: str
) -> None:
    from compiler.gcpause import gc_importing

    with gc_importing():  # as cli.LazyGroup imports a command
        from compiler.lint.run import run_lint

    run_lint(files, fmt, fix, dry_run, deep, release)


def _plan(**params: Any) -> None:
    from compiler.gcpause import gc_importing

    with gc_importing():  # as cli.LazyGroup imports a command
        from compiler.plan.run import run_plan

    run_plan(**params)


COMMANDS: dict[str, Callable[..., None]] = {"validate": _validate, "lint": _lint, "plan": _plan}


def _completing() -> bool:
    """click's shell completion is asked for (`_PROG_COMPLETE=...` in the environment)."""
    return any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ)


class _Pacified:
    """A stream whose flush ignores a closed pipe: click's wrapper after EPIPE, so the
    interpreter's own flush at exit does not print a second error."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.wrapped, attr)


def _aborted() -> None:
    """^C (or end of input): a blank line closes the terminal's ^C, then `Aborted!`, exit 1."""
    try:
        sys.stderr.write("\n")
        sys.stderr.flush()
        sys.stderr.write("Aborted!\n")
        sys.stderr.flush()
    except (EOFError, KeyboardInterrupt):
        pass
    sys.exit(1)


def run(command: Callable[[], Any]) -> None:
    """Run a command as cli.LazyGroup.main and click's main (standalone) run one."""
    from compiler.cliutil import output_failed, stdout_closed

    if sys.stdout is None:  # started with stdout closed (`>&-`)
        stdout_closed()
    try:
        try:
            try:
                from compiler.spec import noplugins

                noplugins.install()  # as cli.LazyGroup.invoke, before a model is built
                command()
            except (EOFError, KeyboardInterrupt):
                _aborted()
            except OSError as exc:
                if exc.errno != errno.EPIPE:
                    raise
                sys.stdout = _Pacified(sys.stdout)
                sys.stderr = _Pacified(sys.stderr)
                sys.exit(1)
            sys.exit(0)
        finally:
            sys.stdout.flush()  # here, not at exit, where a failure is a traceback
    except OSError as exc:
        output_failed(exc)


def main() -> None:
    """The `tlsc` command."""
    read = None if _completing() else plain(sys.argv[1:])
    if read is None:
        from compiler.cli import main as click_main

        click_main()
        return
    # as compiler.cli registers it: the collector's passes at exit are skipped
    atexit.register(gc.freeze)
    name, params = read
    run(lambda: COMMANDS[name](**params))
