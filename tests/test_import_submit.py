"""submit.mc that includes starttls.m4 too (Debian's update_tls tells the admin to).

m4 copies the TLS settings tlsc writes into submit.cf as well, but only when
submit.cf is next built: tlsc apply builds sendmail.cf alone, and Debian's
Makefile rebuilds submit.cf only when submit.mc changes. The import (I144), the
plan and apply (P113, when the plan changes starttls.m4) say so at the include
line; the real m4 shows the change does reach submit.cf at its next build.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from import_helpers import MC, PLAIN_MC, PLAIN_STARTTLS, STARTTLS, write_tree
from realtools import cf_options, scratch_dir

from compiler.importer.host import import_host
from compiler.importer.roundtrip import m4_build, point_includes

pytestmark = pytest.mark.realtools

CORPUS = Path(__file__).parent / "fixtures" / "import" / "corpus"
SUBMIT = "/etc/mail/submit.mc"
#: Debian 12's submit.mc as the package installs it (57 lines, no include)
STOCK_SUBMIT = (CORPUS / "debian12-stock" / "submit.mc").read_text()
INCLUDE = "include(`/etc/mail/tls/starttls.m4')dnl"

#: what is added to the stock submit.mc -> the (line, col) of each include m4 runs
FORMS: list[tuple[str, list[tuple[int, int]]]] = [
    (INCLUDE + "\n", [(58, 1)]),
    ("s" + INCLUDE + "\n", [(58, 1)]),
    ("include(`tls/starttls.m4')dnl\n", [(58, 1)]),  # m4 runs in /etc/mail
    ("include(`/etc/mail/./tls/starttls.m4')dnl\n", [(58, 1)]),
    ("  " + INCLUDE + "\n", [(58, 3)]),
    ("ifdef(`_X_', `', `" + INCLUDE + "')dnl\n", [(58, 19)]),
    ("dnl #\n" + INCLUDE + "\n" + INCLUDE + "\n", [(59, 1), (60, 1)]),
    ("dnl " + INCLUDE + "\n", []),  # a comment
    ("include(`/etc/mail/m4/local.m4')dnl\n", []),  # another file
    ("include(`/etc/mail/starttls.m4')dnl\n", []),  # not the file tlsc writes
]


@pytest.fixture
def root() -> Iterator[Path]:
    with scratch_dir("submit") as path:
        yield path


@pytest.mark.parametrize("mc", [PLAIN_MC, PLAIN_MC.replace(INCLUDE + "\n", "")])
@pytest.mark.parametrize(("added", "at"), FORMS)
def test_an_include_of_starttls_in_submit_mc_is_named_at_its_line(
    tmp_path: Path, mc: str, added: str, at: list[tuple[int, int]]
) -> None:
    write_tree(tmp_path, {MC: mc, STARTTLS: PLAIN_STARTTLS, SUBMIT: STOCK_SUBMIT + added})
    (tmp_path / "etc/mail/m4").mkdir()
    (tmp_path / "etc/mail/m4/local.m4").write_text("")
    for ownership in ("tls", "file"):
        result = import_host(tmp_path, "h1", "h1.example.net", ownership=ownership)
        assert result.ok, result.notes.errors + result.notes.losses
        found = [p for p in result.notes.warnings if p.code == "I144"]
        assert [(p.line, p.col) for p in found] == at
        for p in found:  # one sentence, on the submit.mc
            assert p.path == str(tmp_path / SUBMIT.lstrip("/"))
            assert ". " not in p.message and "make -C /etc/mail submit.cf" in p.message


def _apply(spec: Path, root: Path) -> tuple[int, str, str]:
    return run_cli(
        "apply", spec, "--root", root, "--host", "h1", "--yes", "--no-restart", "--no-verify",
        "--skip-preflight",  # the certificates are not here: the files are what count
    )  # fmt: skip


def test_a_starttls_change_names_submit_mc_in_import_plan_and_apply(
    root: Path, tmp_path: Path
) -> None:
    shutil.copytree(CORPUS / "debian12-submit-include", root / "etc" / "mail")
    submit = root / SUBMIT.lstrip("/")
    before = submit.read_bytes()
    spec = tmp_path / "cluster.yaml"
    rc, _out, err = run_cli("import", root, "--host", "h1", "--fqdn", "h1.example.net",
                            "--out", spec)  # fmt: skip
    assert rc == 0 and "lost: nothing" in err, err
    [warning] = [x for x in err.splitlines() if "I144" in x]
    assert warning.startswith(f"{submit}:58:1: warning: I144 /etc/mail/submit.mc includes")
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--detailed-exitcode")
    assert rc == 0 and "P113" not in out, out + err  # starttls.m4 stays: nothing to say

    data = yaml.safe_load(spec.read_text())
    data["defaults"]["tls"]["server_cert"] = "/etc/mail/tls/new.crt"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--detailed-exitcode")
    assert rc == 2, out + err
    said = "    /etc/mail/submit.mc:58: warning: P113 /etc/mail/submit.mc includes"
    assert said in out and f"+ line 58: {INCLUDE}" in out, out
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--format", "json")
    assert '"code": "P113"' in out and '"line": 58' in out
    rc, out, err = _apply(spec, root)
    assert rc == 0, out + err
    assert said in out, out  # apply shows the plan it writes
    assert submit.read_bytes() == before and not (root / "etc/mail/submit.cf").exists()

    # the warning is true: submit.cf's next build (Debian's m4 submit.mc) takes the change
    def mapper(path: str) -> str | None:
        return str(root / path.lstrip("/")) if path.startswith("/etc/") else None

    with scratch_dir("submitcf") as work:
        build = m4_build(point_includes(before.decode(), mapper), None, work)
    assert build.rc == 0 and not build.stderr.strip(), build.stderr
    assert cf_options(build.cf)["ServerCertFile"] == ["/etc/mail/tls/new.crt"]
