"""Compare two versions of a file: a unified diff, and for the access file a
semantic diff of the map it builds.

The line diff pairs equal head and tail lines, then lines unique on both
sides (patience diff), and leaves only the small gaps between them to
difflib's SequenceMatcher, so changes scattered through a 100,000-line access
file cost a few scans, not a quadratic match; the hunks it prints are in
difflib's unified format (`--- a/PATH`, `+++ b/PATH`, `@@ -l,s +l,s @@`),
with git's `\\ No newline at end of file` where a side lacks a final newline.

The semantic diff parses only the lines inside changed regions: every other
line stands unchanged on both sides, so it cannot add, remove or change a
key. The two partial maps are compared key by key: added, removed and
changed keys; a key that only moved is neither.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import itertools
import operator
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import cast

from compiler.plan import textdiff
from compiler.plan.accessfile import parse_lines
from compiler.plan.model import AccessChanged, AccessDiff, AccessLine
from compiler.plan.textdiff import split_lines as split_lines  # the planner's, and tests'

Opcode = tuple[str, int, int, int, int]
_IS_SOME = functools.partial(operator.is_not, None)

CONTEXT = 3


def line_opcodes(a: list[str], b: list[str]) -> list[Opcode]:
    """difflib-style opcodes turning `a` into `b` (see _match for how lines are paired)."""
    blocks: list[tuple[int, int, int]] = []
    _match(a, b, 0, len(a), 0, len(b), blocks, 0)
    return _opcodes(blocks, len(a), len(b))


def _opcodes(blocks: list[tuple[int, int, int]], len_a: int, len_b: int) -> list[Opcode]:
    """The opcodes between matching blocks (i, j, n), in order, of lists this long."""
    codes: list[Opcode] = []
    i = j = 0
    for ai, bj, size in [*blocks, (len_a, len_b, 0)]:
        if i < ai and j < bj:
            codes.append(("replace", i, ai, j, bj))
        elif i < ai:
            codes.append(("delete", i, ai, j, bj))
        elif j < bj:
            codes.append(("insert", i, ai, j, bj))
        if size:
            codes.append(("equal", ai, ai + size, bj, bj + size))
        i, j = ai + size, bj + size
    return _merge_equal(codes)


#: at most this many lines may differ for reuse_opcodes to try a renaming
_MAX_RENAMED = 64


def _differing(old: list[str], new: list[str]) -> list[int]:
    """Positions where two lists of the same length hold different lines (in C, no loop)."""
    return list(itertools.compress(range(len(new)), map(operator.ne, old, new)))


def reuse_opcodes(
    old_a: list[str], old_b: list[str], codes: list[Opcode], a: list[str], b: list[str]
) -> list[Opcode] | None:
    """`codes`, the opcodes of (old_a, old_b), when they are also those of (a, b), else None.

    line_opcodes (its anchors, difflib's matcher, the junk heuristic) looks
    only at which lines equal which. When (a, b) is (old_a, old_b) with a few
    lines consistently renamed (one old text always becomes the same new
    text, no two become one, and neither text occurs anywhere else), every
    equality is the same and so is the result. Hosts' files differ so, in
    the host name of their header lines: the planner diffs the first host's
    100,000-line access file and checks the other hosts' in a few C scans.
    """
    if len(a) != len(old_a) or len(b) != len(old_b):
        return None
    moved_a, moved_b = _differing(old_a, a), _differing(old_b, b)
    if not _renamed(old_a, old_b, a, b, moved_a, moved_b, (Rest("", 0), Rest("", 0))):
        return None
    return codes


def _renamed(
    old_a: list[str],
    old_b: list[str],
    a: list[str],
    b: list[str],
    moved_a: list[int],
    moved_b: list[int],
    rests: tuple[Rest, Rest],
) -> bool:
    """True when the lines at `moved_a` / `moved_b` are a consistent renaming (see
    reuse_opcodes) of lists whose other lines are equal.

    `rests` is the text that follows the lists on each side, the same on the
    old and the new side: a renamed text may not stand there either.
    """
    if len(moved_a) + len(moved_b) > _MAX_RENAMED:
        return False
    forward: dict[str, str] = {}
    backward: dict[str, str] = {}
    for old, new, moved in ((old_a, a, moved_a), (old_b, b, moved_b)):
        for i in moved:
            x, y = old[i], new[i]
            if forward.setdefault(x, y) != y or backward.setdefault(y, x) != x:
                return False
    # a renamed text stands nowhere else: the old text only where it goes, the new
    # text only where it comes, so it equals no line that stays
    rest_a, rest_b = rests
    for seq, moved, texts, rest in (
        (old_a, moved_a, forward, rest_a),
        (old_b, moved_b, forward, rest_b),
        (a, moved_a, backward, rest_a),
        (b, moved_b, backward, rest_b),
    ):
        at_moved = Counter(seq[i] for i in moved)
        if any(seq.count(text) != at_moved[text] or _has_line(rest, text) for text in texts):
            return False
    return True


class Rest:
    """The text that follows a text's head: the text and where its head ends (not a
    copy); the hosts of a cluster share one (diff_texts passes it on)."""

    def __init__(self, text: str, start: int):
        self.text = text
        self.start = start
        self._comments: frozenset[str] | None = None
        self._tail: str | None = None

    def tail(self) -> str:
        """text[start:], copied once, when a second host's text is first compared with it
        (each next one is then one comparison in C, with no copy of its own)."""
        if self._tail is None:
            self._tail = self.text[self.start :]
        return self._tail

    def comment_lines(self) -> frozenset[str]:
        """Its lines that start with `#` (a few in an access file), found once by a scan
        for `\\n#`: each host's renamed header lines are looked up here."""
        if self._comments is None:
            text, found = self.text, []
            at = self.start if text.startswith("#", self.start) else _after(text, self.start)
            while at >= 0:
                end = text.find("\n", at) + 1 or len(text)
                found.append(text[at:end])
                at = _after(text, end - 1)
            self._comments = frozenset(found)
        return self._comments


