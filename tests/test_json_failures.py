"""`--format json` when the spec stops a command: plan (and plan --base), doctor, verify
and logs --spec (and a --propose that does not parse or validate).

A spec that is not valid or cannot be read prints on stdout exactly the problem
list `tlsc validate SPEC --format json` prints for it, and a --host the spec
lacks the list `tlsc compile --host NAME --format json` prints (S300); stderr
keeps the one sentence, and the exit is 1. Every run is a real process, all
started together once (see `runs`).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import MINIMAL_SPEC, cli_command, cli_env, write_spec

#: what is wrong with the spec -> its text (None: no such file)
SPECS: dict[str, str | None] = {
    "yaml": "x: [\n",
    "invalid": MINIMAL_SPEC + "    tls:\n      enabled: maybe\nbogus: 1\n",
    # a value refused before a duplicate key: validate puts them in file order
    "duplicate": "bogus: 1\n" + MINIMAL_SPEC.replace("cluster: test\n", "cluster: a\ncluster: b\n"),
    "unreadable": None,
    "host": MINIMAL_SPEC,
}

COMMANDS = ("plan", "doctor", "verify", "logs")

#: the sentence each command ends with on stderr: (not valid, cannot be read, no such host)
SENTENCES = {
    "plan": (
        "tlsc plan: {spec} is not valid; nothing was planned",
        "tlsc plan: cannot read the spec {spec}: No such file or directory",
        "tlsc plan: no host named 'mx9' in {spec}; hosts are mx1",
    ),
    "doctor": (
        "tlsc doctor: {spec} is not valid; nothing was checked",
        "tlsc doctor: cannot read {spec}: no such file",
        "tlsc doctor: no host named 'mx9' in {spec}; hosts are mx1",
    ),
    "verify": (
        "tlsc verify: {spec} is not valid; nothing was probed",
        "tlsc verify: cannot read {spec}: no such file",
        "tlsc verify: no host named 'mx9' in {spec}; hosts are mx1",
    ),
    "logs": (
        "tlsc: {spec} is not valid; nothing was evaluated",
        "tlsc: {spec} is not valid; nothing was evaluated",
        "",
    ),
}

CASES = [(c, k) for c in COMMANDS for k in SPECS if not (c == "logs" and k == "host")]


def _args(command: str, kind: str, spec: Path, tmp: Path) -> list[str | Path]:
    host = ["--host", "mx9" if kind == "host" else "mx1"]
    if command == "plan":
        return ["plan", spec, "--state", tmp / "state", *host]
    if command == "doctor":
        return ["doctor", spec, "--root", tmp, *host]
    if command == "verify":  # a spec that stops it: nothing is probed
        return ["verify", spec, *(host if kind == "host" else [])]
    return ["logs", tmp / "mail.log", "--spec", spec]


@dataclass(frozen=True)
class Run:
    rc: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Run]]:
    """Every run of this module: each case, and validate (compile --host) on its spec."""
    tmp = tmp_path_factory.mktemp("json-failures")
    (tmp / "state").mkdir()
    (tmp / "mail.log").write_text("", encoding="utf-8")
    jobs: dict[str, tuple[Path, list[str | Path]]] = {}
    for kind, text in SPECS.items():
        spec = tmp / f"{kind}.yaml"
        if text is not None:
            write_spec(tmp, text, spec.name)
        if kind == "host":
            reference = ["compile", spec, "--out", tmp / "out", "--host", "mx9"]
        else:
            reference = ["validate", spec]
        jobs[kind] = (spec, [*reference, "--format", "json"])
    for command, kind in CASES:
        spec = jobs[kind][0]
        jobs[f"{command}-{kind}"] = (spec, [*_args(command, kind, spec, tmp), "--format", "json"])
    started = {
        name: (
            spec,
            subprocess.Popen(
                cli_command(*args),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=cli_env(),
                cwd=tmp,
            ),
        )
        for name, (spec, args) in jobs.items()
    }
    out = {}
    for name, (spec, proc) in started.items():
        stdout, stderr = proc.communicate(timeout=120)
        out[name] = (spec, Run(proc.returncode, stdout, stderr))
    return out


@pytest.mark.parametrize(("command", "kind"), CASES, ids=[f"{c}-{k}" for c, k in CASES])
def test_a_spec_that_stops_the_command_prints_validates_json(
    runs: dict[str, tuple[Path, Run]], command: str, kind: str
) -> None:
    spec, run = runs[f"{command}-{kind}"]
    _, reference = runs[kind]
    assert reference.rc == 1 and reference.stderr == ""
    expected = json.loads(reference.stdout)
    assert expected and all(p["path"] == str(spec) for p in expected)
    assert (kind == "unreadable") == (expected[0]["code"] == "Y000")
    assert (kind == "host") == (expected[-1]["code"] == "S300")
    assert run.rc == 1, run.stderr
    assert json.loads(run.stdout) == expected
    assert run.stdout == reference.stdout  # the same bytes, not only the same list
    which = {"unreadable": 1, "host": 2}.get(kind, 0)
    assert run.stderr == SENTENCES[command][which].format(spec=spec) + "\n"


def _run(*args: str | Path, cwd: Path) -> Run:
    done = subprocess.run(
        cli_command(*args), capture_output=True, text=True, env=cli_env(), cwd=cwd, timeout=120
    )
    return Run(done.returncode, done.stdout, done.stderr)


def _git(repo: Path, *args: str) -> None:
    env = {
        **cli_env(),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.net",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.net",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, check=True)


BASE_KINDS = ("yaml", "invalid", "duplicate")


@pytest.mark.parametrize("kind", BASE_KINDS)
def test_plan_base_prints_the_old_specs_problems_as_validate_did_at_that_revision(
    tmp_path: Path, kind: str
) -> None:
    """The spec at --base REV is not valid: its problems as `tlsc validate` printed them
    for the file at that revision, path as the plan's sentence names it; text unchanged."""
    text = SPECS[kind]
    assert text is not None
    spec = write_spec(tmp_path, text)
    (tmp_path / "state").mkdir()
    reference = _run("validate", spec, "--format", "json", cwd=tmp_path)
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", spec.name)
    _git(tmp_path, "commit", "-q", "-m", "old")
    write_spec(tmp_path, MINIMAL_SPEC)  # the spec now is valid
    args = ("plan", spec, "--base", "HEAD")
    run = _run(*args, "--format", "json", cwd=tmp_path)
    assert reference.rc == 1 and json.loads(reference.stdout)
    assert run.rc == 1, run.stderr
    assert run.stdout == reference.stdout
    sentence = f"tlsc plan: {spec} at HEAD is not valid, so there is nothing to compare with ("
    assert run.stderr.startswith(sentence) and run.stderr.count("\n") == 1
    assert _run(*args, cwd=tmp_path) == Run(1, "", run.stderr)  # text: the sentence alone


