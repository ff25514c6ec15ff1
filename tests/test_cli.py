"""The command line on bad input: `tlsc validate` and `tlsc compile --out DIR`.

Every kind of bad input gets its own test through each command: exit code 1,
one `PATH:LINE:COL: error: CODE message` line at the right place, no
traceback, and for compile nothing written under --out.

Both commands run in-process through click's test runner for every kind, and
as real processes (`python3 -m compiler`) for a few; those processes are
started together once (see `runs`) so the suite stays fast.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import MINIMAL_SPEC, cli_command, cli_env, pos, run_cli, with_lines, write_spec

from compiler import __version__
from compiler.cli import main
from compiler.compile import compile_text
from compiler.spec.model import json_schema

LINE = re.compile(
    r"^(?P<path>.+):(?P<line>[0-9]+):(?P<col>[0-9]+): error: (?P<code>[A-Z][0-9]{3}) (?P<msg>.+)$"
)


@dataclass(frozen=True)
class Bad:
    """One kind of bad input and the single problem it must give."""

    id: str
    text: str | bytes
    code: str
    where: tuple[int, int]
    words: tuple[str, ...]


def _at(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    return pos(text, needle, nth)


def _billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n" + MINIMAL_SPEC


def _cases() -> list[Bad]:
    cases = []

    def add(id: str, text: str, code: str, needle: str, *words: str, nth: int = 1) -> None:
        cases.append(Bad(id, text, code, _at(text, needle, nth), words))

    t = with_lines('domains:\n  "bad domain.com":\n    outbound: encrypt\n')
    add("domain-space", t, "S104", '"bad domain.com"', "domain name cannot contain a space")
    t = with_lines('domains:\n  "evil.com\\nconnect.example":\n    outbound: encrypt\n')
    add("domain-newline", t, "S104", '"evil.com', "domain name cannot contain a newline")
    t = with_lines("defaults:\n  tls:\n    server_cert: /etc/mail/tls/`x.crt\n")
    add(
        "path-backtick",
        t,
        "S104",
        "/etc/mail/tls/`x",
        "defaults.tls.server_cert",
        "cannot contain a back-tick",
    )
    t = MINIMAL_SPEC + "    tls:\n      server_cert: /etc/mail/tls/it's')dnl.crt\n"
    add(
        "path-apostrophe",
        t,
        "S104",
        "/etc/mail/tls/it",
        "hosts.mx1.tls.server_cert",
        "cannot contain an apostrophe",
    )
    t = with_lines("domains:\n  example.org:\n    outbund: encrypt\n")
    add(
        "unknown-key",
        t,
        "S100",
        "outbund",
        "unknown key 'outbund' in domains.example.org",
        "(did you mean 'outbound'?)",
    )
    t = with_lines("domains:\n  example.org:\n    outbound: {require: verfy}\n")
    add(
        "unknown-value",
        t,
        "S103",
        "verfy",
        "'verfy' is not a valid value",
        "(did you mean 'verify'?)",
    )
    t = with_lines('domains:\n  example.com:\n    outbound: {require: encrypt, min_bits: "128"}\n')
    add("wrong-type", t, "S102", '"128"', "min_bits must be a whole number, not a string")
    t = "version: 1\ncluster: one\ncluster: two\nhosts:\n  mx1:\n    fqdn: mx1.example.net\n"
    add("duplicate-yaml-key", t, "Y002", "cluster", "duplicate key 'cluster'", "on line 2", nth=2)
    t = with_lines(
        "domains:\n  Example.com:\n    outbound: encrypt\n  example.com:\n    inbound: encrypt\n"
    )
    add(
        "duplicate-access-key-case",
        t,
        "S200",
        "example.com",
        "'example.com' is the same as 'Example.com'",
        f"on line {_at(t, 'Example.com')[0]}",
    )
    t = with_lines(
        "domains:\n  example.net:\n    outbound: encrypt\naccess:\n  - TLS_Srv:example.net VERIFY\n"
    )
    add(
        "duplicate-access-key-rule",
        t,
        "S200",
        "encrypt",
        "access key TLS_Srv:example.net is also written by access.0",
        f"on line {_at(t, 'TLS_Srv')[0]}",
    )
    t = MINIMAL_SPEC + "    address: 192.0.2.300\n"
    add("invalid-ip", t, "S104", "192.0.2.300", "'192.0.2.300' is not an IP address")
    t = with_lines('domains:\n  "10.0.0.0/8":\n    inbound: encrypt\n')
    add("cidr", t, "S104", '"10.0.0.0/8"', "sendmail does not understand CIDR")
    t = with_lines('domains:\n  "10.0.0.":\n    inbound: encrypt\n')
    add("trailing-dot", t, "S104", '"10.0.0."', "ends with a dot, which never matches")
    t = with_lines('recipients:\n  "@example.com": encrypt\n')
    add("invalid-recipient", t, "S104", '"@example.com"', "has no local part before the '@'")
    t = with_lines("access:\n  - Conect:127 RELAY\n")
    add(
        "access-entry",
        t,
        "S210",
        "Conect",
        "unknown access tag 'Conect:'",
        "(did you mean 'Connect'?)",
    )
    t = "version: 1\ncluster: x: y\n"
    add("not-yaml", t, "Y001", ": y", "not valid YAML")
    cases.append(Bad("empty", "", "Y005", (1, 1), ("the spec is empty",)))
    cases.append(Bad("alias-bomb", _billion_laughs(), "Y003", (1, 1), ("alias bomb",)))
    cases.append(
        Bad("not-utf8", b"version: 1\ncluster: caf\xe9\n", "Y001", (2, 13), ("not valid UTF-8",))
    )
    deep = "version: " + "[" * 100_000 + "]" * 100_000 + "\n"
    cases.append(Bad("deep-nesting", deep, "Y003", (1, 73), ("nested more than 64 levels",)))
    return cases


BAD = _cases()
BAD_IDS = [c.id for c in BAD]

#: Valid spec with three independent errors, for the output formats.
THREE = (
    "version: 1\ncluster: test\n"
    "hosts:\n  mx1:\n    fqdn: mx1.example.net\n    address: 192.0.2.300\n"
    "domains:\n  example.org:\n    outbund: encrypt\n"
    '  example.com:\n    outbound: {require: encrypt, min_bits: "128"}\n'
)
THREE_FOUND = [
    (*_at(THREE, "192.0.2.300"), "S104", "hosts.mx1.address: '192.0.2.300' is not an IP address"),
    (
        *_at(THREE, "outbund"),
        "S100",
        "unknown key 'outbund' in domains.example.org (did you mean 'outbound'?)",
    ),
    (
        *_at(THREE, '"128"'),
        "S102",
        "domains.example.com.outbound.min_bits must be a whole number, not a string",
    ),
]


#: kinds also run as a real `python3 -m compiler validate` / `compile` process
REAL_VALIDATE = ("domain-space", "deep-nesting")
REAL_COMPILE = ("duplicate-yaml-key",)


@dataclass
class Run:
    path: Path
    rc: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every real-process run of this module, started at once and awaited together."""
    base = tmp_path_factory.mktemp("cli")
    jobs: dict[str, tuple[Path, list[str | Path]]] = {}
    for case in BAD:
        if case.id in REAL_VALIDATE or case.id in REAL_COMPILE:
            write_spec(base, case.text, f"{case.id}.yaml")
    for case_id in REAL_VALIDATE:
        path = base / f"{case_id}.yaml"
        jobs[f"validate:{case_id}"] = (path, ["validate", path])
    for case_id in REAL_COMPILE:
        path = base / f"{case_id}.yaml"
        jobs[f"compile:{case_id}"] = (path, ["compile", path, "--out", base / f"out-{case_id}"])
    three = write_spec(base, THREE, "three.yaml")
    good = write_spec(base, MINIMAL_SPEC, "good.yaml")
    jobs["json"] = (three, ["validate", "--format", "json", three])
    jobs["text"] = (three, ["validate", three])
    jobs["compile-good"] = (good, ["compile", good, "--out", base / "out-good"])

    def start() -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
        for name, (path, args) in jobs.items():
            proc = subprocess.Popen(
                cli_command(*args),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=cli_env(),
                cwd=base,
            )
            yield name, path, proc

    started = list(start())
    out = {}
    for name, path, proc in started:
        stdout, stderr = proc.communicate(timeout=120)
        out[name] = Run(path, proc.returncode, stdout, stderr)
    return out