def _after(text: str, start: int) -> int:
    """Where the next line that starts with `#` after a line break at or after
    `start` starts, or -1."""
    hit = text.find("\n#", start)
    return hit + 1 if hit >= 0 else -1


def _has_line(rest: Rest, line: str) -> bool:
    """True when `line` (ending in `\\n`) is one of the lines of `rest` (a string search,
    or for a comment line a look-up among the rest's comment lines)."""
    text, start = rest.text, rest.start
    if line.startswith("#") and line.endswith("\n"):
        return line in rest.comment_lines()
    return text.startswith(line, start) or text.find("\n" + line, start) >= 0


def _same_rest(text: str, start: int, rest: Rest) -> bool:
    """True when text[start:] is rest's text from its offset on (no copy of `text`)."""
    other, at = rest.text, rest.start
    if len(text) - start != len(other) - at:
        return False
    if text is other and start == at:
        return True
    return text.endswith(rest.tail())


#: the lines a text's head holds; the planner compares what follows them as one string
HEAD_LINES = 64


def head_end(text: str, lines: int = HEAD_LINES) -> int:
    """Where `text` goes on after its first `lines` lines, or -1 when it has no more."""
    end = 0
    for _ in range(lines):
        end = text.find("\n", end) + 1
        if not end:
            return -1
    return end


@dataclass(frozen=True)
class Diffed:
    """Two texts split into lines and the opcodes between them, with what follows
    each text's head (None: a short text) for the next pair to be checked against."""

    a: Sequence[str]  # a list, or a textdiff.TextLines (cut from the text when asked)
    b: Sequence[str]
    codes: list[Opcode]
    rests: tuple[Rest, Rest] | None
    #: the unified diff's hunks that lie past the heads, by their index: the same for
    #: every pair that reuses these opcodes (unified_diff fills and reads it)
    hunks: dict[int, str] = field(default_factory=dict, compare=False)
    #: how many lines the heads are (None: no pair can reuse this one)
    head: int | None = None


#: texts this long (both together, in characters) are first compared as texts
#: (textdiff.runs); shorter ones are split at once (tests set it to 0)
TEXT_DIFF_CHARS = 1 << 16


