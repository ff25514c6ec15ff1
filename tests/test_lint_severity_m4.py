"""Lint severity follows what the real m4 builds.

A lint error means the .cf is wrong or not what the author meant: m4 fails,
prints an error, or builds something other than the text says. Whatever m4
builds as written is at most a warning. Each case here is built with GNU m4
and the installed sendmail-cf (`m4 -D_NO_MAKEINFO_`), and the rule's
severity is checked against the build: "error" iff m4 failed, printed an
error, or the .cf differs from what the text says.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lint_corpus import CF_M4, context, needs_m4, new_scratch

from compiler.lint.engine import LintContext, lint_text
from compiler.sendmail import REFUSED_FEATURES
from compiler.sendmail.m4names import DEPRECATED_ALIASES, ERROR_FEATURES

CF_DIR = CF_M4.parent.parent
HEAD = f"divert(-1)dnl\ndivert(0)dnl\ninclude(`{CF_M4}')dnl\n"
OSTYPE = "OSTYPE(`debian')dnl\n"
MAILERS = "MAILER(`local')dnl\nMAILER(`smtp')dnl\n"
#: what a sendmail-cf errprint of an error looks like (m4's own errors start with m4:)
_ERROR = re.compile(r"ERROR|^m4:", re.MULTILINE)

pytestmark = [needs_m4, pytest.mark.realtools]


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    directory = new_scratch()
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def build(text: str, directory: Path) -> tuple[int, str, str]:
    """(rc, .cf, stderr) of real m4 on the .mc text."""
    (directory / "sev.mc").write_text(text, encoding="utf-8")
    proc = subprocess.run(
        ["m4", "-D_NO_MAKEINFO_", "sev.mc"],
        cwd=directory,
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def severities(text: str, code: str, ctx: LintContext | None = None) -> set[str]:
    """The severities of `code`'s findings in the .mc text."""
    report = lint_text(text, "/nonexistent/sev.mc", "mc", ctx or context())
    return {p.severity for p in report.problems() if p.code == code}


def without_versionids(cf: str) -> list[str]:
    """The .cf's lines without VERSIONID comments and blank lines."""
    return [line for line in cf.split("\n") if line.strip() and not line.startswith("#####")]


# -- deprecated aliases in the cf tree (M4012) ----------------------------------


def deprecated_in_tree() -> dict[tuple[str, str], str]:
    """Every cf-tree file that says it is deprecated, with the file it builds instead."""
    found: dict[tuple[str, str], str] = {}
    for macro, sub in (("FEATURE", "feature"), ("OSTYPE", "ostype"), ("MAILER", "mailer")):
        for path in sorted((CF_DIR / sub).glob("*.m4")):
            text = path.read_text(encoding="utf-8", errors="replace")
            if not re.search(r"errprint\(`[^']*deprecated", text):
                continue
            m = re.search(rf"^{macro}\(`?([\w.+-]+)'?\)", text, re.MULTILINE) or re.search(
                rf"include\(_CF_DIR_`'{sub}/([\w.+-]+)\.m4\)", text
            )
            assert m, f"{path} is deprecated but names no replacement"
            found[(macro, path.name[:-3])] = m.group(1)
    return found


DEPRECATED = sorted(deprecated_in_tree()) if CF_DIR.exists() else []


def test_the_deprecated_table_is_the_cf_trees() -> None:
    assert deprecated_in_tree() == DEPRECATED_ALIASES
    assert ("FEATURE", "blacklist_recipients") in DEPRECATED_ALIASES


def _use(macro: str, name: str, quoted: bool = True) -> str:
    arg = f"`{name}'" if quoted else name
    if macro == "OSTYPE":
        return HEAD + f"OSTYPE({arg})dnl\nFEATURE(`access_db')dnl\n" + MAILERS
    return HEAD + OSTYPE + f"FEATURE(`access_db')dnl\n{macro}({arg})dnl\n" + MAILERS


