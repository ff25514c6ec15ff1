"""Access files a spec names (`access: [{file: PATH}]`, compiler/spec/accessfiles.py).

Every kind of problem with such a file, each as one FILE:LINE:COL sentence;
its entries in place in the access file tlsc writes; its entries checked in
bulk exactly as parse_entry checks them one by one (generated lines); the plan's
spec digest covering the file (a saved plan goes stale, apply refuses it); and
plan --base reading the file as committed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from test_accessbulk import CANONICAL_SAMPLES
from test_accessmap_fast import PROFILE, key, value

from compiler.compile import compile_file
from compiler.plan.make import PlanRequest, make_plan
from compiler.plan.model import spec_digest
from compiler.plan.saved import load_saved_plan, spec_changed
from compiler.problems import scrub_message
from compiler.sendmail import accessbulk
from compiler.sendmail.accessmap import parse_entry
from compiler.spec.loader import load_text
from compiler.spec.validate import validate

SPEC = """\
version: 1
cluster: files
hosts:
  mx1: {fqdn: mx1.example.net}
access:
  - Connect:127 RELAY
  - file: block.access
  - To:postmaster@example.net OK
"""
BLOCK = "# the abuse desk's list\nConnect:10.1.1.1\tREJECT\n\nConnect:10.1.1.2\tREJECT\n"

_SMALL = accessbulk.SMALL


def setup_module() -> None:
    """Lists of any size take the bulk path here (small ones skip it elsewhere)."""
    accessbulk.SMALL = 0


def teardown_module() -> None:
    accessbulk.SMALL = _SMALL


def _write(tmp_path: Path, spec: str = SPEC, **files: str | bytes) -> Path:
    for name, content in {"block.access": BLOCK, **files}.items():
        path = tmp_path / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    spec_path = tmp_path / "cluster.yaml"
    spec_path.write_text(spec, encoding="utf-8")
    return spec_path


def _problems(spec_path: Path) -> list[str]:
    result = compile_file(spec_path)
    return [f"{Path(p.path).name}:{p.line}:{p.col}: {p.code} {p.message}" for p in result.problems]


def test_entries_stand_in_place(tmp_path: Path) -> None:
    spec_path = _write(tmp_path)
    result = compile_file(spec_path)
    assert result.ok, result.problems
    access = result.hosts["mx1"]["/etc/mail/access"]
    body = access.split("# access: entries\n", 1)[1]
    assert body == (
        "Connect:127\tRELAY\n"
        "Connect:10.1.1.1\tREJECT\n"
        "Connect:10.1.1.2\tREJECT\n"
        "To:postmaster@example.net\tOK\n"
    )


HOST_SPEC = """\
version: 1
cluster: files
hosts:
  mx1:
    fqdn: mx1.example.net
    access:
      - file: lists/mx1.access
access:
  - file: block.access
  - To:postmaster@example.net OK
