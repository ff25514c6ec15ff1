"""Correct m4 files for the linter's real-tool tests, and a way to build them.

The corpus is what the linter must never flag: every example spec compiled
by tlsc (its sendmail.mc and the starttls.m4 that .mc includes) and Debian's
stock sendmail.mc and submit.mc from the sendmail package. `build()` runs
GNU m4 with sendmail's cf.m4 on a .mc the way `tlsc apply` does
(`m4 -D_NO_MAKEINFO_`, any stderr is a failure), with the .mc's starttls
include pointed at a given starttls.m4 text.

Nothing here reads this machine's /etc/mail: the lint context answers a path
under /etc/mail from the files given to it (a compiled host's, or the stock
Debian tree that debian_host.py makes), and Debian's includes of
/etc/mail/m4/*.m4 are pointed at that stock tree.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from debian_host import stock_etc_mail, why_not
from realtools import EXAMPLES, point_include, scratch_base

from compiler.compile import compile_file
from compiler.lint.engine import LintContext, LintReport, detect_kind, lint_text
from compiler.m4run import M4Stopped, run_m4

DEBIAN_CF = Path("/usr/share/sendmail/cf/debian")
CF_M4 = Path("/usr/share/sendmail/cf/m4/cf.m4")
#: the machine directory no test may read; lint contexts answer it from their own files
ETC_MAIL = "/etc/mail"

HAVE_M4 = shutil.which("m4") is not None and CF_M4.exists()
needs_m4 = pytest.mark.skipif(not HAVE_M4, reason="needs GNU m4 and sendmail-cf")


@dataclass(frozen=True)
class Source:
    """A correct .mc (and the starttls.m4 it includes, if any)."""

    name: str
    mc: str
    starttls: str | None
    #: where the .mc's include()s of /etc/mail files are read from (a stock tree's etc/mail)
    etc_mail: Path | None = None


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


def under_etc_mail(path: str) -> str | None:
    """`path` relative to this machine's /etc/mail ("" for itself), or None when outside it."""
    absolute = os.path.normpath(os.path.abspath(path))
    if absolute == ETC_MAIL:
        return ""
    if absolute.startswith(ETC_MAIL + "/"):
        return absolute[len(ETC_MAIL) + 1 :]
    return None


def context(etc_mail: Path | Mapping[str, str] | None = None) -> LintContext:
    """A lint context that reads the disk as the command's does -- except /etc/mail.

    No test may depend on this machine's /etc/mail, so a path under it is
    answered from `etc_mail`: a directory standing for it (the stock Debian
    tree of `debian_etc_mail()`), or absolute path -> text (a compiled host's
    files). With None, nothing under /etc/mail exists.
    """

    def read(path: str) -> str | None:
        rel = under_etc_mail(path)
        if rel is None:
            return _read(path)
        if isinstance(etc_mail, Path):
            return _read(str(etc_mail / rel))
        if etc_mail is not None:
            return etc_mail.get(os.path.join(ETC_MAIL, rel))
        return None

    def listdir(path: str) -> list[str] | None:
        rel = under_etc_mail(path)
        if rel is None:
            return _listdir(path)
        if isinstance(etc_mail, Path):
            return _listdir(str(etc_mail / rel))
        if etc_mail is not None:
            prefix = os.path.join(ETC_MAIL, rel, "")
            names = {p[len(prefix) :].split("/", 1)[0] for p in etc_mail if p.startswith(prefix)}
            return sorted(names) or None
        return None

    return LintContext(read=read, listdir=listdir)


def lint(
    text: str, path: str, kind: str | None = None, ctx: LintContext | None = None
) -> LintReport:
    """Lint text as `tlsc lint` would (with `context()` unless `ctx` is given)."""
    return lint_text(text, path, kind or detect_kind(path, text), ctx or context())


@cache
def _debian_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="lint-debian-", dir=scratch_base()))
    atexit.register(shutil.rmtree, root, True)
    stock_etc_mail(root)
    return root


def debian_etc_mail() -> Path:
    """The stock Debian /etc/mail (debian_host.py), made once per session; read it only.

    Skips the calling test when it cannot be made here (not root, or no
    sendmail package): it never falls back to this machine's /etc/mail.
    """
    reason = why_not()
    if reason is not None:
        pytest.skip(reason)
    return _debian_root() / "etc" / "mail"


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


def compiled_files() -> list[tuple[str, str, str, dict[str, str]]]:
    """(name, path, text, host files) of every file of every host of every example.

    What must lint clean, each at its path on its host (`/etc/mail/...`)
    among the host's other compiled files (for `context(files)`).
    """
    out = []
    for example in EXAMPLES:
        result = compile_file(example)
        for host, files in sorted(result.hosts.items()):
            for path, text in sorted(files.items()):
                out.append((f"{example.stem}/{host}{path}", path, text, dict(files)))
    return out


def debian_sources() -> tuple[Source, ...]:
    """Debian's stock sendmail.mc and submit.mc, when a stock Debian tree can be made here.

    Their include()s of /etc/mail/m4/dialup.m4 and provider.m4 are read from
    that tree (`Builder.prepare_mc`), never from this machine's /etc/mail.
    """
    if why_not() is not None:
        return ()
    etc_mail = _debian_root() / "etc" / "mail"
    return tuple(
        Source(f"debian/{name}", (DEBIAN_CF / name).read_text(encoding="utf-8"), None, etc_mail)
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
        """The source's .mc with its starttls include pointed into the scratch directory
        and its include()s of /etc/mail files at `source.etc_mail`."""
        mc = source.mc
        if source.etc_mail is not None:
            mc = mc.replace(f"include(`{ETC_MAIL}/", f"include(`{source.etc_mail}/")
        if source.starttls is None:
            return mc
        return point_include(mc, str(self.starttls_path))

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
    path = Path(tempfile.mkdtemp(prefix="lint-", dir=scratch_base()))
    path.chmod(0o755)
    return path
