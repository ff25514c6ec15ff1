"""access -> domains/recipients/issuer_tags/access (compiler/importer/read_access.py).

The makemap round trips run with each release's makemap (tests/releases.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import (
    ACCESS,
    MC,
    STARTTLS,
    imported,
    makemap_dump,
    messages,
    recompiled,
    tree,
)
from realtools import SendmailRelease, bt_answers, m4_build, makemap_roundtrip, sendmail_bt
from releases import release

from compiler.importer.notes import Notes
from compiler.importer.read_access import AccessRead, read_access

__all__ = ["release"]  # a fixture, imported for pytest

EVERY_FORM = """\
# TLS rules in every form sendmail knows

TLS_Srv:	ENCR:112
TLS_Srv:secure.example.com	ENCR:128
TLS_Srv:bank.example.com	ENCR:256
TLS_Srv:verify.example	VERIFY
TLS_Srv:bits.example	VERIFY:192
TLS_Srv:perm.example	PERM+VERIFY
TLS_Srv:temp.example	TEMP+ENCR:128
TLS_Srv:cn.example	VERIFY+CN
TLS_Srv:cnname.example	VERIFY+CN:mx.cnname.example
TLS_Srv:cs.example	VERIFY+CS:/C=DE/O=Research+20Partner+20e.V./CN=mx.cs.example
TLS_Srv:ci.example	VERIFY+CI:/C=US/O=Example+20Trust+20+28Test+29/CN=CA
TLS_Srv:tag.example	VERIFY+CN++CITag:MyCA
TLS_Clt:192.0.2	ENCR:128
TLS_Clt:laptop.example.com	PERM+VERIFY:112
Srv_Features:laptop.example.com	v
TLS_Clt:IPv6:2001:db8:100	ENCR:128
Try_TLS:IPv6:2001:db8:0:0:0:0:0:53	NO
Try_TLS:broken.example	NO
Srv_Features:printers.example	S
TLS_Rcpt:	ENCR:128
TLS_Rcpt:ceo@example.org	ENCR:112+CN:smtp.example.org
TLS_Rcpt:legal.example.org	VERIFY
MyCA:/C=US/ST=CA/O=safe+20and+20sound/CN=example.net/	OK
Connect:127	RELAY
"""


def read(text: str, request: bool = False) -> tuple[Notes, AccessRead]:
    notes = Notes()
    return notes, read_access(text, "access", notes, request)


def test_every_tls_form_becomes_a_rule() -> None:
    notes, out = read(EVERY_FORM)
    assert notes.losses == [] and notes.errors == []
    d = out.domains
    assert d["*"] == {"outbound": {"require": "encrypt", "min_bits": 112}}
    assert d["secure.example.com"] == {"outbound": "encrypt"}
    assert d["bits.example"] == {"outbound": {"require": "verify", "min_bits": 192}}
    assert d["perm.example"] == {"outbound": {"require": "verify", "on_failure": "permanent"}}
    assert d["cnname.example"]["outbound"]["cn"] == "mx.cnname.example"
    assert (
        d["cs.example"]["outbound"]["subject"] == "/C=DE/O=Research Partner e.V./CN=mx.cs.example"
    )
    assert d["ci.example"]["outbound"]["issuer"] == "/C=US/O=Example Trust (Test)/CN=CA"
    assert d["tag.example"]["outbound"] == {"require": "verify", "cn": True, "issuer_tag": "MyCA"}
    assert d["laptop.example.com"] == {
        "inbound": {"require": "verify", "min_bits": 112, "on_failure": "permanent"}
    }
    assert d["IPv6:2001:db8:100"] == {"inbound": "encrypt"}
    # written in the uncompressed form sendmail compares (IPV6_FULL)
    assert d["IPv6:2001:db8:0:0:0:0:0:53"] == {"outbound": {"starttls": False}}
    assert d["printers.example"] == {"inbound": {"starttls": False}}
    r = out.recipients
    assert r == {
        "*": "encrypt",
        "ceo@example.org": {"require": "encrypt", "min_bits": 112, "cn": "smtp.example.org"},
        "legal.example.org": "verify",
    }
    assert out.issuer_tags == {"MyCA": ["/C=US/ST=CA/O=safe and sound/CN=example.net/"]}
    assert [t for t, _ in out.access] == ["Connect:127 RELAY"]
    assert notes.dropped == {"comment lines in access": 1}


@pytest.mark.realtools
def test_every_tls_form_round_trips_through_real_makemap(
    tmp_path: Path, release: SendmailRelease
) -> None:
    result = imported(tree(tmp_path, EVERY_FORM))
    assert not result.notes.losses, messages(result)
    files = recompiled(result).hosts["h1"]
    assert makemap_dump(files[ACCESS], release) == makemap_dump(EVERY_FORM, release)


def test_verify_without_its_srv_features_line_stays_verbatim() -> None:
    """tlsc would add `Srv_Features:KEY v`; the original has none, so no rule, and the
    import says why (the rule never passes on a host that asks for no certificate)."""
    notes, out = read("TLS_Clt:laptop.example.com\tVERIFY\n")
    assert out.domains == {}
    assert [t for t, _ in out.access] == ["TLS_Clt:laptop.example.com VERIFY"]
    said = [m for _, m in notes.info if "is not read into the spec" in m]
    assert said == [
        "TLS_Clt:laptop.example.com VERIFY is not read into the spec: this host asks no"
        " client for a certificate, so the rule never passes without a"
        " Srv_Features:laptop.example.com v line; in the spec, laptop.example.com:"
        " {inbound: verify} writes both"
    ]
    _, asked = read("TLS_Clt:laptop.example.com\tVERIFY\n", request=True)
    assert asked.domains == {"laptop.example.com": {"inbound": "verify"}}


def test_makemap_reading_comments_blanks_duplicates_and_crlf() -> None:
    text = (
        "# header\r\n\r\nConnect:127\tRELAY\r\n  Connect:10\tRELAY\r\n"
        "Connect:127\tREJECT\r\nConnect:nothing\r\nconnect:192.0.2   relay   \r\n"
    )
    notes, out = read(text)
    assert [t for t, _ in out.access] == ["Connect:127 RELAY", "Connect:192.0.2 RELAY"]
    said = " ".join(m for _, m in notes.info)
    assert "CRLF" in said and "starts with a blank" in said
    assert "repeats line 3" in said and "without a value" in said


def test_a_tag_line_is_verbatim_when_its_name_does_not_reencode() -> None:
    # a bare '+' (not +XX): sendmail would have written +2B; decoding would change the key
    _notes, out = read("MyCA:/O=a+b/CN=x\tOK\nTLS_Srv:x.example\tVERIFY+CITag:MyCA\n")
    assert out.issuer_tags == {"MyCA": []}
    assert out.domains == {"x.example": {"outbound": {"require": "verify", "issuer_tag": "MyCA"}}}
    assert [t for t, _ in out.access] == ["MyCA:/O=a+b/CN=x OK"]


def test_a_line_tlsc_refuses_is_a_loss_with_its_line() -> None:
    notes, _out = read("Connect:127\tRELAY\nTLS_Srv:.example.com\tENCR:128\nGreetPause:\t5000\n")
    assert [(p.line, p.code) for p in notes.losses] == [(2, "I141")]
    assert "starts with a dot" in notes.losses[0].message
    # a bare GreetPause: is a line sendmail never reads: leaving it out loses nothing
    assert [(at.line, m.split(":")[0]) for at, m in notes.info] == [(3, "GreetPause")]


def test_block_markers_import_only_the_block() -> None:
    text = "Connect:10\tRELAY\n# BEGIN tlsc\nTLS_Srv:a.example\tENCR:128\n# END tlsc\n"
    _notes, out = read(text)
    assert out.ownership == "block"
    assert out.domains == {"a.example": {"outbound": "encrypt"}} and out.access == []


def test_broken_block_markers_are_an_error() -> None:
    notes, _ = read("# BEGIN tlsc\nTLS_Srv:a.example\tENCR:128\n")
    assert [p.code for p in notes.errors] == ["I140"]


@pytest.mark.realtools
def test_block_round_trip_keeps_the_lines_outside(tmp_path: Path) -> None:
    text = "Connect:10\tRELAY\n# BEGIN tlsc\nTLS_Srv:a.example\tENCR:128\n# END tlsc\nTo:x\tOK\n"
    result = imported(tree(tmp_path, text))
    assert not result.notes.losses, messages(result)
    assert result.text is not None and "ownership: block" in result.text


def test_normalised_values_are_notes_and_changed_ones_losses(tmp_path: Path) -> None:
    result = imported(tree(tmp_path, "Connect:127\trelay\nTLS_Srv:x.example\tencr:128\n"))
    assert result.notes.losses == []
    said = [m for _, m in result.notes.info]
    assert any("'RELAY' (same meaning)" in m for m in said)


def test_a_compressed_ipv6_key_is_reported_as_a_change_of_meaning(
    tmp_path: Path, release: SendmailRelease
) -> None:
    """sendmail built with IPV6_FULL (Debian's) never matches `IPv6:...::...` keys:
    the spec writes the uncompressed key, which does match, and says so."""
    result = imported(tree(tmp_path, "Connect:IPv6:::1\tRELAY\nTry_TLS:IPv6:2001:db8::53\tNO\n"))
    assert result.notes.losses == []
    said = {at.line: m for at, m in result.notes.info if m.startswith("I154 ")}
    assert sorted(said) == [1, 2]
    assert "now `Connect:IPv6:0:0:0:0:0:0:0:1 RELAY` does" in said[1]
    files = recompiled(result).hosts["h1"]
    assert makemap_dump(files[ACCESS], release) == [
        "connect:ipv6:0:0:0:0:0:0:0:1\tRELAY",
        "try_tls:ipv6:2001:db8:0:0:0:0:0:53\tNO",
    ]


#: address-literal keys of real access files (sendmail's cf/README and FreeBSD's
#: access.sample, `From:[1.2.4]` from cf/README's accept_unresolvable_domains)
LITERALS = """\
Connect:[127.0.0.3]\t\tOK
Connect:[IPv6:1:2:3:4:5:6:7:8]\tOK
From:[1.2.3.4]\t\t\tOK
From:[1.2.4]\t\t\tREJECT
To:[192.0.2.25]\tRELAY
[192.0.2.9]\tDISCARD
"""


@pytest.mark.realtools
def test_address_literal_keys_are_carried_over_and_sendmail_matches_them(
    tmp_path: Path, release: SendmailRelease
) -> None:
    """`Connect:[127.0.0.3]` was refused ('not a valid domain name'): the import lost it
    and lint called it an error, yet sendmail's D ruleset looks the literal up (the
    ${client_name} of a client whose address does not resolve) and then its prefixes."""
    result = imported(tree(tmp_path / "host", LITERALS))
    assert not result.notes.losses, messages(result)
    assert not [w for w in result.notes.warnings if w.code == "A006"]
    files = recompiled(result).hosts["h1"]
    assert makemap_dump(files[ACCESS], release) == makemap_dump(LITERALS, release)
    bt = tmp_path / "bt"
    (bt / "etc-mail").mkdir(parents=True)
    rc, cf, err = m4_build(files[MC], files[STARTTLS], bt, release)
    assert rc == 0, err
    (bt / "bt.cf").write_text(cf, encoding="utf-8")
    assert makemap_roundtrip(files[ACCESS], bt / "etc-mail", release)[0] == 0
    asked = {
        ("Connect", "[127.0.0.3]"): "OK",
        ("Connect", "[IPv6:1:2:3:4:5:6:7:8]"): "OK",
        ("From", "[1.2.3.4]"): "OK",
        ("From", "[1.2.4.77]"): "REJECT",  # [1.2.4] is the net's prefix
        ("To", "[192.0.2.25]"): "RELAY",
        ("Connect", "[192.0.2.9]"): "DISCARD",  # the untagged key
        ("Connect", "[127.0.0.4]"): "?",
    }
    lookups = "".join(f"D <{name}> <?> <+ {tag}> <>\n" for tag, name in asked)
    done = sendmail_bt(release, bt / "bt.cf", ("-d0.1",), lookups)
    answers = bt_answers(done.stdout)
    assert answers == list(asked.values()), done.stdout


@pytest.mark.parametrize(
    ("access", "line"),
    [
        # a Korean how-to's /etc/mail/access: the comment is part of the value, so
        # sendmail answers `RELAY    # local` as an error to every local client
        ("Connect:localhost.localdomain   RELAY    # local\nConnect:127.0.0.1\tRELAY\n", 1),
        # a setup script's access: values on lines of their own, which makemap skips
        ("Connect:127.0.0.1\t\t\tRELAY\n                            REJECT\n", 2),
        ("Connect:127.0.0.1\tRELAY\r\n", 1),
    ],
)
def test_an_access_file_makemap_misreads_is_an_error_without_lint_fix_advice(
    tmp_path: Path, access: str, line: int
) -> None:
    """The sentence told to run `tlsc lint --fix` and spoke of m4; no A-rule has a fix
    (each changes what sendmail does), so it asked for a run that changes nothing."""
    result = imported(tree(tmp_path, access))
    assert result.text is None
    first, last = result.notes.errors[0], result.notes.errors[-1]
    assert (first.code, first.line) == ("A001", line)
    assert last.code == "I004" and "lint --fix" not in last.message, last.message
    assert last.message.startswith("makemap and sendmail would read access differently")


#: IPv6 address literals as keys: (line, where such a key or its address comes from);
#: the address part of each is what a client writes, or what sendmail writes itself
IPV6_LITERALS = [
    # a sender and a recipient at a literal as Postfix and the MUAs write one (Postfix's
    # `Received: from localhost [IPv6:::1]`, an open-relay test's `<victim@[IPv6:::1]>`)
    ("From:[IPv6:2001:db8::2]\tREJECT", "sender written compressed"),
    ("From:[IPv6:2001:db8:0:0:0:0:0:3]\tREJECT", "sender written in full"),
    ("To:[IPv6:2001:db8::4]\tREJECT", "recipient written compressed"),
    ("[IPv6:2001:db8::6]\tREJECT", "untagged: a sender, a recipient, a client"),
    # cf/README's access_db example, and a client named as sendmail names it
    ("Connect:[IPv6:1:2:3:4:5:6:7:8]\tOK", "cf/README"),
    ("Connect:[IPv6:2001:db8:0:0:0:0:0:9]\tREJECT", "client named in full (IPV6_FULL)"),
]
#: sendmail -bt rule -> the key it finds (None: none)
IPV6_LOOKUPS = {
    "check_mail <u@[IPv6:2001:db8::2]>": "From:[IPv6:2001:db8::2]",
    "check_mail <u@[IPv6:2001:db8:0:0:0:0:0:2]>": None,  # another spelling
    "check_mail <u@[IPv6:2001:db8:0:0:0:0:0:3]>": "From:[IPv6:2001:db8:0:0:0:0:0:3]",
    "check_mail <u@[IPv6:2001:db8::3]>": None,
    "check_rcpt <u@[IPv6:2001:db8::4]>": "To:[IPv6:2001:db8::4]",
    "check_rcpt <u@[IPv6:2001:db8:0:0:0:0:0:4]>": None,
    "check_mail <u@[IPv6:2001:db8::6]>": "[IPv6:2001:db8::6]",
    # ${client_name}, as sendmail writes it for a client whose address does not resolve
    "D <[IPv6:1:2:3:4:5:6:7:8]> <?> <+ Connect> <>": "Connect:[IPv6:1:2:3:4:5:6:7:8]",
    "D <[IPv6:2001:db8:0:0:0:0:0:9]> <?> <+ Connect> <>": "Connect:[IPv6:2001:db8:0:0:0:0:0:9]",
    "D <[IPv6:2001:db8:0:0:0:0:0:6]> <?> <+ Connect> <>": None,  # the untagged key
}


@pytest.mark.realtools
def test_ipv6_literals_are_kept_as_the_address_writes_them_and_full_as_sendmail_does(
    tmp_path: Path, release: SendmailRelease
) -> None:
    """`From:[IPv6:2001:db8::2]` was written `From:[IPv6:2001:db8:0:0:0:0:0:2]` (an I154
    note) and lint said the compressed key never matches: sendmail's D ruleset looks
    the domain of a sender or recipient up as the client wrote it, so the rewritten
    key missed the address it matched and matched one it did not. A client's name is
    sendmail's own text (IPV6_FULL: in full), so Connect: literals are written so."""
    access = "".join(f"{line}\n" for line, _source in IPV6_LITERALS)
    result = imported(tree(tmp_path / "host", access))
    assert not result.notes.losses, messages(result)
    assert not [m for _, m in result.notes.info if m.startswith("I154 ")], messages(result)
    # the untagged one never matches a client, and lint says so
    assert [(w.line, w.code) for w in result.notes.warnings if w.code == "A006"] == [(4, "A006")]
    files = recompiled(result).hosts["h1"]
    assert makemap_dump(files[ACCESS], release) == makemap_dump(access, release)
    bt = tmp_path / "bt"
    (bt / "etc-mail").mkdir(parents=True)
    rc, cf, err = m4_build(files[MC], files[STARTTLS], bt, release)
    assert rc == 0, err
    (bt / "bt.cf").write_text(cf, encoding="utf-8")
    assert makemap_roundtrip(files[ACCESS], bt / "etc-mail", release)[0] == 0
    client = ".D{client_addr}192.0.2.99\n"  # check_rcpt: a client that may not relay
    done = sendmail_bt(release, bt / "bt.cf", ("-d0.1",), client + "\n".join(IPV6_LOOKUPS))
    assert "IPV6_FULL" in done.stdout.split("\n> ", 1)[0], done.stdout
    values = {line.split("\t")[0]: line.rsplit("\t", 1)[1] for line, _ in IPV6_LITERALS}
    queries = [q for q in done.stdout.split("\n> ") if " input: " in q]
    found = [next((v for v in ("REJECT", "OK") if f"returns: < {v} >" in q), None) for q in queries]
    assert found == [values[k] if k else None for k in IPV6_LOOKUPS.values()], done.stdout