@pytest.mark.parametrize("quoted", [True, False], ids=["quoted", "bare"])
@pytest.mark.parametrize("alias", DEPRECATED, ids=[f"{m}-{n}" for m, n in DEPRECATED])
def test_a_deprecated_alias_builds_the_modern_file_and_is_a_warning(
    alias: tuple[str, str], quoted: bool, scratch: Path
) -> None:
    macro, name = alias
    modern = DEPRECATED_ALIASES[alias]
    rc, cf, err = build(_use(macro, name, quoted), scratch)
    rc_new, cf_new, err_new = build(_use(macro, modern), scratch)
    assert rc == rc_new == 0 and err_new == ""
    assert "deprecated" in err and not _ERROR.search(err), err
    assert without_versionids(cf) == without_versionids(cf_new)
    report = lint_text(_use(macro, name, quoted), "/nonexistent/sev.mc", "mc", context())
    found = [p for p in report.problems() if p.code == "M4012"]
    assert [p.severity for p in found] == ["warning"], found
    assert f"{macro}(`{modern}')" in found[0].message


@pytest.mark.parametrize("name", sorted(REFUSED_FEATURES))
def test_a_refused_feature_is_an_error_iff_sendmail_cf_prints_one(name: str, scratch: Path) -> None:
    text = HEAD + OSTYPE + f"FEATURE(`access_db')dnl\nFEATURE(`{name}')dnl\n" + MAILERS
    rc, _, err = build(text, scratch)
    assert rc == 0 and err, err  # every one of them prints something
    failed = bool(_ERROR.search(err))
    assert failed == (name in ERROR_FEATURES)
    assert severities(text, "M4012") == {"error" if failed else "warning"}


# -- OSTYPE (M4017) -------------------------------------------------------------

_MSP = "FEATURE(`msp', `[127.0.0.1]')dnl\n"


@pytest.mark.parametrize(
    "body",
    [
        "define(`__OSTYPE__',`')dnl\n" + _MSP,  # sendmail's cf/cf/submit.mc
        _MSP,
        OSTYPE + _MSP,
        "define(`__OSTYPE__', `debian')dnl\n" + MAILERS,
        MAILERS,
        OSTYPE + MAILERS,
    ],
    ids=["submit-idiom", "msp-bare", "msp-ostype", "define-mta", "mta-bare", "mta-ostype"],
)
def test_a_missing_ostype_is_an_error_iff_proto_m4_complains(body: str, scratch: Path) -> None:
    text = HEAD + body
    rc, _, err = build(text, scratch)
    failed = rc != 0 or bool(_ERROR.search(err))
    assert failed == ("OSTYPE" not in body and "__OSTYPE__" not in body), err
    assert severities(text, "M4017") == ({"error"} if failed else set())


def test_sendmails_own_submit_mc_builds_and_lints_clean(scratch: Path) -> None:
    submit = CF_DIR / "cf" / "submit.mc"
    if not submit.exists():
        pytest.skip("no cf/cf/submit.mc in this sendmail-cf")
    text = HEAD + submit.read_text(encoding="utf-8")
    assert build(text, scratch)[0::2] == (0, "")
    assert severities(text, "M4017") == set()


# -- after the MAILER lines (M4004, M4007) ----------------------------------------

#: a starttls.m4 as tlsc writes it: option defines only
STARTTLS = """divert(-1)dnl
divert(0)dnl
define(`confCACERT_PATH', ``/etc/ssl/certs'')dnl
define(`confCACERT', ``/etc/mail/tls/ca.crt'')dnl
define(`confSERVER_CERT', ``/etc/mail/tls/server.crt'')dnl
define(`confSERVER_KEY', ``/etc/mail/tls/server.key'')dnl
define(`confCLIENT_CERT', ``/etc/mail/tls/client.crt'')dnl
define(`confCLIENT_KEY', ``/etc/mail/tls/client.key'')dnl
define(`confTLS_SRV_OPTIONS', ``V'')dnl
define(`confTO_STARTTLS', ``2m'')dnl
"""
_DBS = "ifdef(`confDONT_BLAME_SENDMAIL', `defn(`confDONT_BLAME_SENDMAIL')`,'')"
STARTTLS += f"define(`confDONT_BLAME_SENDMAIL', {_DBS}``GroupReadableKeyFile'')dnl\n"
#: a starttls-named file that also sets a mailer flag
STARTTLS_FLAGS = STARTTLS + "define(`SMTP_MAILER_FLAGS', `e')dnl\n"
ACCESS = "FEATURE(`access_db')dnl\n"


