"""tlsc apply's pre-flight: tlsc doctor's checks of the TLS files the spec names, before
anything is written (a key that does not match its certificate used to cost a write, a
restart, a failed verify, a rollback and a second restart).

Against a scratch --root holding real PEM files from the throw-away CA; --no-verify
(no daemon)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from apply_helpers import apply_json, scratch_root
from conftest import run_cli
from realtools import SYSTEM_SENDMAIL, SendmailRelease, sendmail_818
from throwaway_ca import ThrowawayCA, dh_params_pem

pytestmark = pytest.mark.realtools

SPEC = """\
version: 1
cluster: preflight
defaults:
  commands: {{restart: "echo restart >> restarts.log"}}
{tls}hosts:
  h1: {{fqdn: h1.example.net, address: 127.0.0.1}}
domains:
  secure.example.com: {{outbound: encrypt}}
"""
TLS_DIR = "etc/mail/tls"


@pytest.fixture
def root() -> Iterator[Path]:
    with scratch_root("apply-preflight") as path:
        yield path


def spec(root: Path, tls: str = "") -> Path:
    path = root.parent / f"{root.name}-spec.yaml"
    path.write_text(SPEC.format(tls=tls), encoding="utf-8")
    return path


def install_tls(root: Path, *, matching: bool = True, ca: bool = True) -> Path:
    """Debian's TLS files (the spec's defaults) under `root`; the key of another
    certificate when not `matching`. Returns the key's path."""
    d = root / TLS_DIR
    d.mkdir(parents=True, mode=0o755)
    (root / "etc/ssl/certs").mkdir(parents=True)
    authority = ThrowawayCA()
    issued = authority.issue("h1.example.net")
    key = d / "sendmail-common.key"
    issued.write(d / "sendmail-server.crt", key, 0o600)
    (d / "sendmail-client.crt").write_bytes(issued.cert_pem)
    if not matching:
        other = authority.issue("other.example.net")
        key.write_bytes(other.key_pem)
    if ca:
        (d / "ca.crt").write_bytes(authority.cert_pem)
    (d / "sendmail-common.prm").write_bytes(dh_params_pem())
    return key


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under the root (dot files too), with its mode."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mode)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def steps(report: dict[str, object]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in report["steps"]}  # type: ignore[attr-defined]


def test_mismatched_key_is_refused_before_anything_is_written(root: Path) -> None:
    key = install_tls(root, matching=False)
    before = tree(root)
    rc, report, _ = apply_json(spec(root), root, "--yes", "--no-verify", preflight=True)
    assert rc == 1 and report["result"] == "refused"
    message = report["message"]
    assert message.startswith(f"pre-flight: {key}: D011 the server key does not belong to")
    assert "nothing was changed" in message and "--skip-preflight" in message
    assert f"tlsc doctor {root.parent / (root.name + '-spec.yaml')} --host h1 --root" in message
    assert [f["code"] for f in report["preflight"] if f["severity"] == "error"] == ["D011"]
    assert steps(report)["preflight"] == "failed"
    assert "backup" not in steps(report) and "write" not in steps(report)
    assert report["backup"] is None
    # no file written, no backup, no journal; only apply's own (empty) lock file, as
    # with every refusal after the lock step
    after = tree(root)
    assert after.pop("run/tlsc-apply.lock")[0] == b""
    assert after == before
    assert not (root / "var/backups").exists()

    rc, report, _ = apply_json(
        spec(root), root, "--yes", "--no-restart", "--no-verify", "--skip-preflight"
    )  # apply_json's default, spelt out
    assert rc == 0 and report["result"] == "applied", report["message"]
    assert steps(report)["preflight"] == "skipped"
    assert (root / "etc/mail/sendmail.cf").is_file()


def test_matching_files_pass(root: Path) -> None:
    install_tls(root)
    rc, report, _ = apply_json(
        spec(root), root, "--yes", "--no-restart", "--no-verify", preflight=True
    )
    assert rc == 0 and report["result"] == "applied", report["message"]
    assert steps(report)["preflight"] == "ok"
    assert [f for f in report["preflight"] if f["severity"] == "error"] == []


def test_each_error_is_named(root: Path) -> None:
    key = install_tls(root, matching=False, ca=False)
    key.chmod(0o644)
    rc, report, _ = apply_json(spec(root), root, "--yes", "--no-verify", preflight=True)
    assert rc == 1
    errors = sorted(f["code"] for f in report["preflight"] if f["severity"] == "error")
    assert errors == ["D001", "D005", "D011"]
    for code in errors:
        assert f": {code} " in report["message"]
    assert "fix them" in report["message"]


