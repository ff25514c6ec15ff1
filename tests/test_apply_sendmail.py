"""tlsc apply against a real sendmail -bd on 127.0.0.1: the full cycle, and failures rolled back.

The host is a test daemon's work directory (sendmail_fixture.py): the spec's
paths point into it, apply runs with --root ROOT, the daemon's own host root
(its lock ROOT/run/tlsc-apply.lock, never this machine's), its backups in
WORK/backups, and commands.restart SIGHUPs the daemon (apply_restart.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from apply_helpers import ApplyHost, Spec, apply_host, db_dump, expected_db, steps
from releases import release
from sendmail_fixture import DaemonFactory, sendmail_daemon, throwaway_ca

from compiler.probe import Target, probe

__all__ = ["release", "sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

#: on both releases: the daemon, and the sendmail and makemap on apply's PATH, are 8.17.1.9's,
#: then 8.18.1's (its spec says sendmail: 8.18)
pytestmark = [pytest.mark.realtools, pytest.mark.usefixtures("release")]


def tls_off(spec: Spec) -> None:
    spec["defaults"]["tls"]["enabled"] = False


def tls_on(spec: Spec) -> None:
    spec["defaults"]["tls"]["enabled"] = True


def add_rule(domain: str) -> Any:
    def edit(spec: Spec) -> None:
        tls_on(spec)
        spec.setdefault("domains", {})[domain] = {"outbound": "encrypt"}

    return edit


def live(host: ApplyHost) -> Any:
    return probe(Target("t", "127.0.0.1", host.daemon.port, host.daemon.fqdn))


def test_full_cycle(sendmail_daemon: DaemonFactory, throwaway_ca: Any) -> None:
    host = apply_host(sendmail_daemon, edit=tls_off)
    daemon = host.daemon
    before = live(host)
    assert before.greeting is not None and not before.starttls

    # 1. apply turns STARTTLS on: starttls.m4 appears, sendmail.cf is rebuilt, sendmail restarted
    host.write_spec(host.spec(tls_on))
    rc, report, err = host.apply()
    assert rc == 0, (report["message"], err)
    assert report["result"] == "applied"
    done = steps(report)
    assert done["build-cf"] == "ok" and done["restart"] == "ok" and done["verify"] == "ok"
    assert report["verify"]["starttls"] is True and report["verify"]["error"] is None
    assert host.restarts() == 1
    after = live(host)
    assert after.handshake_ok and after.starttls
    # the restart command ran from the root, as documented; the lock was the root's
    assert f"cwd={host.root}\n" in (host.work / "restarts.log").read_text()
    assert report["steps"][1]["detail"] == f"{host.root}/run/tlsc-apply.lock"
    assert [s["name"] for s in report["steps"]][:3] == ["load", "lock", "plan"]
    assert all(isinstance(s["seconds"], float) for s in report["steps"])

    # 2. a second apply with nothing to do changes nothing and runs nothing
    snap = host.snapshot()
    mtimes = {n: (host.work / n).stat().st_mtime_ns for n in ("sendmail.cf", "access.db")}
    rc, report, _ = host.apply()
    assert rc == 0 and report["result"] == "unchanged" and report["changes"] == 0
    assert [s["name"] for s in report["steps"]] == ["load", "lock", "plan"]
    assert host.snapshot() == snap and host.restarts() == 1
    assert {n: (host.work / n).stat().st_mtime_ns for n in mtimes} == mtimes
    assert report["backup"] is None

    # 3. a rule change rebuilds only access.db: no m4, no restart
    host.write_spec(host.spec(add_rule("new.example.org")))
    rc, report, _ = host.apply()
    assert rc == 0, report["message"]
    done = steps(report)
    assert done["build-access"] == "ok" and done["build-cf"] == "skipped"
    assert done["restart"] == "skipped" and done["verify"] == "ok"
    assert host.restarts() == 1
    assert (host.work / "sendmail.cf").stat().st_mtime_ns == mtimes["sendmail.cf"]
    dump = db_dump(host.work / "access.db", daemon.release)
    assert "tls_srv:new.example.org\tENCR:128" in dump
    assert dump == expected_db((host.work / "access").read_text())

    # 4. a certificate path change rebuilds sendmail.cf and restarts; the probe sees the new cert
    issued = throwaway_ca.issue(daemon.fqdn, [daemon.fqdn, "127.0.0.1"], days=7)
    issued.write(host.work / "tls" / "new.crt", host.work / "tls" / "new.key", 0o600)

    def new_cert(spec: Spec) -> None:
        add_rule("new.example.org")(spec)
        spec["defaults"]["tls"]["server_cert"] = host.path("tls", "new.crt")
        spec["defaults"]["tls"]["server_key"] = host.path("tls", "new.key")

    old_not_after = after.cert.not_after if after.cert else None
    host.write_spec(host.spec(new_cert))
    rc, report, _ = host.apply()
    assert rc == 0, report["message"]
    assert steps(report)["restart"] == "ok" and host.restarts() == 2
    now = live(host)
    assert now.handshake_ok and now.cert is not None and now.cert.not_after != old_not_after
    # backups: one per apply that changed something, each with a manifest
    assert len([p for p in host.backups.iterdir() if (p / "manifest.json").exists()]) == 3