def check_single_problem(stderr: str, path: Path, case: Bad) -> None:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    m = LINE.match(lines[0])
    assert m is not None, lines[0]
    assert m["path"] == str(path)
    assert (int(m["line"]), int(m["col"])) == case.where
    assert m["code"] == case.code
    for words in case.words:
        assert words in m["msg"]


# -- validate, one test per kind of bad input --------------------------------


@pytest.mark.parametrize("case", BAD, ids=BAD_IDS)
def test_validate_bad_input(case: Bad, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, case.text)
    result = CliRunner().invoke(main, ["validate", str(spec)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1
    assert result.stdout == ""
    check_single_problem(result.stderr, spec, case)


@pytest.mark.parametrize("case_id", REAL_VALIDATE)
def test_validate_bad_input_real_process(case_id: str, runs: dict[str, Run]) -> None:
    run = runs[f"validate:{case_id}"]
    case = next(c for c in BAD if c.id == case_id)
    assert run.rc == 1
    assert run.stdout == ""
    check_single_problem(run.stderr, run.path, case)


# -- compile, one test per kind of bad input ---------------------------------


@pytest.mark.parametrize("case", BAD, ids=BAD_IDS)
def test_compile_bad_input_writes_nothing(case: Bad, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, case.text)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["compile", str(spec), "--out", str(out)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1
    assert result.stdout == ""
    check_single_problem(result.stderr, spec, case)
    assert not out.exists()


def test_compile_bad_input_leaves_an_existing_out_dir_empty(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, BAD[0].text)
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(main, ["compile", str(spec), "--out", str(out)])
    assert result.exit_code == 1
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("case_id", REAL_COMPILE)
def test_compile_bad_input_real_process(case_id: str, runs: dict[str, Run]) -> None:
    run = runs[f"compile:{case_id}"]
    case = next(c for c in BAD if c.id == case_id)
    assert run.rc == 1
    assert run.stdout == ""
    check_single_problem(run.stderr, run.path, case)
    assert not (run.path.parent / f"out-{case_id}").exists()


@pytest.mark.parametrize("name", ["mx9", "", "MX1", " mx1"])
def test_compile_unknown_host(tmp_path: Path, name: str) -> None:
    """Any --host the spec lacks is S300 and writes nothing; an empty one too (an unset
    `--host "$HOST"` in a script), which compiled every host."""
    spec = write_spec(tmp_path, MINIMAL_SPEC)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["compile", str(spec), "--out", str(out), "--host", name])
    assert result.exit_code == 1
    line, col = pos(MINIMAL_SPEC, "mx1:")
    assert result.stderr == (
        f"{spec}:{line}:{col}: error: S300 no host named '{name}' in the spec; hosts are mx1\n"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "quoted"),
    [("", "''"), (" mx1", "' mx1'"), ("mx1 ", "'mx1 '"), ("a\x85b", "'a\\x85b'"), ("mx9", "'mx9'")],
    ids=["empty", "leading-blank", "trailing-blank", "nel", "plain"],
)
@pytest.mark.parametrize(
    ("args", "prefix"),
    [
        (["plan", "{spec}", "--state", "{tmp}"], "tlsc plan: "),
        (["apply", "{spec}", "--root", "{tmp}", "--yes"], "tlsc apply: "),
        (["doctor", "{spec}", "--root", "{tmp}"], "tlsc doctor: "),
        (["verify", "{spec}"], "tlsc verify: "),
        (["compile", "{spec}", "--out", "{tmp}/out"], "{spec}:{line}:{col}: error: S300 "),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else "",
)
def test_a_host_the_spec_lacks_is_quoted_as_given(
    tmp_path: Path, args: list[str], prefix: str, name: str, quoted: str
) -> None:
    """--host NAME the spec lacks: every command's sentence quotes the name, so an empty
    one (an unset `--host "$HOST"`) or one with a blank in it reads as what was given."""
    spec = write_spec(tmp_path, MINIMAL_SPEC)
    line, col = pos(MINIMAL_SPEC, "mx1:")
    fields = {"spec": str(spec), "tmp": str(tmp_path), "line": line, "col": col}
    argv = [a.format(**fields) for a in args]
    result = CliRunner().invoke(main, [*argv, "--host", name])
    assert result.exit_code == 1
    where = "the spec" if args[0] == "compile" else str(spec)
    end = "." if args[0] == "apply" else ""
    said = f"no host named {quoted} in {where}; hosts are mx1{end}\n"
    # apply's load step says it too, on the line before
    assert result.stderr.split("\n")[-2:] == [prefix.format(**fields) + said[:-1], ""]


def test_missing_spec_file(tmp_path: Path) -> None:
    spec = tmp_path / "absent.yaml"
    result = CliRunner().invoke(main, ["validate", str(spec)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"{spec}:1:1: error: Y000 cannot read the spec: No such file or directory\n"
    )


# -- every problem at once, and the output formats -----------------------------


def test_text_reports_every_problem_at_once(runs: dict[str, Run]) -> None:
    run = runs["text"]
    assert run.rc == 1
    assert run.stdout == ""
    assert run.stderr == "".join(
        f"{run.path}:{line}:{col}: error: {code} {message}\n"
        for line, col, code, message in THREE_FOUND
    )


def test_json_format(runs: dict[str, Run]) -> None:
    run = runs["json"]
    assert run.rc == 1
    assert run.stderr == ""
    problems = json.loads(run.stdout)
    assert problems == [
        {
            "path": str(run.path),
            "line": line,
            "col": col,
            "code": code,
            "severity": "error",
            "message": message,
        }
        for line, col, code, message in THREE_FOUND
    ]
    assert all(list(p) == ["path", "line", "col", "code", "severity", "message"] for p in problems)


def test_github_format(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, THREE)
    result = CliRunner().invoke(main, ["validate", "--format", "github", str(spec)])
    assert result.exit_code == 1
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        f"::error file={spec},line={line},col={col},title={code}::{message}"
        for line, col, code, message in THREE_FOUND
    ]


def test_github_format_escapes_newlines(tmp_path: Path) -> None:
    text = MINIMAL_SPEC.replace("cluster: test", 'cluster: "a\\nb"')
    spec = write_spec(tmp_path, text)
    result = CliRunner().invoke(main, ["validate", "--format", "github", str(spec)])
    assert result.exit_code == 1
    assert result.stdout == (
        f"::error file={spec},line=2,col=10,title=S104::cluster: 'a%0Ab' must be a single word"
        " of letters, digits, '.', '_' or '-'\n"
    )


@pytest.mark.parametrize("written", ["\\n", "\\u2028", "\\x85"])
def test_text_format_keeps_a_problem_on_one_line(tmp_path: Path, written: str) -> None:
    """Line breaks, Unicode ones too, are shown escaped: one problem, one line."""
    text = MINIMAL_SPEC.replace("cluster: test", f'cluster: "a{written}b"')
    spec = write_spec(tmp_path, text)
    result = CliRunner().invoke(main, ["validate", str(spec)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"{spec}:2:10: error: S104 cluster: 'a{written}b' must be a single word of letters,"
        " digits, '.', '_' or '-'\n"
    )
    assert len(result.stderr.splitlines()) == 1


#: bidi controls (Trojan Source) and zero-width characters, as YAML escapes
UNSEEN = ["\\u202e", "\\u202a", "\\u202c", "\\u2066", "\\u2069", "\\u200e", "\\u200f",
          "\\u061c", "\\u200b", "\\u200d", "\\u2060", "\\ufeff"]  # fmt: skip


@pytest.mark.parametrize("written", UNSEEN)
def test_text_format_shows_bidi_and_zero_width_characters_escaped(
    tmp_path: Path, written: str
) -> None:
    """A RIGHT-TO-LEFT OVERRIDE quoted raw showed the rest of the line reversed (the
    sentence, and what a CI log printed after it); a zero-width one showed as nothing,
    so 'a' was 'the same as' 'a'. In a quoted value they are escaped; the character a
    message names is named by its code point and Unicode name."""
    import unicodedata

    char = written.encode("ascii").decode("unicode_escape")
    text = MINIMAL_SPEC.replace("cluster: test", f'cluster: "a{written}b"') + (
        f'recipients:\n  "u{written}v@example.com": encrypt\n'
    )
    spec = write_spec(tmp_path, text)
    result = CliRunner().invoke(main, ["validate", str(spec)])
    assert result.exit_code == 1
    assert char not in result.stderr
    line = text.count("\n", 0, text.index('"u')) + 1
    assert result.stderr == (
        f"{spec}:2:10: error: S104 cluster: 'a{written}b' must be a single word of letters,"
        " digits, '.', '_' or '-'\n"
        f"{spec}:{line}:3: error: S104 the local part of 'u{written}v@example.com' cannot"
        f" contain the character U+{ord(char):04X} ({unicodedata.name(char)})\n"
    )


def test_compile_json_format_on_bad_input(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, THREE)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["compile", "--format", "json", str(spec), "--out", str(out)])
    assert result.exit_code == 1
    assert [(p["line"], p["col"], p["code"]) for p in json.loads(result.stdout)] == [
        f[:3] for f in THREE_FOUND
    ]
    assert not out.exists()


# -- good input ------------------------------------------------------------------


def test_validate_good_spec(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, MINIMAL_SPEC)
    result = CliRunner().invoke(main, ["validate", str(spec)])
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "",
        f"{spec}: valid, 1 host(s)\n",
    )


def test_validate_good_spec_json(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, MINIMAL_SPEC)
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(spec)])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "[]\n", "")