def _order_case(body: str, late: bool) -> str:
    return HEAD + OSTYPE + ACCESS + (MAILERS + body if late else body + MAILERS)


def _judge(body: str, code: str, scratch: Path, ctx: LintContext | None = None) -> None:
    """Build `body` before and after the MAILERs: the rule's severity after them is
    "error" iff the late build fails, prints an error or builds another .cf."""
    rc_early, cf_early, err_early = build(_order_case(body, False), scratch)
    assert rc_early == 0 and err_early == "", err_early
    rc, cf, err = build(_order_case(body, True), scratch)
    differs = rc != 0 or bool(_ERROR.search(err)) or cf != cf_early
    found = severities(_order_case(body, True), code, ctx)
    assert found == {"error" if differs else "warning"}, (body, differs, found)
    assert severities(_order_case(body, False), code, ctx) == set()


@pytest.mark.parametrize(
    ("text", "identical"), [(STARTTLS, True), (STARTTLS_FLAGS, False)], ids=["options", "flags"]
)
def test_starttls_include_after_mailer_is_an_error_iff_the_cf_differs(
    text: str, identical: bool, scratch: Path
) -> None:
    path = scratch / "starttls.m4"
    path.write_text(text, encoding="utf-8")
    include = f"include(`{path}')dnl\n"
    _, early, _ = build(_order_case(include, False), scratch)
    _, late, _ = build(_order_case(include, True), scratch)
    assert (early == late) == identical
    _judge(include, "M4004", scratch)


#: defines and calls whose place after the MAILERs M4007 judges
LATE_CASES = [
    "define(`confSERVER_CERT', `/etc/mail/tls/server.crt')dnl\n",
    "define(`confTLS_SRV_OPTIONS', `V')dnl\n",
    "define(`confDONT_BLAME_SENDMAIL', `GroupReadableKeyFile')dnl\n",
    "define(`confPRIVACY_FLAGS', `goaway')dnl\n",
    "define(`confUSERDB_SPEC', `/etc/mail/userdb.db')dnl\n",
    "define(`SMTP_MAILER_FLAGS', `e')dnl\n",
    "define(`LOCAL_MAILER_PATH', `/usr/bin/procmail')dnl\n",
    "define(`SMTP_MAILER_MAX', `1000000')dnl\n",
    "define(`ESMTP_MAILER_ARGS', `TCP $h 2525')dnl\n",
    "MODIFY_MAILER_FLAGS(`SMTP', `+e')dnl\n",
    "MODIFY_MAILER_FLAGS(`ESMTP', `+e')dnl\n",
    "FEATURE(`use_cw_file')dnl\n",
    "DOMAIN(`generic')dnl\n",
]
_DEBIAN_DOMAIN = CF_DIR / "domain" / "debian-mta.m4"
if _DEBIAN_DOMAIN.exists():
    LATE_CASES.append("DOMAIN(`debian-mta')dnl\n")


@pytest.mark.parametrize("body", LATE_CASES, ids=[b.split("'")[0] for b in LATE_CASES])
def test_a_call_after_mailer_is_an_error_iff_the_cf_differs(body: str, scratch: Path) -> None:
    _judge(body, "M4007", scratch)


@pytest.mark.parametrize("body", LATE_CASES[:9], ids=[b.split("'")[0] for b in LATE_CASES[:9]])
def test_without_the_cf_tree_the_mailer_name_pattern_agrees(body: str, scratch: Path) -> None:
    """Where sendmail-cf is not installed, the name pattern stands in for mailer/*.m4."""
    _judge(body, "M4007", scratch, LintContext())


