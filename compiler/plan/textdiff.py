"""The line diff of two long texts that differ in few places, found on the texts.

diff.line_opcodes pairs two lists of lines; for two 1,000,000-line access
files that differ in a thousand lines, splitting both texts into lines and
indexing every line is most of a plan's time and memory. Here the texts are
compared as strings, in blocks that grow while they stay equal; only where
they differ are a few lines split, to find where they agree again. The
lines are then a TextLines each: the text and the offsets of a few lines,
split on demand (the hunks and the access map's diff read only the lines
near a change).

The pairing found is diff.line_opcodes' own, exactly, when (`_exact`):

* every line of b is distinct (a set of the hashes of b's lines: the only cost per line),
* no line of a outside the runs paired here is a line of b,
* those lines of a are distinct, and no line of b outside the runs is one of them.

Then the lines the two texts share are exactly those paired here, each once
on each side and in the same order, and line_opcodes pairs those: its
patience step anchors every line unique on both sides, and in order they are
all its anchors; what is left between two runs of anchors shares no line, so
neither its head and tail comparison nor difflib pairs anything there.
Otherwise runs() answers None and the caller splits the texts and diffs the
lines (tests/test_plan_textdiff.py holds both to the same opcodes).
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections.abc import Iterator, Sequence
from typing import overload

#: line breaks of str.splitlines other than \n (each looked for with `in`: a memchr)
_OTHER_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def split_lines(text: str) -> list[str]:
    """Lines with their `\\n` kept, split on `\\n` only (a CR or a form feed stays in its line)."""
    if not text:
        return []
    if not any(c in text for c in _OTHER_BREAKS):
        # the same lines, split in C (str.splitlines also splits on these others)
        return text.splitlines(keepends=True)
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def line_count(text: str) -> int:
    """len(split_lines(text)), counted in C."""
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


class TextLines(Sequence[str]):
    """split_lines(text) without the list: the lines are cut from the text when asked
    for, from the nearest line whose offset is known (`marks`)."""

    def __init__(self, text: str, count: int, marks: list[tuple[int, int]]):
        self.text = text
        self._count = count
        #: (line number, offset of its first character), sorted, (0, 0) first
        self._lines = [line for line, _ in marks]
        self._offsets = [offset for _, offset in marks]

    def __len__(self) -> int:
        return self._count

    def offset(self, i: int) -> int:
        """Where line `i` starts (len(text) for i == len(self))."""
        k = bisect.bisect_right(self._lines, i) - 1
        line, at = self._lines[k], self._offsets[k]
        if k + 1 < len(self._lines) and self._lines[k + 1] - i < i - line:
            # nearer the next known line: walk back from it
            line, at = self._lines[k + 1], self._offsets[k + 1]
            text = self.text
            while line > i:
                at = text.rfind("\n", 0, at - 1) + 1
                line -= 1
            return at
        text = self.text
        while line < i:
            at = text.find("\n", at) + 1 or len(text)
            line += 1
        return at

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._count)
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            if stop <= start:
                return []
            return split_lines(self.text[self.offset(start) : self.offset(stop)])
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(index)
        start = self.offset(index)
        end = self.text.find("\n", start) + 1 or len(self.text)
        return self.text[start:end]

    def __iter__(self) -> Iterator[str]:
        return iter(split_lines(self.text))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TextLines):
            return self.text == other.text
        return isinstance(other, (list, Spliced)) and split_lines(self.text) == list(other)

    __hash__ = None  # type: ignore[assignment]


class Spliced(Sequence[str]):
    """`head`, then the lines of `lines` from len(head) on (another host's file with
    its own head: diff._reuse_heads)."""

    def __init__(self, head: list[str], lines: Sequence[str]):
        self.head = head
        self.lines: Sequence[str] = lines.lines if isinstance(lines, Spliced) else lines

    def __len__(self) -> int:
        return len(self.lines)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        cut = len(self.head)
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return self.head[start:stop] + list(self.lines[max(start, cut) : stop])
        if index < 0:
            index += len(self)
        return self.head[index] if 0 <= index < cut else self.lines[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self[0 : len(self)])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (list, TextLines, Spliced)) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


#: the first block compared after a difference, in characters; it doubles while equal
_FIRST_BLOCK = 256
_LARGEST_BLOCK = 1 << 20
#: most lines looked at on each side to find where two texts agree again
_MAX_WINDOW = 4096


def _common(a: str, pa: int, b: str, pb: int) -> int:
    """The length of the common prefix of a[pa:] and b[pb:]: blocks compared in C,
    growing while equal, then halved down to the first differing character."""
    n, step = 0, _FIRST_BLOCK
    limit = min(len(a) - pa, len(b) - pb)
    while n < limit:
        k = min(step, limit - n)
        if a[pa + n : pa + n + k] == b[pb + n : pb + n + k]:
            n += k
            step = min(step * 2, _LARGEST_BLOCK)
            continue
        while k > 1:  # the first difference is in a[pa + n : pa + n + k]
            half = k // 2
            if a[pa + n : pa + n + half] == b[pb + n : pb + n + half]:
                n, k = n + half, k - half
            else:
                k = half
        return n
    return n


def _take(text: str, at: int, most: int) -> tuple[list[str], list[int]]:
    """Up to `most` lines of `text` from offset `at`, and the offset after each."""
    lines: list[str] = []
    ends: list[int] = []
    end_of_text = len(text)
    for _ in range(most):
        if at >= end_of_text:
            break
        end = text.find("\n", at) + 1 or end_of_text
        lines.append(text[at:end])
        ends.append(end)
        at = end
    return lines, ends


def _resync(a: str, pa: int, b: str, pb: int) -> tuple[list[str], list[int], list[str], list[int]]:
    """Lines of a from pa and of b from pb up to the nearest pair of equal lines (the
    least lines skipped on both sides together): (a's lines, their ends, b's, theirs).
    Both lists run to the texts' ends when they share no line that near; raises
    _GiveUp when the nearest pair is further than _MAX_WINDOW lines."""
    most = 8
    while True:
        lines_a, ends_a = _take(a, pa, most)
        lines_b, ends_b = _take(b, pb, most)
        where: dict[str, int] = {}
        for j, line in enumerate(lines_b):
            where.setdefault(line, j)
        best: tuple[int, int] | None = None
        for i, line in enumerate(lines_a):
            if best is not None and i >= sum(best):
                break
            hit = where.get(line)
            if hit is not None and (best is None or i + hit < sum(best)):
                best = (i, hit)
        if best is not None:
            i, j = best
            return lines_a[:i], ends_a[:i], lines_b[:j], ends_b[:j]
        if len(lines_a) < most and len(lines_b) < most:
            return lines_a, ends_a, lines_b, ends_b
        if most >= _MAX_WINDOW:
            raise _GiveUp
        most *= 4


#: b's lines hashed at a time in _exact, in characters
_HASH_BLOCK = 1 << 20


class _GiveUp(Exception):
    """The texts differ too much for runs() to pay."""


Block = tuple[int, int, int]


def runs(
    a: str, b: str, most_apart: int | None = None
) -> tuple[TextLines, TextLines, list[Block]] | None:
    """(a's lines, b's lines, the runs (i, j, n) of lines a[i:i+n] == b[j:j+n] that
    line_opcodes pairs, in order), or None when it cannot be shown that they are
    its runs or when more than `most_apart` lines stand outside them (default: an
    eighth of the lines)."""
    if most_apart is None:
        most_apart = max(64, (len(a) + len(b)) // 400)
    blocks: list[Block] = []
    apart_a: list[str] = []
    apart_b: list[str] = []
    marks_a, marks_b = [(0, 0)], [(0, 0)]
    pa = pb = i = j = 0
    len_a, len_b = len(a), len(b)
    try:
        while True:
            n = _common(a, pa, b, pb)
            if pa + n == len_a and pb + n == len_b:
                same = n  # equal to both ends (a last line without \n included)
                lines = a.count("\n", pa, pa + n) + (1 if n and a[-1] != "\n" else 0)
            else:
                same = a.rfind("\n", pa, pa + n) + 1 - pa if n else 0
                same = max(same, 0)
                lines = a.count("\n", pa, pa + same)
            if lines:
                blocks.append((i, j, lines))
                i, j, pa, pb = i + lines, j + lines, pa + same, pb + same
                marks_a.append((i, pa))
                marks_b.append((j, pb))
            if pa == len_a and pb == len_b:
                break
            if pa == len_a or pb == len_b:  # one text ends: the other's rest stands apart
                lines_a, lines_b = split_lines(a[pa:]), split_lines(b[pb:])
                apart_a += lines_a
                apart_b += lines_b
                i, j, pa, pb = i + len(lines_a), j + len(lines_b), len_a, len_b
                marks_a.append((i, pa))
                marks_b.append((j, pb))
                break
            lines_a, ends_a, lines_b, ends_b = _resync(a, pa, b, pb)
            apart_a += lines_a
            apart_b += lines_b
            if len(apart_a) + len(apart_b) > most_apart:
                return None
            i, j = i + len(lines_a), j + len(lines_b)
            pa, pb = ends_a[-1] if ends_a else pa, ends_b[-1] if ends_b else pb
            marks_a.append((i, pa))
            marks_b.append((j, pb))
    except _GiveUp:
        return None
    if len(apart_a) + len(apart_b) > most_apart or not _exact(b, j, apart_a, apart_b):
        return None
    return TextLines(a, i, marks_a), TextLines(b, j, marks_b), blocks


def _exact(b: str, count_b: int, apart_a: list[str], apart_b: list[str]) -> bool:
    """True when the runs found are line_opcodes' (see the module's docstring): b's
    lines distinct, the lines of a outside the runs distinct and none of b's, no
    line of b outside the runs one of them."""
    # b's lines by their hashes, a block of lines at a time (no list of them all, no
    # set of the lines): two lines with one hash only make this answer False. The
    # hashes go into a set in two halves, the first half's lines and then the
    # second's, the second's kept as machine words (4 MB for a million lines)
    # meanwhile, as a set of them all would be 64 MB at the peak of a plan
    cuts = [0]
    while cuts[-1] < len(b):
        cuts.append(b.find("\n", cuts[-1] + _HASH_BLOCK) + 1 or len(b))
    half = len(cuts) // 2
    hashes: set[int] = set()
    for start, end in itertools.pairwise(cuts[: half + 1]):
        hashes.update(map(hash, split_lines(b[start:end])))
    rest = array("q")
    for start, end in itertools.pairwise(cuts[half:]):
        rest.extend(map(hash, split_lines(b[start:end])))
    total = len(hashes)
    if not hashes.isdisjoint(rest) or any(hash(line) in hashes for line in apart_a):
        return False
    hashes.clear()
    hashes.update(rest)
    del rest
    if total + len(hashes) != count_b or any(hash(line) in hashes for line in apart_a):
        return False
    del hashes
    only_a = set(apart_a)
    return len(only_a) == len(apart_a) and only_a.isdisjoint(apart_b)
