"""Round-trip differences of sendmail.cf named at the .mc line that causes them (blame.py).

The sendmail distribution's own cf/cf/*.mc files differ in the round trip for
two reasons, each a class: a define, undefine or FEATURE after the MAILER
lines (the spec writes them before the MAILERs, so m4 reads them earlier), and
a verbatim line the spec cannot keep (not UTF-8). Each difference is one
sentence at the line that causes it, saying what to do; never sendmail.mc:1:1.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import run_cli
from import_helpers import MC, write_tree

from compiler.importer.host import import_host

pytestmark = pytest.mark.realtools

SAMPLES = Path("/usr/share/sendmail/cf/cf")
#: the distribution's .mc -> (code, line, col) of the one error of `--ownership file`
DISTRIBUTION = {
    "mail.cs.mc": ("I163", 31, 1),  # define(`confUSERDB_SPEC') after MAILER(smtp)
    "mail.eecs.mc": ("I163", 31, 1),
    "ucbvax.mc": ("I163", 32, 1),  # undefine(`UUCP_RELAY') after the MAILERs
    "knecht.mc": ("I115", 145, 28),  # a K line with Latin-1 bytes: the only sentence
}
HEAD = "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\nOSTYPE(`debian')dnl\n"
MAILERS = "MAILER(`local')dnl\nMAILER(`smtp')dnl\n"
#: a line after the MAILER lines that changes sendmail.cf's rules there, and what the
#: .mc holds before the MAILERs (the real m4 finds each: 3 or 4 rule lines differ)
LATE = [
    ("", "define(`confUSERDB_SPEC', `/etc/mail/users.db')dnl"),
    ("", "define(`UUCP_RELAY', `uucp.example.net')dnl"),
    ("define(`UUCP_RELAY', `uucp.example.net')dnl\n", "undefine(`UUCP_RELAY')dnl"),
    ("", "FEATURE(`always_add_domain')dnl"),
]


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if ": error: " in line]


@pytest.mark.parametrize("name", sorted(DISTRIBUTION))
def test_the_distributions_own_mc_files_are_located_at_their_line(
    tmp_path: Path, name: str
) -> None:
    if not (SAMPLES / name).is_file():
        pytest.skip("sendmail-cf samples are not installed")
    mc = tmp_path / "etc/mail/sendmail.mc"
    mc.parent.mkdir(parents=True)
    shutil.copyfile(SAMPLES / name, mc)
    rc, out, err = run_cli("import", tmp_path, "--host", "h1", "--fqdn", "h1.example.net",
                           "--ownership", "file")  # fmt: skip
    assert rc == 1 and "Traceback" not in out + err
    code, line, col = DISTRIBUTION[name]
    [error] = _errors(err)  # one sentence, at the line that causes the difference
    assert error.startswith(f"{mc}:{line}:{col}: error: {code} "), error
    assert "import again" in error or "write it in UTF-8 or ASCII" in error
    assert mc.read_bytes() == (SAMPLES / name).read_bytes()


@pytest.mark.parametrize(("before", "late"), LATE)
def test_a_line_after_the_mailers_is_named_with_what_to_do(
    tmp_path: Path, before: str, late: str
) -> None:
    text = HEAD + before + MAILERS + late + "\n"
    line = text.count("\n")
    write_tree(tmp_path, {MC: text})
    result = import_host(tmp_path, "h1", "h1.example.net", ownership="file")
    assert result.notes.errors == []
    [loss] = result.notes.losses  # one sentence for the line, none at sendmail.mc:1:1
    assert (loss.code in ("I163", "I164"), loss.line, loss.col) == (True, line, 1), loss
    assert f"after the MAILER line {text.count(chr(10), 0, text.find('MAILER(')) + 1}" in (
        loss.message
    )
    assert "move the line above the MAILER lines" in loss.message
    # as the sentence says: with the line above the MAILERs the round trip holds
    moved = HEAD + before + late + "\n" + MAILERS
    write_tree(tmp_path, {MC: moved})
    result = import_host(tmp_path, "h1", "h1.example.net", ownership="file")
    assert result.ok and result.notes.losses == [], result.notes.losses


@pytest.mark.parametrize(
    "line",
    [
        b"Kadvsubj regex -b -a@MATCH \xb1?\xb0\xed",  # knecht.mc's
        b"R$* < @ caf\xe9 . > $*\t$#local $: $1",
    ],
)
def test_a_verbatim_line_the_spec_cannot_keep_is_one_sentence(tmp_path: Path, line: bytes) -> None:
    text = HEAD.encode() + MAILERS.encode() + b"LOCAL_CONFIG\n" + line + b"\n"
    if line.startswith(b"R"):
        text = text.replace(b"LOCAL_CONFIG", b"LOCAL_RULE_0")
    write_tree(tmp_path, {MC: text})
    result = import_host(tmp_path, "h1", "h1.example.net", ownership="file")
    assert [(p.code, p.line) for p in result.notes.losses] == [("I115", 6)]


def test_differences_beside_a_lost_line_are_one_sentence(tmp_path: Path) -> None:
    """A live `#FEATURE(...)` line after cf.m4 is lost (I112); the .cf lines it makes
    cannot be blamed on a line of the .mc, and are said once, naming it, not once each."""
    mc = (
        "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\nOSTYPE(`debian')dnl\n"
        "define(`MAIL_HUB', `hub.example.com.')dnl\n#FEATURE(`stickyhost')\n"
        "MAILER(`local')dnl\nMAILER(`smtp')dnl\n"
    )
    write_tree(tmp_path, {MC: mc})
    result = import_host(tmp_path, "h1", "h1.example.net", ownership="file")
    got = [(p.code, p.line) for p in result.notes.losses]
    assert sorted(got) == [("I112", 4), ("I163", 1)], result.notes.losses
    (summary,) = [p for p in result.notes.losses if p.code == "I163"]
    assert summary.message.endswith("most likely made by the .mc line(s) reported lost (4)")