# -- --deep (M4020): foreign cf trees, sendmail-cf's warnings ---------------------

#: a Red Hat style sendmail.mc (its cf.m4 lives in /usr/share/sendmail-cf)
REDHAT_MC = """divert(-1)dnl
include(`/usr/share/sendmail-cf/m4/cf.m4')dnl
VERSIONID(`setup for linux')dnl
OSTYPE(`linux')dnl
define(`confDEF_USER_ID', ``8:12'')dnl
define(`confSERVER_CERT', `/etc/pki/tls/certs/sendmail.pem')dnl
FEATURE(`access_db', `hash -T<TMPF> -o /etc/mail/access.db')dnl
FEATURE(`blocklist_recipients')dnl
MAILER(smtp)dnl
MAILER(procmail)dnl
"""


def _deep(text: str, directory: Path) -> list[tuple[int, str, str, str]]:
    from compiler.lint.deep import deep_check
    from compiler.lint.lexer import lex

    path = directory / "sendmail.mc"
    path.write_text(text, encoding="utf-8")
    doc = lex(text, str(path), "mc")
    return [
        (doc.pos(f.offset)[0], f.code, f.severity, f.message) for f in deep_check(doc, context())
    ]


@pytest.mark.parametrize(
    "cf_m4", ["/usr/share/sendmail-cf/m4/cf.m4", "../m4/cf.m4"], ids=["redhat", "relative"]
)
def test_deep_builds_a_foreign_mc_with_the_local_cf_tree(cf_m4: str, scratch: Path) -> None:
    if Path(cf_m4).is_absolute() and Path(cf_m4).exists():
        pytest.skip(f"{cf_m4} exists here")
    directory = scratch / "cf"
    directory.mkdir(exist_ok=True)
    found = _deep(REDHAT_MC.replace("/usr/share/sendmail-cf/m4/cf.m4", cf_m4), directory)
    notes = [f for f in found if "local sendmail-cf tree" in f[3]]
    assert [(n[0], n[2]) for n in notes] == [(2, "warning")], found
    assert cf_m4 in notes[0][3]
    assert [f for f in found if f not in notes] == [], found  # built, and the .cf checked


def test_deep_reports_sendmail_cf_warnings_as_warnings_and_errors_as_errors(
    scratch: Path,
) -> None:
    warned = _deep(_use("FEATURE", "blacklist_recipients"), scratch)
    assert [(c, s) for _, c, s, _ in warned] == [("M4020", "warning")], warned
    assert "is deprecated" in warned[0][3]
    failed = _deep(HEAD + MAILERS, scratch)
    assert ("M4020", "error") in [(c, s) for _, c, s, _ in failed], failed


# -- the audit: every rule's severity against real m4 ------------------------------

_TLS = "define(`confSERVER_CERT', `/etc/mail/tls/server.crt')dnl\n"
_GREET = "FEATURE(`greet_pause', `1000')dnl\n"
_RATE = "FEATURE(`ratecontrol', `nodelay', `terminate')dnl\nFEATURE(`delay_checks')dnl\n"

