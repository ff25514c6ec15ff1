"""What `tlsc lint [--format text|json|sarif|github|codequality] [--fix [--dry-run]] [--deep]
FILE...` does, without click (compiler/lint/command.py is its command line; compiler/entry.py
runs a plain one without click).

Thin: read the files, build the run's context (its access files, its m4
files, a reader for the files a .mc refers to), lint each file, print, exit
0 when no error was found and 1 otherwise. This path runs in pre-commit
hooks on every commit, so it imports neither pydantic nor ruamel.yaml.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from compiler.fileio import MAX_INPUT_BYTES, NotRegularFile, TooLarge, read_regular
from compiler.lint.engine import LintContext, LintReport, detect_kind, lint_text
from compiler.problems import FORMATTERS, Problem, format_text, one_line, printable

FORMATS = ("text", "json", "sarif", "github", "codequality")


def _load(path: str) -> str:
    """A file's text; OSError (fileio's: FIFO, device, too large) when it cannot be had."""
    return read_regular(path, MAX_INPUT_BYTES).decode("utf-8", "surrogateescape")


def _read(path: str) -> str | None:
    """For the rules: a file the linted one refers to, or None."""
    try:
        return _load(path)
    except OSError:
        return None


def _listdir(path: str) -> list[str] | None:
    try:
        return os.listdir(path)
    except OSError:
        return None


def _expand(paths: Sequence[str]) -> list[str]:
    """Files as given; a directory stands for its .mc, .m4 and access files."""
    out: list[str] = []
    for path in paths:
        if not os.path.isdir(path):
            out.append(path)
            continue
        before = len(out)
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.endswith((".mc", ".m4")) or name == "access":
                    out.append(os.path.join(root, name))
        if len(out) == before:
            # not an error (a pre-commit run may pass a directory with nothing
            # to lint), but never a silent "clean"
            sys.stderr.write(
                f"{one_line(path)}: warning: no .mc, .m4 or access file found to lint\n"
            )
    return out


def run_lint(
    files: Sequence[str], fmt: str, fix: bool, dry_run: bool, deep: bool, release: str
) -> NoReturn:
    """Lint FILES (a directory: its .mc, .m4 and access files), print, exit 0 clean, 1 errors."""
    paths = _expand(files)
    texts: dict[str, str] = {}
    unreadable: list[Problem] = []
    for path in paths:
        try:
            text = _load(path)
        except FileNotFoundError:
            unreadable.append(Problem(path, 1, 1, "L000", "error", f"{path}: no such file"))
            continue
        except (NotRegularFile, TooLarge) as exc:
            message = f"{path}: {exc.strerror}; it is not linted"
            unreadable.append(Problem(path, 1, 1, "L000", "error", message))
            continue
        except OSError as exc:
            message = f"{path}: cannot be read ({exc.strerror})"
            unreadable.append(Problem(path, 1, 1, "L000", "error", message))
            continue
        if "\x00" in text:
            line = text.count("\n", 0, text.index("\x00")) + 1
            message = f"{path}: a binary file (it holds NUL bytes), not an .mc, .m4 or access file"
            unreadable.append(Problem(path, line, 1, "L000", "error", message))
        else:
            texts[path] = text
    kinds = {path: detect_kind(path, text) for path, text in texts.items()}
    ctx = LintContext(read=_read, listdir=_listdir, release=release)
    from compiler.lint.access import parse_access

    for path, kind in kinds.items():
        if kind == "access":
            ctx.access[path] = parse_access(texts[path], path)
        else:
            ctx.m4_paths.append(path)

    reports: list[LintReport] = []
    failed = bool(unreadable)
    diff_out = sys.stdout if fmt == "text" else sys.stderr
    for path, text in texts.items():
        report = lint_text(text, path, kinds[path], ctx)
        if fix:
            from compiler.lint.fix import fix_text, unified_diff, write_atomic

            result = fix_text(text, path, kinds[path], ctx)
            if result.text != text:
                # the file's lines as the findings show them: a control character escaped
                diff_out.write(printable(unified_diff(path, text, result.text), "\n\t"))
                if not dry_run:
                    try:
                        write_atomic(path, result.text.encode("utf-8", "surrogateescape"))
                    except OSError as exc:
                        unreadable.append(
                            Problem(path, 1, 1, "L000", "error", f"cannot write: {exc.strerror}")
                        )
                        failed = True
            failed = failed or (report.errors > 0 if dry_run else result.report.errors > 0)
            report = result.report
        else:
            failed = failed or report.errors > 0
        if deep:
            from compiler.lint.deep import deep_check

            extra = deep_check(report.doc, ctx)
            if extra:
                report.findings = sorted(
                    [*report.findings, *extra], key=lambda f: (f.offset, f.code)
                )
                failed = failed or any(f.severity == "error" for f in extra)
        reports.append(report)
    _print(reports, unreadable, fmt)
    sys.exit(1 if failed else 0)


def _print(reports: list[LintReport], unreadable: list[Problem], fmt: str) -> None:
    # each rule's first findings per file, the rest counted in one line (the summary counts all)
    shown = [r.capped() for r in reports]
    if fmt == "sarif":
        from compiler.lint.sarif import format_sarif

        counts = [p for r in shown for p in r.omitted_problems()]
        sys.stdout.write(format_sarif(shown, unreadable + counts))
        return
    if fmt == "codequality":
        from compiler.lint.codequality import format_codequality

        sys.stdout.write(format_codequality([p for r in shown for p in r.problems()] + unreadable))
        return
    if fmt != "text":
        sys.stdout.write(FORMATTERS[fmt]([p for r in shown for p in r.problems()] + unreadable))
        return
    from compiler.lint.report import format_report, format_summary

    color = sys.stderr.isatty() and "NO_COLOR" not in os.environ
    out = [format_text(unreadable, color=color)]
    out += [format_report(r, color=color) for r in shown if r.findings]
    if unreadable or any(r.findings for r in reports):
        every = [f for r in reports for f in r.findings]
        out.append(format_summary([*every, *unreadable], len(reports) + len(unreadable)))
    sys.stderr.write("".join(out))
