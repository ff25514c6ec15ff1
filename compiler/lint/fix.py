"""`tlsc lint --fix`: apply the rules' safe mechanical repairs, show the diff, write atomically.

Safe repairs are those with one meaning: a typographic or acute quote that
opens or closes an m4 quote, an apostrophe that opens a macro argument, a
missing `dnl`, a blank between a macro and its `(`. A repair is kept only
when the file then lints with fewer errors, so a fix never makes a file
worse; the loop repeats because one repair can reveal the next.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass

from compiler.fileio import check_write_target, signals_as_exceptions
from compiler.lint.engine import Edit, LintContext, LintReport, lint_text

MAX_ROUNDS = 8


@dataclass
class FixResult:
    """The repaired text, how many repairs were kept, and the repaired file's report."""

    text: str
    applied: int
    report: LintReport


def apply_edits(text: str, edits: list[Edit]) -> str:
    """`text` with non-overlapping edits applied (an edit overlapping an earlier one is skipped)."""
    out: list[str] = []
    pos = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < pos:
            continue
        out.append(text[pos : edit.start])
        out.append(edit.text)
        pos = edit.end
    out.append(text[pos:])
    return "".join(out)


def _score(report: LintReport) -> tuple[int, int]:
    return report.errors, len(report.findings)


def fix_text(text: str, path: str, kind: str, ctx: LintContext | None = None) -> FixResult:
    """Repair `text` as far as the safe fixes go."""
    report = lint_text(text, path, kind, ctx)
    applied = 0
    for _ in range(MAX_ROUNDS):
        fixable = [f for f in report.findings if f.safe and f.edits]
        if not fixable:
            break
        edits = [e for f in fixable for e in f.edits]
        candidate = apply_edits(text, edits)
        new = lint_text(candidate, path, kind, ctx)
        if _score(new) < _score(report):
            text, report, applied = candidate, new, applied + len(fixable)
            continue
        for finding in fixable:  # all at once made it worse: one at a time
            candidate = apply_edits(text, list(finding.edits))
            new = lint_text(candidate, path, kind, ctx)
            if _score(new) < _score(report):
                text, report, applied = candidate, new, applied + 1
                break
        else:
            break
    return FixResult(text, applied, report)


def unified_diff(path: str, before: str, after: str) -> str:
    """A unified diff of the repair, `a/PATH` to `b/PATH`."""
    import difflib

    path = path.lstrip("/")
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


def write_atomic(path: str, data: bytes, new_mode: int = 0o644) -> None:
    """Write beside the file, fsync, rename over it; keep the file's mode and owner
    (`new_mode` when there is no file yet).

    Anything there but a regular file (a device, a FIFO, a directory, or a
    link to one) is refused with fileio.NotRegularFile, an OSError, before
    anything is written: renaming over /dev/null would replace the device. A
    symbolic link stays a link: the file it leads to is written (a `.mc` linked
    from a checkout is fixed there). A failure, ^C or SIGTERM leaves no
    temporary file.
    """
    check_write_target(path)
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    try:
        info: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        info = None
    with signals_as_exceptions():
        fd, tmp = tempfile.mkstemp(prefix=".tlsc-write-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if info is not None and (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
                with contextlib.suppress(OSError):  # only root may give a file away
                    os.chown(tmp, info.st_uid, info.st_gid)
            os.chmod(tmp, new_mode if info is None else info.st_mode & 0o7777)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
