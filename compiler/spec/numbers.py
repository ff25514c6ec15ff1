"""Unquoted numbers not written in plain decimal digits: `017`, `0x1F`, `1_000`, `+1`.

The loader reads them as ruamel's YAML 1.2 does, as integers, but the spec's
readers do not agree on them: YAML 1.1 (PyYAML, Ansible) reads `017` as octal
15 and `0o17` as text, YAML 1.2's core schema reads `1_000` and `0b11` as
text. And a define takes a number as its digits: `confMAX_DAEMON_CHILDREN:
0x1F` would be written `31`, `017` as `17`, text the diff never showed. So
each is refused where it stands (S102), saying the number tlsc would read; a
quoted one is text, as written, where text is taken.
"""

from __future__ import annotations

from compiler.spec.booleans import accepted_kinds, type_at
from compiler.spec.loader import LoadedSpec, Loc


def _reading(text: str, value: int) -> str:
    """How the readers take `text` (which tlsc reads as `value`), as a phrase."""
    digits = text.lstrip("+-").lower()
    if digits.startswith("0o"):
        return f"is the number {value} to YAML 1.2 but text to YAML 1.1"
    if digits.startswith("0b") or "_" in digits:
        return f"is the number {value} to YAML 1.1 but text to YAML 1.2"
    if digits.startswith("0") and digits[1:2].isdigit():
        octal = "text" if any(c in "89" for c in digits) else f"the octal number {int(digits, 8)}"
        return f"is the number {value} to YAML 1.2 but {octal} to YAML 1.1"
    if digits.startswith("0x"):
        return f"is the number {value}, written in hexadecimal"
    return f"is the number {value}, written with a sign"


def number_word_problems(loaded: LoadedSpec) -> list[tuple[Loc, str]]:
    """(loc, sentence) for each unquoted integer not written in plain decimal digits."""
    problems: list[tuple[Loc, str]] = []
    for loc, text in sorted(loaded.number_words.items(), key=lambda item: str(item[0])):
        value = _value_at(loaded.data, loc)
        tp = type_at(loc)
        takes_text = tp is not None and "text" in accepted_kinds(tp)
        advice = f"write {value}" + (", or quote it to mean the text" if takes_text else "")
        where = ".".join(map(str, loc))
        problems.append((loc, f"{where}: the unquoted {text} {_reading(text, value)}; {advice}"))
    return problems


def _value_at(data: object, loc: Loc) -> int:
    for part in loc:
        data = data[part]  # type: ignore[index]
    assert isinstance(data, int)
    return data
