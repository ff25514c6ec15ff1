"""compiler/plan/textdiff.py: the diff of two long texts compared as texts gives
line_opcodes' opcodes exactly, or gives up; its lines are split_lines' lines."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.plan import diff as d
from compiler.plan import textdiff
from compiler.plan.textdiff import TextLines, runs, split_lines

#: lines an access file holds, and hostile ones: duplicates, a blank, a CR, a form
#: feed, a NEL and a line separator (str.splitlines breaks there, split_lines not),
#: non-ASCII, a last line without its newline
_WORDS = st.sampled_from(
    ["Connect:10.0.0.1\tOK", "To:x@example\tREJECT", "", "#", "a\rb", "c\x0cd", "e\x85f",
     "g\u2028h", "é\tOK", "TLS_Srv:x\tVERIFY", "Connect:10.0.0.1\tOK "]
)  # fmt: skip
_UNIQUE = st.integers(0, 10**6).map(lambda n: f"Connect:10.{n // 65536}.{n // 256 % 256}.{n % 256}")


_HASH_BLOCK = textdiff._HASH_BLOCK


def setup_module() -> None:
    """b's lines are hashed a line or two at a time: every text of two lines or more is
    checked in two halves (two equal lines may stand in different halves)."""
    textdiff._HASH_BLOCK = 8


def teardown_module() -> None:
    textdiff._HASH_BLOCK = _HASH_BLOCK


def _text(lines: list[str], newline_last: bool) -> str:
    text = "\n".join(lines)
    return text + "\n" if lines and newline_last else text


def _check(a_text: str, b_text: str) -> bool:
    """runs() agrees with line_opcodes on these texts; True when it did not give up."""
    a, b = split_lines(a_text), split_lines(b_text)
    found = runs(a_text, b_text, most_apart=10**9)
    if found is None:
        return False
    lines_a, lines_b, blocks = found
    assert len(lines_a) == len(a) and len(lines_b) == len(b)
    assert list(lines_a) == a and list(lines_b) == b
    codes = d._opcodes(blocks, len(a), len(b))
    assert codes == d.line_opcodes(a, b)
    assert d.unified_diff(lines_a, lines_b, "a/f", "b/f", codes) == d.unified_diff(
        a, b, "a/f", "b/f"
    )
    assert d.changed_entries(lines_a, lines_b, codes) == d.changed_entries(a, b, codes)
    return True


@given(
    st.lists(st.one_of(_WORDS, _UNIQUE), max_size=40),
    st.lists(
        st.tuples(st.integers(0, 10**6), st.sampled_from(["del", "ins", "mod"]), _WORDS | _UNIQUE),
        max_size=8,
    ),
    st.booleans(),
    st.booleans(),
)
@settings(max_examples=600, deadline=None)
def test_runs_are_line_opcodes_own_or_none(
    lines: list[str], edits: list[tuple[int, str, str]], last_a: bool, last_b: bool
) -> None:
    new = list(lines)
    for pos, kind, line in edits:
        pos %= len(new) + 1
        if kind == "ins" or pos == len(new):
            new.insert(pos, line)
        elif kind == "del":
            del new[pos]
        else:
            new[pos] = line
    _check(_text(lines, last_a), _text(new, last_b))


@given(st.lists(st.integers(0, 2999), unique=True, min_size=1, max_size=60), st.randoms())
@settings(max_examples=200, deadline=None)
def test_sparse_changes_to_distinct_lines_are_found_on_the_texts(
    edits: list[int], rnd: random.Random
) -> None:
    """An access file's case: distinct lines, a few inserted, removed or changed."""
    a = [f"Connect:10.0.{i // 256}.{i % 256}\tRELAY\n" for i in range(3000)]
    b = list(a)
    for k, pos in enumerate(sorted(edits, reverse=True)):
        kind = rnd.choice(["del", "ins", "mod"])
        if kind == "del":
            del b[pos]
        elif kind == "ins":
            b.insert(pos, f"From:new{k}.example\tOK\n")
        else:
            b[pos] = f"To:mod{k}.example\tREJECT\n"
    assert _check("".join(a), "".join(b))
    assert _check("".join(b), "".join(a))


def test_what_runs_cannot_show_exact_it_leaves_to_the_line_diff() -> None:
    body = [f"Connect:10.0.0.{i}\tOK\n" for i in range(200)]
    # a line moved: it stands apart on one side and in the runs on the other
    moved = [*body[:50], *body[51:150], body[50], *body[150:]]
    assert runs("".join(body), "".join(moved)) is None
    # a line twice in b
    assert runs("".join(body), "".join([*body, body[0]])) is None
    # a rewrite: nothing shared nearby
    other = [line.replace("OK", "REJECT") for line in body]
    assert _check("".join(body), "".join(other)) or runs("".join(body), "".join(other)) is None


def test_text_lines_cut_any_line_and_slice() -> None:
    text = "".join(f"line {i}\n" for i in range(1000)) + "last"
    lines = split_lines(text)
    cut = TextLines(text, len(lines), [(0, 0), (500, text.index("line 500\n")), (1001, len(text))])
    assert len(cut) == 1001 and cut[-1] == "last" and cut[0] == "line 0\n"
    for i in (1, 250, 499, 500, 501, 750, 999, 1000):
        assert cut[i] == lines[i]
        assert cut[i - 1 : i + 3] == lines[i - 1 : i + 3]
    assert cut[::100] == lines[::100] and cut[5:2] == [] and cut == lines


def test_plans_diff_long_texts_on_the_texts() -> None:
    """diff_texts takes the text path for long texts and gives what the line path gives."""
    a = "".join(f"Connect:10.0.{i // 256}.{i % 256}\tRELAY\n" for i in range(5000))
    b = a.replace("Connect:10.0.3.7\t", "Connect:10.0.3.7\tREJECT\nX:y\t").replace(
        "Connect:10.0.9.9\tRELAY\n", ""
    )
    fast = d.diff_texts(a, b)
    assert isinstance(fast.a, TextLines)
    saved = d.TEXT_DIFF_CHARS
    d.TEXT_DIFF_CHARS = 1 << 62
    try:
        slow = d.diff_texts(a, b)
    finally:
        d.TEXT_DIFF_CHARS = saved
    assert isinstance(slow.a, list) and fast.codes == slow.codes
    assert d.unified_diff(fast.a, fast.b, "x", "y", fast.codes) == d.unified_diff(
        slow.a, slow.b, "x", "y", slow.codes
    )
    # the next host's texts, the same but for the head: reused, and still the same lines
    a2, b2 = a.replace("10.0.0.1\t", "10.0.0.1\t#", 1), b.replace("10.0.0.1\t", "10.0.0.1\t#", 1)
    again = d.diff_texts(a2, b2, fast)
    assert list(again.a) == split_lines(a2) and list(again.b) == split_lines(b2)
    assert again.codes == d.line_opcodes(split_lines(a2), split_lines(b2))


def test_a_text_ending_apart_is_all_apart() -> None:
    body = "".join(f"k{i}\tOK\n" for i in range(300))
    assert _check(body, body + "".join(f"n{i}\tOK\n" for i in range(5000)))
    assert _check(body + "tail", body)
    assert textdiff.line_count(body + "x") == 301
