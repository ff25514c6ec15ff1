"""Cut a lexed `.mc`/`.m4` file into statements, the way a person reads it.

A statement is one line, or several when a macro call (or a quote) runs
past the end of its first line, as Debian's two-line `confPRIVACY_FLAGS`
define does. Each statement is a comment, a blank line, one macro call
(with at most a trailing `dnl` comment), or raw text (LOCAL_CONFIG rules,
two calls on one line, ...). The lexer (`compiler.lint.lexer`) decides what
is quoted, commented or called; nothing here scans m4 characters itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from compiler.lint.lexer import Call, M4Document

Kind = Literal["blank", "comment", "call", "raw"]


@dataclass(frozen=True)
class Statement:
    """One statement of an m4 file."""

    kind: Kind
    start: int
    end: int  # offset of the newline that ends the statement (or len(text))
    line: int
    col: int
    text: str  # the source text, without the final newline
    call: Call | None  # the call, for kind "call"
    oneline: str | None  # the same m4 as one line, or None when it cannot be

    @property
    def multiline(self) -> bool:
        """True when the statement spans more than one line."""
        return "\n" in self.text


def statements(doc: M4Document) -> list[Statement]:
    """The statements of a lexed file, in order."""
    calls = sorted((c for c in doc.calls if c.parent is None), key=lambda c: c.start)
    text = doc.text
    out: list[Statement] = []
    line = 1
    ci = 0
    while line <= len(doc.line_starts):
        start = doc.line_starts[line - 1]
        if start >= len(text):
            break
        end = doc.line_end(start)
        while ci < len(calls) and calls[ci].start < start:
            ci += 1
        end = _extend(doc, calls, ci, start, end)
        inner = [c for c in calls[ci:] if c.start < end]
        out.append(_classify(doc, start, end, inner))
        line = doc.line_of(end) + 1 if end < len(text) else len(doc.line_starts) + 1
    return out


def _extend(doc: M4Document, calls: list[Call], ci: int, start: int, end: int) -> int:
    """Extend [start, end) over calls and quotes that begin inside it and end later."""
    changed = True
    while changed:
        changed = False
        for call in calls[ci:]:
            if call.start >= end:
                break
            if call.end - 1 > end:
                end = doc.line_end(call.end - 1)
                changed = True
        for quote in doc.quotes:
            if start <= quote.start < end and quote.end - 1 > end:
                end = doc.line_end(quote.end - 1)
                changed = True
    return end


def _classify(doc: M4Document, start: int, end: int, calls: list[Call]) -> Statement:
    text = doc.text[start:end]
    line, _ = doc.pos(start)
    col = len(text) - len(text.lstrip()) + 1
    if not text.strip():
        return Statement("blank", start, end, line, col, text, None, text)
    spans = [(c.start, c.end) for c in calls]
    spans += [s for s in doc.dnl if start <= s[0] < end]
    spans += [s for s in doc.comments if start <= s[0] < end]
    residual = list(text)
    for s, e in spans:
        for i in range(max(s, start), min(e, end)):
            residual[i - start] = " "
    rest = "".join(residual).strip()
    if not rest and not calls:
        return Statement("comment", start, end, line, col, text, None, text)
    oneline = _oneline(doc, start, end, calls)
    if not rest and len(calls) == 1 and not calls[0].detached and not calls[0].hash_line:
        return Statement("call", start, end, line, col, text, calls[0], oneline)
    return Statement("raw", start, end, line, col, text, None, oneline)


def _oneline(doc: M4Document, start: int, end: int, calls: list[Call]) -> str | None:
    """The statement as one line of equivalent m4, or None.

    m4 deletes `dnl` through its newline, and skips blanks and newlines
    before an argument; a newline inside a quote is part of a value and
    cannot be joined away.
    """
    text = doc.text
    if "\n" not in text[start:end]:
        return text[start:end]
    if len(calls) != 1:
        return None
    quotes = [q for arg in calls[0].args for q in arg.quotes]
    out: list[str] = []
    i = start
    dnl = sorted(s for s in doc.dnl if start <= s[0] < end)
    k = 0
    while i < end:
        if k < len(dnl) and dnl[k][0] == i:
            if dnl[k][1] - 1 >= end:  # the final dnl: keep it, it ends the statement
                out.append(text[i:end])
                break
            i = dnl[k][1]
            k += 1
            while i < end and text[i] in " \t":
                i += 1
            continue
        ch = text[i]
        if ch == "\n":
            if any(q.start < i < q.end for q in quotes):
                return None
            out.append(" ")
        else:
            out.append(ch)
        i += 1
    return "".join(out).rstrip()


def inert(doc: M4Document, stmt: Statement) -> bool:
    """True for raw text m4 copies nowhere that matters.

    Text under `divert(-1)` is discarded, and a live `#` line (after cf.m4,
    or anywhere in an included .m4) without a macro call only becomes a
    comment line of the .cf.
    """
    if any(stmt.start <= c.start < stmt.end for c in doc.calls):
        return False
    offset = stmt.start + stmt.col - 1
    return doc.diversion_at(offset) == -1 or doc.line_of(offset) in doc.hash_lines
