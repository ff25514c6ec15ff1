"""compiler/entry.py: a plain `tlsc validate`, `lint` or `plan` runs without click, and
prints, writes and exits exactly as the click command line does (that it loads no
click: tests/test_cold_start.py).

Each command line below is run twice on identical trees, once through `python
-m compiler` (the entry) and once through compiler.cli's click group, and the two
runs must agree on stdout, stderr, exit code and every file left behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import MINIMAL_SPEC, ROOT, cli_env

from compiler import entry

GOLDEN_MC = ROOT / "tests" / "golden" / "canit-cluster" / "colo10" / "etc" / "mail" / "sendmail.mc"
CLICK = "import sys\nfrom compiler.cli import main\nmain()\n"

BAD_SPEC = MINIMAL_SPEC + "    tls:\n      min_bits: '128'\n    colour: blue\n"
#: a .mc with the m4 mistakes lint finds (an unclosed quote, a back-tick in a value)
BAD_MC = (
    "divert(-1)\ndivert(0)dnl\nOSTYPE(`debian')dnl\n"
    "define(`confCACERT', `/etc/mail/tls/ca.crt)dnl\n"
    "define(`confSERVER_CERT', ``/etc/mail/tls/server.crt')dnl\n"
    "MAILER(`smtp')dnl\n"
)
ACCESS = "Connect:127.0.0.1\tRELAY\nTLS_Srv:bank.example\tVERIFY:128\nTry_TLS:broken.example NO\n"


def _tree(base: Path) -> Path:
    """The files the command lines name, the same bytes under each base."""
    base.mkdir()
    (base / "valid.yaml").write_text(MINIMAL_SPEC)
    (base / "cluster.yaml").write_text(MINIMAL_SPEC)
    (base / "bad.yaml").write_text(BAD_SPEC)
    (base / "broken.yaml").write_text("version: 1\nhosts: [\n")
    (base / "esc\x1bname.yaml").write_text(BAD_SPEC)
    (base / "blank name é.yaml").write_text(MINIMAL_SPEC)
    (base / "binary.mc").write_bytes(b"divert(-1)\n\x00\n")
    (base / "dir").mkdir()
    (base / "empty").mkdir()
    shutil.copy(GOLDEN_MC, base / "dir" / "sendmail.mc")
    (base / "dir" / "access").write_text(ACCESS)
    (base / "bad.mc").write_text(BAD_MC)
    (base / "fixme.mc").write_text(BAD_MC)
    (base / "access").write_text(ACCESS)
    shutil.copy(ROOT / "examples" / "canit-cluster.yaml", base / "canit.yaml")
    shutil.copytree(ROOT / "examples" / "sandbox", base / "sandbox")
    (base / "sandbox" / "colo10" / "etc" / "mail" / "access").write_text(ACCESS)
    return base


#: command lines of the plain shape (the entry runs them itself)
PLAIN = [
    ["validate"],
    ["validate", "valid.yaml"],
    ["validate", "bad.yaml"],
    ["validate", "broken.yaml"],
    ["validate", "missing.yaml"],
    ["validate", "dir"],
    ["validate", "esc\x1bname.yaml"],
    ["validate", "blank name é.yaml"],
    ["validate", "--format", "json", "bad.yaml"],
    ["validate", "bad.yaml", "--format=github"],
    ["validate", "--format=json", "valid.yaml"],
    ["validate", "--format", "text", "missing.yaml"],
    ["validate", "--format", "json", "broken.yaml"],
    ["lint", "dir/sendmail.mc"],
    ["lint", "bad.mc"],
    ["lint", "bad.mc", "access", "dir"],
    ["lint", "empty"],
    ["lint", "missing.mc", "binary.mc"],
    ["lint", "--format", "json", "bad.mc"],
    ["lint", "--format=sarif", "bad.mc", "dir/access"],
    ["lint", "--format", "codequality", "bad.mc"],
    ["lint", "--format", "github", "bad.mc"],
    ["lint", "--sendmail", "8.18", "dir"],
    ["lint", "--sendmail=8.17", "--deep", "dir/sendmail.mc"],
    ["lint", "--fix", "--dry-run", "fixme.mc"],
    ["lint", "fixme.mc", "--fix"],
    ["lint", "--fix", "--format", "json", "fixme.mc", "access"],
    ["lint", "--deep", "--fix", "--dry-run", "--format", "sarif", "fixme.mc"],
    ["plan", "canit.yaml", "--state", "sandbox"],
    ["plan", "canit.yaml", "--state=sandbox", "--detailed-exitcode"],
    ["plan", "--format", "json", "canit.yaml", "--state", "sandbox", "--host", "colo10"],
    ["plan", "canit.yaml", "--state", "sandbox", "--format=markdown", "--fail-on-downgrade"],
    ["plan", "canit.yaml", "--state", "sandbox", "--host", "colo11", "--host", "colo10"],
    ["plan", "canit.yaml", "--state", "sandbox", "--host", "nosuch"],
    ["plan", "canit.yaml", "--state", "nothere", "--detailed-exitcode"],
    ["plan", "bad.yaml", "--state", "sandbox"],
    ["plan", "--format", "json", "broken.yaml", "--state", "sandbox"],
    ["plan", "missing.yaml", "--state", "sandbox"],
    ["plan", "canit.yaml", "--root", "sandbox/colo10", "--host", "colo10"],
    ["plan", "canit.yaml", "--root", "empty", "--host", "colo10", "--detailed-exitcode"],
    ["plan", "canit.yaml", "--base", "HEAD", "--host", "colo10"],
    ["plan", "canit.yaml"],
]

#: command lines click reads (the entry hands them over)
CLICKS = [
    [],
    ["--help"],
    ["--version"],
    ["validate", "-h"],
    ["validate", "--help"],
    ["validate", "a.yaml", "b.yaml"],
    ["validate", "--format", "xml", "valid.yaml"],
    ["validate", "--format"],
    ["validate", "--format", "json", "--format", "text", "valid.yaml"],
    ["validate", ""],
    ["validate", "--", "valid.yaml"],
    ["validate", "--form", "json", "valid.yaml"],
    ["validate", "-"],
    ["validat", "valid.yaml"],
    ["lint"],
    ["lint", "--dry-run", "bad.mc"],
    ["lint", "--fix=yes", "bad.mc"],
    ["lint", "--sendmail", "8.16", "bad.mc"],
    ["lint", "--deep", "--deep", "bad.mc"],
    ["lint", "-", "bad.mc"],
    ["plan", "canit.yaml", "--state", "canit.yaml"],
    ["plan", "canit.yaml", "--state", ""],
    ["plan", "canit.yaml", "--state", "sandbox", "--out", "plan.json"],
    ["plan", "canit.yaml", "--state", "sandbox", "--logs", "access"],
    ["plan", "canit.yaml", "--state", "sandbox", "--max-deferred", "3"],
    ["plan", "canit.yaml", "--state", "sandbox", "--year", "2026"],
    ["plan", "canit.yaml", "--state", "sandbox", "--state", "sandbox"],
    ["plan", "canit.yaml", "--host", ""],
    ["plan", "canit.yaml", "--base", "-x"],
    ["plan", "--format", "text", "--format", "json", "canit.yaml"],
    ["compile", "valid.yaml", "--out", "x"],
]


def _run(argv: list[str], cwd: Path, *, via_click: bool, **kw: object) -> tuple[int, str, str]:
    prog = [sys.executable, "-c", CLICK] if via_click else [sys.executable, "-m", "compiler"]
    proc = subprocess.run(
        [*prog, *argv], cwd=cwd, env=cli_env(), capture_output=True, check=False, **kw
    )
    return (
        proc.returncode,
        proc.stdout.decode("utf-8", "surrogateescape"),
        proc.stderr.decode("utf-8", "surrogateescape"),
    )


def _files(base: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("argv", PLAIN, ids=lambda a: " ".join(a) or "-")
def test_a_plain_command_line_runs_as_click_runs_it(
    tmp_path: Path, argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = _tree(tmp_path / "entry")
    theirs = _tree(tmp_path / "click")
    monkeypatch.chdir(ours)
    assert entry.plain(argv) is not None
    got = _run(argv, ours, via_click=False)
    want = _run(argv, theirs, via_click=True)
    assert got == want
    assert _files(ours) == _files(theirs)


@pytest.mark.parametrize("argv", CLICKS, ids=lambda a: " ".join(a) or "-")
def test_any_other_command_line_is_clicks(
    tmp_path: Path, argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Handed to click: its usage errors and help, word for word (the program's name
    aside: `python -m compiler` against `-c`)."""
    base = _tree(tmp_path / "t")
    monkeypatch.chdir(base)
    assert entry.plain(argv) is None
    code, out, err = _run(argv, base, via_click=False)
    want_code, want_out, want_err = _run(argv, base, via_click=True)
    assert code == want_code
    assert out.replace("python -m compiler", "-c") == want_out
    assert err.replace("python -m compiler", "-c") == want_err


