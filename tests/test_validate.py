"""compiler/spec/validate.py: one sentence per problem, at the spec's line and column.

Positions are computed from the test text itself with `pos()`, so every
assertion names the exact line and column a person would be sent to.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from conftest import MINIMAL_SPEC, pos, with_lines
from hypothesis import given, settings
from hypothesis import strategies as st
from realtools import compile_dict

from compiler.compile import compile_loaded, compile_text
from compiler.spec.loader import load_text
from compiler.spec.validate import validate

Found = tuple[int, int, str, str]


def found(text: str) -> list[Found]:
    """(line, col, code, message) of every problem in spec text."""
    return [(p.line, p.col, p.code, p.message) for p in compile_text(text, "s.yaml").problems]


def only(text: str) -> Found:
    problems = found(text)
    assert len(problems) == 1, problems
    return problems[0]


# -- a valid spec --------------------------------------------------------------


def test_minimal_spec_is_valid() -> None:
    result = validate(load_text(MINIMAL_SPEC))
    assert result.ok
    assert result.problems == []
    assert result.cluster is not None
    assert list(result.cluster.hosts) == ["mx1"]
    assert result.rules is not None


def test_invalid_spec_has_no_model() -> None:
    result = validate(load_text(with_lines("bogus: 1\n")))
    assert not result.ok
    assert result.cluster is None
    assert result.rules is None


# -- unknown keys (S100) -----------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "needle", "message"),
    [
        (
            "domains:\n  example.org:\n    outbund: encrypt\n",
            "outbund",
            "unknown key 'outbund' in domains.example.org (did you mean 'outbound'?)",
        ),
        (
            "domain:\n  x.com: {}\n",
            "domain:",
            "unknown key 'domain' in the top level (did you mean 'domains'?)",
        ),
        (
            "defaults:\n  tls:\n    server_crt: /a\n",
            "server_crt",
            "unknown key 'server_crt' in defaults.tls (did you mean 'server_cert'?)",
        ),
        (
            "recipients:\n  a@b.com: {require: verify, issuer_tg: X}\n",
            "issuer_tg",
            "unknown key 'issuer_tg' in recipients.a@b.com (did you mean 'issuer_tag'?)",
        ),
        ("defaults:\n  zzzz: 1\n", "zzzz", "unknown key 'zzzz' in defaults"),
    ],
)
def test_unknown_key(extra: str, needle: str, message: str) -> None:
    text = with_lines(extra)
    assert only(text) == (*pos(text, needle), "S100", message)


def test_unknown_key_in_a_host() -> None:
    text = MINIMAL_SPEC + "    adress: 192.0.2.1\n"
    assert only(text) == (
        *pos(text, "adress"),
        "S100",
        "unknown key 'adress' in hosts.mx1 (did you mean 'address'?)",
    )


# -- missing keys, types, choices (S101, S102, S103) ---------------------------


def test_missing_required_key_points_at_the_mapping() -> None:
    text = "version: 1\ncluster: test\nhosts:\n  mx1:\n    address: 192.0.2.1\n"
    assert only(text) == (*pos(text, "address"), "S101", "missing required key 'fqdn' in hosts.mx1")


def test_missing_top_level_key() -> None:
    text = "version: 1\nhosts:\n  mx1: {fqdn: a.example}\n"
    assert only(text) == (1, 1, "S101", "missing required key 'cluster' in the top level")


@pytest.mark.parametrize(
    ("extra", "needle", "message"),
    [
        (
            'domains:\n  example.com:\n    outbound: {require: encrypt, min_bits: "128"}\n',
            '"128"',
            "domains.example.com.outbound.min_bits must be a whole number, not a string",
        ),
        (
            "domains:\n  example.com:\n    outbound: {require: encrypt, min_bits: 1.5}\n",
            "1.5",
            "domains.example.com.outbound.min_bits must be a whole number, not a decimal number",
        ),
        (
            "defaults:\n  smtp_port: '25'\n",
            "'25'",
            "defaults.smtp_port must be a whole number, not a string",
        ),
        (
            "defaults:\n  tls:\n    request_client_cert: 'true'\n",
            "'true'",
            "defaults.tls.request_client_cert must be true or false, not a string",
        ),
        ("domains: [a.com]\n", "[a.com]", "domains must be a mapping, not a list"),
        ("access: Connect:127 RELAY\n", "Connect:127", "access must be a list, not a string"),
        ("access:\n  - 127\n", "127\n", "access.0 must be a string, not a number"),
        ("domains:\n  a.com: ~\n", "~", "domains.a.com must be a mapping, not null"),
        (
            "defaults:\n  tls:\n    dh_params: 2\n",
            "2\n",
            "defaults.tls.dh_params must be a string, not a number",
        ),
    ],
)
def test_wrong_type(extra: str, needle: str, message: str) -> None:
    text = with_lines(extra)
    assert only(text) == (*pos(text, needle), "S102", message)


def test_cluster_name_must_be_a_string() -> None:
    text = "version: 1\ncluster: true\nhosts:\n  mx1: {fqdn: a.example}\n"
    assert only(text) == (*pos(text, "true"), "S102", "cluster must be a string, not a boolean")


@pytest.mark.parametrize(
    ("extra", "needle", "message"),
    [
        (
            "domains:\n  example.org:\n    outbound: {require: verfy}\n",
            "verfy",
            "'verfy' is not a valid value for domains.example.org.outbound.require;"
            " expected 'may', 'encrypt' or 'verify' (did you mean 'verify'?)",
        ),
        (
            "domains:\n  example.org:\n    inbound: {require: verify, on_failure: permanant}\n",
            "permanant",
            "'permanant' is not a valid value for domains.example.org.inbound.on_failure;"
            " expected 'permanent' or 'temporary' (did you mean 'permanent'?)",
        ),
        (
            "defaults:\n  ownership: blok\n",
            "blok",
            "'blok' is not a valid value for defaults.ownership; expected 'file', 'block' or 'tls'"
            " (did you mean 'block'?)",
        ),
    ],
)
def test_wrong_choice(extra: str, needle: str, message: str) -> None:
    text = with_lines(extra)
    assert only(text) == (*pos(text, needle), "S103", message)


def test_wrong_version() -> None:
    text = MINIMAL_SPEC.replace("version: 1", "version: 2")
    assert only(text) == (1, 10, "S103", "2 is not a valid value for version; expected 1")


@pytest.mark.parametrize(
    ("written", "message"),
    [
        # True == 1 and 1.0 == 1 in Python: strict means no type is coerced
        ("true", "version must be the number 1, not a boolean"),
        ("1.0", "version must be the number 1, not a decimal number"),
        ('"1"', "version must be the number 1, not a string"),
    ],
)
def test_version_is_the_number_one_and_nothing_equal_to_it(written: str, message: str) -> None:
    text = MINIMAL_SPEC.replace("version: 1", f"version: {written}")
    assert only(text) == (1, 10, "S102", message)


# -- values (S104) -------------------------------------------------------------


def test_rule_shorthand_with_did_you_mean() -> None:
    text = with_lines("domains:\n  example.net:\n    outbound: verfy\n")
    assert only(text) == (
        *pos(text, "verfy"),
        "S104",
        "domains.example.net.outbound: 'verfy' is not a rule; write may, encrypt, verify or a"
        " mapping (did you mean 'verify'?)",
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ('"bad domain.com"', "a domain name cannot contain a space"),
        ('"x\\ny.com"', "a domain name cannot contain a newline"),
        ('"10.0.0.0/8"', "'10.0.0.0/8': sendmail does not understand CIDR; write the prefix on an"),
        ('"10.0.0."', "'10.0.0.' ends with a dot, which never matches; write '10.0.0'"),
        ('"192.0.2.300"', "'192.0.2.300' has an octet larger than 255"),
        ('"2001:db8::1"', "'2001:db8::1' is an IPv6 address; write 'IPv6:2001:db8::1'"),
        ('".example.com"', "'.example.com' starts with a dot; write 'example.com'"),
    ],
)
def test_bad_domain_key(key: str, message: str) -> None:
    text = with_lines(f"domains:\n  {key}:\n    inbound: encrypt\n")
    line, col, code, got = only(text)
    assert (line, col, code) == (*pos(text, key), "S104")
    assert got.startswith(message)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ('"@example.com"', "'@example.com' has no local part before the '@'"),
        ('"us er@example.com"', "the local part of 'us er@example.com' cannot contain a space"),
        ('"user@bad..dom"', "'bad..dom' is not a valid domain name (bad label '')"),
    ],
)
def test_bad_recipient_key(key: str, message: str) -> None:
    text = with_lines(f"recipients:\n  {key}: encrypt\n")
    assert only(text) == (*pos(text, key), "S104", message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("/etc/mail/tls/`evil.crt", "defaults.tls.server_cert: a path cannot contain a back-tick"),
        ("/etc/mail/tls/it's.crt", "defaults.tls.server_cert: a path cannot contain an apostrophe"),
        (
            '"/etc/mail/tls/a\\u2019b.crt"',
            "defaults.tls.server_cert: a path cannot contain '\u2019'",
        ),
        ('"/etc/mail/tls/a\\nb.crt"', "defaults.tls.server_cert: a path cannot contain a newline"),
        ("/etc/mail/tls/a b.crt", "defaults.tls.server_cert: a path cannot contain a space"),
        (
            "etc/mail/server.crt",
            "defaults.tls.server_cert: 'etc/mail/server.crt' is not an absolute path",
        ),
        (
            "/etc/mail/../server.crt",
            "defaults.tls.server_cert: '/etc/mail/../server.crt' cannot contain",
        ),
        (
            "/etc/mail//server.crt",
            "defaults.tls.server_cert: '/etc/mail//server.crt' has an empty path",
        ),
        ("/etc/mail/$1.crt", "defaults.tls.server_cert: a path cannot contain '$'"),
    ],
)
def test_bad_path(value: str, message: str) -> None:
    text = with_lines(f"defaults:\n  tls:\n    server_cert: {value}\n")
    line, col, code, got = only(text)
    assert (line, col, code) == (*pos(text, value), "S104")
    assert got.startswith(message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("192.0.2.300", "hosts.mx1.address: '192.0.2.300' is not an IP address"),
        ("192.0.2.", "hosts.mx1.address: '192.0.2.' is not an IP address"),
        ("10.0.0.0/8", "hosts.mx1.address: '10.0.0.0/8' is not an IP address"),
    ],
)
def test_bad_host_address(value: str, message: str) -> None:
    text = MINIMAL_SPEC + f"    address: {value}\n"
    assert only(text) == (*pos(text, value), "S104", message)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1d", True),
        ("23h59m60s", True),
        ("1440", True),  # minutes, as sendmail reads a bare number
        ("00000000000000000000001h", True),
        ("1441", False),
        ("1d1s", False),
        ("18446744073709551617s", False),  # 2^64+1: sendmail's time_t would make it 1s
        ("9" * 5000 + "s", False),
    ],
)
def test_tls_timeout_is_at_most_a_day(value: str, ok: bool) -> None:
    text = with_lines(f"defaults:\n  tls:\n    timeout: '{value}'\n")
    if ok:
        assert [p for p in found(text) if p[2] != "S228"] == []  # S228: a bare number
    else:
        assert [p for p in found(text) if p[2] != "S228"] == [
            (
                *pos(text, f"'{value}'"),
                "S104",
                f"defaults.tls.timeout: '{value[:40] + '…' if len(value) > 40 else value}' is"
                " longer than a day (1d), which no STARTTLS handshake takes; sendmail adds the"
                " time up without a bound, so a far larger one comes out as another",
            )
        ]


@pytest.mark.parametrize(
    ("extra", "needle", "message"),
    [
        (
            "defaults:\n  tls:\n    timeout: 2x\n",
            "2x",
            "defaults.tls.timeout: '2x' is not a sendmail time such as 30s, 2m or 1h",
        ),
        (
            "defaults:\n  tls:\n    server_ssl_options: [NO_TLSV1]\n",
            "NO_TLSV1",
            "defaults.tls.server_ssl_options.0: 'NO_TLSV1' is not an SSL option this sendmail"
            " knows; an unknown one stops the daemon from starting"
            " (did you mean 'SSL_OP_NO_TLSv1'?)",
        ),
        (
            "defaults:\n  mc:\n    daemon_options: ['Name=MTA, Addr=`x']\n",
            "'Name",
            "defaults.mc.daemon_options.0: a back-tick cannot stand inside an m4 quote;"
            " tlsc writes every quote itself",
        ),
        (
            "defaults:\n  mc:\n    defines: {confREJECT_MSG: 'go $1 away'}\n",
            "'go",
            "defaults.mc.defines.confREJECT_MSG: '$' followed by a digit, '#', '*' or '@' is an m4"
            " argument reference",
        ),
        (
            "domains:\n  a.com:\n    inbound: {starttls: false, require: encrypt}\n",
            "{starttls",
            "domains.a.com.inbound: starttls: false cannot be combined with a requirement",
        ),
        (
            "domains:\n  a.com:\n    outbound: {cn: true}\n",
            "{cn",
            "domains.a.com.outbound: certificate checks, min_bits and on_failure need require:"
            " encrypt or verify",
        ),
        (
            "issuer_tags:\n  MyCA: [CN=x]\n",
            "CN=x",
            "issuer_tags.MyCA.0: 'CN=x' is not a certificate name in OpenSSL's one-line form"
            " (/C=../O=../CN=..)",
        ),
        (
            "issuer_tags:\n  MyCA: ['/CN=a+20b']\n",
            "'/CN",
            "issuer_tags.MyCA.0: '/CN=a+20b' looks xtext-encoded already; write the name"
            " naturally (tlsc applies sendmail's +XX encoding)",
        ),
        (
            "defaults:\n  smtp_port: 0\n",
            "0\n",
            "defaults.smtp_port: input should be greater than or equal to 1",
        ),
    ],
)
def test_bad_value(extra: str, needle: str, message: str) -> None:
    text = with_lines(extra)
    assert only(text) == (*pos(text, needle), "S104", message)


def test_issuer_tag_cannot_be_an_access_tag() -> None:
    text = with_lines("issuer_tags:\n  TLS_Srv: [/CN=x]\n")
    assert only(text) == (
        *pos(text, "TLS_Srv"),
        "S104",
        "'TLS_Srv' cannot be an issuer tag: use letters, digits, '_' or '-', and not the name"
        " of a sendmail access tag",
    )


# -- no value may carry a newline into a generated file ---------------------------


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ('defaults:\n  tls:\n    timeout: "2m\\n"\n', '"2m'),
        ('defaults:\n  tls:\n    cipher_list: "HIGH\\n"\n', '"HIGH'),
        ('defaults:\n  tls:\n    server_ssl_options: ["0x1\\n"]\n', '"0x1'),
        ('defaults:\n  mc:\n    ostype: "debian\\n"\n', '"debian'),
        ('defaults:\n  mc:\n    defines:\n      "confX\\n": x\n', '"confX'),
        ('defaults:\n  mc:\n    features: ["use_cw_file\\n"]\n', '"use_cw_file'),
        ('domains:\n  "10.0.0.1\\n": {inbound: encrypt}\n', '"10.0.0.1'),
        ('domains:\n  "IPv6:2001:db8\\n": {inbound: encrypt}\n', '"IPv6'),
        ('recipients:\n  "user\\n@example.com": encrypt\n', '"user'),
        ('issuer_tags:\n  "MyCA\\n": [/CN=x]\n', '"MyCA'),
        ('access:\n  - "Connect:127 RELAY\\n"\n', '"Connect'),
    ],
)
def test_trailing_newline_is_refused(extra: str, needle: str) -> None:
    text = with_lines(extra)
    result = compile_text(text, "s.yaml")
    assert result.hosts == {}
    assert [(p.line, p.col) for p in result.problems] == [pos(text, needle)]
    assert result.problems[0].severity == "error"


@pytest.mark.parametrize("brk", ["\\u2028", "\\u2029", "\\x85"])
@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ('defaults:\n  mc:\n    defines: {confREJECT_MSG: "550 go{brk}away"}\n', '"550'),
        ('defaults:\n  mc:\n    features: [{name: greet_pause, args: ["1{brk}0"]}]\n', '"1'),
        ('defaults:\n  mc:\n    daemon_options: ["Port=smtp,{brk}Addr=::1"]\n', '"Port'),
        ("defaults:\n  mc:\n    extra: [\"define(`confX', `a{brk}b')dnl\"]\n", '"define'),
        ('access:\n  - "Connect:10 ERROR:\\"550 a{brk}b\\""\n', '"Connect'),
    ],
)
def test_unicode_line_breaks_are_refused(extra: str, needle: str, brk: str) -> None:
    """U+2028, U+2029 and NEL break a line for editors and str.splitlines(), and an
    editor may offer to "fix" them: no value may write one into a generated file."""
    text = with_lines(extra.replace("{brk}", brk))
    result = compile_text(text, "s.yaml")
    assert result.hosts == {}
    assert [(p.line, p.col) for p in result.problems] == [pos(text, needle)]
    assert result.problems[0].severity == "error"


def test_trailing_newline_in_the_cluster_name() -> None:
    text = MINIMAL_SPEC.replace("cluster: test", 'cluster: "test\\n"')
    assert only(text) == (
        *pos(text, '"test'),
        "S104",
        "cluster: 'test\n' must be a single word of letters, digits, '.', '_' or '-'",
    )


# -- duplicate access keys (S200) ------------------------------------------------


def test_domains_differing_in_case() -> None:
    text = with_lines(
        "domains:\n  Example.com:\n    outbound: encrypt\n  example.com:\n    inbound: encrypt\n"
    )
    first = pos(text, "Example.com")[0]
    assert only(text) == (
        *pos(text, "example.com"),
        "S200",
        f"domains key 'example.com' is the same as 'Example.com' on line {first}"
        " (sendmail folds case and IDNA)",
    )


def test_domains_same_after_idna() -> None:
    text = with_lines(
        "domains:\n  bücher.de: {inbound: encrypt}\n  xn--bcher-kva.de: {outbound: encrypt}\n"
    )
    line, col, code, message = only(text)
    assert (line, col, code) == (*pos(text, "xn--bcher-kva.de"), "S200")
    assert f"is the same as 'bücher.de' on line {pos(text, 'bücher')[0]}" in message


def test_idna_2008_refusal_has_its_place() -> None:
    text = with_lines("domains:\n  xn--zz.example.com: {inbound: encrypt}\n")
    line, col, _code, message = only(text)
    assert (line, col) == pos(text, "xn--zz")
    assert "is not a valid internationalised domain name under IDNA 2008" in message


def test_rule_and_access_entry_writing_the_same_key() -> None:
    text = with_lines(
        "domains:\n  example.net:\n    outbound: encrypt\naccess:\n  - TLS_Srv:Example.NET VERIFY\n"
    )
    access_line = pos(text, "TLS_Srv")[0]
    assert only(text) == (
        *pos(text, "encrypt"),
        "S200",
        f"access key TLS_Srv:example.net is also written by access.0 on line {access_line};"
        " makemap would keep only one",
    )


def test_two_access_entries_folding_to_the_same_key() -> None:
    text = with_lines("access:\n  - Connect:Example.com RELAY\n  - connect:example.COM REJECT\n")
    assert only(text) == (
        *pos(text, "connect:example.COM"),
        "S200",
        f"access key Connect:example.com is also written by access.0 on line"
        f" {pos(text, 'Connect:Example')[0]}; makemap would keep only one",
    )


def test_recipient_and_access_entry_writing_the_same_key() -> None:
    text = with_lines(
        "recipients:\n  user@example.com: encrypt\naccess:\n  - TLS_Rcpt:user@example.com VERIFY\n"
    )
    line, col, code, message = only(text)
    assert (line, col, code) == (*pos(text, "encrypt"), "S200")
    assert message.startswith("access key TLS_Rcpt:user@example.com is also written by access.0")


def test_srv_features_from_a_rule_and_an_entry() -> None:
    text = with_lines(
        "domains:\n  laptop.example.com:\n    inbound: verify\n"
        "access:\n  - Srv_Features:laptop.example.com V\n"
    )
    line, col, code, message = only(text)
    assert (line, col, code) == (*pos(text, "verify"), "S200")
    assert "access key Srv_Features:laptop.example.com is also written by access.0" in message


# -- cross checks (S201-S213) ----------------------------------------------------


def test_undefined_issuer_tag() -> None:
    text = with_lines(
        "domains:\n  a.com:\n    outbound: {require: verify, issuer_tag: MyCa}\n"
        "issuer_tags:\n  MyCA: [/CN=x]\n"
    )
    assert only(text) == (
        *pos(text, "MyCa}"),
        "S201",
        "issuer tag 'MyCa' is not defined in issuer_tags (did you mean 'MyCA'?)",
    )


def test_undefined_issuer_tag_in_a_recipient() -> None:
    text = with_lines("recipients:\n  a@b.com: {require: verify, issuer_tag: Nope}\n")
    assert only(text) == (
        *pos(text, "Nope"),
        "S201",
        "issuer tag 'Nope' is not defined in issuer_tags",
    )


def test_define_owned_by_tls_is_refused_at_its_key() -> None:
    text = with_lines("defaults:\n  mc:\n    defines:\n      confSERVER_CERT: /x\n")
    assert only(text) == (
        *pos(text, "confSERVER_CERT"),
        "S202",
        "confSERVER_CERT is set by tls.server_cert; starttls.m4 is included later and would"
        " override this define",
    )


def test_dane_is_a_tls_setting_not_a_define() -> None:
    text = with_lines("defaults:\n  mc:\n    defines:\n      confDANE: 'true'\n")
    assert only(text) == (
        *pos(text, "confDANE"),
        "S202",
        "confDANE is set by tls.dane; starttls.m4 is included later and would override this define",
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "define(`SMART_HOST', `relay.example.net')define(`confTO_STARTTLS', `5m')dnl",
            "confTO_STARTTLS is set by tls.timeout",
        ),
        ("define(`confCIPHER_LIST', `HIGH')dnl", "confCIPHER_LIST is set by tls.cipher_list"),
        ("undefine(`confCRL')dnl", "confCRL is set by tls.crl"),
        ("define(`TLS', `define(`confCACERT', `/x')')TLS", "confCACERT is set by tls.ca_cert"),
        ("O CipherList=HIGH", "this line writes the sendmail.cf option CipherList itself"),
        ("O ServerCert=/x.crt", "this line writes the sendmail.cf option ServerCertFile itself"),
        (
            "O Timeout.starttls=5m",
            "this line writes the sendmail.cf option Timeout.starttls itself",
        ),
        ("dnl define(`confCIPHER_LIST', `HIGH')", None),
        ("define(`confCIPHER_LISTS', `HIGH')dnl", None),
        ("O AliasFile=/etc/mail/aliases", None),
        ("O  CipherList=HIGH", None),  # sendmail: 'unknown option name  CipherList'
    ],
)
def test_an_extra_line_that_sets_a_tls_option_is_refused(line: str, message: str | None) -> None:
    text = with_lines(f"defaults:\n  mc:\n    extra:\n      - {json.dumps(line)}\n")
    got = [p for p in found(text) if p[2] == "S202"]
    if message is None:
        assert got == []
    else:
        assert [p[:2] for p in got] == [pos(text, json.dumps(line))], got
        assert got[0][3].startswith(f"mc.extra: {message}"), got


@pytest.mark.parametrize(
    ("extra", "needle", "code", "message"),
    [
        (
            "defaults:\n  mc:\n    features: [acess_db]\n",
            "acess_db",
            "S204",
            "sendmail has no FEATURE 'acess_db' (did you mean 'access_db'?)",
        ),
        (
            "defaults:\n  mc:\n    ostype: debain\n",
            "debain",
            "S204",
            "sendmail has no OSTYPE 'debain' (did you mean 'debian'?)",
        ),
        (
            "defaults:\n  mc:\n    mailers: [local, smtpp]\n",
            "smtpp",
            "S204",
            "sendmail has no MAILER 'smtpp' (did you mean 'smtp'?)",
        ),
        (
            "defaults:\n  mc:\n    features: [tls_failures]\n",
            "tls_failures",
            "S205",
            "FEATURE tls_failures: it has been replaced by tls.fallback_to_clear"
            " (confTLS_FALLBACK_TO_CLEAR)",
        ),
        (
            "defaults:\n  mc:\n    features: [use_cw_file, use_cw_file]\n",
            "use_cw_file]",
            "S206",
            "FEATURE use_cw_file is listed twice",
        ),
        (
            "defaults:\n  mc:\n    mailers: [local, smtp, local]\n",
            "local]",
            "S206",
            "MAILER local is listed twice",
        ),
        (
            "defaults:\n  mc:\n    features: [greet_pause, access_db]\n",
            "greet_pause",
            "S207",
            "FEATURE greet_pause reads the access map and must come after access_db",
        ),
        (
            "defaults:\n  mc:\n    features: [access_db, {name: greet_pause, args: ['1s']}]\n",
            "{name: greet",
            "S207",
            "FEATURE greet_pause: the argument is the pause in milliseconds, a whole number"
            " such as 1000, not '1s'",
        ),
        (
            "defaults:\n  mc:\n    features: [{name: delay_checks, args: [strict]}]\n",
            "{name: delay",
            "S207",
            "FEATURE delay_checks: the argument can only be friend or hater, not 'strict'",
        ),
        (
            "defaults:\n  mc:\n    extra: ['# a comment']\n",
            "'# a",
            "S209",
            "mc.extra: a '#' line is live m4 text after cf.m4 is included; write 'dnl #' for a"
            " comment",
        ),
    ],
)
def test_mc_checks_point_at_the_value(extra: str, needle: str, code: str, message: str) -> None:
    text = with_lines(extra)
    assert only(text) == (*pos(text, needle), code, message)


@pytest.mark.parametrize(
    ("line", "refused"),
    [
        # each of these ran a command or wrote a file while m4 built the .cf (as root)
        ("indir(`syscmd', `touch /tmp/x')dnl", "indir() is not allowed"),
        ("builtin(`syscmd', `touch /tmp/x')dnl", "builtin() is not allowed"),
        ("define(`x', `sys'`cmd(`touch /tmp/x')')x`'dnl", "syscmd() is not allowed"),
        ("debugfile(`/etc/passwd')traceon(`define')dnl", "debugfile() is not allowed"),
        ("mkstemp(`/tmp/xXXXXXX')dnl", "mkstemp() is not allowed"),
        ("maketemp(`/tmp/xXXXXXX')dnl", "maketemp() is not allowed"),
        # or would once the builtin is called by another name
        ("define(`x', defn(`esyscmd'))x(`touch /tmp/x')dnl", "esyscmd is not allowed"),
        ("pushdef(`x', defn(`sys'`cmd'))dnl", "syscmd is not allowed"),
        ("define(`q', defn(`changequote'))dnl", "changequote is not allowed"),
    ],
)
def test_extra_refuses_m4_side_effects_also_when_spelled_around(line: str, refused: str) -> None:
    text = with_lines(f'defaults:\n  mc:\n    extra: ["{line}"]\n')
    (_line, _col, code, message) = only(text)
    assert code == "S209"
    assert message.startswith(f"mc.extra: {refused} in mc.extra")


def test_host_mc_problems_are_reported_where_written_and_once() -> None:
    text = (
        "version: 1\ncluster: test\n"
        "defaults:\n  mc:\n    ostype: debain\n"
        "hosts:\n  mx1:\n    fqdn: mx1.example.net\n    mc:\n      mailers: [local, smtpp]\n"
    )
    assert found(text) == [
        (*pos(text, "debain"), "S204", "sendmail has no OSTYPE 'debain' (did you mean 'debian'?)"),
        (*pos(text, "smtpp"), "S204", "sendmail has no MAILER 'smtpp' (did you mean 'smtp'?)"),
    ]


def test_session_features_need_the_feature() -> None:
    text = with_lines("access:\n  - TLS_Srv_Features:example.com CipherList=HIGH\n")
    assert only(text) == (
        *pos(text, "TLS_Srv_Features"),
        "S208",
        "TLS_Srv_Features: entries need FEATURE tls_session_features (missing on host mx1);"
        " without it sendmail ignores them",
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("Conect:127 RELAY", "access.0: unknown access tag 'Conect:' (did you mean 'Connect'?)"),
        ("'Connect:127 RELAY # local'", "access.0: a '#' after the value is not a comment"),
        ("Srv_Features:a.com AS", "access.0: Srv_Features letters must be separated by blanks"),
        ("'Connect:x ERROR:\"550 100% sure\"'", "access.0: write a literal '%' as '%%'"),
    ],
)
def test_bad_access_entry(entry: str, message: str) -> None:
    text = with_lines(f"access:\n  - {entry}\n")
    line, col, code, got = only(text)
    assert (line, col, code) == (*pos(text, entry), "S210")
    assert got.startswith(message)


def test_access_entries_checked_even_when_the_model_fails() -> None:
    text = with_lines("bogus: 1\naccess:\n  - Conect:127 RELAY\n")
    assert [(p[2], p[:2]) for p in found(text)] == [
        ("S100", pos(text, "bogus")),
        ("S210", pos(text, "Conect")),
    ]


def test_paths_that_collide() -> None:
    text = with_lines("defaults:\n  paths:\n    access: /etc/mail/sendmail.mc\n")
    assert only(text) == (
        *pos(text, "/etc/mail/sendmail.mc"),
        "S211",
        "paths.access is the same file as paths.sendmail_mc (/etc/mail/sendmail.mc)",
    )


def test_a_path_that_is_the_directory_of_another() -> None:
    """compile and apply would write a file where a directory must be (or the reverse)."""
    text = with_lines(
        "defaults:\n  paths:\n    access: /etc/mail/tls\n    access_db: /etc/mail/tls.db\n"
    )
    assert only(text) == (
        *pos(text, "/etc/mail/tls\n"),
        "S211",
        "paths.access (/etc/mail/tls) is a directory of paths.starttls_m4"
        " (/etc/mail/tls/starttls.m4); a path cannot be both a file and a directory",
    )


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("  paths:\n    sendmail_mc: /etc/mail/sendmail.mc/\n", "/etc/mail/sendmail.mc/"),
        ("  paths:\n    access: /etc/mail/access/\n", "/etc/mail/access/"),
        ("  tls:\n    server_cert: /etc/mail/tls/server.crt/\n", "/etc/mail/tls/server.crt/"),
        ("  mc:\n    cf_m4: /usr/share/sendmail/cf/m4/cf.m4/\n", "/usr/share/sendmail/cf"),
    ],
)
def test_a_file_path_cannot_end_with_a_slash(extra: str, needle: str) -> None:
    text = with_lines("defaults:\n" + extra)
    line, col, code, message = only(text)
    assert ((line, col), code) == (pos(text, needle), "S104")
    assert message.endswith("names a file, so it cannot end with '/'"), message


def test_a_directory_path_may_end_with_a_slash() -> None:
    assert found(with_lines("defaults:\n  tls:\n    ca_cert_path: /etc/ssl/certs/\n")) == []


def test_two_hosts_with_one_fqdn() -> None:
    text = MINIMAL_SPEC + "  mx2:\n    fqdn: MX1.example.net\n"
    assert only(text) == (
        *pos(text, "MX1.example.net"),
        "S212",
        "host mx2 has the same fqdn as host mx1 (mx1.example.net)",
    )


def test_host_names_differing_in_case() -> None:
    text = MINIMAL_SPEC + "  MX1:\n    fqdn: other.example.net\n"
    assert only(text) == (
        *pos(text, "MX1"),
        "S212",
        "host names mx1 and MX1 differ only in case",
    )


def test_access_db_path_must_end_in_db() -> None:
    text = with_lines("defaults:\n  paths:\n    access_db: /etc/mail/access.map\n")
    assert only(text) == (
        *pos(text, "/etc/mail/access.map"),
        "S213",
        "paths.access_db must end in .db (makemap hash writes NAME.db), not /etc/mail/access.map",
    )


def test_access_db_feature_must_read_the_map_tlsc_builds() -> None:
    text = with_lines(
        "defaults:\n  paths:\n    access_db: /etc/mail/tls-access.db\n"
        "  mc:\n    features: [access_db]\n"
    )
    assert only(text) == (
        *pos(text, "access_db]"),
        "S213",
        "FEATURE access_db reads /etc/mail/access.db but paths.access_db is"
        " /etc/mail/tls-access.db; give the map as its first argument:"
        " 'hash -T<TMPF> /etc/mail/tls-access'",
    )


# -- STARTTLS without a certificate, key or CA (S214) ---------------------------------
#
# sendmail 8.17 with any one of ServerCertFile, ServerKeyFile, CACertFile or CACertPath
# unset starts, logs "STARTTLS: <Option> missing" and leaves STARTTLS out of its EHLO
# reply (tried with the real daemon of tests/sendmail_fixture.py).


@pytest.mark.parametrize(
    ("field", "option"),
    [
        ("server_cert", "ServerCertFile"),
        ("server_key", "ServerKeyFile"),
        ("ca_cert", "CACertFile"),
        ("ca_cert_path", "CACertPath"),
    ],
)
def test_host_with_starttls_needs_cert_key_and_ca(field: str, option: str) -> None:
    text = MINIMAL_SPEC + f"    tls:\n      {field}: null\n"
    assert only(text) == (
        *pos(text, "tls:"),
        "S214",
        f"host mx1 has STARTTLS on but no tls.{field}, so sendmail logs '{option} missing'"
        f" and offers no STARTTLS; set tls.{field}, or tls.enabled: false",
    )


def test_null_in_defaults_is_reported_once_at_the_defaults() -> None:
    text = (
        "version: 1\ncluster: c\n"
        "defaults:\n  tls:\n    ca_cert_path: null\n"
        "hosts:\n"
        "  mx1: {fqdn: mx1.example.net}\n"
        "  mx2: {fqdn: mx2.example.net, tls: {enabled: false}}\n"
        "  mx3: {fqdn: mx3.example.net, tls: {ca_cert_path: /etc/ssl/certs}}\n"
        "  mx4: {fqdn: mx4.example.net, tls: {request_client_cert: true}}\n"
    )
    assert only(text) == (
        *pos(text, "tls:"),
        "S214",
        "hosts mx1 and mx4 have STARTTLS on but no tls.ca_cert_path, so sendmail logs"
        " 'CACertPath missing' and offers no STARTTLS; set tls.ca_cert_path, or"
        " tls.enabled: false",
    )


def test_many_hosts_are_counted_not_listed() -> None:
    hosts = "".join(f"  mx{i}: {{fqdn: mx{i}.example.net}}\n" for i in range(1, 7))
    text = "version: 1\ncluster: c\ndefaults: {tls: {server_key: null}}\nhosts:\n" + hosts
    assert only(text)[3].startswith("hosts mx1, mx2, mx3 and 3 more have STARTTLS on but no")


def test_no_certificate_needed_without_starttls() -> None:
    text = with_lines(
        "defaults:\n  tls:\n    enabled: false\n    server_cert: null\n    server_key: null\n"
        "    ca_cert: null\n    ca_cert_path: null\n"
    )
    assert found(text) == []


def test_host_enabling_starttls_over_null_defaults() -> None:
    text = (
        "version: 1\ncluster: c\n"
        "defaults: {tls: {enabled: false, server_cert: null}}\n"
        "hosts:\n"
        "  mx1: {fqdn: mx1.example.net}\n"
        "  mx2: {fqdn: mx2.example.net, tls: {enabled: true}}\n"
    )
    assert [p[:3] for p in found(text)] == [(*pos(text, "tls:"), "S214")]
    assert found(text)[0][3].startswith("host mx2 has STARTTLS on but no tls.server_cert")


def test_unknown_host_for_compile() -> None:
    loaded = load_text(MINIMAL_SPEC, "s.yaml")
    result = compile_loaded(loaded, ["mx9"])
    assert result.hosts == {}
    assert [(p.line, p.col, p.code, p.message) for p in result.problems] == [
        (*pos(MINIMAL_SPEC, "mx1:"), "S300", "no host named 'mx9' in the spec; hosts are mx1")
    ]


# -- every problem at once ---------------------------------------------------------


def test_three_independent_errors_give_three_problems() -> None:
    text = (
        "version: 1\ncluster: test\n"
        "hosts:\n  mx1:\n    fqdn: mx1.example.net\n    address: 192.0.2.300\n"
        "domains:\n  example.org:\n    outbund: encrypt\n"
        '  example.com:\n    outbound: {require: encrypt, min_bits: "128"}\n'
    )
    assert [p[:3] for p in found(text)] == [
        (*pos(text, "192.0.2.300"), "S104"),
        (*pos(text, "outbund"), "S100"),
        (*pos(text, '"128"'), "S102"),
    ]


def test_problems_are_sorted_by_position() -> None:
    text = with_lines(
        "recipients:\n  '@x.com': encrypt\ndefaults:\n  smtp_port: '25'\ndomains:\n  'a b': {}\n"
    )
    lines = [p[0] for p in found(text)]
    assert lines == sorted(lines)
    assert len(lines) == 3


def test_cross_checks_report_together() -> None:
    text = with_lines(
        "defaults:\n  mc:\n    ostype: debain\n    features: [acess_db]\n"
        "domains:\n  a.com: {outbound: {require: verify, issuer_tag: Nope}}\n"
        "  A.com: {inbound: encrypt}\n"
    )
    assert [p[2] for p in found(text)] == ["S204", "S204", "S201", "S200"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../x", "host name '../x' must start with a letter or digit"),
        ("a b", "host name 'a b' must start with a letter or digit"),
        ("h" * 64, "is longer than 63 characters"),
    ],
)
def test_bad_host_names_get_a_sentence_not_a_regex(name: str, message: str) -> None:
    text = f'version: 1\ncluster: c\nhosts:\n  "{name}": {{fqdn: h1.example.net}}\n'
    problems = compile_text(text, "c.yaml").problems
    assert [(p.line, p.col, p.code) for p in problems] == [(4, 3, "S104")]
    assert message in problems[0].message and "[A-Za-z" not in problems[0].message


# -- every problem at once: the cross-field checks run past model errors -------------------

BROKEN_HOST = """version: 1
cluster: test
hosts:
  mx1:
    fqdn: mx1.example.net
    smtp_port: twenty-five
    mc:
      features: [use_cw_file, use_cw_file]
  mx2:
    fqdn: mx2.example.net
    mc:
      mailers: [local, smtp, local]