@pytest.mark.parametrize("matching", [True, False])
def test_doctor_preflight_is_what_apply_checks(root: Path, matching: bool) -> None:
    """`tlsc doctor --preflight` (what Ansible's check mode asks) gives the findings of
    apply's pre-flight, no more: not the missing sendmail.cf full doctor
    reports (D020), which apply builds; exit 1 exactly when apply refuses."""
    install_tls(root, matching=matching)
    path = spec(root)
    rc, out, err = run_cli(
        "doctor", path, "--root", root, "--host", "h1", "--preflight", "--format", "json"
    )
    assert rc == (0 if matching else 1), err
    found = json.loads(out)
    full_rc, full, _ = run_cli("doctor", path, "--root", root, "--host", "h1", "--format", "json")
    assert full_rc == 1  # no sendmail.cf yet
    assert "D020" in {f["code"] for f in json.loads(full)}
    assert not {"D020", "D021", "D022", "D023"} & {f["code"] for f in found}
    applied, report, _ = apply_json(path, root, "--yes", "--no-verify", preflight=True)
    assert applied == (0 if matching else 1), report["message"]
    assert found == report["preflight"]
    assert [f["code"] for f in found if f["severity"] == "error"] == ([] if matching else ["D011"])


def test_text_output_lists_the_findings_with_their_fixes(root: Path) -> None:
    install_tls(root, matching=False)
    rc, _out, err = run_cli("apply", spec(root), "--root", root, "--host", "h1", "--yes")
    assert rc == 1
    assert ": error: D011 the server key does not belong" in err
    assert "  fix: install the key the certificate was issued for" in err
    assert "--skip-preflight" in err.rstrip().splitlines()[-1]
    assert "Traceback" not in err


def test_no_preflight_when_starttls_is_off(root: Path) -> None:
    install_tls(root, matching=False)
    rc, report, _ = apply_json(
        spec(root, "  tls: {enabled: false}\n"),
        root,
        "--yes",
        "--no-restart",
        "--no-verify",
        preflight=True,
    )
    assert rc == 0, report["message"]
    assert steps(report)["preflight"] == "skipped"
    assert report["preflight"] == []


def test_expired_certificate_is_refused(root: Path) -> None:
    install_tls(root)
    d = root / TLS_DIR
    expired = ThrowawayCA().issue("h1.example.net", expired_days_ago=2)
    expired.write(d / "sendmail-server.crt", d / "sendmail-common.key")
    rc, report, _ = apply_json(spec(root), root, "--yes", "--no-verify", preflight=True)
    assert rc == 1
    assert [f["code"] for f in report["preflight"] if f["severity"] == "error"] == ["D013"]


# -- the host's sendmail against the release the spec names (D034, D035) ------------------


def with_binary(root: Path, release: SendmailRelease) -> None:
    """The host tree's /usr/sbin/sendmail: a link to `release`'s real binary."""
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/sendmail").symlink_to(release.sendmail)


@pytest.mark.parametrize(
    ("which", "target", "dane", "codes"),
    [
        ("8.17", "8.17", "false", []),
        ("8.17", "8.18", "false", ["D034"]),
        ("8.18", "8.18.1", "true", []),
        ("8.18", "8.17", "false", []),  # newer than the family named: a warning, below
        ("8.18", "8.17.1.9", "false", ["D034"]),  # an exact release is held to
        ("8.17", "8.18", "true", ["D034", "D035"]),
    ],
)
def test_the_release_the_spec_names_is_the_hosts(
    root: Path, which: str, target: str, dane: str, codes: list[str]
) -> None:
    release = SYSTEM_SENDMAIL if which == "8.17" else sendmail_818()
    install_tls(root)
    with_binary(root, release)
    tls = f"  sendmail: '{target}'\n  tls: {{dane: {dane}}}\n"
    before = tree(root)
    rc, report, _ = apply_json(
        spec(root, tls), root, "--yes", "--no-restart", "--no-verify", preflight=True
    )
    errors = [f for f in report["preflight"] if f["severity"] == "error"]
    assert [f["code"] for f in errors] == codes, report["message"]
    if not codes:
        assert rc == 0 and report["result"] == "applied", report["message"]
        warned = [f for f in report["preflight"] if f["code"] == "D034"]
        newer = which == "8.18" and target == "8.17"
        assert [f["severity"] for f in warned] == (["warning"] if newer else [])
        if newer:
            assert warned[0]["message"].endswith(
                "; tlsc checks it by 8.17's facts, so what 8.18 adds stays unused"
            )
        return
    assert rc == 1 and report["result"] == "refused"
    binary = str(root / "usr/sbin/sendmail")
    assert errors[0]["message"] == (
        f"{binary} is sendmail {release.version}, but the spec says host h1 runs sendmail: {target}"
    )
    if "D035" in codes:
        assert errors[1]["message"] == (
            f"tls.dane is on for host h1, but {binary} was built without DANE (its"
            " 'Compiled with:' list lacks it)"
        )
    after = tree(root)
    after.pop("run/tlsc-apply.lock")
    assert after == before
