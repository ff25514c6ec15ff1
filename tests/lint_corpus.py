"""Correct m4 files for the linter's real-tool tests, and a way to build them.

The corpus is what the linter must never flag: every example spec compiled
by tlsc (its sendmail.mc and the starttls.m4 that .mc includes) and Debian's
stock sendmail.mc and submit.mc from the sendmail package. `build()` runs
GNU m4 with sendmail's cf.m4 on a .mc the way `tlsc apply` does
(`m4 -D_NO_MAKEINFO_`, any stderr is a failure), with the .mc's starttls
include pointed at a given starttls.m4 text.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from realtools import EXAMPLES, point_include, scratch_base

from compiler.compile import compile_file
from compiler.lint.engine import LintContext, LintReport, detect_kind, lint_text
from compiler.m4run import M4Stopped, run_m4

DEBIAN_CF = Path("/usr/share/sendmail/cf/debian")
CF_M4 = Path("/usr/share/sendmail/cf/m4/cf.m4")
DEBIAN_INCLUDES = (Path("/etc/mail/m4/dialup.m4"), Path("/etc/mail/m4/provider.m4"))

HAVE_M4 = shutil.which("m4") is not None and CF_M4.exists()
needs_m4 = pytest.mark.skipif(not HAVE_M4, reason="needs GNU m4 and sendmail-cf")


@dataclass(frozen=True)
class Source:
    """A correct .mc (and the starttls.m4 it includes, if any)."""

    name: str
    mc: str
    starttls: str | None


def _read(path: str) -> str | None:
    try:
        return Path(path).read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        return None


def _listdir(path: str) -> list[str] | None:
    try:
        return os.listdir(path)
    except OSError:
        return None


def context() -> LintContext:
    """A lint context that reads the disk, as the command's does."""
    return LintContext(read=_read, listdir=_listdir)


def lint(text: str, path: str, kind: str | None = None) -> LintReport:
    """Lint text as `tlsc lint` would."""
    return lint_text(text, path, kind or detect_kind(path, text), context())


@cache
def compiled_sources() -> tuple[Source, ...]:
    """The first host of every example spec, compiled."""
    out = []
    for example in EXAMPLES:
        result = compile_file(example)
        assert result.ok, [p.message for p in result.problems]
        host, files = next(iter(sorted(result.hosts.items())))
        mc = next(text for path, text in files.items() if path.endswith(".mc"))
        starttls = next((text for path, text in files.items() if path.endswith(".m4")), None)
        out.append(Source(f"{example.stem}/{host}", mc, starttls))
    return tuple(out)


def compiled_files() -> list[tuple[str, str]]:
    """(name, text) of every file of every host of every example: what must lint clean."""
    out = []
    for example in EXAMPLES:
        result = compile_file(example)
        for host, files in sorted(result.hosts.items()):
            for path, text in sorted(files.items()):
                out.append((f"{example.stem}/{host}{path}", text))
    return out


def debian_sources() -> tuple[Source, ...]:
    """Debian's stock sendmail.mc and submit.mc, when the package is installed."""
    if not all(p.exists() for p in DEBIAN_INCLUDES):
        return ()
    return tuple(
        Source(f"debian/{name}", (DEBIAN_CF / name).read_text(encoding="utf-8"), None)
        for name in ("sendmail.mc", "submit.mc")
        if (DEBIAN_CF / name).exists()
    )


@dataclass(frozen=True)
class Build:
    rc: int
    cf: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.stderr == ""


class Builder:
    """Builds .mc texts in one scratch directory (removed by the caller)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.starttls_path = directory / "starttls.m4"

    def prepare_mc(self, source: Source) -> str:
        """The source's .mc with its starttls include pointed into the scratch directory."""
        if source.starttls is None:
            return source.mc
        return point_include(source.mc, str(self.starttls_path))

    def build(self, mc: str, starttls: str | None) -> Build:
        if starttls is not None:
            self.starttls_path.write_bytes(starttls.encode("utf-8", "surrogateescape"))
        mc_file = self.dir / "sendmail.mc"
        mc_file.write_bytes(mc.encode("utf-8", "surrogateescape"))
        try:
            proc = run_m4(["m4", "-D_NO_MAKEINFO_", mc_file.name], self.dir, None, 60)
        except M4Stopped as exc:
            # a slip that makes m4 recurse for ever (one in the include guard's own
            # line, say) is a build that fails, as tlsc's builds see it
            return Build(1, "", str(exc))
        return Build(
            proc.returncode,
            proc.stdout.decode("utf-8", "surrogateescape"),
            proc.stderr.decode("utf-8", "surrogateescape"),
        )


def new_scratch() -> Path:
    """A fresh directory under the tests' safe scratch base."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="lint-", dir=scratch_base()))
    path.chmod(0o755)
    return path