#: a --propose that does not parse or validate -> (line, col, code) in its own text
PROPOSALS = {
    "x: [": (2, 1, "Y001"),
    "a: 1, b: 2": (1, 8, "Y001"),
    "bank.example: {outbound: {require: verfy}}": (1, 36, "S103"),
    "": (1, 1, "Y005"),
    "[a, b]": (1, 1, "Y005"),
    "a.example: verify, b.example: verify": (1, 29, "Y001"),
    "{a.example: verify, b.example: verify}": (1, 1, "Y005"),
    "domains: {a.example: verify, b.example: verify}": (1, 1, "Y005"),
}


@pytest.mark.parametrize("proposal", PROPOSALS, ids=ascii)
def test_logs_propose_prints_the_proposals_problems_at_its_own_position(
    tmp_path: Path, proposal: str
) -> None:
    spec = write_spec(tmp_path, MINIMAL_SPEC)
    (tmp_path / "mail.log").write_text("", encoding="utf-8")
    args = ("logs", tmp_path / "mail.log", "--spec", spec, "--propose", proposal)
    run = _run(*args, "--format", "json", cwd=tmp_path)
    assert run.rc == 1, run.stderr
    problems = json.loads(run.stdout)
    label = f"--propose {proposal!r}"
    line, col, code = PROPOSALS[proposal]
    assert [(p["path"], p["line"], p["col"], p["code"]) for p in problems][:1] == [
        (label, line, col, code)
    ]
    assert all(p["path"] == label and p["severity"] == "error" for p in problems)
    # the sentence on stderr names the first at the same place, text as before
    first = problems[0]
    where = f"tlsc: {label}:{line}:{col}: " if code != "Y005" else f"tlsc: {label}: "
    assert run.stderr == where + first["message"] + "\n"
    assert _run(*args, cwd=tmp_path) == Run(1, "", run.stderr)
