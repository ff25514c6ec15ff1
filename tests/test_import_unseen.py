"""TLS settings set where the import does not read them, and incomplete ones (unseen.py).

Each form m4 runs but the reader skips (a define inside a call, a live `#` line
after cf.m4, a raw `O` line, a file the .mc includes at any depth) is refused
at its line; a host whose defines leave out one of the four settings sendmail
needs is adopted with STARTTLS off, and its first plan is empty.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli
from import_helpers import MC, as_built, write_tree

from compiler.importer.host import import_host
from compiler.importer.notes import Notes, Where
from compiler.importer.unseen import REQUIRED_DEFINES, check_built

pytestmark = pytest.mark.realtools

HEAD = "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\nOSTYPE(`debian')dnl\n"
TAIL = "MAILER(`local')dnl\nMAILER(`smtp')dnl\n"
FOUR = {
    "confCACERT_PATH": "/etc/ssl/certs",
    "confCACERT": "/etc/mail/tls/ca.crt",
    "confSERVER_CERT": "/etc/mail/tls/h.crt",
    "confSERVER_KEY": "/etc/mail/tls/h.key",
}


def _define(name: str) -> str:
    return f"define(`{name}', `{FOUR.get(name, '/etc/mail/tls/x')}')dnl"


@pytest.mark.parametrize(
    "body",
    [
        "ifdef(`_X_', `', `" + _define("confSERVER_CERT") + "')dnl\n",
        "ifelse(`a', `a', `" + _define("confCACERT") + "')dnl\n",
        "ifdef(`_X_', `', `dnl\n" + _define("confCACERT") + "\n')dnl\n",
        "# " + _define("confCACERT_PATH") + "\n",  # live after cf.m4
        "LOCAL_CONFIG\nO ServerCertFile=/etc/mail/tls/h.crt\n",
        "LOCAL_CONFIG\nO CipherList = HIGH\n",
        "LOCAL_CONFIG\nO cipherlist=HIGH\n",  # sendmail: any case
        "LOCAL_CONFIG\nO ServerCert=/etc/mail/tls/h.crt\n",  # sendmail: an abbreviation
        # a line m4 runs two statements of: the reader takes a define alone on its line
        "define(`SMART_HOST', `relay.example.com')" + _define("confTO_STARTTLS") + "\n",
        _define("confSERVER_CERT").removesuffix("dnl") + _define("confSERVER_KEY") + "\n",
        "FEATURE(`use_cw_file')" + _define("confCACERT") + " dnl # the CA\n",
    ],
)
def test_tls_settings_the_reader_skips_are_refused_at_their_line(tmp_path: Path, body: str) -> None:
    mc = HEAD + body + TAIL
    at = mc.find("define(`conf") if "define(`conf" in mc else mc.find("O ")
    line, col = mc.count("\n", 0, at) + 1, at - mc.rfind("\n", 0, at)
    write_tree(tmp_path, {MC: mc})
    for ownership in ("tls", "file"):
        result = import_host(tmp_path, "h1", "h1.example.net", ownership=ownership)
        assert result.text is None
        first = result.notes.errors[0]
        assert (first.code, first.line, first.col) == ("I139", line, col), first


@pytest.mark.parametrize(
    "line",
    [
        "O  CipherList=HIGH",  # two blanks: sendmail's 'unknown option name  CipherList'
        "O CipherList\t=HIGH",  # a tab is part of the name
        "O CACert=/etc/mail/tls/h.crt",  # ambiguous (CACertFile, CACertPath): refused
        "OServerCertFile=/x",  # the one-letter option S, StatusFile
    ],
)
def test_o_lines_that_set_no_tls_option_to_sendmail_are_not_tls_settings(
    tmp_path: Path, line: str
) -> None:
    """readcf.c's setoption, checked with sendmail -d37.1 (tests/test_cfread.py)."""
    mc = HEAD + "LOCAL_CONFIG\n" + line + "\n" + TAIL
    write_tree(tmp_path, {MC: mc})
    result = import_host(tmp_path, "h1", "h1.example.net", ownership="tls")
    assert "I139" not in [n.code for n in result.notes.errors], result.notes.errors


