"""Which line of the original .mc a round-trip difference of sendmail.cf comes from.

The round trip compares the two builds line by line, and a line of a .cf
names no line of the .mc. Two causes can be told apart, the second with the
real m4:

* a .cf line that is a line of the .mc itself (LOCAL_CONFIG and
  LOCAL_RULESETS text, copied as it stands): that line, already reported
  when the spec could not keep it (a line that is not UTF-8, I115);
* a define, undefine or FEATURE after the first MAILER line: the spec writes
  its defines, features and mc.extra before the MAILER lines, so m4 reads
  such a line before the MAILERs expand, not after (ucbvax.mc's
  `undefine(`UUCP_RELAY')`, mail.cs.mc's late `confUSERDB_SPEC`). The
  original .mc is built again with that one line moved above the first
  MAILER; the .cf lines that then change as the imported spec's did are that
  line's doing.

A difference neither explains stays unlocated (sendmail.mc:1:1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from compiler.importer.notes import Where
from compiler.importer.statements import Statement, statements
from compiler.lint.lexer import lex

#: the calls whose place relative to the MAILER lines m4 acts on
_TIMED = frozenset({"define", "undefine", "pushdef", "popdef", "FEATURE"})
#: at most this many lines are built again with the real m4 (each build is one m4 run)
MAX_MOVED = 12


@dataclass(frozen=True)
class Diff:
    """One differing .cf line: missing from the imported build, or added by it."""

    missing: bool
    number: int  # its line in the build that has it
    text: str


@dataclass(frozen=True)
class Cause:
    """The .mc line a set of differences comes from, and how."""

    where: Where
    how: str  # "late" or "verbatim"
    first_mailer: int = 0  # the first MAILER line (late)


def verbatim(mc_text: str, mc_path: str, diffs: list[Diff]) -> dict[Diff, Cause]:
    """Differences that are a line of the .mc as it stands (the first such line)."""
    lines: dict[str, int] = {}
    for number, line in enumerate(mc_text.split("\n"), start=1):
        lines.setdefault(line.strip(), number)
    out = {}
    for d in diffs:
        found = lines.get(d.text.strip())
        if d.text.strip() and found is not None:
            out[d] = Cause(Where(mc_path, found), "verbatim")
    return out


def late(
    mc_text: str,
    mc_path: str,
    diffs: list[Diff],
    build: Callable[[str], set[str] | None],
    original: set[str],
) -> dict[Diff, Cause]:
    """Differences a define/undefine/FEATURE after the first MAILER line makes, found by
    building the .mc with each such line moved above the MAILERs. `build` gives the
    lines of a .mc's .cf (None when m4 fails); `original` those of the original's."""
    doc = lex(mc_text, mc_path, "mc")
    stmts = statements(doc)
    first = next((s for s in stmts if s.call is not None and s.call.name == "MAILER"), None)
    if first is None:
        return {}
    moved = [
        s for s in stmts if s.start > first.start and s.call is not None and s.call.name in _TIMED
    ][:MAX_MOVED]
    out: dict[Diff, Cause] = {}
    for stmt in moved:
        left = [d for d in diffs if d not in out]
        if not left:
            break
        got = build(_moved(mc_text, stmt, first))
        if got is None:
            continue
        for d in left:
            # the original has a missing line and lacks an added one; moved, it went
            # as the imported build went
            if (d.text in original) != (d.text in got) and (d.text in got) != d.missing:
                out[d] = Cause(Where(mc_path, stmt.line, stmt.col), "late", first.line)
    return out


def _moved(text: str, stmt: Statement, before: Statement) -> str:
    """The .mc with `stmt` (and its newline) moved to the start of `before`'s line."""
    end = min(stmt.end + 1, len(text))
    line_start = text.rfind("\n", 0, before.start) + 1
    body = text[stmt.start : end]
    if not body.endswith("\n"):
        body += "\n"
    return text[:line_start] + body + text[line_start : stmt.start] + text[end:]
