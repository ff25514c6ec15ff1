"""The compiled bytes, read by sendmail's own tools: real m4 with cf.m4, real makemap.

* m4: every compiled sendmail.mc, with its include pointed at the compiled
  starttls.m4, builds with `m4 -D_NO_MAKEINFO_` with exit 0 and an EMPTY
  stderr (sendmail's `*** ERROR` lines leave rc 0), and the .cf carries every
  configured option with exactly the configured value.
* The double-quoting claim of render/m4quote.py: values holding m4 macro
  words reach the .cf exactly as written, and the same values with one level
  of quotes do not (the regression guard for m4quote.value).
* makemap: every compiled access file loads with `makemap hash` (rc 0, no
  stderr) and `makemap -u hash` gives back exactly the rendered entries, keys
  folded to lower case.

Each real-tool test runs with each release (tests/releases.py): the cf tree,
proto.m4 and makemap of 8.17.1.9, then of 8.18.1. The specs name no release:
`sendmail:` changes what validation accepts, not the bytes tlsc writes.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from realtools import (
    CF_DIR,
    EXAMPLES,
    SYSTEM_SENDMAIL,
    SendmailRelease,
    access_entries,
    cf_options,
    cf_version,
    check_cf,
    compile_dict,
    entry_lines,
    expected_dump,
    host_settings,
    m4_build,
    makemap_roundtrip,
    point_cf_m4,
    point_include,
    proto_options,
    scratch_dir,
    sendmail_818,
    spec,
)
from releases import release

from compiler.compile import Compiled, compile_file
from compiler.sendmail import m4quote
from compiler.spec.model import HostSettings

__all__ = ["release"]  # a fixture, imported for pytest

# -- specs beyond the examples ----------------------------------------------------

#: every tls: and mc: setting that reaches the .cf, with ordinary values
KITCHEN: dict[str, Any] = spec(
    cluster="kitchen",
    defaults={
        "tls": {
            "ca_cert": "/etc/mail/tls/ca-bundle.crt",
            "server_cert": "/etc/mail/tls/server.crt",
            "server_key": "/etc/mail/tls/server.key",
            "client_cert": "/etc/mail/tls/client.crt",
            "client_key": "/etc/mail/tls/client.key",
            "dh_params": "i",
            "crl": "/etc/mail/tls/crl.pem",
            "timeout": "90s",
            "cipher_list": "HIGH:!aNULL:!MD5",
            "server_ssl_options": ["+SSL_OP_NO_SSLv3", "+SSL_OP_NO_TLSv1", "-0x0010"],
            "client_ssl_options": ["SSL_OP_NO_TLSv1_1"],
        },
        "mc": {
            "defines": {
                "confPRIVACY_FLAGS": "authwarnings,noexpn,novrfy",
                "confSMTP_LOGIN_MSG": "$j ready",
                "confMAX_MESSAGE_SIZE": 10485760,
                "confTO_IDENT": "0",
                "confREJECT_MSG": "550 5.7.1 Access denied",
            },
            "features": [
                {"name": "access_db", "args": ["", "skip"]},
                {"name": "greet_pause", "args": ["1000"]},
                "delay_checks",
                {"name": "ratecontrol", "args": ["nodelay", "terminate"]},
                "tls_session_features",
                "use_cw_file",
            ],
            "daemon_options": [
                "Family=inet, Name=MTA-v4, Port=smtp",
                "Family=inet, Name=MSP-v4, Port=submission, M=Ea, Addr=127.0.0.1",
            ],
            "extra": ["dnl # a comment line kept as written"],
        },
    },
    hosts={
        "asks": {
            "fqdn": "asks.example.net",
            "tls": {"request_client_cert": True, "group_readable_key": False},
        },
        "plain": {"fqdn": "plain.example.net", "ownership": "block"},
        "moved": {
            "fqdn": "moved.example.net",
            "paths": {
                "access": "/srv/mail/access",
                "access_db": "/srv/mail/access.db",
                "starttls_m4": "/srv/mail/tls/starttls.m4",
            },
            "mc": {"features": ["tls_session_features", "use_cw_file"]},
            "tls": {"timeout": None, "dh_params": None, "client_cert": None},
        },
        "notls": {"fqdn": "notls.example.net", "tls": {"enabled": False}},
    },
    domains={
        "*": {"outbound": "may"},
        "secure.example.com": {"outbound": "encrypt"},
        "safe.example.net": {"outbound": {"require": "verify", "cn": True, "issuer_tag": "MyCA"}},
        "laptop.example.com": {
            "inbound": {"require": "verify", "min_bits": 112, "on_failure": "permanent"}
        },
        "Broken.Server": {"outbound": {"starttls": False}, "inbound": {"starttls": False}},
        "192.0.2": {"inbound": "encrypt"},
        "IPv6:2001:db8::25": {"outbound": {"require": "encrypt", "on_failure": "temporary"}},
        "bücher.example": {
            "outbound": {
                "require": "verify",
                "subject": "/O=Bücher (DE)/CN=mx+1",
                "issuer": "/CN=Root CA",
            }
        },
    },
    recipients={
        "darth@endmail.org": {"require": "encrypt", "min_bits": 112, "cn": "smtp.endmail.org"},
        "ops@": "verify",
        "EndMail.ORG": "encrypt",
    },
    issuer_tags={"MyCA": ["/C=US/ST=CA/O=safe/CN=example.net/", "/O=Second CA (2)/CN=Root"]},
    access=[
        "Connect:127 RELAY",
        "GreetPause:127 0",
        "Connect:192.0.2 REJECT",
        "Connect:IPv6:2001:DB8::1 RELAY",
        "From:spammer@ REJECT",
        "Connect:10.1 ERROR:5.7.1:550 go away, won't you",
        'Connect:10.2 ERROR:"550 100%% sure"',
        "Connect:bad.example ERROR:5.7.1:550 Gehen Sie weg – bitte",
        "Spam:abuse@ FRIEND",
        "ClientRate: 10",
        "Srv_Features:10.3 A S",
        "TLS_Srv_Features:10.4 Options=+SSL_OP_NO_TLSv1_3",
        "CertIssuer:/O=Ex+20CA RELAY",
    ],
)

SERVER_CERT = "/etc/lower/dnl/divnum/include/cert.pem"
#: `\#`: a bare `#` is a comment to sendmail's readcf, refused (test_cf_values_sendmail)
GREETING = "a,b (c) \\# d"

#: paths and values made of m4 macro words; all valid, all must reach the .cf unchanged
HOSTILE: dict[str, Any] = spec(
    cluster="dnl",
    defaults={
        "paths": {
            "access": "/etc/lower/dnl/access",
            "access_db": "/etc/lower/dnl/divnum/access.db",
        },
        "tls": {
            "server_cert": SERVER_CERT,
            "server_key": "/etc/include/divert/changequote/key.pem",
            "client_cert": "/etc/ALIAS_FILE/LOCAL_CONFIG/client.pem",
            "client_key": "/etc/__line__/__file__/dnl",
            "ca_cert": "/etc/lower/cert.pem",
            "ca_cert_path": "/etc/divnum/x",
            "crl": "/srv/dnl/crl.pem",
            "dh_params": "/etc/m4exit/syscmd/dh.pem",
            "cipher_list": "HIGH:!aNULL:dnl:divnum",
        },
        "mc": {
            "defines": {
                "confSMTP_LOGIN_MSG": GREETING,
                "confHELO_NAME": "dnl divert(1) changequote([,]) include(/etc/passwd) x",
                "confOPERATORS": "$ % ) ( é ,",
                "confDEF_CHAR_SET": "lower(X)",
                "confRELAY_MSG": '"550 no relay dnl \\# here"',
            },
            "features": [
                {"name": "virtusertable", "args": ["hash -o /etc/lower/dnl/divnum/virtusertable"]}
            ],
            "daemon_options": ["Family=inet, Name=dnl, Port=smtp, Addr=127.0.0.1"],
        },
    },
    hosts={"include": {"fqdn": "dnl.example.net"}, "divert": {"fqdn": "divert.example.net"}},
    access=["Connect:127 RELAY"],
)


# -- the cases: every host of every example, and the specs above --------------------


def _cases() -> list[tuple[str, Compiled, dict[str, HostSettings]]]:
    out = []
    for example in EXAMPLES:
        text = example.read_text(encoding="utf-8")
        out.append((example.stem, compile_file(example), host_settings(text, example.name)))
    for name, data in (("kitchen", KITCHEN), ("hostile", HOSTILE)):
        out.append((name, compile_dict(data), host_settings(json.dumps(data))))
    return out


CASES = _cases()
HOSTS = [
    pytest.param(compiled, settings[host], host, id=f"{name}-{host}")
    for name, compiled, settings in CASES
    for host in compiled.hosts
]


def test_every_case_compiles() -> None:
    for name, compiled, _ in CASES:
        assert compiled.ok, (name, [f"{p.code} {p.message}" for p in compiled.problems])
        assert compiled.hosts


# -- real m4 ------------------------------------------------------------------------------


def build(files: dict[str, str], settings: HostSettings, release: SendmailRelease) -> str:
    """Build the host's .cf with `release`'s cf tree; assert m4 exits 0 with nothing on
    stderr."""
    mc = files[settings.paths.sendmail_mc]
    starttls = files.get(settings.paths.starttls_m4) if settings.tls.enabled else None
    assert (starttls is not None) == settings.tls.enabled
    with scratch_dir("m4") as tmp:
        rc, cf, err = m4_build(mc, starttls, tmp, release)
    assert err == "", f"m4 wrote to stderr:\n{err}"
    assert rc == 0
    assert cf.startswith("#"), cf[:200]
    return cf


@pytest.mark.realtools
@pytest.mark.parametrize(("compiled", "settings", "host"), HOSTS)
def test_m4_builds_the_cf_with_every_configured_option(
    compiled: Compiled, settings: HostSettings, host: str, release: SendmailRelease
) -> None:
    files = compiled.hosts[host]
    cf = build(files, settings, release)
    assert cf_version(cf) == release.version
    cluster = re.search(r"VERSIONID\(`tlsc ([^/]+)/", files[settings.paths.sendmail_mc])
    assert cluster is not None
    check_cf(cf, files, settings, host, cluster.group(1), release)


@pytest.mark.realtools
def test_hostile_values_reach_the_cf_exactly_as_written(release: SendmailRelease) -> None:
    """The double-quoting claim (render/m4quote.py), end to end."""
    result = compile_dict(HOSTILE)
    assert result.ok, result.problems
    files = result.hosts["include"]
    settings = host_settings(json.dumps(HOSTILE))["include"]
    cf = build(files, settings, release)
    opts = cf_options(cf)
    assert opts["ServerCertFile"] == [SERVER_CERT]
    assert opts["SmtpGreetingMessage"] == [GREETING]
    assert opts["HeloName"] == ["dnl divert(1) changequote([,]) include(/etc/passwd) x"]
    assert opts["OperatorChars"] == ["$ % ) ( é ,"]
    assert opts["DefaultCharSet"] == ["lower(X)"]
    assert opts["CACertFile"] == ["/etc/lower/cert.pem"]
    assert opts["CRLFile"] == ["/srv/dnl/crl.pem"]
    assert opts["CipherList"] == ["HIGH:!aNULL:dnl:divnum"]
    assert "Family=inet, Name=dnl, Port=smtp, Addr=127.0.0.1" in opts["DaemonPortOptions"]
    assert [x for x in cf.split("\n") if x.startswith("Kaccess ")] == [
        "Kaccess hash -T<TMPF> /etc/lower/dnl/divnum/access"
    ]
    assert [x for x in cf.split("\n") if x.startswith("Kvirtuser ")] == [
        "Kvirtuser hash -o /etc/lower/dnl/divnum/virtusertable"
    ]
    assert '"550 no relay dnl \\# here"' in cf
    check_cf(cf, files, settings, "include", "dnl", release)


def single_quoted(text: str) -> str:
    """The same m4 with every doubly quoted value quoted once, as people write it."""
    return re.sub(r"``(.*?)''", r"`\1'", text)


@pytest.mark.realtools
def test_single_quoting_would_break_the_hostile_spec(
    monkeypatch: pytest.MonkeyPatch, release: SendmailRelease
) -> None:
    """Regression guard for m4quote.value: with one level of quotes the build breaks."""
    monkeypatch.setattr(m4quote, "value", lambda text: f"`{text}'")
    result = compile_dict(HOSTILE)
    assert result.ok
    files = result.hosts["include"]
    assert f"define(`confSERVER_CERT', `{SERVER_CERT}')dnl" in files["/etc/mail/tls/starttls.m4"]
    with scratch_dir("m4-single") as tmp:
        rc, cf, err = m4_build(
            files["/etc/mail/sendmail.mc"], files["/etc/mail/tls/starttls.m4"], tmp, release
        )
    assert (rc, err) != (0, "")
    assert cf_options(cf).get("ServerCertFile") != [SERVER_CERT]


@pytest.mark.realtools
def test_single_quoting_would_silently_mangle_paths(
    monkeypatch: pytest.MonkeyPatch, release: SendmailRelease
) -> None:
    """Worse than breaking: m4 exits 0, says nothing, and the paths are wrong."""
    data = spec(
        defaults={
            "tls": {
                "server_cert": "/etc/lower/cert.pem",
                "ca_cert_path": "/etc/divnum/x",
                "client_cert": "/etc/ALIAS_FILE/x.pem",
            }
        }
    )
    built = {}
    for label, quote in (("double", m4quote.value), ("single", lambda t: f"`{t}'")):
        monkeypatch.setattr(m4quote, "value", quote)
        files = compile_dict(data).hosts["h1"]
        with scratch_dir("m4-silent") as tmp:
            built[label] = m4_build(
                files["/etc/mail/sendmail.mc"], files["/etc/mail/tls/starttls.m4"], tmp, release
            )
    for rc, _, err in built.values():
        assert (rc, err) == (0, "")
    double, single = cf_options(built["double"][1]), cf_options(built["single"][1])
    assert double["ServerCertFile"] == ["/etc/lower/cert.pem"]
    assert double["CACertPath"] == ["/etc/divnum/x"]
    assert double["ClientCertFile"] == ["/etc/ALIAS_FILE/x.pem"]
    assert single["ServerCertFile"] == ["/etc//cert.pem"]
    assert single["CACertPath"] == ["/etc/0/x"]
    assert single["ClientCertFile"] == ["/etc//etc/mail/aliases/x.pem"]


@pytest.mark.realtools
def test_hand_written_single_quoted_mc_is_mangled_and_double_quoted_is_not(
    release: SendmailRelease,
) -> None:
    """A tiny .mc by hand: the m4 facts m4quote.py is built on."""
    values = {
        "confSERVER_CERT": SERVER_CERT,
        "confCACERT": "/etc/lower/cert.pem",
        "confCLIENT_CERT": "/etc/divnum/x",
        "confCRL": "/srv/dnl/crl.pem",
        "confSMTP_LOGIN_MSG": GREETING,
        "confHELO_NAME": "mx lower(X) dnl",
    }
    options = proto_options(release)

    def cf_for(open_q: str, close_q: str) -> dict[str, list[str | None]]:
        mc = "".join(
            [
                "divert(-1)dnl\ndivert(0)dnl\n",
                "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n",
                "OSTYPE(`debian')dnl\n",
                *(f"define(`{k}', {open_q}{v}{close_q})dnl\n" for k, v in values.items()),
                "MAILER(`local')dnl\n",
            ]
        )
        with scratch_dir("m4-hand") as tmp:
            rc, cf, err = m4_build(mc, None, tmp, release)
        assert (rc, err) == (0, "")  # m4 says nothing either way: the damage is silent
        return cf_options(cf)

    single = cf_for("`", "'")
    double = cf_for("``", "''")
    for name, value in values.items():
        assert double[options[name]] == [value], name
    assert single["ServerCertFile"] != [SERVER_CERT]
    assert single["CACertFile"] == ["/etc//cert.pem"]
    assert single["ClientCertFile"] == ["/etc/0/x"]
    assert single["CRLFile"] != ["/srv/dnl/crl.pem"]
    assert single["HeloName"] == ["mx x "]  # lower() applied, dnl ate the rest
    # a value without macro words comes out the same either way
    assert single["SmtpGreetingMessage"] == double["SmtpGreetingMessage"] == [GREETING]


@pytest.mark.realtools
def test_double_quoting_changes_nothing_for_ordinary_values(release: SendmailRelease) -> None:
    """The second level of quotes is consumed exactly: same .cf as one level would give."""
    result = compile_dict(KITCHEN)
    assert result.ok
    for host in ("asks", "plain"):
        files = result.hosts[host]
        mc, st = files["/etc/mail/sendmail.mc"], files["/etc/mail/tls/starttls.m4"]
        with scratch_dir("m4-eq") as tmp:
            rc1, cf1, err1 = m4_build(mc, st, tmp, release)
        with scratch_dir("m4-eq") as tmp:
            rc2, cf2, err2 = m4_build(single_quoted(mc), single_quoted(st), tmp, release)
        assert (rc1, err1, rc2, err2) == (0, "", 0, "")
        assert cf1 == cf2


def _autoconf_ids(cf: str) -> list[str]:
    """The `$Id:` lines of Debian's debian.m4 and autoconf.m4 in a built .cf."""
    return [x for x in cf.split("\n") if re.search(r"\$Id: (autoconf|debian)\.m4", x)]


