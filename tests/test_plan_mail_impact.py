"""`tlsc plan --logs FILE... [--max-deferred N]`: each added or changed TLS rule with the
mail it would have stopped in the logs (tests/fixtures/whatif.log, counted by hand in
tests/test_logs_whatif_command.py), in text, markdown and JSON, and the exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from plan_helpers import compile_to, write
from test_logs_whatif_command import SPEC

from compiler.cli import main
from compiler.plan.command import greedy

REPO = Path(__file__).resolve().parent.parent
LOG = REPO / "tests" / "fixtures" / "whatif.log"

#: what the state tree holds: bank.example only encrypted, no bare rule, no partner,
#: legacy or postmaster@ rule; the inbound 192.0.2 rule is unchanged
OLD = """\
version: 1
cluster: t
hosts:
  mx1: {fqdn: mx1.example.net}
  mx2: {fqdn: mx2.example.net, tls: {request_client_cert: true}}
domains:
  bank.example: {outbound: encrypt}
  "192.0.2": {inbound: encrypt}
"""


@pytest.fixture
def tree(tmp_path: Path) -> tuple[str, str]:
    spec = write(tmp_path / "cluster.yaml", SPEC)
    state = compile_to(OLD, tmp_path / "state")
    return str(spec), str(state)


def plan(tree: tuple[str, str], *args: str) -> Result:
    spec, state = tree
    return CliRunner().invoke(
        main,
        ["plan", spec, "--state", state, "--year", "2026", *args],
        catch_exceptions=False,
    )


def impacts(data: dict[str, Any], host: str) -> dict[str, dict[str, Any]]:
    entry = next(h for h in data["hosts"] if h["host"] == host)
    return {m["key"]: m for m in entry["mail_impact"]}


def test_json_has_each_changed_rule_with_its_mail(tree: tuple[str, str]) -> None:
    result = plan(tree, "--format", "json", "--logs", str(LOG))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mail_logs"] == {
        "files": 1,
        "lines": 28,
        "sessions": 12,
        "unknown_hosts": [{"host": "mta9", "sessions": 1}],
    }
    mx1 = impacts(data, "mx1")
    # the unchanged TLS_Clt:192.0.2 is not listed
    assert set(mx1) == {
        "TLS_Srv:",
        "TLS_Srv:bank.example",
        "TLS_Srv:partner.example",
        "Try_TLS:legacy.example",
        "TLS_Rcpt:postmaster@",
    }
    bank = mx1["TLS_Srv:bank.example"]
    assert (bank["change"], bank["old"], bank["value"]) == ("changed", "ENCR:128", "VERIFY")
    assert (bank["deferred"], bank["refused"], bank["peers"]) == (
        2,
        0,
        ["mx2.bank.example [198.51.100.2]"],
    )
    assert bank["summary"] == "would have deferred 2 messages to 1 server, 2026-11-26"
    # per host: mta9's session (not in the spec) is in no host's count
    bare = mx1["TLS_Srv:"]
    assert (bare["change"], bare["sessions"], bare["deferred"]) == ("added", 3, 2)
    assert bare["reasons"] == {"no_starttls": 1, "too_weak": 1}
    assert mx1["TLS_Rcpt:postmaster@"]["refused"] == 1
    assert (
        mx1["TLS_Srv:partner.example"]["unknown"],
        mx1["TLS_Srv:partner.example"]["deferred"],
    ) == (1, 1)
    # mx2 sent nothing: the same rules, no mail stopped
    mx2 = impacts(data, "mx2")
    assert set(mx2) == set(mx1)
    assert all(m["sessions"] == 0 and m["deferred"] == 0 for m in mx2.values())
    # the keys that were there stay as they were
    assert set(data["hosts"][0]) == {
        "host",
        "files",
        "access",
        "actions",
        "warnings",
        "mail_impact",
    }


def test_without_logs_the_json_is_as_before(tree: tuple[str, str]) -> None:
    data = json.loads(plan(tree, "--format", "json").stdout)
    assert "mail_logs" not in data
    assert all("mail_impact" not in h for h in data["hosts"])


def test_text(tree: tuple[str, str]) -> None:
    result = plan(tree, "--logs", str(LOG))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Mail in the logs (1 file, 12 sessions)" in out
    assert (
        "    ~ TLS_Srv:bank.example ENCR:128 -> VERIFY: would have deferred 2 messages"
        " to 1 server, 2026-11-26"
    ) in out
    assert "    + TLS_Rcpt:postmaster@ PERM+VERIFY: would have refused 1 message to 1 server" in out
    assert "sessions of hosts not in the spec, not counted: mta9 (1)" in out


def test_markdown(tree: tuple[str, str]) -> None:
    result = plan(tree, "--format", "markdown", "--logs", str(LOG))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "#### Mail in the logs" in out
    assert "> **5 rule changes would have stopped mail in the logs.**" in out
    assert (
        "| mx1 | `TLS_Srv:bank.example` | `ENCR:128` → `VERIFY` |"
        " **would have deferred 2 messages to 1 server, 2026-11-26** |"
    ) in out
    assert (
        "| mx2 | `TLS_Srv:bank.example` | `ENCR:128` → `VERIFY` | would have stopped no mail" in out
    )


def test_logs_take_several_files_after_one_option(tree: tuple[str, str], tmp_path: Path) -> None:
    second = write(tmp_path / "mail.log.1", LOG.read_text(encoding="utf-8"))
    result = plan(tree, "--format", "json", "--logs", str(LOG), str(second), "--host", "mx1")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mail_logs"]["files"] == 2
    assert data["mail_logs"]["sessions"] == 24
    # the same messages twice are still the same messages
    assert impacts(data, "mx1")["TLS_Srv:bank.example"]["deferred"] == 2
    assert greedy(["s.yaml", "--logs", "a", "b", "--host", "x", "c"], "--logs") == [
        "s.yaml",
        "--logs",
        "a",
        "--logs",
        "b",
        "--host",
        "x",
        "c",
    ]
    assert greedy(["--logs=a", "-", "--", "b"], "--logs") == ["--logs=a", "--logs", "-", "--", "b"]


@pytest.mark.parametrize(("limit", "code"), [("1", 1), ("2", 0), ("0", 1)])
def test_max_deferred(tree: tuple[str, str], limit: str, code: int) -> None:
    result = plan(tree, "--logs", str(LOG), "--max-deferred", limit)
    assert result.exit_code == code, result.output
    assert "Mail in the logs" in result.stdout  # the plan is printed either way
    if code:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("tlsc plan: TLS_Srv: ENCR:256 on mx1 would have stopped 2")
        assert f"more than --max-deferred {limit}" in lines[0]
    else:
        assert result.stderr == ""


def test_max_deferred_needs_logs_and_a_missing_log_fails(tree: tuple[str, str]) -> None:
    result = plan(tree, "--max-deferred", "3")
    assert result.exit_code == 1
    assert "--max-deferred needs --logs" in result.stderr
    result = plan(tree, "--logs", "/nonexistent/mail.log")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "/nonexistent/mail.log" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_plan_without_logs_imports_no_logs_code(tree: tuple[str, str]) -> None:
    spec, state = tree
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "compiler", "plan", spec, "--state", state],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "compiler.plan.make" in imported
    assert not any(name.startswith("compiler.logs") for name in imported)
    assert "compiler.plan.impact" not in imported