domains:
  example.com: {outbound: verify}
  EXAMPLE.com: {outbound: encrypt}
recipients:
  postmaster@example.org: {require: verify, issuer_tag: NoSuchTag}
access:
  - "Connect:192.0.2.1 RELAY"
  - "Connect:192.0.2.1 REJECT"
  - "Bogus:192.0.2.2 RELAY"
"""


def test_a_model_error_does_not_hide_the_cross_field_problems() -> None:
    text = BROKEN_HOST
    codes = {(line, code) for line, _col, code, _msg in found(text)}
    assert codes == {
        (pos(text, "twenty-five")[0], "S102"),
        (pos(text, "local]")[0], "S206"),  # in mx2, which is intact
        (pos(text, "example.com")[0], "S200"),  # TLS_Srv:example.com written twice
        (pos(text, "EXAMPLE.com")[0], "S200"),  # and the keys themselves
        (pos(text, "NoSuchTag")[0], "S201"),
        (pos(text, '"Connect:192.0.2.1 REJECT')[0], "S200"),
        (pos(text, '"Bogus')[0], "S210"),
    }
    # each finding once, though the raw access check and the second pass both see Bogus:
    assert len(found(text)) == len(set(found(text)))


def test_nothing_is_reported_from_a_block_that_lost_a_value() -> None:
    """mx1's duplicate FEATURE is real but mx1 lost smtp_port: its block is not judged yet."""
    lines = [line for line, _c, code, _m in found(BROKEN_HOST) if code == "S206"]
    assert lines == [pos(BROKEN_HOST, "local]")[0]]


