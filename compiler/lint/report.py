"""Text output for people: each problem, the line it is on, a caret, and the fix.

    sendmail.mc:16:8: error: M4001 typographic quote ‘ (U+2018 ...) ...
       16 | define(‘confCIPHER_LIST’, `HIGH:!aNULL:!MD5')dnl
          |        ^
      fix | define(`confCIPHER_LIST’, `HIGH:!aNULL:!MD5')dnl

The first line is exactly the `PATH:LINE:COL: severity: CODE message` of
`compiler.problems.format_text`, so tools that parse it keep working.
"""

from __future__ import annotations

from collections.abc import Iterable

from compiler.lint.engine import Finding, LintReport
from compiler.problems import Problem, format_text, printable

#: the most columns of a source line shown; a longer line is cut around the finding
WIDTH = 100


def _excerpt(source: str, col: int, length: int) -> tuple[str, str, int]:
    """The line as shown (escaped, cut to WIDTH around `col`), its caret line, and the cut."""
    pieces = [_visible(ch) for ch in source]
    full = "".join(pieces)
    at = sum(map(len, pieces[: col - 1]))
    span = max(1, sum(map(len, pieces[col - 1 : col - 1 + max(1, length)])))
    start = 0 if len(full) <= WIDTH else max(0, min(at - WIDTH // 3, len(full) - WIDTH))
    shown = _cut(full, start)
    # keep the source's tabs so the caret lines up under the offending text
    lead = "…" if start else ""
    prefix = lead + "".join(ch if ch == "\t" else " " for ch in full[start:at])
    caret = prefix + "^" + "~" * (min(span, WIDTH - (at - start)) - 1)
    return shown, caret, start


def _cut(full: str, start: int) -> str:
    if len(full) <= WIDTH and not start:
        return full
    end = start + WIDTH
    return ("…" if start else "") + full[start:end] + ("…" if end < len(full) else "")


def fixed_line(report: LintReport, finding: Finding) -> str | None:
    """The finding's line after its edits, or None when they leave the line."""
    if not finding.edits:
        return None
    doc = report.doc
    line = doc.line_of(finding.offset)
    start = doc.line_starts[line - 1]
    end = doc.line_end(start)
    text = doc.text[start:end]
    for edit in sorted(finding.edits, key=lambda e: e.start, reverse=True):
        if not start <= edit.start <= edit.end <= end:
            return None
        text = text[: edit.start - start] + edit.text + text[edit.end - start :]
    return text


def format_report(report: LintReport, color: bool = False) -> str:
    """Every finding of one file, with its source line and fix."""
    out: list[str] = []
    doc = report.doc
    for finding in report.findings:
        line, col = doc.pos(finding.offset)
        problem = Problem(report.path, line, col, finding.code, finding.severity, finding.message)
        out.append(format_text([problem], color=color))
        source = doc.line_text(line).rstrip("\r")
        # the line is shown as the text has it (a byte order mark escaped), so the caret
        # goes by every character of it, not by the column reported
        shown, caret, start = _excerpt(source, doc.raw_col(finding.offset), finding.length)
        out.append(f"{line:>6} | {shown}\n")
        out.append(f"{'':>6} | {caret}\n")
        fixed = fixed_line(report, finding)
        if fixed is not None:
            out.append(f"{'fix':>6} | {_cut(_visible(fixed.rstrip(chr(13))), start)}\n")
    out.append(format_text(report.omitted_problems(), color=color))
    return "".join(out)


def _visible(text: str) -> str:
    # what a problem's message escapes (problems.one_line) but the tab: control
    # characters and the line breaks beyond ASCII (NEL, U+2028, U+2029), so one source
    # line stays one line; bidi controls, so it is not shown reordered (Trojan Source);
    # zero-width characters, so the caret points at something
    return printable(text, "\t")


def format_summary(problems: Iterable[Problem | Finding], files: int) -> str:
    """`2 errors, 1 warning in 3 files` (pass every finding, not a capped report's)."""
    problems = list(problems)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    return (
        f"{errors} error{'s' if errors != 1 else ''}, {warnings}"
        f" warning{'s' if warnings != 1 else ''} in {files} file{'s' if files != 1 else ''}\n"
    )
