"""Real-world .mc/.m4 shapes that m4 builds fine must import (issue 10).

Each class is checked with the import's own round trip, which builds the
original and the imported .mc with the real m4 and cf.m4 and loads the
access maps with real makemap.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from import_helpers import (
    ACCESS,
    MC,
    PLAIN_MC,
    PLAIN_STARTTLS,
    STARTTLS,
    imported,
    messages,
    recompiled,
    write_tree,
)
from import_helpers import tree as make_tree

from compiler.importer.host import Imported
from compiler.importer.notes import Notes
from compiler.importer.roundtrip import Build, compare_cf

BSD_HEAD = "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n"


def _clean(result: Imported) -> None:
    """No error, no loss, and the two sendmail.cf builds agree."""
    assert not result.notes.errors and not result.notes.losses, messages(result)
    assert result.summary[-1] == "sendmail.cf: same options, maps, mailers and rulesets"


# -- 1. unquoted macro arguments ------------------------------------------------


@pytest.mark.realtools
@pytest.mark.parametrize(
    ("line", "key", "value"),
    [
        ("OSTYPE(linux)dnl", "ostype", "linux"),
        ("OSTYPE(bsd4.4)dnl", "ostype", "bsd4.4"),
        ("OSTYPE( linux)dnl", "ostype", "linux"),  # m4 skips blanks before an argument
        ("DOMAIN(generic)dnl", "domain", "generic"),
        ("FEATURE(use_cw_file)dnl", "features", [{"name": "use_cw_file", "args": []}]),
        ("FEATURE(nouucp, reject)dnl", "features", [{"name": "nouucp", "args": ["reject"]}]),
        ("FEATURE(`nouucp', reject)dnl", "features", [{"name": "nouucp", "args": ["reject"]}]),
        ("MAILER(procmail)dnl", "mailers", ["local", "smtp", "procmail"]),
    ],
)
def test_unquoted_plain_word_arguments_are_their_own_value(
    tmp_path: Path, line: str, key: str, value: object
) -> None:
    if key == "ostype":
        mc = BSD_HEAD + line + "\nMAILER(local)dnl\nMAILER(smtp)dnl\n"
    else:
        mc = BSD_HEAD + "OSTYPE(linux)dnl\n" + line + "\nMAILER(local)dnl\nMAILER(smtp)dnl\n"
        if key == "mailers":
            mc = BSD_HEAD + "OSTYPE(linux)dnl\nMAILER(local)dnl\nMAILER(smtp)dnl\n" + line + "\n"
    result = imported(make_tree(tmp_path, mc=mc, starttls=None))
    _clean(result)
    assert result.parts is not None
    got = result.parts.mc[key]
    if key == "features":
        got = [f for f in got if f["name"] != "access_db"]
    assert got == value
    assert result.parts.mc["extra"] == []


@pytest.mark.realtools
@pytest.mark.parametrize(
    "line",
    [
        # linux.m4 defines confEBINDIR: an unquoted name is replaced by its value
        "define(confEBINDIR, `/usr/local/sbin')dnl",
        "define(confTO_IDENT, 10s)dnl",
        # a word starting with _ may be one of cf.m4's own macros
        "define(`confTO_QUIT', _X_)dnl",
        # a cf macro in an unquoted argument
        "FEATURE(`mailertable', `hash -o /etc/mail/mt' DOL)dnl",
    ],
)
def test_unquoted_arguments_m4_may_expand_are_kept_verbatim(tmp_path: Path, line: str) -> None:
    mc = BSD_HEAD + "OSTYPE(linux)dnl\n" + line + "\nMAILER(local)dnl\nMAILER(smtp)dnl\n"
    result = imported(make_tree(tmp_path, mc=mc, starttls=None))
    _clean(result)
    assert result.parts is not None
    assert result.parts.mc["extra"] == [line]
    assert result.parts.mc["defines"] == {}


@pytest.mark.parametrize(
    "line",
    [
        "define(`WHICH', `generic')dnl\nDOMAIN(WHICH)dnl",  # the file defines the word
    ],
)
def test_unquoted_arguments_m4_expands_are_refused(tmp_path: Path, line: str) -> None:
    mc = BSD_HEAD + "OSTYPE(linux)dnl\n" + line + "\nMAILER(local)dnl\nMAILER(smtp)dnl\n"
    result = imported(make_tree(tmp_path, mc=mc, starttls=None))
    assert result.text is None
    assert "M4011" in [p.code for p in result.notes.errors]


# -- 2. an access_db map named with its .db ---------------------------------------


@pytest.mark.realtools
@pytest.mark.parametrize(
    "arg",
    [
        "hash -T<TMPF> -o /etc/mail/access.db",
        "hash -o /etc/mail/access.db",
        "hash /etc/mail/access",
        "hash -T<TMPF> -o /etc/mail/access",
    ],
)
def test_access_db_map_is_read_as_sendmail_names_it(tmp_path: Path, arg: str) -> None:
    mc = PLAIN_MC.replace("FEATURE(`access_db', , `skip')", f"FEATURE(`access_db', `{arg}')")
    access = "Connect:10.1.2.3\tRELAY\nTLS_Srv:example.com\tVERIFY\n"
    result = imported(make_tree(tmp_path, access, mc=mc))
    _clean(result)
    assert result.parts is not None
    assert result.parts.paths.get("access", ACCESS) == ACCESS
    assert result.parts.paths.get("access_db", ACCESS + ".db") == ACCESS + ".db"
    assert result.summary[0] == "access map: 2 entries compared"


# -- 3. Debian's starttls.m4: the packaged one and the generated one ----------------

FIXTURES = Path(__file__).parent / "fixtures" / "import"
GENERATED_STARTTLS = (FIXTURES / "debian-generated-starttls.m4").read_text()
SRV_V = "define(`confTLS_SRV_OPTIONS', `V')dnl   # <= EDIT\n"


@pytest.mark.realtools
@pytest.mark.parametrize(
    ("srv_line", "asks"),
    [
        (SRV_V, False),  # what update_tlsm4 writes
        ("define(`confTLS_SRV_OPTIONS', `')dnl          # do not request user certs\n", True),
        ("define(`confTLS_SRV_OPTIONS', ` V')dnl\n", False),  # readcf.c skips blanks
        ("", True),  # not defined at all
    ],
)
def test_debian_starttls_shapes_import_cleanly(tmp_path: Path, srv_line: str, asks: bool) -> None:
    st = GENERATED_STARTTLS.replace(SRV_V, srv_line)
    result = imported(make_tree(tmp_path, mc=PLAIN_MC, starttls=st))
    _clean(result)
    assert result.parts is not None
    tls = result.parts.tls
    assert tls["request_client_cert"] is asks
    assert tls["crl"] is None  # defined empty, then undefined
    assert tls["group_readable_key"] is True and tls["timeout"] == "2m"
    assert tls["ca_cert"] == "/etc/mail/tls/sendmail-server.crt"


PACKAGED_STARTTLS = Path("/usr/share/sendmail/examples/tls/starttls.m4")


@pytest.mark.realtools
@pytest.mark.skipif(not PACKAGED_STARTTLS.exists(), reason="Debian's sendmail-base is missing")
def test_debians_packaged_starttls_m4_imports_cleanly(tmp_path: Path) -> None:
    # the template update_tls installs: `define(`confTLS_SRV_OPTIONS', `')'
    st = PACKAGED_STARTTLS.read_text(encoding="utf-8", errors="surrogateescape")
    result = imported(make_tree(tmp_path, mc=PLAIN_MC, starttls=st))
    _clean(result)
    assert result.parts is not None and result.parts.tls["request_client_cert"] is True


def test_an_unknown_tls_srv_options_value_is_a_loss_not_a_crash(tmp_path: Path) -> None:
    st = GENERATED_STARTTLS.replace(SRV_V, "define(`confTLS_SRV_OPTIONS', `V,C')dnl\n")
    result = imported(make_tree(tmp_path, mc=PLAIN_MC, starttls=st))
    assert [p.code for p in result.notes.errors] == []
    assert "I135" in [p.code for p in result.notes.losses]
    assert result.parts is not None and result.parts.tls["request_client_cert"] is False


# -- 5. K lines are compared by map name ----------------------------------------------

CF_HEAD = "V10/Berkeley\nKaccess hash -T<TMPF> /etc/mail/access\nSParse0\nR$*\t$@ $1\n"


@pytest.mark.parametrize(
    ("imported_cf", "codes"),
    [
        # the same maps in another order, before or after other lines
        (
            "V10/Berkeley\nKvirtuser hash -o /etc/mail/v\nKaccess hash -T<TMPF> /etc/mail/access"
            "\nSParse0\nR$*\t$@ $1\n",
            [],
        ),
        (
            "V10/Berkeley\nSParse0\nR$*\t$@ $1\nKaccess hash -T<TMPF> /etc/mail/access\n"
            "Kvirtuser hash -o /etc/mail/v\n",
            [],
        ),
        # a map changed, lost or added is still a difference
        (CF_HEAD + "Kvirtuser hash -o /etc/mail/other\n", ["I163", "I164"]),
        (CF_HEAD, ["I163"]),
        (CF_HEAD + "Kvirtuser hash -o /etc/mail/v\nKmailertable hash /etc/mail/mt\n", ["I164"]),
    ],
)
def test_k_lines_are_compared_by_name_not_position(imported_cf: str, codes: list[str]) -> None:
    original = Build(0, CF_HEAD + "Kvirtuser hash -o /etc/mail/v\n", "")
    notes = Notes()
    same = compare_cf(original, Build(0, imported_cf, ""), "sendmail.mc", lambda _: None, notes)
    assert sorted(p.code for p in notes.losses) == codes
    assert same is (codes == [])


@pytest.mark.realtools
def test_a_map_that_only_moves_in_the_built_cf_is_no_loss(tmp_path: Path) -> None:
    # the FEATURE m4 must expand stays verbatim in mc.extra, so it moves after the
    # modelled FEATURE(`mailertable') and its K line after mailertable's
    mc = PLAIN_MC.replace(
        "FEATURE(",
        "define(`VIRTMAP', `hash -o /etc/mail/virtusertable')dnl\n"
        "FEATURE(`virtusertable', VIRTMAP)dnl\nFEATURE(`mailertable')dnl\nFEATURE(",
        1,
    )
    result = imported(make_tree(tmp_path, mc=mc))
    _clean(result)
    assert result.parts is not None
    assert "FEATURE(`virtusertable', VIRTMAP)dnl" in result.parts.mc["extra"]


# -- 6. TLS paths spelled with a helper macro (CERT_DIR) -------------------------------

CERT_DIR = "define(`CERT_DIR', `/etc/mail/certs')dnl\n"
TLS_KEYS = {
    "confSERVER_CERT": "server_cert",
    "confSERVER_KEY": "server_key",
    "confCLIENT_KEY": "client_key",
    "confCACERT_PATH": "ca_cert_path",
    "confCACERT": "ca_cert",
}


def _with_cert_dir(where: str, uses: dict[str, str]) -> tuple[str, str]:
    st = PLAIN_STARTTLS
    for conf, value in uses.items():
        st = re.sub(rf"define\(`{conf}', `[^']*'\)dnl", f"define(`{conf}', `{value}')dnl", st)
    mc = PLAIN_MC
    if where == "starttls":
        st = CERT_DIR + st
    else:
        mc = PLAIN_MC.replace("FEATURE(", CERT_DIR + "FEATURE(", 1)
    return mc, st


@pytest.mark.realtools
@pytest.mark.parametrize("where", ["starttls", "mc"])
@pytest.mark.parametrize(
    "uses",
    [
        {"confSERVER_CERT": "CERT_DIR/host.pem"},
        {"confSERVER_KEY": "CERT_DIR/host.key", "confCLIENT_KEY": "CERT_DIR/host.key"},
        {"confCACERT_PATH": "CERT_DIR", "confCACERT": "CERT_DIR/ca.pem"},
    ],
)
def test_tls_paths_under_a_helper_macro_are_expanded(
    tmp_path: Path, where: str, uses: dict[str, str]
) -> None:
    mc, st = _with_cert_dir(where, uses)
    result = imported(make_tree(tmp_path, mc=mc, starttls=st))
    _clean(result)
    assert result.parts is not None
    for conf, value in uses.items():
        key = TLS_KEYS[conf]
        assert result.parts.tls[key] == value.replace("CERT_DIR", "/etc/mail/certs")
    assert CERT_DIR.strip() in result.parts.mc["extra"]


@pytest.mark.realtools
@pytest.mark.parametrize(
    "helper",
    [
        CERT_DIR + "define(`CERT_DIR', `/etc/mail/other')dnl\n",  # which one holds?
        "define(`CERT_DIR', `BASE/certs')dnl\n",  # needs a further expansion
        "define(`CERT_DIR', `BASE`'certs')dnl\n",  # joined to a name nothing defines
        CERT_DIR.replace("/etc/mail/certs", "MAIL_SETTINGS_DIR`'certs")
        + "define(`MAIL_SETTINGS_DIR', `/etc/x/')dnl\n"
        + "define(`MAIL_SETTINGS_DIR', `/etc/y/')dnl\n",  # which one holds?
    ],
)
def test_an_ambiguous_helper_is_not_expanded(tmp_path: Path, helper: str) -> None:
    _mc, st = _with_cert_dir("starttls", {"confSERVER_CERT": "CERT_DIR/host.pem"})
    st = st.replace(CERT_DIR, helper)
    result = imported(make_tree(tmp_path, starttls=st))
    assert "I136" in [p.code for p in result.notes.losses], messages(result)


# -- 4. Latin-1 files -----------------------------------------------------------------


@pytest.mark.realtools
@pytest.mark.parametrize(
    "comment",
    [
        "dnl # maintained by Jos\xe9 Mu\xf1oz\n",
        "divert(-1)\n# Fran\xe7ois, 2004\ndivert(0)dnl\n",
        "dnl \xa9 \xc9cole\n",
    ],
)
@pytest.mark.parametrize("where", ["mc", "starttls", "access"])
def test_latin1_files_import_and_keep_their_bytes(tmp_path: Path, comment: str, where: str) -> None:
    access = "Connect:10.1.2.3\tRELAY\nTLS_Srv:example.com\tVERIFY\n"
    files: dict[str, str | bytes] = {MC: PLAIN_MC, STARTTLS: PLAIN_STARTTLS, ACCESS: access}
    if where == "mc":
        files[MC] = (comment + PLAIN_MC).encode("latin-1")
    elif where == "starttls":
        files[STARTTLS] = (comment + PLAIN_STARTTLS).encode("latin-1")
    else:
        lines = "".join("# " + line + "\n" for line in comment.splitlines())
        files[ACCESS] = (lines + access).encode("latin-1")
    result = imported(write_tree(tmp_path, files))
    _clean(result)
    assert any("not UTF-8" in m for _, m in result.notes.info)
    assert result.parts is not None and result.parts.domains


@pytest.mark.realtools
def test_a_kept_line_with_latin1_bytes_is_a_clear_loss(tmp_path: Path) -> None:
    mc = PLAIN_MC + "LOCAL_CONFIG\nDj\xe9.example\n"
    access = 'Connect:10.1.2.3\tRELAY\nFrom:spam@x.example\tERROR:"550 D\xe9sol\xe9"\n'
    files: dict[str, str | bytes] = {
        MC: mc.encode("latin-1"),
        STARTTLS: PLAIN_STARTTLS,
        ACCESS: access.encode("latin-1"),
    }
    result = imported(write_tree(tmp_path, files))
    assert result.text is not None and not result.notes.errors
    lost = [(p.code, Path(p.path).name, p.line) for p in result.notes.losses if p.code == "I115"]
    assert sorted(lost) == [("I115", "access", 2), ("I115", "sendmail.mc", 9)]
    assert "0xE9" in result.notes.losses[0].message
    assert not [p for p in result.notes.losses if p.code == "I151"]  # reported once
    assert "LOCAL_CONFIG" in result.text and "Dj" not in result.text
    assert all(w.line != 9 for w, _ in result.notes.verbatim)


# -- 7. another system's cf.m4 path ---------------------------------------------------


@pytest.mark.realtools
@pytest.mark.parametrize(
    "cf_m4",
    [
        "/usr/share/sendmail-cf/m4/cf.m4",  # Red Hat, Fedora, SUSE
        "/usr/lib/mail/m4/cf.m4",  # Solaris
        "/usr/local/share/sendmail/cf/m4/cf.m4",
    ],
)
@pytest.mark.parametrize("in_root", [False, True])
def test_another_systems_cf_m4_path_imports_and_round_trips(
    tmp_path: Path, cf_m4: str, in_root: bool
) -> None:
    mc = PLAIN_MC.replace("/usr/share/sendmail/cf/m4/cf.m4", cf_m4)
    root = make_tree(tmp_path, mc=mc)
    if in_root:  # a copy of the host with its cf tree: the round trip uses that one
        tree_dir = root / cf_m4.lstrip("/").removesuffix("/m4/cf.m4")
        tree_dir.parent.mkdir(parents=True)
        tree_dir.symlink_to("/usr/share/sendmail/cf")
    result = imported(root)
    _clean(result)
    assert result.parts is not None and result.parts.mc["cf_m4"] == cf_m4
    assert (f"{cf_m4} is not here" in " ".join(m for _, m in result.notes.info)) is not in_root
    assert result.text is not None and f"cf_m4: {cf_m4}" in result.text


# -- 8. ROOT may be the host's /, a copy of it, or an /etc/mail directory -------------


def _host_files() -> dict[str, str | bytes]:
    mc = PLAIN_MC.replace("MAILER(`local')", "HACK(`cssubdomain')dnl\nMAILER(`local')")
    return {
        MC: mc,
        STARTTLS: PLAIN_STARTTLS,
        ACCESS: "Connect:10.1.2.3\tRELAY\nTLS_Srv:example.com\tVERIFY\n",
    }


@pytest.mark.realtools
@pytest.mark.parametrize(
    "layout",
    [
        "host",  # ROOT is a copy of the host's /
        "etc/mail",  # ROOT is that copy's etc/mail
        "backup/mail",  # a copy of /etc/mail named mail
        "mail-2024",  # a copy of /etc/mail under another name
    ],
)
def test_root_may_be_an_etc_mail_directory(tmp_path: Path, layout: str) -> None:
    files = _host_files()
    if layout in ("host", "etc/mail"):
        write_tree(tmp_path, files)
        root = tmp_path if layout == "host" else tmp_path / "etc" / "mail"
    else:
        root = tmp_path / layout
        write_tree(root, {k.removeprefix("/etc/mail"): v for k, v in files.items()})
    result = imported(root)
    _clean(result)
    assert result.parts is not None
    assert result.parts.domains == {"example.com": {"outbound": "verify"}}
    assert result.parts.tls["ca_cert"] == "/etc/mail/tls/ca.crt"  # starttls.m4 was read
    assert result.summary[0] == "access map: 2 entries compared"
    assert result.text is not None and "# from /etc/mail/sendmail.mc:6" in result.text


def test_an_etc_mail_copy_cannot_hold_files_outside_etc_mail(tmp_path: Path) -> None:
    files = _host_files()
    mc = str(files[MC]).replace("/etc/mail/tls/starttls.m4", "/usr/local/etc/starttls.m4")
    write_tree(tmp_path / "mail", {"/sendmail.mc": mc})
    result = imported(tmp_path / "mail")
    assert result.text is None
    assert [p.code for p in result.notes.errors] == ["I005"]
    assert "outside /etc/mail" in result.notes.errors[0].message


# -- 9. smtp_port from the MTA daemon's Port= -----------------------------------------

MSP = "DAEMON_OPTIONS(`Family=inet, Name=MSP-v4, Port=submission, M=Ea, Addr=127.0.0.1')dnl"


def _daemons(*options: str) -> str:
    lines = "".join(f"DAEMON_OPTIONS(`{o}')dnl\n" for o in options)
    return PLAIN_MC.replace("FEATURE(", lines + "FEATURE(", 1)


@pytest.mark.realtools
@pytest.mark.parametrize(
    ("options", "port"),
    [
        ([], None),  # sendmail's own MTA daemon on 25
        (["Family=inet, Name=MTA-v4, Port=smtp, Addr=127.0.0.1"], None),
        (["Family=inet, Name=MTA-v4, Port=25"], None),
        (["Family=inet, Name=MTA-v4, Port=2525"], 2525),
        (["Port=2525, Name=MTA"], 2525),
        (["Name=MTA-v4, Family=inet, Port=2525", "Name=MTA-v6, Family=inet6, Port=2525"], 2525),
        (["Name=MTA, Port=2525", "Name=MSA, Port=587, M=Ea"], 2525),
        (["Name=MTA, Port=2525", "Name=TLSMTA, Port=smtps, M=s"], 2525),
        (["Name=MTA, Port=2525", "Name=MSA, Port=submission"], 2525),
        (["Name=MTA, Port=2525", "Name=Other, Port=1587, M=a"], 2525),  # AUTH only
        (["Name=MTA, Port=2525", "Name=MTA2, Port=2526"], None),  # which one?
        (["Name=MTA, Port=mysmtp"], None),  # a local /etc/services name
        (["Name=MSP-v4, Port=submission, M=Ea"], None),  # no MTA listener
    ],
)
def test_smtp_port_is_the_mta_daemons_port(
    tmp_path: Path, options: list[str], port: int | None
) -> None:
    result = imported(make_tree(tmp_path, mc=_daemons(*options)))
    if "mysmtp" in " ".join(options):  # m4 builds it; only sendmail would look it up
        assert result.parts is not None, messages(result)
    else:
        _clean(result)
    assert result.parts is not None
    assert result.parts.smtp_port == port
    text = result.text or ""
    assert (f"smtp_port: {port}" in text) is (port is not None)
    if port is not None:
        again = recompiled(result)
        assert again.ok


def test_an_unread_daemon_options_line_leaves_smtp_port_alone(tmp_path: Path) -> None:
    mc = _daemons("Name=MTA, Port=2525").replace(
        "FEATURE(", "DAEMON_OPTIONS(`Name=MTA2, Port=`'2526')dnl\nFEATURE(", 1
    )
    result = imported(make_tree(tmp_path, mc=mc))
    assert result.parts is not None and result.parts.smtp_port is None, messages(result)
    assert any("kept verbatim: smtp_port" in m for _, m in result.notes.info)


# -- whole files of the shapes other systems ship ------------------------------------

REAL_WORLD = {
    "redhat": (FIXTURES / "redhat-sendmail.mc").read_text(),
    "bsd": (FIXTURES / "bsd-sendmail.mc").read_text(),
    # Slackware builds in the cf/cf directory of its cf tree
    "slackware": (FIXTURES / "bsd-sendmail.mc")
    .read_text()
    .replace("/usr/share/sendmail/cf/m4/cf.m4", "../m4/cf.m4"),
}


@pytest.mark.realtools
@pytest.mark.parametrize("shape", sorted(REAL_WORLD))
def test_other_systems_sendmail_mc_imports_cleanly(tmp_path: Path, shape: str) -> None:
    access = "Connect:127.0.0.1\tRELAY\nTLS_Srv:example.com\tVERIFY\n"
    result = imported(make_tree(tmp_path, access, mc=REAL_WORLD[shape], starttls=None))
    _clean(result)
    assert result.parts is not None
    mc = result.parts.mc
    assert mc["ostype"] == ("linux" if shape == "redhat" else "bsd4.4")
    assert result.parts.domains == {"example.com": {"outbound": "verify"}}
    names = [f["name"] for f in mc["features"]]
    assert "access_db" in names and "mailertable" in names
    if shape == "redhat":
        assert mc["cf_m4"] == "/usr/share/sendmail-cf/m4/cf.m4"
        assert mc["mailers"] == ["smtp", "procmail"]
        assert result.parts.smtp_port is None
    else:
        assert mc["domain"] == "generic" and mc["mailers"] == ["local", "smtp"]
        assert result.parts.smtp_port == 2525
        assert ("cf_m4" in mc) is (shape == "bsd")
    assert recompiled(result).ok


@pytest.mark.parametrize(
    ("where", "old", "new", "code"),
    [
        (
            MC,
            "FEATURE(",
            "define(`confSMTP_LOGIN_MSG', `$j Bienvenue \xe0 Montr\xe9al')dnl\nFEATURE(",
            "I115",
        ),
        (MC, "FEATURE(", "define(`confCW_FILE', `/etc/mail/h\xf4tes')dnl\nFEATURE(", "I115"),
        (STARTTLS, "sendmail-client.crt", "caf\xe9.crt", "I136"),
        (ACCESS, "example.com", "caf\xe9.example", "I141"),
    ],
)
def test_latin1_values_are_losses_never_crashes(
    tmp_path: Path, where: str, old: str, new: str, code: str
) -> None:
    files: dict[str, str] = {
        MC: PLAIN_MC,
        STARTTLS: PLAIN_STARTTLS,
        ACCESS: "TLS_Srv:example.com\tVERIFY\nConnect:10.1.2.3\tRELAY\n",
    }
    files[where] = files[where].replace(old, new, 1)
    result = imported(write_tree(tmp_path, {k: v.encode("latin-1") for k, v in files.items()}))
    assert result.notes.errors == [], messages(result)
    assert code in [p.code for p in result.notes.losses]
    assert result.text is not None
    result.text.encode("utf-8")  # no lone surrogate reached the spec


# -- 10. a .mc its make builds as `m4 cf.m4 FILE` (FreeBSD, OpenBSD, cf/cf/*.mc) --------

#: FreeBSD's freebsd.mc shape: no include of cf.m4, its make puts cf.m4 on m4's line
NO_CF_M4 = """\
divert(-1)
# built as m4 -D_CF_DIR_=... cf.m4 sendmail.mc
divert(0)
VERSIONID(`$FreeBSD$')
OSTYPE(freebsd6)
DOMAIN(generic)
FEATURE(access_db, `hash -o -T<TMPF> /etc/mail/access')
define(`confCACERT_PATH', `/etc/ssl/certs')dnl
define(`confCACERT', `/etc/ssl/ca.pem')dnl
define(`confSERVER_CERT', `/etc/mail/tls/server.cert')dnl
define(`confSERVER_KEY', `/etc/mail/tls/server.key')dnl
MAILER(local)
MAILER(smtp)
"""


@pytest.mark.realtools
@pytest.mark.parametrize(
    ("head", "line"),
    [
        ("", 4),  # FreeBSD's: VERSIONID is the first sendmail-cf macro
        ("divert(0)dnl\nOSTYPE(`linux')dnl\n", 2),  # no divert(-1) header at all
    ],
)
def test_an_adopted_mc_without_cf_m4_is_one_sentence_not_a_diff_of_every_option(
    tmp_path: Path, head: str, line: int
) -> None:
    mc = NO_CF_M4 if not head else head + NO_CF_M4.split("OSTYPE(freebsd6)\n", 1)[1]
    result = imported(make_tree(tmp_path, mc=mc, starttls=None), ownership="tls")
    errors = result.notes.errors
    assert [p.code for p in errors] == ["I138"], messages(result)
    assert (errors[0].line, errors[0].col) == (line, 1)
    assert "--ownership file" in errors[0].message
    assert result.text is None


@pytest.mark.realtools
def test_a_mc_without_cf_m4_imports_whole_with_ownership_file(tmp_path: Path) -> None:
    result = imported(make_tree(tmp_path, mc=NO_CF_M4, starttls=None), ownership="file")
    _clean(result)
    assert result.parts is not None
    assert result.parts.tls["server_cert"] == "/etc/mail/tls/server.cert"


# -- 11. a define a line kept above it reads or sets -------------------------------------


@pytest.mark.realtools
@pytest.mark.parametrize(
    ("before", "define", "kept"),
    [
        # INPUT_MAIL_FILTER appends to confINPUT_MAIL_FILTERS; the define replaces the list
        (
            "INPUT_MAIL_FILTER(`a', `S=local:/run/a.sock')dnl\n"
            "INPUT_MAIL_FILTER(`b', `S=local:/run/b.sock')dnl\n",
            "define(`confINPUT_MAIL_FILTERS', `a,b')dnl\n",
            True,
        ),
        (
            "INPUT_MAIL_FILTER(`a', `S=local:/run/a.sock')dnl\n",
            "define(`confINPUT_MAIL_FILTERS', `a')dnl\n",
            True,
        ),
        # a kept line that tests the name before it is defined
        (
            "ifdef(`confMAX_HOP', `define(`confTO_ICONNECT', `10s')', `')dnl\n",
            "define(`confMAX_HOP', `30')dnl\n",
            True,
        ),
        # define first, INPUT_MAIL_FILTER adds to it: the order tlsc writes anyway
        (
            "",
            "define(`confINPUT_MAIL_FILTERS', `a')dnl\n"
            "INPUT_MAIL_FILTER(`b', `S=local:/run/b.sock')dnl\n",
            False,
        ),
    ],
)
def test_a_define_that_a_line_above_reads_stays_in_file_order(
    tmp_path: Path, before: str, define: str, kept: bool
) -> None:
    mc = PLAIN_MC.replace("FEATURE(", before + define + "FEATURE(", 1)
    result = imported(make_tree(tmp_path, mc=mc))
    _clean(result)
    assert result.parts is not None
    first = define.splitlines()[0]
    assert (first in result.parts.mc["extra"]) is kept


# -- 12. a helper macro joined to cfhead.m4's MAIL_SETTINGS_DIR (cf/README's CERT_DIR) ----


@pytest.mark.realtools
@pytest.mark.parametrize("where", ["mc", "starttls"])
@pytest.mark.parametrize(
    ("helper", "dir_"),
    [
        ("define(`CERT_DIR', `MAIL_SETTINGS_DIR`'certs')dnl\n", "/etc/mail/certs"),
        (  # the helper's own helper, joined the same way
            "define(`TOP', `/srv/mail/')dnl\ndefine(`CERT_DIR', `TOP`'certs')dnl\n",
            "/srv/mail/certs",
        ),
        (  # two levels of helpers
            "define(`TOP', `/srv/mail')dnl\ndefine(`CERT_DIR', `TOP/certs')dnl\n",
            "/srv/mail/certs",
        ),
    ],
)
def test_a_helper_built_from_other_macros_is_expanded_as_m4_does(
    tmp_path: Path, where: str, helper: str, dir_: str
) -> None:
    mc, st = _with_cert_dir(where, {"confSERVER_CERT": "CERT_DIR/host.pem"})
    if where == "starttls":
        st = st.replace(CERT_DIR, helper)
    else:
        mc = mc.replace(CERT_DIR, helper)
    result = imported(make_tree(tmp_path, mc=mc, starttls=st))
    _clean(result)
    assert result.parts is not None
    assert result.parts.tls["server_cert"] == dir_ + "/host.pem"