def test_broken_defaults_silence_the_hosts_they_merge_into() -> None:
    text = with_lines(
        "defaults:\n  mc:\n    features: [{name: greet_pause, args: 1000}]\n"
    ).replace("fqdn: mx1.example.net", "fqdn: mx1.example.net\n    mc: {mailers: [smtp, smtp]}")
    assert [code for _l, _c, code, _m in found(text)] == ["S102"]


def test_an_issuer_tag_that_lost_a_value_makes_no_access_entry_unknown() -> None:
    """The tag is in the file: only its second name is broken, so the access entry
    naming the tag is fine (the second pass, without the tag, must not say otherwise)."""
    text = with_lines(
        "issuer_tags:\n  CorpCA: ['/CN=Corp CA', 5]\naccess:\n  - 'CorpCA:/CN=x OK'\n"
    )
    assert [code for _l, _c, code, _m in found(text)] == ["S102"]


@pytest.mark.parametrize(
    ("defaults", "host"),
    [
        ("tls: {request_client_cert: 'yes'}", ""),
        ("tls: {}", "tls: {request_client_cert: 1}"),
        ("tls: {request_client_cert: true}", "tls: verify"),
    ],
)
def test_a_broken_request_client_cert_makes_no_duplicate_of_its_own(
    defaults: str, host: str
) -> None:
    """Srv_Features:KEY v is written only for hosts that do not request client
    certificates: with request_client_cert broken (left out: false, or the defaults'
    value) the second pass must not report the user's own Srv_Features entry as
    written twice."""
    text = with_lines(
        f"defaults:\n  {defaults}\n",
        "domains:\n  x.example.com: {inbound: verify}\n",
        "access:\n  - 'Srv_Features:x.example.com v'\n",
    )
    if host:
        text = text.replace("fqdn: mx1.example.net", f"fqdn: mx1.example.net\n    {host}")
    assert [code for _l, _c, code, _m in found(text)] == ["S102"]


