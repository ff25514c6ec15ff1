"""The access-file reader and the A-rules beyond their docstring examples."""

from __future__ import annotations

import pytest

from compiler.lint.access import parse_access
from compiler.lint.engine import LintContext, lint_text


def codes(text: str) -> list[tuple[int, int, str]]:
    report = lint_text(text, "access", "access", LintContext())
    return [(p.line, p.col, p.code) for p in report.problems()]


def test_lines_are_split_as_makemap_splits_them() -> None:
    doc = parse_access("# c\n\nConnect:127   \tRELAY  \nTLS_Srv:\tENCR:128\n")
    assert [(e.number, e.key, e.value, e.tag) for e in doc.entries] == [
        (3, "Connect:127", "RELAY  ", "Connect"),
        (4, "TLS_Srv:", "ENCR:128", "TLS_Srv"),
    ]
    assert doc.pos(doc.entries[0].value_start) == (3, 16)


def test_tls_rules_and_those_needing_certificates() -> None:
    doc = parse_access(
        "Connect:127\tRELAY\nTLS_Srv:a.example\tENCR:128\nTLS_Srv:b.example\tVERIFY\n"
        "TLS_Clt:c.example\tENCR:128\nTry_TLS:d.example\tNO\n"
    )
    assert [e.number for e in doc.tls_rules()] == [2, 3, 4, 5]
    assert [e.number for e in doc.rules_needing_certificates()] == [3, 4]


@pytest.mark.parametrize(
    "value",
    ["ENCR", "VERIFY:abc", "VERIFY+CN+CITag:MyCA", "ENCR:0", "VERIFI", "TEMP+PERM+VERIFY"],
)
def test_requirement_values_outside_the_grammar(value: str) -> None:
    assert codes(f"TLS_Srv:x.example\t{value}\n") == [(1, 19, "A003")]


@pytest.mark.parametrize(
    "value", ["ENCR:128", "VERIFY", "VERIFY:112", "PERM+VERIFY+CN", "ENCR:112+CN:smtp.x.org"]
)
def test_requirement_values_in_the_grammar(value: str) -> None:
    assert codes(f"TLS_Rcpt:user@x.example\t{value}\n") == []


def test_unknown_tag_suggests_the_real_one() -> None:
    report = lint_text("TLS_Server:x.example\tENCR:128\n", "access", "access", LintContext())
    (problem,) = report.problems()
    assert problem.code == "A002" and "did you mean 'TLS_Srv'" in problem.message


def test_duplicate_keys_fold_case() -> None:
    assert codes("Connect:A.example\tOK\nconnect:a.example\tREJECT\n") == [(2, 1, "A004")]


def test_try_tls_values() -> None:
    assert codes("Try_TLS:x.example\tno\n") == []
    assert codes("Try_TLS:x.example\tNEVER\n") == [(1, 19, "A005")]


def test_keys_sendmail_never_matches() -> None:
    assert codes("Connect:10.0.0.0/8\tREJECT\n") == [(1, 1, "A006")]
    assert codes("Connect:127.0.0.\tREJECT\n") == [(1, 1, "A006")]
    assert codes("Connect:2001:db8::1\tREJECT\n") == [(1, 1, "A006")]


def test_values() -> None:
    assert codes("Connect:x.example\tERROR:5.7.1:550 go away\n") == []
    assert codes('Connect:x.example\t"550 go away"\n') == []
    assert codes("Srv_Features:x.example\tA S\n") == []
    assert codes("GreetPause:x.example\tsoon\n") == [(1, 22, "A007")]


def test_malformed_lines() -> None:
    assert codes("Connect:x.example\tRELAY\r\n") == [(1, 24, "A001")]
    assert codes("Connect:x.example\tERROR:550 50% off\n") == [(1, 31, "A001")]
    assert codes("Connect:x.example\tERROR:550 50%% off\n") == []


@pytest.mark.parametrize(
    "line",
    [
        # cf/README's access_db examples, FreeBSD's access.sample, Ubuntu 10.04's access
        "Connect:[127.0.0.3]\t\tOK",
        "Connect:[IPv6:1:2:3:4:5:6:7:8]\tOK",
        "From:[1.2.3.4]\t\t\tOK",
        "From:[1.2.4]\t\t\tOK",
        "GreetPause:[192.0.2.1]    0",
        "[192.0.2.9]\tREJECT",
        # as a client writes the domain of its sender or recipient (Postfix: [IPv6:::1]),
        # and the server of a delivery to such a recipient
        "From:[IPv6:2001:db8::2]\tREJECT",
        "To:[IPv6:::1]\tRELAY",
        "Try_TLS:[IPv6:2001:db8::25]\tNO",
    ],
)
def test_address_literal_keys_are_matched(line: str) -> None:
    assert codes(line + "\n") == []


def test_address_literal_keys_sendmail_never_matches() -> None:
    # ClientRate is looked up by ${client_addr} alone; `::` never matches (IPV6_FULL)
    assert codes("ClientRate:[IPv6:::1]    0\n") == [(1, 1, "A006")]
    report = lint_text("Connect:[IPv6:::1]\tRELAY\n", "access", "access", LintContext())
    (problem,) = report.problems()
    assert (
        problem.severity == "warning" and "write Connect:[IPv6:0:0:0:0:0:0:0:1]" in problem.message
    )
    # untagged: a sender's or recipient's domain as written, never a client
    report = lint_text("[IPv6:::1]\tRELAY\n", "access", "access", LintContext())
    (problem,) = report.problems()
    assert problem.severity == "warning" and problem.message.endswith(
        "never matches a client; for the client write Connect:[IPv6:0:0:0:0:0:0:0:1]"
    )
