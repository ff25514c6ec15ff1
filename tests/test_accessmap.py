"""compiler/sendmail/accessmap.py: the TLS requirement grammar and canonical access entries."""

from __future__ import annotations

import pytest

from compiler.sendmail.accessmap import (
    AccessEntry,
    Requirement,
    did_you_mean,
    is_tag_name,
    parse_entry,
    parse_requirement,
)

# -- requirements ----------------------------------------------------------


@pytest.mark.parametrize(
    ("req", "text"),
    [
        (Requirement("encrypt"), "ENCR:128"),
        (Requirement("encrypt", bits=256), "ENCR:256"),
        (Requirement("verify"), "VERIFY"),
        (Requirement("verify", bits=112), "VERIFY:112"),
        (Requirement("verify", on_failure="permanent"), "PERM+VERIFY"),
        (Requirement("encrypt", bits=128, on_failure="temporary"), "TEMP+ENCR:128"),
        (Requirement("verify", cn=True), "VERIFY+CN"),
        (Requirement("verify", cn="smtp.example.com"), "VERIFY+CN:smtp.example.com"),
        (Requirement("verify", issuer_tag="MyCA"), "VERIFY+CITag:MyCA"),
        (
            Requirement(
                "verify",
                bits=112,
                on_failure="permanent",
                cn=True,
                subject="/CN=mx+20one",
                issuer="/O=CA",
                issuer_tag="MyCA",
            ),
            "PERM+VERIFY:112+CN++CS:/CN=mx+20one++CI:/O=CA++CITag:MyCA",
        ),
    ],
)
def test_requirement_render(req: Requirement, text: str) -> None:
    assert req.render() == text


@pytest.mark.parametrize(
    "text",
    [
        "ENCR:128",
        "ENCR:1",
        "VERIFY",
        "VERIFY:65535",
        "PERM+VERIFY",
        "TEMP+ENCR:256",
        "VERIFY+CN",
        "VERIFY:112+CN:mx.example.com",
        "VERIFY+CN++CITag:MyCA",
        "PERM+ENCR:128+CS:/C=US/O=A+20B++CI:/CN=x",
        "TEMP+VERIFY:256+CN++CS:/CN=a++CI:/CN=b++CITag:T-1",
    ],
)
def test_requirement_round_trips(text: str) -> None:
    req = parse_requirement(text)
    assert req.render() == text
    assert parse_requirement(req.render()) == req


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("encr:256", "ENCR:256"),
        ("verify", "VERIFY"),
        ("perm+verify:112", "PERM+VERIFY:112"),
        ("temp+ENCR:128", "TEMP+ENCR:128"),
        ("verify+cn++citag:MyCA", "VERIFY+CN++CITag:MyCA"),
        ("VERIFY+CITag:MyCA++CN", "VERIFY+CN++CITag:MyCA"),
        ("  VERIFY  ", "VERIFY"),
    ],
)
def test_requirement_canonical_form(written: str, canonical: str) -> None:
    assert parse_requirement(written).render() == canonical


def test_requirement_fields() -> None:
    req = parse_requirement("PERM+VERIFY:112+CN:Mx.Example.COM++CITag:MyCA")
    assert req == Requirement(
        level="verify",
        bits=112,
        on_failure="permanent",
        cn="mx.example.com",
        subject=None,
        issuer=None,
        issuer_tag="MyCA",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ENCR", "'ENCR': ENCR needs a number of bits, e.g. ENCR:128"),
        ("PERM+ENCR", "'PERM+ENCR': ENCR needs a number of bits, e.g. ENCR:128"),
        ("VERIFY:abc", "'VERIFY:abc': the number of bits after 'VERIFY:' must be digits"),
        ("VERIFY:0", "'VERIFY:0': the number of bits must be between 1 and 65535"),
        ("ENCR:65536", "'ENCR:65536': the number of bits must be between 1 and 65535"),
        ("VERIFY+CN+CITag:X", "'VERIFY+CN+CITag:X': join certificate checks with '++', not '+'"),
        ("VERIFY+CN:a.com+CS:/x", "'VERIFY+CN:a.com+CS:/x': join certificate checks with '++'"),
        (
            "VERIFY++CN",
            "'VERIFY++CN': after the base requirement, extensions start with one '+'"
            " and are joined with '++'",
        ),
        ("VERIFYX", "'VERIFYX': after the base requirement, extensions start with one '+'"),
        ("VERIFY+CN++CN", "'VERIFY+CN++CN' checks cn twice"),
        ("VERIFY+CN:", "'VERIFY+CN:': CN: needs a value"),
        ("VERIFY+XX:y", "unknown certificate check 'XX:y'; use CN, CN:name, CS:subject"),
        ("VERIFY+CS:CN=x", "a certificate name must start with '/' and be xtext-encoded"),
        ("VERIFY+CITag:1x", "'1x' is not a valid tag name"),
        ("VERIFY+CITag:My Tag", "'My Tag' is not a valid tag name"),
        (
            "MAY",
            "'MAY' is not a TLS requirement; it must start with VERIFY, VERIFY:bits or ENCR:bits",
        ),
        ("VERIFI", "(did you mean 'VERIFY'?)"),
    ],
)
def test_requirement_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_requirement(text)
    assert message in str(err.value)


