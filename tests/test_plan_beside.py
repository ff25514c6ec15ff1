"""compiler/plan/beside.py: half of the hosts planned in a forked copy, and the plan and
every error exactly those of planning each host in turn."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from plan_helpers import SPEC, compile_to, write

from compiler.plan import beside
from compiler.plan.make import PlanRequest, make_plan

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or beside.cores() < 2, reason="needs fork and two cores"
)

NAMES = [f"h{i:02}" for i in range(9)]


class Refused(Exception):
    pass


def planned(name: str, given: str) -> tuple[str, str, int]:
    """A plan that says which process made it."""
    return name, given, os.getpid()


def in_turn(names: list[str], plan) -> object:  # type: ignore[no-untyped-def]
    try:
        return [plan(n, f"got {n}") for n in names]
    except Exception as exc:
        return repr(exc)


def beside_hosts(names: list[str], plan) -> object:  # type: ignore[no-untyped-def]
    try:
        return beside.hosts(names, plan, lambda n: f"got {n}", "again", beside.BESIDE_FROM)
    except Exception as exc:
        return repr(exc)


def test_the_first_half_is_planned_in_a_copy_and_comes_back_in_order() -> None:
    out = beside.hosts(NAMES, planned, lambda n: f"got {n}", "again", beside.BESIDE_FROM)
    assert [(n, g) for n, g, _ in out] == [(n, f"got {n}") for n in NAMES]
    pids = [pid for _, _, pid in out]
    assert set(pids[4:]) == {os.getpid()}
    assert len(set(pids[:4])) == 1 and pids[0] != os.getpid()


@pytest.mark.parametrize(
    ("names", "size"), [(NAMES[:1], beside.BESIDE_FROM), (NAMES, beside.BESIDE_FROM - 1)]
)
def test_one_host_or_little_to_compare_is_planned_here(names: list[str], size: int) -> None:
    out = beside.hosts(names, planned, lambda n: f"got {n}", "again", size)
    assert {pid for _, _, pid in out} == {os.getpid()}


@pytest.mark.parametrize(
    "failing",
    [{"h01"}, {"h06"}, {"h02", "h07"}, {"h08", "h00"}, {"h03"}, {"h04"}, set(NAMES)],
)
def test_the_error_is_the_first_host_s_as_in_turn(failing: set[str]) -> None:
    def plan(name: str, given: str) -> tuple[str, str]:
        if name in failing:
            raise Refused(f"host {name} cannot be planned")
        return name, given

    want = in_turn(NAMES, plan)
    assert want == f"Refused('host {min(failing)} cannot be planned')"
    assert beside_hosts(NAMES, plan) == want


def test_a_copy_that_dies_is_made_up_for_here() -> None:
    parent = os.getpid()

    def plan(name: str, given: str) -> tuple[str, str]:
        if os.getpid() != parent and name == "h02":
            os.kill(os.getpid(), signal.SIGKILL)
        return name, given

    # the copy's hosts are planned here again, given what nothing read ahead gives
    want = [(n, "again" if n < "h04" else f"got {n}") for n in NAMES]
    assert beside_hosts(NAMES, plan) == want


def test_an_interrupt_here_stops_and_reaps_the_copy() -> None:
    parent = os.getpid()

    def plan(name: str, given: str) -> str:
        if os.getpid() == parent and name == "h05":
            raise KeyboardInterrupt
        if os.getpid() != parent:
            signal.pause()  # the copy would wait forever
        return name

    with pytest.raises(KeyboardInterrupt):
        beside.hosts(NAMES, plan, lambda n: n, "again", beside.BESIDE_FROM)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no copy left, not even a zombie


def test_a_state_plan_is_the_same_made_beside_or_in_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts = "".join(f"  mx{i}: {{fqdn: mx{i}.example.net}}\n" for i in (0, 1, 3, 4, 5, 6))
    new = SPEC.replace("  mx1: {fqdn: mx1.example.net}\n", hosts)
    old = new.replace("  other.example.org: {outbound: encrypt}\n", "")
    spec = write(tmp_path / "cluster.yaml", new)
    state = compile_to(old, tmp_path / "state")
    (state / "mx3/etc/mail/access").write_text("Connect:10 REJECT\n")  # a hand edit
    for path in (state / "mx5").rglob("*"):
        if path.is_file():
            path.unlink()  # P108's "no directory" is another story: an empty one

    def plan() -> dict[str, object]:
        return make_plan(PlanRequest(str(spec), state=str(state))).to_json()

    monkeypatch.setattr(beside, "BESIDE_FROM", 10**12)
    in_turn_plan = plan()
    monkeypatch.setattr(beside, "BESIDE_FROM", 0)
    forks = []
    start = beside._Child.start

    def counted(work):  # type: ignore[no-untyped-def]
        child = start(work)
        forks.append(child)
        return child

    monkeypatch.setattr(beside._Child, "start", counted)
    assert json.dumps(plan(), sort_keys=True) == json.dumps(in_turn_plan, sort_keys=True)
    assert len(forks) == 1 and forks[0] is not None
