"""compiler/plan/diff.py: unified diffs and the semantic access diff."""

from __future__ import annotations

import difflib
import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.plan.diff import (
    HEAD_LINES,
    access_diff,
    compare_entries,
    diff_texts,
    line_opcodes,
    reuse_opcodes,
    split_lines,
    unified_diff,
)
from compiler.plan.model import AccessChanged, AccessDiff, AccessLine


def apply_patch(a: list[str], diff: str) -> list[str]:
    """Apply a unified diff (as written by unified_diff) to the lines of a."""
    out: list[str] = []
    pos = 0
    lines = diff.split("\n")[2:]
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", line)
        if m:
            start = int(m.group(1)) - (0 if m.group(2) == "0" else 1)
            out += a[pos:start]
            pos = start
            i += 1
            continue
        if not line:
            i += 1
            continue
        no_newline = i + 1 < len(lines) and lines[i + 1] == "\\ No newline at end of file"
        text = line[1:] + ("" if no_newline else "\n")
        if line[0] == " ":
            assert a[pos] == text
            out.append(text)
            pos += 1
        elif line[0] == "-":
            assert a[pos] == text
            pos += 1
        elif line[0] == "+":
            out.append(text)
        i += 2 if no_newline else 1
    return out + a[pos:]


def test_split_lines_keeps_cr_and_form_feed_inside_lines() -> None:
    assert split_lines("a\r\nb\x0cc\nd") == ["a\r\n", "b\x0cc\n", "d"]
    assert split_lines("") == []


def test_single_change_matches_difflib_exactly() -> None:
    a = [f"line {i}\n" for i in range(40)]
    b = list(a)
    b[20] = "changed\n"
    b.insert(30, "new\n")
    expected = "".join(difflib.unified_diff(a, b, "a/f", "b/f"))
    assert unified_diff(a, b, "a/f", "b/f") == expected


def test_equal_files_give_no_diff() -> None:
    a = ["x\n", "y\n"]
    assert unified_diff(a, list(a), "a/f", "b/f") == ""


def test_missing_final_newline_is_marked_as_git_does() -> None:
    diff = unified_diff(["a\n", "b"], ["a\n", "b\n"], "a/f", "b/f")
    assert diff.endswith("-b\n\\ No newline at end of file\n+b\n")


def test_create_and_delete_ranges() -> None:
    created = unified_diff([], ["x\n", "y\n"], "/dev/null", "b/f")
    assert created.splitlines()[:3] == ["--- /dev/null", "+++ b/f", "@@ -0,0 +1,2 @@"]
    deleted = unified_diff(["x\n"], [], "a/f", "/dev/null")
    assert deleted.splitlines()[2] == "@@ -1 +0,0 @@"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["a\n", "b\n", "c\n", "d\n", "e"]), max_size=30),
    st.lists(st.sampled_from(["a\n", "b\n", "c\n", "x\n", "e"]), max_size=30),
)
def test_diff_applied_to_old_gives_new(a: list[str], b: list[str]) -> None:
    # only the last line may lack its newline, as in a real file
    a = [line if line.endswith("\n") else line + "\n" for line in a[:-1]] + a[-1:]
    b = [line if line.endswith("\n") else line + "\n" for line in b[:-1]] + b[-1:]
    diff = unified_diff(a, b, "a/f", "b/f")
    assert apply_patch(a, diff) == b
    assert (diff == "") == (a == b)


def test_opcodes_cover_both_sides_in_order() -> None:
    a = split_lines("h\n1\n2\n3\nt\n")
    b = split_lines("h\n1\nX\n3\nt\n")
    codes = line_opcodes(a, b)
    assert codes[0] == ("equal", 0, 2, 0, 2)
    assert codes[-1] == ("equal", 3, 5, 3, 5)


def test_access_diff_added_removed_changed_with_old_and_new_values() -> None:
    old = split_lines(
        "# header\nConnect:127\tRELAY\nTLS_Srv:a.example\tVERIFY\nTry_TLS:b.example\tNO\n"
    )
    new = split_lines(
        "# header2\nConnect:127\tRELAY\nTLS_Srv:a.example\tENCR:128\nTLS_Rcpt:x@y.example\tVERIFY\n"
    )
    diff = access_diff(old, new)
    assert diff.to_json() == {
        "added": [{"key": "TLS_Rcpt:x@y.example", "value": "VERIFY"}],
        "removed": [{"key": "Try_TLS:b.example", "value": "NO"}],
        "changed": [{"key": "TLS_Srv:a.example", "old": "VERIFY", "new": "ENCR:128"}],
    }
    assert diff.changed[0].before.line == 3 and diff.changed[0].after.line == 3


