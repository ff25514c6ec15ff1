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
key. The two partial maps are compared with deepdiff, which reports added,
removed and changed keys; a key that only moved is neither.
"""

from __future__ import annotations

import bisect
import difflib
import itertools
import operator
from collections import Counter
from collections.abc import Iterator

from compiler.plan.accessfile import parse_lines
from compiler.plan.model import AccessChanged, AccessDiff, AccessLine

Opcode = tuple[str, int, int, int, int]

CONTEXT = 3

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


def line_opcodes(a: list[str], b: list[str]) -> list[Opcode]:
    """difflib-style opcodes turning `a` into `b` (see _match for how lines are paired)."""
    blocks: list[tuple[int, int, int]] = []
    _match(a, b, 0, len(a), 0, len(b), blocks, 0)
    codes: list[Opcode] = []
    i = j = 0
    for ai, bj, size in [*blocks, (len(a), len(b), 0)]:
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
    if len(moved_a) + len(moved_b) > _MAX_RENAMED:
        return None
    forward: dict[str, str] = {}
    backward: dict[str, str] = {}
    for old, new, moved in ((old_a, a, moved_a), (old_b, b, moved_b)):
        for i in moved:
            x, y = old[i], new[i]
            if forward.setdefault(x, y) != y or backward.setdefault(y, x) != x:
                return None
    # a renamed text stands nowhere else: the old text only where it goes, the new
    # text only where it comes, so it equals no line that stays
    for seq, moved, texts in (
        (old_a, moved_a, forward),
        (old_b, moved_b, forward),
        (a, moved_a, backward),
        (b, moved_b, backward),
    ):
        at_moved = Counter(seq[i] for i in moved)
        if any(seq.count(text) != at_moved[text] for text in texts):
            return None
    return codes


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
        anchors = _unique_lcs(a, b, alo, ahi, blo, bhi) if depth < _MAX_DEPTH else []
        if anchors:
            pi, pj = alo, blo
            for ai, bj in anchors:
                if pi < ai or pj < bj:
                    _match(a, b, pi, ai, pj, bj, blocks, depth + 1)
                if (
                    blocks
                    and blocks[-1][0] + blocks[-1][2] == ai
                    and blocks[-1][1] + blocks[-1][2] == bj
                ):
                    last = blocks[-1]
                    blocks[-1] = (last[0], last[1], last[2] + 1)
                else:
                    blocks.append((ai, bj, 1))
                pi, pj = ai + 1, bj + 1
            _match(a, b, pi, ahi, pj, bhi, blocks, depth + 1)
        else:
            big = (ahi - alo) + (bhi - blo) > _AUTOJUNK_ABOVE
            matcher = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=big)
            for x, y, n in matcher.get_matching_blocks()[:-1]:
                blocks.append((alo + x, blo + y, n))
    if tail:
        blocks.append(tail)


def _unique_lcs(
    a: list[str], b: list[str], alo: int, ahi: int, blo: int, bhi: int
) -> list[tuple[int, int]]:
    """Pairs (i, j) of lines unique in both ranges, along their longest increasing run."""
    a_part, b_part = a[alo:ahi], b[blo:bhi]
    count_a, count_b = Counter(a_part), Counter(b_part)
    where_a = {line: i for i, line in enumerate(a_part, start=alo) if count_a[line] == 1}
    pairs = [
        (where_a[line], j)
        for j, line in enumerate(b_part, start=blo)
        if count_b[line] == 1 and line in where_a
    ]
    # pairs run in order of j; usually i increases too (nothing moved) and they are the answer
    if all(x[0] < y[0] for x, y in itertools.pairwise(pairs)):
        return pairs
    # patience sorting: the longest run of pairs whose i also increases
    tops: list[int] = []  # i of the last pair of the best run of each length
    ends: list[int] = []  # index in pairs of that pair
    back = [-1] * len(pairs)
    for k, (i, _) in enumerate(pairs):
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
        out.append(pairs[k])
        k = back[k]
    out.reverse()
    return out


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
    a: list[str],
    b: list[str],
    fromfile: str,
    tofile: str,
    codes: list[Opcode] | None = None,
    context: int = CONTEXT,
) -> str:
    """The unified diff from `a` to `b` ("" when they are equal)."""
    if codes is None:
        codes = line_opcodes(a, b)
    out: list[str] = []
    for group in _grouped(codes, context):
        if not out:
            out += [f"--- {fromfile}\n", f"+++ {tofile}\n"]
        first, last = group[0], group[-1]
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
    return "".join(out)


def changed_entries(
    a: list[str], b: list[str], codes: list[Opcode]
) -> tuple[list[AccessLine], list[AccessLine]]:
    """Access entries on the lines that differ: (old side, new side)."""
    old: list[AccessLine] = []
    new: list[AccessLine] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal":
            continue
        old += parse_lines((i + 1, a[i]) for i in range(i1, i2))
        new += parse_lines((j + 1, b[j]) for j in range(j1, j2))
    return old, new


def _first_by_key(entries: list[AccessLine]) -> dict[str, AccessLine]:
    out: dict[str, AccessLine] = {}
    for entry in entries:
        out.setdefault(entry.key.lower(), entry)
    return out


def access_diff(a: list[str], b: list[str], codes: list[Opcode] | None = None) -> AccessDiff:
    """Keys added, removed and changed between two access files, in file order."""
    if codes is None:
        codes = line_opcodes(a, b)
    return compare_entries(*changed_entries(a, b, codes))


def compare_entries(old_entries: list[AccessLine], new_entries: list[AccessLine]) -> AccessDiff:
    """Compare two sets of entries as maps (deepdiff on folded key -> value)."""
    from deepdiff import DeepDiff

    old = _first_by_key(old_entries)
    new = _first_by_key(new_entries)
    t1 = {k: e.value for k, e in old.items()}
    t2 = {k: e.value for k, e in new.items()}
    try:
        # deepdiff 8+ reports two dicts with few common keys as one changed root
        # value; threshold 0 makes it always compare key by key
        found = DeepDiff(t1, t2, view="tree", threshold_to_diff_deeper=0)
    except TypeError:  # pragma: no cover - deepdiff 7 has no threshold and no shortcut
        found = DeepDiff(t1, t2, view="tree")
    result = AccessDiff()
    for level in found.get("dictionary_item_added", ()):
        result.added.append(new[_key_of(level)])
    for level in found.get("dictionary_item_removed", ()):
        result.removed.append(old[_key_of(level)])
    for level in found.get("values_changed", ()):
        key = _key_of(level)
        result.changed.append(AccessChanged(old[key], new[key]))
    result.added.sort(key=lambda e: e.line)
    result.removed.sort(key=lambda e: e.line)
    result.changed.sort(key=lambda c: c.after.line)
    return result


def _key_of(level: object) -> str:
    path = level.path(output_format="list")  # type: ignore[attr-defined]
    key = path[0]
    assert isinstance(key, str)
    return key
