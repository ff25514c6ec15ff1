"""compiler/plan/accessfile.py: reading an access file as makemap does."""

from __future__ import annotations

from compiler.plan.accessfile import parse_line, read_access


def test_comments_blanks_and_leading_whitespace_are_not_entries() -> None:
    assert parse_line("# comment", 1) is None
    assert parse_line("", 1) is None
    assert parse_line("   Connect:x OK", 1) is None
    assert parse_line("\tConnect:x OK", 1) is None
    assert parse_line("Connect:novalue", 1) is None


def test_key_and_value_split_on_the_first_run_of_blanks_keeping_trailing_ones() -> None:
    entry = parse_line("Connect:10.1.2.5   \t  OK   ", 7)
    assert entry is not None
    assert (entry.key, entry.value, entry.line) == ("Connect:10.1.2.5", "OK   ", 7)
    trailing = parse_line("Connect:x\tOK # not a comment", 1)
    assert trailing is not None and trailing.value == "OK # not a comment"


def test_keys_fold_and_the_first_value_wins() -> None:
    found = read_access("TLS_Srv:A.example\tVERIFY\ntls_srv:a.example\tENCR:128\n")
    assert list(found) == ["tls_srv:a.example"]
    assert found["tls_srv:a.example"].value == "VERIFY"
    assert found["tls_srv:a.example"].line == 1