def test_access_diff_ignores_moves_comments_and_key_case() -> None:
    old = split_lines("A:1\tOK\n# one\nB:2\tOK\nTLS_Srv:x.example\tVERIFY\n")
    new = split_lines("B:2\tOK\n# two\nA:1\tOK\ntls_srv:X.EXAMPLE\tVERIFY\n")
    assert not access_diff(old, new)


def test_access_diff_when_every_key_differs() -> None:
    diff = access_diff(split_lines("A:1\tOK\n"), split_lines("B:2\tOK\n"))
    assert [a.key for a in diff.added] == ["B:2"]
    assert [r.key for r in diff.removed] == ["A:1"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 60), max_size=60),
    st.lists(st.tuples(st.integers(0, 59), st.sampled_from(["del", "ins", "mod"])), max_size=8),
)
def test_patience_anchoring_is_exact_on_mostly_unique_lines(
    keys: list[int], edits: list[tuple[int, str]]
) -> None:
    a = [f"Connect:10.0.0.{k}\tRELAY\n" for k in keys]
    b = list(a)
    for pos, kind in edits:
        if not b:
            break
        pos %= len(b)
        if kind == "del":
            del b[pos]
        elif kind == "ins":
            b.insert(pos, f"TLS_Srv:new{pos}.example\tVERIFY\n")
        else:
            b[pos] = b[pos].replace("RELAY", "OK")
    diff = unified_diff(a, b, "a/f", "b/f")
    assert apply_patch(a, diff) == b
    changed = sum(1 for line in diff.split("\n")[2:] if line[:1] in "+-")
    assert changed <= 2 * len(edits) + sum(1 for x in edits if x[1] == "mod")


def test_scattered_changes_in_a_large_file() -> None:
    """(Its time is bench/scale_bench.py's: no test asserts one.)"""
    a = [f"TLS_Srv:d{i}.example\tENCR:128\n" for i in range(100_000)]
    b = [line for n, line in enumerate(a) if n % 1000]
    b[500] = "TLS_Srv:changed.example\tVERIFY\n"
    diff = unified_diff(a, b, "a/f", "b/f")
    assert diff.count("\n-TLS_Srv:") == 101 and apply_patch(a, diff) == b


_LINES = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "d\n", "e\n", "x\n"]), max_size=30)


@given(_LINES, _LINES, st.dictionaries(st.sampled_from("abcdex"), st.sampled_from("abcdexyz")))
@settings(max_examples=400, deadline=None)
def test_reused_opcodes_are_always_what_a_fresh_diff_gives(
    a: list[str], b: list[str], rename: dict[str, str]
) -> None:
    """Another host's files: the same lines with some renamed (as a header names its host)."""

    def renamed(lines: list[str]) -> list[str]:
        return [rename.get(line[0], line[0]) + "\n" for line in lines]

    a2, b2 = renamed(a), renamed(b)
    reused = reuse_opcodes(a, b, line_opcodes(a, b), a2, b2)
    if reused is not None:
        assert reused == line_opcodes(a2, b2)


def test_opcodes_are_reused_across_hosts_only_for_a_consistent_renaming() -> None:
    body = [f"Connect:10.0.0.{i}\tRELAY\n" for i in range(200)]
    a = ["# access for host mx1\n", *body]
    b = ["# access for host mx1\n", *body[:50], *body[51:], "Connect:127\tRELAY\n"]
    codes = line_opcodes(a, b)
    mx2 = [line.replace("mx1", "mx2") for line in a], [line.replace("mx1", "mx2") for line in b]
    assert reuse_opcodes(a, b, codes, *mx2) == codes == line_opcodes(*mx2)
    # the new name already stands in the file: equalities change, so diff afresh
    clash = [body[0], *body], [body[0], *b[1:]]
    assert reuse_opcodes(a, b, codes, *clash) is None
    # one old line becoming two different ones is no renaming
    split = ["# access for host mx2\n", *body], ["# access for host mx3\n", *b[1:]]
    assert reuse_opcodes(a, b, codes, *split) is None
    assert reuse_opcodes(a, b, codes, a[:-1], b) is None


