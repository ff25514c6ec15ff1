"""The access grammar tlsc accepts, held to what sendmail 8.17 and 8.18 do with it.

Each class of entry is parsed by parse_entry, its map made by the real makemap, and
the lookups asked of `sendmail -bt` (a .cf built from a plain Debian .mc); the TLS
session features and the IPv6 form of ${client_addr} are seen on real daemons.

- a key ends at a space, tab, VT, FF or CR only: a NO-BREAK SPACE, U+001C or an EM
  SPACE stays in makemap's key, so tlsc refuses it there, naming it;
- a value starting or ending with such a space is another word to sendmail
  (`REJECT<NBSP>` is no REJECT, `VERIFY<NBSP>` requires nothing);
- tls_rcpt looks a recipient at an address literal up whole (`user@[192.0.2.1]`,
  as written) and by its literal and the literal's prefixes (`[192.0.2.1]`,
  `[192.0.2]`), as the D ruleset does for From: and To:;
- Try_TLS: and TLS_Srv: literals match the ${server_name} of a delivery to a literal
  as written, and their prefixes;
- TLS session features reach sendmail without their blanks, and an empty part or a
  blank between two words makes it refuse STARTTLS.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from import_helpers import PLAIN_MC, PLAIN_STARTTLS
from realtools import (
    SendmailRelease,
    bt_answers,
    m4_build,
    makemap_roundtrip,
    scratch_dir,
    sendmail_bt,
)
from releases import release
from sendmail_fixture import DaemonFactory, sendmail_daemon, throwaway_ca

from compiler.sendmail.accessmap import parse_entry

__all__ = ["release", "sendmail_daemon", "throwaway_ca"]

pytestmark = pytest.mark.realtools


@pytest.fixture
def scratch() -> Iterator[Path]:
    with scratch_dir("grammar") as path:
        (path / "etc-mail").mkdir()
        yield path


def ask(scratch: Path, release: SendmailRelease, access: str, lookups: str) -> list[str]:
    """What each lookup of `lookups` returns from the map `access`, on `release`."""
    rc, cf, err = m4_build(PLAIN_MC, PLAIN_STARTTLS, scratch, release)
    assert rc == 0, err
    (scratch / "bt.cf").write_text(cf, encoding="utf-8")
    assert makemap_roundtrip(access, scratch / "etc-mail", release)[0] == 0
    done = sendmail_bt(release, scratch / "bt.cf", ("-d0.1",), lookups)
    return bt_answers(done.stdout)


def ruleset_results(stdout_answers: list[str]) -> list[str]:
    """An error ($#error...) or OK, for each ruleset asked."""
    return ["error" if a.startswith("$#error") else a for a in stdout_answers]


#: characters str.split() ends a word at that makemap keeps in a key
NOT_BLANKS = ["\xa0", "\x1c", "\x1f", "\x85", "\u2003", "\u3000", "\u202f"]


@pytest.mark.parametrize("ch", NOT_BLANKS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_key_ends_only_where_makemap_ends_it(
    scratch: Path, release: SendmailRelease, ch: str
) -> None:
    line = f"Connect:192.0.2.1{ch}REJECT OK"
    with pytest.raises(
        ValueError, match=f"U\\+{ord(ch):04X}( \\([A-Z -]+\\))? after 'Connect:192.0.2.1' is no"
    ):
        parse_entry(line)
    rc, _err, dumped = makemap_roundtrip(line + "\n", scratch, release)
    assert rc == 0
    assert dumped == [f"connect:192.0.2.1{ch}reject\tOK"]  # one key, with the character


@pytest.mark.parametrize("ch", ["\xa0", "\u2003", "\u3000"], ids=lambda c: f"U+{ord(c):04X}")
def test_a_value_at_another_space_is_another_word(
    scratch: Path, release: SendmailRelease, ch: str
) -> None:
    lines = [f"Connect:192.0.2.1\tREJECT{ch}", f"Connect:192.0.2.2\t{ch}REJECT"]
    for line in (*lines, f"TLS_Srv:[192.0.2.3]\tVERIFY{ch}"):
        with pytest.raises(
            ValueError, match=f"U\\+{ord(ch):04X}( \\([A-Z -]+\\))?: sendmail reads it as part"
        ):
            parse_entry(line)
    access = "".join(line + "\n" for line in lines) + f"TLS_Srv:[192.0.2.3]\tVERIFY{ch}\n"
    lookups = (
        "D <192.0.2.1> <?> <+ Connect> <>\nD <192.0.2.2> <?> <+ Connect> <>\n"
        ".D{verify}NONE\n.D{server_name}[192.0.2.3]\ntls_server NONE\n"
    )
    answers = ask(scratch, release, access, lookups)
    # the word keeps the character (-bt shows its bytes as M-x): no REJECT, and no
    # requirement (tls_server says OK)
    after, before, tls = answers
    assert after.startswith("REJECTM-") and before.endswith("REJECT") and before != "REJECT"
    assert tls == "OK", answers


#: TLS_Rcpt: keys at an address literal -> (recipient, whether tls_rcpt finds it)
TLS_RCPT = {
    "TLS_Rcpt:user@[192.0.2.1]": [("user@[192.0.2.1]", True), ("other@[192.0.2.1]", False)],
    "TLS_Rcpt:[192.0.2.5]": [("x@[192.0.2.5]", True), ("x@[192.0.2.9]", False)],
    "TLS_Rcpt:[198.51.100]": [("x@[198.51.100.7]", True)],
    "TLS_Rcpt:[IPv6:2001:db8::1]": [
        ("x@[IPv6:2001:db8::1]", True),
        ("x@[IPv6:2001:db8:0:0:0:0:0:1]", False),  # another spelling
    ],
    "TLS_Rcpt:u@[IPv6:2001:db8::2]": [("u@[IPv6:2001:db8::2]", True)],
    "TLS_Rcpt:[IPv6:2001:db9]": [("x@[IPv6:2001:db9::3]", True)],
}


def test_tls_rcpt_finds_recipients_at_address_literals(
    scratch: Path, release: SendmailRelease
) -> None:
    entries = [parse_entry(f"{key} VERIFY") for key in TLS_RCPT]
    assert [e.key for e in entries] == list(TLS_RCPT)  # accepted, written as written
    asked = [case for cases in TLS_RCPT.values() for case in cases]
    lookups = ".D{verify}NONE\n" + "".join(f"tls_rcpt {rcpt}\n" for rcpt, _ in asked)
    access = "".join(e.line() + "\n" for e in entries)
    answers = ruleset_results(ask(scratch, release, access, lookups))
    assert answers == ["error" if found else "OK" for _, found in asked]


def test_tls_rcpt_never_finds_a_user_at_a_net(scratch: Path, release: SendmailRelease) -> None:
    with pytest.raises(ValueError, match="up as the whole address, never by a net's prefix"):
        parse_entry("TLS_Rcpt:user@[192.0.2] VERIFY")
    access = "TLS_Rcpt:user@[192.0.2]\tVERIFY\n"
    answers = ruleset_results(
        ask(scratch, release, access, ".D{verify}NONE\ntls_rcpt user@[192.0.2.1]\n")
    )
    assert answers == ["OK"]


#: Try_TLS: / TLS_Srv: keys at a literal -> (${server_name} of a delivery, found)
SERVER_LITERALS = {
    "Try_TLS:[192.0.2.1] NO": [("[192.0.2.1]", True)],
    "Try_TLS:[198.51.100] NO": [("[198.51.100.4]", True)],
    "Try_TLS:[IPv6:2001:db8::2] NO": [
        ("[IPv6:2001:db8::2]", True),
        ("[IPv6:2001:db8:0:0:0:0:0:2]", False),
    ],
    "TLS_Srv:[192.0.2.7] VERIFY": [("[192.0.2.7]", True), ("[192.0.2.8]", False)],
    "TLS_Srv:[IPv6:2001:db8::7] VERIFY": [
        ("[IPv6:2001:db8::7]", True),
        ("[IPv6:2001:db8:0:0:0:0:0:7]", False),
    ],
    "TLS_Srv:[IPv6:2001:db9] VERIFY": [("[IPv6:2001:db9:1::7]", True)],
}


def test_try_tls_and_tls_srv_literals_match_as_written(
    scratch: Path, release: SendmailRelease
) -> None:
    entries = [parse_entry(text) for text in SERVER_LITERALS]
    assert [f"{e.key} {e.value}" for e in entries] == list(SERVER_LITERALS)
    lookups = ".D{verify}NONE\n.D{server_addr}203.0.113.1\n"
    expected = []
    for text, cases in SERVER_LITERALS.items():
        ruleset = "try_tls x" if text.startswith("Try_TLS") else "tls_server NONE"
        for name, found in cases:
            lookups += f".D{{server_name}}{name}\n{ruleset}\n"
            expected.append("error" if found else "OK")
    access = "".join(e.line() + "\n" for e in entries)
    assert ruleset_results(ask(scratch, release, access, lookups)) == expected


# -- daemons ---------------------------------------------------------------------


def _with_features(spec: dict[str, Any]) -> None:
    spec["defaults"]["mc"]["features"].append("tls_session_features")


def _starttls(port: int, host: str = "127.0.0.1") -> str | None:
    """None when STARTTLS succeeds, else the reply."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP(host, port, timeout=10) as smtp:
        smtp.ehlo("client.tlsc.test")
        try:
            smtp.starttls(context=ctx)
        except smtplib.SMTPResponseException as exc:
            return f"{exc.smtp_code} {exc.smtp_error.decode()}"
        smtp.ehlo("client.tlsc.test")
    return None


def _daemon_with_lines(
    factory: DaemonFactory, lines: str, edit: Callable[[dict[str, Any]], None]
) -> Any:
    """A daemon whose access map has `lines` beside the spec's (lines tlsc may refuse)."""
    daemon = factory(edit=edit, start=False)
    access = Path(daemon.spec["defaults"]["paths"]["access"])
    access.write_text(access.read_text(encoding="utf-8") + lines, encoding="utf-8")
    daemon.build()
    daemon.start()
    return daemon


#: session features value -> what tlsc writes (None: refused, and sendmail refuses STARTTLS)
FEATURES = {
    "CipherList=HIGH;": "CipherList=HIGH",
    "CipherList = HIGH ; Options=+SSL_OP_NO_TLSv1": "CipherList=HIGH; Options=+SSL_OP_NO_TLSv1",
    "Options=+SSL_OP_NO_TLSv1, +SSL_OP_NO_TLSv1_1": "Options=+SSL_OP_NO_TLSv1, +SSL_OP_NO_TLSv1_1",
    "CipherList=HIGH;;Options=+SSL_OP_NO_TLSv1": None,
    ";CipherList=HIGH": None,
    "Options=+SSL_OP_NO_TLSv1 +SSL_OP_NO_TLSv1_1": None,
    "Options=SSL_OP_NO_TLSv1 SSL_OP_NO_TLSv1_1": None,
    "CipherList=ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES128-GCM-SHA256": None,
}


@pytest.mark.parametrize(("value", "written"), FEATURES.items())
def test_session_features_as_sendmail_reads_them(
    sendmail_daemon: DaemonFactory, release: SendmailRelease, value: str, written: str | None
) -> None:
    key = "TLS_Srv_Features:127.0.0.1"
    if written is None:
        with pytest.raises(ValueError, match="STARTTLS"):
            parse_entry(f"{key} {value}")
    else:
        assert parse_entry(f"{key} {value}").value == written
    daemon = _daemon_with_lines(sendmail_daemon, f"{key}\t{value}\n", _with_features)
    refused = _starttls(daemon.port)
    if written is None:
        assert refused is not None and refused.startswith("454 4.3.3"), refused
    else:
        assert refused is None, refused
        # and what tlsc writes does the same
        daemon.stop()
        daemon = _daemon_with_lines(sendmail_daemon, f"{key}\t{written}\n", _with_features)
        assert _starttls(daemon.port) is None


@pytest.mark.parametrize("compressed", [False, True], ids=["full", "compressed"])
def test_client_addr_form_follows_use_compressed_ipv6_addresses(
    sendmail_daemon: DaemonFactory, release: SendmailRelease, compressed: bool
) -> None:
    """Debian's sendmail (IPV6_FULL) looks a client up as IPv6:0:0:0:0:0:0:0:1, the form
    tlsc writes; with confUSE_COMPRESSED_IPV6_ADDRESSES as IPv6:::1, which is why tlsc
    refuses the define beside IPv6 keys (S216, tests/test_validate.py)."""

    def edit(spec: dict[str, Any]) -> None:
        port = spec["defaults"]["smtp_port"]
        mc = spec["defaults"]["mc"]
        mc["daemon_options"] = [f"Family=inet6, Name=MTA-tlsc, Port={port}, Addr=::1"]
        if compressed:
            mc["defines"]["confUSE_COMPRESSED_IPV6_ADDRESSES"] = "True"

    lines = 'Connect:IPv6:0:0:0:0:0:0:0:1\tERROR:"550 full"\nConnect:IPv6:::1\tERROR:"550 short"\n'
    daemon = _daemon_with_lines(sendmail_daemon, lines, edit)
    with socket.create_connection(("::1", daemon.port), timeout=10) as conn:
        conn.settimeout(10)
        conn.recv(512)  # the greeting, or the rejection (greet_pause)
    seen = daemon.wait_for_log(r"ruleset=check_relay, .*reject=550 5\.0\.0 (full|short)")
    assert ("reject=550 5.0.0 short" if compressed else "reject=550 5.0.0 full") in seen, seen
    assert ("arg2=IPv6:::1" if compressed else "arg2=IPv6:0:0:0:0:0:0:0:1") in seen, seen
    assert parse_entry("Connect:IPv6:::1 REJECT").key == "Connect:IPv6:0:0:0:0:0:0:0:1"


# -- ClientRate:, ClientConn:, TEMP:, ERROR:D.S.N:"...", IPv6 CIDR ------------------

#: the .mc lines RateControl and ConnControl come with
RATE_MC = (
    "FEATURE(`ratecontrol', `nodelay', `terminate')dnl\n"
    "FEATURE(`conncontrol', `nodelay', `terminate')dnl\n"
)


def ask_mc(scratch: Path, release: SendmailRelease, access: str, lookups: str) -> list[str]:
    """ask() with RATE_MC in the .mc; each answer is the ruleset's whole result."""
    mc = PLAIN_MC.replace("MAILER(`local')", RATE_MC + "MAILER(`local')")
    rc, cf, err = m4_build(mc, PLAIN_STARTTLS, scratch, release)
    assert rc == 0, err
    (scratch / "bt.cf").write_text(cf, encoding="utf-8")
    assert makemap_roundtrip(access, scratch / "etc-mail", release)[0] == 0
    out = sendmail_bt(release, scratch / "bt.cf", ("-d0.1",), lookups).stdout
    return [q.rsplit("returns:", 1)[1].split("\n")[0] for q in out.split("\n> ") if "returns:" in q]


#: ClientRate/ClientConn value -> (the limit sendmail reads, what tlsc says: None accepted)
LIMITS = {
    "010": (8, "as the octal number 8, not 10; write 8, or 10 without"),
    "0x10": (16, "as the hexadecimal number 16; write 16"),
    "00": (0, "takes only ClientRate 0 for no limit; it reads 00 as a limit of 0"),
    "09": (0, "it reads 09 as a limit of 0, which refuses every connection"),
    "12": (12, None),
}


@pytest.mark.parametrize("value", LIMITS)
def test_client_rate_values_as_the_arith_map_reads_them(
    scratch: Path, release: SendmailRelease, value: str
) -> None:
    limit, said = LIMITS[value]
    if said is None:
        assert parse_entry(f"ClientRate:192.0.2.1 {value}").value == value
    else:
        with pytest.raises(ValueError, match=said.replace("ClientRate", "ClientConn")):
            parse_entry(f"ClientConn:192.0.2.1 {value}")
        with pytest.raises(ValueError, match=said):
            parse_entry(f"ClientRate:192.0.2.1 {value}")
    access = f"ClientRate:192.0.2.1\t{value}\nClientConn:192.0.2.1\t{value}\n"
    lookups = ".D{client_addr}192.0.2.1\n"
    # at the limit: allowed, above it: refused; a client counts itself, so a limit
    # of 0 refuses the first connection
    for n in (limit, limit + 1) if limit else (1, 2):
        lookups += f".D{{client_rate}}{n}\n.D{{client_connections}}{n}\n"
        lookups += "RateControl x\nConnControl x\n"
    answers = ask_mc(scratch, release, access, lookups)
    refused = ["421" in a for a in answers]
    assert refused == [limit == 0] * 2 + [True, True], answers


@pytest.mark.parametrize("tag", ["ClientRate", "ClientConn"])
def test_client_rate_is_never_looked_up_by_name(
    scratch: Path, release: SendmailRelease, tag: str
) -> None:
    with pytest.raises(ValueError, match=f"never consults {tag}: by a name .* up by the"):
        parse_entry(f"{tag}:mx.example.com 0")
    assert parse_entry(f"{tag}:IPv6:2001:db8 1").key == f"{tag}:IPv6:2001:db8"
    access = f"{tag}:mx.example.com\t00\n{tag}:192.0.2.9\t00\n"
    ruleset = "RateControl" if tag == "ClientRate" else "ConnControl"
    lookups = (
        ".D{client_name}mx.example.com\n.D{client_rate}5\n.D{client_connections}5\n"
        f".D{{client_addr}}198.51.100.1\n{ruleset} x\n.D{{client_addr}}192.0.2.9\n{ruleset} x\n"
    )
    by_name, by_address = ask_mc(scratch, release, access, lookups)
    assert "421" not in by_name and "421" in by_address, (by_name, by_address)


#: From: values -> what tlsc says (None: accepted as written)
ERROR_FORMS = {
    'ERROR:5.7.1:"550 go away"': None,  # cf/README's quoted form with a DSN
    'ERROR:4.2.2:"450 full"': None,
    "TEMP:450 try later": "only on a Compat: line; on a From: line 'TEMP:450 try later' is"
    " the text of a permanent error, not a temporary one; write ERROR:450 try later",
    'TEMP:"451 later"': 'write ERROR:"451 later"',
    "TEMP:550 no": "write ERROR: with a 4xx reply code",
}


def test_error_forms_as_check_mail_returns_them(scratch: Path, release: SendmailRelease) -> None:
    lines = []
    for i, (value, said) in enumerate(ERROR_FORMS.items()):
        if said is None:
            assert parse_entry(f"From:s{i}.example {value}").value == value
        else:
            with pytest.raises(ValueError, match=re.escape(said)):
                parse_entry(f"From:s{i}.example {value}")
        lines.append(f"From:s{i}.example\t{value}\n")
    with pytest.raises(ValueError, match="only on a Compat: line; on a Connect: line"):
        parse_entry("Connect:192.0.2.1 TEMP:450 x")
    assert parse_entry("Compat:a@b.example<@>c@d.example TEMP:450 x").value == "TEMP:450 x"
    lookups = "".join(f"check_mail <u@s{i}.example>\n" for i in range(len(ERROR_FORMS)))
    answers = [a.replace(" ", "") for a in ask_mc(scratch, release, "".join(lines), lookups)]
    assert answers == [
        '$#error$@5.7.1$:"550goaway"',
        '$#error$@4.2.2$:"450full"',
        # no $@ 4.x.x and no 4xx code: TEMP: is text, answered as a permanent error
        "$#error$:TEMP:450trylater",
        '$#error$:TEMP:"451later"',
        "$#error$:TEMP:550no",
    ]


#: IPv6 CIDR keys -> the key tlsc says to write instead
IPV6_CIDR = {
    "Connect:IPv6:2001:db8::/32": "write 'IPv6:2001:db8'",
    "Connect:IPv6:2001:DB8:1::/48": "write 'IPv6:2001:db8:1'",
    "IPv6:2001:db8::/33": "no multiple of 16",
    "Connect:IPv6:2001:db8::1/128": "write 'IPv6:2001:db8:0:0:0:0:0:1'",
}


def test_ipv6_cidr_is_refused_saying_so(scratch: Path, release: SendmailRelease) -> None:
    for key, how in IPV6_CIDR.items():
        with pytest.raises(ValueError, match=f"sendmail does not understand CIDR; .*{how}"):
            parse_entry(f"{key} REJECT")
    access = "".join(f"{key}\tREJECT\n" for key in IPV6_CIDR)
    lookups = (
        "A <IPv6:2001:db8:0:0:0:0:0:1> <?> <+ Connect> <>\n"
        "A <IPv6:2001:db8:1:0:0:0:0:2> <?> <+ Connect> <>\n"
    )
    assert bt_answers(sendmail_bt_of(scratch, release, access, lookups)) == ["?", "?"]
    # the key tlsc says to write matches
    fixed = "Connect:IPv6:2001:db8\tREJECT\n"
    assert bt_answers(sendmail_bt_of(scratch, release, fixed, lookups)) == ["REJECT", "REJECT"]


def sendmail_bt_of(scratch: Path, release: SendmailRelease, access: str, lookups: str) -> str:
    """The stdout of ask()'s run."""
    rc, cf, err = m4_build(PLAIN_MC, PLAIN_STARTTLS, scratch, release)
    assert rc == 0, err
    (scratch / "bt.cf").write_text(cf, encoding="utf-8")
    assert makemap_roundtrip(access, scratch / "etc-mail", release)[0] == 0
    return sendmail_bt(release, scratch / "bt.cf", ("-d0.1",), lookups).stdout


def test_issuer_tags_that_differ_only_in_case_are_one_tag(
    scratch: Path, release: SendmailRelease
) -> None:
    """Why S200 refuses `MyCA` beside `myca` (test_host_rules): proto.m4's CITag rule
    looks up `$(access TAG:${cert_issuer} $)`, and makemap and the lookup fold case,
    so each tag's issuers answer for the other."""
    access = "MyCA:/C=US/O=a\tOK\nmyca:/C=US/O=b\tOK\n"
    lookups = "".join(f"/map access {tag}:/C=US/O={o}\n" for tag in ("MyCA", "myca") for o in "ab")
    out = sendmail_bt_of(scratch, release, access, lookups)
    found = re.findall(r"map_lookup: access \((\S+)\) returns (\S+)", out)
    assert found == [(f"{tag}:/C=US/O={o}", "OK") for tag in ("MyCA", "myca") for o in "ab"]
