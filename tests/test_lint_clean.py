"""Files that are correct must lint clean: no false positives where users look first.

Every file tlsc compiles from the examples (sendmail.mc, starttls.m4,
access) has no finding at all; Debian's stock sendmail.mc and submit.mc
(from the sendmail package, and the copies in /etc/mail) and its
starttls.m4 have no error; Debian's stock access file has one honest
warning, its dead `GreetPause:` default line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_corpus import compiled_files, lint

DEBIAN = [
    Path("/usr/share/sendmail/cf/debian/sendmail.mc"),
    Path("/usr/share/sendmail/cf/debian/submit.mc"),
    Path("/etc/mail/sendmail.mc"),
    Path("/etc/mail/submit.mc"),
    Path("/etc/mail/tls/starttls.m4"),
]


@pytest.mark.parametrize("name,text", compiled_files(), ids=[n for n, _ in compiled_files()])
def test_compiled_examples_lint_clean(name: str, text: str) -> None:
    report = lint(text, name.rsplit("/", 1)[-1] if name.endswith("access") else name)
    assert [(p.line, p.code, p.message) for p in report.problems()] == []


@pytest.mark.parametrize("path", DEBIAN, ids=[str(p) for p in DEBIAN])
def test_debian_stock_files_have_no_finding(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is not installed")
    report = lint(path.read_text(encoding="utf-8", errors="surrogateescape"), str(path))
    assert [(p.line, p.code, p.message) for p in report.problems()] == []


def test_debian_stock_access_file_only_warns_about_its_dead_lines() -> None:
    """Its bare `GreetPause:` default, and its `IPv6:::1` keys: Debian's sendmail is
    built with IPV6_FULL and compares `IPv6:0:0:0:0:0:0:0:1`, never `IPv6:::1`."""
    path = Path("/etc/mail/access")
    if not path.exists():
        pytest.skip("no /etc/mail/access")
    report = lint(path.read_text(encoding="utf-8", errors="surrogateescape"), str(path))
    problems = report.problems()
    assert report.errors == 0
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
