"""kill -9 of tlsc apply at every step (the TLSC_APPLY_PAUSE_AT hook stops it there):
every managed file is wholly old or wholly new, access.db is always a whole map, the
lock is not left behind, and the next apply repairs the host."""

from __future__ import annotations

import pytest
from apply_helpers import ApplyHost, Spec, apply_host, db_dump, expected_db, steps
from sendmail_fixture import DaemonFactory, sendmail_daemon, throwaway_ca

from compiler.compile import compile_text
from compiler.probe import Target, probe

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools

#: every pause point, in the order apply reaches them
POINTS = [
    "lock",
    "plan",
    "confirm",
    "baseline",
    "backup",
    "write",
    "write.partial",
    "build-cf",
    "build-access",
    "build-access.built",
    "restart",
    "after",
    "verify",
]
#: from here on files may have changed, so the next apply must finish the rebuilds and restart
CHANGING = POINTS[POINTS.index("write.partial") :]


def variant(n: int) -> Spec:
    """Spec n differs from spec n-1 in sendmail.mc (a define) and the access file (one more
    rule; none removed, which would be a downgrade)."""

    def edit(spec: Spec) -> None:
        spec["defaults"]["mc"]["defines"]["confTO_IDENT"] = f"{n % 2}s"
        for i in range(n + 1):
            spec["domains"][f"crash{i}.example.org"] = {"outbound": "encrypt"}
        spec["defaults"]["commands"]["after"] = "true"

    return edit  # type: ignore[return-value]


def expected_files(host: ApplyHost) -> dict[str, bytes]:
    text = host.spec_path.read_text(encoding="utf-8")
    compiled = compile_text(text, str(host.spec_path))
    assert compiled.ok
    files = compiled.hosts[host.daemon.host]
    return {
        name: files[host.path(name)].encode()
        for name in ("sendmail.mc", "tls/starttls.m4", "access")
    }


def test_kill_at_every_step_then_repair(sendmail_daemon: DaemonFactory) -> None:
    host = apply_host(sendmail_daemon)
    host.write_spec(host.spec(variant(0)))
    rc, report, _ = host.apply()
    assert rc == 0, report["message"]
    for n, point in enumerate(POINTS, start=1):
        old = host.sources()
        old_cf = (host.work / "sendmail.cf").read_bytes()
        old_db = db_dump(host.work / "access.db")
        host.write_spec(host.spec(variant(n)))
        new = expected_files(host)
        assert all(new[k] != old[k] for k in ("sendmail.mc", "access"))

        proc, _marker = host.start_paused(point)
        host.kill(proc)

        # wholly old or wholly new, file by file; the db a whole map of one or the other
        now = host.sources()
        for name, data in now.items():
            assert data in (old[name], new[name]), (point, name)
        db = db_dump(host.work / "access.db")
        assert db in (old_db, expected_db(new["access"].decode())), point
        if point not in CHANGING:
            assert now == old and db == old_db, point
        crashed_cf = (host.work / "sendmail.cf").read_bytes()

        # the next apply (the kernel dropped the lock, the root's own) repairs the host
        rc, report, err = host.apply("--lock-timeout", "0")
        assert rc == 0, (point, report["message"], err)
        assert report["result"] == "applied", point
        if point in CHANGING:
            assert steps(report)["build-cf"] == "ok", point
            assert steps(report)["build-access"] == "ok", point
            assert steps(report)["restart"] == "ok", point
        assert host.sources() == new, point
        assert db_dump(host.work / "access.db") == expected_db(new["access"].decode())
        assert crashed_cf in (old_cf, (host.work / "sendmail.cf").read_bytes()), point
        assert not (host.work / ".tlsc-apply.pending").exists(), point
        assert not list(host.work.glob("**/.*.tlsc-new*")), point
        r = probe(Target("t", "127.0.0.1", host.daemon.port, host.daemon.fqdn))
        assert r.handshake_ok, point
    rc, report, _ = host.apply()
    assert rc == 0 and report["result"] == "unchanged"


def test_kill_during_rollback_then_repair(sendmail_daemon: DaemonFactory) -> None:
    host = apply_host(sendmail_daemon)
    host.write_spec(host.spec(variant(0)))
    assert host.apply()[0] == 0
    host.write_spec(host.spec(variant(1)))
    new = expected_files(host)
    (host.work / "fail-next-restart").touch()
    proc, _marker = host.start_paused("rollback")
    host.kill(proc)
    assert (host.work / ".tlsc-apply.pending").exists()
    rc, report, _ = host.apply("--lock-timeout", "0")
    assert rc == 0 and report["result"] == "applied", report["message"]
    assert steps(report)["restart"] == "ok"
    assert host.sources() == new
    assert db_dump(host.work / "access.db") == expected_db(new["access"].decode())


def test_kill_9_with_a_second_spec_at_the_same_lock(sendmail_daemon: DaemonFactory) -> None:
    # a spec that puts sendmail.mc elsewhere still meets the root's one lock while the
    # first apply is stopped mid-write; after kill -9 the kernel frees it and the next
    # apply repairs the host
    host = apply_host(sendmail_daemon)
    host.write_spec(host.spec(variant(0)))
    assert host.apply()[0] == 0
    host.write_spec(host.spec(variant(1)))
    new = expected_files(host)

    def elsewhere(spec: Spec) -> None:
        variant(1)(spec)  # type: ignore[operator]
        spec["defaults"]["paths"]["sendmail_mc"] = host.path("b/sendmail.mc")

    other = host.write_spec(host.spec(elsewhere), name="other.yaml")
    proc, _marker = host.start_paused("write.partial")
    rc, report, _ = host.apply("--lock-timeout", "0", spec=other)
    assert rc == 1 and report["result"] == "refused", report["message"]
    assert f"holds the lock {host.root}/run/tlsc-apply.lock (pid {proc.pid}" in report["message"]
    assert not (host.work / "b").exists()
    host.kill(proc)
    rc, report, _ = host.apply("--lock-timeout", "0")
    assert rc == 0 and report["result"] == "applied", report["message"]
    assert host.sources() == new
    assert db_dump(host.work / "access.db") == expected_db(new["access"].decode())


def test_no_restart_finishing_an_apply_killed_before_its_restart(
    sendmail_daemon: DaemonFactory,
) -> None:
    """An apply killed at its restart left the new sendmail.cf in place, sendmail on the
    old one; `apply --no-restart` finishing it must not say sendmail.cf "came out the
    same" (no restart needed), but that the new one takes effect at the next restart."""
    host = apply_host(sendmail_daemon)
    host.write_spec(host.spec(variant(0)))
    assert host.apply()[0] == 0
    host.write_spec(host.spec(variant(1)))
    proc, _marker = host.start_paused("restart")
    host.kill(proc)
    rc, report, err = host.apply("--lock-timeout", "0", "--no-restart")
    assert rc == 0 and report["result"] == "applied", (report["message"], err)
    assert "came out the same" not in report["message"], report["message"]
    assert "the new sendmail.cf takes effect at its next restart" in report["message"]
