"""What the `tlsc` commands share that needs no click: output that fails, problems
printed, a spec that stops a command, and `tlsc validate` itself.

compiler/cli.py (click) and compiler/entry.py (the start path that reads a plain
`tlsc validate`, `lint` or `plan` command line without click) both run commands
through these, so a command prints and exits the same whichever way it started.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from compiler.problems import Problem
    from compiler.spec.loader import LoadedSpec
    from compiler.spec.validate import Validated


def echo_err(text: str) -> None:
    """A line on stderr, flushed: what `click.echo(text, err=True)` writes (tlsc's
    sentences hold no ANSI sequence for click to strip: one_line escapes ESC)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class _ClosedOutput(io.RawIOBase):
    """Standard output when the process started without one: every write fails."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise OSError(errno.EBADF, "it is closed")


def stdout_closed() -> None:
    try:
        os.fstat(1)
    except OSError:  # keep descriptor 1 taken: a file opened next must not become stdout
        devnull = os.open(os.devnull, os.O_WRONLY)
        if devnull != 1:
            os.dup2(devnull, 1)
            os.close(devnull)
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(_ClosedOutput()), encoding="utf-8")


#: errors of a write that say the output, not tlsc's own files, failed
_OUTPUT_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF})


def output_failed(exc: OSError) -> NoReturn:
    """One sentence for an OSError nothing else caught; exit 1."""
    reason = exc.strerror or str(exc)
    if exc.filename is None and exc.errno in _OUTPUT_ERRORS:
        sentence = f"cannot write to standard output: {reason}"
    else:
        sentence = f"{exc.filename}: {reason}" if exc.filename is not None else reason
    # what is still buffered goes nowhere: the interpreter's own flush at exit would fail again
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    try:
        from compiler.problems import one_line

        sys.stderr.write(f"tlsc: {one_line(sentence)}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    sys.exit(1)


def print_problems(problems: list[Problem], fmt: str) -> None:
    from compiler.problems import FORMATTERS, format_text

    if fmt == "text":
        color = sys.stderr.isatty() and "NO_COLOR" not in os.environ
        sys.stderr.write(format_text(problems, color=color))
    else:
        sys.stdout.write(FORMATTERS[fmt](problems))


def spec_failed(
    problems: list[Problem], fmt: str, sentence: str | None, *, listed: bool = True
) -> NoReturn:
    """Exit 1 for a spec that stops a command: it is not valid, it cannot be read, or
    it has no host --host names.

    With --format json, `problems` on stdout, as `tlsc validate` and `tlsc compile
    --host` print them, and nothing else there; in text, on stderr (when `listed`:
    else the sentence says it all). Then the sentence (`tlsc plan: ...`) on stderr.
    """
    if fmt == "json":
        print_problems(problems, "json")
    elif listed:
        print_problems(problems, "text")
    if sentence is not None:
        from compiler.problems import one_line

        echo_err(one_line(sentence))
    sys.exit(1)


def unreadable_spec(spec: str, fmt: str, sentence: str) -> NoReturn:
    """spec_failed for a SPEC that cannot be read: with --format json, what `tlsc
    validate SPEC` prints for it (Y000 at 1:1), read as validate reads it."""
    problems: list[Problem] = []
    if fmt == "json":
        from compiler.compile import compile_file

        problems = compile_file(spec, lazy=True).problems
    spec_failed(problems, fmt, sentence, listed=False)


def load_validated_or_exit(
    spec: str, fmt: str = "text", failed: str | None = None, who: str = "tlsc"
) -> tuple[LoadedSpec, Validated]:
    """SPEC loaded and validated without an error; else print every problem (as `validate`
    does), then `WHO: FAILED` when given, and exit 1 (spec_failed)."""
    from compiler.spec.loader import SpecLoadError, load_file
    from compiler.spec.validate import validate

    sentence = None if failed is None else f"{who}: {failed}"
    try:
        loaded = load_file(spec)
    except SpecLoadError as exc:
        if fmt == "json":  # in file order, as validate's
            from compiler.compile import load_problems

            spec_failed(load_problems(exc), fmt, sentence)
        problems = list(exc.problems)
        if exc.partial is not None:
            problems += validate(exc.partial).problems
        spec_failed(problems, fmt, sentence)
    checked = validate(loaded)
    if not checked.ok or checked.cluster is None:
        spec_failed(checked.problems, fmt, sentence)
    return loaded, checked


def unknown_hosts_or_exit(
    loaded: LoadedSpec, checked: Validated, hosts: Sequence[str], fmt: str, who: str
) -> None:
    """Exit 1 (spec_failed) when the valid spec has no host named one of `hosts`:
    `WHO: no host named NAME in SPEC; hosts are ...`, with --format json what `tlsc
    compile --host NAME` prints (S300)."""
    from compiler.compile import unknown_host_problems
    from compiler.problems import no_host

    assert checked.cluster is not None
    known = checked.cluster.hosts
    at = loaded.locate(("hosts",))
    problems = unknown_host_problems(loaded.source, at, known, hosts, checked.problems)
    if problems is not None:
        name = next(h for h in hosts if h not in known)
        sentence = f"{who}: {no_host(name, loaded.source, known)}"
        spec_failed(problems, fmt, sentence, listed=False)


def run_validate(spec: str, fmt: str) -> NoReturn:
    """`tlsc validate SPEC --format FMT`: every problem, then exit 0 valid, 1 invalid."""
    from compiler.gcpause import gc_importing

    # the modules and models live as long as the process: no collector passes over them
    with gc_importing():
        from compiler.compile import compile_file

    result = compile_file(spec, lazy=True)  # validation only: render nothing
    print_problems(result.problems, fmt)
    if fmt == "text" and result.ok:
        from compiler.problems import one_line

        echo_err(f"{one_line(spec)}: valid, {len(result.host_names)} host(s)")
    sys.exit(0 if result.ok else 1)
