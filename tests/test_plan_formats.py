"""compiler/plan/formats: json (the documented shape), text, markdown, and host grouping."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from plan_helpers import SPEC, plan_state, write

from compiler.plan.formats import json as json_format
from compiler.plan.formats import markdown, text
from compiler.plan.formats.grouping import group_hosts
from compiler.plan.make import PlanRequest, make_plan
from compiler.plan.model import Plan

CHANGED = SPEC.replace(
    "other.example.org: {outbound: encrypt}", "other.example.org: {outbound: verify}"
).replace(
    "outbound: {require: verify, min_bits: 128, cn: true, issuer_tag: MyCA}", "outbound: encrypt"
)


def sample(tmp_path: Path) -> Plan:
    return plan_state(tmp_path, SPEC, CHANGED)


def test_json_has_exactly_the_design_shape(tmp_path: Path) -> None:
    doc = json.loads(json_format.render(sample(tmp_path)))
    assert set(doc) == {"version", "changes", "hosts"}
    assert doc["version"] == 1 and doc["changes"] == 3
    for h in doc["hosts"]:
        assert set(h) == {"host", "files", "access", "actions", "warnings"}
        for f in h["files"]:
            assert set(f) == {"path", "action", "before_sha256", "after_sha256", "diff"}
            assert f["action"] in ("create", "update", "delete", "unchanged")
            for sha in (f["before_sha256"], f["after_sha256"]):
                assert sha is None or (len(sha) == 64 and int(sha, 16) >= 0)
            assert isinstance(f["diff"], str)
        assert set(h["access"]) == {"added", "removed", "changed"}
        for c in h["access"]["changed"]:
            assert set(c) == {"key", "old", "new"}
        for a in h["actions"]:
            assert set(a) == {"action", "description", "because", "command"}
        for w in h["warnings"]:
            assert set(w) == {"code", "severity", "downgrade", "message", "path", "lines"}
    mx1 = doc["hosts"][0]
    assert mx1["host"] == "mx1"
    assert {w["code"] for w in mx1["warnings"]} == {"P001", "P004"}
    assert mx1["warnings"][0]["lines"][0] == {
        "side": "before",
        "line": 10,
        "text": "TLS_Srv:secure.example.com\tVERIFY:128+CN++CITag:MyCA",
    }


def test_identical_hosts_are_grouped_and_different_ones_are_not(tmp_path: Path) -> None:
    groups = group_hosts(sample(tmp_path).hosts)
    assert [g.hosts for g in groups] == [["mx1", "mx2"], ["relay1"]]  # relay1 runs `after`
    assert not groups[0].names_differ


def test_hosts_whose_header_lines_name_themselves_still_group(tmp_path: Path) -> None:
    plan = plan_state(tmp_path, SPEC.replace("cluster: test", "cluster: old"), SPEC)
    (group,) = [g for g in group_hosts(plan.hosts) if "mx1" in g.hosts]
    assert group.hosts == ["mx1", "mx2"] and group.names_differ


def test_text_prints_a_group_once_with_exact_diffs(tmp_path: Path) -> None:
    out = text.render(sample(tmp_path))
    assert "mx1, mx2 (2 hosts with the same changes; shown for mx1)" in out
    assert out.count("+TLS_Srv:other.example.org\tVERIFY\n") == 2  # mx1+mx2 once, relay1 once
    assert "-TLS_Srv:other.example.org\tENCR:128\n" in out
    assert "access map: 0 added, 0 removed, 2 changed" in out
    assert "rebuild /etc/mail/access.db from /etc/mail/access (makemap hash)" in out
    assert "downgrade: P001 TLS for mail sent to secure.example.com weakens from verify" in out
    assert out.rstrip().endswith("tlsc apply will need --allow-downgrade.")
    assert "\033[" not in out


def test_text_colour_only_when_asked_and_on_a_terminal(tmp_path: Path) -> None:
    assert "\033[32m+" in text.render(sample(tmp_path), color=True)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert text.want_color(Tty(), {})
    assert not text.want_color(Tty(), {"NO_COLOR": "1"})
    assert not text.want_color(io.StringIO(), {})


def test_text_of_no_changes_lists_the_hosts(tmp_path: Path) -> None:
    out = text.render(plan_state(tmp_path, SPEC, SPEC))
    assert "No changes: mx1, mx2, relay1" in out
    assert out.rstrip().endswith("Plan: no changes on 3 hosts.")


def test_markdown_renders_with_marker_table_and_collapsed_diffs(tmp_path: Path) -> None:
    md = markdown.render(sample(tmp_path))
    assert md.splitlines()[0] == "<!-- tlsc-plan: " + str(tmp_path / "cluster.yaml") + " -->"
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert html.startswith("<!-- tlsc-plan: ")
    assert html.count("<details>") == 2 and "<summary><b>mx1, mx2</b>" in html
    assert '<code class="language-diff">' in html
    assert "+TLS_Srv:other.example.org\tVERIFY" in html
    assert "<table>" in html and "<td>mx1, mx2</td>" in html
    assert "[!CAUTION]" in md and "weaken TLS" in md
    assert "P004 certificate check +CN is dropped" in md


def test_markdown_keeps_a_huge_plan_under_githubs_limit(tmp_path: Path) -> None:
    many = "".join(f"  - Connect:10.0.{i // 250}.{i % 250} RELAY\n" for i in range(6000))
    big = SPEC + many
    md = markdown.render(plan_state(tmp_path, SPEC, big))
    assert len(md) < 65_536
    assert "does not fit in a comment" in md


def test_markdown_code_spans_survive_backticks_and_pipes() -> None:
    assert markdown.code("a`b") == "``a`b``"
    # a `|` is escaped only in a table cell, where GitHub's table reader takes `\|` for
    # it; anywhere else a code span would show the backslash
    assert markdown.code("x|y") == "`x|y`"
    assert markdown.code("x|y", cell=True) == "`x\\|y`"
    assert markdown.marker("a--b.yaml") == "<!-- tlsc-plan: a-b.yaml -->"


def _spec(n: int, own: Callable[[int], str] = lambda i: "", peer: str = "verify") -> str:
    """`n` hosts with long names (`own(i)`: host i's extra lines) and one TLS rule."""
    hosts = "".join(
        f"  mail-exchanger-{i:04}:\n    fqdn: mx{i}.example.net\n{own(i)}" for i in range(n)
    )
    rule = f"  peer.example.org: {{outbound: {peer}}}\n"
    return f"version: 1\ncluster: t\nhosts:\n{hosts}domains:\n{rule}"


#: the spec a plan of 900 hosts is made with, against _spec(900) committed
MANY = {
    "each host its own change": _spec(
        900, lambda i: f"    access: ['Connect:10.{i // 250}.{i % 250} REJECT']\n"
    ),
    "one downgrade on every host": _spec(900, peer="may"),
    "many hosts unchanged": _spec(
        900, lambda i: "" if i else "    access: ['Connect:10.9 REJECT']\n"
    ),
}


def _against_head(tmp_path: Path, old: str, new: str) -> Plan:
    """The plan of `new` against `old` committed in a scratch repository (--base HEAD)."""
    names = {
        f"GIT_{who}_{what}": "t" for who in ("AUTHOR", "COMMITTER") for what in ("NAME", "EMAIL")
    }
    env = {**os.environ, **names}
    spec = write(tmp_path / "cluster.yaml", old)
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "old"]):
        subprocess.run(["git", *args], cwd=tmp_path, env=env, check=True)
    write(spec, new)
    return make_plan(PlanRequest(str(spec), base="HEAD"))


@pytest.mark.parametrize(
    "shape",
    ["each host its own change", "one downgrade on every host", "many hosts unchanged"],
)
def test_markdown_of_many_hosts_stays_under_githubs_limit(tmp_path: Path, shape: str) -> None:
    """Only diffs were charged to the comment's budget: the table (a row per group of
    hosts), the details' other lines and host-name lists were not, so 900 hosts each
    with its own change made a 350,000-character comment GitHub refuses (HTTP 422,
    and the CI step posting it failed)."""
    plan = _against_head(tmp_path, _spec(900), MANY[shape])
    md = markdown.render(plan)
    assert len(md) < 65_536
    assert md.count("<details>") == md.count("</details>")
    assert md.splitlines()[0].startswith("<!-- tlsc-plan: ")
    rendered = MarkdownIt("commonmark").enable("table").render(md)
    assert "<table>" in rendered
    if shape == "each host its own change":
        assert "more hosts with changes do not fit in a comment" in md
    else:
        assert ", … and " in md and " more" in md  # a host list cut at a name
