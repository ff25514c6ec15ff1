"""The text and SARIF outputs of `tlsc lint`."""

from __future__ import annotations

import json

from compiler.lint.engine import LintContext, lint_text
from compiler.lint.report import format_report, format_summary
from compiler.lint.sarif import format_sarif
from compiler.problems import Problem


def report_for(text: str, path: str = "x.mc") -> str:
    return format_report(lint_text(text, path, "mc", LintContext()))


def test_text_shows_source_caret_and_fix() -> None:
    out = report_for("define('confCIPHER_LIST', `HIGH')dnl\n").splitlines()
    assert out[0].startswith("x.mc:1:8: error: M4002 this argument opens with an apostrophe")
    assert out[1:] == [
        "     1 | define('confCIPHER_LIST', `HIGH')dnl",
        "       |        ^",
        "   fix | define(`confCIPHER_LIST', `HIGH')dnl",
    ]


def test_caret_keeps_tabs_and_spans_the_text() -> None:
    out = report_for("\tfeature(`access_db')dnl\n").splitlines()
    assert out[1] == "     1 | \tfeature(`access_db')dnl"
    assert out[2] == "       | \t^~~~~~~"


def test_source_line_escapes_unicode_line_breaks() -> None:
    """A shown line holding U+2028 or NEL must not break into two for the reader."""
    out = report_for("define(`confX', `a\u2028b\x85c')dnl\n")
    assert "M4006" in out
    assert "\u2028" not in out and "\x85" not in out
    assert "     1 | define(`confX', `a\\u2028b\\x85c')dnl" in out.split("\n")


def test_a_long_line_is_cut_around_the_finding_and_the_caret_still_points_at_it() -> None:
    value = "x" * 300
    text = f"define(`confCIPHER_LIST', `{value}')define('confDOMAIN_NAME', `y')dnl\n"
    lines = report_for(text).splitlines()
    assert lines[0].startswith(f"x.mc:1:{text.index(chr(39) + 'confDOMAIN') + 1}: error: M4002")
    shown, caret, fix = lines[1][9:], lines[2][9:], lines[3][9:]
    assert shown.startswith("…x") and len(shown) <= 102
    assert shown[caret.index("^")] == "'"  # the apostrophe that opens confDOMAIN_NAME
    assert fix[caret.index("^")] == "`"


def test_escaped_characters_keep_the_caret_under_the_finding() -> None:
    text = "define(`confCIPHER_LIST', `a\x01b')define('confDOMAIN_NAME', `y')dnl\n"
    out = report_for(text).splitlines()
    assert out[1] == "     1 | " + text.rstrip().replace("\x01", "\\x01")
    assert out[1].index("'confDOMAIN") == out[2].index("^")


def test_findings_without_a_repair_show_no_fix_line() -> None:
    out = report_for("define(`confREJECT_MSG', `550 We don't')dnl\n").splitlines()
    assert len(out) == 3 and "M4003" in out[0]


def test_summary() -> None:
    problems = [
        Problem("a", 1, 1, "M4001", "error", "x"),
        Problem("a", 2, 1, "M4005", "warning", "y"),
    ]
    assert format_summary(problems, 1) == "1 error, 1 warning in 1 file\n"
    assert format_summary([], 2) == "0 errors, 0 warnings in 2 files\n"


def test_sarif_describes_every_rule_and_locates_results() -> None:
    report = lint_text("FEATURE (`access_db')dnl\n", "dir/x.mc", "mc", LintContext())
    sarif = json.loads(format_sarif([report]))
    run = sarif["runs"][0]
    assert sarif["$schema"].endswith("sarif-2.1.0.json")
    assert run["columnKind"] == "unicodeCodePoints"
    rules = run["tool"]["driver"]["rules"]
    assert all(r["shortDescription"]["text"] and r["fullDescription"]["text"] for r in rules)
    (result,) = run["results"]
    assert result["ruleId"] == "M4013"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "dir/x.mc"
    assert location["region"] == {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 8}
    change = result["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert change["deletedRegion"]["startColumn"] == 8
    assert change["insertedContent"]["text"] == ""
