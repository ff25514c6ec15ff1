"""compiler/plan/certificates.py: certificate facts in the plan, P005, and no secrets."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from plan_helpers import SPEC, compile_to, host, write
from throwaway_ca import Issued, ThrowawayCA

from compiler.plan.certificates import certificate_warnings, read_certificate
from compiler.plan.formats import json as json_format
from compiler.plan.formats import markdown, text
from compiler.plan.make import PlanRequest, make_plan
from compiler.plan.model import CertificateFacts, Plan
from compiler.plan.saved import saved_document

TLS_DIR = "etc/mail/tls"
SERVER = "/etc/mail/tls/sendmail-server.crt"
CLIENT = "/etc/mail/tls/sendmail-client.crt"
CA = "/etc/mail/tls/ca.crt"
FACT_KEYS = {
    "path",
    "role",
    "subject",
    "issuer",
    "not_after",
    "days_left",
    "sha256",
    "count",
    "error",
}


@pytest.fixture(scope="module")
def ca() -> ThrowawayCA:
    return ThrowawayCA()


def install(tree: Path, ca: ThrowawayCA, cn: str, *, client: bool = True) -> Issued:
    """A server certificate for `cn`, the CA file and (optionally) a client certificate."""
    server = ca.issue(cn)
    server.write(tree / TLS_DIR / "sendmail-server.crt", tree / TLS_DIR / "sendmail-common.key")
    write(tree / TLS_DIR / "ca.crt", ca.cert_pem.decode())
    if client:
        write(tree / TLS_DIR / "sendmail-client.crt", ca.issue(cn, client=True).cert_pem.decode())
    return server


def state_plan(tmp_path: Path, **kw: object) -> Plan:
    spec = write(tmp_path / "cluster.yaml", SPEC)
    return make_plan(PlanRequest(str(spec), state=str(tmp_path / "state"), **kw))  # type: ignore[arg-type]


def test_each_certificate_the_spec_names_is_described_not_shown(
    tmp_path: Path, ca: ThrowawayCA
) -> None:
    state = compile_to(SPEC, tmp_path / "state")
    server = install(state / "mx1", ca, "mx1.example.net")
    mx1 = host(state_plan(tmp_path), "mx1")
    assert mx1.certificates is not None and mx1.warnings == []
    by_role = {c.role: c for c in mx1.certificates}
    assert [c.role for c in mx1.certificates] == ["server_cert", "client_cert", "ca_cert"]
    facts = by_role["server_cert"]
    assert facts.path == SERVER and facts.error is None and facts.count == 1
    assert facts.subject == "/O=tlsc test/CN=mx1.example.net"
    assert facts.issuer == "/O=tlsc test/CN=tlsc Test CA"
    assert facts.not_after == server.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert facts.days_left in (29, 30)
    on_disk = (state / "mx1" / TLS_DIR / "sendmail-server.crt").read_bytes()
    assert facts.sha256 == hashlib.sha256(on_disk).hexdigest()
    assert by_role["ca_cert"].subject == by_role["ca_cert"].issuer == "/O=tlsc test/CN=tlsc Test CA"


def test_json_adds_certificates_and_keeps_the_rest_of_the_shape(
    tmp_path: Path, ca: ThrowawayCA
) -> None:
    state = compile_to(SPEC, tmp_path / "state")
    install(state / "mx1", ca, "mx1.example.net")
    doc = json.loads(json_format.render(state_plan(tmp_path)))
    assert set(doc) == {"version", "changes", "hosts"} and doc["version"] == 1
    hosts = {h["host"]: h for h in doc["hosts"]}
    assert set(hosts["mx1"]) == {"host", "files", "access", "actions", "warnings", "certificates"}
    for c in hosts["mx1"]["certificates"]:
        assert set(c) == FACT_KEYS and c["error"] is None and len(c["sha256"]) == 64
    # mx2's state directory holds no certificate at all: a tree of managed files only
    assert "certificates" not in hosts["mx2"] and hosts["mx2"]["warnings"] == []


def test_a_missing_or_unusable_certificate_is_p005_with_the_fix(
    tmp_path: Path, ca: ThrowawayCA
) -> None:
    state = compile_to(SPEC, tmp_path / "state")
    install(state / "mx1", ca, "mx1.example.net", client=False)
    write(state / "mx1" / TLS_DIR / "ca.crt", "not a certificate\n")
    mx1 = host(state_plan(tmp_path), "mx1")
    assert mx1.certificates is not None
    errors = {c.role: c.error for c in mx1.certificates}
    assert errors == {
        "server_cert": None,
        "client_cert": "missing",
        "ca_cert": "holds no PEM certificate",
    }
    client, ca_file = [w for w in mx1.warnings if w.code == "P005"]
    assert not client.downgrade and client.path == CLIENT
    assert client.message == (
        f"the client certificate {CLIENT} (tls.client_cert) does not exist, so after apply no"
        " client certificate is presented when sending mail; install it there or point"
        " tls.client_cert at the right file"
    )
    assert ca_file.path == CA and "holds no PEM certificate, so after apply STARTTLS is not" in (
        ca_file.message
    )
    out = text.render(state_plan(tmp_path))
    assert f"mx1  client_cert  {CLIENT}  missing" in out
    assert f"{CLIENT}: warning: P005 the client certificate" in out


def test_root_reads_certificates_under_root_and_warns_for_each_missing_one(
    tmp_path: Path,
) -> None:
    spec = write(tmp_path / "cluster.yaml", SPEC)
    root = tmp_path / "root"
    root.mkdir()
    (mx2,) = make_plan(PlanRequest(str(spec), root=str(root), hosts=["mx2"])).hosts
    assert [c.error for c in mx2.certificates or []] == ["missing"] * 3
    assert [w.path for w in mx2.warnings if w.code == "P005"] == [SERVER, CLIENT, CA]


def test_base_observes_no_host_files_so_lists_no_certificates(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    spec = write(repo / "cluster.yaml", SPEC)
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "HOME": str(tmp_path)}
    for args in (
        ["init", "-q"],
        ["add", "cluster.yaml"],
        ["-c", "user.name=t", "-c", "user.email=t@example.net", "commit", "-q", "-m", "one"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)
    plan = make_plan(PlanRequest(str(spec), base="HEAD"))
    assert all(h.certificates is None for h in plan.hosts)
    assert all("certificates" not in h for h in plan.to_json()["hosts"])
    assert "Certificates" not in text.render(plan) and "Certificates" not in markdown.render(plan)


def test_text_and_markdown_show_one_line_per_certificate_shared_ones_once(
    tmp_path: Path, ca: ThrowawayCA
) -> None:
    state = compile_to(SPEC, tmp_path / "state")
    for name in ("mx1", "mx2", "relay1"):
        install(state / name, ca, f"{name}.example.net")
    plan = state_plan(tmp_path)
    out = text.render(plan)
    assert "Certificates (subject, issuer, expiry, sha256 of the file; never contents):" in out
    ca_lines = [line for line in out.splitlines() if f"ca_cert  {CA}" in line]
    assert len(ca_lines) == 1 and ca_lines[0].startswith("  mx1, mx2, relay1  ca_cert")
    (mx1_server,) = [
        line for line in out.splitlines() if "CN=mx1.example.net" in line and "server_cert" in line
    ]
    assert "issuer /O=tlsc test/CN=tlsc Test CA  expires 20" in mx1_server
    assert "days)  sha256 " in mx1_server and "No changes: mx1, mx2, relay1" in out
    md = markdown.render(plan)
    assert "<summary>Certificates: 7 files on 3 hosts</summary>" in md
    assert f"| mx1, mx2, relay1 | ca_cert | `{CA}` | `/O=tlsc test/CN=tlsc Test CA` |" in md


def test_an_expired_certificate_says_so(tmp_path: Path, ca: ThrowawayCA) -> None:
    path = tmp_path / "old.crt"
    path.write_bytes(ca.issue("old.example.net", expired_days_ago=3).cert_pem)
    facts = read_certificate("server_cert", SERVER, path)
    assert facts.days_left is not None and facts.days_left < 0
    assert "expired 20" in text.certificate_line(facts) and "ago)" in text.certificate_line(facts)
    assert certificate_warnings([facts]) == []  # expiry is a fact, tlsc doctor judges it


def test_a_ca_bundle_gives_its_first_certificate_and_its_count(
    tmp_path: Path, ca: ThrowawayCA
) -> None:
    other = ThrowawayCA("Other CA")
    path = tmp_path / "bundle.crt"
    path.write_bytes(ca.cert_pem + other.cert_pem)
    facts = read_certificate("ca_cert", CA, path)
    assert facts.count == 2 and facts.subject == "/O=tlsc test/CN=tlsc Test CA"
    assert "(first of 2)" in text.certificate_line(facts)
    assert read_certificate("ca_cert", CA, tmp_path).error == "not a regular file"


def _key_material(pem: bytes) -> list[str]:
    """The base64 lines of a PEM block, and its decoded DER as base64 once more."""
    lines = [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]
    der = base64.b64decode("".join(lines))
    return [*lines, base64.b64encode(der).decode()[:40]]


def test_private_keys_never_reach_any_output(tmp_path: Path, ca: ThrowawayCA) -> None:
    state = compile_to(SPEC, tmp_path / "state")
    issued = ca.issue("mx1.example.net")
    tls = state / "mx1" / TLS_DIR
    key = issued.key_pem
    # a key where the server certificate should be, a combined cert+key file as the
    # client certificate, the key itself, and a key in a managed file
    (tls / "sendmail-server.crt").write_bytes(key)
    (tls / "sendmail-client.crt").write_bytes(issued.cert_pem + key)
    (tls / "sendmail-common.key").write_bytes(key)
    write(tls / "ca.crt", ca.cert_pem.decode())
    (tls / "starttls.m4").write_bytes(b"dnl # starttls\n" + key)
    spec = write(tmp_path / "cluster.yaml", SPEC)
    plan = make_plan(PlanRequest(str(spec), state=str(state)))
    mx1 = host(plan, "mx1")
    by_role = {c.role: c for c in mx1.certificates or []}
    assert by_role["server_cert"].error == "holds no PEM certificate"
    assert by_role["client_cert"].subject == "/O=tlsc test/CN=mx1.example.net"
    assert {w.code for w in mx1.warnings} == {"P005", "P103"}
    outputs = {
        "text": text.render(plan),
        "text+colour": text.render(plan, color=True),
        "json": json_format.render(plan),
        "markdown": markdown.render(plan),
        "saved": json.dumps(saved_document(plan)),
    }
    secrets = _key_material(key)
    for name, out in outputs.items():
        assert "PRIVATE KEY" not in out, name
        for secret in secrets:
            assert secret not in out, name


def test_certificate_facts_are_values_for_grouping() -> None:
    a = CertificateFacts(CA, "ca_cert", sha256="ab" * 32, subject="/CN=x")
    assert a == CertificateFacts(CA, "ca_cert", sha256="ab" * 32, subject="/CN=x") and hash(a)
