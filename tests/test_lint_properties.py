"""Properties of the linter on arbitrary input: it never crashes, never points outside
the file, and --fix never leaves a file with more errors than it had."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.lint.engine import LintContext, lint_text
from compiler.lint.fix import fix_text
from compiler.lint.report import format_report

PIECES = [
    "`",
    "'",
    "(",
    ")",
    ",",
    " ",
    "\t",
    "\n",
    "\r\n",
    "#",
    "dnl",
    "dnI",
    "define",
    "FEATURE",
    "feature",
    "include",
    "MAILER",
    "OSTYPE",
    "divert",
    "changequote",
    "changecom",
    "ifelse",
    "LOCAL_CONFIG",
    "confSERVER_CERT",
    "access_db",
    "/etc/mail/tls/starttls.m4",
    "/usr/share/sendmail/cf/m4/cf.m4",
    "x",
    "\u2018",
    "\u2019",
    "\u00b4",
    "\u201c",
    '"',
    "-1",
    "0",
]
m4_text = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)
access_text = st.lists(
    st.sampled_from(
        [
            "TLS_Srv:",
            "Try_TLS:",
            "Connect:",
            "x.example",
            "127",
            " ",
            "\t",
            "\n",
            "#",
            "ENCR",
            ":128",
            "VERIFY",
            "+CN",
            "++",
            "NO",
            "RELAY",
            "%",
            "\r",
        ]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(m4_text, st.sampled_from(["mc", "m4"]))
def test_m4_lint_is_total(text: str, kind: str) -> None:
    report = lint_text(text, "x." + kind, kind, LintContext())
    for finding in report.findings:
        assert 0 <= finding.offset <= len(text)
        for edit in finding.edits:
            assert 0 <= edit.start <= edit.end <= len(text)
    format_report(report)
    for problem in report.problems():
        assert problem.line >= 1 and problem.col >= 1


@settings(max_examples=150, deadline=None)
@given(m4_text)
def test_fix_never_adds_errors(text: str) -> None:
    before = lint_text(text, "x.mc", "mc", LintContext())
    after = fix_text(text, "x.mc", "mc")
    assert after.report.errors <= before.errors
    assert (after.text == text) == (after.applied == 0)


@settings(max_examples=200, deadline=None)
@given(access_text)
def test_access_lint_is_total(text: str) -> None:
    report = lint_text(text, "access", "access", LintContext())
    for problem in report.problems():
        assert 1 <= problem.line <= text.count("\n") + 1
