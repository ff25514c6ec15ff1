"""Adopting a host: `tlsc import` then `tlsc plan --root` is empty, for every shape.

The README promises that the first plan after `tlsc import ROOT --host NAME`
(ownership: tls) has nothing to do, and that a change in the spec then gives
exactly that change. Each shape here is a class seen in real configurations:
the TLS options set inline in the .mc (Mandriva's, Slackware's -tls, Lunar's)
before or after the MAILER lines, with or without FEATURE(access_db), with
no access file, an empty one or one without TLS lines, a starttls.m4
include with the host's own defines around it, and Debian's stock tree.
For each, one TLS setting is changed in the imported spec; `tlsc apply`
writes the plan and builds sendmail.cf with the real m4 and cf.m4, which
must hold the new value and otherwise the options the host's own files
built; the plan after that is empty again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import run_cli
from import_helpers import ACCESS, MC, PLAIN_MC, PLAIN_STARTTLS, STARTTLS, as_built, write_tree
from realtools import cf_options, scratch_dir

from compiler.importer.roundtrip import m4_build, point_includes

pytestmark = pytest.mark.realtools

CF_M4 = "/usr/share/sendmail/cf/m4/cf.m4"
HEAD = f"divert(-1)dnl\ndnl # a host's own .mc\ndivert(0)dnl\ninclude(`{CF_M4}')dnl\n"
TLS_INLINE = """\
define(`CERT_DIR', `/etc/mail/certs')dnl
define(`confCACERT_PATH', `CERT_DIR')dnl
define(`confCACERT', `CERT_DIR/ca.pem')dnl
define(`confSERVER_CERT', `CERT_DIR/host.pem')dnl
define(`confSERVER_KEY', `CERT_DIR/host.key')dnl
define(`confCLIENT_CERT', `CERT_DIR/host.pem')dnl
define(`confCLIENT_KEY', `CERT_DIR/host.key')dnl
"""
#: Lunar's lines: no dnl, so each leaves a blank line in the .cf
TLS_BARE = """\
define(`confCACERT_PATH',`/etc/mail/certs')
define(`confCACERT',`/etc/mail/certs/ca-bundle.crt')
define(`confSERVER_CERT',`/etc/mail/certs/host.pem')
define(`confSERVER_KEY',`/etc/mail/certs/host.pem')
"""
MAILERS = "MAILER_DEFINITIONS\nMAILER(`local')dnl\nMAILER(`smtp')dnl\n"
ACCESS_DB = "FEATURE(`access_db', , `skip')dnl\n"
OWN_ACCESS = "# the host's own\nConnect:127.0.0.1\tRELAY\nConnect:localhost\tRELAY\n"
AFTER_INCLUDE = "define(`confCIPHER_LIST', `HIGH:!aNULL')dnl\n"

#: name -> (files of the host, the tls: change, the options it must give)
SHAPES: dict[str, tuple[dict[str, str], dict[str, Any], dict[str, str | None]]] = {
    "inline-before-mailer-no-access": (
        {MC: HEAD + "OSTYPE(`linux')dnl\n" + ACCESS_DB + TLS_INLINE + MAILERS},
        {"server_cert": "/etc/mail/tls/new.pem", "client_key": None},
        {"ServerCertFile": "/etc/mail/tls/new.pem", "ClientKeyFile": None},
    ),
    "inline-after-mailer-access-without-tls": (
        {
            MC: HEAD + "OSTYPE(`linux')dnl\n" + ACCESS_DB + MAILERS + TLS_INLINE,
            ACCESS: OWN_ACCESS,
        },
        {"client_cert": None, "cipher_list": "HIGH"},
        {"ClientCertFile": None, "CipherList": "HIGH"},
    ),
    "inline-no-access-db-empty-access": (
        {MC: HEAD + "OSTYPE(`linux')dnl\n" + TLS_BARE + MAILERS, ACCESS: ""},
        {"server_key": "/etc/mail/tls/new.key"},
        {"ServerKeyFile": "/etc/mail/tls/new.key"},
    ),
    "include-with-own-define-after-it": (
        {
            MC: PLAIN_MC.replace("MAILER(`local')", AFTER_INCLUDE + "MAILER(`local')"),
            STARTTLS: PLAIN_STARTTLS,
        },
        {"cipher_list": None, "server_cert": "/etc/mail/tls/new.crt"},
        {"CipherList": None, "ServerCertFile": "/etc/mail/tls/new.crt"},
    ),
    "include-with-own-define-before-it": (
        {
            MC: PLAIN_MC.replace(
                "include(`/etc/mail/tls", AFTER_INCLUDE + "include(`/etc/mail/tls"
            ),
            STARTTLS: PLAIN_STARTTLS,
            ACCESS: OWN_ACCESS,
        },
        {"timeout": "5m"},
        {"Timeout.starttls": "5m"},
    ),
    "no-tls-no-access": (
        {MC: HEAD + "OSTYPE(`linux')dnl\n" + MAILERS},
        {
            "enabled": True,
            "server_cert": "/etc/mail/tls/h.crt",
            "server_key": "/etc/mail/tls/h.key",
            "ca_cert": "/etc/mail/tls/ca.crt",
        },
        {"ServerCertFile": "/etc/mail/tls/h.crt", "ServerKeyFile": "/etc/mail/tls/h.key"},
    ),
}


def _debian(vendor_include: bool) -> dict[str, str]:
    from debian_host import stock_etc_mail, why_not

    if why_not() is not None:
        pytest.skip(str(why_not()))
    with scratch_dir("debstock") as tmp:
        etc = stock_etc_mail(tmp)
        files = {
            f"/etc/mail/{p.relative_to(etc)}": p.read_text(encoding="latin-1")
            for p in sorted(etc.rglob("*"))
            if p.is_file() and not p.is_symlink() and p.suffix not in (".db", ".cf")
        }
    if vendor_include:
        include = "include(`/etc/mail/tls/starttls.m4')dnl\n"
        files[MC] = files[MC].replace("MAILER_DEFINITIONS\n", include + "MAILER_DEFINITIONS\n", 1)
    return files


DEBIAN: dict[str, tuple[bool, dict[str, Any], dict[str, str | None]]] = {
    "debian-stock": (
        False,
        {"enabled": True, "ca_cert": "/etc/mail/tls/sendmail-server.crt"},
        {"ServerCertFile": "/etc/mail/tls/sendmail-server.crt"},
    ),
    "debian-vendor-include": (
        True,
        {"server_cert": "/etc/mail/tls/new.crt", "dh_params": None},
        {"ServerCertFile": "/etc/mail/tls/new.crt", "DHParameters": None},
    ),
}


@pytest.fixture
def root() -> Iterator[Path]:
    with scratch_dir("adopt") as path:
        yield path


def _files(shape: str) -> tuple[dict[str, str], dict[str, Any], dict[str, str | None]]:
    if shape in DEBIAN:
        vendor, change, wanted = DEBIAN[shape]
        return _debian(vendor), change, wanted
    return SHAPES[shape]


def _options(root: Path) -> dict[str, list[str | None]]:
    """The O lines of the .cf m4 builds from the host's own files under `root`."""

    def mapper(path: str) -> str | None:
        return str(root / path.lstrip("/")) if path.startswith("/etc/") else None

    mc = (root / MC.lstrip("/")).read_text(encoding="latin-1")
    with scratch_dir("adoptcf") as work:
        build = m4_build(point_includes(mc, mapper), None, work)
    assert build.rc == 0 and not build.stderr.strip(), build.stderr
    return _flags(cf_options(build.cf))


def _flags(options: dict[str, list[str | None]]) -> dict[str, list[str | None]]:
    """DontBlameSendmail as sendmail reads it: flags, blanks and commas between them."""
    out = dict(options)
    if "DontBlameSendmail" in out:
        words = re.split(r"[\s,]+", ",".join(v or "" for v in out["DontBlameSendmail"]))
        out["DontBlameSendmail"] = [",".join(sorted({w for w in words if w}))]
    return out


def _plan(spec: Path, root: Path) -> tuple[int, str]:
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--detailed-exitcode")
    assert rc in (0, 2), out + err
    return rc, out


@pytest.mark.parametrize("shape", [*SHAPES, *DEBIAN])
def test_an_adopted_host_plans_empty_then_exactly_the_change(
    root: Path, tmp_path: Path, shape: str
) -> None:
    files, change, wanted = _files(shape)
    write_tree(root, files)
    before = {p: (root / p.lstrip("/")).read_bytes() for p in files}
    spec = tmp_path / "cluster.yaml"
    rc, _, err = run_cli("import", root, "--host", "h1", "--fqdn", "h1.example.net", "--out", spec)
    assert rc == 0, err
    assert "lost: nothing" in err and "ownership: tls" in spec.read_text()
    as_built(root / "etc/mail")
    rc, out = _plan(spec, root)
    assert rc == 0, out  # nothing to do: not an empty access file, not a second include
    assert "P111" not in out
    assert not (root / "etc/mail/access").exists() or ACCESS in files
    original = _options(root)

    data = yaml.safe_load(spec.read_text())
    data["defaults"]["tls"] = {
        **({} if data["defaults"]["tls"] == {"enabled": False} else data["defaults"]["tls"]),
        **change,
    }
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    rc, out = _plan(spec, root)
    assert rc == 2, out
    own = re.findall(r"^define\(`(confSERVER_CERT|confCACERT_PATH)'", files[MC], re.MULTILINE)
    for name in own:  # the host's own TLS lines are named, and said to be overridden
        assert f"P111 /etc/mail/sendmail.mc sets {name} itself" in out
    rc, out, err = run_cli(
        "apply",
        spec,
        "--root",
        root,
        "--host",
        "h1",
        "--yes",
        "--no-restart",
        "--no-verify",
        "--skip-preflight",  # the certificates are not here: the .cf is what counts
    )
    assert rc == 0, out + err
    # every byte of the host's .mc is still there; only tlsc's include came (or moved)
    mc = (root / MC.lstrip("/")).read_text(encoding="latin-1")
    include = re.compile(r"(dnl # BEGIN tlsc\n)?include\(`/etc/mail/tls/starttls.m4'\)dnl\n")
    assert include.sub("", mc.replace("dnl # END tlsc\n", "")) == include.sub("", files[MC])
    built = _flags(cf_options((root / "etc/mail/sendmail.cf").read_text(encoding="latin-1")))
    for option, value in wanted.items():
        assert built.get(option) == (None if value is None else [value]), option
    rest = {k: v for k, v in built.items() if k not in wanted}
    if "enabled" not in change:
        assert rest == {k: v for k, v in original.items() if k not in wanted}
    assert _options(root) == built  # apply's build is m4's of the files it left
    rc, out = _plan(spec, root)
    assert rc == 0, out
    if ACCESS not in files:
        assert not (root / "etc/mail/access").exists()
    else:
        assert (root / "etc/mail/access").read_bytes() == before[ACCESS]