def diff_texts(
    a_text: str, b_text: str, last: Diffed | None = None, head: int = HEAD_LINES
) -> Diffed:
    """Split and diff two texts; `last` is another pair diffed this way (another host's).

    When both texts go on after their first `head` lines exactly as last's
    do, only the heads are split and compared: the lines that follow are
    last's own (shared, not split again), and when the heads are last's
    with a consistent renaming, so are the opcodes (reuse_opcodes). A host's
    100,000-line access file then costs a string comparison, not a split and
    a scan of every line. Otherwise the texts are split and diffed afresh
    (still reusing last's opcodes when reuse_opcodes allows).
    """
    if last is not None and last.rests is not None:
        reused = _reuse_heads(a_text, b_text, last, head)
        if reused is not None:
            return reused
    ends = head_end(a_text, head), head_end(b_text, head)
    rests = None if min(ends) < 0 else (Rest(a_text, ends[0]), Rest(b_text, ends[1]))
    if len(a_text) + len(b_text) >= TEXT_DIFF_CHARS:
        found = textdiff.runs(a_text, b_text)
        if found is not None:
            lines_a, lines_b, blocks = found
            found_codes = _opcodes(blocks, len(lines_a), len(lines_b))
            return Diffed(
                lines_a, lines_b, found_codes, rests, head=None if rests is None else head
            )
    a, b = split_lines(a_text), split_lines(b_text)
    codes = None
    if last is not None and isinstance(last.a, list) and isinstance(last.b, list):
        codes = reuse_opcodes(last.a, last.b, last.codes, a, b)
    if codes is None:
        codes = line_opcodes(a, b)
    return Diffed(a, b, codes, rests, head=None if rests is None else head)


def _reuse_heads(a_text: str, b_text: str, last: Diffed, head: int) -> Diffed | None:
    """diff_texts' shortcut: the same result, or None when it does not apply."""
    assert last.rests is not None
    heads: list[list[str]] = []
    for text, rest in zip((a_text, b_text), last.rests, strict=True):
        end = head_end(text, head)
        if end < 0 or not _same_rest(text, end, rest):
            return None
        heads.append([line + "\n" for line in text[: end - 1].split("\n")])
    head_a, head_b = heads
    old_a, old_b = list(last.a[:head]), list(last.b[:head])
    moved_a, moved_b = _differing(old_a, head_a), _differing(old_b, head_b)
    if not _renamed(old_a, old_b, head_a, head_b, moved_a, moved_b, last.rests):
        return None
    hunks = last.hunks if last.head == head else {}
    a, b = _spliced(head_a, last.a), _spliced(head_b, last.b)
    return Diffed(a, b, last.codes, last.rests, hunks, head)


def _spliced(head: list[str], lines: Sequence[str]) -> Sequence[str]:
    """`head`, then the lines of `lines` that follow as many."""
    if isinstance(lines, list):
        return head + lines[len(head) :]
    return textdiff.Spliced(head, lines)


#: below this depth of anchoring, a region without anchors goes to difflib
_MAX_DEPTH = 16
#: regions larger than this use difflib's junk heuristic, which bounds its time
_AUTOJUNK_ABOVE = 2000


def _match(
    a: list[str],
    b: list[str],
    alo: int,
    ahi: int,
    blo: int,
    bhi: int,
    blocks: list[tuple[int, int, int]],
    depth: int,
) -> None:
    """Append matching blocks (i, j, n) of a[alo:ahi] and b[blo:bhi], in order.

    Equal head and tail lines match first. In what is left, lines that occur
    exactly once on each side are paired along their longest common
    subsequence (patience diff), and each gap between two such anchors is
    matched the same way; a gap with no anchors goes to difflib's
    SequenceMatcher. Access files are almost all unique lines, so a change
    anywhere in 100,000 lines costs a few linear passes, not the quadratic
    search SequenceMatcher makes across many scattered changes.
    """
    i, j = alo, blo
    while i < ahi and j < bhi and a[i] == b[j]:
        i, j = i + 1, j + 1
    if i > alo:
        blocks.append((alo, blo, i - alo))
    alo, blo = i, j
    i, j = ahi, bhi
    while i > alo and j > blo and a[i - 1] == b[j - 1]:
        i, j = i - 1, j - 1
    tail = (i, j, ahi - i) if i < ahi else None
    ahi, bhi = i, j
    if alo < ahi and blo < bhi:
        anchors = _unique_lcs(a, b, alo, ahi, blo, bhi) if depth < _MAX_DEPTH else ([], [])
        if anchors[0]:
            pi, pj = alo, blo
            for ai, bj, n in _runs(*anchors):
                if pi < ai or pj < bj:
                    _match(a, b, pi, ai, pj, bj, blocks, depth + 1)
                if (
                    blocks
                    and blocks[-1][0] + blocks[-1][2] == ai
                    and blocks[-1][1] + blocks[-1][2] == bj
                ):
                    last = blocks[-1]
                    blocks[-1] = (last[0], last[1], last[2] + n)
                else:
                    blocks.append((ai, bj, n))
                pi, pj = ai + n, bj + n
            _match(a, b, pi, ahi, pj, bhi, blocks, depth + 1)
        else:
            big = (ahi - alo) + (bhi - blo) > _AUTOJUNK_ABOVE
            matcher = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=big)
            for x, y, n in matcher.get_matching_blocks()[:-1]:
                blocks.append((alo + x, blo + y, n))
    if tail:
        blocks.append(tail)