def test_the_parameters_are_clicks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What plain() passes is what click's commands get for the same words."""
    from compiler.cli import main

    monkeypatch.chdir(_tree(tmp_path / "t"))
    seen: dict[str, dict[str, object]] = {}
    for argv in PLAIN:
        read = entry.plain(argv)
        assert read is not None
        name, params = read
        command = main.get_command(click.Context(main), name)
        assert command is not None
        ctx = command.make_context(name, list(argv[1:]))
        assert ctx.params == params, argv
        seen[name] = params
    assert sorted(seen) == sorted(entry.COMMANDS)


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "canit.yaml"],
        ["lint", "bad.mc", "access"],
        ["plan", "canit.yaml", "--state", "sandbox"],
        ["plan", "canit.yaml", "--root", "sandbox/colo10"],
    ],
    ids=["validate", "lint", "plan-state", "plan-root"],
)
def test_a_path_click_would_refuse_goes_to_click(
    tmp_path: Path, argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """click.Path refuses a path that is there but unreadable with its own usage error;
    root reads everything, so the test takes R_OK away from the one path it names."""
    monkeypatch.chdir(_tree(tmp_path / "t"))
    assert entry.plain(argv) is not None
    denied = argv[-1]
    real = os.access

    def access(path: str, mode: int) -> bool:
        return False if path == denied and mode == os.R_OK else real(path, mode)

    monkeypatch.setattr(os, "access", access)
    assert entry.plain(argv) is None


def test_shell_completion_goes_to_click(tmp_path: Path) -> None:
    """With click's completion variable set, `validate` is a word to complete, not a run."""
    base = _tree(tmp_path / "t")
    env = cli_env() | {
        "_PYTHON _M COMPILER_COMPLETE": "bash_complete",
        "COMP_WORDS": "tlsc vali",
        "COMP_CWORD": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "compiler", "validate"],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "plain,validate\n", "")