# -- S215: a recipient rule toward a domain with STARTTLS turned off ------------------------

NEVER_TLS = "domains:\n  legacy.example.com: {outbound: {starttls: false}}\n"


@pytest.mark.parametrize(
    "recipient", ["ceo@legacy.example.com", "ops@mx.legacy.example.com", "postmaster@"]
)
def test_recipient_rule_where_starttls_is_off_warns(recipient: str) -> None:
    text = with_lines(f"{NEVER_TLS}recipients:\n  {recipient}: encrypt\n")
    result = compile_text(text, "s.yaml")
    assert result.ok  # a warning: the spec still compiles
    (problem,) = result.problems
    assert (problem.line, problem.col) == pos(text, recipient)
    assert (problem.code, problem.severity) == ("S215", "warning")
    assert problem.message == (
        f"recipients key '{recipient}' requires encrypt but domains.legacy.example.com turns"
        " STARTTLS off (Try_TLS NO), so sendmail bounces such mail for good instead of"
        " deferring it"
    )


@pytest.mark.parametrize(
    ("domains", "warned"),
    [
        (NEVER_TLS, []),  # other domains
        ("domains:\n  legacy.example.com: {outbound: encrypt}\n", []),  # TLS on: it defers
        ("domains:\n  example.com: {outbound: {starttls: false}}\n", ["example.com: verify"]),
    ],
)
def test_only_recipients_under_a_domain_without_starttls_warn(
    domains: str, warned: list[str]
) -> None:
    text = with_lines(f"{domains}recipients:\n  ceo@example.org: encrypt\n  example.com: verify\n")
    problems = compile_text(text, "s.yaml").problems
    assert [(p.code, p.line) for p in problems] == [("S215", pos(text, w)[0]) for w in warned]