#: a TLS define (or undefine) in a quoted argument of another call: m4 runs it where the
#: macro is called (or the argument expanded), and a reader of the define cannot tell
_IN_QUOTES = [
    "define(`TLS_ON', `" + _define("confSERVER_KEY") + "')dnl\nTLS_ON\n",
    "pushdef(`TLS_ON', `dnl\n" + _define("confCACERT") + "\n')dnl\nTLS_ON\n",
    "define(`TLS_ON', `ifdef(`_X_', `', `" + _define("confCACERT") + "')')dnl\nTLS_ON\n",
    "define(`TLS_OFF', `undefine(`confCACERT')')dnl\nTLS_OFF\n",
    "define(`SET', `$1')dnl\nSET(`" + _define("confCACERT_PATH") + "')dnl\n",
]


def _at(text: str) -> tuple[int, int]:
    at = text.rfind("undefine(`conf")
    at = at if at >= 0 else text.rfind("define(`conf")
    return text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)


@pytest.mark.parametrize("body", _IN_QUOTES)
@pytest.mark.parametrize("place", ["mc", "starttls.m4", "included"])
def test_a_tls_define_in_a_quoted_argument_is_refused_at_its_line(
    tmp_path: Path, body: str, place: str
) -> None:
    plain = "".join(_define(n) + "\n" for n in FOUR)
    if place == "mc":
        files, mc, at = {}, HEAD + plain + body + TAIL, MC
    elif place == "starttls.m4":
        at = "/etc/mail/tls/starttls.m4"
        files = {at: plain + body}
        mc = HEAD + f"include(`{at}')dnl\n" + TAIL
    else:  # the only TLS line of a file the .mc includes
        at = "/etc/mail/local.m4"
        files = {at: body}
        mc = HEAD + plain + f"include(`{at}')dnl\n" + TAIL
    line, col = _at(mc if place == "mc" else files[at])
    write_tree(tmp_path, {MC: mc, **files})
    for ownership in ("tls", "file"):
        result = import_host(tmp_path, "h1", "h1.example.net", ownership=ownership)
        assert result.text is None
        first = result.notes.errors[0]
        assert (first.code, first.path) == ("I139", str(tmp_path / at.lstrip("/"))), first
        assert (first.line, first.col) == (line, col), first


def test_a_tls_define_sharing_its_line_in_starttls_m4_is_refused_at_its_line(
    tmp_path: Path,
) -> None:
    at = "/etc/mail/tls/starttls.m4"
    first, second, third, fourth = FOUR
    shared = _define(third).removesuffix("dnl") + _define(fourth)
    text = _define(first) + "\n" + _define(second) + "\n" + shared + "\n"
    write_tree(tmp_path, {MC: HEAD + f"include(`{at}')dnl\n" + TAIL, at: text})
    for ownership in ("tls", "file"):
        result = import_host(tmp_path, "h1", "h1.example.net", ownership=ownership)
        assert result.text is None
        got = [(p.code, p.path, p.line, p.col) for p in result.notes.errors]
        where = str(tmp_path / at.lstrip("/"))
        col = len(_define(third).removesuffix("dnl")) + 1
        assert got == [("I139", where, 3, 1), ("I139", where, 3, col)], got


def test_a_hash_line_before_cf_m4_is_a_comment(tmp_path: Path) -> None:
    mc = "# " + _define("confCACERT_PATH") + "\n" + HEAD + TAIL
    write_tree(tmp_path, {MC: mc})
    result = import_host(tmp_path, "h1", "h1.example.net", ownership="tls")
    assert "I139" not in [p.code for p in result.notes.errors]


@pytest.mark.parametrize(
    ("include", "files", "at"),
    [
        ("include(`/etc/mail/local.m4')dnl", {"/etc/mail/local.m4": "X"}, "/etc/mail/local.m4"),
        ("sinclude(`/etc/mail/m4/provider.m4')dnl", {"/etc/mail/m4/provider.m4": "X"}, None),
        ("include(`local.m4')dnl", {"/etc/mail/local.m4": "X"}, None),  # m4 runs in /etc/mail
        (  # two levels down
            "include(`/etc/mail/a.m4')dnl",
            {"/etc/mail/a.m4": "include(`/etc/mail/b.m4')dnl\n", "/etc/mail/b.m4": "X"},
            "/etc/mail/b.m4",
        ),
    ],
)
def test_tls_defines_in_an_included_file_are_refused_at_their_line(
    tmp_path: Path, include: str, files: dict[str, str], at: str | None
) -> None:
    tls = "dnl a comment\n" + "\n".join(_define(n) for n in FOUR) + "\n"
    files = {k: tls if v == "X" else v for k, v in files.items()}
    write_tree(tmp_path, {MC: HEAD + include + "\n" + TAIL, **files})
    result = import_host(tmp_path, "h1", "h1.example.net", ownership="tls")
    assert result.text is None
    first = result.notes.errors[0]
    target = at or next(iter(files))
    assert first.code == "I139" and (first.line, first.col) == (2, 1), first
    assert first.path == str(tmp_path / target.lstrip("/"))
    assert "which /etc/mail/sendmail.mc:3 includes" in first.message or "a.m4:1" in first.message


