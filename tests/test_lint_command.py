"""`tlsc lint` end to end, as a subprocess: formats, exit codes, --fix, and a fast start.

Every .mc here includes a starttls.m4 written beside it (`in_dir`), never this
machine's /etc/mail/tls/starttls.m4, which the cross-file rules would read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lint_corpus import compiled_sources
from realtools import point_include

BAD = """divert(-1)dnl
divert(0)dnl
include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
OSTYPE(`debian')dnl
define(\u2018confCIPHER_LIST\u2019, `HIGH:!aNULL:!MD5')dnl
FEATURE(`access_db', , `skip')dnl
include('STARTTLS_M4')dnl
MAILER(`local')dnl
MAILER(`smtp')
"""
FIXED = """divert(-1)dnl
divert(0)dnl
include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
OSTYPE(`debian')dnl
define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5')dnl
FEATURE(`access_db', , `skip')dnl
include(`STARTTLS_M4')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
"""
#: the starttls.m4 BAD and FIXED include: Debian's certificate settings
STARTTLS = """define(`confSERVER_CERT', `/etc/mail/tls/sendmail-server.crt')dnl
define(`confSERVER_KEY', `/etc/mail/tls/sendmail-common.key')dnl
define(`confCACERT', `/etc/mail/tls/sendmail-server.crt')dnl
"""


def in_dir(template: str, directory: Path) -> str:
    """BAD or FIXED including `directory`/tls/starttls.m4, which is written with STARTTLS."""
    starttls = directory / "tls" / "starttls.m4"
    starttls.parent.mkdir(exist_ok=True)
    starttls.write_text(STARTTLS, encoding="utf-8")
    return template.replace("STARTTLS_M4", str(starttls))


def tlsc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "compiler", "lint", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
    )


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "sendmail.mc"
    path.write_text(in_dir(BAD, tmp_path), encoding="utf-8")
    return path


def test_text_findings_show_the_line_caret_and_fix(bad: Path) -> None:
    proc = tlsc(str(bad))
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert f"{bad}:5:8: error: M4001 typographic quote \u2018" in proc.stderr
    at = next(i for i, line in enumerate(lines) if ":5:8: error: M4001" in line)
    assert lines[at + 1].endswith("| define(\u2018confCIPHER_LIST\u2019, `HIGH:!aNULL:!MD5')dnl")
    assert lines[at + 2].endswith("|        ^")
    assert lines[at + 3].endswith("| define(`confCIPHER_LIST\u2019, `HIGH:!aNULL:!MD5')dnl")
    assert f"{bad}:7:9: error: M4002" in proc.stderr
    assert f"{bad}:9:15: warning: M4005" in proc.stderr
    assert lines[-1] == "3 errors, 1 warning in 1 file"
    assert proc.stdout == ""


def test_json_is_the_stable_problem_list(bad: Path) -> None:
    proc = tlsc("--format", "json", str(bad))
    assert proc.returncode == 1
    problems = json.loads(proc.stdout)
    assert [(p["line"], p["col"], p["code"], p["severity"]) for p in problems] == [
        (5, 8, "M4001", "error"),
        (5, 24, "M4001", "error"),
        (7, 9, "M4002", "error"),
        (9, 15, "M4005", "warning"),
    ]
    assert set(problems[0]) == {"path", "line", "col", "code", "severity", "message"}


def test_github_annotations(bad: Path) -> None:
    proc = tlsc("--format", "github", str(bad))
    assert proc.stdout.startswith(f"::error file={bad},line=5,col=8,title=M4001::")
    assert "::warning file=" in proc.stdout


def test_sarif_output(bad: Path) -> None:
    proc = tlsc("--format", "sarif", str(bad))
    assert proc.returncode == 1
    sarif = json.loads(proc.stdout)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {"M4001", "M4002", "M4005", "A003"} <= {r["id"] for r in rules}
    first = run["results"][0]
    assert first["ruleId"] == "M4001" and first["level"] == "error"
    assert rules[first["ruleIndex"]]["id"] == "M4001"
    region = first["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (5, 8)
    replacement = first["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["insertedContent"]["text"] == "`"


def test_fix_dry_run_prints_the_diff_and_changes_nothing(bad: Path) -> None:
    proc = tlsc("--fix", "--dry-run", str(bad))
    assert proc.returncode == 1  # the file on disk is still wrong
    assert bad.read_text(encoding="utf-8") == in_dir(BAD, bad.parent)
    assert "-define(\u2018confCIPHER_LIST\u2019" in proc.stdout
    assert "+define(`confCIPHER_LIST'" in proc.stdout
    assert "+MAILER(`smtp')dnl" in proc.stdout


def test_fix_writes_atomically_and_keeps_the_mode(bad: Path) -> None:
    bad.chmod(0o640)
    proc = tlsc("--fix", str(bad))
    assert proc.returncode == 0, proc.stderr
    assert bad.read_text(encoding="utf-8") == in_dir(FIXED, bad.parent)
    assert bad.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in bad.parent.iterdir()) == ["sendmail.mc", "tls"]
    assert tlsc(str(bad)).returncode == 0


def test_dry_run_needs_fix(bad: Path) -> None:
    proc = tlsc("--dry-run", str(bad))
    assert proc.returncode == 1
    assert "--dry-run only goes with --fix" in proc.stderr


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    proc = tlsc("--format", "json", str(tmp_path / "nope.mc"))
    assert proc.returncode == 1
    assert json.loads(proc.stdout)[0]["code"] == "L000"


def test_clean_files_exit_zero_silently(tmp_path: Path) -> None:
    path = tmp_path / "sendmail.mc"
    path.write_text(in_dir(FIXED, tmp_path), encoding="utf-8")
    proc = tlsc(str(path))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_a_compiled_host_directory_lints_clean_as_one_run(tmp_path: Path) -> None:
    """The .mc, its starttls.m4 and its access file together: cross-file rules agree."""
    from realtools import EXAMPLES

    from compiler.compile import compile_file

    result = compile_file(EXAMPLES[0])
    for host, files in result.hosts.items():
        m4 = next((path for path in files if path.endswith(".m4")), None)
        starttls = None if m4 is None else str(tmp_path / host / m4.lstrip("/"))
        for path, text in files.items():
            target = tmp_path / host / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.endswith(".mc"):  # include the host's own starttls.m4, written here
                text = point_include(text, starttls)
            target.write_text(text, encoding="utf-8")
    proc = tlsc(str(tmp_path))
    assert (proc.returncode, proc.stderr) == (0, "")


def test_a_directory_with_nothing_to_lint_says_so(tmp_path: Path) -> None:
    (tmp_path / "README").write_text("not sendmail\n", encoding="utf-8")
    proc = tlsc("--format", "json", str(tmp_path))
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == []
    assert proc.stderr == f"{tmp_path}: warning: no .mc, .m4 or access file found to lint\n"


def test_a_binary_file_is_one_error_not_a_screenful(tmp_path: Path) -> None:
    path = tmp_path / "sendmail.mc"
    path.write_bytes(b"divert(-1)dnl\n\x7fELF\x00\x01`" + bytes(range(256)) * 8)
    proc = tlsc(str(path))
    assert proc.returncode == 1
    assert proc.stderr == (
        f"{path}:2:1: error: L000 {path}: a binary file (it holds NUL bytes), not an .mc, .m4"
        " or access file\n1 error, 0 warnings in 1 file\n"
    )


def test_access_file_with_tls_rules_needs_access_db(tmp_path: Path) -> None:
    (tmp_path / "access").write_text("TLS_Srv:secure.example.com\tENCR:128\n", encoding="utf-8")
    mc = in_dir(FIXED, tmp_path).replace("FEATURE(`access_db', , `skip')dnl\n", "")
    (tmp_path / "sendmail.mc").write_text(mc, encoding="utf-8")
    proc = tlsc("--format", "json", str(tmp_path / "sendmail.mc"))
    codes = [p["code"] for p in json.loads(proc.stdout)]
    assert codes == ["M4008"]


def test_disable_comment_silences_a_rule_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "x.mc"
    path.write_text(
        "dnl tlsc: disable=M4005\nFEATURE(`access_db')\nFEATURE(`use_cw_file')\n", encoding="utf-8"
    )
    problems = json.loads(tlsc("--format", "json", str(path)).stdout)
    assert [(p["line"], p["code"]) for p in problems] == [(3, "M4005")]


def test_the_lint_path_imports_no_heavy_library(bad: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "compiler", "lint", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "compiler.lint.engine" in imported
    for heavy in ("pydantic", "deepdiff", "ruamel", "ruamel.yaml", "rich", "cryptography"):
        assert heavy not in imported, heavy
    assert "json" not in imported  # only --format json needs it


def test_compiled_sources_are_available() -> None:
    assert compiled_sources(), "no example compiled"


def test_a_file_warning_on_every_line_shows_each_rules_first_hundred(tmp_path: Path) -> None:
    path = tmp_path / "sendmail.mc"
    head = "divert(-1)dnl\ndivert(0)dnl\ninclude(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n"
    path.write_text(head + "OSTYPE(`debian')dnl\n" + "FEATURE(`use_cw_file')\n" * 2000)
    proc = tlsc(str(path))
    assert proc.returncode == 0  # warnings only
    lines = proc.stderr.splitlines()
    assert sum(": warning: M4005 " in line for line in lines) == 101
    assert f"{path}:105:23: warning: M4005 1,900 more findings not shown" in proc.stderr
    assert lines[-1] == "0 errors, 2000 warnings in 1 file"  # the summary counts them all
    data = json.loads(tlsc("--format", "json", str(path)).stdout)
    assert len(data) == 101 and data[-1]["message"].startswith("1,900 more findings not shown")
    sarif = json.loads(tlsc("--format", "sarif", str(path)).stdout)
    assert len(sarif["runs"][0]["results"]) == 101
    # --fix repairs every line, not only the ones shown
    proc = tlsc("--fix", str(path))
    assert proc.returncode == 0, proc.stderr
    assert path.read_text().count("FEATURE(`use_cw_file')dnl\n") == 2000


def test_a_compiled_tree_reads_its_own_starttls_include(tmp_path: Path) -> None:
    """build/HOST/etc/mail/sendmail.mc's /etc/mail/tls/starttls.m4 is build/HOST's, per host."""
    mc = FIXED.replace("STARTTLS_M4", "/etc/mail/tls/starttls.m4").replace(
        "define(`confCIPHER_LIST'", "define(`confCACERT', `/x.crt')dnl\ndefine(`confCIPHER_LIST'"
    )
    for host, starttls in (("a", STARTTLS), ("b", "define(`confSERVER_CERT', `/s.crt')dnl\n")):
        (tmp_path / "build" / host / "etc" / "mail" / "tls").mkdir(parents=True)
        (tmp_path / "build" / host / "etc" / "mail" / "sendmail.mc").write_text(mc, "utf-8")
        (tmp_path / "build" / host / "etc" / "mail" / "tls" / "starttls.m4").write_text(
            starttls, "utf-8"
        )
    proc = tlsc("--format", "json", "build", cwd=tmp_path)
    found = {(p["path"], p["code"]) for p in json.loads(proc.stdout)}
    # only a's starttls.m4 defines confCACERT again, which overrides the .mc's
    assert ("build/a/etc/mail/sendmail.mc", "M4015") in found
    assert not any(path.startswith("build/b/") for path, _ in found), found