def test_compile_good_spec_writes_exactly_the_rendered_files(runs: dict[str, Run]) -> None:
    run = runs["compile-good"]
    out = run.path.parent / "out-good"
    assert run.rc == 0
    assert run.stderr == f"wrote 3 file(s) for 1 host(s) under {out}\n"
    expected = compile_text(MINIMAL_SPEC, "good.yaml").hosts["mx1"]
    written = {
        "/" + str(p.relative_to(out / "mx1")): p.read_bytes()
        for p in sorted((out / "mx1").rglob("*"))
        if p.is_file()
    }
    assert sorted(written) == [
        "/etc/mail/access",
        "/etc/mail/sendmail.mc",
        "/etc/mail/tls/starttls.m4",
    ]
    assert written == {path: text.encode() for path, text in expected.items()}
    assert sorted(p.name for p in out.iterdir()) == ["mx1"]


def test_compile_one_host(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, MINIMAL_SPEC + "  mx2:\n    fqdn: mx2.example.net\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["compile", str(spec), "--out", str(out), "--host", "mx2"])
    assert result.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["mx2"]


def test_schema() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert (result.exit_code, result.stderr) == (0, "")
    schema = json.loads(result.stdout)
    assert "hosts" in schema["properties"]
    assert schema == json_schema()


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"tlsc, version {__version__}\n"


def test_run_cli_helper(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, MINIMAL_SPEC)
    rc, stdout, stderr = run_cli("validate", "--format", "json", spec.name, cwd=tmp_path)
    assert (rc, stdout, stderr) == (0, "[]\n", "")


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-command"],
        ["--no-such-option"],
        ["validate", "--format", "xml"],
        ["compile", "x.yaml"],  # --out is required
        ["doctor", "--root", "/no/such/dir"],
        ["lint", "--dry-run", "x.mc"],
        ["plan", "--no-such-option"],
    ],
)
def test_usage_errors_exit_1_never_2(args: list[str]) -> None:
    """Exit 2 means "changes" to `plan --detailed-exitcode`; a typo must not read as that."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "Error:" in result.output


def test_help_lists_each_lazy_command_with_its_own_help() -> None:
    """LAZY_HELP (what `tlsc --help` shows without importing a command) is each
    command's own help, cut as click cuts it at every width."""
    import click

    from compiler.cli import LAZY_COMMANDS, LAZY_HELP

    assert sorted(LAZY_HELP) == sorted(LAZY_COMMANDS)
    ctx = click.Context(main)
    for name in LAZY_COMMANDS:
        real = main.get_command(ctx, name)
        assert real is not None
        shown = click.Command(name, help=LAZY_HELP[name])
        for limit in range(10, 200):
            assert shown.get_short_help_str(limit) == real.get_short_help_str(limit), name


