"""A linted file's text with line and column lookup, shared by every document kind."""

from __future__ import annotations

import bisect
import re

_NEWLINE = re.compile("\n")
#: the UTF-8 byte order mark, as the text decodes it
BOM = "\ufeff"


class SourceText:
    """Text plus where each line starts; offsets map to 1-based (line, column).

    A byte order mark that starts the text is not counted in line 1's columns:
    editors do not show it, and a column that counted it pointed one to the right
    of every finding on that line. (M4023 and A008 report the mark itself.)
    """

    def __init__(self, text: str, path: str, kind: str) -> None:
        self.text = text
        self.path = path
        self.kind = kind
        self.line_starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
        #: the text starts with a byte order mark (offset 0)
        self.bom = text.startswith(BOM)

    def pos(self, offset: int) -> tuple[int, int]:
        """(line, column) of an offset, both counted from 1."""
        line = bisect.bisect_right(self.line_starts, offset) - 1
        col = offset - self.line_starts[line] + 1
        if line == 0 and self.bom and offset > 0:
            col -= 1
        return line + 1, col

    def raw_col(self, offset: int) -> int:
        """The column of an offset counting every character of its line (a byte order
        mark too), for showing the line as the text has it."""
        line = bisect.bisect_right(self.line_starts, offset) - 1
        return offset - self.line_starts[line] + 1

    def line_of(self, offset: int) -> int:
        """The 1-based line an offset is on."""
        return bisect.bisect_right(self.line_starts, offset)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        start = self.line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def line_end(self, offset: int) -> int:
        """The offset of the newline ending the line of `offset` (or the end of text)."""
        end = self.text.find("\n", offset)
        return len(self.text) if end < 0 else end
