"""The release a host runs (`sendmail: 8.17|8.18`): validation, files and lint follow it."""

from __future__ import annotations

import pytest
from conftest import pos

from compiler.compile import compile_text
from compiler.lint.engine import LintContext, lint_text
from compiler.sendmail.releases import binary_satisfies, is_release, release_of

SPEC = """\
version: 1
cluster: test
defaults:
  sendmail: "{release}"
  tls:
    dane: {dane}
    min_protocol: {floor}
  mc:
    features: [{features}]
hosts:
  mx1:
    fqdn: mx1.example.net
  mx2:
    fqdn: mx2.example.net
    sendmail: "{mx2}"
domains:
  bank.example:
    outbound: {rule}
"""


def spec(
    release: str = "8.18",
    dane: str = "true",
    floor: str = "null",
    features: str = "tls_session_features",
    mx2: str = "8.18.1",
    rule: str = "{dane: false}",
) -> str:
    return SPEC.format(
        release=release, dane=dane, floor=floor, features=features, mx2=mx2, rule=rule
    )


def value_pos(text: str, needle: str, value: str) -> tuple[int, int]:
    """Where `value` stands in the first `needle` of `text` (problems point at values)."""
    line, col = pos(text, needle)
    return line, col + needle.index(value)


def problems(text: str) -> list[tuple[int, int, str, str, str]]:
    return [
        (p.line, p.col, p.code, p.severity, p.message)
        for p in compile_text(text, "s.yaml").problems
    ]


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("8.17", True),
        ("8.18", True),
        ("8.18.1", True),
        ("8.17.1.9", True),
        ("8.16", False),
        ("8.18.1.2.3", False),
        ("8.19", False),
        ("v8.18", False),
        ("8.18.", False),
    ],
)
def test_release_names(text: str, ok: bool) -> None:
    assert is_release(text) is ok


def test_release_facts() -> None:
    assert release_of("8.18.1").dane and not release_of("8.17.1.9").dane
    assert "DANE_FAIL" in release_of("8.18").verify_values
    assert "TRUSTED" not in release_of("8.17").verify_values
    assert release_of("8.17").refused_define("confDANE") is not None
    assert release_of("8.18").refused_define("confDANE") is None


@pytest.mark.parametrize(
    ("target", "version", "ok"),
    [
        ("8.18", "8.18.1", True),
        ("8.18.1", "8.18.1", True),
        ("8.18.2", "8.18.1", False),
        ("8.18", "8.17.1.9", False),
        ("8.17", "8.17.1.9", True),
        ("8.1", "8.17.1.9", False),  # whole numbers, not a text prefix
    ],
)
def test_binary_satisfies(target: str, version: str, ok: bool) -> None:
    assert binary_satisfies(target, version) is ok


def test_a_valid_818_spec_writes_dane_and_the_rule() -> None:
    result = compile_text(spec(), "s.yaml")
    assert result.ok, result.problems
    m4 = result.hosts["mx1"]["/etc/mail/tls/starttls.m4"]
    assert "define(`confDANE', ``true'')dnl\n" in m4
    access = result.hosts["mx2"]["/etc/mail/access"]
    assert "\nTLS_Clt_Features:bank.example\tFlags=d\n" in access
    assert "TLS_Srv:bank.example" not in access  # dane: false alone asks for no TLS level


def test_unknown_release_is_one_sentence_at_its_value() -> None:
    text = spec(mx2="8.16")
    assert problems(text) == [
        (
            *pos(text, '"8.16"'),
            "S104",
            "error",
            "hosts.mx2.sendmail: '8.16' is not a sendmail release tlsc knows; use 8.17"
            " (Debian 12) or 8.18 (Debian 13), optionally with the patch level (8.18.1)",
        )
    ]


def test_dane_on_817_is_refused_where_it_is_written() -> None:
    text = spec(release="8.17", mx2="8.18")
    found = problems(text)
    assert (
        *value_pos(text, "dane: true", "true"),
        "S220",
        "error",
        "host mx1 runs sendmail 8.17 (Debian 12), which is built without DANE and refuses to"
        " start with confDANE; set sendmail: 8.18 for DANE, or tls.dane: false",
    ) in found
    # and the per-server opt-out on that host
    assert (
        *value_pos(text, "{dane: false}", "false"),
        "S222",
        "error",
        "dane: false writes TLS_Clt_Features Flags=d, which host mx1's sendmail 8.17 (built"
        " without DANE) does not know; it needs sendmail: 8.18",
    ) in found
    assert len(found) == 2, found


