"""tlsc apply's failures, each injected against a real sendmail: the host is put back byte
for byte (owner, group and mode too), sendmail restarted if it had been, and verified."""

from __future__ import annotations

from typing import Any

import pytest
from apply_helpers import ApplyHost, Spec, apply_host, db_dump, expected_db, steps
from sendmail_fixture import DaemonFactory, sendmail_daemon, throwaway_ca

from compiler.probe import Target, probe

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools


def live_ok(host: ApplyHost) -> bool:
    return probe(Target("t", "127.0.0.1", host.daemon.port, host.daemon.fqdn)).handshake_ok


def assert_rolled_back(
    host: ApplyHost, before: Any, restarts: int, rc: int, report: dict[str, Any], what: str
) -> None:
    assert rc == 1, report["message"]
    assert report["result"] == "rolled-back", report["message"]
    assert what in report["message"], report["message"]
    assert "back where it was (verified: STARTTLS" in report["message"], report["message"]
    assert steps(report)["rollback"] == "ok" and steps(report)["rollback-verify"] == "ok"
    assert host.snapshot() == before
    assert host.restarts() == restarts
    assert live_ok(host)
    assert not (host.work / ".tlsc-apply.pending").exists()
    assert not list(host.work.glob("**/.*.tlsc-new*"))
    # and the host is as the spec it had: applying that spec again changes nothing
    host.spec_path.write_bytes((host.work / "before.yaml").read_bytes())
    rc, report, _ = host.apply()
    assert rc == 0 and report["result"] == "unchanged", report["message"]


@pytest.fixture
def host(sendmail_daemon: DaemonFactory) -> ApplyHost:
    host = apply_host(sendmail_daemon)
    host.write_spec(host.spec(), "before.yaml")
    return host


def test_m4_error_is_rolled_back(host: ApplyHost) -> None:
    before, restarts = host.snapshot(), host.restarts()

    def bad_extra(spec: Spec) -> None:
        spec["defaults"]["mc"]["extra"] = ["FEATURE(`nosuchfeature')dnl"]

    host.write_spec(host.spec(bad_extra))
    rc, report, _ = host.apply()
    assert steps(report)["build-cf"] == "failed" and "restart" not in steps(report)
    assert_rolled_back(host, before, restarts, rc, report, "m4 could not build sendmail.cf")
    assert "nosuchfeature" in report["message"]


def test_makemap_failure_is_rolled_back(host: ApplyHost) -> None:
    # ownership: block, and someone else's line in the access file that makemap rejects
    access = host.work / "access"
    access.write_text("# lines owned by another tool\n  Connect:10.9.9.9\tREJECT\n")
    before, restarts = host.snapshot(), host.restarts()

    def block(spec: Spec) -> None:
        spec["defaults"]["ownership"] = "block"

    host.write_spec(host.spec(block))
    # (the example's Try_TLS:broken.server NO reads as a downgrade against a file without it)
    rc, report, _ = host.apply("--allow-downgrade")
    assert steps(report).get("build-access") == "failed", report["message"]
    assert report["message"].startswith("makemap could not build access.db")
    assert "leading space" in report["message"]
    assert host.snapshot() == before
    assert rc == 1 and report["result"] == "rolled-back"
    assert host.restarts() == restarts and live_ok(host)


def test_failing_restart_is_rolled_back(host: ApplyHost) -> None:
    before, restarts = host.snapshot(), host.restarts()
    (host.work / "fail-next-restart").touch()

    def slower_ident(spec: Spec) -> None:
        spec["defaults"]["mc"]["defines"]["confTO_IDENT"] = "5s"

    host.write_spec(host.spec(slower_ident))
    rc, report, _ = host.apply()
    assert steps(report)["restart"] == "failed" and steps(report)["rollback-restart"] == "ok"
    # one failed restart, then the rollback's restart with the old sendmail.cf
    assert_rolled_back(host, before, restarts + 2, rc, report, "the restart command failed")


def test_failing_verify_is_rolled_back(host: ApplyHost, throwaway_ca: Any) -> None:
    d = host.daemon
    issued = throwaway_ca.issue(d.fqdn, [d.fqdn, "127.0.0.1"])
    # group- and world-readable: sendmail refuses the key and silently stops offering STARTTLS
    issued.write(host.work / "tls" / "loose.crt", host.work / "tls" / "loose.key", 0o644)
    before, restarts = host.snapshot(), host.restarts()

    def loose_key(spec: Spec) -> None:
        spec["defaults"]["tls"]["server_cert"] = host.path("tls", "loose.crt")
        spec["defaults"]["tls"]["server_key"] = host.path("tls", "loose.key")

    host.write_spec(host.spec(loose_key))
    # the pre-flight would refuse this key (test_preflight_refuses_before_the_restart)
    rc, report, _ = host.apply("--skip-preflight", "--mail-log", str(d.work / "syslog.txt"))
    assert steps(report)["restart"] == "ok" and steps(report)["verify"] == "failed"
    assert report["message"].startswith("verify failed: 127.0.0.1 port")
    assert "does not offer STARTTLS" in report["message"]
    # sendmail's own words from the new daemon, quoted from its log
    said = report["message"].partition("; sendmail logged after the restart: ")[2]
    assert "loose.key unsafe: Group readable file" in said, (report["message"], d.syslog())
    assert "started as:" not in said  # only the TLS lines
    doctor = f"(tlsc doctor {host.spec_path} --host {d.host} --root {host.root} checks"
    assert doctor in report["message"]
    assert_rolled_back(host, before, restarts + 2, rc, report, "verify failed")


