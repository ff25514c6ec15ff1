"""Files that are correct must lint clean: no false positives where users look first.

Every file tlsc compiles from the examples (sendmail.mc, starttls.m4,
access) has no finding at all, linted at its path on its host among the
host's other compiled files; Debian's stock sendmail.mc and submit.mc (from
the sendmail package, and as its scripts install them in /etc/mail) and its
starttls.m4 have no error; Debian's stock access file has one honest
warning, its dead `GreetPause:` default line. The installed copies are the
stock Debian /etc/mail that debian_host.py makes, never this machine's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_corpus import compiled_files, context, debian_etc_mail, lint

PACKAGE = [
    Path("/usr/share/sendmail/cf/debian/sendmail.mc"),
    Path("/usr/share/sendmail/cf/debian/submit.mc"),
]
#: as the package's scripts install them, relative to /etc/mail
INSTALLED = ["sendmail.mc", "submit.mc", "tls/starttls.m4"]


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "surrogateescape")


COMPILED = compiled_files()


@pytest.mark.parametrize("name,path,text,files", COMPILED, ids=[n for n, *_ in COMPILED])
def test_compiled_examples_lint_clean(
    name: str, path: str, text: str, files: dict[str, str]
) -> None:
    report = lint(text, path, ctx=context(files))
    assert [(p.line, p.code, p.message) for p in report.problems()] == []


@pytest.mark.parametrize("path", PACKAGE, ids=[str(p) for p in PACKAGE])
def test_debian_package_files_have_no_finding(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is not installed")
    report = lint(_text(path), str(path))
    assert [(p.line, p.code, p.message) for p in report.problems()] == []


@pytest.mark.parametrize("rel", INSTALLED, ids=[f"/etc/mail/{r}" for r in INSTALLED])
def test_debian_installed_files_have_no_finding(rel: str) -> None:
    """Linted at their /etc/mail path, so the cross-file rules see the stock access file."""
    etc_mail = debian_etc_mail()
    report = lint(_text(etc_mail / rel), f"/etc/mail/{rel}", ctx=context(etc_mail))
    assert [(p.line, p.code, p.message) for p in report.problems()] == []


def test_debian_stock_access_file_only_warns_about_its_dead_lines() -> None:
    """Its bare `GreetPause:` default, and its `IPv6:::1` keys: Debian's sendmail is
    built with IPV6_FULL and compares `IPv6:0:0:0:0:0:0:0:1`, never `IPv6:::1`."""
    etc_mail = debian_etc_mail()
    report = lint(_text(etc_mail / "access"), "/etc/mail/access", ctx=context(etc_mail))
    problems = report.problems()
    assert report.errors == 0
    assert problems, "the stock access file's dead lines were not found"
    assert all(p.code == "A006" for p in problems), problems
    assert all(
        "GreetPause" in p.message
        or ("write " in p.message and ":IPv6:0:0:0:0:0:0:0:1" in p.message)
        for p in problems
    ), problems


def test_sendmail_sample_configs_have_no_quoting_error() -> None:
    """The cf/cf/*.mc samples predate dnl discipline; they may warn, never err on quotes."""
    samples = sorted(Path("/usr/share/sendmail/cf/cf").glob("*.mc"))
    if not samples:
        pytest.skip("sendmail-cf samples are not installed")
    for path in samples:
        report = lint(path.read_bytes().decode("utf-8", "surrogateescape"), str(path))
        quoting = [p for p in report.problems() if p.code in ("M4001", "M4002", "M4003", "M4009")]
        assert quoting == [], (path, quoting)
