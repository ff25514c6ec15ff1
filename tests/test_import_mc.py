"""sendmail.mc and starttls.m4 -> mc:, paths: and tls: (read_mc.py, read_starttls.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from import_helpers import PLAIN_MC, PLAIN_STARTTLS, imported, messages, tree

QUIRKY = """\
divert(-1)dnl
# hand-written, with quirks
divert(0)dnl
include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(`$Id: quirky.mc 2020 $')
OSTYPE(`debian')dnl
dnl DOMAIN is left out on purpose
define(`confPRIVACY_FLAGS',dnl
`authwarnings,noexpn')dnl
define(`confMAX_DAEMON_CHILDREN', `40')dnl
define(`confTO_IDENT', `0')dnl
define(`confTO_IDENT', `5s')dnl
define(`confCRL', `/etc/mail/tls/ca.crl')dnl
FEATURE(`access_db', `hash -T<TMPF> -o /etc/mail/access2')dnl
FEATURE(`nosuchfeature')dnl
HACK(`cssubdomain')dnl
define(`confTO_QUEUEWARN', `4h')dnl define(`confTO_QUEUERETURN', `5d')dnl
include(`/etc/mail/tls/starttls.m4')dnl
define(`confCIPHER_LIST', `HIGH:!aNULL')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
MAILER(`procmail')dnl
LOCAL_CONFIG
Kbadhosts hash -o /etc/mail/badhosts
"""


@pytest.mark.realtools
def test_quirky_mc_round_trips(tmp_path: Path) -> None:
    result = imported(tree(tmp_path, "Connect:127\tRELAY\n", mc=QUIRKY), "q")
    assert not result.notes.losses and not result.notes.errors, messages(result)
    assert result.summary[-1] == "sendmail.cf: same options, maps, mailers and rulesets"
    parts = result.parts
    assert parts is not None
    mc = parts.mc
    assert mc["domain"] is None and mc["mailers"] == ["local", "smtp", "procmail"]
    assert mc["defines"] == {
        "confPRIVACY_FLAGS": "authwarnings,noexpn",
        "confMAX_DAEMON_CHILDREN": "40",
        "confTO_QUEUEWARN": "4h",  # the second define on its line is eaten by dnl
    }
    assert mc["extra"] == [
        "define(`confTO_IDENT', `0')dnl",  # defined twice: both kept, in order
        "define(`confTO_IDENT', `5s')dnl",
        "FEATURE(`nosuchfeature')dnl",
        "HACK(`cssubdomain')dnl",
        "LOCAL_CONFIG",
        "Kbadhosts hash -o /etc/mail/badhosts",
    ]
    assert mc["features"] == [{"name": "access_db", "args": ["hash -T<TMPF> -o /etc/mail/access2"]}]
    assert parts.paths["access"] == "/etc/mail/access2"
    # TLS defines in the .mc: confCRL before the include, confCIPHER_LIST after it
    assert parts.tls["crl"] == "/etc/mail/tls/ca.crl"
    assert parts.tls["cipher_list"] == "HIGH:!aNULL"
    assert result.text is not None and "domain: null" in result.text
    assert re.search(
        r"- define\(`confTO_IDENT', `0'\)dnl +# from /etc/mail/sendmail.mc:11\n", result.text
    )
    # the access file is the one FEATURE(access_db) names, and there is none
    assert result.summary[0] == "access map: 0 entries compared"
    assert any("no access file" in m for _, m in result.notes.info)


def test_missing_tls_settings_are_set_to_null_and_false(tmp_path: Path) -> None:
    starttls = "".join(
        line + "\n"
        for line in PLAIN_STARTTLS.splitlines()
        if "CLIENT" in line or "CACERT" in line or "SERVER" in line
    )
    result = imported(tree(tmp_path, starttls=starttls))
    assert result.parts is not None
    tls = result.parts.tls
    assert tls["timeout"] is None and tls["dh_params"] is None
    assert tls["request_client_cert"] is True and tls["group_readable_key"] is False
    text = result.text or ""
    assert "dh_params: null" in text and "timeout: null" in text
    assert "request_client_cert: true" in text and "group_readable_key: false" in text


def test_no_starttls_include_disables_tls(tmp_path: Path) -> None:
    mc = PLAIN_MC.replace("include(`/etc/mail/tls/starttls.m4')dnl\n", "")
    result = imported(tree(tmp_path, starttls=None, mc=mc))
    assert result.parts is not None and result.parts.tls == {"enabled": False}
    assert result.text is not None and "tls: {enabled: false}" in result.text


def test_dont_blame_flags_split_into_define_and_group_readable_key(tmp_path: Path) -> None:
    mc = PLAIN_MC.replace(
        "FEATURE(", "define(`confDONT_BLAME_SENDMAIL', `TrustStickyBit')dnl\nFEATURE(", 1
    )
    result = imported(tree(tmp_path, mc=mc))
    assert result.parts is not None
    assert result.parts.mc["defines"] == {"confDONT_BLAME_SENDMAIL": "TrustStickyBit"}
    assert result.parts.tls["group_readable_key"] is True


@pytest.mark.parametrize(
    ("mc_line", "code"),
    [
        ("define(‘confMAX_DAEMON_CHILDREN’, ‘40’)dnl", "M4001"),
        ("define('confMAX_DAEMON_CHILDREN', `40')dnl", "M4002"),
        ("define(`confSMTP_LOGIN_MSG', `$j Sendmail; it's ready')dnl", "M4003"),
        ("define(`confDANE', `true')dnl", "I090"),  # DANE on a host that runs 8.17: S220
    ],
)
def test_files_m4_would_misread_or_sendmail_refuses_are_errors(
    tmp_path: Path, mc_line: str, code: str
) -> None:
    mc = PLAIN_MC.replace("FEATURE(", mc_line + "\nFEATURE(", 1)
    result = imported(tree(tmp_path, mc=mc))
    assert result.text is None
    codes = [p.code for p in result.notes.errors]
    assert code in codes
    if code.startswith("M4"):
        assert codes[-1] == "I004" and "tlsc lint --fix" in result.notes.errors[-1].message
        assert result.notes.errors[0].line == 4


def test_a_tls_value_tlsc_refuses_is_a_loss(tmp_path: Path) -> None:
    st = PLAIN_STARTTLS.replace("/etc/mail/tls/sendmail-server.crt", "/etc/mail/tls/my cert.pem")
    result = imported(tree(tmp_path, starttls=st))
    assert [p.code for p in result.notes.losses][:1] == ["I136"]
    assert result.notes.losses[0].path.endswith("starttls.m4")
    assert result.notes.losses[0].line == 5


def test_debian_ifelse_guard_is_read_as_holding(tmp_path: Path) -> None:
    guarded = (
        "ifelse(sm_enable_tls, `yes', `dnl\n"
        "define(`confDONT_BLAME_SENDMAIL',dnl\n"
        "\tdefn(`confDONT_BLAME_SENDMAIL')`,GroupReadableKeyFile')dnl\n"
        + PLAIN_STARTTLS.split("\n", 1)[1]
        + "')dnl\n"
    )
    result = imported(tree(tmp_path, starttls=guarded))
    assert result.parts is not None and result.parts.tls["group_readable_key"] is True
    assert not result.notes.losses


def test_dane_on_an_818_host_imports_with_its_release(tmp_path: Path) -> None:
    """The .cf's DZ line says which cf files built it: 8.18 carries DANE over."""
    mc = PLAIN_MC.replace("FEATURE(", "define(`confDANE', `true')dnl\nFEATURE(", 1)
    root = tree(tmp_path, mc=mc)
    (root / "etc/mail/sendmail.cf").write_text("V10/Berkeley\nDZ8.18.1/Debian-6+b1\n")
    result = imported(root)
    assert result.text is not None, messages(result)
    assert "  sendmail: '8.18'\n" in result.text or '  sendmail: "8.18"\n' in result.text
    assert "dane: true" in result.text
    assert "built by the sendmail 8.18 cf files: sendmail: 8.18" in [
        m for _, m in result.notes.info
    ]


@pytest.mark.realtools
@pytest.mark.parametrize("which", ["8.17", "8.18"])
def test_the_binary_in_the_tree_says_the_release(tmp_path: Path, which: str) -> None:
    """A tree with the host's /usr/sbin/sendmail (what `tlsc import /` reads): its version
    wins over the .cf's DZ line."""
    from realtools import SYSTEM_SENDMAIL, sendmail_818

    release = SYSTEM_SENDMAIL if which == "8.17" else sendmail_818()
    root = tree(tmp_path)
    (root / "etc/mail/sendmail.cf").write_text("V10/Berkeley\nDZ8.17.1\n")
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/sendmail").symlink_to(release.sendmail)
    result = imported(root)
    assert result.text is not None, messages(result)
    assert ("sendmail: '8.18'" in result.text or 'sendmail: "8.18"' in result.text) is (
        which == "8.18"
    )


#: the `O CipherSuites=` block as tlsc writes it (back to the includer's diversion), and as
#: it wrote it before (LOCAL_CONFIG, then diversion 0)
SUITES_BLOCKS = [
    "PUSHDIVERT(6)dnl\n`O CipherSuites=TLS_AES_128_GCM_SHA256'\nPOPDIVERT`'dnl\n",
    "LOCAL_CONFIG\n`O CipherSuites=TLS_AES_128_GCM_SHA256'\ndivert(0)dnl\n",
]


@pytest.mark.parametrize("block", SUITES_BLOCKS, ids=["pushdivert", "local_config"])
def test_ciphersuites_round_trip(tmp_path: Path, block: str) -> None:
    """The `O CipherSuites=` block tlsc writes into starttls.m4 imports as tls.ciphersuites."""
    result = imported(tree(tmp_path, starttls=PLAIN_STARTTLS + block))
    assert result.text is not None, messages(result)
    assert "ciphersuites: TLS_AES_128_GCM_SHA256" in result.text
    assert not result.notes.losses
    bad = block.replace("TLS_AES_128_GCM_SHA256", "TLS_NOPE")
    result = imported(tree(tmp_path / "bad", starttls=PLAIN_STARTTLS + bad))
    assert "I136" in [p.code for p in result.notes.losses]  # named, not silently dropped


def test_tlscs_own_starttls_imports_whole(tmp_path: Path) -> None:
    """The starttls.m4 tlsc writes (its PUSHDIVERT/POPDIVERT header and CipherSuites block)
    imports as the tls: it came from, with nothing kept verbatim or lost."""
    from realtools import render, spec

    tls = {"ciphersuites": "TLS_AES_256_GCM_SHA384", "cipher_list": "HIGH:!aNULL"}
    text = render(spec(defaults={"tls": tls}))["/etc/mail/tls/starttls.m4"]
    assert text.startswith("PUSHDIVERT(-1)dnl\n") and "POPDIVERT`'dnl\n" in text
    result = imported(tree(tmp_path, starttls=text))
    assert result.text is not None and not messages(result), messages(result)
    assert "ciphersuites: TLS_AES_256_GCM_SHA384" in result.text
    assert "cipher_list: HIGH:!aNULL" in result.text
    assert result.notes.verbatim == []
