"""`--fix`: which repairs are made, that they never make a file worse, and atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from compiler.lint.engine import Edit, LintContext, lint_text
from compiler.lint.fix import apply_edits, fix_text, unified_diff, write_atomic

GOOD = "define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5')dnl\n"


@pytest.mark.parametrize(
    "bad",
    [
        "define(\u2018confCIPHER_LIST\u2019, `HIGH:!aNULL:!MD5')dnl\n",
        "define(`confCIPHER_LIST', \u00b4HIGH:!aNULL:!MD5')dnl\n",
        "define(`confCIPHER_LIST', \u2018HIGH:!aNULL:!MD5\u2019)dnl\n",
        "define('confCIPHER_LIST', `HIGH:!aNULL:!MD5')dnl\n",
        "define(`confCIPHER_LIST', 'HIGH:!aNULL:!MD5')dnl\n",
        'define("confCIPHER_LIST", `HIGH:!aNULL:!MD5\')dnl\n',
        "define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5')\n",
        "define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5')   dnl\n",
        "define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5')dnI\n",
        "define (`confCIPHER_LIST', `HIGH:!aNULL:!MD5')dnl\n",
        "DEFINE(`confCIPHER_LIST', `HIGH:!aNULL:!MD5')dnl\n",
    ],
)
def test_safe_slips_are_repaired_exactly(bad: str) -> None:
    result = fix_text(bad, "x.mc", "mc")
    assert result.text == GOOD
    assert result.report.findings == []
    assert result.applied >= 1


def test_double_quoted_values_get_their_inner_quote_back() -> None:
    bad = "define(`confPRIVACY_FLAGS', `'authwarnings,noexpn'')dnl\n"
    assert fix_text(bad, "x.mc", "mc").text == (
        "define(`confPRIVACY_FLAGS', ``authwarnings,noexpn'')dnl\n"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "define(`confREJECT_MSG', `550 We don't accept')dnl\n",  # reword: no mechanical fix
        "define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5)dnl\n",
        "define(`confREJECT_MSG', `550 don\u2019t')dnl\n",
    ],
)
def test_what_needs_a_person_is_left_alone(bad: str) -> None:
    result = fix_text(bad, "x.mc", "mc")
    assert result.text == bad
    assert result.applied == 0


def test_a_fix_never_adds_errors() -> None:
    text = "define(`a', `x')dnl\ndefine(`b', 'it''s')dnl\n"
    before = lint_text(text, "x.mc", "mc", LintContext()).errors
    after = fix_text(text, "x.mc", "mc").report.errors
    assert after <= before


def test_apply_edits_skips_overlaps() -> None:
    edits = [Edit(0, 2, "AB"), Edit(1, 3, "zz"), Edit(4, 4, "!")]
    assert apply_edits("abcdef", edits) == "ABcd!ef"


def test_unified_diff_names_the_file() -> None:
    diff = unified_diff("x.mc", "a\nb\n", "a\nc\n")
    assert diff.splitlines()[:2] == ["--- a/x.mc", "+++ b/x.mc"]
    assert "-b" in diff and "+c" in diff


def test_write_atomic_keeps_the_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "sendmail.mc"
    path.write_bytes(b"old\n")
    os.chmod(path, 0o600)
    write_atomic(str(path), "new \u2018\n".encode())
    assert path.read_bytes() == "new \u2018\n".encode()
    assert path.stat().st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path) == ["sendmail.mc"]


@pytest.mark.parametrize(
    "link",
    ["sendmail.mc", "../checkout/sendmail.mc", "{top}/checkout/sendmail.mc", "chain.mc"],
    ids=["same-directory", "relative", "absolute", "chain"],
)
def test_write_atomic_through_a_link_keeps_the_link(tmp_path: Path, link: str) -> None:
    """`tlsc lint --fix /etc/mail/sendmail.mc`, a link into a checkout: the checkout's
    file is fixed, with its mode and owner, and the link still leads to it."""
    checkout, etc = tmp_path / "checkout", tmp_path / "etc"
    checkout.mkdir()
    etc.mkdir()
    real = checkout / "sendmail.mc"
    real.write_bytes(b"old\n")
    os.chmod(real, 0o640)
    if os.geteuid() == 0:  # a file of another user's: root keeps its owner
        os.chown(real, 65534, 65534)
    owner = (real.stat().st_uid, real.stat().st_gid)
    if link == "sendmail.mc":
        etc = checkout
        (etc / "link.mc").symlink_to("sendmail.mc")
    elif link == "chain.mc":
        (etc / "chain.mc").symlink_to(real)
        (etc / "link.mc").symlink_to("chain.mc")
    else:
        (etc / "link.mc").symlink_to(link.format(top=tmp_path))
    write_atomic(str(etc / "link.mc"), b"new\n")
    assert (etc / "link.mc").is_symlink() and real.read_bytes() == b"new\n"
    assert real.stat().st_mode & 0o777 == 0o640
    assert (real.stat().st_uid, real.stat().st_gid) == owner
    assert sorted(p.name for p in checkout.iterdir()) == sorted(
        ["sendmail.mc", *(["link.mc"] if etc == checkout else [])]
    )


def test_dnl_with_arguments_is_separated_from_them() -> None:
    result = fix_text("FEATURE(`access_db')dnl(see below)\n", "x.mc", "mc")
    assert result.text == "FEATURE(`access_db')dnl (see below)\n"
    assert result.report.findings == []
