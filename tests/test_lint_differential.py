"""Differential test of the linter against real m4: quote mutations of correct files.

Each mutant is a correct file (a compiled example's sendmail.mc or
starttls.m4, Debian's sendmail.mc or submit.mc) with one quote slip:
a back-tick swapped for ', ‘ or ´; an apostrophe inserted inside a quoted
value; a closing quote dropped. Real m4 builds every mutant; its output is
compared with the original's. The linter must report an error for every
mutant that makes m4 fail or changes its output, and none for a mutant in a
comment that changes nothing. `--fix` must turn every mutant it repairs
completely into a file that m4 builds to the original's exact .cf.
The confusion matrix is printed with the test output.
"""

from __future__ import annotations

import random
import re
import shutil
from collections import Counter
from dataclasses import dataclass

import pytest
from lint_corpus import Builder, Source, compiled_sources, debian_sources, lint, needs_m4
from lint_corpus import new_scratch as scratch

from compiler.lint.fix import fix_text

SEED = 20240616
PER_FILE = 60
_QUOTED = re.compile(r"`([^`'\n]*)'")
_DNL_BEFORE = re.compile(r"(^|[)\s])dnl(?![A-Za-z0-9_])")


@dataclass(frozen=True)
class Mutant:
    kind: str
    pos: int
    text: str


def mutants(text: str, rng: random.Random, count: int) -> list[Mutant]:
    """`count` single quote slips at random places of `text` (seeded)."""
    ticks = [i for i, ch in enumerate(text) if ch == "`"]
    spans = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]
    kinds = ["tick->'", "tick->‘", "tick->´", "insert '", "drop close"]
    out: list[Mutant] = []
    seen: set[str] = set()
    for k in range(count * 3):
        if len(out) >= count:
            break
        kind = kinds[k % len(kinds)]
        if kind.startswith("tick") and ticks:
            pos = rng.choice(ticks)
            new = text[:pos] + kind[-1] + text[pos + 1 :]
        elif kind == "insert '" and spans:
            start, end = rng.choice(spans)
            pos = rng.randrange(start + 1, end)
            new = text[:pos] + "'" + text[pos:]
        elif kind == "drop close" and spans:
            _, end = rng.choice(spans)
            pos = end - 1
            new = text[:pos] + text[pos + 1 :]
        else:
            continue
        if new not in seen:
            seen.add(new)
            out.append(Mutant(kind, pos, new))
    return out


def in_comment(text: str, pos: int) -> bool:
    """Independently of the lexer: after a dnl on its line, or in a '#' line before cf.m4."""
    start = text.rfind("\n", 0, pos) + 1
    before = text[start:pos]
    if _DNL_BEFORE.search(before):
        return True
    cf_include = text.find("/cf.m4')")
    return before.lstrip().startswith("#") and 0 <= pos < cf_include


@dataclass
class Tally:
    matrix: Counter[str]
    misses: list[str]
    fixed: int = 0
    fix_roundtrip_ok: int = 0
    fix_bad: list[str] | None = None


def _run(source: Source, target: str, builder: Builder, rng: random.Random, tally: Tally) -> None:
    mc = builder.prepare_mc(source)
    original = builder.build(mc, source.starttls)
    assert original.ok, f"{source.name} does not build: {original.stderr}"
    text = mc if target == "mc" else source.starttls
    assert text is not None
    path = str(builder.dir / ("sendmail.mc" if target == "mc" else "starttls.m4"))
    kind = "mc" if target == "mc" else "m4"
    for mutant in mutants(text, rng, PER_FILE):
        if target == "mc":
            built = builder.build(mutant.text, source.starttls)
        else:
            built = builder.build(mc, mutant.text)
        changed = not built.ok or built.cf != original.cf
        report = lint(mutant.text, path, kind)
        flagged = report.errors > 0
        comment = in_comment(text, mutant.pos)
        where = f"{source.name} {target} {mutant.kind} at {report.doc.pos(mutant.pos)}"
        if changed:
            tally.matrix["changed, error" if flagged else "changed, MISSED"] += 1
            if not flagged:
                tally.misses.append(where)
        elif comment:
            tally.matrix["comment, FALSE ERROR" if flagged else "comment, clean"] += 1
            if flagged:
                tally.misses.append(where + " (comment)")
        else:
            tally.matrix["no change, error" if flagged else "no change, clean"] += 1
        if flagged:
            _roundtrip(mutant, source, target, path, kind, mc, builder, original.cf, tally, where)


def _roundtrip(
    mutant: Mutant,
    source: Source,
    target: str,
    path: str,
    kind: str,
    mc: str,
    builder: Builder,
    original_cf: str,
    tally: Tally,
    where: str,
) -> None:
    result = fix_text(mutant.text, path, kind)
    if result.report.errors:
        return
    tally.fixed += 1
    if target == "mc":
        rebuilt = builder.build(result.text, source.starttls)
    else:
        rebuilt = builder.build(mc, result.text)
    if rebuilt.ok and rebuilt.cf == original_cf:
        tally.fix_roundtrip_ok += 1
    else:
        assert tally.fix_bad is not None
        tally.fix_bad.append(where)


@needs_m4
@pytest.mark.realtools
def test_quote_mutants_against_real_m4(capsys: pytest.CaptureFixture[str]) -> None:
    sources = [*compiled_sources(), *debian_sources()]
    rng = random.Random(SEED)
    tally = Tally(Counter(), [], fix_bad=[])
    directory = scratch()
    try:
        builder = Builder(directory)
        for source in sources:
            _run(source, "mc", builder, rng, tally)
            if source.starttls is not None:
                _run(source, "starttls", builder, rng, tally)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    total = sum(tally.matrix.values())
    targets = len(sources) + sum(1 for s in sources if s.starttls is not None)
    with capsys.disabled():
        print(f"\nlint vs real m4: {total} quote mutants of {targets} correct files")
        for key in sorted(tally.matrix):
            print(f"  {key:<22} {tally.matrix[key]:>4}")
        print(f"  --fix repaired {tally.fixed}, same .cf as the original: {tally.fix_roundtrip_ok}")
    assert total >= 200
    assert tally.matrix["changed, MISSED"] == 0, tally.misses
    assert tally.matrix["comment, FALSE ERROR"] == 0, tally.misses
    assert tally.matrix["comment, clean"] > 0, "no mutant landed in a comment"
    assert tally.fix_bad == [], tally.fix_bad
    assert tally.fixed > 0
