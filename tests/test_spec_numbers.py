"""compiler/spec/numbers.py: an unquoted number not written in plain decimal digits.

`017`, `0o17`, `0x1F`, `0b11`, `1_000`, `+1`, `-0`: tlsc's YAML 1.2 loader reads
each as an integer, YAML 1.1 (PyYAML, Ansible) reads some as other numbers or as
text, YAML 1.2's core schema reads others as text, and a define would be written
with other digits than the diff shows. Every place of the spec that takes a
number (read from the models) refuses them, at the value; plain decimal digits
pass, and a quoted spelling is text where text is taken, written as it stands.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MINIMAL_SPEC, run_cli, write_spec
from hypothesis import given
from hypothesis import strategies as st
from test_spec_booleans import spec_with, where, word_pos

from compiler.compile import compile_text
from compiler.spec.booleans import _children, accepted_kinds
from compiler.spec.loader import Loc, load_text
from compiler.spec.model import Cluster
from compiler.spec.validate import validate


def _number_fields() -> list[Loc]:
    """Every place of the spec that takes a number, but `version` (written apart)."""
    found: list[Loc] = []

    def walk(tp: object, loc: Loc) -> None:
        if "number" in accepted_kinds(tp) and loc != ("version",):
            found.append(loc)
        for part, child in _children(tp):
            walk(child, (*loc, part))

    walk(Cluster, ())
    return found


FIELDS = _number_fields()
#: (spelling, the number tlsc reads), one of each form readers differ on
SPELLINGS = [
    ("017", 17),
    ("0128", 128),
    ("00", 0),
    ("0o17", 15),
    ("0x1F", 31),
    ("0b11", 3),
    ("1_000", 1000),
    ("1_2_8", 128),
    ("+1", 1),
    ("+0x10", 16),
    ("-0", 0),
]


def test_the_fields_are_found_in_the_models() -> None:
    assert ("defaults", "smtp_port") in FIELDS
    assert ("hosts", "*", "smtp_port") in FIELDS
    assert ("domains", "*", "outbound", "min_bits") in FIELDS
    assert ("recipients", "*", "min_bits") in FIELDS
    assert ("defaults", "mc", "defines", "*") in FIELDS


def _problems(text: str) -> list[tuple[int, int, str, str]]:
    result = validate(load_text(text, "s.yaml"))
    return [(p.line, p.col, p.code, p.message) for p in result.problems]


@pytest.mark.parametrize(("word", "value"), SPELLINGS)
@pytest.mark.parametrize("field", FIELDS, ids=lambda f: ".".join(map(str, f)))
def test_a_number_not_in_plain_decimal_is_refused(field: Loc, word: str, value: int) -> None:
    text = spec_with(field, word)
    line, col = word_pos(text, word)
    found = [p for p in _problems(text) if p[2] < "S2"]
    assert len(found) == 1, found
    assert found[0][:3] == (line, col, "S102")
    message = found[0][3]
    assert message.startswith(f"{where(field)}: the unquoted {word} is the number {value}")
    text_too = "text" in accepted_kinds(_type(field))
    advice = f"; write {value}" + (", or quote it to mean the text" if text_too else "")
    assert message.endswith(advice)


def _type(field: Loc) -> object:
    from compiler.spec.booleans import type_at

    return type_at(field)


@pytest.mark.parametrize("word", ["0", "1", "25", "128", "-5", "65535"])
@pytest.mark.parametrize("field", FIELDS, ids=lambda f: ".".join(map(str, f)))
def test_plain_decimal_digits_are_a_number(field: Loc, word: str) -> None:
    assert not [p for p in _problems(spec_with(field, word)) if "unquoted" in p[3]]


@pytest.mark.parametrize(("word", "value"), SPELLINGS)
def test_version_in_another_spelling_is_refused(word: str, value: int) -> None:
    text = MINIMAL_SPEC.replace("version: 1", f"version: {word}")
    message = f"version: the unquoted {word} is the number {value}"
    assert [p[:3] for p in _problems(text) if p[3].startswith(message)] == [(1, 10, "S102")]


_DEFINE = "confMAX_DAEMON_CHILDREN"


@st.composite
def number_spelling(draw: st.DrawFn) -> str:
    """A plain scalar YAML may read as an integer: sign, base prefix, digits and '_'."""
    sign = draw(st.sampled_from(["", "", "+", "-"]))
    prefix = draw(st.sampled_from(["", "", "", "0", "00", "0x", "0X", "0o", "0b"]))
    alphabet = {"0x": "0123456789abcdefABCDEF", "0X": "0123456789abcdef", "0o": "01234567"}
    alphabet["0b"] = "01"
    digits = draw(st.text(alphabet.get(prefix, "0123456789"), min_size=1, max_size=6))
    if draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(1, len(digits)))
        digits = digits[:at] + "_" + digits[at:]
    return sign + prefix + digits


@given(number_spelling(), st.sampled_from(["", "'", '"']))
def test_a_define_is_written_with_the_digits_the_spec_shows(word: str, quote: str) -> None:
    """Accepted, a define's value is in sendmail.mc exactly as written; else S102 names it."""
    text = MINIMAL_SPEC + f"defaults:\n  mc:\n    defines:\n      {_DEFINE}: {quote}{word}{quote}\n"
    loaded = load_text(text, "s.yaml")
    result = validate(loaded)
    if not result.ok:
        assert not quote
        assert [p.code for p in result.problems] == ["S102"]
        assert f"the unquoted {word} is the number" in result.problems[0].message
        return
    mc = compile_text(text, "s.yaml").hosts["mx1"]["/etc/mail/sendmail.mc"]
    assert f"define(`{_DEFINE}', ``{word}'')dnl\n" in mc


def test_the_cli_names_the_value_and_changes_nothing(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, MINIMAL_SPEC + "defaults: {smtp_port: 0x19}\n")
    out = tmp_path / "build"
    code, stdout, stderr = run_cli("compile", spec, "--out", out)
    assert code == 1
    assert "Traceback" not in stderr
    said = "the unquoted 0x19 is the number 25, written in hexadecimal; write 25"
    assert f"{spec}:6:23: error: S102 defaults.smtp_port: {said}\n" in stdout + stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "word",
    ["0x" + "f" * 4000, "0b" + "1" * 15_000, "0o" + "7" * 5000, "9" * 5000, "-" + "9" * 5000],
)
@pytest.mark.parametrize("field", [("defaults", "smtp_port"), ("defaults", "mc", "defines", "*")])
def test_a_number_too_long_to_print_is_one_sentence(field: Loc, word: str) -> None:
    """Python prints no integer of more than 4,300 digits, but reads a hexadecimal or
    binary one past that: such a scalar stays its text (a define's value as written)."""
    loaded = load_text(spec_with(field, word), "s.yaml")
    problems = validate(loaded).problems
    assert all("4300" not in p.message for p in problems)
    if field[-1] == "smtp_port":
        # a decimal one is said so; the loader keeps 0x/0b/0o ones as their text
        digits = word.lstrip("-")
        kind = (
            f"a number of {len(digits)} digits, too large to read"
            if digits.isdigit()
            else "a string"
        )
        assert [(p.code, p.message) for p in problems] == [
            ("S102", f"defaults.smtp_port must be a whole number, not {kind}")
        ]
