"""A plan lets go of the `access:` entries' texts once they are checked
(validate(..., release=True), as DesiredSpec does): the same problems, at the same
places, and the same bytes rendered for every host as when they are kept.

The shapes are those where letting go could go wrong: the cluster's list read
by several sets of rules (a host with entries of its own reads it too), a
host's own list, lists mixed with `{file: ...}` items, the fast loader's list
and the general loader's, entries that are not canonical as written, refused
ones, keys that collide (found after the texts are gone), IPv6 keys under
UseCompressedIPv6Addresses, one host alone (its body lent to its file).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_accessbulk import CANONICAL_SAMPLES, entry_text

from compiler.plan.desired import DesiredSpec
from compiler.render import render_host
from compiler.resolve import resolve
from compiler.sendmail import accessbulk
from compiler.spec import loader
from compiler.spec.loader import SpecLoadError, load_text
from compiler.spec.validate import validate

HEAD = "version: 1\ncluster: t\n"


def _entries(n: int, prefix: str) -> str:
    lines = [f"  - Connect:10.{prefix}.{i // 250}.{i % 250} REJECT\n" for i in range(n)]
    lines += [
        f'  - "Connect:10.{prefix}.250.1 ERROR:\\"550 go away\\""\n',
        f"  - connect:10.{prefix}.250.2   ok\n",  # not canonical as written
        f"  - Connect:IPv6:2001:db8::{prefix} REJECT\n",  # nor this
        f"  - TLS_Srv:{prefix}.example ENCR:128\n",
    ]
    return "".join(lines)


def _hosts(*names: str, own: dict[str, str] | None = None, defines: str = "") -> str:
    out = "hosts:\n"
    for name in names:
        out += f"  {name}:\n    fqdn: {name}.example.net\n"
        if defines:
            out += f"    mc:\n      defines:\n        {defines}\n"
        if own and name in own:
            out += own[name]
    return out


SPECS = {
    "one host": HEAD + _hosts("mx1") + "access:\n" + _entries(80, "1"),
    "a host with its own": HEAD
    + _hosts(
        "mx1",
        "mx2",
        "mx3",
        own={"mx1": "    access:\n" + _entries(70, "2").replace("  -", "      -")},
    )
    + "access:\n"
    + _entries(90, "3"),
    "files among the items": HEAD
    + _hosts(
        "mx1",
        "mx2",
        own={"mx2": "    access:\n      - Connect:10.9.9.9 OK\n      - {file: own.access}\n"},
    )
    + "access:\n  - Connect:10.8.8.8 OK\n  - {file: big.access}\n"
    + _entries(70, "4"),
    "keys that collide": HEAD
    + _hosts("mx1", "mx2", own={"mx1": "    access:\n      - Connect:10.5.0.1 OK\n"})
    + "access:\n"
    + _entries(70, "5"),
    "refused entries": HEAD
    + _hosts("mx1")
    + "access:\n"
    + _entries(70, "6")
    + "  - Connect:10.6.1.1\n  - Bogus:x OK\n",
    "compressed IPv6": HEAD
    + _hosts("mx1", defines="confUSE_COMPRESSED_IPV6_ADDRESSES: 'True'")
    + "access:\n"
    + _entries(70, "7"),
    "short lists": HEAD
    + _hosts("mx1", "mx2", own={"mx2": "    access:\n      - Connect:10.1.1.1 OK\n"})
    + "access:\n  - Connect:10.2.2.2 REJECT\n  - connect:10.3.3.3 ok\n",
}


@pytest.fixture(params=sorted(SPECS))
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    (tmp_path / "big.access").write_text(
        "".join(f"Connect:10.20.{i // 250}.{i % 250}\tREJECT\n" for i in range(100))
        + "connect:10.21.0.1 ok\nConnect:10.5.0.1 REJECT\n"
    )
    (tmp_path / "own.access").write_text("Connect:10.22.0.1 RELAY\n# a comment\n")
    path = tmp_path / "cluster.yaml"
    path.write_text(SPECS[request.param])
    return path


@pytest.fixture(params=["fast loader", "general loader"])
def fast(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "FAST_PATH_BYTES", 0 if request.param == "fast loader" else 1 << 40)


@pytest.fixture(params=["in blocks of 7", "whole"])
def blocks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.param == "in blocks of 7":
        monkeypatch.setattr(accessbulk, "_BLOCK", 7)


def _outcome(path: Path, release: bool) -> tuple[list[str], dict[str, dict[str, str]]]:
    try:
        loaded = load_text(path.read_text(), str(path))
    except SpecLoadError as exc:
        return [f"{p.line}:{p.col} {p.code} {p.message}" for p in exc.problems], {}
    checked = validate(loaded, release=release)
    problems = [f"{p.line}:{p.col} {p.code} {p.message}" for p in checked.problems]
    if not checked.ok:
        return problems, {}
    assert checked.cluster is not None and checked.rules is not None
    files = {
        name: render_host(resolve(checked.cluster, name), str(path), checked.rules)
        for name in sorted(checked.cluster.hosts)
    }
    return problems, files


@pytest.mark.usefixtures("fast", "blocks")
def test_letting_go_of_the_texts_changes_nothing(spec: Path) -> None:
    kept = _outcome(spec, release=False)
    let_go = _outcome(spec, release=True)
    assert let_go == kept
    assert kept[0] or kept[1]  # something was checked or rendered


@pytest.mark.usefixtures("fast")
def test_a_plan_reads_no_text_once_let_go_of(spec: Path) -> None:
    """The model's lists are let go of too: a reader of them fails loudly (never
    reads an empty list), and every host still renders as validate without it."""
    desired = DesiredSpec(load_text(spec.read_text(), str(spec)))
    if not desired.ok:
        return
    cluster = desired.cluster
    for block in [cluster, *cluster.hosts.values()]:
        if len(block.access):
            with pytest.raises(RuntimeError):
                list(block.access)
    _, kept = _outcome(spec, release=False)
    for name in desired.hosts:
        assert desired.host(name).files == kept[name]
        assert desired.host(name).files == kept[name]  # rendered again: the body lent


#: a list's items: entry texts of every kind (canonical, to be parsed, refused, hostile)
_valid = st.one_of(
    st.sampled_from(CANONICAL_SAMPLES).map(lambda t: t.replace("10.1.2", f"10.{len(t)}.2")),
    st.integers(0, 10**6).map(lambda n: f"Connect:10.{n % 250}.{n // 250 % 250}.{n % 7} OK"),
    st.integers(0, 10**6).map(lambda n: f"connect:10.{n % 250}.{n // 250 % 250}.9   ok"),
)
_items = st.lists(
    st.one_of(_valid, _valid, _valid, _valid, _valid, _valid, entry_text.filter(
        lambda t: "\n" not in t and "\r" not in t
    )),
    max_size=9,
)  # fmt: skip


@settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cluster=_items, own=st.lists(st.one_of(st.none(), _items), min_size=1, max_size=3))
def test_letting_go_of_any_lists_texts_changes_nothing(
    cluster: list[str], own: list[list[str] | None], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Generated lists (the cluster's and some hosts' own), each item double-quoted as
    JSON writes it: the same problems and bytes whether the texts are kept or not, by
    the fast loader and the bulk check, blocks of two entries at a time."""
    names = [f"mx{i}" for i in range(len(own))]
    text = HEAD + "hosts:\n"
    for name, items in zip(names, own, strict=True):
        text += f"  {name}:\n    fqdn: {name}.example.net\n"
        if items:
            text += "    access:\n" + "".join(
                f"      - {json.dumps(t, ensure_ascii=False)}\n" for t in items
            )
    if cluster:
        text += "access:\n" + "".join(f"  - {json.dumps(t, ensure_ascii=False)}\n" for t in cluster)
    path = tmp_path_factory.mktemp("spec") / "cluster.yaml"
    path.write_text(text)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loader, "FAST_PATH_BYTES", 0)
        mp.setattr(accessbulk, "SMALL", 0)
        mp.setattr(accessbulk, "_BLOCK", 2)
        assert _outcome(path, release=True) == _outcome(path, release=False)