def test_dane_rule_needs_session_features_and_dane_on() -> None:
    text = spec(features="")
    assert [(c, s) for _l, _c, c, s, _m in problems(text)] == [("S208", "error")]
    text = spec(dane="false")
    assert problems(text) == [
        (
            *value_pos(text, "{dane: false}", "false"),
            "S222",
            "warning",
            "dane: false does nothing on host mx1: its tls.dane is off",
        )
    ]


def test_dane_is_outbound_only() -> None:
    text = spec().replace("outbound: {dane: false}", "inbound: {dane: false}")
    ((_line, _col, code, severity, message),) = problems(text)
    assert (code, severity) == ("S104", "error")
    assert "dane: is for outbound rules" in message


def test_fips3_is_an_818_feature() -> None:
    text = spec(dane="false", features="tls_session_features, fips3", mx2="8.17")
    found = [p for p in problems(text) if p[2] != "S222"]
    assert found == [
        (
            *pos(text, "fips3"),
            "S221",
            "error",
            "FEATURE fips3 came with sendmail 8.18; host mx2 runs 8.17",
        )
    ]


@pytest.mark.parametrize(
    ("floor", "options"),
    [
        ("TLSv1.2", "+SSL_OP_NO_SSLv3 +SSL_OP_NO_TLSv1 +SSL_OP_NO_TLSv1_1"),
        ("TLSv1.3", "+SSL_OP_NO_SSLv3 +SSL_OP_NO_TLSv1 +SSL_OP_NO_TLSv1_1 +SSL_OP_NO_TLSv1_2"),
        ("TLSv1", "+SSL_OP_NO_SSLv3"),
    ],
)
def test_protocol_floor_options(floor: str, options: str) -> None:
    text = spec(release="8.17", dane="false", floor=floor, mx2="8.17", rule="encrypt").replace(
        "  mc:", "    server_ssl_options: [-SSL_OP_NO_TLSv1]\n  mc:"
    )
    result = compile_text(text, "s.yaml")
    m4 = result.hosts["mx1"]["/etc/mail/tls/starttls.m4"]
    # the floor comes after the host's own options, so it wins
    assert f"define(`confSERVER_SSL_OPTIONS', ``-SSL_OP_NO_TLSv1 {options}'')dnl\n" in m4
    assert f"define(`confCLIENT_SSL_OPTIONS', ``{options}'')dnl\n" in m4


def test_bad_protocol_floor() -> None:
    text = spec(floor="TLSv1.4")
    ((_line, _col, code, _severity, message),) = problems(text)
    assert code == "S103" and "min_protocol" in message and "TLSv1.3" in message


@pytest.mark.parametrize(("release", "refused"), [("8.17", True), ("8.18", False)])
def test_lint_follows_the_release(release: str, refused: bool) -> None:
    text = "define(`confDANE', `true')dnl\n"
    report = lint_text(text, "sendmail.mc", "mc", LintContext(release=release))
    codes = [f.code for f in report.findings if f.code == "M4006"]
    assert codes == (["M4006"] if refused else [])


def test_openssl_cnf_is_a_warning() -> None:
    text = spec(dane="false").replace(
        "  mc:\n", "  mc:\n    defines: {confOPENSSL_CNF: /etc/mail/x.ossl}\n"
    )
    found = [p for p in problems(text) if p[2] == "S223"]
    assert found == [
        (
            *pos(text, "confOPENSSL_CNF"),
            "S223",
            "warning",
            "confOPENSSL_CNF: Debian's sendmail binary is setgid smmsp and OpenSSL reads no"
            " OPENSSL_CONF in a setgid process, so the file it names is ignored (8.17 has no"
            " confOPENSSL_CNF at all); for a protocol floor set tls.min_protocol",
        )
    ]


@pytest.mark.parametrize(
    ("mx1", "mx2", "refused"), [("8.17", "8.18.1", ["mx1"]), ("8.18", "8.18", [])]
)
def test_a_keyed_clt_features_line_follows_the_release(
    mx1: str, mx2: str, refused: list[str]
) -> None:
    """cf/README's `Clt_Features:broken.sts M` (no MTA-STS with that server): 8.18's
    clt_features looks it up by the server, 8.17's by the inbound client's name, so
    only an 8.17 host warns of it (every spec refused it, and import lost the line)."""
    text = (
        spec(release=mx1, dane="false", mx2=mx2, rule="encrypt")
        + "access:\n  - 'Clt_Features:broken.sts M'\n"
    )
    problems = compile_text(text, "s.yaml").problems
    assert [(p.code, p.message.split("host ")[1].split("'")[0]) for p in problems] == [
        ("S210", name) for name in refused
    ]
    assert all(p.message.startswith("a keyed Clt_Features: line is looked up by") for p in problems)
    assert all(p.severity == "warning" for p in problems)
