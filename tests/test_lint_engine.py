"""The lint engine: file kinds, disable comments, ordering, and the rule registry."""

from __future__ import annotations

from compiler.lint.engine import LintContext, detect_kind, lint_text
from compiler.lint.rules import BY_ID, RULES


def codes(text: str, path: str = "x.mc") -> list[tuple[int, str]]:
    report = lint_text(text, path, detect_kind(path, text), LintContext())
    return [(p.line, p.code) for p in report.problems()]


def test_detect_kind() -> None:
    assert detect_kind("/etc/mail/sendmail.mc", "") == "mc"
    assert detect_kind("tls/starttls.m4", "") == "m4"
    assert detect_kind("/etc/mail/access", "Connect:127 RELAY\n") == "access"
    assert detect_kind("access.local", "") == "access"
    assert detect_kind("sendmail.conf.in", "divert(-1)dnl\n") == "mc"
    assert detect_kind("relay-domains", "Connect:127 RELAY\n") == "access"


def test_disable_on_its_own_line_applies_to_the_next_line() -> None:
    text = "dnl tlsc: disable=M4005\nFEATURE(`a')\nFEATURE(`b')\n"
    assert codes(text) == [(2, "M4012"), (3, "M4012"), (3, "M4005")]


def test_disable_at_the_end_of_a_line_applies_to_that_line() -> None:
    text = "define(`confCIPHERLIST', `x')dnl tlsc: disable=M4006\n"
    assert codes(text) == []


def test_disable_without_codes_silences_every_rule_there() -> None:
    assert codes("dnl tlsc: disable\nfeature(`x')\n") == []


def test_disable_with_several_codes_and_disable_file() -> None:
    assert codes("dnl tlsc: disable=M4005, M4012\nFEATURE(`a')\n") == []
    text = "dnl tlsc: disable-file=M4005\nOSTYPE(`debian')\nFEATURE(`access_db')\nMAILER(`smtp')\n"
    assert codes(text) == []


def test_disable_in_an_access_file() -> None:
    text = "Connect:127\tOK\n# tlsc: disable=A004\nConnect:127\tRELAY\n"
    assert codes(text, "access") == []
    assert codes(text.replace("# tlsc: disable=A004\n", ""), "access") == [(2, "A004")]


def test_problems_are_sorted_and_deduplicated() -> None:
    text = "FEATURE(`ratecontrol', `nodelay')dnl\nFEATURE(\u2018access_db\u2019)dnl\n"
    report = lint_text(text, "x.mc", "mc", LintContext())
    found = [(p.line, p.col, p.code) for p in report.problems()]
    assert found == [(1, 1, "M4014"), (2, 9, "M4001"), (2, 19, "M4001")]
    assert len(report.findings) == 3  # two M4014 reasons at one place: reported once


def test_registry() -> None:
    assert list(BY_ID) == [r.id for r in RULES]
    assert {"M4001", "M4002", "M4003", "M4004", "M4005"} <= set(BY_ID)
    assert all(r.kind in ("m4", "access") for r in RULES)
    assert all(r.id.startswith("A") == (r.kind == "access") for r in RULES)


def test_a_rule_never_sees_the_other_kind() -> None:
    assert codes("Connect:127\tRELAYS\n", "access") == [(1, "A007")]
    assert codes("TLS_Srv:x\tENCR\n", "x.mc") == []
