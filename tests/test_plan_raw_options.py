"""P111 for raw `O` lines: a host's own sendmail.mc (ownership: tls) that sets a TLS
option in a LOCAL_CONFIG section, which m4 copies into sendmail.cf as it is, and
which tlsc's undefines cannot reach. Each warning is checked against the sendmail.cf
real m4 builds from the files apply leaves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import run_cli
from import_helpers import write_tree
from realtools import cf_options, m4_build, scratch_dir

MC_PATH = "/etc/mail/sendmail.mc"
HEAD = "divert(0)dnl\ninclude(`/usr/share/sendmail/cf/m4/cf.m4')dnl\nOSTYPE(`debian')dnl\n"
MAILERS = "MAILER(`local')dnl\nMAILER(`smtp')dnl\n"
RAW = "LOCAL_CONFIG\nO CipherList=HIGH:!aNULL\nO ServerCertFile=/etc/mail/tls/raw.crt\n"
CERTS = {
    "server_cert": "/etc/mail/tls/mx1.crt",
    "server_key": "/etc/mail/tls/mx1.key",
    "ca_cert": "/etc/mail/tls/ca.crt",
    "ca_cert_path": "/etc/mail/tls/certs",
}


def _spec(tmp_path: Path, tls: str) -> Path:
    spec = tmp_path / "cluster.yaml"
    spec.write_text(
        "version: 1\ncluster: test\ndefaults:\n  ownership: tls\n"
        f"  tls: {tls}\nhosts:\n  mx1: {{fqdn: mx1.example.net}}\n",
        encoding="utf-8",
    )
    return spec


def _plan_and_apply(spec: Path, root: Path) -> tuple[str, dict[str, list[str | None]]]:
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "mx1")
    assert rc == 0, out + err
    rc, out2, err = run_cli(
        "apply", spec, "--root", root, "--host", "mx1", "--yes",
        "--no-restart", "--no-verify", "--skip-preflight",
    )  # fmt: skip
    assert rc == 0, out2 + err
    cf = (root / "etc/mail/sendmail.cf").read_text(encoding="latin-1")
    return out, cf_options(cf)


def _p111(out: str) -> list[str]:
    return re.findall(r"P111 \S+ sets (\S+) itself(?: in an O line)? \(line (\d+)\)", out)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    write_tree(root, {MC_PATH: HEAD + RAW + MAILERS})
    return root


def test_a_raw_line_the_spec_leaves_unset_still_decides(tmp_path: Path, root: Path) -> None:
    tls = "{" + ", ".join(f"{k}: {v}" for k, v in CERTS.items()) + "}"
    out, options = _plan_and_apply(_spec(tmp_path, tls), root)
    assert _p111(out) == [("CipherList", "5"), ("ServerCertFile", "6")], out
    assert "tls.cipher_list is unset in the spec" in out
    assert "tls.server_cert sets it too" in out
    # what the warnings say is what m4 builds: the raw CipherList is the only one
    # there, and both ServerCertFile lines reach sendmail.cf
    assert options["CipherList"] == ["HIGH:!aNULL"]
    assert options["ServerCertFile"] == ["/etc/mail/tls/raw.crt", CERTS["server_cert"]]


def test_a_raw_line_the_spec_sets_is_named_without_the_unset_advice(
    tmp_path: Path, root: Path
) -> None:
    tls = "{" + ", ".join(f"{k}: {v}" for k, v in CERTS.items()) + ", cipher_list: HIGH}"
    out, options = _plan_and_apply(_spec(tmp_path, tls), root)
    assert _p111(out) == [("CipherList", "5"), ("ServerCertFile", "6")], out
    assert "unset in the spec" not in out
    assert options["CipherList"] == ["HIGH:!aNULL", "HIGH"]


@pytest.mark.parametrize("form", ["raw", "define"])
def test_the_hosts_own_lines_that_keep_starttls_on_stop_a_plan_that_turns_it_off(
    tmp_path: Path, root: Path, form: str
) -> None:
    """With ownership: tls the .mc stays the host's: its own lines setting the four
    options sendmail needs keep STARTTLS on (real m4's .cf has them), whatever tlsc
    writes, so a spec that says off cannot be met; the plan says so, at once."""
    option = {"server_cert": "ServerCertFile", "server_key": "ServerKeyFile"}
    option |= {"ca_cert": "CACertFile", "ca_cert_path": "CACertPath"}
    define = {"server_cert": "confSERVER_CERT", "server_key": "confSERVER_KEY"}
    define |= {"ca_cert": "confCACERT", "ca_cert_path": "confCACERT_PATH"}
    if form == "raw":
        own = "LOCAL_CONFIG\n" + "".join(f"O {option[k]}={v}\n" for k, v in CERTS.items())
        at = "5, 6, 7, 8"  # after the LOCAL_CONFIG line
    else:
        own = "".join(f"define(`{define[k]}', `{v}')dnl\n" for k, v in CERTS.items())
        at = "4, 5, 6, 7"
    write_tree(root, {MC_PATH: HEAD + own + MAILERS})
    spec = _spec(tmp_path, "{enabled: false}")
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "mx1")
    assert rc == 1 and out == "", out + err
    assert err == (
        f"tlsc plan: host mx1: STARTTLS is off in the spec, but {MC_PATH} sets ServerCertFile,"
        f" ServerKeyFile, CACertFile, CACertPath itself (lines {at}), so sendmail would still"
        " offer STARTTLS; take those lines out of the .mc (with ownership: tls it stays the"
        " host's), or set tls.enabled: true\n"
    )
    with scratch_dir("stillon") as work:  # what the refusal says: m4 builds all four
        rc, cf, _ = m4_build((root / MC_PATH.lstrip("/")).read_text(), None, work)
    assert rc == 0
    for key, name in option.items():
        assert cf_options(cf)[name] == [CERTS[key]]
    # three of the four: sendmail offers no STARTTLS, as the spec says; planned
    lines = own.splitlines(keepends=True)
    write_tree(root, {MC_PATH: HEAD + "".join(lines[:-1]) + MAILERS})
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "mx1")
    assert rc == 0 and "P111" not in out, out + err
