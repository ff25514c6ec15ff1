"""The --state tree read ahead in a thread (plan/prefetch.py) changes nothing a plan
says: the same plan, or the same one-sentence error, as reading in the main thread;
and no thread outlives the command; nor do the planner's other ways of saving time and
memory (hashing in threads, consumed observations, texts compared in parts)."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.plan.make import PlanRequest, make_plan
from compiler.plan.observe import ObserveError
from compiler.plan.prefetch import StatePrefetch
from compiler.plan.saved import saved_document
from tests.plan_helpers import SPEC, compile_to, write

OLDER = SPEC.replace("min_bits: 128", "min_bits: 112").replace("Connect:127 RELAY", "Connect:10 OK")
ACCESS = "etc/mail/access"
MC = "etc/mail/sendmail.mc"


def _plan(spec: Path, state: Path, ahead: StatePrefetch | None, hosts: list[str]) -> object:
    """The saved plan document, or the error's sentence."""
    try:
        return saved_document(
            make_plan(PlanRequest(str(spec), state=str(state), hosts=hosts, ahead=ahead))
        )
    except ObserveError as exc:
        return f"ObserveError: {exc}"


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _dir(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _link_inside(path: Path) -> None:  # mx1's access is mx2's, through a link
    path.unlink()
    path.symlink_to(path.parents[3] / "mx2" / ACCESS)


def _dir_link(path: Path) -> None:  # mx1/etc leads to mx2/etc
    top = path.parents[2]
    shutil.rmtree(top / "etc")
    (top / "etc").symlink_to(top.parent / "mx2" / "etc")


def _link_out(path: Path) -> None:
    path.unlink()
    outside = path.parents[4] / "outside"  # next to the state tree
    write(outside, "secret\n")
    path.symlink_to(outside)


def _host_link(path: Path) -> None:  # the host directory mx1 is a link to mx2's
    top = path.parents[2]
    shutil.rmtree(top)
    top.symlink_to(top.parent / "mx2")


def _gone(path: Path) -> None:
    path.unlink()


def _binary(path: Path) -> None:
    path.write_bytes(b"\0\xff" * 1000)


def _not_utf8(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"Connect:\xff\tREJECT\n")


CHANGES: dict[str, Callable[[Path], None]] = {
    "none": lambda p: None,
    "fifo": _fifo,
    "directory": _dir,
    "link inside": _link_inside,
    "directory link": _dir_link,
    "link out": _link_out,
    "host is a link": _host_link,
    "gone": _gone,
    "binary": _binary,
    "not utf-8": _not_utf8,
}


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("window", [1, 2**20])
@pytest.mark.parametrize("hosts", [[], ["mx2"], ["mx1", "relay1"]])
def test_read_ahead_gives_the_plan_or_error_of_reading_in_the_main_thread(
    tmp_path: Path, change: str, window: int, hosts: list[str]
) -> None:
    spec = write(tmp_path / "cluster.yaml", SPEC)
    state = compile_to(OLDER, tmp_path / "state")
    write(state / "stray" / ACCESS, "not a host of the spec\n")
    CHANGES[change](state / "mx1" / ACCESS)
    expected = _plan(spec, state, None, hosts)
    ahead = StatePrefetch(state, hosts, window=window)
    try:
        assert _plan(spec, state, ahead, hosts) == expected
    finally:
        ahead.close()
    if change == "none":
        assert isinstance(expected, dict) and expected["changes"] > 0
    if change in ("fifo", "directory", "link out") and "mx2" not in hosts:
        assert isinstance(expected, str) and "mx1" in expected


def test_a_file_read_ahead_is_the_one_planned_and_its_hash_is_kept(tmp_path: Path) -> None:
    state = compile_to(SPEC, tmp_path / "state")
    ahead = StatePrefetch(state)
    try:
        ahead.wait_idle()
        got = ahead.take("mx1")
        assert set(got) == {str(p) for p in (state / "mx1").rglob("*") if p.is_file()}
        data = (state / "mx1" / ACCESS).read_bytes()
        assert got[str(state / "mx1" / ACCESS)].data == data
        assert got[str(state / "mx1" / ACCESS)].sha256 == hashlib.sha256(data).hexdigest()
        assert ahead.take("mx1") == {}  # taken once
        assert ahead.take("relay1")  # mx2, before it, is dropped
    finally:
        ahead.close()


def test_nothing_is_read_ahead_past_the_window_nor_a_file_bigger_than_it(tmp_path: Path) -> None:
    state = compile_to(SPEC, tmp_path / "state")
    write(state / "mx1" / "big", "x" * 5000)
    ahead = StatePrefetch(state, window=4000)
    try:
        ahead.wait_idle()
        first = ahead.take("mx1")
        assert first and str(state / "mx1" / "big") not in first
        assert ahead._held <= 4000
        ahead.wait_idle()
        assert ahead.take("mx2")
        ahead.wait_idle()
        assert ahead.take("relay1")
    finally:
        ahead.close()


def test_a_state_directory_that_is_not_there_reads_nothing_ahead(tmp_path: Path) -> None:
    ahead = StatePrefetch(tmp_path / "nothing")
    ahead.close()
    assert ahead.take("mx1") == {}


def _ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tlsc-state-ahead"]


@pytest.mark.parametrize("case", ["ok", "bad spec", "bad state", "fifo", "bad out"])
def test_plan_command_leaves_no_thread_and_no_traceback(tmp_path: Path, case: str) -> None:
    spec = write(tmp_path / "cluster.yaml", SPEC if case != "bad spec" else "version: [")
    state = compile_to(OLDER, tmp_path / "state")
    if case == "fifo":
        _fifo(state / "mx2" / MC)
    args = ["plan", str(spec), "--state", str(state if case != "bad state" else tmp_path / "none")]
    if case == "bad out":
        args += ["--out", str(tmp_path / "no" / "such" / "plan.json")]
    result = CliRunner().invoke(main, args)
    assert _ahead_threads() == []
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    if case == "ok":
        assert result.exit_code == 0
    else:
        assert result.exit_code == 1
        assert result.output.strip().splitlines()[-1].startswith("tlsc plan:")
    if case == "fifo":
        assert "mx2/etc/mail/sendmail.mc is not a regular file" in result.output


@pytest.mark.parametrize("change", ["none", "binary", "not utf-8", "gone"])
def test_hashing_in_threads_gives_the_same_hashes(
    tmp_path: Path, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import compiler.plan.planner as planner

    spec = write(tmp_path / "cluster.yaml", SPEC)
    state = compile_to(OLDER, tmp_path / "state")
    CHANGES[change](state / "mx1" / ACCESS)
    monkeypatch.setattr(planner, "HASH_IN_THREAD", 1 << 40)
    expected = _plan(spec, state, None, [])
    monkeypatch.setattr(planner, "HASH_IN_THREAD", 0)  # every file in a thread
    assert _plan(spec, state, None, []) == expected
    assert [t for t in threading.enumerate() if t.name == "tlsc-hash"] == []
    doc = expected
    assert isinstance(doc, dict)
    entry = next(f for h in doc["hosts"] if h["host"] == "mx1" for f in h["files"])
    assert entry["after_sha256"] is not None


@pytest.mark.parametrize(
    "inputs", [[], [("a.access", "0" * 64)], [("b", "1" * 64), ("a", "2" * 64)]]
)
@pytest.mark.parametrize("data", [b"", b"version: 1\n", "\ufeffé".encode() * 100_000])
def test_the_spec_hashed_in_a_thread_has_spec_digest(
    data: bytes, inputs: list[tuple[str, str]]
) -> None:
    from compiler.plan.model import SpecHash, spec_digest

    hashed = SpecHash(data)
    assert hashed.digest(inputs) == spec_digest(data, inputs)
    assert hashed.digest(inputs) == spec_digest(data, inputs)  # asked again: the same
    assert hashed.digest() == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("change", ["none", "binary", "not utf-8", "gone"])
@pytest.mark.parametrize("ownership", ["all", "block"])
def test_a_consumed_observation_gives_the_same_host_plan(
    tmp_path: Path, change: str, ownership: str
) -> None:
    """planner.host(consume=True) takes each file's bytes out of the dict as it compares
    that file (make.py's callers: not held through the diff); the plan is the same."""
    from compiler.plan.desired import DesiredSpec, desired_from_text, managed_paths
    from compiler.plan.observe import read_tree
    from compiler.plan.planner import Planner

    state = compile_to(OLDER, tmp_path / "state")
    spec = SPEC
    if ownership == "block":
        spec = SPEC.replace("version: 1\n", "version: 1\ndefaults:\n  ownership: block\n")
        # the entries in the block: a host line outside it with a key the block writes
        # stops the plan (makemap would keep one of the two)
        for access in state.glob(f"*/{ACCESS}"):
            access.write_text(f"# BEGIN tlsc\n{access.read_text()}# END tlsc\n")
    CHANGES[change](state / "mx1" / ACCESS)
    desired = desired_from_text(spec, "cluster.yaml")
    assert isinstance(desired, DesiredSpec)
    for name in desired.hosts:
        host = desired.host(name)
        observed = read_tree(state / name, managed_paths(host.config))
        kept = dict(observed)
        for check_headers in (False, True):
            given = dict(kept)
            consumed = Planner(check_headers).host(host, given, consume=True)
            assert consumed == Planner(check_headers).host(host, kept)
            assert given == {}


KEYED = SPEC.replace(
    "  - Connect:127 RELAY\n",
    "  - Connect:127 RELAY\n"
    '  - "Connect:10.9.9.9 ERROR:\\"550 -----BEGIN RSA PRIVATE KEY----- no\\""\n'
    + "".join(f"  - Connect:10.8.{i // 250}.{i % 250} REJECT\n" for i in range(400)),
)


@pytest.mark.parametrize("spec_text", [SPEC, KEYED], ids=["plain", "key marker"])
@pytest.mark.parametrize("change", ["none", "binary", "not utf-8", "gone"])
@pytest.mark.parametrize("ownership", ["all", "block"])
def test_the_parts_of_a_text_wanted_give_the_plan_of_the_whole_text(
    tmp_path: Path, spec_text: str, change: str, ownership: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host's access text is compared, hashed and scanned as the parts it is joined
    from, a part the hosts share once for all (planner._wanted): the same host plans,
    with one planner for every host, as the whole text compared with a fresh one."""
    import compiler.plan.planner as planner
    from compiler.plan.desired import DesiredHost, DesiredSpec, desired_from_text, managed_paths
    from compiler.plan.observe import read_tree

    monkeypatch.setattr(planner, "SHARED_PART_MIN", 0)  # the parts of a small spec too
    if ownership == "block":
        spec_text = spec_text.replace("version: 1\n", "version: 1\ndefaults:\n  ownership: block\n")
    older = spec_text.replace("min_bits: 128", "min_bits: 112").replace(
        "Connect:127 RELAY", "Connect:10 OK"
    )
    state = compile_to(older, tmp_path / "state")
    write(state / "mx2" / ACCESS, (state / "mx2" / ACCESS).read_text() + "\0")
    CHANGES[change](state / "mx1" / ACCESS)
    desired = desired_from_text(spec_text, "cluster.yaml")
    assert isinstance(desired, DesiredSpec)
    shared = planner.Planner()
    for name in desired.hosts:
        host = desired.host(name)
        assert host.parts  # the access file's
        whole = DesiredHost(host.config, host.files)
        observed = read_tree(state / name, managed_paths(host.config))
        got = shared.host(host, dict(observed))
        assert got == planner.Planner().host(whole, dict(observed))
        if spec_text is KEYED and ownership == "all":
            access = next(f for f in got.files if f.path.endswith("/access"))
            assert access.diff == ""  # key material: no diff shown
    write(state / "mx1" / ACCESS, desired.host("mx1").files["/etc/mail/access"])
    again = desired.host("mx1")
    observed = read_tree(state / "mx1", managed_paths(again.config))
    plan = shared.host(again, observed)
    access_file = next(f for f in plan.files if f.path.endswith("/access"))
    if ownership == "all":  # the file as wanted: found equal part by part
        assert access_file.action == "unchanged"
        assert access_file.before_sha256 == access_file.after_sha256


def test_no_thread_to_be_had_reads_nothing_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    state = compile_to(SPEC, tmp_path / "state")

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    before = sys.getswitchinterval()
    monkeypatch.setattr(threading.Thread, "start", refuse)
    ahead = StatePrefetch(state)
    ahead.wait_idle()
    assert ahead.take("mx1") == {}
    ahead.close()
    ahead.close()  # twice: nothing left to stop
    assert sys.getswitchinterval() == before


def test_close_gives_the_switch_interval_back(tmp_path: Path) -> None:
    import sys

    before = sys.getswitchinterval()
    ahead = StatePrefetch(compile_to(SPEC, tmp_path / "state"))
    ahead.close()
    assert sys.getswitchinterval() == before
    assert _ahead_threads() == []


def test_a_plan_with_no_thread_to_be_had_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import compiler.plan.planner as planner

    spec = write(tmp_path / "cluster.yaml", SPEC)
    state = compile_to(OLDER, tmp_path / "state")
    monkeypatch.setattr(planner, "HASH_IN_THREAD", 0)
    expected = _plan(spec, state, None, [])

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    ahead = StatePrefetch(state)
    try:
        assert _plan(spec, state, ahead, []) == expected
    finally:
        ahead.close()
