"""A UTF-8 byte order mark at the start of a .mc, an .m4 or an access file (M4023, A008).

Checked with the real tools of both releases: m4 copies the mark into sendmail.cf,
where sendmail 8.17 and 8.18 reject the line it lands on (`unknown configuration
line "o;?#"`) and ignore it; makemap reads it as part of the first key. Lint names
it, `--fix` removes it, its columns on line 1 do not count it, and `tlsc import`
refuses such a file in one sentence instead of carrying the misreading over.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from import_helpers import ACCESS, MC, PLAIN_MC, PLAIN_STARTTLS, STARTTLS, imported, tree
from lint_corpus import needs_m4
from realtools import SendmailRelease, makemap_roundtrip, scratch_dir, sendmail_bt, with_cf_tree
from releases import release
from test_lint_rules import EXAMPLES, run_example

from compiler.lint.engine import LintContext, lint_text
from compiler.lint.fix import fix_text
from compiler.lint.sarif import format_sarif

__all__ = ["release"]  # a fixture, imported for pytest

BOM = "\ufeff"
CF_M4 = "/usr/share/sendmail/cf/m4/cf.m4"
BODY = f"include(`{CF_M4}')dnl\nOSTYPE(`debian')dnl\nMAILER(`local')dnl\nMAILER(`smtp')dnl\n"
#: first lines as hand-written .mc files have them: Debian's divert(-1) head, none, a
#: comment m4 copies before cf.m4, a dnl comment
HEADS = [
    "divert(-1)dnl\n# my mail server\ndivert(0)dnl\n",
    "",
    "# sendmail.mc for mx1\n",
    "dnl sendmail.mc for mx1\n",
]


def m4(release: SendmailRelease, directory: Path, name: str, text: str) -> str:
    """The .cf real m4 builds from `text` with `release`'s cf tree."""
    (directory / name).write_bytes(text.encode("utf-8"))
    done = subprocess.run(
        with_cf_tree(release, ["m4", "-D_NO_MAKEINFO_", name]),
        cwd=directory,
        capture_output=True,
        env={**os.environ, "LC_ALL": "C"},
        check=True,
    )
    assert done.stderr == b""
    return done.stdout.decode("utf-8", "surrogateescape")


def rejected_lines(release: SendmailRelease, directory: Path, cf: str) -> list[str]:
    """What sendmail -bt says of each line it rejects as an unknown configuration line."""
    path = directory / "test.cf"
    path.write_bytes(cf.encode("utf-8", "surrogateescape"))
    done = sendmail_bt(release, path)
    said = done.stdout + done.stderr
    return [line.split(": ", 1)[1] for line in said.split("\n") if "unknown configuration" in line]


@needs_m4
@pytest.mark.parametrize("head", HEADS, ids=["divert", "none", "hash-comment", "dnl"])
def test_a_bom_lands_in_the_cf_where_sendmail_rejects_the_line(
    release: SendmailRelease, head: str
) -> None:
    mc = head + BODY
    with scratch_dir("bom") as directory:
        plain = m4(release, directory, "plain.mc", mc)
        marked = m4(release, directory, "marked.mc", BOM + mc)
        assert marked == BOM + plain  # onto the first line, and nothing else changes
        assert rejected_lines(release, directory, plain) == []
        first = plain.split("\n", 1)[0]
        assert rejected_lines(release, directory, marked) == [
            f'line 1: unknown configuration line "o;?{first}"'
        ]
    report = lint_text(BOM + mc, "sendmail.mc", "mc", LintContext())
    assert [(p.line, p.col, p.code, p.severity) for p in report.problems()] == [
        (1, 1, "M4023", "error")
    ]
    assert "the first line of sendmail.cf" in report.problems()[0].message
    assert fix_text(BOM + mc, "sendmail.mc", "mc", LintContext()).text == mc


@needs_m4
def test_a_bom_in_an_included_file_loses_the_line_it_lands_on(release: SendmailRelease) -> None:
    """A LOCAL_CONFIG include whose first line declares a map: sendmail drops the K line."""
    local = "Kmymap hash /etc/mail/mymap\n"
    with scratch_dir("bom") as directory:
        (directory / "local.m4").write_bytes((BOM + local).encode("utf-8"))
        mc = BODY.replace(
            "MAILER(`local')", f"LOCAL_CONFIG\ninclude(`{directory}/local.m4')dnl\nMAILER(`local')"
        )
        cf = m4(release, directory, "sendmail.mc", mc)
        (said,) = rejected_lines(release, directory, cf)
        assert said.endswith('unknown configuration line "o;?Kmymap hash /etc/mail/mymap"')
    report = lint_text(BOM + local, "local.m4", "m4", LintContext())
    assert [(p.line, p.col, p.code) for p in report.problems()] == [(1, 1, "M4023")]
    assert "where this file's output begins" in report.problems()[0].message


#: first lines of an access file, and what makemap makes of them after the mark
ACCESS_FORMS = [
    ("Connect:10.0.0.1\tREJECT", "stored under '\ufeffConnect:10.0.0.1'"),
    ("# our relays", "the comment on the first line becomes an entry"),
    ("", "makemap fails ('no RHS', exit 65)"),
    ("   Connect:10.0.0.2\tOK", "the mark alone is the first line's key"),
]