@pytest.mark.realtools
def test_each_release_builds_with_its_own_debian_files(release: SendmailRelease) -> None:
    """OSTYPE(`debian') includes /usr/share/sendmail/cf/debian/autoconf.m4 by that path:
    m4_build puts the release's tree there (with_cf_tree), so one release builds it all."""
    files = compile_dict(spec()).hosts["h1"]
    with scratch_dir("m4-autoconf") as tmp:
        rc, cf, err = m4_build(
            files["/etc/mail/sendmail.mc"], files["/etc/mail/tls/starttls.m4"], tmp, release
        )
    assert (rc, err) == (0, "")
    assert cf_version(cf) == release.version
    ids = _autoconf_ids(cf)
    assert len(ids) == 2 and all(f"v {release.version}-" in x for x in ids), ids


@pytest.mark.realtools
def test_the_818_tree_elsewhere_reads_this_machines_autoconf() -> None:
    """The control: the unpacked 8.18.1 tree named by its own path (mc.cf_m4) reads the
    8.17.1.9 autoconf.m4 of /usr/share/sendmail/cf, as a host would with a second tree."""
    release = sendmail_818()
    if release.cf_dir == CF_DIR:  # Debian 13: the system's tree is 8.18.1
        return
    files = compile_dict(spec()).hosts["h1"]
    with scratch_dir("m4-autoconf") as tmp:
        (tmp / "st.m4").write_text(files["/etc/mail/tls/starttls.m4"])
        mc = point_include(point_cf_m4(files["/etc/mail/sendmail.mc"], release), str(tmp / "st.m4"))
        done = subprocess.run(
            ["m4", "-D_NO_MAKEINFO_", "-"], input=mc, capture_output=True, text=True, check=False
        )
    assert (done.returncode, done.stderr) == (0, "")
    assert cf_version(done.stdout) == "8.18.1"
    (autoconf,) = [x for x in _autoconf_ids(done.stdout) if "autoconf.m4" in x]
    assert f"v {SYSTEM_SENDMAIL.version}-" in autoconf, autoconf