"""


def test_space_separated_and_host_files(tmp_path: Path) -> None:
    files = {
        "block.access": "Connect:10.1.1.1 REJECT\n",
        "lists__mx1.access": "From:a@b.example OK",
    }
    result = compile_file(_write(tmp_path, HOST_SPEC, **files))
    assert result.ok, result.problems
    access = result.hosts["mx1"]["/etc/mail/access"]
    body = access.split("# access: entries\n", 1)[1].split("# ", 1)[0]
    assert body == (
        "Connect:10.1.1.1\tREJECT\nTo:postmaster@example.net\tOK\nFrom:a@b.example\tOK\n"
    )


@pytest.mark.parametrize(
    ("spec_extra", "files", "expected"),
    [
        (
            "  - file: missing.access\n",
            {},
            ["cluster.yaml:9:11: S226 cannot read the access file {d}/missing.access:"
             " No such file or directory"],
        ),
        (
            "  - file: adir\n",
            {"adir__x": ""},
            ["cluster.yaml:9:11: S226 cannot read the access file {d}/adir: it is a directory,"
             " not a regular file"],
        ),
        (
            "  - file: bad.access\n",
            {"bad.access": b"Connect:1 OK\nConnect:2 \xffOK\n"},
            ["bad.access:2:11: S226 the access file {d}/bad.access is not valid UTF-8"],
        ),
        (
            "  - file: crlf.access\n",
            {"crlf.access": "Connect:1 OK\r\n"},
            ["crlf.access:1:13: S226 the access file {d}/crlf.access has Windows line ends"
             " (CR LF), and makemap would keep each CR in its value; save it with LF line ends"],
        ),
        (
            "  - file: bom.access\n",
            {"bom.access": "\ufeffConnect:1 OK\n"},
            ["bom.access:1:1: S226 the access file {d}/bom.access starts with a byte order"
             " mark, which makemap would read as part of its first key; save it without one"
             " (tlsc lint --fix takes it out)"],
        ),
        (
            "  - file: bidi.access\n",
            {"bidi.access": "Connect:1 OK\nConnect:2 REJECT # \u202eKO\n"},
            ["bidi.access:2:20: S226 the access file {d}/bidi.access holds the character"
             " U+202E (RIGHT-TO-LEFT OVERRIDE), which makes a diff show the line in another"
             " order than makemap reads it; remove it"],
        ),
        (
            "  - file: ./block.access\n",
            {},
            ["cluster.yaml:9:11: S226 access.3 names {d}/block.access again (access.1 reads"
             " it already); name each file once"],
        ),
        (
            "  - file: /etc/passwd\n",
            {},
            ["cluster.yaml:9:11: S104 access.3.file: '/etc/passwd' is an absolute path; write it"
             " relative to the spec's directory, so that the spec reads the same file wherever"
             " it is checked out"],
        ),
        (
            "  - file: 12\n",
            {},
            ["cluster.yaml:9:11: S102 access.3.file must be a string, not a number"],
        ),
        (
            "  - {file: x.access, mode: strict}\n",
            {"x.access": "Connect:1 OK\n"},
            ["cluster.yaml:9:22: S100 unknown key 'mode' in access.3"],
        ),
        (
            "  - file: entries.access\n",
            {"entries.access": (
                "# comment\n"
                "Bogus:x\tOK\n"
                "Connect:10.2.2.2\n"
                " Connect:10.3.3.3 OK\n"
                "Connect:10.4.4.4 OK # no\n"
                "GreetPause:10.5 soon\n"
                "Connect:127\tREJECT\n"
                "Connect:10.1.1.1 OK\n"
            )},
            [
                "entries.access:2:1: S210 unknown access tag 'Bogus:'",
                "entries.access:3:1: S210 the access entry 'Connect:10.2.2.2' has no value",
                "entries.access:4:1: S210 an access entry cannot start with a blank; makemap"
                " drops such lines",
                "entries.access:5:1: S210 a '#' after the value is not a comment in an access"
                " file; sendmail would read it as part of the value",
                "entries.access:6:1: S210 GreetPause takes a whole number, not 'soon'",
                "entries.access:7:1: S200 access key Connect:127 is also written by access.0 on"
                " line 6; makemap would keep only one",
                "entries.access:8:1: S200 access key Connect:10.1.1.1 is also written by"
                " block.access line 2; makemap would keep only one",
            ],
        ),
        (
            "  - file: x.access\n",
            {"x.access": (
                "Connect:10.2.2.2\tREJECT\n"
                "Connect:192.0.2.1\xa0REJECT\tOK\n"
                "Connect:192.0.2.2\tREJECT\u2003\n"
                "ClientRate:192.0.2.3\t010\n"
                "ClientConn:mx.example.net\t5\n"
            )},
            [
                "x.access:2:1: S210 the character U+00A0 (NO-BREAK SPACE) after"
                " 'Connect:192.0.2.1' is no blank to makemap, which ends a key only at a"
                " space, tab, vertical tab, form feed or carriage return, so it would be part"
                " of the key; separate the key from the value with a space or a tab",
                "x.access:3:1: S210 an access value cannot end with the character U+2003"
                " (EM SPACE): sendmail reads it as part of the word, not as a blank",
                "x.access:4:1: S210 sendmail reads ClientRate 010 as the octal number 8, not"
                " 10; write 8, or 10 without the leading zero",
                "x.access:5:1: S210 sendmail never consults ClientConn: by a name"
                " ('mx.example.net'): it looks ClientConn: up by the client's address"
                " (${{client_addr}}) alone; write the client's address or net"
                " ('ClientConn:192.0.2', 'ClientConn:IPv6:2001:db8')",
            ],
        ),
    ],
    ids=["missing", "directory", "not-utf8", "crlf", "bom", "bidi", "twice", "absolute",
         "not-a-string", "unknown-key", "bad-entries", "blank-lookalikes-and-limits"],
)  # fmt: skip
def test_every_kind_of_problem(
    tmp_path: Path, spec_extra: str, files: dict[str, str | bytes], expected: list[str]
) -> None:
    spec_path = _write(tmp_path, SPEC + spec_extra, **files)
    problems = _problems(spec_path)
    assert problems == [e.format(d=os.path.normpath(tmp_path)) for e in expected]


def test_problems_through_the_cli_are_file_line_col(tmp_path: Path) -> None:
    spec_path = _write(tmp_path, SPEC, **{"block.access": "Connect:10.1.1.1\tOK\nNope:1 OK\n"})
    rc, out, err = run_cli("validate", spec_path)
    assert rc == 1 and out == ""
    hint = _hint("Nope")  # did-you-mean, as parse_entry words it
    assert err == f"{tmp_path}/block.access:2:1: error: S210 unknown access tag 'Nope:'{hint}\n"
    assert "Traceback" not in err


# -- a spec never reads (nor quotes) a file outside its directory ---------------------------

SECRET = "root:$6$planted-hash:20228:0:99999:7:::\n"


@pytest.mark.parametrize(
    ("name", "link", "code"),
    [
        ("../outside/secret", None, "S104"),
        ("../../outside/secret", None, "S104"),
        ("sub/../../outside/secret", None, "S104"),
        ("lists/../block.access", None, "S104"),
        ("out.access", ("out.access", "../outside/secret"), "S226"),
        ("out.access", ("out.access", "{outside}/secret"), "S226"),
        ("lists/out.access", ("lists/out.access", "../../outside/secret"), "S226"),
        ("via/secret", ("via", "{outside}"), "S226"),
    ],
    ids=["dotdot", "dotdot-twice", "dotdot-in-the-middle", "dotdot-staying-inside",
         "relative-link", "absolute-link", "link-in-a-subdirectory", "directory-link"],
)  # fmt: skip
def test_a_file_outside_the_spec_directory_is_never_read(
    tmp_path: Path, name: str, link: tuple[str, str] | None, code: str
) -> None:
    """A pull request's spec must not make CI print /etc/shadow (or the environment)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text(SECRET)
    specs = tmp_path / "specs"
    spec_path = _write(specs, SPEC + f"  - file: {name}\n", **{"lists__x": ""})
    if link is not None:
        (specs / link[0]).symlink_to(link[1].format(outside=outside))
    for args in (("validate", spec_path), ("validate", spec_path, "--format", "json")):
        rc, out, err = run_cli(*args)
        assert rc == 1 and "Traceback" not in err
        assert "planted-hash" not in out + err and "root:" not in out + err
        assert f" {code} " in err or f'"{code}"' in out
    found = [p for p in _problems(spec_path) if code in p]
    assert len(found) == 1 and found[0].startswith("cluster.yaml:9:11:"), found


