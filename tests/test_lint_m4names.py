"""The macro facts the linter relies on, checked against real m4 and sendmail-cf.

M4005 says a call of a "silent" macro without dnl leaves exactly one blank
line in sendmail.cf, and that section macros and VERSIONID do not count;
M4006 and M4012 use lists taken from the cf tree. Each is proved here
against the installed tools, so a newer sendmail-cf that changes them fails
a test instead of the linter quietly going wrong.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lint_corpus import CF_M4, needs_m4, new_scratch

from compiler.sendmail.confnames import KNOWN_OPTIONS, OBSOLETE_OPTIONS
from compiler.sendmail.m4names import BUILTINS_BARE, BUILTINS_WITH_ARGS, CF_MACROS, SILENT_MACROS

CF_DIR = CF_M4.parent.parent

#: a call of each silent macro that sendmail-cf accepts without complaint
CALLS = {
    "define": "define(`tlscX', `1')",
    "undefine": "undefine(`tlscX')",
    "pushdef": "pushdef(`tlscX', `1')",
    "popdef": "popdef(`tlscX')",
    "include": "include(`EMPTY')",
    "sinclude": "sinclude(`EMPTY')",
    "divert": "divert(0)",
    "FEATURE": "FEATURE(`use_cw_file')",
    "OSTYPE": "OSTYPE(`debian')",
    "DOMAIN": "DOMAIN(`generic')",
    "MAILER": "MAILER(`smtp')",
    "HACK": "HACK(`cssubdomain')",
    "DAEMON_OPTIONS": "DAEMON_OPTIONS(`Port=smtp, Name=MTA')",
    "CLIENT_OPTIONS": "CLIENT_OPTIONS(`Family=inet')",
    "INPUT_MAIL_FILTER": "INPUT_MAIL_FILTER(`f1', `S=local:/run/f1.sock')",
    "MAIL_FILTER": "MAIL_FILTER(`f2', `S=local:/run/f2.sock')",
    "QUEUE_GROUP": "QUEUE_GROUP(`q1', `P=/var/spool/mqueue')",
    "MASQUERADE_AS": "MASQUERADE_AS(`example.com')",
    "MODIFY_MAILER_FLAGS": "MODIFY_MAILER_FLAGS(`SMTP', `+e')",
}

#: macros that end in their own dnl: the line needs none
SELF_DNL = {
    "MASQUERADE_DOMAIN": "MASQUERADE_DOMAIN(`example.com')",
    "MASQUERADE_DOMAIN_FILE": "MASQUERADE_DOMAIN_FILE(`/etc/mail/md')",
    "MASQUERADE_EXCEPTION": "MASQUERADE_EXCEPTION(`a.example.com')",
    "MASQUERADE_EXCEPTION_FILE": "MASQUERADE_EXCEPTION_FILE(`/etc/mail/me')",
    "EXPOSED_USER": "EXPOSED_USER(`root')",
    "EXPOSED_USER_FILE": "EXPOSED_USER_FILE(`/etc/mail/eu')",
    "LOCAL_USER": "LOCAL_USER(`root')",
    "LOCAL_USER_FILE": "LOCAL_USER_FILE(`/etc/mail/lu')",
    "LOCAL_DOMAIN": "LOCAL_DOMAIN(`example.com')",
    "RELAY_DOMAIN": "RELAY_DOMAIN(`example.com')",
    "RELAY_DOMAIN_FILE": "RELAY_DOMAIN_FILE(`/etc/mail/rd')",
    "CANONIFY_DOMAIN": "CANONIFY_DOMAIN(`example.com')",
    "CANONIFY_DOMAIN_FILE": "CANONIFY_DOMAIN_FILE(`/etc/mail/cd')",
    "GENERICS_DOMAIN": "GENERICS_DOMAIN(`example.com')",
    "GENERICS_DOMAIN_FILE": "GENERICS_DOMAIN_FILE(`/etc/mail/gd')",
    "VIRTUSER_DOMAIN": "VIRTUSER_DOMAIN(`example.com')",
    "VIRTUSER_DOMAIN_FILE": "VIRTUSER_DOMAIN_FILE(`/etc/mail/vd')",
    "LDAPROUTE_DOMAIN": "LDAPROUTE_DOMAIN(`example.com')",
    "LDAPROUTE_DOMAIN_FILE": "LDAPROUTE_DOMAIN_FILE(`/etc/mail/ld')",
    "LDAPROUTE_EQUIVALENT": "LDAPROUTE_EQUIVALENT(`example.com')",
    "LDAPROUTE_EQUIVALENT_FILE": "LDAPROUTE_EQUIVALENT_FILE(`/etc/mail/le')",
    "TRUST_AUTH_MECH": "TRUST_AUTH_MECH(`PLAIN')",
}

#: the other statements of the test .mc, around the call
TEMPLATE = """divert(-1)dnl
divert(0)dnl
include(`{cf}')dnl
{ostype}{call}
MAILER(`local')dnl
"""


def _build(directory: Path, call: str) -> tuple[str, str]:
    ostype = "" if call.startswith("OSTYPE") else "OSTYPE(`debian')dnl\n"
    text = TEMPLATE.format(cf=CF_M4, ostype=ostype, call=call)
    if call.startswith("MAILER("):
        text = text.replace("MAILER(`local')dnl\n", "")
    (directory / "test.mc").write_text(text, encoding="utf-8")
    proc = subprocess.run(
        ["m4", "-D_NO_MAKEINFO_", "test.mc"],
        cwd=directory,
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )
    return proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def scratch() -> object:
    directory = new_scratch()
    (directory / "EMPTY").write_text("", encoding="utf-8")
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_every_silent_macro_has_a_test_call() -> None:
    assert set(CALLS) == set(SILENT_MACROS)


@needs_m4
@pytest.mark.realtools
@pytest.mark.parametrize("macro", sorted(SILENT_MACROS))
def test_silent_macro_without_dnl_adds_one_blank_line(macro: str, scratch: Path) -> None:
    with_dnl, err1 = _build(scratch, CALLS[macro] + "dnl")
    without, err2 = _build(scratch, CALLS[macro])
    assert err1 == err2 == "", (err1, err2)
    added = [
        line
        for line in difflib.ndiff(with_dnl.split("\n"), without.split("\n"))
        if line.startswith(("+ ", "- "))
    ]
    assert added == ["+ "], added


@needs_m4
@pytest.mark.realtools
@pytest.mark.parametrize("macro", sorted(SELF_DNL))
def test_self_dnl_macros_need_no_dnl(macro: str, scratch: Path) -> None:
    assert macro not in SILENT_MACROS
    with_dnl, err1 = _build(scratch, SELF_DNL[macro] + "dnl")
    without, err2 = _build(scratch, SELF_DNL[macro])
    assert err1 == err2 == ""
    assert with_dnl == without


@needs_m4
@pytest.mark.realtools
def test_versionid_needs_its_newline(scratch: Path) -> None:
    with_dnl, _ = _build(scratch, "VERSIONID(`x')dnl")
    without, _ = _build(scratch, "VERSIONID(`x')")
    assert "#####  x  #####\n" in without  # the newline ends the comment line
    assert without.count("\n\n") == with_dnl.count("\n\n")  # and is no blank line


@needs_m4
def test_cf_macros_are_defined_by_cfhead() -> None:
    text = (CF_DIR / "m4" / "cfhead.m4").read_text(encoding="utf-8", errors="replace")
    defined = set(re.findall(r"^define\(`([A-Za-z][A-Za-z0-9_]*)'", text, re.MULTILINE))
    defined |= set(re.findall(r"define\(`(MAIL_SETTINGS_DIR)'", text))
    assert defined >= CF_MACROS, CF_MACROS - defined


def test_builtin_lists_do_not_overlap() -> None:
    assert not BUILTINS_BARE & BUILTINS_WITH_ARGS
    assert "dnl" in BUILTINS_BARE and "define" in BUILTINS_WITH_ARGS


@needs_m4
def test_known_options_cover_proto_m4() -> None:
    text = (CF_DIR / "m4" / "proto.m4").read_text(encoding="utf-8", errors="replace")
    used = set(re.findall(r"_OPTION\([^,]+, `(conf[A-Z0-9_]+)'", text))
    assert used <= KNOWN_OPTIONS, used - KNOWN_OPTIONS
    for name in OBSOLETE_OPTIONS:
        assert name in text, name


def test_known_options_are_from_cf_readme_when_installed() -> None:
    readme = Path("/usr/share/doc/sendmail-doc/cf.README.gz")
    if not readme.exists():
        pytest.skip("sendmail-doc is not installed")
    import gzip

    text = gzip.decompress(readme.read_bytes()).decode("utf-8", "replace")
    table = text.split("M4 Variable Name", 1)[1].split("\n+-", 1)[0]
    names = set(re.findall(r"^(conf[A-Za-z0-9_]+)", table, re.MULTILINE))
    assert names <= KNOWN_OPTIONS, names - KNOWN_OPTIONS
