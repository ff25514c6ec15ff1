"""`tlsc import` on the command line: output, refusals, exit codes, nothing written on error."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import run_cli
from import_helpers import PLAIN_MC, PLAIN_STARTTLS, tree, write_tree
from realtools import REPO

from compiler.cli import main
from compiler.compile import compile_file

FIXTURE = REPO / "examples" / "import"


def tlsc(*args: object) -> tuple[int, str, str]:
    """Run tlsc in-process (a subprocess costs ~0.7 s); (exit code, stdout, stderr)."""
    result = CliRunner().invoke(main, [str(a) for a in args], env={"NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.realtools
def test_fixture_to_stdout_with_a_summary_on_stderr() -> None:
    rc, out, err = run_cli("import", FIXTURE, "--host", "mail", "--ownership", "file")
    assert rc == 0, err
    assert out.startswith("# tlsc spec imported by `tlsc import")
    assert "version: 1\ncluster: mail\n" in out
    assert "imported host mail (mail.example.org):" in err
    assert "kept verbatim in mc.extra: 9 line(s) (sendmail.mc:11, 27," in err
    assert "round trip: sendmail.cf: same options, maps, mailers and rulesets" in err
    assert err.rstrip().endswith("lost: nothing")


@pytest.mark.realtools
def test_out_file_is_written_once_and_compiles(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    rc, out, err = tlsc("import", FIXTURE, "--host", "mail", "--ownership", "file", "--out", spec)
    assert rc == 0 and out == "" and "wrote" in err
    assert compile_file(spec).ok
    before = spec.read_text()
    rc, _, err = tlsc("import", FIXTURE, "--host", "mail", "--ownership", "file", "--out", spec)
    assert rc == 1 and "exists; use --force" in err
    spec.chmod(0o600)
    rc, _, _ = tlsc(
        "import",
        FIXTURE,
        "--host",
        "mail",
        "--ownership",
        "file",
        "--cluster",
        "x",
        "--out",
        spec,
        "--force",
    )
    assert rc == 0 and spec.read_text() != before
    assert spec.stat().st_mode & 0o777 == 0o600  # --force keeps the mode of what it replaces


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p / "missing", "is not a directory"),
        (lambda p: p, "sendmail.mc does not exist"),
        (
            lambda p: tree(p, mc=PLAIN_MC.replace("`debian'", "‘debian’")),
            "M4001 typographic quote",
        ),
        (lambda p: tree(p, starttls=None), "starttls.m4 does not exist"),
    ],
)
def test_bad_inputs_exit_1_with_one_sentence_and_write_nothing(
    tmp_path: Path, setup: object, message: str
) -> None:
    root = setup(tmp_path)  # type: ignore[operator]
    out = tmp_path / "out.yaml"
    rc, stdout, err = tlsc("import", root, "--host", "h1", "--ownership", "file", "--out", out)
    assert rc == 1
    assert message in err and "Traceback" not in err
    assert "nothing written" in err
    assert not out.exists() and stdout == ""


_OUTSIDE = {
    "/etc/mail/sendmail.mc": PLAIN_MC.replace(
        "OSTYPE", "define(`confDOMAIN_NAME', `outside-marker.example')dnl\nOSTYPE"
    ),
    "/etc/mail/tls/starttls.m4": PLAIN_STARTTLS.replace("/etc/ssl/certs", "/outside/marker"),
    "/etc/mail/access": "Connect:10.66.66.66\tREJECT\n",
}


@pytest.mark.parametrize("link", ["absolute", "relative", "directory"])
@pytest.mark.parametrize("which", list(_OUTSIDE))
def test_a_file_linked_out_of_root_is_refused_and_never_quoted(
    tmp_path: Path, which: str, link: str
) -> None:
    """ROOT is a copy of a host: a managed file (or a directory above it) that is a
    symbolic link out of ROOT names this machine's files (`/etc/shadow`), which import
    read and quoted in its problems and the spec. It is I003, exit 1, nothing written."""
    root = tree(tmp_path / "host", access="Connect:127\tRELAY\n")
    outside = write_tree(tmp_path / "outside", {which: _OUTSIDE[which]})
    target = outside / which.lstrip("/")
    placed = root / which.lstrip("/")
    if link == "directory":
        placed, target = placed.parent, target.parent
    shutil.rmtree(placed) if placed.is_dir() else placed.unlink()
    placed.symlink_to(target if link != "relative" else os.path.relpath(target, placed.parent))
    out = tmp_path / "out.yaml"
    for fmt in ("text", "json"):
        rc, stdout, err = tlsc(
            "import", root, "--host", "h1", "--ownership", "file", "--out", out, "--format", fmt
        )
        assert rc == 1 and "Traceback" not in err
        assert "marker" not in stdout + err and "10.66.66.66" not in stdout + err
        assert f"is a symbolic link leading out of {root}" in stdout + err
        assert not out.exists()


@pytest.mark.realtools
def test_a_loss_writes_nothing_unless_allowed(tmp_path: Path) -> None:
    root = tree(tmp_path / "r", "Connect:127\tRELAY\nTLS_Srv:.example.com\tENCR:128\n")
    out = tmp_path / "out.yaml"
    rc, _, err = tlsc("import", root, "--host", "h1", "--ownership", "file", "--out", out)
    assert rc == 1 and not out.exists()
    assert "access:2:1: error: I141 cannot carry over TLS_Srv:.example.com" in err
    assert "--allow-loss writes the spec anyway" in err
    rc, _, err = tlsc(
        "import", root, "--host", "h1", "--ownership", "file", "--out", out, "--allow-loss"
    )
    assert rc == 0 and out.exists()
    assert "lost: 1 difference(s)" in err


def test_bad_host_name_is_refused(tmp_path: Path) -> None:
    rc, _, err = tlsc("import", tree(tmp_path), "--host", "bad name")
    assert rc == 1 and "host name 'bad name'" in err


# -- --format json ----------------------------------------------------------------------

REPORT_KEYS = {
    "version", "result", "message", "out", "spec", "host", "fqdn", "imported",
    "kept", "dropped", "notes", "round_trip", "problems",
}  # fmt: skip


@pytest.mark.realtools
def test_json_report_holds_the_spec_and_what_was_carried_over() -> None:
    rc, out, err = tlsc(
        "import", FIXTURE, "--host", "mail", "--ownership", "file", "--format", "json"
    )
    assert (rc, err) == (0, "")
    report = json.loads(out)
    assert set(report) == REPORT_KEYS
    assert (report["version"], report["result"], report["message"]) == (1, "written", None)
    assert (report["host"], report["fqdn"]) == ("mail", "mail.example.org")
    assert report["spec"].startswith("# tlsc spec imported by `tlsc import")
    assert compile_file_text(report["spec"]).ok
    assert report["imported"]["mailers"] == ["local", "smtp"]
    assert report["imported"]["domains"] == 7 and report["imported"]["tls"] is True
    assert {"path": f"{FIXTURE}/etc/mail/sendmail.mc", "line": 27, "into": "mc.extra"} in (
        report["kept"]
    )
    assert report["round_trip"][-1] == "sendmail.cf: same options, maps, mailers and rulesets"
    assert report["problems"] == []


@pytest.mark.realtools
def test_json_report_of_a_loss_has_the_problem_and_no_spec(tmp_path: Path) -> None:
    root = tree(tmp_path / "r", "Connect:127\tRELAY\nTLS_Srv:.example.com\tENCR:128\n")
    out = tmp_path / "out.yaml"
    rc, stdout, err = tlsc(
        "import", root, "--host", "h1", "--ownership", "file", "--out", out, "--format", "json"
    )
    assert rc == 1 and err == "" and not out.exists()
    report = json.loads(stdout)
    assert report["result"] == "failed" and report["spec"] is None
    assert report["message"].endswith("nothing written (--allow-loss writes the spec anyway)")
    assert [(p["line"], p["code"], p["severity"]) for p in report["problems"]] == [
        (2, "A006", "warning"),  # the linter's view of the line, then the loss
        (2, "I141", "error"),
    ]
    rc, stdout, _ = tlsc(
        "import",
        root,
        "--host",
        "h1",
        "--ownership",
        "file",
        "--out",
        out,
        "--format",
        "json",
        "--allow-loss",
    )
    report = json.loads(stdout)
    assert rc == 0 and out.exists()
    assert (report["result"], report["out"], report["spec"]) == ("written", str(out), None)


def test_json_report_of_a_refusal(tmp_path: Path) -> None:
    rc, stdout, err = tlsc(
        "import", tmp_path / "missing", "--host", "h1", "--ownership", "file", "--format", "json"
    )
    assert rc == 1 and err == ""
    report = json.loads(stdout)
    assert report["result"] == "failed" and report["message"] == "nothing written"
    assert "is not a directory" in report["problems"][0]["message"]


def compile_file_text(text: str) -> Any:
    from compiler.compile import compile_text

    return compile_text(text, "imported.yaml")


# -- --out never over an input ------------------------------------------------------


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.realtools
@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("form", ["--host", "NAME=ROOT"])
@pytest.mark.parametrize("named", ["as-is", "symlink", "hardlink"])
@pytest.mark.parametrize(
    "which", ["etc/mail/sendmail.mc", "etc/mail/tls/starttls.m4", "etc/mail/access"]
)
def test_force_never_writes_the_spec_over_a_file_it_was_imported_from(
    tmp_path: Path, which: str, named: str, form: str, fmt: str
) -> None:
    """`--force --out` naming the host's own sendmail.mc, starttls.m4 or access file
    (or a link to one) is one sentence, exit 1, every file as it was."""
    root = tree(tmp_path / "host", access="Connect:127\tRELAY\n")
    out = root / which
    if named == "symlink":
        out = tmp_path / "cluster.yaml"
        out.symlink_to(root / which)
    elif named == "hardlink":
        out = tmp_path / "cluster.yaml"
        out.hardlink_to(root / which)
    before = _snapshot(tmp_path)
    source = ["--host", "h1", root] if form == "--host" else [f"h1={root}"]
    rc, stdout, err = tlsc(
        "import", *source, "--ownership", "file", "--out", out, "--force", "--format", fmt
    )
    sentence = (
        f"cannot write {out}: it is h1's /{which}, which the import read; nothing was written"
    )
    assert rc == 1
    if fmt == "json":
        report = json.loads(stdout)
        assert (report["result"], report["message"]) == ("failed", sentence)
    else:
        assert stdout == ""
        assert err.splitlines()[-1] == f"tlsc import: {sentence}"
    assert _snapshot(tmp_path) == before