@pytest.mark.realtools
def test_m4_build_fails_loudly_on_a_broken_mc(release: SendmailRelease) -> None:
    """The helper sees what apply must refuse: stderr from a quote that never closes."""
    files = compile_dict(spec()).hosts["h1"]
    broken = files["/etc/mail/sendmail.mc"].replace(
        "OSTYPE(`debian')dnl", "OSTYPE(`debian')dnl\ndefine(`confX', `oops)dnl"
    )
    with scratch_dir("m4-broken") as tmp:
        rc, _, err = m4_build(broken, files["/etc/mail/tls/starttls.m4"], tmp, release)
    assert rc != 0 and "end of file in string" in err


def test_point_include_refuses_to_guess() -> None:
    files = compile_dict(spec()).hosts["h1"]
    mc = files["/etc/mail/sendmail.mc"]
    assert "include(`/x/starttls.m4')dnl" in point_include(mc, "/x/starttls.m4")
    with pytest.raises(AssertionError):
        point_include(mc, None)  # tls on, but no starttls.m4 given
    off = compile_dict(spec(defaults={"tls": {"enabled": False}})).hosts["h1"]
    with pytest.raises(AssertionError):
        point_include(off["/etc/mail/sendmail.mc"], "/x/starttls.m4")


# -- real makemap --------------------------------------------------------------------------