@pytest.mark.parametrize("name", [".git/config", "lists/.git/config", ".GIT/config", ".Git/x"])
def test_a_file_in_a_git_directory_is_never_read(tmp_path: Path, name: str) -> None:
    """Inside the spec's directory, but in no diff: git's own files (a CI checkout's
    .git/config holds its token) are refused before they are read."""
    specs = tmp_path / "specs"
    spec_path = _write(specs, SPEC + f"  - file: {name}\n", **{"lists__x": ""})
    (specs / name).parent.mkdir(parents=True, exist_ok=True)
    (specs / name).write_text(SECRET)
    rc, out, err = run_cli("validate", spec_path)
    assert rc == 1 and "Traceback" not in err and "planted-hash" not in out + err
    found = [p for p in _problems(spec_path) if "S104" in p]
    assert len(found) == 1 and found[0].startswith(
        f"cluster.yaml:9:11: S104 access.3.file: '{name}' is inside a .git directory"
    ), found


def test_a_link_staying_inside_the_spec_directory_is_read(tmp_path: Path) -> None:
    spec_path = _write(tmp_path, SPEC + "  - file: lists/link.access\n", **{"lists__x": ""})
    (tmp_path / "lists/link.access").symlink_to("../real.access")
    (tmp_path / "real.access").write_text("Connect:10.7.7.7\tREJECT\n")
    result = compile_file(spec_path)
    assert result.ok, result.problems
    assert "Connect:10.7.7.7\tREJECT\n" in result.hosts["mx1"]["/etc/mail/access"]


