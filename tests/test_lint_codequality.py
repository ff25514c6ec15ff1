"""`tlsc lint --format codequality`: GitLab's Code Quality report, checked against its format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema

from compiler.lint.codequality import format_codequality
from compiler.problems import Problem

SCHEMA = json.loads(
    (Path(__file__).parent / "fixtures" / "gitlab-codequality.schema.json").read_text("utf-8")
)
BAD = "divert(-1)dnl\nFEATURE (`access_db')dnl\ndefine(\u2018confCIPHER_LIST\u2019, `HIGH')dnl\n"


def test_fields_severities_and_fingerprints() -> None:
    problems = [
        Problem("./dir/x.mc", 3, 1, "M4001", "error", "typographic quote"),
        Problem("./dir/x.mc", 9, 1, "M4001", "error", "typographic quote"),
        Problem("dir/x.mc", 5, 2, "M4005", "warning", "no dnl"),
    ]
    issues = json.loads(format_codequality(problems))
    jsonschema.validate(issues, SCHEMA)
    assert [(i["check_name"], i["severity"], i["location"]) for i in issues] == [
        ("M4001", "major", {"path": "dir/x.mc", "lines": {"begin": 3}}),
        ("M4005", "minor", {"path": "dir/x.mc", "lines": {"begin": 5}}),
        ("M4001", "major", {"path": "dir/x.mc", "lines": {"begin": 9}}),
    ]
    assert len({i["fingerprint"] for i in issues}) == 3
    # a finding that only moves down keeps its fingerprint (GitLab shows it neither fixed nor new)
    moved = json.loads(
        format_codequality([Problem("dir/x.mc", 40, 1, "M4005", "warning", "no dnl")])
    )
    assert moved[0]["fingerprint"] == issues[1]["fingerprint"]
    assert format_codequality([]) == "[]\n"


def test_schema_rejects_what_gitlab_would() -> None:
    issue = json.loads(format_codequality([Problem("x.mc", 1, 1, "M4001", "error", "m")]))[0]
    for broken in (
        {**issue, "severity": "error"},
        {**issue, "location": {"path": "./x.mc", "lines": {"begin": 1}}},
        {k: v for k, v in issue.items() if k != "fingerprint"},
    ):
        try:
            jsonschema.validate([broken], SCHEMA)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"the schema accepted {broken}")


def test_command_writes_a_valid_report(tmp_path: Path) -> None:
    (tmp_path / "x.mc").write_text(BAD, encoding="utf-8")
    (tmp_path / "ok.mc").write_text("divert(-1)dnl\n", encoding="utf-8")
    env = {**os.environ, "NO_COLOR": "1"}
    run = [sys.executable, "-m", "compiler", "lint", "--format", "codequality"]
    proc = subprocess.run(
        [*run, "x.mc", "missing.mc"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 1, proc.stderr
    issues = json.loads(proc.stdout)
    jsonschema.validate(issues, SCHEMA)
    assert {(i["location"]["path"], i["check_name"]) for i in issues} == {
        ("x.mc", "M4013"),
        ("x.mc", "M4001"),
        ("missing.mc", "L000"),
    }
    clean = subprocess.run([*run, "ok.mc"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert (clean.returncode, clean.stdout) == (0, "[]\n")
