"""tlsc apply rebuilds submit.cf when it changes a file the host's submit.mc includes.

Debian's update_tls tells the admin to include starttls.m4 in submit.mc too, and
Debian's Makefile rebuilds submit.cf only when submit.mc itself changes; so apply
rebuilds it, with the real m4 and cf.m4, as it rebuilds sendmail.cf: the same m4,
the same temp file and rename, the same backup and the same rollback when a later
step fails. Each form of include is tried (absolute, relative, sinclude, in an ifdef
branch, through one file and through two), each time against what `m4 submit.mc`
itself gives and what the real sendmail reads from the file; a submit.mc that does
not include it, or an apply that changes none of it, leaves submit.cf alone. The
scratch-root tests run without a daemon (their ROOT's /etc/mail is not this
machine's, so every include must be pointed into the root); the last ones against a
running sendmail, whose restart and verify are real.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apply_helpers import ApplyHost, Spec, apply_host, apply_json, scratch_root, steps
from conftest import run_cli
from realtools import SYSTEM_SENDMAIL, scratch_dir, sendmail_bt
from sendmail_fixture import DaemonFactory, sendmail_daemon, throwaway_ca

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools

CORPUS = Path(__file__).parent / "fixtures" / "import" / "corpus"
#: Debian 12's submit.mc as the package installs it (57 lines; cf.m4 at line 35)
STOCK_SUBMIT = (CORPUS / "debian12-stock" / "submit.mc").read_text()
SPEC = """\
version: 1
cluster: submit
defaults:
  commands: {{restart: "{restart}", after: "{after}"}}
  tls: {{timeout: {timeout}}}
hosts:
  h1: {{fqdn: h1.example.net, address: 127.0.0.1}}
access:
  - Connect:127 RELAY
