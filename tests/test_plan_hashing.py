"""The hashes a plan records: made in threads (model.ThreadedSha256), a few hosts ahead
with --base, and never of anything but the bytes compared."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from plan_helpers import compile_to, write
from test_plan_observe import committed

from compiler.compile import output_path
from compiler.plan import make, planner
from compiler.plan.make import PlanRequest, make_plan
from compiler.plan.model import Plan, ThreadedSha256


@pytest.mark.parametrize("threaded_from", [0, 1 << 40])
@pytest.mark.parametrize(
    "chunks", [[b""], [b"a" * 100_000], [b"x\n", b"", b"y" * 70_000, b"z\n"], []]
)
def test_the_hash_is_of_the_chunks_given_though_the_list_is_emptied(
    chunks: list[bytes], threaded_from: int
) -> None:
    want = hashlib.sha256(b"".join(chunks)).hexdigest()
    given = list(chunks)
    h = ThreadedSha256(given, threaded_from=threaded_from)
    given.clear()  # what Planner._compare does once the file wanted is scanned
    assert h.value() == want


def test_no_file_has_no_hash_and_a_known_one_is_not_made_again() -> None:
    assert ThreadedSha256(None).value() is None
    assert ThreadedSha256(None, known="ab").value() is None
    assert ThreadedSha256(b"data", known="ab").value() == "ab"


def spec(hosts: list[str], entries: int, rule: str) -> str:
    """A cluster of `hosts` sharing an access list big enough to be hashed in threads."""
    lines = [
        "version: 1",
        "cluster: hashing",
        "hosts:",
        *(f"  {h}: {{fqdn: {h}.example.net}}" for h in hosts),
        "domains:",
        f"  bank.example: {{outbound: {rule}}}",
        "access:",
        *(
            f"  - Connect:10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} REJECT"
            for i in range(entries)
        ),
    ]
    return "\n".join(lines) + "\n"


def files_of(plan: Plan) -> dict[str, list[tuple[str, str, str | None, str | None]]]:
    return {
        h.host: [(f.path, f.action, f.before_sha256, f.after_sha256) for f in h.files]
        for h in plan.hosts
    }


def test_base_hashes_ahead_and_agrees_with_the_state_tree_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 50,000 entries: an access file of more than planner.HASH_IN_THREAD bytes
    entries = 50_000
    hosts = ["mx1", "mx2", "mx3", "mx4", "mx5"]
    old = spec(hosts, entries, "encrypt")
    new = spec([*hosts[:4], "mx6"], entries + 1, "verify")  # mx5 goes, mx6 comes
    repo = committed(tmp_path / "repo", "cluster.yaml", old)
    write(repo / "cluster.yaml", new)
    state = compile_to(old, tmp_path / "state")
    assert (state / "mx1/etc/mail/access").stat().st_size > planner.HASH_IN_THREAD
    # ahead by fewer hosts than there are, and by more
    for ahead in (1, 2, 10):
        monkeypatch.setattr(make, "BASE_AHEAD", ahead)
        base = make_plan(PlanRequest(str(repo / "cluster.yaml"), base="HEAD"))
        assert [h.host for h in base.hosts] == ["mx1", "mx2", "mx3", "mx4", "mx5", "mx6"]
        by_state = make_plan(PlanRequest(str(repo / "cluster.yaml"), state=str(state)))
        assert files_of(base) | {"mx5": []} == files_of(by_state) | {"mx5": []}
        assert files_of(base)["mx5"] == [
            (
                path,
                "delete",
                hashlib.sha256(output_path(state, "mx5", path).read_bytes()).hexdigest(),
                None,
            )
            for path, *_ in files_of(by_state)["mx1"]
        ]
    # the hashes are of the bytes on each side
    compiled = compile_to(new, tmp_path / "new")
    for name, files in files_of(by_state).items():
        for path, action, before, after in files:
            was = output_path(state, name, path)
            now = output_path(compiled, name, path)
            assert before == (
                hashlib.sha256(was.read_bytes()).hexdigest() if was.exists() else None
            )
            assert after == hashlib.sha256(now.read_bytes()).hexdigest()
            assert action == (
                "create" if name == "mx6" else "update" if before != after else "unchanged"
            )
