"""submit.mc that includes starttls.m4 too (Debian's update_tls tells the admin to).

m4 copies the TLS settings tlsc writes into submit.cf as well, but only when
submit.cf is built, and Debian's Makefile rebuilds it only when submit.mc
changes; so tlsc apply rebuilds it whenever it changes a file submit.mc
includes. The import notes each such include at its line, and warns (I144)
only where m4 alone cannot build submit.cf (no cf.m4 it finds); the plan shows
the rebuild (rebuild_submit_cf) and warns (P113) only there. The apply side,
against real sendmail daemons too, is tests/test_apply_submit.py.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from import_helpers import MC, PLAIN_MC, PLAIN_STARTTLS, STARTTLS, as_built, write_tree
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
    ("include(`/etc/mail/m4/tls.m4')dnl\n", [(58, 1)]),  # through a file that includes it
    ("include(`m4/chain.m4')dnl\n", [(58, 1)]),  # and through two
    ("dnl " + INCLUDE + "\n", []),  # a comment
    ("include(`/etc/mail/m4/local.m4')dnl\n", []),  # another file
    ("include(`/etc/mail/starttls.m4')dnl\n", []),  # not the file tlsc writes
]
#: the files of the chains above (m4 runs in /etc/mail, whoever includes a relative name)
CHAIN = {
    "/etc/mail/m4/local.m4": "",
    "/etc/mail/m4/tls.m4": "dnl the site's TLS\n" + INCLUDE + "\n",
    "/etc/mail/m4/chain.m4": "include(`/etc/mail/m4/tls2.m4')dnl\n",
    "/etc/mail/m4/tls2.m4": "sinclude(`tls/starttls.m4')dnl\n",
}


@pytest.fixture
def root() -> Iterator[Path]:
    with scratch_dir("submit") as path:
        yield path


def _tree(root: Path, mc: str, submit: str) -> None:
    write_tree(root, {MC: mc, STARTTLS: PLAIN_STARTTLS, SUBMIT: submit, **CHAIN})


@pytest.mark.parametrize("mc", [PLAIN_MC, PLAIN_MC.replace(INCLUDE + "\n", "")])
@pytest.mark.parametrize(("added", "at"), FORMS)
def test_an_include_of_starttls_in_submit_mc_is_named_at_its_line(
    tmp_path: Path, mc: str, added: str, at: list[tuple[int, int]]
) -> None:
    _tree(tmp_path, mc, STOCK_SUBMIT + added)
    for ownership in ("tls", "file"):
        result = import_host(tmp_path, "h1", "h1.example.net", ownership=ownership)
        assert result.ok, result.notes.errors + result.notes.losses
        assert not [p for p in result.notes.warnings if p.code == "I144"]
        found = [(w, m) for w, m in result.notes.info if "submit.cf" in m]
        assert [(w.line, w.col) for w, _m in found] == at
        for w, message in found:  # on the submit.mc: apply rebuilds submit.cf
            assert w.path == str(tmp_path / SUBMIT.lstrip("/"))
            assert message == (
                "/etc/mail/submit.mc includes /etc/mail/tls/starttls.m4: tlsc apply rebuilds"
                " /etc/mail/submit.cf whenever it changes that file"
            )


CF_M4 = "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl"
#: a submit.mc m4 alone cannot build: (the cf.m4 include instead, where I144 points)
UNBUILDABLE = [
    ("include(`../m4/cf.m4')dnl", "/etc/mail/submit.mc:35:1: m4, run in /etc/mail, finds no"),
    ("include(`/nonexistent/cf/m4/cf.m4')dnl", "/etc/mail/submit.mc:35:1: m4, run in"),
    ("dnl no cf.m4", "/etc/mail/submit.mc:58:1: /etc/mail/submit.mc includes no cf.m4"),
]


@pytest.mark.parametrize(("cf_m4", "said"), UNBUILDABLE)
@pytest.mark.parametrize("added", [INCLUDE, "include(`/etc/mail/m4/tls.m4')dnl"])
def test_a_submit_mc_m4_cannot_build_gets_i144_at_its_line(
    tmp_path: Path, cf_m4: str, said: str, added: str
) -> None:
    assert CF_M4 in STOCK_SUBMIT.split("\n")[34]
    _tree(tmp_path, PLAIN_MC, STOCK_SUBMIT.replace(CF_M4, cf_m4) + added + "\n")
    result = import_host(tmp_path, "h1", "h1.example.net")
    assert result.ok, result.notes.errors + result.notes.losses
    [found] = [p for p in result.notes.warnings if p.code == "I144"]
    assert (found.line, found.col) == (58, 1)
    assert found.message.startswith(said) and ". " not in found.message
    assert "so tlsc cannot rebuild /etc/mail/submit.cf when it changes" in found.message
    assert not [m for _w, m in result.notes.info if "submit.cf" in m]


def _apply(spec: Path, root: Path) -> tuple[int, str, str]:
    return run_cli(
        "apply", spec, "--root", root, "--host", "h1", "--yes", "--no-restart", "--no-verify",
        "--skip-preflight",  # the certificates are not here: the files are what count
    )  # fmt: skip


def test_a_starttls_change_rebuilds_submit_cf_in_plan_and_apply(root: Path, tmp_path: Path) -> None:
    shutil.copytree(CORPUS / "debian12-submit-include", root / "etc" / "mail")
    submit = root / SUBMIT.lstrip("/")
    before = submit.read_bytes()
    spec = tmp_path / "cluster.yaml"
    rc, _out, err = run_cli("import", root, "--host", "h1", "--fqdn", "h1.example.net",
                            "--out", spec)  # fmt: skip
    assert rc == 0 and "lost: nothing" in err, err
    assert "I144" not in err and "P113" not in err, err
    as_built(root / "etc" / "mail")
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--detailed-exitcode")
    assert rc == 0 and "submit.cf" not in out, out + err  # starttls.m4 stays: nothing to say

    data = yaml.safe_load(spec.read_text())
    data["defaults"]["tls"]["server_cert"] = "/etc/mail/tls/new.crt"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--detailed-exitcode")
    assert rc == 2, out + err
    said = "    rebuild /etc/mail/submit.cf from /etc/mail/submit.mc (m4)\n"
    rebuild_cf = "    rebuild /etc/mail/sendmail.cf from /etc/mail/sendmail.mc (m4)\n"
    assert rebuild_cf + said in out and "P113" not in out, out
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--format", "json")
    [host] = json.loads(out)["hosts"]
    names = [a["action"] for a in host["actions"]]
    assert names[names.index("rebuild_sendmail_cf") + 1] == "rebuild_submit_cf", names
    [action] = [a for a in host["actions"] if a["action"] == "rebuild_submit_cf"]
    assert action == {
        "action": "rebuild_submit_cf",
        "description": "rebuild /etc/mail/submit.cf from /etc/mail/submit.mc (m4)",
        "because": ["/etc/mail/tls/starttls.m4"],
        "command": None,
    }
    assert not [w for w in host["warnings"] if w["code"] == "P113"]
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--format", "markdown")
    assert "rebuild submit.cf" in out and "- rebuild /etc/mail/submit.cf from" in out, out
    rc, out, err = _apply(spec, root)
    assert rc == 0, out + err
    assert said in out and "build-submit" in out + err, out + err  # the plan it carries out
    assert "rebuilt sendmail.cf and submit.cf," in out, out
    assert submit.read_bytes() == before

    # submit.cf is what Debian's m4 of the submit.mc gives, with the new setting
    def mapper(path: str) -> str | None:
        return str(root / path.lstrip("/")) if path.startswith("/etc/") else None

    with scratch_dir("submitcf") as work:
        build = m4_build(point_includes(before.decode(), mapper), None, work)
    assert build.rc == 0 and not build.stderr.strip(), build.stderr
    assert cf_options(build.cf)["ServerCertFile"] == ["/etc/mail/tls/new.crt"]
    assert (root / "etc/mail/submit.cf").read_text() == build.cf