def _leaves(data: Any, loc: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        return [leaf for k, v in data.items() for leaf in _leaves(v, (*loc, k))]
    if isinstance(data, list):
        return [leaf for i, v in enumerate(data) for leaf in _leaves(v, (*loc, i))]
    return [loc]


def _large_example() -> dict[str, Any]:
    from realtools import EXAMPLES

    from compiler.spec.loader import load_file

    return load_file(next(p for p in EXAMPLES if p.stem == "large-cluster")).data


LARGE = _large_example()


@pytest.mark.parametrize("leaf", _leaves(LARGE), ids=lambda loc: ".".join(map(str, loc)))
def test_a_broken_value_brings_no_second_pass_error_of_its_own(leaf: tuple[Any, ...]) -> None:
    """The example is valid; break one value and only the models may complain about it."""
    data = copy.deepcopy(LARGE)
    parent = data
    for part in leaf[:-1]:
        parent = parent[part]
    parent[leaf[-1]] = [[{"not": "a value"}]]
    problems = compile_dict(data).problems
    errors = [(p.code, p.message) for p in problems if p.severity == "error"]
    assert errors, "the broken value was accepted"
    assert all(code in ("S100", "S101", "S102", "S103", "S104") for code, _m in errors), errors


# -- S216: compressed IPv6 comparison while tlsc writes full IPv6 keys -----------------------


@pytest.mark.parametrize("value", ["True", "yes", "", "t"])
def test_compressed_ipv6_option_with_ipv6_keys_is_refused(value: str) -> None:
    text = with_lines(
        f'defaults:\n  mc:\n    defines: {{confUSE_COMPRESSED_IPV6_ADDRESSES: "{value}"}}\n'
        'domains:\n  "IPv6:2001:db8::1": {inbound: encrypt}\n'
    )
    line, _col, code, message = only(text)
    assert (line, code) == (pos(text, "confUSE")[0], "S216")
    assert message == (
        "confUSE_COMPRESSED_IPV6_ADDRESSES makes sendmail compare IPv6 addresses compressed"
        " (IPv6:::1) on host mx1, but tlsc writes IPv6 keys in full"
        " (TLS_Clt:IPv6:2001:db8:0:0:0:0:0:1, from domains.IPv6:2001:db8::1.inbound), so they"
        " would never match; remove the define"
    )


@pytest.mark.parametrize(
    ("value", "keys"),
    [
        ("False", 'domains:\n  "IPv6:2001:db8::1": {inbound: encrypt}\n'),
        ("True", "access:\n  - Connect:127 OK\n"),
    ],
)
def test_compressed_ipv6_option_off_or_without_ipv6_keys_is_fine(value: str, keys: str) -> None:
    text = with_lines(
        f'defaults:\n  mc:\n    defines: {{confUSE_COMPRESSED_IPV6_ADDRESSES: "{value}"}}\n{keys}'
    )
    assert found(text) == []


@pytest.mark.parametrize(
    "arg",
    ["hash -T<TMPF> -o /etc/mail/access.db", "hash -o /etc/mail/access", "hash /etc/mail/access"],
)
def test_access_db_feature_naming_the_map_with_or_without_db_is_the_same_map(arg: str) -> None:
    # sendmail (map.c db_map_open) and makemap add .db only to a name not ending in .db
    text = with_lines(f"defaults:\n  mc:\n    features: [{{name: access_db, args: ['{arg}']}}]\n")
    assert found(text) == []


_LABELS = st.sampled_from(["a", "b", "c", "192", "0", "2"])
_NAMES = st.lists(_LABELS, min_size=0, max_size=3).map(".".join)


@settings(max_examples=400, deadline=None)
@given(st.lists(_NAMES, max_size=6, unique=True), _NAMES)
def test_first_parent_is_the_first_matching_peer(peers: list[str], domain: str) -> None:
    """S215's lookup by suffixes finds what trying each peer in order finds."""
    from compiler.spec.validate import _first_parent

    order = {p: n for n, p in enumerate(peers)}
    want = next(
        (p for p in peers if not (domain and p and domain != p and not domain.endswith("." + p))),
        None,
    )
    if domain:
        assert _first_parent(domain, order) == want


# -- keys that look like pydantic's own loc parts ---------------------------------------

#: keys with brackets (an address literal, a typo, a user@ part): pydantic writes its
#: internal loc parts like `function-after[...]` and `list[str]`; a key is not one of them
BRACKETED = ["[192.0.2.1]", "[x", "x]", "a[b]", "[key]", "function-after[x]"]


@pytest.mark.parametrize("key", BRACKETED)
def test_a_bracketed_top_level_key_is_an_unknown_key_at_its_line(key: str) -> None:
    text = with_lines(f'"{key}": 1\n')
    assert only(text) == (*pos(text, f'"{key}"'), "S100", f"unknown key '{key}' in the top level")


@pytest.mark.parametrize("key", BRACKETED)
def test_a_problem_under_a_bracketed_domain_key_is_found_where_it_is(key: str) -> None:
    text = with_lines(f'domains:\n  "{key}":\n    outbound: {{rquire: verify}}\n')
    problems = found(text)
    line, col = pos(text, "rquire")
    assert (line, col, "S100") in [(p[0], p[1], p[2]) for p in problems], problems
    assert any(f"in domains.{key}.outbound" in p[3] for p in problems), problems


@pytest.mark.parametrize("key", ["[192.0.2.1]", "a[b", "x]"])
def test_a_wrong_value_under_a_bracketed_host_name_is_found_where_it_is(key: str) -> None:
    text = with_lines(f'  "{key}":\n    fqdn: 7\n')
    problems = found(text)
    line, col = pos(text, "7", 1 + MINIMAL_SPEC.count("7"))
    assert any((p[0], p[1]) == (line, col) and f"hosts.{key}.fqdn" in p[3] for p in problems), (
        problems
    )


_KEY_TEXT = st.text(alphabet=st.sampled_from("ab.[]@-:_ 1"), min_size=1, max_size=8)
_PLACES = ["", "domains:\n  ", "recipients:\n  ", "  "]  # "  ": under hosts:


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_PLACES), _KEY_TEXT, st.sampled_from(["1", "{x: 1}", "{require: no}", "[]"]))
def test_any_key_anywhere_gives_problems_not_a_crash(place: str, key: str, value: str) -> None:
    quoted = '"' + key + '"'
    text = with_lines(place + f"{quoted}: {value}\n")
    for line, col, code, message in found(text):  # every problem placed in the text
        assert 1 <= line <= text.count("\n") + 1 and col >= 1, (line, col, code, message)
        assert code.startswith("S"), message


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ("domains:\n  ex\u0430mple.com: {outbound: encrypt}\n", "ex\u0430mple.com"),
        ("recipients:\n  bob@ex\u0430mple.com: encrypt\n", "bob@"),
        ("domains:\n  a.example:\n    outbound: {require: verify, cn: mx.ex\u0430mple.com}\n",
         "mx.ex"),
        ("access:\n  - TLS_Srv:ex\u0430mple.com ENCR:128\n", "TLS_Srv"),
    ],
)  # fmt: skip
def test_a_name_mixing_lookalike_scripts_is_refused_where_it_is_written(
    section: str, needle: str
) -> None:
    """The reviewer reads example.com; the access key would be xn--exmple-4nf.com."""
    text = with_lines(section)
    line, col, code, message = only(text)
    assert (line, col, code) == (*pos(text, needle), "S104" if "access" not in section else "S210")
    assert "mixes Latin and Cyrillic letters in the label 'ex\u0430mple'" in message