def _runs(ai: list[int], bj: list[int]) -> list[tuple[int, int, int]]:
    """Anchor pairs (ai[k], bj[k]) as runs (i, j, n) of pairs that follow each other
    on both sides; the breaks between runs are found in C, not pair by pair."""
    one = itertools.repeat(1)
    step_a = map(operator.ne, map(operator.sub, ai[1:], ai), one)
    step_b = map(operator.ne, map(operator.sub, bj[1:], bj), one)
    starts = [0, *itertools.compress(range(1, len(ai)), map(operator.or_, step_a, step_b)), len(ai)]
    return [(ai[k], bj[k], m - k) for k, m in itertools.pairwise(starts)]


def _unique_lcs(
    a: list[str], b: list[str], alo: int, ahi: int, blo: int, bhi: int
) -> tuple[list[int], list[int]]:
    """Lines unique in both ranges, paired along their longest increasing run: (i's, j's)."""
    a_part, b_part = a[alo:ahi], b[blo:bhi]
    where_a = _unique_positions(a_part, alo)
    where_b = _unique_positions(b_part, blo)
    if len(where_b) == len(b_part):
        # every line of b is unique (an access file's are): in order of j, where a has
        # each once, without building the set of common lines
        hits = list(map(where_a.get, b_part))
        found = list(map(_IS_SOME, hits))
        i_list = cast(list[int], list(itertools.compress(hits, found)))
        j_list = list(itertools.compress(range(blo, bhi), found))
    else:
        common = where_a.keys() & where_b.keys()
        # in order of j: the unique lines of b that a has once too
        shared = list(itertools.compress(b_part, map(common.__contains__, b_part)))
        i_list = list(map(where_a.__getitem__, shared))
        j_list = list(map(where_b.__getitem__, shared))
    # usually i increases too (nothing moved) and they are the answer
    if all(map(operator.lt, i_list, i_list[1:])):
        return i_list, j_list
    # patience sorting: the longest run of pairs whose i also increases
    tops: list[int] = []  # i of the last pair of the best run of each length
    ends: list[int] = []  # index in pairs of that pair
    back = [-1] * len(i_list)
    for k, i in enumerate(i_list):
        n = bisect.bisect_left(tops, i)
        if n == len(tops):
            tops.append(i)
            ends.append(k)
        else:
            tops[n] = i
            ends[n] = k
        back[k] = ends[n - 1] if n else -1
    out = []
    k = ends[-1] if ends else -1
    while k >= 0:
        out.append(k)
        k = back[k]
    out.reverse()
    return [i_list[k] for k in out], [j_list[k] for k in out]


def _unique_positions(lines: list[str], start: int) -> dict[str, int]:
    """{line: its position} for each line that occurs once in `lines` (counted from `start`)."""
    where = dict(zip(lines, range(start, start + len(lines)), strict=True))
    if len(where) < len(lines):
        for line in [line for line, n in Counter(lines).items() if n > 1]:
            del where[line]
    return where


def _merge_equal(codes: list[Opcode]) -> list[Opcode]:
    out: list[Opcode] = []
    for code in codes:
        if out and code[0] == "equal" and out[-1][0] == "equal":
            tag, i1, _, j1, _ = out[-1]
            out[-1] = (tag, i1, code[2], j1, code[4])
        else:
            out.append(code)
    return out


