"""ownership: tls owns the TLS rules of the host's access file that an import reads
into the spec: a rule the spec no longer has (deleted, or `may`) is taken out of the
file, as a downgrade; lines tlsc cannot model, and every other line, stay the host's.
Checked with real makemap on the access.db apply builds."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from import_helpers import ACCESS, MC, as_built, write_tree
from realtools import scratch_dir

pytestmark = pytest.mark.realtools

HOST_MC = """\
include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
OSTYPE(`debian')dnl
FEATURE(`access_db', , `skip')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
"""
HOST_ACCESS = """\
Connect:127.0.0.1\tRELAY
TLS_Srv:bank.example\tVERIFY
TLS_Rcpt:partner.example\tVERIFY
Try_TLS:broken.example\tNO
TLS_Srv:odd.example\tVERIFY:bits
"""


def _dump(db: Path) -> dict[str, str]:
    out = subprocess.run(
        ["makemap", "-u", "hash", str(db)], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("\t", 1) for line in out.splitlines())


@pytest.fixture
def root() -> Iterator[Path]:
    with scratch_dir("owned") as path:  # makemap: not below a world-writable /tmp
        yield path


@pytest.mark.parametrize("how", ["deleted", "may"])
def test_a_rule_the_spec_no_longer_has_leaves_the_access_file(
    tmp_path: Path, root: Path, how: str
) -> None:
    write_tree(root, {MC: HOST_MC, ACCESS: HOST_ACCESS})
    as_built(root / "etc/mail")
    spec = tmp_path / "cluster.yaml"
    rc, _, err = run_cli("import", root, "--host", "h1", "--fqdn", "h1.example.net", "--out", spec)
    assert rc == 0, err
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--detailed-exitcode")
    assert rc == 0, out + err  # adopted: nothing to do

    data = yaml.safe_load(spec.read_text())
    assert data["domains"]["bank.example"] == {"outbound": "verify"}
    if how == "deleted":
        del data["domains"]["bank.example"]
        del data["recipients"]["partner.example"]
    else:
        data["domains"]["bank.example"] = {"outbound": "may"}
        del data["recipients"]["partner.example"]
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--detailed-exitcode")
    assert rc == 2, out + err
    assert "- TLS_Srv:bank.example" in out and "- TLS_Rcpt:partner.example" in out, out
    assert "2 changes weaken TLS" in out, out
    rc, out, err = run_cli(
        "apply", spec, "--root", root, "--host", "h1", "--yes", "--allow-downgrade",
        "--no-restart", "--no-verify", "--skip-preflight",
    )  # fmt: skip
    assert rc == 0, out + err
    text = (root / "etc/mail/access").read_text()
    assert "bank.example" not in text and "partner.example" not in text
    # the host's other lines, and the one tlsc cannot model, are where they were
    for kept in ("Connect:127.0.0.1\tRELAY\n", "Try_TLS:broken.example\tNO\n"):
        assert kept in text
    assert "TLS_Srv:odd.example\tVERIFY:bits\n" in text
    entries = _dump(root / "etc/mail/access.db")
    assert "tls_srv:bank.example" not in entries and "tls_rcpt:partner.example" not in entries
    assert entries["try_tls:broken.example"] == "NO"
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--detailed-exitcode")
    assert rc == 0, out + err


def test_a_host_tlsc_already_adopted_imports_again_to_the_same_rules(
    tmp_path: Path, root: Path
) -> None:
    """Once apply wrote its block, the host's own TLS lines outside it are still the
    spec's rules (ownership: tls): a second import reads both, and plans empty."""
    write_tree(root, {MC: HOST_MC, ACCESS: HOST_ACCESS})
    as_built(root / "etc/mail")
    spec = tmp_path / "cluster.yaml"
    rc, _, err = run_cli("import", root, "--host", "h1", "--fqdn", "h1.example.net", "--out", spec)
    assert rc == 0, err
    data = yaml.safe_load(spec.read_text())
    data["domains"]["new.example"] = {"outbound": "encrypt"}  # apply writes a block for it
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    rc, out, err = run_cli(
        "apply", spec, "--root", root, "--host", "h1", "--yes",
        "--no-restart", "--no-verify", "--skip-preflight",
    )  # fmt: skip
    assert rc == 0, out + err
    assert "# BEGIN tlsc" in (root / "etc/mail/access").read_text()
    again = tmp_path / "again" / "cluster.yaml"  # the same file name: the same header
    again.parent.mkdir()
    rc, _, err = run_cli("import", root, "--host", "h1", "--fqdn", "h1.example.net", "--out", again)
    assert rc == 0 and "lost: nothing" in err, err
    rules = yaml.safe_load(again.read_text())
    assert rules["domains"] == data["domains"] and rules["recipients"] == data["recipients"]
    rc, out, err = run_cli("plan", again, "--root", root, "--host", "h1", "--detailed-exitcode")
    assert rc == 0, out + err
