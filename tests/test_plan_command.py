"""compiler/plan/command.py: `tlsc plan` end to end, exit codes first."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from plan_helpers import SPEC, compile_to, write

from compiler.cli import main
from compiler.compile import compile_file, output_path

ROOT = Path(__file__).resolve().parent.parent
CHANGED = SPEC.replace(
    "other.example.org: {outbound: encrypt}", "other.example.org: {outbound: verify}"
)
WEAKER = SPEC.replace(
    "other.example.org: {outbound: encrypt}", "other.example.org: {outbound: {starttls: false}}"
)


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["plan", *map(str, args)], env={"NO_COLOR": "1"})
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result.exit_code, result.stdout, result.stderr


def setup(tmp_path: Path, new: str) -> tuple[Path, Path]:
    return write(tmp_path / "cluster.yaml", new), compile_to(SPEC, tmp_path / "state")


@pytest.mark.parametrize(
    ("new", "flags", "code"),
    [
        (SPEC, [], 0),
        (SPEC, ["--detailed-exitcode"], 0),
        (CHANGED, [], 0),
        (CHANGED, ["--detailed-exitcode"], 2),
        (CHANGED, ["--fail-on-downgrade"], 0),
        (CHANGED, ["--fail-on-downgrade", "--detailed-exitcode"], 2),
        (WEAKER, ["--detailed-exitcode"], 2),
        (WEAKER, ["--fail-on-downgrade"], 1),
        (WEAKER, ["--fail-on-downgrade", "--detailed-exitcode"], 1),
    ],
)
def test_exit_codes(tmp_path: Path, new: str, flags: list[str], code: int) -> None:
    spec, state = setup(tmp_path, new)
    exit_code, out, err = run(spec, "--state", state, *flags)
    assert exit_code == code, err
    if code == 1:
        said = re.search(r"(\d+) change\(s\) weaken TLS on (\d+) host\(s\); failing as", err)
        assert said is not None, err
        # counted as the plan counts them: one change on several hosts is one
        shown = re.search(r"(\d+) changes? weakens? TLS on (\d+) hosts?", out)
        assert shown is not None and shown.groups() == said.groups(), out + err


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["--format", "yaml"],
        ["--state", "a", "--root", "b"],
        ["--state", "/nonexistent/state"],
        ["--host", "nohost", "--state", "."],
        ["--base", "no-such-ref"],
    ],
)
def test_errors_exit_1_never_2_and_never_a_traceback(tmp_path: Path, args: list[str]) -> None:
    spec = write(tmp_path / "cluster.yaml", SPEC)
    code, out, err = run(spec, "--detailed-exitcode", *args)
    assert code == 1
    assert "Traceback" not in err and out == ""
    assert err.strip()


def test_invalid_spec_prints_its_problems(tmp_path: Path) -> None:
    spec = write(tmp_path / "cluster.yaml", SPEC.replace("verify, min_bits", "verfy, min_bits"))
    code, out, err = run(spec, "--state", tmp_path)
    assert code == 1 and out == ""
    assert "error: S103" in err and "is not valid; nothing was planned" in err


def test_formats_from_the_command_line(tmp_path: Path) -> None:
    spec, state = setup(tmp_path, CHANGED)
    _, out, _ = run(spec, "--state", state, "--format", "json")
    assert json.loads(out)["changes"] == 3
    _, out, _ = run(spec, "--state", state, "--format", "markdown")
    assert out.startswith(f"<!-- tlsc-plan: {spec} -->\n")
    _, out, _ = run(spec, "--state", state)
    assert out.startswith(f"tlsc plan for {spec}") and "\033[" not in out


@pytest.mark.parametrize("under", ["file", "file/deeper"])
def test_out_below_a_file_is_one_sentence_naming_it(tmp_path: Path, under: str) -> None:
    """An --out whose directory is a file is `cannot write the plan to OUT: Not a
    directory`: the clean-up of the temporary copy failed the same way and its own
    error, naming OUT.tlsc-tmp, was what the user saw."""
    spec, state = setup(tmp_path, CHANGED)
    (tmp_path / "file").write_text("kept\n")
    out = tmp_path / under / "plan.json"
    code, stdout, err = run(spec, "--state", state, "--out", out)
    assert code == 1 and stdout == "" and "Traceback" not in err
    assert err == f"tlsc plan: cannot write the plan to {out}: Not a directory\n"
    assert (tmp_path / "file").read_text() == "kept\n"


def test_out_saves_the_plan(tmp_path: Path) -> None:
    spec, state = setup(tmp_path, CHANGED)
    code, _, err = run(spec, "--state", state, "--out", tmp_path / "plan.json")
    assert code == 0 and "Saved the plan to" in err
    assert json.loads((tmp_path / "plan.json").read_text())["kind"] == "tlsc-saved-plan"
    code, _, err = run(spec, "--state", state, "--out", tmp_path / "no/such/dir/plan.json")
    assert code == 1 and "cannot write the plan" in err


def test_sandbox_shows_a_meaningful_plan() -> None:
    spec, state = ROOT / "examples/canit-cluster.yaml", ROOT / "examples/sandbox"
    code, out, _ = run(spec, "--state", state, "--detailed-exitcode", "--fail-on-downgrade")
    assert code == 2
    assert "colo10, colo11 (2 hosts with the same changes" in out
    assert (
        "+GreetPause:127\t0" in out and "~ TLS_Srv:secure.example.com  ENCR:112 -> ENCR:128" in out
    )
    assert "restart sendmail" in out


def test_sandbox_is_the_older_spec_compiled() -> None:
    older = ROOT / "examples/sandbox/older/canit-cluster.yaml"
    result = compile_file(older)
    assert result.ok
    for host, files in result.hosts.items():
        for path, text in files.items():
            on_disk = output_path(ROOT / "examples/sandbox", host, path).read_text()
            assert on_disk == text, (
                "regenerate: tlsc compile examples/sandbox/older/canit-cluster.yaml"
                " --out examples/sandbox"
            )


def test_deepdiff_stays_out_of_the_fast_paths(tmp_path: Path) -> None:
    _, state = setup(tmp_path, CHANGED)
    code = (
        "import sys\n"
        "from compiler.cli import main, LAZY_COMMANDS\n"
        "for args in (['--version'], ['plan', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'deepdiff' not in sys.modules, args\n"
        "if 'lint' in LAZY_COMMANDS:\n"
        f"    try:\n        main(['lint', {str(state / 'mx1/etc/mail/access')!r}])\n"
        "    except SystemExit:\n        pass\n"
        "    assert 'deepdiff' not in sys.modules, 'lint'\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.strip().endswith("ok"), done.stderr


def test_a_plan_of_managed_files_loads_no_certificate_code() -> None:
    """plan --state of the example (a tree without certificates, and a change in it):
    neither the certificate parser nor doctor, probe or deepdiff is loaded."""
    code = (
        "import sys\n"
        "from compiler.cli import main\n"
        "try:\n"
        "    main(['plan', 'examples/canit-cluster.yaml', '--state', 'examples/sandbox'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = ('cryptography', 'compiler.doctor', 'compiler.probe', 'deepdiff')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.strip().endswith("ok"), done.stderr
    assert "colo11" in done.stdout  # the plan was printed