def _grouped(codes: list[Opcode], n: int) -> Iterator[list[Opcode]]:
    """Hunks with up to `n` lines of context (difflib's get_grouped_opcodes)."""
    codes = list(codes) or [("equal", 0, 1, 0, 1)]
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = (tag, max(i1, i2 - n), i2, max(j1, j2 - n), j2)
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = (tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n))
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * n:
            group.append((tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)))
            yield group
            group = []
            i1, j1 = max(i1, i2 - n), max(j1, j2 - n)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        yield group


def _range(start: int, stop: int) -> str:
    """A unified-diff range `l,s` as difflib writes it."""
    beginning, length = start + 1, stop - start
    if length == 1:
        return str(beginning)
    if not length:
        beginning -= 1
    return f"{beginning},{length}"


def _emit(out: list[str], prefix: str, line: str) -> None:
    out.append(prefix + line)
    if not line.endswith("\n"):
        out.append("\n\\ No newline at end of file\n")


def unified_diff(
    a: Sequence[str],
    b: Sequence[str],
    fromfile: str,
    tofile: str,
    codes: list[Opcode] | None = None,
    context: int = CONTEXT,
    reused: Diffed | None = None,
) -> str:
    """The unified diff from `a` to `b` ("" when they are equal).

    With `reused` (the Diffed that `a`, `b` and `codes` come from), each hunk
    past its heads is written once and kept there: another host's pair that
    reuses these opcodes has the same lines past its heads, so the same hunks.
    """
    if codes is None:
        codes = line_opcodes(list(a), list(b))
    kept = (
        reused.hunks
        if reused is not None and reused.head is not None and context == CONTEXT
        else None
    )
    past = reused.head if reused is not None and reused.head is not None else 0
    out: list[str] = []
    for k, group in enumerate(_grouped(codes, context)):
        if not out:
            out += [f"--- {fromfile}\n", f"+++ {tofile}\n"]
        first, last = group[0], group[-1]
        keep = kept is not None and first[1] >= past and first[3] >= past
        if kept is not None and keep and k in kept:
            out.append(kept[k])
            continue
        start = len(out)
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for line in a[i1:i2]:
                    _emit(out, " ", line)
                continue
            for line in a[i1:i2]:
                _emit(out, "-", line)
            for line in b[j1:j2]:
                _emit(out, "+", line)
        if kept is not None and keep:
            out[start:] = [kept.setdefault(k, "".join(out[start:]))]
    return "".join(out)


def changed_entries(
    a: Sequence[str], b: Sequence[str], codes: list[Opcode]
) -> tuple[list[AccessLine], list[AccessLine]]:
    """Access entries on the lines that differ: (old side, new side)."""
    old: list[AccessLine] = []
    new: list[AccessLine] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal":
            continue
        old += parse_lines(zip(itertools.count(i1 + 1), a[i1:i2]))
        new += parse_lines(zip(itertools.count(j1 + 1), b[j1:j2]))
    return old, new


def _first_by_key(entries: list[AccessLine]) -> dict[str, AccessLine]:
    out: dict[str, AccessLine] = {}
    for entry in entries:
        out.setdefault(entry.key.lower(), entry)
    return out


def access_diff(
    a: Sequence[str], b: Sequence[str], codes: list[Opcode] | None = None
) -> AccessDiff:
    """Keys added, removed and changed between two access files, in file order."""
    if codes is None:
        codes = line_opcodes(list(a), list(b))
    return compare_entries(*changed_entries(a, b, codes))


def compare_entries(old_entries: list[AccessLine], new_entries: list[AccessLine]) -> AccessDiff:
    """Compare two sets of entries as maps (folded key -> value): the keys only the
    new side has, those only the old side has, and those whose value changed."""
    old = _first_by_key(old_entries)
    new = _first_by_key(new_entries)
    result = AccessDiff()
    result.added = [e for k, e in new.items() if k not in old]
    result.removed = [e for k, e in old.items() if k not in new]
    result.changed = [
        AccessChanged(old[k], e) for k, e in new.items() if k in old and old[k].value != e.value
    ]
    result.added.sort(key=lambda e: e.line)
    result.removed.sort(key=lambda e: e.line)
    result.changed.sort(key=lambda c: c.after.line)
    return result
