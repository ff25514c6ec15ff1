"""`tlsc lint --deep`: real m4 and makemap messages mapped to lines, and the .cf checked.

The .mc is tests/fixtures/base.mc; its include of Debian's starttls.m4 is
pointed at the stock Debian tree that debian_host.py makes, never at this
machine's /etc/mail. Each test runs with each release (tests/releases.py): the
.mc includes that release's cf.m4, which --deep builds with (a .mc may name any
cf tree), and makemap is the release's (first on PATH). Debian's OSTYPE file
includes /usr/share/sendmail/cf/debian/autoconf.m4 by that path, so the 8.18.1
build reads this machine's autoconf.m4 (version macros only) in its place.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lint_corpus import context, debian_etc_mail, needs_m4
from realtools import SendmailRelease, point_cf_m4, point_include, tool_path
from releases import release

from compiler.lint.access import parse_access
from compiler.lint.deep import deep_check
from compiler.lint.lexer import lex

HERE = Path(__file__).resolve().parent
BASE = HERE / "fixtures" / "base.mc"
ACCESS_DB = "FEATURE(`access_db', , `skip')dnl"
MAILERS = "MAILER_DEFINITIONS\nMAILER(`local')dnl\nMAILER(`smtp')dnl\n"

__all__ = ["release"]  # a fixture, imported for pytest
pytestmark = pytest.mark.usefixtures("release")


def starttls() -> str:
    """Debian's stock starttls.m4, as its scripts write it (in a scratch tree)."""
    return str(debian_etc_mail() / "tls" / "starttls.m4")


def include() -> str:
    """The base .mc's starttls include line."""
    return f"include(`{starttls()}')dnl"


@pytest.fixture
def base(release: SendmailRelease) -> str:
    """A correct Debian-style .mc that includes the release's cf.m4 and the stock
    starttls.m4."""
    text = point_include(BASE.read_text(encoding="utf-8"), starttls())
    text = point_cf_m4(text, release)
    assert include() in text.split("\n")
    assert f"include(`{release.cf_m4}')dnl" in text.split("\n")
    return text


def deep(text: str, tmp_path: Path) -> list[tuple[int, str, str]]:
    path = tmp_path / "sendmail.mc"
    path.write_text(text, encoding="utf-8")
    doc = lex(text, str(path), "mc")
    return [(doc.pos(f.offset)[0], f.code, f.message) for f in deep_check(doc, context())]


@needs_m4
@pytest.mark.realtools
def test_a_correct_mc_builds_clean(base: str, tmp_path: Path) -> None:
    assert deep(base, tmp_path) == []


@needs_m4
@pytest.mark.realtools
def test_sendmail_cf_errors_point_at_the_feature_line(base: str, tmp_path: Path) -> None:
    text = base.replace(ACCESS_DB + "\n", "").replace(MAILERS, MAILERS + ACCESS_DB + "\n")
    found = deep(text, tmp_path)
    line = text.split("\n").index(ACCESS_DB) + 1
    assert (line, "M4020") in [(n, c) for n, c, _ in found]
    assert any("FEATURE() should be before MAILER()" in m for _, _, m in found)


@needs_m4
@pytest.mark.realtools
def test_errors_inside_a_feature_file_map_to_the_mc_line(base: str, tmp_path: Path) -> None:
    text = base.replace(ACCESS_DB, "FEATURE(`ratecontrol', `nodelay', `terminate')dnl")
    found = deep(text, tmp_path)
    line = text.split("\n").index("FEATURE(`ratecontrol', `nodelay', `terminate')dnl") + 1
    assert any(n == line and "requires FEATURE(`access_db')" in m for n, _, m in found), found


@needs_m4
@pytest.mark.realtools
def test_m4s_own_error_is_reported(base: str, tmp_path: Path) -> None:
    missing = f"include(`{starttls()}x')dnl"
    text = base.replace(include(), missing)
    found = deep(text, tmp_path)
    line = text.split("\n").index(missing) + 1
    assert any(n == line and "cannot open" in m for n, _, m in found), found


@needs_m4
@pytest.mark.realtools
def test_a_value_m4_rewrote_is_caught_in_the_cf(base: str, tmp_path: Path) -> None:
    extra = "define(`confSERVER_CERT', /etc/lower/cert.pem)dnl"
    text = base.replace(include(), include() + "\n" + extra)
    found = deep(text, tmp_path)
    assert any(c == "M4021" and "/etc//cert.pem" in m for _, c, m in found), found


@needs_m4
@pytest.mark.realtools
@pytest.mark.parametrize(
    "value", ["CERT_DIR", "CERT_DIR/host.pem", "`CERT_DIR/host.pem'", "CERT_DIR`'/host.pem"]
)
def test_a_value_naming_a_macro_the_mc_defines_is_what_m4_makes_of_it(
    base: str, tmp_path: Path, value: str
) -> None:
    """cf/README's (and sendmail's own knecht.mc's) idiom: define(`CERT_DIR', ...) and
    then the TLS options in terms of it. The .cf holds the expanded path: no M4021."""
    extra = f"define(`CERT_DIR', `/etc/mail/certs')dnl\ndefine(`confCACERT_PATH', {value})dnl"
    text = base.replace(include(), include() + "\n" + extra)
    assert [c for _, c, _ in deep(text, tmp_path) if c == "M4021"] == []


@needs_m4
@pytest.mark.realtools
def test_an_option_that_never_reaches_the_cf(base: str, tmp_path: Path) -> None:
    extra = "ifdef(`NOT_SET', `define(`confCRL', `/etc/mail/tls/crl.pem')')dnl"
    text = base.replace(include(), include() + "\n" + extra)
    found = deep(text, tmp_path)
    assert [(c, "'O CRLFile='" in m) for _, c, m in found] == [("M4021", True)]


@pytest.mark.realtools
def test_makemap_complaints_map_to_lines(
    release: SendmailRelease, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("makemap") is None and not Path("/usr/sbin/makemap").exists():
        pytest.skip("needs makemap")
    monkeypatch.setenv("PATH", tool_path(release))
    assert Path(shutil.which("makemap") or "").resolve() == release.makemap.resolve()
    text = "Connect:10.1.2.3\tOK\n  Connect:x\tOK\nConnect:10.1.2.3\tREJECT\n"
    doc = parse_access(text, "access")
    found = [(doc.pos(f.offset)[0], f.code, f.message) for f in deep_check(doc, context())]
    assert [(n, c) for n, c, _ in found] == [(2, "A020"), (3, "A020")]
    assert "duplicate key" in found[1][2]


@needs_m4
def test_a_compiled_tree_builds_with_its_own_starttls_m4(tmp_path: Path) -> None:
    """`tlsc lint --deep build/HOST/...`: the .mc includes /etc/mail/tls/starttls.m4,
    and the build reads the tree's copy of it, never this machine's file (whose TLS
    options, or absence, would make M4021 report every one of the tree's)."""
    import subprocess
    import sys

    spec = tmp_path / "cluster.yaml"
    text = (Path(__file__).parent.parent / "examples/canit-cluster.yaml").read_text()
    spec.write_text(text.replace("ca_cert: /etc/mail/tls/ca.crt", "ca_cert: /etc/mail/tls/x.crt"))
    out = tmp_path / "build"
    run = [sys.executable, "-m", "compiler"]
    subprocess.run([*run, "compile", str(spec), "--out", str(out)], check=True, capture_output=True)
    files = sorted(str(p) for p in (out / "colo10").rglob("*") if p.is_file())
    done = subprocess.run(
        [*run, "lint", "--deep", *files], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "M4021" not in done.stdout, done.stdout