@pytest.mark.realtools
@pytest.mark.parametrize(("compiled", "settings", "host"), HOSTS)
def test_makemap_loads_the_access_file_and_dumps_exactly_its_entries(
    compiled: Compiled, settings: HostSettings, host: str, release: SendmailRelease
) -> None:
    text = compiled.hosts[host][settings.paths.access]
    with scratch_dir("makemap") as tmp:
        rc, err, dumped = makemap_roundtrip(text, tmp, release)
    assert err == "", f"makemap wrote to stderr:\n{err}"
    assert rc == 0
    assert sorted(dumped) == expected_dump(text)
    assert len(dumped) == len(entry_lines(text)) == len(access_entries(text))
    for line in dumped:
        key, _, _ = line.partition("\t")
        assert key == key.lower()


@pytest.mark.realtools
def test_makemap_sees_every_rule_of_the_kitchen_spec(release: SendmailRelease) -> None:
    """Spot checks of what sendmail will look up (keys folded, values verbatim)."""
    result = compile_dict(KITCHEN)
    text = result.hosts["plain"]["/etc/mail/access"]
    with scratch_dir("makemap") as tmp:
        rc, err, dumped = makemap_roundtrip(text, tmp, release)
    assert (rc, err) == (0, "")
    for line in [
        "try_tls:broken.server\tNO",
        "srv_features:broken.server\tS",
        "tls_srv:secure.example.com\tENCR:128",
        "tls_srv:safe.example.net\tVERIFY+CN++CITag:MyCA",
        "tls_clt:laptop.example.com\tPERM+VERIFY:112",
        "srv_features:laptop.example.com\tv",
        "tls_srv:ipv6:2001:db8:0:0:0:0:0:25\tTEMP+ENCR:128",
        "tls_srv:xn--bcher-kva.example\tVERIFY+CS:/O=B+5CxC3+5CxBCcher+20+28DE+29/CN=mx+2B1++CI:/CN=Root+20CA",
        "tls_rcpt:darth@endmail.org\tENCR:112+CN:smtp.endmail.org",
        "tls_rcpt:ops@\tVERIFY",
        "tls_rcpt:endmail.org\tENCR:128",
        "myca:/o=second+20ca+20+282+29/cn=root\tOK",
        "connect:10.1\tERROR:5.7.1:550 go away, won't you",
        'connect:10.2\tERROR:"550 100%% sure"',
        "connect:bad.example\tERROR:5.7.1:550 Gehen Sie weg – bitte",
        "clientrate:\t10",
    ]:
        assert line in dumped, line
    # the asking host has no Srv_Features v line
    asks = result.hosts["asks"]["/etc/mail/access"]
    assert "Srv_Features:laptop.example.com\tv" not in asks