#: (rule, .mc body after the cf.m4 include, the body as its author meant it or None).
#: The rule's finding is "error" iff m4 fails or prints an error, or (where the
#: author's intent can be written down) the .cf differs from the intended body's,
#: blank lines aside.
AUDIT = [
    (
        "M4001",
        "define(\u2018confSERVER_CERT\u2019, \u2018/x.crt\u2019)dnl\n",
        "define(`confSERVER_CERT', `/x.crt')dnl\n",
    ),
    (
        "M4002",
        "define('confSERVER_CERT', `/x.crt')dnl\n",
        "define(`confSERVER_CERT', `/x.crt')dnl\n",
    ),
    (
        "M4003",
        "define(`confSMTP_LOGIN_MSG', `$j Sendmail; it's ready')dnl\n",
        "changequote([,])define([confSMTP_LOGIN_MSG], [$j Sendmail; it's ready])changequote`'dnl\n",
    ),
    ("M4005", "FEATURE(`use_cw_file')dnI\n", "FEATURE(`use_cw_file')dnl\n"),
    ("M4005", "FEATURE(`use_cw_file')\n", "FEATURE(`use_cw_file')dnl\n"),
    ("M4006", "define(`confCIPHERLIST', `HIGH')dnl\n", None),
    ("M4007", MAILERS + _TLS, _TLS + MAILERS),
    (
        "M4007",
        MAILERS + "define(`SMTP_MAILER_FLAGS', `e')dnl\n",
        "define(`SMTP_MAILER_FLAGS', `e')dnl\n" + MAILERS,
    ),
    ("M4007", MAILERS + "FEATURE(`use_cw_file')dnl\n", "FEATURE(`use_cw_file')dnl\n" + MAILERS),
    (
        "M4009",
        "define(`confCRL', /srv/dnl/crl.pem)dnl\n",
        "define(`confCRL', `/srv/dnl/crl.pem')dnl\n",
    ),
    ("M4009", "FEATURE(`use_cw_file'))dnl\n", "FEATURE(`use_cw_file')dnl\n"),
    (
        "M4010",
        "# we used to have FEATURE(`use_cw_file') here\n",
        "dnl # we used to have FEATURE(`use_cw_file') here\n",
    ),
    (
        "M4011",
        "define(`confSERVER_CERT', /etc/lower/cert.pem)dnl\n",
        "define(`confSERVER_CERT', ``/etc/lower/cert.pem'')dnl\n",
    ),
    ("M4012", "FEATURE(`acces_db')dnl\n", None),
    (
        "M4012",
        ACCESS + "FEATURE(`blacklist_recipients')dnl\n",
        ACCESS + "FEATURE(`blocklist_recipients')dnl\n",
    ),
    ("M4012", "FEATURE(`promiscuous_relay')dnl\n", None),
    ("M4012", "FEATURE(`tls_failures')dnl\n", None),
    ("M4013", "FEATURE (`use_cw_file')dnl\n", "FEATURE(`use_cw_file')dnl\n"),
    ("M4013", "feature(`use_cw_file')dnl\n", "FEATURE(`use_cw_file')dnl\n"),
    ("M4014", _GREET + ACCESS, ACCESS + _GREET),
    ("M4014", _GREET, None),
    ("M4014", _RATE + ACCESS, ACCESS + _RATE.split("\n", 1)[1] + _RATE.split("\n", 1)[0] + "\n"),
    (
        "M4016",
        "changequote([,])dnl\n" + "define([confSERVER_CERT], [/x.crt])dnl\n"
        "changequote([`],['])dnl\n",
        None,
    ),
    (
        "M4018",
        "FEATURE(`access_db', `hash /etc/mail/access')dnl\n",
        "FEATURE(`access_db', `hash -T<TMPF> /etc/mail/access')dnl\n",
    ),
    ("M4019", "define(`confSERVER_CERT', esyscmd(`printf /x.crt'))dnl\n", None),
    ("M4022", "FEATURE(`sts')dnl\n", None),  # right for a resolver told to listen on 5461
    (
        "M4024",
        "define(`confSMTP_LOGIN_MSG', `$j ESMTP #1')dnl\n",
        "define(`confSMTP_LOGIN_MSG', `$j ESMTP \\#1')dnl\n",
    ),
]


def _audit_mc(body: str) -> str:
    mailers = "" if "MAILER(" in body else MAILERS
    return HEAD + OSTYPE + body + mailers


def _cf_lines(cf: str) -> list[str]:
    """The .cf's lines as sendmail reads them: blank lines, VERSIONID comments and runs
    of blanks inside a line (`hash -T<TMPF>  /etc/mail/access`) do not matter."""
    return [
        re.sub(r"(?<=\S)[ \t]{2,}", " ", line)
        for line in cf.split("\n")
        if line.strip() and not line.startswith("#####")
    ]