def test_help_imports_no_command_module() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['tlsc', '--help']\n"
        "from compiler.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('compiler.'))\n"
        "assert loaded == ['compiler.cli'], loaded\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), check=False
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("apply", "plan", "verify", "validate"):
        assert f"  {name} " in proc.stdout


@pytest.mark.parametrize(
    "name",
    ["new\nline.yaml", "x\n::warning::injected\n.yaml", "cr\rname.yaml", "nel\x85name.yaml",
     "ls\u2028sep.yaml", "tab\x1bescape.yaml"],
    ids=["newline", "annotation-injection", "carriage-return", "nel", "line-separator", "escape"],
)  # fmt: skip
@pytest.mark.parametrize("command", ["validate", "lint"])
def test_a_file_name_with_a_line_break_stays_on_one_line(
    tmp_path: Path, command: str, name: str
) -> None:
    """Every problem line starts with its path, whatever the path holds."""
    spec = write_spec(tmp_path, with_lines("bogus: 1\n"), name)
    rc, _, err = run_cli(command, spec)
    assert rc == 1 and "Traceback" not in err
    problem_lines = [line for line in err.splitlines() if ": error: " in line]
    assert problem_lines
    assert all(line.startswith(str(tmp_path)) for line in problem_lines), err
    assert all(line.startswith((str(tmp_path), " ")) or " in 1 file" in line
               for line in err.splitlines()), err  # fmt: skip


