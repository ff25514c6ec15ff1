"""Names m4 never matches: a sendmail-cf macro one or two letters off (`FEATUR(`),
a devtools macro in a .mc (M4013), a known option's name in another case or with a
blank in its quotes (M4006); and a devtools site.config.m4, which is no sendmail-cf
input and is held only to m4's own rules. Each claim is checked with real m4."""

from __future__ import annotations

from pathlib import Path

import pytest
from realtools import cf_options, m4_build, proto_options, scratch_dir

from compiler.lint.engine import lint_text
from compiler.sendmail import TLS_DEFINES
from compiler.sendmail.m4names import CF_MACROS

pytestmark = pytest.mark.realtools

HEAD = "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\nOSTYPE(`debian')dnl\n"
TAIL = "MAILER(`local')dnl\nMAILER(`smtp')dnl\n"


def _codes(text: str, path: str = "sendmail.mc") -> list[tuple[int, str, str]]:
    report = lint_text(text, path, "mc" if path.endswith(".mc") else "m4")
    return [(report.doc.line_of(f.offset), f.code, f.message) for f in report.findings]


#: macros whose typo lands in the .cf after the MAILERs too (the argument is a file name
#: or text: the typo'd call writes its own line)
_TYPOS = [("FEATURE", "FEATUR"), ("DAEMON_OPTIONS", "DAEMON_OPTION"), ("MAILER", "MAILR")]
_TYPOS += [("OSTYPE", "OSTYP"), ("LOCAL_CONFIG", "LOCAL_CONFG"), ("DOMAIN", "DOMIAN")]


@pytest.mark.parametrize(("macro", "typo"), _TYPOS)
def test_a_misspelled_cf_macro_is_text_in_the_cf(macro: str, typo: str) -> None:
    assert macro in CF_MACROS
    line = f"{typo}(`x')dnl\n"
    text = HEAD + line + TAIL
    found = [f for f in _codes(text) if f[1] == "M4013"]
    assert found == [
        (
            3,
            "M4013",
            f"{typo} is no macro of m4 or sendmail-cf, so m4 copies {typo}(...) into"
            f" sendmail.cf as text (did you mean {macro}?)",
        )
    ]
    with scratch_dir("typo") as work:
        rc, cf, _ = m4_build(text, None, work)
    assert rc == 0 and f"{typo}(x)" in cf  # the text m4 copied, as the finding says


@pytest.mark.parametrize(
    "text",
    [
        HEAD + "define(`FEATUR', `FEATURE($@)')dnl\nFEATUR(`use_cw_file')dnl\n" + TAIL,
        HEAD + "include(`/etc/mail/m4/site.m4')dnl\nFEATUR(`use_cw_file')dnl\n" + TAIL,
        "divert(-1)\nFEATUR(`x')\ndivert(0)dnl\n" + HEAD + TAIL,  # discarded
        HEAD + "MY_SITE_FEATURE(`x')dnl\n" + TAIL,  # a site's macro: no close name
        HEAD + "dnl FEATUR(`x')\n" + TAIL,
    ],
    ids=["defined", "own include", "divert -1", "site macro", "comment"],
)
def test_a_word_m4_may_know_is_not_reported(text: str) -> None:
    assert [f for f in _codes(text) if f[1] == "M4013"] == []


def test_a_devtools_macro_in_a_mc_is_text_in_the_cf() -> None:
    text = HEAD + "APPENDDEF(`confTLS_SRV_OPTIONS', `,C')dnl\n" + TAIL
    ((line, code, message),) = [f for f in _codes(text) if f[1] == "M4013"]
    assert (line, code) == (3, "M4013") and "macro of sendmail's devtools" in message
    with scratch_dir("appenddef") as work:
        rc, cf, _ = m4_build(text, None, work)
    assert rc == 0 and "APPENDDEF(confTLS_SRV_OPTIONS" in cf


