"""Option values a script passes by mistake (compiler/cli.py: PathName, Seconds): an empty name (an
unset `"$ROOT"`), a file name only a directory can have (`"$DIR/"`, `x/.`), a
timeout that is no number of seconds (nan, inf, 1e300). Each is refused before any
work: exit 1, click's one `Error:` sentence naming the option, no traceback, and
nothing on disk changed (the working directory included, where '' led)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import MINIMAL_SPEC, write_spec
from import_helpers import tree

from compiler.cli import main


def snapshot(top: Path) -> dict[str, object]:
    """Every path under `top` with what it holds (a file's bytes, a link's target)."""
    out: dict[str, object] = {}
    for path in sorted(top.rglob("*")):
        if path.is_symlink():
            out[str(path)] = ("link", os.readlink(path))
        elif path.is_file():
            out[str(path)] = path.read_bytes()
        else:
            out[str(path)] = "dir"
    return out


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding a spec, a compiled state tree, a host root with a
    plain /etc/mail, a log and a file `x`; the commands run in it."""
    monkeypatch.chdir(tmp_path)
    write_spec(tmp_path, MINIMAL_SPEC)
    assert CliRunner().invoke(main, ["compile", "cluster.yaml", "--out", "state"]).exit_code == 0
    tree(tmp_path / "root")
    (tmp_path / "mail.log").write_text("", encoding="utf-8")
    (tmp_path / "x").write_text("keep\n", encoding="utf-8")
    return tmp_path


def refused(args: list[str], option: str, top: Path) -> str:
    """Run tlsc ARGS in `top`; assert the refusal; click's sentence."""
    before = snapshot(top)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert errors[0].startswith(f"Error: Invalid value for '{option}'"), errors
    assert snapshot(top) == before
    return errors[0]


RUN = ["--yes", "--no-verify", "--no-restart", "--skip-preflight"]
TLSRPT = ["--format", "tlsrpt", "--org", "o", "--contact", "a@b.example"]

#: (arguments before the option, the option, arguments after) for each path option
PATH_OPTIONS = [
    (["compile", "cluster.yaml"], "--out", []),
    (["plan", "cluster.yaml", "--host", "mx1"], "--root", []),
    (["plan", "cluster.yaml"], "--state", []),
    (["plan", "cluster.yaml", "--host", "mx1", "--root", "root"], "--out", []),
    (["apply", "cluster.yaml", "--host", "mx1", *RUN], "--root", []),
    (["apply", "cluster.yaml", "--host", "mx1", "--root", "root", *RUN], "--plan", []),
    (["apply", "cluster.yaml", "--host", "mx1", "--root", "root", *RUN], "--backup-dir", []),
    (["apply", "cluster.yaml", "--host", "mx1", "--root", "root", *RUN], "--mail-log", []),
    (["doctor", "cluster.yaml", "--host", "mx1"], "--root", []),
    (["import", "root", "--host", "mx1"], "--out", []),
    (["logs", *TLSRPT], "--out-dir", ["mail.log"]),
]

#: the options that name a file to write or read, not a directory
FILE_OPTIONS = [
    (before, option, after)
    for before, option, after in PATH_OPTIONS
    if (before[0], option) in {("plan", "--out"), ("import", "--out"), ("apply", "--plan")}
    or option == "--mail-log"
]


@pytest.mark.parametrize(("before", "option", "after"), PATH_OPTIONS)
def test_an_empty_path_is_refused(
    place: Path, before: list[str], option: str, after: list[str]
) -> None:
    """'' (`--root "$ROOT"` with ROOT unset) was the working directory to pathlib:
    compile and plan --out wrote into it, plan --root, --state and apply --root
    worked on it, apply --backup-dir and --mail-log fell back to their defaults,
    plan --out '' was a traceback."""
    error = refused([*before, option, "", *after], option, place)
    assert error.endswith("'' names no file or directory (an unset variable?)")


@pytest.mark.parametrize("name", ["x/", "x/.", "x/..", "x//", "state/x/.", "new/", "."])
@pytest.mark.parametrize(("before", "option", "after"), FILE_OPTIONS)
def test_a_file_named_as_a_directory_is_refused(
    place: Path, before: list[str], option: str, after: list[str], name: str
) -> None:
    """`x/` and `x/.` name a directory, yet pathlib and realpath drop the '/' and the '.':
    plan --out wrote the file x, import --out x/. wrote over the file x without --force
    (its check asked whether x/. exists)."""
    error = refused([*before, option, name, *after], option, place)
    assert "names a directory, not a file" in error or "is a directory" in error


@pytest.mark.parametrize("value", ["nan", "-nan", "inf", "1e999", "1e300", "86401"])
@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["verify", "127.0.0.1:1"], "--connect-timeout"),
        (["verify", "127.0.0.1:1"], "--greeting-timeout"),
        (["verify", "127.0.0.1:1"], "--timeout"),
        (["apply", "cluster.yaml", "--host", "mx1", "--root", "root", *RUN], "--lock-timeout"),
        (["apply", "cluster.yaml", "--host", "mx1", "--root", "root", *RUN], "--verify-wait"),
    ],
)
def test_a_timeout_that_is_no_number_of_seconds_is_refused(
    place: Path, args: list[str], option: str, value: str
) -> None:
    """inf, 1e300 and nan passed FloatRange(min=...): socket.settimeout raised
    OverflowError or ValueError, a traceback; apply waited for ever on a nan lock
    timeout. A day is the most any wait takes."""
    refused([*args, option, value], option, place)


@pytest.mark.parametrize("value", ["0.1", "86400", "1e1"])
def test_a_timeout_within_a_day_is_taken(place: Path, value: str) -> None:
    result = CliRunner().invoke(
        main, ["verify", "127.0.0.1:1", "--connect-timeout", value, "--format", "json"]
    )
    assert result.exit_code == 1  # nothing listens there: a failed probe, not a refusal
    assert "Error:" not in result.output
