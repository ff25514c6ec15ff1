"""Values m4 builds from helper macros. cf/README's `define(`CERT_DIR', `MAIL_SETTINGS_DIR/certs')`:
MAIL_SETTINGS_DIR ends in `/`, so the TLS paths m4 builds hold `//`
(/etc/mail//certs/cert.pem), the same file to the kernel and to sendmail. The
import reads them with one slash, and the round trip (the real m4 build of the
host against the spec's) counts them the same."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from import_helpers import MC, as_built, write_tree

from compiler.importer.host import import_host
from compiler.sendmail import same_option

pytestmark = pytest.mark.realtools

MC_TEXT = """\
include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
OSTYPE(`debian')dnl
define(`CERT_DIR', `MAIL_SETTINGS_DIR/certs')dnl
define(`confCACERT_PATH', `CERT_DIR')dnl
define(`confCACERT', `CERT_DIR/CAcert.pem')dnl
define(`confSERVER_CERT', `CERT_DIR/mycert.pem')dnl
define(`confSERVER_KEY', `CERT_DIR/mykey.pem')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
"""


@pytest.mark.parametrize("ownership", ["tls", "file"])
def test_a_double_slash_path_is_imported_with_one(tmp_path: Path, ownership: str) -> None:
    root = tmp_path / "root"
    write_tree(root, {MC: MC_TEXT})
    result = import_host(root, "h1", "h1.example.net", ownership=ownership)
    assert result.notes.errors == [] and result.notes.losses == [], result.notes
    assert result.text is not None
    tls = (
        yaml.safe_load(result.text)["hosts"]["h1"].get("tls")
        or yaml.safe_load(result.text)["defaults"]["tls"]
    )
    assert tls["ca_cert_path"] == "/etc/mail/certs"
    assert tls["server_cert"] == "/etc/mail/certs/mycert.pem"
    notes = [m for _, m in result.notes.info]
    assert "confSERVER_CERT `/etc/mail//certs/mycert.pem' read as" in " ".join(notes)
    if ownership == "tls":  # adopted: the first plan has no file to change
        spec = tmp_path / "cluster.yaml"
        spec.write_text(result.text)
        as_built(root / "etc/mail")
        rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1")
        assert rc == 0 and "Plan: no changes on 1 host." in out, out + err


def test_a_double_slash_elsewhere_is_still_a_loss(tmp_path: Path) -> None:
    """A `//` the path check refuses for another reason too stays a loss (I136)."""
    root = tmp_path / "root"
    write_tree(root, {MC: MC_TEXT.replace("mycert.pem", "../mycert.pem")})
    result = import_host(root, "h1", "h1.example.net", ownership="file")
    assert "I136" in [p.code for p in result.notes.losses], result.notes


def test_same_option() -> None:
    assert same_option("ServerCertFile", "/etc/mail//x.pem", "/etc/mail/x.pem")
    assert same_option("CACertPath", "//etc///mail", "/etc/mail")
    assert not same_option("ServerCertFile", "/etc/mail/x.pem", "/etc/mail/y.pem")
    assert not same_option("CipherList", "HIGH//x", "HIGH/x")  # no path
    assert not same_option("ServerCertFile", None, "/x")


def test_an_access_db_map_named_with_a_helper_macro_is_expanded(tmp_path: Path) -> None:
    """`FEATURE(`access_db', `hash -o -T<TMPF> CF/access')` with CF defined once: the
    map m4 writes is /etc/mail/access; the spec says so (and the round trip agrees)."""
    mc = MC_TEXT.replace(
        "define(`CERT_DIR'",
        "define(`CF', `/etc/mail')dnl\nFEATURE(`access_db', `hash -o -T<TMPF> CF/access')dnl\n"
        "define(`CERT_DIR'",
    )
    root = tmp_path / "root"
    write_tree(root, {MC: mc, "/etc/mail/access": "Connect:127.0.0.1\tRELAY\n"})
    result = import_host(root, "h1", "h1.example.net", ownership="file")
    assert result.notes.errors == [] and result.notes.losses == [], result.notes
    assert result.text is not None
    data = yaml.safe_load(result.text)
    features = (data["hosts"]["h1"].get("mc") or data["defaults"]["mc"])["features"]
    assert {"name": "access_db", "args": ["hash -o -T<TMPF> /etc/mail/access"]} in features
