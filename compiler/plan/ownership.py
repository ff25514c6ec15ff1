"""`ownership: block`: tlsc owns only the lines between its markers.

The host's access file is kept byte for byte outside `# BEGIN tlsc` ...
`# END tlsc`; the block tlsc renders replaces the one there, or is appended
when the file has none. A file whose markers are broken (one without the
other, two blocks, END before BEGIN) is not guessed at: the plan stops and
says which line to fix.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.render.access import BLOCK_BEGIN, BLOCK_END


class BlockError(ValueError):
    """The observed file's tlsc markers cannot be trusted."""


@dataclass(frozen=True)
class Spliced:
    """The new file text, and whether an existing block was replaced."""

    text: str
    replaced: bool


def _marker_lines(lines: list[str], marker: str) -> list[int]:
    return [i for i, line in enumerate(lines) if line.rstrip("\r\n") == marker]


def splice_block(observed: str | None, block: str, path: str = "the access file") -> Spliced:
    """`observed` with its tlsc block replaced by `block` (or `block` appended)."""
    if not observed:
        return Spliced(block, False)
    lines = observed.splitlines(keepends=True)
    begins = _marker_lines(lines, BLOCK_BEGIN)
    ends = _marker_lines(lines, BLOCK_END)
    if not begins and not ends:
        sep = "" if observed.endswith("\n") else "\n"
        return Spliced(observed + sep + block, False)
    if len(begins) > 1 or len(ends) > 1:
        twice = BLOCK_BEGIN if len(begins) > 1 else BLOCK_END
        where = begins if len(begins) > 1 else ends
        raise BlockError(
            f"{path} has '{twice}' on lines {where[0] + 1} and {where[1] + 1}; keep one tlsc"
            " block and run the plan again"
        )
    if not ends or not begins:
        have, missing = (BLOCK_BEGIN, BLOCK_END) if begins else (BLOCK_END, BLOCK_BEGIN)
        line = (begins or ends)[0] + 1
        raise BlockError(f"{path} has '{have}' on line {line} but no '{missing}'; fix the file")
    begin, end = begins[0], ends[0]
    if end < begin:
        raise BlockError(
            f"{path} has '{BLOCK_END}' on line {end + 1} before '{BLOCK_BEGIN}' on line"
            f" {begin + 1}; fix the file"
        )
    return Spliced("".join(lines[:begin]) + block + "".join(lines[end + 1 :]), True)
