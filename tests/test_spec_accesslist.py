"""compiler/spec/accesslist.py: the `access:` list read without the YAML composer
gives exactly what the general loader gives.

Generated specs put an `access:` list of every shape (plain, double- and
single-quoted items, escapes, comments, blank lines, odd indentation and
spacing, content after the list: merge keys too, one twice) and hostile items
(YAML indicators, `: ` and ` #` inside, tabs, CRs, NEL, LS, the BOM, control
characters, non-ASCII, booleans, numbers (`0x1F`, `017`), anchors, tags,
multi-line scalars, flow collections), maybe after a `%YAML 1.1` directive,
into a small spec; for each, the loader (fast path where it applies) and the
general loader alone must give the same data, positions and marks (YAML 1.1
booleans, numbers not in plain decimal digits), or
the same problems; validation must then report the same problems, and compiling
must write the same bytes. Deterministic tests show the fast path does apply to
the shapes it is meant for.
"""

from __future__ import annotations

from typing import Any

import pytest
from fast_loader_checks import same_load, same_outcome
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compiler.spec import accesslist, loader
from compiler.spec.accesslist import split_access
from compiler.spec.loader import LoadedSpec

HEAD = """\
version: 1
cluster: test
hosts:
  mx1:
    fqdn: mx1.example.net
"""

_FAST_PATH_BYTES = loader.FAST_PATH_BYTES
_UNESCAPE_BLOCK = accesslist._UNESCAPE_BLOCK
_CUT_CHARS = accesslist._CUT_CHARS


def setup_module() -> None:
    """Specs of any size take the fast path here (small ones skip it elsewhere), and
    double-quoted items are unescaped two at a time and lists cut into items a line
    or two at a time (a block's edge between any two)."""
    loader.FAST_PATH_BYTES = 0
    accesslist._UNESCAPE_BLOCK = 2
    accesslist._CUT_CHARS = 10


def teardown_module() -> None:
    loader.FAST_PATH_BYTES = _FAST_PATH_BYTES
    accesslist._UNESCAPE_BLOCK = _UNESCAPE_BLOCK
    accesslist._CUT_CHARS = _CUT_CHARS


