"""The rich console tlsc's tables are printed on, which shows what it is given as text.

Rich passes an ESC in a cell or a sentence to the terminal as it is (and drops a CR
or a backspace without a word): a relay name in a log, a server's reply or a
certificate's subject would colour the operator's terminal, clear it or set its
title. Everything printed here goes through problems.printable first, tables cell
by cell (a table that is not a SafeTable is refused), so each such character is
shown as its escape; markup stays off, so [brackets] are text too.
"""

from __future__ import annotations

from typing import IO, Any

from rich.console import Console
from rich.table import Table
from rich.text import Span, Text

from compiler.problems import printable

#: what a multi-line cell or sentence tlsc builds keeps: its own line breaks and tabs
_KEEP = "\n\t"


def safe_text(text: Text) -> Text:
    """`text` with its control characters escaped, its styles kept on the same characters."""
    if printable(text.plain, _KEEP) == text.plain:
        return text
    cuts = sorted({n for span in text.spans for n in (span.start, span.end)})
    out = Text(
        style=text.style,
        justify=text.justify,
        overflow=text.overflow,
        no_wrap=text.no_wrap,
        end=text.end,
        tab_size=text.tab_size,
    )
    for piece in text.divide(cuts):
        shown = printable(piece.plain, _KEEP)
        # divided at every span's ends, each span of a piece covers all of it
        out.append_text(Text(shown, spans=[Span(0, len(shown), s.style) for s in piece.spans]))
    return out


def safe(value: Any) -> Any:
    """A cell or a printed object as it may be shown: text escaped, a table checked."""
    if isinstance(value, str):
        return printable(value, _KEEP)
    if isinstance(value, Text):
        return safe_text(value)
    if isinstance(value, Table) and not isinstance(value, SafeTable):
        raise TypeError("print a SafeTable: its cells are escaped as they are added")
    return value


class SafeTable(Table):
    """A rich Table whose cells are escaped as they are added."""

    def add_row(self, *renderables: Any, **options: Any) -> None:
        super().add_row(*(safe(r) for r in renderables), **options)


class SafeConsole(Console):
    """A rich Console that escapes what it prints (safe)."""

    def print(self, *objects: Any, **options: Any) -> None:
        super().print(*(safe(o) for o in objects), **options)


def make_console(out: IO[str], color: bool, width: int) -> SafeConsole:
    """A console on `out`: plain text `width` wide unless `color`, no markup, no highlighting."""
    return SafeConsole(
        file=out,
        width=None if color else width,
        color_system="auto" if color else None,
        highlight=False,
        markup=False,  # relays, DNs, replies and errors hold [brackets]
        soft_wrap=False,
    )


def shown_text(value: str, style: str = "") -> Text:
    """A styled Text of `value` escaped (rich's Text drops a CR or a backspace it is given)."""
    return Text(printable(value, _KEEP), style=style)