@pytest.mark.parametrize(
    ("code", "body", "intended"), AUDIT, ids=[f"{c}-{k}" for k, (c, _, _) in enumerate(AUDIT)]
)
def test_rule_severity_follows_the_real_m4_build(
    code: str, body: str, intended: str | None, scratch: Path
) -> None:
    rc, cf, err = build(_audit_mc(body), scratch)
    wrong = rc != 0 or bool(_ERROR.search(err))
    if intended is not None:
        rc_meant, cf_meant, err_meant = build(_audit_mc(intended), scratch)
        assert rc_meant == 0 and not _ERROR.search(err_meant), err_meant
        wrong = wrong or _cf_lines(cf) != _cf_lines(cf_meant)
    found = severities(_audit_mc(body), code)
    assert found, f"{code} does not report {body!r}"
    assert found == {"error" if wrong else "warning"}, (code, body, wrong, found, err)


def _names_read_by(*mailers: str) -> list[str]:
    """The macro names the mailer files read (what a define could set)."""
    names: set[str] = set()
    for mailer in mailers:
        path = CF_DIR / "mailer" / f"{mailer}.m4"
        text = "\n".join(
            line
            for line in path.read_text(encoding="utf-8", errors="replace").split("\n")
            if not line.startswith("#")
        )
        names |= set(re.findall(r"\b(conf[A-Z0-9_]+|_?[A-Z][A-Z0-9]*_[A-Z0-9_]+)\b", text))
    sections = {"LOCAL_CONFIG", "LOCAL_RULE_0", "LOCAL_NET_CONFIG", "MAILER_DEFINITIONS"}
    return sorted(names - sections)


MAILER_NAMES = _names_read_by("local", "smtp") if CF_DIR.exists() else []


@pytest.mark.parametrize("name", MAILER_NAMES)
def test_every_name_the_mailer_files_read_is_judged_by_the_build(name: str, scratch: Path) -> None:
    """A define after MAILER(local)/MAILER(smtp) of each name those files read."""
    body = f"define(`{name}', `1')dnl\n"
    _, cf_early, _ = build(_order_case(body, False), scratch)
    _, cf_late, _ = build(_order_case(body, True), scratch)
    expected = {"error" if cf_early != cf_late else "warning"}
    for ctx in (context(), LintContext()):  # the cf tree, and the pattern without it
        assert severities(_order_case(body, True), "M4007", ctx) == expected, (name, ctx)


# -- a line without dnl after the cf.m4 include (M4005) -----------------------------

#: heads as real files write them: cf.m4 ends in divert(0)dnl, so whatever diversion
#: came before the include (Red Hat's and PLD's divert(-1)), output is on after it
_INCLUDE = f"include(`{CF_M4}')"
_HEADS = [
    f"divert(-1)dnl\n{_INCLUDE}dnl\n",  # Red Hat / Fedora
    f"divert(-1)\ndnl a comment\n{_INCLUDE}dnl\n",  # PLD, Mandriva
    f"{_INCLUDE}dnl\n",  # Slackware's, with no divert at all
    f"divert(-1)dnl\n{_INCLUDE}dnl\ndivert(-1)dnl\n",  # output switched off again
]
_LINES = [
    "define(`confTO_CONNECT', `1m')",
    "undefine(`UUCP_RELAY')",
    "FEATURE(`use_cw_file')",
    "define(`confCACERT_PATH',`/etc/mail/certs')",
]


@pytest.mark.parametrize("head", _HEADS)
@pytest.mark.parametrize("line", _LINES)
def test_a_line_without_dnl_after_cf_m4_warns_iff_the_cf_gets_a_blank_line(
    head: str, line: str, scratch: Path
) -> None:
    body = head + OSTYPE + "{}\n" + MAILERS
    bare, with_dnl = body.format(line), body.format(line + "dnl")
    blank_line = build(bare, scratch)[1] != build(with_dnl, scratch)[1]
    report = lint_text(bare, "/nonexistent/sev.mc", "mc", context())
    at = bare.count("\n", 0, bare.index(line)) + 1
    found = [p for p in report.problems() if p.code == "M4005" and p.line == at]
    assert bool(found) == blank_line, (head, line, found)