"""


def forms(etc: str) -> dict[str, tuple[str, dict[str, str]]]:
    """name -> (the line added to submit.mc, the other files it needs) for a host whose
    files are in `etc` (its /etc/mail): each includes its tls/starttls.m4."""
    starttls = f"include(`{etc}/tls/starttls.m4')dnl"
    return {
        "absolute": (starttls, {}),
        "relative": ("include(`tls/starttls.m4')dnl", {}),  # m4 runs in `etc`
        "sinclude": ("s" + starttls, {}),
        "ifdef": (f"ifdef(`_NO_TLS_', `', `{starttls[:-3]}')dnl", {}),  # no dnl in it
        "chain": (f"include(`{etc}/m4/tls.m4')dnl", {"m4/tls.m4": f"dnl site TLS\n{starttls}\n"}),
        "chain2": (
            "include(`m4/chain.m4')dnl",
            {
                "m4/chain.m4": f"include(`{etc}/m4/tls2.m4')dnl\n",
                "m4/tls2.m4": "sinclude(`tls/starttls.m4')dnl\n",
            },
        ),
    }


#: submit.mc lines that do not make m4 read starttls.m4
NOT_INCLUDED = {
    "comment": "dnl include(`/etc/mail/tls/starttls.m4')dnl",
    "other-file": "include(`/etc/mail/m4/local.m4')dnl",
    "other-starttls": "sinclude(`/etc/mail/starttls.m4')dnl",
}
OLD_SUBMIT_CF = b"# submit.cf as the host built it before\n"


@pytest.fixture
def root() -> Iterator[Path]:
    with scratch_root("apply-submit") as path:
        yield path


def spec(root: Path, timeout: str = "2m", restart: str = "true", after: str = "true") -> Path:
    path = root.parent / f"{root.name}-spec.yaml"
    text = SPEC.format(timeout=timeout, restart=restart, after=after)
    path.write_text(text, encoding="utf-8")
    return path


def m4_submit(etc: Path, pointed: bool = True) -> bytes:
    """What `m4 submit.mc` gives, run in the host's /etc/mail (here `etc`). `pointed`: in
    a copy of `etc` whose files' includes of /etc/mail name the copy instead (a scratch
    root's /etc/mail is not this machine's)."""
    with scratch_dir("submit-m4") as work:
        if pointed:
            shutil.copytree(etc, work / "etc")
            etc = work / "etc"
            for path in [etc / "submit.mc", *etc.glob("m4/*.m4")]:
                path.write_text(path.read_text().replace("`/etc/mail/", f"`{etc}/"))
        out = subprocess.run(
            ["m4", "-D_NO_MAKEINFO_", "submit.mc"], cwd=etc, capture_output=True, check=False
        )
    assert out.returncode == 0 and not out.stderr, out.stderr
    return out.stdout


def loads(cf: Path) -> list[str]:
    """The options the real sendmail sets reading `cf` (sendmail -C cf -d37.1 -bt)."""
    with scratch_dir("submit-bt") as work:
        shutil.copy(cf, work / "submit.cf")
        out = sendmail_bt(SYSTEM_SENDMAIL, work / "submit.cf", ("-d37.1",))
    assert out.returncode == 0, out.stdout + out.stderr
    return [x for x in out.stdout.splitlines() if x.startswith("setoption")]


def host_with_submit(root: Path, added: str, files: dict[str, str]) -> Path:
    """ROOT applied once (its sendmail.mc, starttls.m4, access), then given a submit.mc
    with `added` and the files it includes, and an old submit.cf (0640)."""
    rc, report, err = apply_json(spec(root), root, "--yes", "--no-verify")
    assert rc == 0, (report["message"], err)
    etc = root / "etc/mail"
    (etc / "submit.mc").write_text(STOCK_SUBMIT + added + "\n")
    for name, text in files.items():
        (etc / name).parent.mkdir(parents=True, exist_ok=True)
        (etc / name).write_text(text)
    (etc / "submit.cf").write_bytes(OLD_SUBMIT_CF)
    (etc / "submit.cf").chmod(0o640)
    return etc / "submit.cf"


def plan_text(root: Path, spec_path: Path) -> str:
    rc, out, err = run_cli("plan", spec_path, "--root", root, "--host", "h1")
    assert rc == 0, out + err
    return out


REBUILD = "    rebuild /etc/mail/submit.cf from /etc/mail/submit.mc (m4)\n"


@pytest.mark.parametrize("form", list(forms("/etc/mail")))
def test_a_starttls_change_rebuilds_submit_cf_as_m4_builds_it(root: Path, form: str) -> None:
    added, files = forms("/etc/mail")[form]
    submit_cf = host_with_submit(root, added, files)
    changed = spec(root, timeout="3m")
    assert REBUILD in plan_text(root, changed)

    rc, report, err = apply_json(changed, root, "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", (report["message"], err)
    assert steps(report)["build-submit"] == "ok"
    assert "/etc/mail/submit.cf" in report["rebuilt"]
    built = submit_cf.read_bytes()
    assert built == m4_submit(root / "etc/mail")
    assert submit_cf.stat().st_mode & 0o7777 == 0o640  # its mode kept, as sendmail.cf's
    assert "setoption Timeout (r).starttls=3m" in loads(submit_cf)  # sendmail reads it

    # nothing to change: nothing rebuilt
    stamp = submit_cf.stat().st_mtime_ns
    assert REBUILD not in plan_text(root, changed)
    rc, report, err = apply_json(changed, root, "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "unchanged", (report["message"], err)
    assert submit_cf.read_bytes() == built and submit_cf.stat().st_mtime_ns == stamp

    # a change to a file submit.mc does not include (access) rebuilds no submit.cf
    (root / "etc/mail/access").write_text("# someone's edit\n")
    rc, report, err = apply_json(changed, root, "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", (report["message"], err)
    assert steps(report)["build-submit"] == "skipped"
    assert submit_cf.read_bytes() == built and submit_cf.stat().st_mtime_ns == stamp


@pytest.mark.parametrize("line", list(NOT_INCLUDED.values()), ids=list(NOT_INCLUDED))
def test_a_submit_mc_that_does_not_include_it_is_left_alone(root: Path, line: str) -> None:
    submit_cf = host_with_submit(root, line, {"m4/local.m4": "dnl\n"})
    submit_mc = (root / "etc/mail/submit.mc").read_bytes()
    changed = spec(root, timeout="3m")
    text = plan_text(root, changed)
    assert "submit.cf" not in text and "P113" not in text, text
    rc, report, err = apply_json(changed, root, "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", (report["message"], err)
    assert "build-submit" not in steps(report)
    assert submit_cf.read_bytes() == OLD_SUBMIT_CF
    assert (root / "etc/mail/submit.mc").read_bytes() == submit_mc


@pytest.mark.parametrize(
    "failing",
    [
        # the restart (once: the rollback's restart with the old files works)
        {"restart": "if [ -e fail-once ]; then rm fail-once; exit 1; fi"},
        {"after": "exit 3"},  # commands.after, the check after it
    ],
    ids=["restart", "after"],
)
@pytest.mark.parametrize("had_submit_cf", [True, False], ids=["old-submit-cf", "none"])
@pytest.mark.parametrize("form", ["absolute", "chain2"])
def test_a_failure_after_the_rebuild_puts_submit_cf_back(
    root: Path, form: str, had_submit_cf: bool, failing: dict[str, str]
) -> None:
    added, files = forms("/etc/mail")[form]
    submit_cf = host_with_submit(root, added, files)
    if not had_submit_cf:
        submit_cf.unlink()
    before = {p: p.read_bytes() for p in (root / "etc/mail").rglob("*") if p.is_file()}
    (root / "fail-once").touch()
    rc, report, err = apply_json(spec(root, timeout="3m", **failing), root, "--yes", "--no-verify")
    assert rc == 1 and report["result"] == "rolled-back", (report["message"], err)
    assert steps(report)["build-submit"] == "ok", report["steps"]
    assert {p: p.read_bytes() for p in (root / "etc/mail").rglob("*") if p.is_file()} == before
    if had_submit_cf:
        assert submit_cf.stat().st_mode & 0o7777 == 0o640


def test_an_m4_error_in_submit_mc_rolls_the_apply_back(root: Path) -> None:
    submit_cf = host_with_submit(root, "include(`/etc/mail/tls/starttls.m4')dnl", {})
    with (root / "etc/mail/submit.mc").open("a") as f:
        f.write("FEATURE(`nosuchfeature')dnl\n")
    before = {p: p.read_bytes() for p in (root / "etc/mail").rglob("*") if p.is_file()}
    rc, report, err = apply_json(spec(root, timeout="3m"), root, "--yes", "--no-verify")
    assert rc == 1 and report["result"] == "rolled-back", (report["message"], err)
    assert steps(report)["build-submit"] == "failed" and "restart" not in steps(report)
    assert report["message"].startswith(
        f"m4 could not build submit.cf from {root}/etc/mail/submit.mc (exit 1):"
    )
    assert "FEATURE() should be before MAILER()" in report["message"]  # m4's first line
    assert {p: p.read_bytes() for p in (root / "etc/mail").rglob("*") if p.is_file()} == before
    assert submit_cf.read_bytes() == OLD_SUBMIT_CF


@pytest.mark.parametrize(
    ("cf_m4", "at"),
    [
        ("include(`../m4/cf.m4')dnl", "/etc/mail/submit.mc:35:1: m4, run in /etc/mail, finds"),
        ("dnl no cf.m4 here", "/etc/mail/submit.mc:58:1: /etc/mail/submit.mc includes no cf.m4"),
    ],
)
def test_a_submit_mc_m4_cannot_build_is_warned_of_and_left(root: Path, cf_m4: str, at: str) -> None:
    submit_cf = host_with_submit(root, "include(`/etc/mail/tls/starttls.m4')dnl", {})
    submit_mc = root / "etc/mail/submit.mc"
    cf_line = "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl"
    submit_mc.write_text(submit_mc.read_text().replace(cf_line, cf_m4))
    changed = spec(root, timeout="3m")
    text = plan_text(root, changed)
    assert REBUILD not in text
    [warning] = [x for x in text.splitlines() if "P113" in x]
    assert warning.startswith(f"    /etc/mail/submit.mc:58: warning: P113 {at}"), warning
    assert "so tlsc cannot rebuild /etc/mail/submit.cf when it changes" in warning
    rc, report, err = apply_json(changed, root, "--yes", "--no-verify")
    assert rc == 0 and report["result"] == "applied", (report["message"], err)
    [skipped] = [s for s in report["steps"] if s["name"] == "build-submit"]
    assert skipped["status"] == "skipped" and "(P113)" in skipped["detail"]
    assert submit_cf.read_bytes() == OLD_SUBMIT_CF


# -- against a running sendmail ---------------------------------------------------


def daemon_host(factory: DaemonFactory, form: str) -> tuple[ApplyHost, Path]:
    """A test daemon as an apply host, with a submit.mc in its work directory that
    includes its starttls.m4 (`form`), and the submit.cf m4 builds from it."""
    host = apply_host(factory)
    host.write_spec(host.spec(), "before.yaml")
    added, files = forms(str(host.host_work))[form]
    (host.work / "submit.mc").write_text(STOCK_SUBMIT + added + "\n")
    for name, text in files.items():
        (host.work / name).parent.mkdir(parents=True, exist_ok=True)
        (host.work / name).write_text(text)
    submit_cf = host.work / "submit.cf"
    # the host path W of the work directory is a link to ROOT/W: m4 run there reads
    # the files the daemon reads
    submit_cf.write_bytes(m4_submit(host.host_work, pointed=False))
    return host, submit_cf


def timeout(value: str) -> Any:
    def edit(spec: Spec) -> None:
        spec["defaults"]["tls"]["timeout"] = value

    return edit


@pytest.mark.parametrize("form", ["absolute", "chain"])
def test_with_a_running_sendmail(sendmail_daemon: DaemonFactory, form: str) -> None:
    host, submit_cf = daemon_host(sendmail_daemon, form)
    restarts = host.restarts()
    host.write_spec(host.spec(timeout("3m")))
    rc, report, err = host.apply()
    assert rc == 0 and report["result"] == "applied", (report["message"], err)
    done = steps(report)
    assert done["build-cf"] == done["build-submit"] == done["restart"] == done["verify"] == "ok"
    assert host.restarts() == restarts + 1  # once, for sendmail.cf
    assert submit_cf.read_bytes() == m4_submit(host.host_work, pointed=False)
    assert "setoption Timeout (r).starttls=3m" in loads(submit_cf)
    assert f"{host.path('submit.cf')}" in report["rebuilt"]


def test_a_failing_restart_or_verify_puts_submit_cf_back(
    sendmail_daemon: DaemonFactory, throwaway_ca: Any
) -> None:
    host, submit_cf = daemon_host(sendmail_daemon, "absolute")
    old = submit_cf.read_bytes()
    before, restarts = host.snapshot(), host.restarts()

    # the restart fails
    (host.work / "fail-next-restart").touch()
    host.write_spec(host.spec(timeout("3m")))
    rc, report, _ = host.apply()
    assert rc == 1 and report["result"] == "rolled-back", report["message"]
    assert steps(report)["build-submit"] == "ok" and steps(report)["restart"] == "failed"
    assert submit_cf.read_bytes() == old and host.snapshot() == before
    assert host.restarts() == restarts + 2

    # verify fails: a key sendmail refuses (group- and world-readable)
    d = host.daemon
    issued = throwaway_ca.issue(d.fqdn, [d.fqdn, "127.0.0.1"])
    issued.write(host.work / "tls" / "loose.crt", host.work / "tls" / "loose.key", 0o644)
    before = host.snapshot()

    def loose_key(spec: Spec) -> None:
        spec["defaults"]["tls"]["server_cert"] = host.path("tls", "loose.crt")
        spec["defaults"]["tls"]["server_key"] = host.path("tls", "loose.key")

    host.write_spec(host.spec(loose_key))
    rc, report, _ = host.apply("--skip-preflight")
    assert rc == 1 and report["result"] == "rolled-back", report["message"]
    assert steps(report)["build-submit"] == "ok" and steps(report)["verify"] == "failed"
    assert submit_cf.read_bytes() == old and host.snapshot() == before
    shutil.rmtree(host.work / "backups", ignore_errors=True)


def test_an_apply_killed_before_the_rebuild_is_finished_by_the_next(
    sendmail_daemon: DaemonFactory,
) -> None:
    host, submit_cf = daemon_host(sendmail_daemon, "absolute")
    old = submit_cf.read_bytes()
    host.write_spec(host.spec(timeout("3m")))
    proc, _marker = host.start_paused("build-submit")  # starttls.m4 and sendmail.cf are new
    host.kill(proc)
    assert submit_cf.read_bytes() == old
    rc, report, _ = host.apply()  # nothing left to write: the journal says what to finish
    assert rc == 0 and report["result"] == "applied", report["message"]
    assert steps(report)["build-submit"] == "ok"
    assert submit_cf.read_bytes() == m4_submit(host.host_work, pointed=False) != old
    assert "setoption Timeout (r).starttls=3m" in loads(submit_cf)