PROFILE: dict[str, Any] = {
    "deadline": None,
    "max_examples": 600,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

# -- generation ------------------------------------------------------------------

_ENTRIES = [
    "Connect:127 RELAY",
    "Connect:192.0.2 REJECT",
    "From:spammer@example.com REJECT",
    "To:bob@example.org OK",
    'Connect:10.1.2.3 ERROR:"550 go away"',
    "Connect:10.1.2.4 ERROR:5.7.1:550 Rejected; see https://x.example/#a",
    "GreetPause:127 0",
    "Spam:abuse@ FRIEND",
    "Srv_Features:10.0.0.1 S",
    "TLS_Srv:secure.example ENCR:128",
    "connect:10.9.9.9 ok",
    "Connect:127 REJECT",
    "Bogus:x OK",
    "Connect:1.2.3.4",
    "x",
]
#: pieces that make a scalar hostile in one way or another
_HOSTILE = [
    ": ",
    " #",
    "#",
    ":",
    "\t",
    "\r",
    "\x85",
    "\u2028",
    "\ufeff",
    "\u202e",
    "\u2067",
    "\x00",
    "\x7f",
    "é",
    "ü",
    "`",
    "'",
    '"',
    "\\",
    "\\t",
    "\\x41",
    "  ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "!",
    "!!str ",
    "|",
    ">",
    "%",
    "@",
    "-",
    "? ",
    "yes",
    "12",
    "~",
    "null",
    "1.5",
    "0x1F",
    "017",
    "1_000",
]


@st.composite
def item_text(draw: st.DrawFn) -> str:
    """An access entry, maybe with a hostile piece put in somewhere."""
    text = draw(st.sampled_from(_ENTRIES))
    for _ in range(draw(st.integers(0, 2))):
        piece = draw(st.sampled_from(_HOSTILE))
        at = draw(st.integers(0, len(text)))
        text = text[:at] + piece + text[at:]
    if draw(st.integers(0, 9)) == 0:
        text = draw(st.sampled_from(_HOSTILE))
    return text


def _double(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _single(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@st.composite
def item_line(draw: st.DrawFn, indent: str) -> str:
    """One line of the list: an item written plain or quoted, maybe with a comment."""
    text = draw(item_text())
    style = draw(st.sampled_from(["plain", "double", "double", "single", "raw"]))
    if style == "double":
        scalar = _double(text)
    elif style == "single":
        scalar = _single(text)
    elif style == "raw":  # a double-quoted scalar written as is: maybe broken escapes
        scalar = '"' + text + '"'
    else:
        scalar = text
    dash = draw(st.sampled_from(["- ", "- ", "- ", "-  ", "-   "]))
    after = draw(st.sampled_from(["", "", "", " # note", "  #", " ", "#x"]))
    return f"{indent}{dash}{scalar}{after}\n"


@st.composite
def spec_text(draw: st.DrawFn) -> str:
    """A spec with an access list of some shape, and maybe something after it."""
    indent = draw(st.sampled_from(["  ", "  ", "", "    ", " "]))
    lines = [draw(st.sampled_from(["access:\n", "access:\n", "access: # list\n", "access :\n"]))]
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append(draw(st.sampled_from(["\n", "  # a comment\n", "# top\n", "   \n"])))
        elif kind == 1:
            other = draw(st.sampled_from(["  ", "", "      ", "\t"]))
            lines.append(draw(item_line(other)))
        elif kind == 2:
            lines.append(draw(st.sampled_from(["    continued\n", "  - - nested\n", "  -\n"])))
        else:
            lines.append(draw(item_line(indent)))
    tail = draw(
        st.sampled_from(
            [
                "",
                "",
                "domains:\n  example.com: {outbound: encrypt}\n",
                "access:\n  - Connect:1 OK\n",
                "...\n",
                "---\nversion: 1\n",
                "issuer_tags: {}\n",
                "- Connect:2 OK\n",
                "  - Connect:3 OK\n",
                "recipients: &r {}\n",
                "<<: {access: [Connect:4 OK]}\n",
                "<<: {domains: {}, domains: {}}\n",
                "defaults: {<<: {smtp_port: 25}, <<: {smtp_port: 26}}\n",
            ]
        )
    )
    before = draw(st.sampled_from(["", "", "domains: {}\n", "# a comment\n", "%YAML 1.1\n---\n"]))
    text = HEAD + before + "".join(lines) + tail
    if draw(st.integers(0, 20)) == 0:
        text = text.rstrip("\n")
    return text


# -- the comparison ----------------------------------------------------------------


def _same_load(text: str) -> tuple[LoadedSpec, LoadedSpec] | None:
    """Assert the fast loader and the general one agree on `text`, the access list's
    positions included; (fast, general), or None when both refused it."""
    loads = same_load(text)
    if loads is None:
        return None
    fast, slow = loads
    items = slow.data.get("access")
    if isinstance(items, list):
        for i in range(len(items) + 2):
            assert fast.positions.get(("access", i)) == slow.positions.get(("access", i))
            assert (("access", i) in fast.positions) == (("access", i) in slow.positions)
            assert fast.locate(("access", i)) == slow.locate(("access", i))
            assert fast.locate(("access", i, "x")) == slow.locate(("access", i, "x"))
    return fast, slow


@settings(**PROFILE)
@given(spec_text())
@example(HEAD + 'access:\n  - "Connect:1 OK"\n  - Connect:2 REJECT\n')
@example(HEAD + "access:\n- Connect:1 OK\n-   'Connect:2 REJECT' # c\n\ndomains: {}\n")
@example(HEAD + 'access:\n  - "a\\"b c"\n  - "a\\\\ b"\n  - "a\\\\\\" b"\n')
@example(HEAD + 'access:\n  - "a b"\n  - "c d"\n  - "e\\"f"\n  - "g\\\\h"\n  - "i j"\n')
@example(HEAD + 'access:\n  - "Connect:1 OK"\naccess:\n  - Connect:2 OK\n')
def test_fast_and_general_loaders_agree(text: str) -> None:
    loads = _same_load(text)
    if loads is not None:
        same_outcome(*loads)


# -- the fast path applies where it should ------------------------------------------


@pytest.mark.parametrize(
    "block",
    [
        '  - "Connect:1 OK"\n  - "Connect:2 REJECT"\n',
        "- Connect:1 OK\n- Connect:2 REJECT\n",
        "    - 'Connect:1 OK' # one\n\n    # two\n    -   Connect:2 REJECT\n",
        '  - "Connect:10.1.2.3 ERROR:\\"550 go away\\""\n',
        "  - Connect:1 ERROR:550 see #5\n",
    ],
)
def test_the_plain_shapes_take_the_fast_path(block: str) -> None:
    text = HEAD + "access:\n" + block + "domains: {}\n"
    assert split_access(text) is not None
    assert _same_load(text) is not None


@pytest.mark.parametrize(
    "block",
    [
        "  - &a Connect:1 OK\n  - *a\n",
        '  - "Connect:1\\tOK"\n',
        "  - yes\n",
        "  - Connect:1 OK\n    continued\n",
        "  - !!str Connect:1 OK\n",
        "  - Connect:1\tOK\n",
        "  - [Connect:1 OK]\n",
        "  - Connect:1 OK\r\n",
    ],
)
def test_anything_unusual_is_left_to_the_general_loader(block: str) -> None:
    text = HEAD + "access:\n" + block
    assert split_access(text) is None
    _same_load(text)


def test_positions_of_a_list_with_comments_and_odd_spacing() -> None:
    text = HEAD + "access: # x\n\n  # c\n  -   Connect:1 OK\n  - 'Connect:2 OK'\n"
    loads = _same_load(text)
    assert loads is not None
    loaded = loads[0]
    assert loaded.positions[("access",)] == (9, 3)
    assert loaded.positions[("access", 0)] == (9, 7)
    assert loaded.positions[("access", 1)] == (10, 5)
    assert ("access", 2) not in loaded.positions