_INJECTED = "x\n::error::injected\x85::error::nel\u2028::error::ls\ry"


@pytest.mark.parametrize(
    "args",
    [
        ["doctor", "{name}"],
        ["doctor", "{spec}", "--host", "{name}", "--root", "{tmp}"],
        ["doctor", "{spec}", "--host", "mx1", "--root", "{tmp}/{name}"],
        ["verify", "{name}"],
        ["verify", "{spec}", "--host", "{name}"],
        ["verify", "{spec}", "--ehlo", "{name}"],
        ["plan", "{name}", "--state", "{tmp}"],
        ["plan", "{spec}", "--host", "{name}", "--state", "{tmp}"],
        ["plan", "{spec}", "--logs", "{name}", "--state", "{tmp}"],
        ["plan", "{spec}", "--state", "{tmp}", "--out", "{spec}/{name}"],
        ["apply", "{name}", "--root", "{tmp}", "--yes"],
        ["apply", "{spec}", "--host", "{name}", "--root", "{tmp}", "--yes"],
        ["apply", "{spec}", "--host", "mx1", "--root", "{tmp}", "--yes", "--plan", "{name}"],
        ["apply", "{spec}", "--host", "mx1", "--root", "{tmp}/{name}", "--yes", "--no-verify"],
        ["logs", "{name}"],
        ["logs", "{spec}", "--spec", "{name}"],
        ["import", "{name}=/nonexistent", "other={tmp}"],
    ],
    ids=lambda args: " ".join(a for a in args if "{" not in a or a == "{name}"),
)
def test_a_name_given_on_the_command_line_stays_inside_its_sentence(
    tmp_path: Path, args: list[str]
) -> None:
    """A spec, host, log, plan or --root name is quoted back in the failure sentence
    (`tlsc plan: no host named ...`, doctor's findings under --root) with its line
    breaks escaped, so no part of it starts a line of its own (a forged `::error::`
    annotation in CI, a second sentence), whatever the command."""
    spec = write_spec(tmp_path, MINIMAL_SPEC)
    (tmp_path / _INJECTED).mkdir()
    fields = {"name": _INJECTED, "spec": str(spec), "tmp": str(tmp_path)}
    rc, out, err = run_cli(*(a.format(**fields) for a in args))
    assert rc == 1 and "Traceback" not in err
    for line in (out + err).splitlines():  # splitlines: NEL and U+2028 too
        assert not line.startswith("::error::"), out + err
        assert "injected" not in line or "x\\n::error::injected" in line, out + err
