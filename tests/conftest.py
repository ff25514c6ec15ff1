"""Shared helpers for the loader, validation and CLI tests.

Test modules import these directly (`from conftest import ...`), as the other
helper modules in this directory are imported: tests/ is on sys.path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

# Property tests draw the same examples on every run, so CI cannot flake on a
# lucky draw; `HYPOTHESIS_PROFILE=explore make test` draws fresh ones to hunt.
settings.register_profile("repeatable", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

#: The smallest spec that is valid: one host, everything else defaulted.
MINIMAL_SPEC = """\
version: 1
cluster: test
hosts:
  mx1:
    fqdn: mx1.example.net
"""

#: The repository root (where `python3 -m compiler` finds the package).
ROOT = Path(__file__).resolve().parent.parent


def write_spec(tmp_path: Path, text: str | bytes, name: str = "cluster.yaml") -> Path:
    """Write spec text (or raw bytes) to tmp_path/name and return the path."""
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="\n")
    return path


def cli_command(*args: str | os.PathLike[str]) -> list[str]:
    """The argv of `python3 -m compiler ARGS...` with this interpreter."""
    return [sys.executable, "-m", "compiler", *map(str, args)]


def cli_env() -> dict[str, str]:
    """The environment for a CLI subprocess: no colour, the repo importable."""
    env = dict(os.environ)
    env["NO_COLOR"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def run_cli(*args: str | os.PathLike[str], cwd: Path | None = None) -> tuple[int, str, str]:
    """Run `python3 -m compiler ARGS...` and return (exit code, stdout, stderr)."""
    proc = subprocess.run(
        cli_command(*args),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=cli_env(),
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def pos(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the nth occurrence of `needle` in `text`."""
    at = -1
    for _ in range(nth):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    return line, col


def with_lines(*parts: str) -> str:
    """The minimal spec followed by more top-level YAML."""
    return MINIMAL_SPEC + "".join(parts)