# -- entries ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "line"),
    [
        ("connect:127 relay", "Connect:127\tRELAY"),
        ("Connect:127\tRELAY", "Connect:127\tRELAY"),
        ("CONNECT:192.0.2   reject", "Connect:192.0.2\tREJECT"),
        ("Connect:Example.COM OK", "Connect:example.com\tOK"),
        ("Connect:IPv6:2001:DB8::1 OK", "Connect:IPv6:2001:db8:0:0:0:0:0:1\tOK"),
        ("tls_srv:Example.COM encr:256", "TLS_Srv:example.com\tENCR:256"),
        ("TLS_Srv: verify", "TLS_Srv:\tVERIFY"),
        ("TLS_Clt:192.0.2 PERM+VERIFY:112", "TLS_Clt:192.0.2\tPERM+VERIFY:112"),
        ("TLS_Rcpt:User@Example.com ENCR:112", "TLS_Rcpt:User@example.com\tENCR:112"),
        ("TLS_Rcpt:postmaster@ VERIFY", "TLS_Rcpt:postmaster@\tVERIFY"),
        ("try_tls:broken.example no", "Try_TLS:broken.example\tNO"),
        ("Srv_Features:example.com A S", "Srv_Features:example.com\tA S"),
        ("Srv_Features: v", "Srv_Features:\tv"),
        ("Clt_Features: S", "Clt_Features:\tS"),
        # cf/README's: 8.18 looks it up by the server (8.17 by the client: lint's A006)
        ("Clt_Features:Broken.STS M", "Clt_Features:broken.sts\tM"),
        ("GreetPause:127 0", "GreetPause:127\t0"),
        ("ClientRate: 10", "ClientRate:\t10"),
        ("GreetPause:127 010", "GreetPause:127\t10"),  # strtol(.., 10), unlike ClientRate's
        ('Connect:x ERROR:"550 100%% sure"', 'Connect:x\tERROR:"550 100%% sure"'),
        (
            "Connect:spam.example error:5.7.1:550 go away",
            "Connect:spam.example\tERROR:5.7.1:550 go away",
        ),
        ("From:spammer@ REJECT", "From:spammer@\tREJECT"),
        ("Spam:abuse@ friend", "Spam:abuse@\tFRIEND"),
        ("reject@ REJECT", "reject@\tREJECT"),
        ("CertIssuer:/C=US/O=CA+20Inc. relay", "CertIssuer:/C=US/O=CA+20Inc.\tRELAY"),
        (
            "TLS_Srv_Features:example.com options=+SSL_OP_NO_TLSv1;  cipherlist=HIGH",
            "TLS_Srv_Features:example.com\tOptions=+SSL_OP_NO_TLSv1; CipherList=HIGH",
        ),
    ],
)
def test_entry_canonical_form(written: str, line: str) -> None:
    assert parse_entry(written).line() == line


def test_issuer_tag_entry_uses_the_declared_spelling() -> None:
    entry = parse_entry("myca:/CN=Root+20CA ok", frozenset({"MyCA"}))
    assert entry == AccessEntry("MyCA:/CN=Root+20CA", "OK")
    assert entry.tag is None
    assert entry.folded_key == "myca:/cn=root+20ca"