@pytest.mark.parametrize(("first", "said"), ACCESS_FORMS, ids=["entry", "comment", "empty", "lead"])
def test_makemap_reads_the_bom_into_the_first_key(
    release: SendmailRelease, first: str, said: str
) -> None:
    rest = "To:x.example\tOK\n"
    with scratch_dir("bom") as directory:
        rc, err, dump = makemap_roundtrip(f"{BOM}{first}\n{rest}", directory, release)
    assert "to:x.example\tOK" in dump
    others = [line for line in dump if line != "to:x.example\tOK"]
    if first == "":
        assert rc == 65 and "no RHS" in err and others == []
    elif first.startswith(" "):
        assert rc == 0 and others == [BOM + "\t" + first.strip()]
    else:
        key, _, value = first.partition(" " if first.startswith("#") else "\t")
        assert rc == 0 and others == [f"{BOM}{key.lower()}\t{value}"]  # never looked up
    report = lint_text(f"{BOM}{first}\n{rest}", "access", "access", LintContext())
    found = [p for p in report.problems() if p.code == "A008"]
    assert [(p.line, p.col, p.severity) for p in found] == [(1, 1, "error")]
    assert said in found[0].message


FAILING = [e for e in EXAMPLES if e.verdict == "FAIL" and not e.files[e.main].startswith(BOM)]


@pytest.mark.parametrize(
    "example", FAILING, ids=[f"{e.rule.id}-{k}" for k, e in enumerate(FAILING)]
)
def test_a_bom_does_not_move_any_finding(example) -> None:  # type: ignore[no-untyped-def]
    """Every rule's FAIL example, with a mark before it: the same findings at the same
    columns (line 1's counted after the mark), in text and SARIF, plus the mark's own."""
    plain = run_example(example)
    example.files = {k: (BOM + v if k == example.main else v) for k, v in example.files.items()}
    marked = run_example(example)
    mark = {"M4023", "A008"}
    assert [f for f in marked if f[2] not in mark] == plain
    assert [(line, col) for line, col, code, _ in marked if code in mark] == [(1, 1)]


def test_sarif_regions_do_not_count_the_bom_and_its_removal_is_binary() -> None:
    text = "define(\u2018confX\u2019, `y')dnl\n"
    regions = []
    for prefix in ("", BOM):
        report = lint_text(prefix + text, "x.mc", "mc", LintContext())
        results = json.loads(format_sarif([report]))["runs"][0]["results"]
        regions.append(
            [
                (r["ruleId"], r["locations"][0]["physicalLocation"]["region"])
                for r in results
                if r["ruleId"] != "M4023"
            ]
        )
        if prefix:
            (mark,) = [r for r in results if r["ruleId"] == "M4023"]
            (replacement,) = mark["fixes"][0]["artifactChanges"][0]["replacements"]
            assert replacement == {"deletedRegion": {"byteOffset": 0, "byteLength": 3}}
    assert regions[0] == regions[1] and regions[0]


def tlsc(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "compiler", "lint", *args],
        capture_output=True,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "text"),
    [("sendmail.mc", HEADS[0] + BODY), ("tls.m4", PLAIN_STARTTLS), ("access", "To:x\tOK\n")],
)
def test_lint_fix_removes_the_bom(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_bytes((BOM + text).encode("utf-8"))
    found = tlsc(str(path))
    assert found.returncode == 1
    assert f"{path}:1:1: error: {'A008' if name == 'access' else 'M4023'} the file starts" in (
        found.stderr.decode()
    )
    fixed = tlsc("--fix", str(path))
    assert fixed.returncode == 0, fixed.stderr
    # the diff shows the mark escaped, as it shows every unseen character of a file
    first = text.split(chr(10))[0]
    assert f"-\\ufeff{first}\n+{first}\n" in fixed.stdout.decode()
    assert BOM not in fixed.stdout.decode()
    assert path.read_bytes() == text.encode("utf-8")


@pytest.mark.parametrize("which", ["mc", "starttls", "access"])
def test_import_refuses_a_file_with_a_bom_in_one_sentence(tmp_path: Path, which: str) -> None:
    """Adopted as it was, the mark stays (and keeps costing a line); read as meant, the
    spec would differ from what sendmail did: the import stops and says how to fix it."""
    mc, starttls, access = PLAIN_MC, PLAIN_STARTTLS, "Connect:10.0.0.1\tREJECT\n"
    if which == "mc":
        mc = BOM + mc
    elif which == "starttls":
        starttls = BOM + starttls
    else:
        access = BOM + access
    for ownership in ("tls", "file"):
        result = imported(tree(tmp_path, access, mc, starttls), ownership=ownership)
        assert result.text is None
        errors = result.notes.errors
        path = {"mc": MC, "starttls": STARTTLS, "access": ACCESS}[which]
        assert [(p.code, p.line, p.col) for p in errors][:1] == [
            ("A008" if which == "access" else "M4023", 1, 1)
        ]
        assert errors[0].path.endswith(path)
        assert errors[-1].code == "I004" and "tlsc lint --fix" in errors[-1].message