def _hint(tag: str) -> str:
    try:
        parse_entry(f"{tag}:1 OK")
    except ValueError as exc:
        message = str(exc)
    return message.removeprefix(f"unknown access tag '{tag}:'")


# -- the bulk check of a file's lines equals parse_entry, line by line --------------------

line_text = st.one_of(
    st.sampled_from(CANONICAL_SAMPLES),
    st.sampled_from(CANONICAL_SAMPLES).map(lambda t: t.replace(" ", "\t", 1)),
    st.tuples(key, st.sampled_from([" ", "\t", "\t\t", "  "]), value).map("".join),
    st.sampled_from(["", "# a comment", " Connect:1 OK", "#", "Connect:1\tOK\tx"]),
)


@settings(**{**PROFILE, "max_examples": 600})
@given(st.lists(line_text, max_size=12))
def test_file_entries_are_checked_as_parse_entry_checks_them(lines: list[str]) -> None:
    content = "".join(line + "\n" for line in lines)
    spec = "version: 1\ncluster: t\nhosts: {mx1: {fqdn: mx1.example.net}}\naccess:\n  - file: f.access\n"  # noqa: E501
    loaded = load_text(spec, "dir/cluster.yaml", {"f.access": content.encode()}.__getitem__)
    checked = validate(loaded)
    want = []
    for n, line in enumerate(lines, 1):
        if not line or line.startswith("#"):
            continue
        try:
            parse_entry(line)
        except ValueError as exc:
            want.append(("dir/f.access", n, 1, "S210", scrub_message(str(exc))))
    got = [(p.path, p.line, p.col, p.code, p.message) for p in checked.problems if p.code == "S210"]
    assert got == want


# -- the plan's digest covers the file ----------------------------------------------------


def test_a_saved_plan_goes_stale_when_a_named_file_changes(tmp_path: Path) -> None:
    spec_path = _write(tmp_path)
    state = tmp_path / "state"
    rc, _, err = run_cli("compile", spec_path, "--out", state)
    assert rc == 0, err
    saved_path = tmp_path / "plan.json"
    rc, _, err = run_cli("plan", spec_path, "--state", state, "--out", saved_path)
    assert rc == 0, err
    doc = json.loads(saved_path.read_text())
    block_sha = hashlib.sha256(BLOCK.encode()).hexdigest()
    assert doc["spec"]["files"] == [{"path": "block.access", "sha256": block_sha}]
    spec_bytes = spec_path.read_bytes()
    assert doc["spec"]["sha256"] == spec_digest(spec_bytes, [("block.access", block_sha)])
    saved = load_saved_plan(saved_path)
    assert not spec_changed(saved, spec_bytes, [("block.access", block_sha)])
    assert spec_changed(saved, spec_bytes, [("block.access", "0" * 64)])
    assert spec_changed(saved, spec_bytes)  # a plan of the spec without its file

    plan = make_plan(PlanRequest(str(spec_path), state=str(state)))
    assert plan.spec_sha256 == doc["spec"]["sha256"]
    (tmp_path / "block.access").write_text(BLOCK + "Connect:10.9.9.9\tREJECT\n")
    again = make_plan(PlanRequest(str(spec_path), state=str(state)))
    assert again.spec_sha256 != plan.spec_sha256
    assert again.changes == 1  # the new entry, in the access file