@pytest.mark.realtools
def test_makemap_roundtrip_reports_what_makemap_rejects(release: SendmailRelease) -> None:
    """The helper is able to fail: a leading blank, a duplicate key, a missing value."""
    with scratch_dir("makemap-bad") as tmp:
        rc, err, dumped = makemap_roundtrip(
            "Connect:1\tOK\n Connect:2\tOK\nConnect:1\tREJECT\nConnect:3\n", tmp, release
        )
    assert rc != 0
    assert "leading space" in err or "syntax error" in err
    assert "duplicate" in err
    assert dumped == ["connect:1\tOK"]


def test_scratch_dirs_are_not_under_a_world_writable_directory() -> None:
    with scratch_dir() as tmp:
        for p in [tmp, *tmp.parents]:
            assert not p.stat().st_mode & 0o002, p
        assert Path(tmp).stat().st_mode & 0o777 == 0o755


# -- FEATURE dependencies, as the cf tree itself states them --------------------------------


def _features_requiring_access_db() -> list[str]:
    """Features whose file prints `... requires FEATURE(access_db)` without it."""
    out = []
    for f in sorted((CF_DIR / "feature").glob("*.m4")):
        text = f.read_text(encoding="utf-8", errors="replace")
        if re.search(r"requires FEATURE\(`?access_db", text):
            out.append(f.stem)
    return out


