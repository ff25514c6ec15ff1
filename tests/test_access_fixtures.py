"""Real access files (tests/fixtures/access, sources in its README): what lint says of
each line, and the import's round trip through the real makemap.

Each finding below was checked against sendmail 8.17.1.9 (`sendmail -bt`, `makemap`):
`RELAY    # local` answers every local client with the error `RELAY # local`;
`"ERROR:550 ..."` (quoted whole, so one word) answers `553 5.3.0 ERROR:550 ...`;
`ClientRate:[IPv6:::1]` is never looked up (ClientRate takes ${client_addr} alone);
`[IPv6:::1]` never matches (IPV6_FULL); a bare `GreetPause:` is never read.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli
from import_helpers import (
    ACCESS,
    MC,
    PLAIN_MC,
    as_built,
    imported,
    makemap_dump,
    messages,
    recompiled,
    tree,
    write_tree,
)
from realtools import SendmailRelease
from releases import release

from compiler.lint.engine import LintContext, lint_text

__all__ = ["release"]  # a fixture, imported for pytest

FIXTURES = Path(__file__).parent / "fixtures" / "access"

#: fixture -> (line, code, severity) of every finding
FINDINGS = {
    # cf/README's Clt_Features:broken.sts: 8.17 looks it up by the inbound client
    "cf-readme-tls": [(71, "A006", "warning")],
    "freebsd-access.sample": [],
    "redhat-access": [],
    "qa-watirmark-access": [(13, "A007", "error")],  # "ERROR:550 ...", quoted whole
    "howto-tagless": [],
    "howto-try-tls": [],
    "howto-midline-comments": [(1, "A001", "error"), (4, "A001", "error")],
    "ubuntu-10.04-forum-access": [
        (4, "A006", "error"),  # ClientRate:localhost, looked up by address alone
        (5, "A006", "error"),  # ClientConn:localhost
        (10, "A006", "warning"),  # Connect:[IPv6:::1]
        (11, "A006", "warning"),  # GreetPause:[IPv6:::1]
        (12, "A006", "error"),  # ClientRate:[IPv6:::1]
        (13, "A006", "error"),  # ClientConn:[IPv6:::1]
        (16, "A006", "warning"),  # GreetPause: 5000
    ],
}


def test_every_fixture_has_its_findings() -> None:
    names = {p.name for p in FIXTURES.iterdir()} - {"README"}
    assert names == set(FINDINGS)


@pytest.mark.parametrize("name", sorted(FINDINGS))
def test_lint_of_real_access_files(name: str) -> None:
    path = FIXTURES / name
    report = lint_text(path.read_text(encoding="utf-8"), str(path), "access", LintContext())
    assert [(p.line, p.code, p.severity) for p in report.problems()] == FINDINGS[name]


@pytest.mark.realtools
@pytest.mark.parametrize(
    "name", [n for n, found in sorted(FINDINGS.items()) if all(f[2] == "warning" for f in found)]
)
def test_real_access_files_import_to_the_same_map(
    tmp_path: Path, release: SendmailRelease, name: str
) -> None:
    """ownership: file, so tlsc writes the whole access file: real makemap loads it to
    the original's map (a value's trailing blanks aside: sendmail reads `NO   ` as NO);
    a line lint only warns of is carried over too (cf/README's Clt_Features:broken.sts
    was lost: 8.18 looks it up by the server, as cf/README means)."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    result = imported(tree(tmp_path, text))
    assert not result.notes.losses and not result.notes.errors, messages(result)
    files = recompiled(result).hosts["h1"]
    original = [line.rstrip(" \t") for line in makemap_dump(text, release)]
    assert makemap_dump(files[ACCESS], release) == original


#: the FEATUREs cf/README's examples need, in a Debian-like .mc
README_MC = PLAIN_MC.replace(
    "FEATURE(`access_db', , `skip')dnl\n",
    "FEATURE(`access_db', , `skip')dnl\n"
    "FEATURE(`delay_checks', `friend')dnl\n"
    "FEATURE(`blocklist_recipients')dnl\n"
    "FEATURE(`greet_pause', `5000')dnl\n"
    "FEATURE(`ratecontrol', `nodelay', `terminate')dnl\n"
    "FEATURE(`conncontrol', `nodelay', `terminate')dnl\n"
    "FEATURE(`queuegroup', `mqueue')dnl\n"
    "FEATURE(`compat_check')dnl\n",
)


@pytest.mark.realtools
def test_cf_readme_examples_import_and_plan_no_changes(tmp_path: Path) -> None:
    """Every access example of cf/README, with the FEATUREs it needs: the import loses
    nothing and the first plan --root after it has nothing to do."""
    root = tree(tmp_path / "root", (FIXTURES / "cf-readme-tls").read_text(encoding="utf-8"))
    write_tree(root, {MC: README_MC})
    spec = tmp_path / "cluster.yaml"
    rc, _, err = run_cli("import", root, "--host", "h1", "--fqdn", "h1.example.net", "--out", spec)
    assert rc == 0 and "lost: nothing" in err, err
    as_built(root / "etc/mail")
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--detailed-exitcode")
    assert rc == 0, out + err