@given(
    _LINES,
    _LINES,
    st.dictionaries(st.sampled_from("abcdex"), st.sampled_from("abcdexyz")),
    st.sampled_from(["", "a", "x"]),
    st.integers(1, 4),
)
@settings(max_examples=400, deadline=None)
def test_diffing_texts_after_another_pair_gives_what_a_fresh_diff_gives(
    a: list[str], b: list[str], rename: dict[str, str], tail: str, head: int
) -> None:
    """A host's texts after another host's: only the heads are split when the rest is equal."""

    def renamed(lines: list[str]) -> list[str]:
        return [rename.get(line[0], line[0]) + "\n" for line in lines]

    first = diff_texts("".join(a) + tail, "".join(b), head=head)
    for a_text, b_text in (
        ("".join(renamed(a[:head])) + "".join(a[head:]) + tail, "".join(renamed(b))),
        ("".join(renamed(a)) + tail, "".join(renamed(b[:head])) + "".join(b[head:])),
    ):
        second = diff_texts(a_text, b_text, first, head=head)
        assert second.a == split_lines(a_text) and second.b == split_lines(b_text)
        assert second.codes == line_opcodes(second.a, second.b)


def test_a_long_text_whose_head_alone_is_renamed_is_not_split_again() -> None:
    body = "".join(f"Connect:10.0.{i // 256}.{i % 256}\tRELAY\n" for i in range(500))
    a, b = f"# host mx1\n{body}", f"# host mx1\n{body}Connect:127\tRELAY\n"
    first = diff_texts(a, b)
    second = diff_texts(a.replace("mx1", "mx2"), b.replace("mx1", "mx2"), first)
    assert second.codes is first.codes
    assert second.a[HEAD_LINES:] == first.a[HEAD_LINES:]
    assert all(x is y for x, y in zip(second.b[HEAD_LINES:], first.b[HEAD_LINES:], strict=True))
    assert second.a[0] == "# host mx2\n"
    # the new name already stands further down: equalities change, so it is diffed afresh
    a, b = a + "# host mx2\n", b + "# host mx2\n"
    first = diff_texts(a, b)
    clash = diff_texts(a.replace("mx1", "mx2", 1), b.replace("mx1", "mx2", 1), first)
    assert clash.codes == line_opcodes(clash.a, clash.b) and clash.codes is not first.codes


def _deepdiff_reference(old: list[AccessLine], new: list[AccessLine]) -> AccessDiff:
    """The semantic diff as it was computed with deepdiff before compare_entries
    compared the two maps itself: the reference the plain comparison must equal."""
    from deepdiff import DeepDiff

    def first(entries: list[AccessLine]) -> dict[str, AccessLine]:
        out: dict[str, AccessLine] = {}
        for e in entries:
            out.setdefault(e.key.lower(), e)
        return out

    a, b = first(old), first(new)
    found = DeepDiff(
        {k: e.value for k, e in a.items()},
        {k: e.value for k, e in b.items()},
        view="tree",
        threshold_to_diff_deeper=0,
    )

    def key(level: object) -> str:
        return str(level.path(output_format="list")[0])  # type: ignore[attr-defined]

    result = AccessDiff()
    result.added = sorted((b[key(x)] for x in found.get("dictionary_item_added", ())),
                          key=lambda e: e.line)  # fmt: skip
    result.removed = sorted((a[key(x)] for x in found.get("dictionary_item_removed", ())),
                            key=lambda e: e.line)  # fmt: skip
    result.changed = sorted(
        (AccessChanged(a[key(x)], b[key(x)]) for x in found.get("values_changed", ())),
        key=lambda c: c.after.line,
    )
    return result


_keys = st.sampled_from(["Connect:a", "connect:A", "From:b@x", "To:c", "k", "K", "Spam:d@"])
_values = st.sampled_from(["OK", "REJECT", "RELAY", "ok", "ERROR:550 x", "ENCR:128"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_keys, _values), max_size=12),
    st.lists(st.tuples(_keys, _values), max_size=12),
)
def test_compare_entries_equals_the_deepdiff_comparison(
    old: list[tuple[str, str]], new: list[tuple[str, str]]
) -> None:
    a = [AccessLine(k, v, i + 1) for i, (k, v) in enumerate(old)]
    b = [AccessLine(k, v, i + 1) for i, (k, v) in enumerate(new)]
    assert compare_entries(a, b) == _deepdiff_reference(a, b)