NEEDS_DB = _features_requiring_access_db()
FEATURE_CASES = [
    *([name] for name in NEEDS_DB),  # alone, with an empty access file
    *([name, "access_db"] for name in NEEDS_DB),  # listed before access_db
    [{"name": "ratecontrol", "args": ["nodelay"]}],
    ["access_db", {"name": "ratecontrol", "args": ["nodelay"]}, "delay_checks"],
    ["access_db", "delay_checks", {"name": "ratecontrol", "args": ["nodelay", "terminate"]}],
    ["access_db", "delay_checks", {"name": "conncontrol", "args": ["nodelay", "close"]}],
    ["access_db", {"name": "conncontrol", "args": ["delay"]}],
    ["access_db", "relay_local_from"],
    ["promiscuous_relay"],
    ["access_db", {"name": "delay_checks", "args": ["strict"]}],
    ["access_db", {"name": "delay_checks", "args": ["Friend"]}],
    ["access_db", {"name": "greet_pause", "args": ["5000"]}],
    ["fips3"],  # 8.18 only: refused for 8.17 (S221)
]


def test_the_cf_tree_names_features_that_need_access_db() -> None:
    assert {"greet_pause", "ratecontrol", "conncontrol", "blocklist_recipients"} <= set(NEEDS_DB)


