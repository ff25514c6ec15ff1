"""compiler/sendmail/ is the one home of sendmail's facts (issue 15): it reads nothing of
the commands, and the spec's validation reads sendmail's facts from it, not from lint/ or
render/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

COMPILER = Path(__file__).resolve().parent.parent / "compiler"
#: what a module of compiler/sendmail/ may import from the project
FACTS_MAY_IMPORT = ("compiler.sendmail", "compiler.problems")
#: the commands' packages: nothing of compiler/sendmail/ or compiler/spec/ imports them
COMMANDS = (
    "compiler.lint",
    "compiler.render",
    "compiler.plan",
    "compiler.apply",
    "compiler.doctor",
    "compiler.probe",
    "compiler.logs",
    "compiler.importer",
    "compiler.cli",
)


def imports(path: Path) -> list[str]:
    """Every module `path` imports (top level and inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
            out += [f"{node.module}.{alias.name}" for alias in node.names]
    return out


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


@pytest.mark.parametrize("path", sorted((COMPILER / "sendmail").glob("*.py")), ids=str)
def test_the_facts_import_only_facts(path: Path) -> None:
    ours = [m for m in imports(path) if m == "compiler" or m.startswith("compiler.")]
    strays = [m for m in ours if not _within(m, FACTS_MAY_IMPORT)]
    assert strays == [], f"{path.name} imports {strays}"


@pytest.mark.parametrize("path", sorted((COMPILER / "spec").glob("*.py")), ids=str)
def test_the_spec_reads_no_commands_package(path: Path) -> None:
    strays = [m for m in imports(path) if _within(m, COMMANDS)]
    assert strays == [], f"{path.name} imports {strays}"


def test_the_old_homes_are_gone() -> None:
    for old in ("m4text", "xtext", "names", "accessmap", "sendmail"):
        assert not (COMPILER / f"{old}.py").exists(), old
    for old in ("lint/m4names.py", "lint/confnames.py", "render/m4quote.py"):
        assert not (COMPILER / old).exists(), old