SITE_CONFIG = """\
define(`confMAPDEF', `-DNEWDB -DNIS')
define(`confENVDEF', `-DXDEBUG=0 -DMILTER')
define(`confLIBS', `-lnsl')
define(`confMAN8SRC', `8')
APPENDDEF(`confENVDEF', -DSASL)
APPENDDEF(`conf_sendmail_LIBS', -lsasl)
"""


def test_a_devtools_site_config_is_held_to_m4s_rules_alone() -> None:
    assert _codes(SITE_CONFIG, "site.config.m4") == []
    assert _codes(SITE_CONFIG.replace("-lnsl')", "-lnsl')'"), "site.config.m4") != []
    # the same lines after a cf.m4 include are a .mc's mistakes
    assert {c for _, c, _ in _codes(HEAD + SITE_CONFIG + TAIL)} >= {"M4006", "M4013"}


@pytest.mark.parametrize("name", sorted(TLS_DEFINES))
@pytest.mark.parametrize("form", ["capital", "upper", "blank after", "blank before"])
def test_a_tls_option_in_another_case_or_with_a_blank_is_never_read(name: str, form: str) -> None:
    written = {
        "capital": name[0].upper() + name[1:],
        "upper": name.upper(),
        "blank after": name + " ",
        "blank before": " " + name,
    }[form]
    text = HEAD + f"define(`{written}', `/etc/mail/tls/x')dnl\n" + TAIL
    found = [f for f in _codes(text) if f[1] == "M4006"]
    assert len(found) == 1 and found[0][0] == 3, found
    assert found[0][2].startswith(
        "the blank in" if "blank" in form else "m4 names are case-sensitive"
    ), found
    option = proto_options().get(name)
    if option is not None:  # what m4 builds: the option is not set
        with scratch_dir("optcase") as work:
            rc, cf, _ = m4_build(text, None, work)
        assert rc == 0 and option not in cf_options(cf)


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ("define(`SMART_HOST', `smtp.example.net')dnl\nMAILER(`local')dnl\n", True),
        ("define(`SMART_HOST', `esmtp:[10.0.0.1]')dnl\nMAILER(`local')dnl\n", True),
        ("define(`MAIL_HUB', `hub.example.net')dnl\nMAILER(`local')dnl\n", True),
        ("define(`SMART_HOST', `smtp.example.net')dnl\n" + TAIL, False),
        ("define(`SMART_HOST', `uucp-dom:gw')dnl\nMAILER(`local')dnl\n", False),
        ("FEATURE(`nullclient', `hub.example.net')dnl\n", False),
    ],
    ids=["smart host", "esmtp smart host", "mail hub", "with smtp", "uucp", "nullclient"],
)
def test_a_relay_host_without_the_smtp_mailer(lines: str, error: bool) -> None:
    """M4007: the relay mailer SMART_HOST sends through is MAILER(`smtp')'s; real m4
    builds a .cf without it, where every such message waits in the queue."""
    text = HEAD + lines
    found = [f for f in _codes(text) if f[1] == "M4007"]
    assert (found != []) == error, found
    if error:
        assert found[0][0] == 3 and "and this .mc has no MAILER(`smtp')" in found[0][2]
        with scratch_dir("nosmtp") as work:
            rc, cf, _ = m4_build(text, None, work)
        assert rc == 0 and "\nMrelay," not in cf and "\nMesmtp," not in cf


def test_a_starttls_file_the_mc_does_not_include_is_a_warning(tmp_path: Path) -> None:
    """A stock Debian /etc/mail linted whole: its starttls.m4 is there, the .mc does not
    include it, so STARTTLS is off -- which is what the .mc says (the .cf is the one it
    means): a warning, and the lint of the directory passes."""
    from conftest import run_cli

    (tmp_path / "tls").mkdir()
    (tmp_path / "sendmail.mc").write_text(HEAD + TAIL)
    (tmp_path / "tls" / "starttls.m4").write_text("define(`confSERVER_CERT', `/x.pem')dnl\n")
    rc, out, err = run_cli("lint", tmp_path)
    assert rc == 0, out + err
    assert "warning: M4004" in err and "never included, so STARTTLS is off" in err, err