@pytest.mark.realtools
@pytest.mark.parametrize(
    "features", FEATURE_CASES, ids=[json.dumps(c).replace(" ", "") for c in FEATURE_CASES]
)
def test_feature_lists_are_refused_or_build_clean(
    features: list[Any], release: SendmailRelease
) -> None:
    """What validation accepts for a release, m4 builds with its cf tree without a word on
    stderr (apply refuses any)."""
    data = spec(defaults={"sendmail": release.family, "mc": {"features": features}})
    result = compile_dict(data)
    if features == ["fips3"]:
        assert result.ok is (release.family == "8.18"), result.problems
    if not result.ok:
        assert all(p.code.startswith("S") for p in result.problems)
        return
    files = result.hosts["h1"]
    with scratch_dir("m4-feature") as tmp:
        rc, _, err = m4_build(
            files["/etc/mail/sendmail.mc"], files["/etc/mail/tls/starttls.m4"], tmp, release
        )
    assert err == "", f"tlsc accepted {features} but m4 says:\n{err}"
    assert rc == 0


# -- mc.extra: the one place raw m4 enters --------------------------------------------------

LOOKS_LIKE_DNL = [
    "dnlx `q",  # `dnlx' is another name: the quote opens and eats the rest of the file
    "dnl(`x",  # dnl( collects arguments first: here the next line, silently
    "dnl_evil(",  # a macro call that swallows the next line
    "define(`confFOO', `b')dnlx `q",
    "dnl(`x')",  # m4 warns: excess arguments to builtin `dnl'
]