def _ended(argv: list[str], cwd: Path, *, via_click: bool, **kw: object) -> tuple[int, bytes]:
    """(exit code, stderr) of a run whose stdout is set up by `kw`."""
    prog = [sys.executable, "-c", CLICK] if via_click else [sys.executable, "-m", "compiler"]
    proc = subprocess.run(
        [*prog, *argv], cwd=cwd, env=cli_env(), stderr=subprocess.PIPE, check=False, **kw
    )
    return proc.returncode, proc.stderr


@pytest.mark.parametrize(
    "argv",
    [["validate", "--format", "json", "bad.yaml"], ["lint", "--format", "sarif", "bad.mc"]],
    ids=["validate", "lint"],
)
def test_output_that_cannot_be_written_ends_as_with_click(tmp_path: Path, argv: list[str]) -> None:
    base = _tree(tmp_path / "t")
    assert entry.plain(argv) is not None
    ends = []
    for via_click in (False, True):
        # a pipe whose reader has gone: exit 1, nothing said
        read, write = os.pipe()
        os.close(read)
        try:
            piped = _ended(argv, base, via_click=via_click, stdout=write)
        finally:
            os.close(write)
        # a full disk: one sentence, exit 1
        with open("/dev/full", "wb") as full:
            filled = _ended(argv, base, via_click=via_click, stdout=full)
        # started with stdout closed: the output goes nowhere, the exit is the problems'
        closed = _ended(argv, base, via_click=via_click, preexec_fn=lambda: os.close(1))
        ends.append((piped, filled, closed))
    assert ends[0] == ends[1]
    piped, filled, closed = ends[0]
    assert piped == (1, b"")
    assert filled == (1, b"tlsc: cannot write to standard output: No space left on device\n")
    assert closed[0] == 1


def test_interrupted_as_click_says_it(capsys: pytest.CaptureFixture[str]) -> None:
    """^C in a command: a blank line, `Aborted!`, exit 1, as click's main does it."""

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as ours:
        entry.run(interrupted)
    got = capsys.readouterr()

    @click.command()
    def command() -> None:
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as theirs:
        command.main([], standalone_mode=True)
    want = capsys.readouterr()
    assert (ours.value.code, got.out, got.err) == (theirs.value.code, want.out, want.err)
    assert got.err == "\nAborted!\n"