@pytest.mark.parametrize("word", [".inf", "-.inf", "+.INF", ".nan", ".NaN", "1.5", "1e3"])
def test_a_yaml_float_is_no_define_text(word: str) -> None:
    """YAML's .inf and .nan are floats to every YAML reader (PyYAML, Ansible's): taken as
    text, `.inf` would be `MaxMessageSize=.inf`, which sendmail reads as 0, no limit."""
    text = with_lines(f"defaults:\n  mc:\n    defines:\n      confMAX_MESSAGE_SIZE: {word}\n")
    assert only(text) == (
        *pos(text, word),
        "S102",
        "defaults.mc.defines.confMAX_MESSAGE_SIZE must be a string, not a decimal number",
    )
    assert found(text.replace(word, f"'{word}'")) == []


_REST = (
    "hosts:\n  mx1: {fqdn: mx1.example.org, mc: {features: [nosuchfeature]}}\n"
    "access:\n  - Connect:1.2.3.4 RELAY\n  - Connect:1.2.3.4 REJECT\n"
    "domains:\n  a.example: {outbound: {require: verify, issuer_tag: Nope}}\n"
)


@pytest.mark.parametrize(
    ("head", "first"),
    [
        ("version: 1\ncluster: 'bad cluster'\n", "S104"),
        ("version: 2\ncluster: c\n", "S103"),
        ("cluster: c\n", "S101"),  # version missing
        ("version: 1\n", "S101"),  # cluster missing
        ("version: 1\ncluster: c\ndefaults:\n  tls: {timeout: 30x}\n", "S104"),
        ("version: 1\ncluster: c\ndefaults:\n  mc: {ostype: 'a b'}\n", "S104"),
    ],
)
def test_a_refused_top_value_or_default_hides_no_other_problem(head: str, first: str) -> None:
    """Every problem at once: the checks of the whole spec run on the rest of it."""
    codes = [code for _, _, code, _ in found(head + _REST)]
    assert codes.count(first) == 1, codes
    assert "S204" in codes, codes  # the host's own FEATURE, whatever the defaults
    if "defaults" not in head:
        assert {"S200", "S201"} <= set(codes), codes
    # and without the first problem, exactly these others
    fixed = "version: 1\ncluster: c\n" + _REST
    assert sorted(set(codes) - {first}) == sorted({c for _, _, c, _ in found(fixed)})