def _build_with_extra(line: str | None, release: SendmailRelease) -> tuple[int, str, str]:
    """Build the minimal spec's .cf with `line` put where mc.extra lines go."""
    files = compile_dict(spec()).hosts["h1"]
    mc = files["/etc/mail/sendmail.mc"]
    if line is not None:
        include = "include(`/etc/mail/tls/starttls.m4')dnl"
        mc = mc.replace(include, f"{line}\n{include}")
    with scratch_dir("m4-extra") as tmp:
        return m4_build(mc, files["/etc/mail/tls/starttls.m4"], tmp, release)


@pytest.mark.realtools
@pytest.mark.parametrize("line", LOOKS_LIKE_DNL)
def test_extra_lines_that_only_look_like_dnl_comments(line: str, release: SendmailRelease) -> None:
    """Refused by validation, and rightly: with the real m4 each one fails the build
    or changes the .cf (a stray line, a swallowed include), where a comment changes nothing."""
    result = compile_dict(spec(defaults={"mc": {"extra": [line]}}))
    assert not result.ok
    assert {p.code for p in result.problems} == {"S209"}
    clean = _build_with_extra(None, release)
    assert clean[0] == 0 and clean[2] == ""
    assert _build_with_extra(line, release) != clean


@pytest.mark.realtools
@pytest.mark.parametrize(
    "line", ["dnl", "dnl # it's a `comment", "dnl\ttab", "dnl(x) is a call, said dnl #"]
)
def test_extra_dnl_comments_are_accepted_and_change_nothing(
    line: str, release: SendmailRelease
) -> None:
    result = compile_dict(spec(defaults={"mc": {"extra": [line]}}))
    assert result.ok == (not line.startswith("dnl(")), result.problems
    if result.ok:
        assert _build_with_extra(line, release) == _build_with_extra(None, release)


@pytest.mark.realtools
@pytest.mark.parametrize(
    "line",
    [
        # names split so that no text check can see them: m4 joins `esys' and `cmd'
        # when it rescans, so only switching the builtins off stops these
        "define(`e', `esys')e()cmd(`touch {marker}')dnl",
        "define(`s', `sys')s()cmd(`touch {marker}')dnl",
        "define(`m', `mkst')m()emp(`{marker}XXXXXX')dnl",
    ],
)
def test_extra_lines_cannot_run_commands_whatever_the_spelling(
    line: str, release: SendmailRelease
) -> None:
    files = compile_dict(spec(defaults={"mc": {"extra": ["dnl"]}})).hosts["h1"]
    mc = files["/etc/mail/sendmail.mc"]
    switch_off = next(x for x in mc.splitlines() if x.startswith("undefine(`syscmd')"))
    with scratch_dir("m4-switched-off") as tmp:
        marker = tmp / "ran"
        evil = line.format(marker=marker)
        unguarded = mc.replace(switch_off, evil)
        m4_build(unguarded, files["/etc/mail/tls/starttls.m4"], tmp, release)
        # the control: without the switch-off line the command really runs
        assert list(tmp.glob("ran*")), "the injected line did not run: the test proves nothing"
        for made in tmp.glob("ran*"):
            made.unlink()
        m4_build(
            mc.replace(switch_off, f"{switch_off}\n{evil}"),
            files["/etc/mail/tls/starttls.m4"],
            tmp,
            release,
        )
        assert not list(tmp.glob("ran*"))
