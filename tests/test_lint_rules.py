"""Every lint rule's docstring examples, run: PASS lints clean, FAIL finds the rule.

A rule's docstring holds blocks introduced by `PASS:` or `FAIL at LINE:COL:`
(optionally `PASS (NAME):` to name the file, which decides its kind), with
the file's lines indented by four spaces. `==> NAME <==` inside a block
starts another file of the same run (an access file beside the .mc, or the
starttls.m4 the .mc includes). A PASS example must produce no finding of
any rule; a FAIL example must produce this rule's finding at LINE:COL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from compiler.lint.access import parse_access
from compiler.lint.engine import LintContext, Rule, detect_kind, lint_text
from compiler.lint.rules import RULES

_HEADER = re.compile(
    r"^(?P<verdict>PASS|FAIL)(?: \((?P<name>[^)]+)\))?(?: at (?P<line>\d+):(?P<col>\d+))?:$"
)
_FILE = re.compile(r"^==> (?P<name>.+) <==$")


@dataclass
class Example:
    rule: Rule
    verdict: str
    files: dict[str, str] = field(default_factory=dict)
    line: int | None = None
    col: int | None = None

    @property
    def main(self) -> str:
        return next(iter(self.files))


def parse_examples(rule: Rule) -> list[Example]:
    """The PASS/FAIL blocks of a rule's docstring."""
    examples: list[Example] = []
    current: Example | None = None
    name = ""
    lines: list[str] = []

    def flush() -> None:
        if current is not None and name:
            while lines and not lines[-1].strip():
                lines.pop()
            current.files[name] = "".join(line + "\n" for line in lines)

    default = "access" if rule.kind == "access" else "example.mc"
    for raw in rule.doc.split("\n"):
        m = _HEADER.match(raw)
        if m:
            flush()
            current = Example(rule, m["verdict"])
            if m["line"]:
                current.line, current.col = int(m["line"]), int(m["col"])
            name, lines = m["name"] or default, []
            examples.append(current)
            continue
        if current is None:
            continue
        if raw.startswith("    ") or raw.strip() == "":
            body = raw[4:]
            f = _FILE.match(body)
            if f:
                flush()
                name, lines = f["name"], []
            else:
                lines.append(body)
        else:
            flush()
            current, name, lines = None, "", []
    flush()
    return examples


def run_example(example: Example) -> list[tuple[int, int, str, str]]:
    """(line, col, code, message) of every finding in the example's first file."""
    files = example.files
    ctx = LintContext(read=files.get)
    for path, text in files.items():
        if detect_kind(path, text) == "access":
            ctx.access[path] = parse_access(text, path)
        else:
            ctx.m4_paths.append(path)
    main = example.main
    report = lint_text(files[main], main, detect_kind(main, files[main]), ctx)
    return [(p.line, p.col, p.code, p.message) for p in report.problems()]


EXAMPLES = [e for rule in RULES for e in parse_examples(rule)]


def test_every_rule_has_pass_and_fail_examples() -> None:
    for rule in RULES:
        verdicts = {e.verdict for e in parse_examples(rule)}
        assert verdicts == {"PASS", "FAIL"}, f"{rule.id} needs PASS and FAIL examples"
        assert all(e.files[e.main].strip() for e in parse_examples(rule)), rule.id


def test_rule_ids_and_names_are_unique() -> None:
    assert len({r.id for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.doc.startswith(f"{rule.id} {rule.name}: "), rule.id


@pytest.mark.parametrize(
    "example",
    EXAMPLES,
    ids=[f"{e.rule.id}-{e.verdict}-{k}" for k, e in enumerate(EXAMPLES)],
)
def test_docstring_example(example: Example) -> None:
    found = run_example(example)
    if example.verdict == "PASS":
        assert found == [], f"{example.rule.id} PASS example is not clean: {found}"
        return
    codes = [(line, col) for line, col, code, _ in found if code == example.rule.id]
    assert codes, f"{example.rule.id} FAIL example not found; got {found}"
    if example.line is not None:
        assert (example.line, example.col) in codes, (
            f"{example.rule.id} expected at {example.line}:{example.col}, got {codes}"
        )


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_messages_are_one_sentence_with_a_fix(rule: Rule) -> None:
    for example in parse_examples(rule):
        if example.verdict != "FAIL":
            continue
        for _, _, code, message in run_example(example):
            if code != rule.id:
                continue
            assert "\n" not in message
            assert message[0].islower() or message[0].isupper() or message[0] in "'`"
            assert not message.endswith(".") or message.endswith("..."), message
