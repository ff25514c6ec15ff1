"""Machine formats shown in a review UI escape what text output escapes.

GitHub renders `--format github` annotations in the pull request, code scanning
renders SARIF message texts, GitLab the Code Quality descriptions: a RIGHT-TO-LEFT
OVERRIDE quoted raw there reversed the rest of the sentence (Trojan Source), a
zero-width character showed as nothing. Each is escaped as `problems.one_line`
escapes it for text output, while the workflow command's own escapes (%25, %0D,
%0A; %3A, %2C in a property) keep their meaning. The SARIF is checked against the
parts of the SARIF 2.1.0 schema it uses, URIs included.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.lint.codequality import format_codequality
from compiler.lint.engine import LintContext, lint_text
from compiler.lint.sarif import format_sarif
from compiler.problems import ESCAPED_IN_TEXT, Problem, format_github, one_line

#: bidi controls, zero-width characters, the BOM, C0/C1 controls, Unicode line breaks
UNSEEN = [
    "\u202e", "\u202a", "\u202c", "\u2066", "\u2067", "\u2069", "\u200e", "\u200f",
    "\u061c", "\u200b", "\u200d", "\u2060", "\ufeff", "\t", "\x1b", "\x85", "\u2028",
]  # fmt: skip


def gh_decode(text: str, prop: bool = False) -> str:
    """What GitHub makes of an escaped workflow command value."""
    if prop:
        text = text.replace("%3A", ":").replace("%2C", ",")
    return text.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def annotation(path: str, message: str) -> tuple[str, str]:
    """(file property, message) of the one annotation of a problem."""
    (line,) = format_github([Problem(path, 3, 4, "A002", "error", message)]).splitlines()
    m = re.fullmatch(r"::error file=(.*),line=3,col=4,title=A002::(.*)", line)
    assert m, line
    return m.group(1), m.group(2)


@pytest.mark.parametrize("char", UNSEEN, ids=[f"U+{ord(c):04X}" for c in UNSEEN])
def test_annotations_escape_bidi_and_zero_width_characters(char: str) -> None:
    path, message = annotation(f"dir/a{char}b.mc", f"the tag 'x{char}y:' is unknown")
    escaped = char.encode("unicode_escape").decode("ascii")
    assert not ESCAPED_IN_TEXT.search(path + message)
    assert gh_decode(message) == f"the tag 'x{escaped}y:' is unknown"
    assert gh_decode(path, prop=True) == f"dir/a{escaped}b.mc"


def test_annotations_keep_the_workflow_command_escapes() -> None:
    path, message = annotation("a:b,c%d\ne", "50% of 'a\r\nb': x, y")
    assert message == "50%25 of 'a%0D%0Ab': x, y"
    assert path == "a%3Ab%2Cc%25d%0Ae"


@given(st.text(), st.text())
def test_an_annotation_decodes_to_the_text_output_escaping(path: str, message: str) -> None:
    """Whatever the text: one line, no unseen character, and GitHub's decoding gives
    the message as text output shows it (line breaks aside, which GitHub shows)."""
    got_path, got_message = annotation(path, message)
    problem = Problem(path, 3, 4, "A002", "error", message)  # scrubbed as every problem is
    for got, want, prop in ((got_path, path, True), (got_message, problem.message, False)):
        assert "\n" not in got and "\r" not in got and not ESCAPED_IN_TEXT.search(got)
        decoded = gh_decode(got, prop)
        parts = re.split(r"(\r|\n)", want)
        assert decoded == "".join(p if p in ("\r", "\n") else one_line(p) for p in parts)


# -- SARIF ---------------------------------------------------------------------

#: RFC 3986 URI-reference characters, percent-encodings well-formed
_URI_REF = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")


def check_region(region: dict[str, Any]) -> None:
    """A SARIF 2.1.0 region as the schema has it: text (1-based, end after start) or
    binary (non-negative), never both partly."""
    if "byteOffset" in region:
        assert set(region) == {"byteOffset", "byteLength"}
        assert region["byteOffset"] >= 0 and region["byteLength"] >= 0
        return
    assert set(region) <= {"startLine", "startColumn", "endLine", "endColumn"}
    assert region["startLine"] >= 1 and region.get("startColumn", 1) >= 1
    end = (region.get("endLine", region["startLine"]), region.get("endColumn", 1 << 30))
    assert end >= (region["startLine"], region.get("startColumn", 1)), region


def check_sarif(sarif: dict[str, Any]) -> None:
    """The shape the schema requires of what tlsc writes."""
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    (run,) = sarif["runs"]
    assert run["columnKind"] == "unicodeCodePoints"
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert result["level"] in ("error", "warning")
        assert not ESCAPED_IN_TEXT.search(result["message"]["text"]), result["message"]
        if "ruleIndex" in result:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        for location in result["locations"]:
            physical = location["physicalLocation"]
            assert _URI_REF.fullmatch(physical["artifactLocation"]["uri"]), physical
            check_region(physical["region"])
        for fix in result.get("fixes", []):
            for change in fix["artifactChanges"]:
                assert _URI_REF.fullmatch(change["artifactLocation"]["uri"])
                for replacement in change["replacements"]:
                    check_region(replacement["deletedRegion"])
                    if "byteOffset" in replacement["deletedRegion"]:
                        # a binary region takes binary content or none (section 3.57.2)
                        assert "text" not in replacement.get("insertedContent", {})


PATHS = ["x.mc", "dir with space/x.mc", "a#b%c/é.mc", "d\u202ee/x.mc", "./rel/x.mc"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200b", "\ufeff", "\x85"])
def test_sarif_escapes_message_text_and_encodes_uris(path: str, char: str) -> None:
    text = f"\ufeffdefine(\u2018confX\u2019, `y')dnl\nfeature(`access_db{char}')dnl\n"
    report = lint_text(text, path, "mc", LintContext())
    access = lint_text(f"Conn{char}ect:1.2.3.4\tOK\n", path + ".access", "access")
    unreadable = Problem(f"{path}{char}", 1, 1, "L000", "error", f"{path}{char}: no such file")
    sarif = json.loads(format_sarif([report, access], [unreadable]))
    check_sarif(sarif)
    results = sarif["runs"][0]["results"]
    escaped = char.encode("unicode_escape").decode("ascii")
    assert any(escaped in r["message"]["text"] for r in results if r["ruleId"] == "A002")
    assert {r["ruleId"] for r in results} >= {"M4023", "M4001", "M4013", "A002", "L000"}


def test_codequality_descriptions_are_escaped_and_fingerprints_kept() -> None:
    problem = Problem("access", 1, 1, "A002", "error", "the tag 'Conn\u202eect:' is unknown")
    (issue,) = json.loads(format_codequality([problem]))
    assert issue["description"] == "the tag 'Conn\\u202eect:' is unknown"
    plain = Problem("access", 1, 1, "A002", "error", "the tag 'Connect:' is unknown")
    assert json.loads(format_codequality([plain]))[0]["description"] == plain.message