def test_entry_tag_and_folded_key() -> None:
    entry = parse_entry("TLS_Srv:Example.com ENCR:128")
    assert entry.tag == "TLS_Srv"
    assert entry.folded_key == "tls_srv:example.com"
    assert parse_entry("reject@ REJECT").tag is None


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            "Srv_Features:example.com AS",
            "Srv_Features letters must be separated by blanks ('A S', not 'AS');"
            " sendmail reads only the first letter of a word",
        ),
        ("Srv_Features:example.com Q", "'Q' is not a Srv_Features letter"),
        ('Connect:x ERROR:"550 100% sure"', "write a literal '%' as '%%' in an access value"),
        (
            "Connect:127 RELAY # local net",
            "a '#' after the value is not a comment in an access file; sendmail would"
            " read it as part of the value",
        ),
        ("Conect:127 RELAY", "unknown access tag 'Conect:' (did you mean 'Connect'?)"),
        ("TLS_Server:x VERIFY", "unknown access tag 'TLS_Server:' (did you mean 'TLS_Srv'?)"),
        ("GreetPause: 0", "sendmail never consults a bare 'GreetPause:' default"),
        ("Connect:10.0.0.0/8 RELAY", "sendmail does not understand CIDR"),
        ("Connect:127. RELAY", "ends with a dot, which never matches"),
        ("Connect:127 RELAY\nConnect:10 RELAY", "an access entry must be one line"),
        (" Connect:127 RELAY", "an access entry cannot start with a blank"),
        ("# a comment", "an access entry needs a key and a value (comments are not entries)"),
        ("Connect:127", "the access entry 'Connect:127' has no value"),
        ("Connect:127 RELAYY", "is not an access action; use OK, RELAY"),
        ("Connect:127 REALY", "(did you mean 'RELAY'?)"),
        ("Try_TLS:x.com YESS", "Try_TLS takes NO (or YES), not 'YESS'"),
        ("TLS_Srv:x.com ENCR", "ENCR needs a number of bits"),
        ("GreetPause:127 soon", "GreetPause takes a whole number, not 'soon'"),
        ("Connect:x ERROR:go away", "needs an SMTP reply code"),
        ("Connect:x `RELAY", "an access value cannot contain a back-tick"),
        ("Connect:x RE\x01LAY", "an access value cannot contain the control character U+0001"),
        ("Conn`ect:x RELAY", "an access key cannot contain a back-tick"),
        ("CertIssuer:C=US RELAY", "a certificate name must start with '/'"),
        ("TLS_Srv_Features:x CertFile=/a", "CertFile= and KeyFile= must be given together"),
        ("TLS_Srv_Features:x Options=NO_TLS", "is not an SSL option this sendmail knows"),
        ("QGRP:user@ fast\x7f", "cannot contain the control character U+007F"),
        # line breaks to an editor or to Python's splitlines(), though not to makemap
        ('Connect:x ERROR:"550 a\u2028b"', "cannot contain the line separator U+2028"),
        ('Connect:x ERROR:"550 a\u2029b"', "cannot contain the paragraph separator U+2029"),
        ('Connect:x ERROR:"550 a\x85b"', "cannot contain the control character U+0085"),
    ],
)
def test_entry_errors(written: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_entry(written)
    assert message in str(err.value)


#: address-literal keys of real access files: sendmail's D ruleset looks them up (the
#: ${client_name} of a client whose address does not resolve, a domain written so) and
#: then their leading octets or groups inside the brackets (tests/test_import_access.py
#: asks the real sendmail -bt)
@pytest.mark.parametrize(
    ("written", "line"),
    [
        # sendmail's cf/README (access_db) and FreeBSD's etc/mail/access.sample
        ("Connect:[127.0.0.3]\t\tOK", "Connect:[127.0.0.3]\tOK"),
        ("Connect:[IPv6:1:2:3:4:5:6:7:8]\tOK", "Connect:[IPv6:1:2:3:4:5:6:7:8]\tOK"),
        # cf/README (accept_unresolvable_domains): a sender domain literal and its net
        ("From:[1.2.3.4]\t\t\tOK", "From:[1.2.3.4]\tOK"),
        ("From:[1.2.4]\t\t\tOK", "From:[1.2.4]\tOK"),
        # Ubuntu 10.04's access on a forum: written uncompressed, as IPV6_FULL compares
        ("Connect:[IPv6:::1]        RELAY", "Connect:[IPv6:0:0:0:0:0:0:0:1]\tRELAY"),
        ("GreetPause:[IPv6:::1]    0", "GreetPause:[IPv6:0:0:0:0:0:0:0:1]\t0"),
        ("To:[192.0.2.25] RELAY", "To:[192.0.2.25]\tRELAY"),
        ("TLS_Clt:[192.0.2.7] ENCR:128", "TLS_Clt:[192.0.2.7]\tENCR:128"),
        ("[192.0.2.9] REJECT", "[192.0.2.9]\tREJECT"),
        # a literal an address holds is compared as the address writes it (a sender, a
        # recipient, the server a delivery goes to: real deliveries, 8.17.1.9): kept so
        ("From:[IPv6:2001:db8::2] REJECT", "From:[IPv6:2001:db8::2]\tREJECT"),
        ("To:[IPv6:2001:DB8::4] REJECT", "To:[IPv6:2001:DB8::4]\tREJECT"),
        ("Try_TLS:[IPv6:2001:db8::25] NO", "Try_TLS:[IPv6:2001:db8::25]\tNO"),
        ("TLS_Srv:[IPv6:2001:db8::25] ENCR:128", "TLS_Srv:[IPv6:2001:db8::25]\tENCR:128"),
        ("From:[IPv6:2001:db8:0:0:0:0:0:3] OK", "From:[IPv6:2001:db8:0:0:0:0:0:3]\tOK"),
        ("[IPv6:2001:db8::6] REJECT", "[IPv6:2001:db8::6]\tREJECT"),
        # ... and a client's name as sendmail writes it: in full
        ("TLS_Clt:[IPv6:2001:db8::7] ENCR:128", "TLS_Clt:[IPv6:2001:db8:0:0:0:0:0:7]\tENCR:128"),
        ("Srv_Features:[IPv6:::1] V", "Srv_Features:[IPv6:0:0:0:0:0:0:0:1]\tV"),
    ],
)
def test_address_literal_keys(written: str, line: str) -> None:
    assert parse_entry(written).line() == line


@pytest.mark.parametrize(
    ("written", "message"),
    [
        # ClientRate and ClientConn are looked up by ${client_addr} alone (Ubuntu's forum)
        (
            "ClientRate:[IPv6:::1]    0",
            "sendmail looks ClientRate: up by the client's address (${client_addr}) alone,"
            " never by a name in brackets; write 'ClientRate:IPv6:0:0:0:0:0:0:0:1'",
        ),
        ("ClientConn:[127.0.0.1] 0", "write 'ClientConn:127.0.0.1'"),
        ("Connect:[10.0.0.0/8] REJECT", "sendmail does not understand CIDR"),
        ("Connect:[127.0.0.1 OK", "is not an address literal such as '[192.0.2.1]'"),
        ("Connect:[] OK", "is not an address literal"),
        ("From:[IPv6:2001:zz::2] OK", "is not an IPv6 address literal nor a prefix"),
    ],
)
def test_address_literal_key_errors(written: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_entry(written)
    assert message in str(err.value)


def test_unknown_tag_suggests_a_declared_issuer_tag() -> None:
    with pytest.raises(ValueError) as err:
        parse_entry("MyCAA:/CN=x OK", frozenset({"MyCA"}))
    assert str(err.value) == "unknown access tag 'MyCAA:' (did you mean 'MyCA'?)"


def test_issuer_tag_line_takes_ok() -> None:
    with pytest.raises(ValueError, match="an issuer tag line takes OK, not 'RELAY'"):
        parse_entry("MyCA:/CN=x RELAY", frozenset({"MyCA"}))


# -- helpers ---------------------------------------------------------------


def test_did_you_mean() -> None:
    assert did_you_mean("outbund", ["outbound", "inbound"]) == " (did you mean 'outbound'?)"
    assert did_you_mean("VERFY", ["verify", "encrypt"]) == " (did you mean 'verify'?)"
    assert did_you_mean("zzz", ["outbound", "inbound"]) == ""


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("MyCA", True),
        ("my-ca_2", True),
        ("2ca", False),
        ("TLS_Srv", False),
        ("connect", False),
        ("MyCA\n", False),
    ],
)
def test_is_tag_name(name: str, ok: bool) -> None:
    assert is_tag_name(name) is ok