def test_a_rule_a_host_without_starttls_cannot_meet_is_a_warning() -> None:
    """STARTTLS off: the server offers none (inbound encrypt/verify refuse the client's
    mail) and no CA file checks a server (outbound and recipient verify defer all such
    mail: `454 4.7.0 authentication failed`, seen with a real sendmail); outbound
    encrypt still holds. One warning a rule, naming the hosts."""
    text = (
        "version: 1\ncluster: c\ndefaults:\n  tls: {enabled: false}\nhosts:\n"
        "  mx1: {fqdn: mx1.example.net}\n  mx2: {fqdn: mx2.example.net}\n"
        "  mx3: {fqdn: mx3.example.net, tls: {enabled: true}}\n"
        "domains:\n  bank.example: {outbound: verify}\n  enc.example: {outbound: encrypt}\n"
        "  laptop.example: {inbound: encrypt}\n  may.example: {inbound: may}\n"
        "recipients:\n  ceo@bank.example: verify\n  cfo@bank.example: encrypt\n"
    )
    got = [(line, col, message) for line, col, code, message in found(text) if code == "S229"]
    hosts = "host(s) mx1, mx2 (tls.enabled: false)"
    assert got == [
        (*pos(text, "verify}"), f"this rule requires verify, but STARTTLS is off on {hosts}:"
         " sendmail has no CA file to check the server's certificate with, so it defers all"
         " such mail (454 4.7.0 authentication failed)"),
        (*pos(text, "encrypt}\n  may"), f"this rule requires encrypt, but STARTTLS is off on"
         f" {hosts}: sendmail offers no STARTTLS, so it refuses such clients' mail (encryption"
         " too weak)"),
        (*pos(text, "verify\n  cfo"), f"this rule requires verify, but STARTTLS is off on"
         f" {hosts}: sendmail has no CA file to check the server's certificate with, so it"
         " defers all such mail (454 4.7.0 authentication failed)"),
    ]  # fmt: skip
    assert [c for _, _, c, _ in found(text.replace("enabled: false", "enabled: true"))] == []


@pytest.mark.parametrize("digits", [35, 4301, 5000])
@pytest.mark.parametrize("where", ["version", "smtp_port"])
def test_a_number_too_large_to_read_is_said_so(digits: int, where: str) -> None:
    number = "9" * digits
    if where == "version":
        text = MINIMAL_SPEC.replace("version: 1", f"version: {number}")
        expected = "version must be the number 1"
    else:
        text = MINIMAL_SPEC + f"    smtp_port: {number}\n"
        expected = "hosts.mx1.smtp_port must be a whole number"
    problems = [p for p in found(text) if p[2] in ("S102", "S104")]
    if where == "smtp_port" and digits == 35:  # read: a number over the range
        assert problems and problems[0][2] == "S104" and "65535" in problems[0][3], problems
        return
    assert problems == [
        (
            *pos(text, number),
            "S102",
            f"{expected}, not a number of {digits} digits, too large to read",
        )
    ], problems