@pytest.mark.parametrize("missing", sorted(REQUIRED_DEFINES))
def test_a_host_without_one_of_the_four_settings_is_adopted_with_starttls_off(
    tmp_path: Path, missing: str
) -> None:
    lines = "".join(_define(n) + "\n" for n in FOUR if n != missing)
    lines += "define(`confTO_STARTTLS', `2m')dnl\n"
    write_tree(tmp_path / "root", {MC: HEAD + lines + TAIL})
    spec = tmp_path / "cluster.yaml"
    root = tmp_path / "root"
    rc, _out, err = run_cli("import", root, "--host", "h1", "--fqdn", "h1.x.net", "--out", spec)
    assert rc == 0, err
    assert f"I143 sendmail.mc sets TLS options from here on but no {missing}," in err
    assert "tls: {enabled: false}" in spec.read_text()
    as_built(root / "etc/mail")
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--detailed-exitcode")
    assert rc == 0 and "P111" not in out, out + err
    # --ownership file cannot carry the lines: each is a loss, nothing written
    rc, _out, err = run_cli(
        "import", root, "--host", "h1", "--out", tmp_path / "f.yaml", "--ownership", "file"
    )
    assert rc == 1 and "I143" in err and not (tmp_path / "f.yaml").exists()


@pytest.mark.parametrize("missing", sorted(REQUIRED_DEFINES))
def test_a_host_without_one_of_the_four_settings_gets_one_sentence_per_line(
    tmp_path: Path, missing: str
) -> None:
    lines = "".join(_define(n) + "\n" for n in FOUR if n != missing)
    lines += "define(`confTO_STARTTLS', `2m')dnl\ndefine(`confCRL', `/etc/mail/tls/c.crl')dnl\n"
    write_tree(tmp_path / "root", {MC: HEAD + lines + TAIL})
    rc, out, err = run_cli(
        "import", tmp_path / "root", "--host", "h1", "--ownership", "file"
    )  # fmt: skip
    assert rc == 1 and "Traceback" not in out + err
    problems = [x for x in err.splitlines() if ": error: " in x]
    places = [x.split(": error: ")[0] for x in problems]
    assert len(places) == len(set(places)), problems  # one sentence per line
    tls_lines = range(3, 3 + len(FOUR) - 1 + 2)
    assert places == [f"{tmp_path / 'root' / MC.lstrip('/')}:{n}:1" for n in tls_lines]
    assert all(" I143 " in x for x in problems), problems


def test_a_starttls_include_without_one_of_the_four_settings_is_refused(tmp_path: Path) -> None:
    st = "".join(_define(n) + "\n" for n in FOUR if n != "confCACERT")
    mc = HEAD + "include(`/etc/mail/tls/starttls.m4')dnl\n" + TAIL
    write_tree(tmp_path, {MC: mc, "/etc/mail/tls/starttls.m4": st})
    result = import_host(tmp_path, "h1", "h1.example.net", ownership="tls")
    assert result.text is None
    [error] = result.notes.errors
    assert (error.code, error.line, error.col) == ("I143", 3, 1)


@pytest.mark.parametrize("enabled", [True, False])
def test_the_built_cf_is_held_against_the_spec(enabled: bool) -> None:
    cf = "".join(f"O {o}=/x/{o}\n" for o in REQUIRED_DEFINES.values())
    tls: dict[str, object] = {"enabled": False}
    if enabled:
        tls = {"server_cert": "/x/ServerCertFile", "server_key": "/x/ServerKeyFile",
               "ca_cert": "/x/CACertFile", "ca_cert_path": "/elsewhere"}  # fmt: skip
    notes = Notes()
    check_built(cf, tls, set(), Where("/etc/mail/sendmail.mc"), notes)
    assert [p.code for p in notes.errors] == ["I139"]
    notes = Notes()
    check_built(cf.replace("O CACertPath", "#O CACertPath"), tls, set(), Where("x"), notes)
    assert notes.errors == [] if not enabled else [p.code for p in notes.errors] == ["I139"]
