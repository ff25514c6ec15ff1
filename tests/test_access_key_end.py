"""Where an access line's key ends, for every reader of a host's access lines.

makemap 8.17 ends a key at the first blank, tab, vertical tab, form feed or CR
(`compiler.sendmail.mapline`), and at nothing else Python's str.split() takes for
whitespace. Each separator, between key and value and in column 1, goes through
the plan's access changes, ownership: tls, lint and import, and each must read the
line as the real `makemap hash` + `makemap -u hash` does.
"""

from __future__ import annotations

import pytest
from import_helpers import makemap_dump

from compiler.importer.notes import Notes
from compiler.importer.read_access import block_lines, map_entries
from compiler.lint.access import parse_access
from compiler.lint.engine import LintContext, lint_text
from compiler.plan.diff import access_diff
from compiler.plan.ownership import splice_tls_access
from compiler.plan.textdiff import split_lines
from compiler.sendmail.mapline import BLANKS, UNSEEN_BLANKS
from compiler.sendmail.names import describe_char

#: makemap's blanks, and what Python (and an editor) takes for whitespace but makemap not
SEPARATORS = [*BLANKS, "\x1c", "\x1f", "\x85", "\xa0", "\u3000"]
KEY = "TLS_Srv:x.example"
OTHER = "Connect:127\tRELAY\n"


def _hosts(sep: str, value: str) -> list[str]:
    """The separator after the key, and before it in column 1."""
    return [f"{OTHER}{KEY}{sep}{value}\n", f"{OTHER}{sep}{KEY}\t{value}\n"]


def _cases() -> list[tuple[str, str]]:
    return [(sep, host) for sep in SEPARATORS for host in _hosts(sep, "ENCR:128")]


def _map(dump: list[str]) -> set[tuple[str, str]]:
    return {(key, value) for key, _, value in (line.partition("\t") for line in dump)}


@pytest.fixture(scope="module")
def dumps() -> dict[str, list[str]]:
    return {host: makemap_dump(host) for _sep, host in _cases()}


@pytest.mark.parametrize(("sep", "host"), _cases(), ids=ascii)
def test_the_plans_access_changes_read_the_line_as_makemap(
    sep: str, host: str, dumps: dict[str, list[str]]
) -> None:
    diff = access_diff([], split_lines(host))
    assert {(e.key.lower(), e.value) for e in diff.added} == _map(dumps[host])


@pytest.mark.parametrize(("sep", "host"), _cases(), ids=ascii)
def test_ownership_tls_sees_the_entry_the_host_has_where_makemap_does(
    sep: str, host: str, dumps: dict[str, list[str]]
) -> None:
    """The spec's rule for the key reaches the map, once, and the host's other entries
    stay: a host line makemap reads as the key is taken over, one it does not is kept."""
    block = f"# BEGIN tlsc\n{KEY}\tVERIFY\n# END tlsc\n"
    out = splice_tls_access(host, block, "access").text
    folded = KEY.lower()
    kept = {e for e in _map(dumps[host]) if e[0] != folded}
    assert _map(makemap_dump(out)) == kept | {(folded, "VERIFY")}
    # and a host line that already says what the block would is kept, with no block
    same = host.replace("ENCR:128", "VERIFY")
    has_it = (folded, "VERIFY") in _map(makemap_dump(same))
    assert (splice_tls_access(same, block, "access").text == same) is has_it


@pytest.mark.parametrize(("sep", "host"), _cases(), ids=ascii)
def test_lint_reads_the_line_as_makemap_and_says_when_an_editor_shows_it_otherwise(
    sep: str, host: str, dumps: dict[str, list[str]]
) -> None:
    doc = parse_access(host)
    assert {(e.key.lower(), e.value) for e in doc.entries if e.key and e.value} == _map(dumps[host])
    report = lint_text(host, "access", "access", LintContext())
    a001 = [(p.line, p.col, p.message) for p in report.problems() if p.code == "A001"]
    skipped = len(dumps[host]) == 1  # makemap loads only the Connect: line
    if sep in UNSEEN_BLANKS:
        col = 1 if host.endswith(f"{sep}{KEY}\tENCR:128\n") else len(KEY) + 1
        assert [(line, c) for line, c, _ in a001] == [(2, col)]
        assert describe_char(sep) in a001[0][2]
    elif skipped:
        assert [line for line, _, _ in a001] == [2]  # leading blank, or no value
    elif sep not in BLANKS:  # in column 1: makemap keeps it in the key, never matched
        assert [(line, c) for line, c, _ in a001] == [(2, 1)]
        assert f"{describe_char(sep)} is no blank to makemap" in a001[0][2]
    else:
        assert a001 == []


@pytest.mark.parametrize(("sep", "host"), _cases(), ids=ascii)
def test_import_takes_the_entries_makemap_loads_and_says_what_it_did(
    sep: str, host: str, dumps: dict[str, list[str]]
) -> None:
    notes = Notes()
    _ownership, lines = block_lines(host, "access", notes)
    entries = map_entries(lines, "access", notes)
    assert {(e.key.lower(), e.value) for e in entries} == _map(dumps[host])
    said = [message for at, message in notes.info if at.line == 2]
    if sep in UNSEEN_BLANKS:
        assert len(said) == 1 and describe_char(sep) in said[0]
    if len(dumps[host]) == 1:  # makemap loads only the Connect: line
        assert said and "not imported" in said[-1]


def test_the_odd_space_search_is_the_character_test_for_every_code_point() -> None:
    """space_in_key finds the first character that is whitespace to Python and no blank
    to makemap with one regular expression: it must agree with the character test
    (str.isspace(), less makemap's blanks) on every code point, and name the first."""
    from compiler.sendmail.accessmap import _ODD_SPACE, _unicode_space, space_in_key

    chars = map(chr, range(0x110000))
    assert [c for c in chars if (_ODD_SPACE.fullmatch(c) is not None) != _unicode_space(c)] == []
    odd = [chr(c) for c in range(0x110000) if _unicode_space(chr(c))]
    assert len(odd) > 20 and "\xa0" in odd and not set(BLANKS) & set(odd)
    for c in odd:
        found = space_in_key(f"TLS_Srv:x{c}y.example\u00e9{odd[0]}")
        assert found is not None and found[0] == 9 and describe_char(c) in found[1]
    assert space_in_key("TLS_Srv:x.example\u00e9") is None