def test_preflight_refuses_before_the_restart(host: ApplyHost, throwaway_ca: Any) -> None:
    """The same loose key without --skip-preflight: refused before anything is
    written, with nothing restarted and no backup."""
    d = host.daemon
    issued = throwaway_ca.issue(d.fqdn, [d.fqdn, "127.0.0.1"])
    loose = host.work / "tls" / "loose.key"
    issued.write(host.work / "tls" / "loose.crt", loose, 0o644)
    before, restarts = host.snapshot(), host.restarts()

    def loose_key(spec: Spec) -> None:
        spec["defaults"]["tls"]["server_cert"] = host.path("tls", "loose.crt")
        spec["defaults"]["tls"]["server_key"] = host.path("tls", "loose.key")

    host.write_spec(host.spec(loose_key))
    rc, report, _ = host.apply()
    assert rc == 1 and report["result"] == "refused"
    assert report["message"].startswith(f"pre-flight: {loose}: D005 the server key is readable")
    assert "--skip-preflight" in report["message"]
    assert "backup" not in steps(report) and report["backup"] is None
    assert host.snapshot() == before and host.restarts() == restarts
    assert not host.backups.exists() or not any(host.backups.iterdir())


def test_preflight_refuses_a_mismatched_key_before_the_restart(
    host: ApplyHost, throwaway_ca: Any
) -> None:
    """A server key that does not belong to its certificate: without the pre-flight
    the real daemon would be restarted into no STARTTLS; with it, nothing happens."""
    d = host.daemon
    one = throwaway_ca.issue(d.fqdn, [d.fqdn, "127.0.0.1"])
    other = throwaway_ca.issue(d.fqdn, [d.fqdn, "127.0.0.1"])
    one.write(host.work / "tls" / "one.crt", host.work / "tls" / "one.key", 0o600)
    other.write(host.work / "tls" / "other.crt", host.work / "tls" / "other.key", 0o600)
    before, restarts = host.snapshot(), host.restarts()

    def mismatched(spec: Spec) -> None:
        spec["defaults"]["tls"]["server_cert"] = host.path("tls", "one.crt")
        spec["defaults"]["tls"]["server_key"] = host.path("tls", "other.key")

    host.write_spec(host.spec(mismatched))
    rc, report, _ = host.apply()
    assert rc == 1 and report["result"] == "refused"
    assert "D011" in report["message"] and "--skip-preflight" in report["message"]
    assert host.snapshot() == before and host.restarts() == restarts
    assert live_ok(host)


def test_rolled_back_access_db_is_the_old_map(host: ApplyHost) -> None:
    old = db_dump(host.work / "access.db")
    (host.work / "fail-next-restart").touch()

    def rule_and_define(spec: Spec) -> None:
        spec["domains"]["added.example.org"] = {"outbound": "encrypt"}
        spec["defaults"]["mc"]["defines"]["confTO_IDENT"] = "5s"

    host.write_spec(host.spec(rule_and_define))
    rc, report, _ = host.apply()
    assert rc == 1 and report["result"] == "rolled-back"
    assert steps(report)["build-access"] == "ok"  # the new map was in place, then put back
    assert (
        db_dump(host.work / "access.db") == old == expected_db((host.work / "access").read_text())
    )


def test_a_makemap_that_writes_half_a_map_and_fails_is_rolled_back(host: ApplyHost) -> None:
    """A makemap first on PATH that leaves a broken temp map behind and exits 74 (an I/O
    error half-way, as a full disk under a real one): the broken map is never installed,
    nor left beside access.db, and the old access.db is back byte for byte."""
    tools = host.work / "broken-tools"
    tools.mkdir()
    makemap = tools / "makemap"
    makemap.write_text(
        "#!/bin/sh\nfor last; do :; done\nprintf 'not a map' > \"$last.db\"\n"
        'echo "makemap: $last.db: write error" >&2\nexit 74\n'
    )
    makemap.chmod(0o755)
    host.env["PATH"] = f"{tools}:{host.env['PATH']}"
    before, restarts = host.snapshot(), host.restarts()

    def rule_and_define(spec: Spec) -> None:
        spec["domains"]["added.example.org"] = {"outbound": "encrypt"}
        spec["defaults"]["mc"]["defines"]["confTO_IDENT"] = "5s"

    host.write_spec(host.spec(rule_and_define))
    rc, report, _ = host.apply()
    assert steps(report)["build-access"] == "failed", report["message"]
    assert report["message"].startswith("makemap could not build access.db"), report["message"]
    assert "(exit 74): makemap:" in report["message"] and "write error" in report["message"]
    assert "/proc/self/fd" not in report["message"] and "tlsc-new" not in report["message"]
    assert "restart" not in steps(report)  # sendmail never saw the new .cf
    assert_rolled_back(host, before, restarts, rc, report, "makemap could not build")