def _reference_shared(a: list[str], b: list[str]) -> tuple[list[int], list[int]]:
    """The anchor candidates as _unique_lcs found them before its all-unique shortcut:
    lines unique on both sides, in b's order, with their positions."""
    from collections import Counter

    ca, cb = Counter(a), Counter(b)
    where_a = {line: i for i, line in enumerate(a) if ca[line] == 1}
    shared = [(where_a[line], j) for j, line in enumerate(b) if cb[line] == 1 and line in where_a]
    return [i for i, _ in shared], [j for _, j in shared]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from("abcdefghij"), max_size=12),
    st.lists(st.sampled_from("abcdefghij"), max_size=12),
)
def test_unique_lcs_pairs_the_lines_unique_on_both_sides(a: list[str], b: list[str]) -> None:
    from compiler.plan.diff import _unique_lcs

    i_ref, j_ref = _reference_shared(a, b)
    got_i, got_j = _unique_lcs(a, b, 0, len(a), 0, len(b))
    if all(x < y for x, y in itertools.pairwise(i_ref)):
        assert (got_i, got_j) == (i_ref, j_ref)
    else:  # the longest run whose i increases: a subsequence of the candidates
        pairs = set(zip(i_ref, j_ref, strict=True))
        assert set(zip(got_i, got_j, strict=True)) <= pairs
        assert all(x < y for x, y in itertools.pairwise(got_i))


@given(
    st.lists(
        st.sampled_from(["# a\n", "# b\n", "#\n", "x\n", "# a", "#", "", "\n", "y # a\n"]),
        max_size=12,
    ),
    st.integers(0, 30),
    st.sampled_from(["# a\n", "# b\n", "#\n", "# a", "x\n", "# c\n"]),
)
def test_a_line_is_looked_up_in_a_rest_as_a_string_search_finds_it(
    parts: list[str], start: int, line: str
) -> None:
    from compiler.plan.diff import Rest, _has_line

    text = "".join(parts)
    start = min(start, len(text))
    rest = Rest(text, start)
    searched = text.startswith(line, start) or text.find("\n" + line, start) >= 0
    assert _has_line(rest, line) == searched
    assert _has_line(rest, line) == searched  # the comment lines, found once, again


@given(
    st.lists(st.integers(0, 499), max_size=12),
    st.sampled_from([0, 1, 3, 64]),
    st.sampled_from(["", "x", "#"]),
)
@settings(max_examples=60, deadline=None)
def test_hunks_kept_for_the_next_host_are_what_its_own_diff_writes(
    edits: list[int], head_edit: int, tail: str
) -> None:
    """A host whose pair reuses another's opcodes gets that pair's hunks past the heads
    from it, and the hunks that touch its heads written afresh: the same text as its
    own diff."""
    body = [f"Connect:10.0.{i // 256}.{i % 256}\tRELAY\n" for i in range(500)]
    new = list(body)
    for pos in sorted(set(edits), reverse=True):
        new[pos] = new[pos].replace("RELAY", "OK") if pos % 2 else "X:changed\tOK\n"
    head = [f"# host mx1 line {n}\n" for n in range(head_edit)]
    # a line of the heads changes too (as `Generated by tlsc from ...` does): its hunk
    # holds the host's own lines and is written for each host
    a = "".join([*head, "# from older.yaml\n", *body]) + tail
    b = "".join([*head, "# from cluster.yaml\n", *new[:-1]]) + "# end\n"
    first = diff_texts(a, b)
    fresh = unified_diff(list(first.a), list(first.b), "a/f", "b/f", first.codes)
    assert unified_diff(first.a, first.b, "a/f", "b/f", first.codes, reused=first) == fresh
    a2, b2 = a.replace("mx1", "mx2"), b.replace("mx1", "mx2")
    second = diff_texts(a2, b2, first)
    if head_edit in (1, 3):  # the heads renamed, the rest the same: reused
        assert second.codes is first.codes and second.hunks is first.hunks
    own = unified_diff(split_lines(a2), split_lines(b2), "a/f", "b/f")
    assert unified_diff(second.a, second.b, "a/f", "b/f", second.codes, reused=second) == own
