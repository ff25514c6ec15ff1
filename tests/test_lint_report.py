"""The text and SARIF outputs of `tlsc lint`."""

from __future__ import annotations

import json

import pytest

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


@pytest.mark.parametrize("char", ["\u202e", "\u2067", "\u200f", "\u061c", "\u200b", "\ufeff"])
def test_source_line_escapes_bidi_and_zero_width_characters(char: str) -> None:
    """A shown line with a bidi control was shown reordered (Trojan Source) and a
    zero-width character as nothing: each is escaped, and the caret still points at
    the finding after it."""
    out = report_for(f"define(`confX{char}', `a')define(`confY', `b')dnl\n")
    escaped = char.encode("unicode_escape").decode("ascii")
    assert char not in out
    lines = out.split("\n")
    shown = f"     1 | define(`confX{escaped}', `a')define(`confY', `b')dnl"
    at = lines.index(shown)
    assert lines[at + 1].index("^") == shown.index("confY")


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


# -- a capped number of findings per rule (issue 11, item 12) --------------------

HEAD = (
    "divert(-1)dnl\ndivert(0)dnl\ninclude(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n"
    "OSTYPE(`debian')dnl\n"
)


def warns_on_every_line(lines: int) -> str:
    """A .mc whose every FEATURE line lacks its dnl (M4005 each)."""
    return HEAD + "FEATURE(`use_cw_file')\n" * lines


def test_capped_report_keeps_each_rules_first_findings_and_counts_the_rest() -> None:
    from compiler.lint.engine import MAX_SHOWN_PER_RULE

    text = warns_on_every_line(250) + "define(\u2018confX\u2019, `y')dnl\n"
    full = lint_text(text, "x.mc", "mc", LintContext())
    assert sum(f.code == "M4005" for f in full.findings) == 250
    shown = full.capped()
    assert MAX_SHOWN_PER_RULE == 100
    assert sum(f.code == "M4005" for f in shown.findings) == 100
    assert shown.findings[:100] == [f for f in full.findings if f.code == "M4005"][:100]
    assert [f.code for f in shown.findings[100:]] == [f.code for f in full.findings[250:]]
    count, first = shown.omitted["M4005"]
    assert count == 150 and first == [f for f in full.findings if f.code == "M4005"][100]
    assert set(shown.omitted) == {"M4005"}  # the other rule is under its cap
    (line,) = [p for p in shown.omitted_problems()]
    assert (line.line, line.code, line.severity) == (105, "M4005", "warning")
    assert line.message.startswith("150 more findings not shown")
    assert line in shown.problems()
    assert full.omitted == {} and len(full.problems()) == len(full.findings)


def test_capped_count_line_is_an_error_when_any_hidden_finding_is() -> None:
    from compiler.lint.engine import Finding, LintReport
    from compiler.lint.source import SourceText

    doc = SourceText("x\n" * 10, "x.mc", "mc")
    findings = [Finding(i, "M4003", "warning", "w") for i in range(5)]
    findings.append(Finding(6, "M4003", "error", "e"))
    shown = LintReport("x.mc", doc, findings).capped(2)
    count, first = shown.omitted["M4003"]
    assert count == 4 and first.severity == "error"


def test_text_report_ends_the_file_with_the_count_line() -> None:
    report = lint_text(warns_on_every_line(1000), "x.mc", "mc", LintContext()).capped()
    out = format_report(report).splitlines()
    assert sum(": warning: M4005 " in line for line in out) == 101
    assert out[-1] == (
        "x.mc:105:23: warning: M4005 900 more findings not shown"
        " (only the first 100 of a rule are listed per file)"
    )
    assert len(out) == 100 * 4 + 1  # finding, source line, caret, fix; then the count


def test_a_did_you_mean_is_asked_for_the_findings_a_report_shows_and_once_a_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file of 1,000 unknown options asked difflib 1,000 times (~1 ms each: a 100,000
    line file took minutes, a fuzzing find): now the shown ones (the first 100 of the
    rule) get their did-you-mean, the counted rest none, and a name asked again is
    remembered (an access file repeating one mistyped tag asks once)."""
    import difflib

    from compiler.lint import suggest
    from compiler.lint.engine import MAX_SHOWN_PER_RULE

    asked: list[str] = []
    real = difflib.get_close_matches

    def counted(word: str, *args: object, **kw: object) -> list[str]:
        asked.append(word)
        return real(word, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(difflib, "get_close_matches", counted)
    suggest._closest.cache_clear()  # what an earlier test asked is remembered too
    text = "".join(f"define(`confTO_QUEUERETUR{i}', `1')dnl\n" for i in range(1000))
    text += "define(`confTO_QUEUERETURN', `1')dnl\n"  # known: no finding
    full = lint_text(text, "x.mc", "mc", LintContext())
    mine = [f for f in full.findings if f.code == "M4006"]
    assert len(mine) == 1000 and len(asked) == MAX_SHOWN_PER_RULE
    assert all("did you mean 'confTO_QUEUERETURN'" in f.message for f in mine[:100])
    assert not any("did you mean" in f.message for f in mine[100:])
    shown = full.capped()
    assert [f for f in shown.findings if f.code == "M4006"] == mine[:100]
    asked.clear()
    access = "".join(f"Conect:10.0.0.{i}\tREJECT\n" for i in range(200))
    tags = [f for f in lint_text(access, "access", "access", LintContext()).findings]
    assert len([f for f in tags if f.code == "A002"]) == 200
    assert all("did you mean 'Connect'" in f.message for f in tags if f.code == "A002")
    assert asked == ["conect"]