def test_a_spec_without_files_keeps_its_plain_digest(tmp_path: Path) -> None:
    spec_path = _write(tmp_path, SPEC.replace("  - file: block.access\n", ""))
    plan = make_plan(PlanRequest(str(spec_path), base=None, state=str(tmp_path)))
    digest = hashlib.sha256(spec_path.read_bytes()).hexdigest()
    assert plan.spec_sha256 == digest and plan.inputs == []


def _git(repo: Path, *args: str) -> None:
    who = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.net",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.net"}  # fmt: skip
    subprocess.run(["git", *args], cwd=repo, env={**os.environ, **who}, check=True,
                   capture_output=True)  # fmt: skip


def test_plan_base_reads_the_file_as_committed(tmp_path: Path) -> None:
    spec_path = _write(tmp_path)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "cluster.yaml", "block.access")
    _git(tmp_path, "commit", "-q", "-m", "spec")
    unchanged = make_plan(PlanRequest(str(spec_path), base="HEAD"))
    assert unchanged.changes == 0

    (tmp_path / "block.access").write_text(BLOCK + "Connect:10.9.9.9\tREJECT\n")
    changed = make_plan(PlanRequest(str(spec_path), base="HEAD"))
    assert changed.changes == 1
    added = changed.hosts[0].access.added
    assert [(a.key, a.value) for a in added] == [("Connect:10.9.9.9", "REJECT")]

    # a file the revision does not have: the base spec is invalid, said in one sentence
    (tmp_path / "block.access").write_text(BLOCK)
    spec_path.write_text(SPEC + "  - file: new.access\n")
    (tmp_path / "new.access").write_text("Connect:10.8.8.8\tREJECT\n")
    _git(tmp_path, "add", "cluster.yaml")
    _git(tmp_path, "commit", "-q", "-m", "names a file it lacks")
    rc, _, err = run_cli("plan", spec_path, "--base", "HEAD")
    assert rc == 1
    assert "at HEAD is not valid" in err and "S226" in err and "not in git revision" in err


APPLY_SPEC = """\
version: 1
cluster: files
defaults:
  commands: {{restart: "true"}}
hosts:
  h1: {{fqdn: h1.example.net, address: 127.0.0.1}}
access:
  - Connect:127 RELAY
  - file: {name}
"""


@pytest.mark.realtools
def test_apply_refuses_a_plan_made_before_a_named_file_changed() -> None:
    from apply_helpers import apply_json, scratch_root

    with scratch_root("apply-files") as root:
        name = f"{root.name}-block.access"
        block = root.parent / name
        block.write_text("Connect:10.1.1.1\tREJECT\n")
        spec_path = root.parent / f"{root.name}-spec.yaml"
        spec_path.write_text(APPLY_SPEC.format(name=name))
        plan = root.parent / f"{root.name}-plan.json"
        rc, _, err = run_cli("plan", spec_path, "--root", root, "--host", "h1", "--out", plan)
        assert rc == 0, err
        block.write_text("Connect:10.1.1.1\tREJECT\nConnect:10.2.2.2\tREJECT\n")
        rc, report, _ = apply_json(spec_path, root, "--plan", str(plan), "--yes", "--no-verify")
        assert rc == 1 and report["result"] == "refused"
        assert report["message"] == (
            f"{spec_path} (or an access file it names) changed since the plan {plan} was made;"
            " make a new plan"
        )
        assert not (root / "etc/mail/access").exists()  # nothing was written
        block.write_text("Connect:10.1.1.1\tREJECT\n")  # as planned again: applied
        rc, report, _ = apply_json(spec_path, root, "--plan", str(plan), "--yes", "--no-verify")
        assert rc == 0 and report["result"] == "applied", report["message"]
        assert "Connect:10.1.1.1\tREJECT\n" in (root / "etc/mail/access").read_text()
