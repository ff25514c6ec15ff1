"""compiler/spec/booleans.py: an unquoted yes/no/on/off/y/n where text, true or null is taken.

The fields are read from the models, so a new field that takes text beside
true/false or null is covered here without editing this file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MINIMAL_SPEC, pos, run_cli, with_lines, write_spec
from import_helpers import PLAIN_MC, imported, recompiled, tree

from compiler.compile import compile_text
from compiler.spec.booleans import accepted_kinds, fields_refusing_bool_words, type_at
from compiler.spec.loader import Loc, load_text
from compiler.spec.model import Cluster
from compiler.spec.validate import validate

SPELLINGS = ["yes", "Yes", "YES", "no", "No", "NO", "on", "On", "oN", "ON", "off", "Off", "OFF"]
SPELLINGS += ["y", "Y", "n", "N"]

#: a name for each "any key" part, by the key above it
_KEY_FOR = {
    "hosts": "mx1",
    "domains": "example.com",
    "recipients": "user@example.com",
    "defines": "confX",
}


def _bool_only_fields() -> list[Loc]:
    found: list[Loc] = []

    def walk(tp: object, loc: Loc) -> None:
        from compiler.spec.booleans import _children

        if accepted_kinds(tp) == frozenset({"bool"}):
            found.append(loc)
        for part, child in _children(tp):
            walk(child, (*loc, part))

    walk(Cluster, ())
    return found


def where(field: Loc) -> str:
    """The dotted path of `field` as spec_with writes it."""
    return ".".join(
        str(_KEY_FOR[str(field[i - 1])] if p == "*" else p) for i, p in enumerate(field)
    )


def word_pos(text: str, word: str) -> tuple[int, int]:
    """(line, col) of the value written last."""
    at = text.rindex(f" {word}\n") + 1
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


def spec_with(field: Loc, value: str) -> str:
    """The minimal spec with `value` written at `field` ("*" keys named, 0 a list item)."""
    parts = [_KEY_FOR[str(field[i - 1])] if p == "*" else p for i, p in enumerate(field)]
    if parts[:2] == ["hosts", "mx1"]:
        text, depth, parts = MINIMAL_SPEC, 2, parts[2:]
    else:
        text, depth = MINIMAL_SPEC, 0
    lines = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        indent = "  " * (depth + i)
        head = f"{indent}- " if part == 0 else f"{indent}{part}:"
        if part == 0:
            lines.append(f"{head}{value}" if last else f"{indent}-")
        else:
            lines.append(f"{head} {value}" if last else head)
    if parts[0] in ("domains", "recipients"):
        # a rule with checks needs a level: keep the word the only problem
        last = lines[-1]
        lines.insert(-1, last[: len(last) - len(last.lstrip())] + "require: verify")
    return text + "\n".join(lines) + "\n"


FIELDS = fields_refusing_bool_words()


def test_the_fields_are_found_in_the_models() -> None:
    assert ("domains", "*", "outbound", "cn") in FIELDS
    assert ("domains", "*", "inbound", "cn") in FIELDS
    assert ("recipients", "*", "cn") in FIELDS
    assert ("defaults", "mc", "defines", "*") in FIELDS
    assert ("hosts", "*", "commands", "restart") in FIELDS
    # text only: a word there cannot have meant a boolean
    assert ("cluster",) not in FIELDS
    assert ("defaults", "mc", "ostype") not in FIELDS
    # a shorthand takes choices, not text: its own message names them
    assert ("domains", "*", "outbound") not in FIELDS


@pytest.mark.parametrize("word", SPELLINGS)
@pytest.mark.parametrize("field", FIELDS, ids=lambda f: ".".join(map(str, f)))
def test_unquoted_yaml11_boolean_is_refused(field: Loc, word: str) -> None:
    text = spec_with(field, word)
    result = validate(load_text(text, "s.yaml"))
    assert not result.ok
    line, col = word_pos(text, word)
    found = [(p.line, p.col, p.code, p.message) for p in result.problems]
    kinds = accepted_kinds(type_at(field))
    advice = (
        "write true or false, or quote it to mean the name"
        if "bool" in kinds
        else "write null for none, or quote it to mean the text"
    )
    expected = (
        line,
        col,
        "S102",
        f"{where(field)}: an unquoted {word} is a YAML 1.1 boolean, which YAML 1.2 reads as"
        f" the text '{word}'; {advice}",
    )
    # the only problem from the models; a cross-field check may add its own (no DOMAIN yes)
    assert [f for f in found if f[2] < "S2"] == [expected]


@pytest.mark.parametrize("quote", ["'", '"'])
@pytest.mark.parametrize("field", FIELDS, ids=lambda f: ".".join(map(str, f)))
def test_quoted_word_is_the_text(field: Loc, quote: str) -> None:
    text = spec_with(field, f"{quote}yes{quote}")
    result = validate(load_text(text, "s.yaml"))
    assert not any("YAML 1.1" in p.message for p in result.problems)


@pytest.mark.parametrize("word", ["yes", "ON", "n"])
@pytest.mark.parametrize("field", _bool_only_fields(), ids=lambda f: ".".join(map(str, f)))
def test_a_boolean_field_says_write_true_or_false(field: Loc, word: str) -> None:
    text = spec_with(field, word)
    result = validate(load_text(text, "s.yaml"))
    line, col = word_pos(text, word)
    messages = [(p.line, p.col, p.code, p.message) for p in result.problems]
    assert (
        line,
        col,
        "S102",
        f"{where(field)} must be true or false, not the text '{word}', which YAML 1.2 does not"
        " read as a boolean; write true or false",
    ) in messages


def test_boolean_fields_are_found() -> None:
    found = _bool_only_fields()
    assert ("defaults", "tls", "request_client_cert") in found
    assert ("domains", "*", "outbound", "starttls") in found


def test_quoted_yes_is_a_certificate_name() -> None:
    text = with_lines('domains:\n  example.com: {outbound: {require: verify, cn: "yes"}}\n')
    result = compile_text(text, "s.yaml")
    assert result.ok
    assert "TLS_Srv:example.com\tVERIFY+CN:yes\n" in result.hosts["mx1"]["/etc/mail/access"]


def test_true_is_still_true() -> None:
    text = with_lines("domains:\n  example.com: {outbound: {require: verify, cn: true}}\n")
    result = compile_text(text, "s.yaml")
    assert "TLS_Srv:example.com\tVERIFY+CN\n" in result.hosts["mx1"]["/etc/mail/access"]


def test_validate_exits_1_with_file_line_and_column(tmp_path: Path) -> None:
    text = with_lines("domains:\n  example.com: {outbound: {require: verify, cn: On}}\n")
    spec = write_spec(tmp_path, text)
    code, out, err = run_cli("validate", spec)
    line, col = pos(text, "On}")
    assert code == 1
    assert f"{spec}:{line}:{col}: error: S102 domains.example.com.outbound.cn: an unquoted On" in (
        out + err
    )


def test_compile_writes_nothing(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, with_lines("defaults:\n  commands: {restart: no}\n"))
    code, _out, _err = run_cli("compile", spec, "--out", tmp_path / "build")
    assert code == 1
    assert not (tmp_path / "build").exists()


def test_import_quotes_the_words_it_writes(tmp_path: Path) -> None:
    mc = PLAIN_MC.replace("MAILER(`local')", "define(`confMATCH_GECOS', `on')dnl\nMAILER(`local')")
    root = tree(tmp_path, access="TLS_Srv:example.com\tVERIFY+CN:yes\n", mc=mc)
    result = imported(root)
    assert result.text is not None
    assert "confMATCH_GECOS: 'on'" in result.text
    assert "cn: 'yes'" in result.text
    recompiled(result)
