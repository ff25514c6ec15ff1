#!/usr/bin/env python3
"""Regenerate the golden files: the exact bytes tlsc compiles each example to.

    make golden                       # or: python3 tests/regen_golden.py
    python3 tests/regen_golden.py --check   # only report what differs (exit 1)

For every `examples/NAME.yaml` it writes `tests/golden/NAME/HOST/<path>`,
one file per managed file of every host (the layout of `tlsc compile
--out`), and removes golden files and directories that no example produces
any more. tests/test_golden.py compares the compiler's output with these
files byte for byte and never rewrites them: when the output changes on
purpose, run this, review `git diff tests/golden`, and commit both.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from compiler.compile import compile_file, output_path  # noqa: E402

GOLDEN = REPO / "tests" / "golden"
EXAMPLES = REPO / "examples"


def examples() -> list[Path]:
    """Every example spec, in a stable order."""
    return sorted(EXAMPLES.glob("*.yaml"))


def compiled_tree(example: Path) -> dict[str, bytes]:
    """{relative golden path: bytes} for one example: HOST/<path without leading />."""
    result = compile_file(example)
    if not result.ok:
        problems = "; ".join(f"{p.line}:{p.col} {p.code} {p.message}" for p in result.problems)
        raise ValueError(f"{example.name} does not compile: {problems}")
    tree: dict[str, bytes] = {}
    for host, files in result.hosts.items():
        for path, text in files.items():
            rel = output_path(Path("."), host, path).as_posix()
            tree[rel] = text.encode("utf-8")
    return tree


def golden_tree(name: str) -> dict[str, bytes]:
    """{relative path: bytes} of what is committed under tests/golden/NAME."""
    root = GOLDEN / name
    if not root.is_dir():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def differences() -> list[str]:
    """One line per golden file that is missing, stale or different."""
    out = []
    names = set()
    for example in examples():
        names.add(example.stem)
        want = compiled_tree(example)
        have = golden_tree(example.stem)
        for rel in sorted(set(want) | set(have)):
            if rel not in have:
                out.append(f"missing  {example.stem}/{rel}")
            elif rel not in want:
                out.append(f"stale    {example.stem}/{rel}")
            elif want[rel] != have[rel]:
                out.append(f"differs  {example.stem}/{rel}")
    if GOLDEN.is_dir():
        for d in sorted(GOLDEN.iterdir()):
            if d.name not in names:
                out.append(f"stale    {d.name}/ (no examples/{d.name}.yaml)")
    return out


def regenerate() -> int:
    """Rewrite tests/golden from the examples; returns the number of files written."""
    trees = {example.stem: compiled_tree(example) for example in examples()}
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for d in GOLDEN.iterdir():
        if d.name not in trees:
            shutil.rmtree(d) if d.is_dir() else d.unlink()
    written = 0
    for name, tree in trees.items():
        shutil.rmtree(GOLDEN / name, ignore_errors=True)
        for rel, data in tree.items():
            target = GOLDEN / name / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="report differences, write nothing (exit 1 if any)"
    )
    args = parser.parse_args(argv)
    if args.check:
        diffs = differences()
        for line in diffs:
            print(line)
        return 1 if diffs else 0
    before = differences()
    written = regenerate()
    print(f"wrote {written} golden file(s) for {len(examples())} example(s) under {GOLDEN}")
    for line in before:
        print(f"  {line}")
    if before:
        print("review the change with: git diff --stat tests/golden")
    return 0


if __name__ == "__main__":
    sys.exit(main())
