"""tls.mta_sts: what tlsc writes, what it refuses, and what m4 and sendmail make of it.

The FEATURE line goes into starttls.m4 (included after the .mc's FEATUREs and
before its MAILERs) and always names the resolver's socket: FEATURE(`sts')
alone asks inet:5461@127.0.0.1, where postfix-mta-sts-resolver (default
8461) does not listen. The .cf is built with the real m4 and both releases'
cf trees, and each release's sendmail, in test mode, asks the test socketmap
server (sts_socketmap.py) through the map the .cf defines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import pos
from import_helpers import PLAIN_MC, imported, messages, recompiled, tree
from realtools import (
    SYSTEM_SENDMAIL,
    SendmailRelease,
    compile_dict,
    m4_build,
    render,
    scratch_dir,
    sendmail_818,
    sendmail_bt,
    spec,
)
from sts_socketmap import Policy, StsSocketmap, answer, filter_domain

from compiler.compile import compile_text
from compiler.sendmail.releases import RELEASES, STS_TAG_RELEASE

ST = "/etc/mail/tls/starttls.m4"
MC = "/etc/mail/sendmail.mc"
DEFAULT_LINE = "FEATURE(`sts', ``socket -d5 -T<TMPF> inet:8461@127.0.0.1'')dnl"


def problems(text: str) -> list[tuple[int, int, str, str, str]]:
    return [
        (p.line, p.col, p.code, p.severity, p.message)
        for p in compile_text(text, "s.yaml").problems
    ]


def starttls(tls: dict[str, Any], **host: Any) -> str:
    return render(spec(defaults={"tls": tls}, hosts={"h1": {"fqdn": "h1.example.net", **host}}))[ST]


# -- what tlsc writes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "line"),
    [
        (True, DEFAULT_LINE),
        ({}, DEFAULT_LINE),
        ({"socket": "inet:8461@127.0.0.1"}, DEFAULT_LINE),
        (
            {"socket": "local:/var/run/mta-sts/mta-sts.sock"},
            "FEATURE(`sts', ``socket -d5 -T<TMPF> local:/var/run/mta-sts/mta-sts.sock'')dnl",
        ),
        (
            {"socket": "inet6:8461@::1"},
            "FEATURE(`sts', ``socket -d5 -T<TMPF> inet6:8461@::1'')dnl",
        ),
        (
            {"socket": "inet:9000@resolver.example.net"},
            "FEATURE(`sts', ``socket -d5 -T<TMPF> inet:9000@resolver.example.net'')dnl",
        ),
    ],
)
def test_the_feature_line_always_names_the_socket(value: Any, line: str) -> None:
    text = starttls({"mta_sts": value})
    assert [x for x in text.splitlines() if "sts" in x.lower() and "FEATURE" in x] == [line]


@pytest.mark.parametrize("value", [False, None])
def test_off_writes_nothing(value: Any) -> None:
    assert "FEATURE" not in starttls({"mta_sts": value})
    assert "FEATURE" not in starttls({})


def test_hosts_merge_over_the_defaults() -> None:
    data = spec(
        defaults={"tls": {"mta_sts": {"socket": "inet:9000@127.0.0.1"}}},
        hosts={
            "h1": {"fqdn": "h1.example.net"},
            "h2": {"fqdn": "h2.example.net", "tls": {"mta_sts": False}},
            "h3": {"fqdn": "h3.example.net", "tls": {"mta_sts": True}},
            "h4": {"fqdn": "h4.example.net", "tls": {"mta_sts": {"socket": "local:/run/s"}}},
        },
    )
    result = compile_dict(data)
    assert result.ok, result.problems
    lines = {
        host: [x for x in files[ST].splitlines() if x.startswith("FEATURE(")]
        for host, files in result.hosts.items()
    }
    assert lines == {
        "h1": ["FEATURE(`sts', ``socket -d5 -T<TMPF> inet:9000@127.0.0.1'')dnl"],
        "h2": [],
        # true keeps the defaults' socket (a mapping merged over a mapping)
        "h3": ["FEATURE(`sts', ``socket -d5 -T<TMPF> inet:9000@127.0.0.1'')dnl"],
        "h4": ["FEATURE(`sts', ``socket -d5 -T<TMPF> local:/run/s'')dnl"],
    }
    # the .mc is untouched: the FEATURE lives in starttls.m4
    assert "sts" not in result.hosts["h1"][MC].replace("starttls", "")


def test_the_release_facts() -> None:
    """Both releases have MTA-STS; neither reads the per-domain STS: access tag."""
    assert all(r.mta_sts for r in RELEASES.values())
    assert not any(r.sts_tag for r in RELEASES.values())
    assert STS_TAG_RELEASE == "8.18.2"


# -- what tlsc refuses -----------------------------------------------------------------

SPEC = """\
version: 1
cluster: t
defaults:
  tls:
    mta_sts: {value}
hosts:
  mx1:
    fqdn: mx1.example.net
"""


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "{socket: 'inet:5461'}",
            "'inet:5461' needs a port from 1 to 65535 and a host: inet:PORT@HOST",
        ),
        (
            "{socket: 'inet:0@127.0.0.1'}",
            "'inet:0@127.0.0.1' needs a port from 1 to 65535 and a host: inet:PORT@HOST",
        ),
        (
            "{socket: 'inet:70000@127.0.0.1'}",
            "'inet:70000@127.0.0.1' needs a port from 1 to 65535 and a host: inet:PORT@HOST",
        ),
        (
            "{socket: '127.0.0.1:8461'}",
            "'127.0.0.1:8461' is not a socket map address; write inet:PORT@HOST"
            " (inet:8461@127.0.0.1, postfix-mta-sts-resolver's default), inet6:PORT@ADDRESS"
            " or local:/PATH",
        ),
        (
            "{socket: 'inet6:8461@127.0.0.1'}",
            "'127.0.0.1' in inet6: is not an IPv6 address",
        ),
        (
            "{socket: 'inet:8461@bad host'}",
            "'bad host' in inet: is not an IPv4 address or a host name",
        ),
        # a number to the resolver (glibc's inet_aton), which reads it otherwise than it looks
        *(
            (
                f"{{socket: 'inet:8461@{host}'}}",
                f"'{host}' in inet: is not an IPv4 address in dotted-quad form (like"
                f" 127.0.0.1); sendmail's resolver reads it as {read}",
            )
            for host, read in (
                ("127.000.000.010", "127.0.0.8"),
                ("1.2.3", "1.2.0.3"),
                ("0x7f.1", "127.0.0.1"),
                ("2130706433", "127.0.0.1"),
                ("256.0.0.1", "no address at all"),
            )
        ),
        ("{socket: 'local:run/sts.sock'}", "'run/sts.sock' is not an absolute path"),
        ("{socket: 'local:/run/`x'}", "a path cannot contain a back-tick"),
    ],
)
def test_bad_sockets_are_one_sentence_at_the_value(value: str, message: str) -> None:
    text = SPEC.format(value=value)
    ((line, col, code, severity, got),) = problems(text)
    assert (code, severity) == ("S104", "error")
    assert got == f"defaults.tls.mta_sts.socket: {message}"
    assert (line, col) == pos(text, value.split(": ", 1)[1].rstrip("}"))


def test_a_word_is_not_a_setting() -> None:
    text = SPEC.format(value="8461")
    assert problems(text) == [
        (
            *pos(text, "8461"),
            "S104",
            "error",
            "defaults.tls.mta_sts: write true, false or {socket: ADDRESS}",
        )
    ]


def test_unknown_key_in_the_mapping() -> None:
    text = SPEC.format(value="{port: 8461}")
    ((_l, _c, code, _s, message),) = problems(text)
    assert code == "S100" and "unknown key 'port' in defaults.tls.mta_sts" in message


TRAP = (
    "FEATURE sts is written by tls.mta_sts, which always names the resolver's socket:"
    " FEATURE(`sts') without one asks inet:5461@127.0.0.1, where postfix-mta-sts-resolver"
    " does not listen (its default is inet:8461@127.0.0.1), and sendmail then defers every"
    " recipient with '450 STS lookup temp fail'; remove it and set tls.mta_sts: true (or"
    " {socket: ADDRESS})"
)


@pytest.mark.parametrize(
    "features", ["[sts]", "[{name: sts, args: ['socket -d5 -T<TMPF> inet:8461@127.0.0.1']}]"]
)
def test_feature_sts_by_hand_is_refused(features: str) -> None:
    text = SPEC.format(value="true").replace("hosts:", f"  mc:\n    features: {features}\nhosts:")
    assert problems(text) == [(*pos(text, features[1:]), "S224", "error", TRAP)]


def test_feature_sts_in_mc_extra_is_refused() -> None:
    text = SPEC.format(value="true").replace(
        "hosts:", '  mc:\n    extra: ["FEATURE(`sts\')dnl"]\nhosts:'
    )
    assert problems(text) == [(*pos(text, '"FEATURE'), "S224", "error", f"mc.extra: {TRAP}")]


def test_mta_sts_without_starttls_is_a_warning() -> None:
    text = SPEC.format(value="true").replace("  tls:\n", "  tls:\n    enabled: false\n")
    assert problems(text) == [
        (
            *pos(text, "true"),
            "S225",
            "warning",
            "tls.mta_sts does nothing for host mx1: STARTTLS is off (tls.enabled: false), so"
            " no starttls.m4 carries FEATURE(`sts') and MTA-STS needs TLS anyway; set"
            " tls.enabled: true, or remove tls.mta_sts",
        )
    ]


def test_no_per_domain_opt_out_the_releases_would_ignore() -> None:
    """sendmail 8.18.2 reads `STS:domain NO`; 8.17.1.9 and 8.18.1 do not, so tlsc has no
    per-domain opt-out and refuses the tag, naming the release that has it."""
    text = (
        SPEC.format(value="true")
        + "domains:\n  example.com:\n    outbound: {mta_sts: false}\n"
        + "access:\n  - 'STS:example.com NO'\n"
    )
    assert problems(text) == [
        (
            *pos(text, "mta_sts: false"),
            "S100",
            "error",
            "unknown key 'mta_sts' in domains.example.com.outbound: a per-domain MTA-STS"
            " opt-out (the access tag STS:DOMAIN NO) came with sendmail 8.18.2, and neither"
            " 8.17.1.9 nor 8.18.1 reads it, so tlsc writes none",
        ),
        (
            *pos(text, "'STS:"),
            "S210",
            "error",
            "access.0: 'STS:' (the per-domain MTA-STS opt-out) came with sendmail 8.18.2;"
            " neither 8.17.1.9 nor 8.18.1 reads it, so the entry would change nothing",
        ),
    ]


# -- the resolver's answers (sts_socketmap.py) -----------------------------------------


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("Example.NET.", "example.net"),
        ("[example.net]", "example.net"),
        ("[example.net]:25", "example.net"),
        ("example.net:25", "example.net"),
    ],
)
def test_filter_domain(raw: str, domain: str) -> None:
    assert filter_domain(raw) == domain


def test_answers_as_the_resolver_does() -> None:
    policies = {
        "example.net": Policy("enforce", ["mx1.example.net", "*.example.net"]),
        "testing.example": Policy("testing", ["mx.testing.example"]),
        "none.example": Policy("none", []),
    }
    assert answer(policies, "sts example.net") == (
        "OK secure match=mx1.example.net:.example.net servername=hostname"
    )
    for request in ("sts testing.example", "sts none.example", "sts other.example"):
        assert answer(policies, request) == "NOTFOUND "
    assert answer(policies, "sts .example.net") == "NOTFOUND "  # no parent-domain lookups
    assert answer(policies, "sts 192.0.2.1") == "NOTFOUND "


# -- with the real m4 and sendmail ------------------------------------------------------

RELEASE_IDS = ["8.17", "8.18"]


def release_of(which: str) -> SendmailRelease:
    return SYSTEM_SENDMAIL if which == "8.17" else sendmail_818()


def build(mc: str, st: str, release: SendmailRelease, tmp: Path) -> str:
    rc, cf, err = m4_build(mc, st, tmp, release)
    assert (rc, err) == (0, ""), err
    return cf


@pytest.mark.realtools
@pytest.mark.parametrize("which", RELEASE_IDS)
def test_the_cf_has_the_socket_map_and_the_option(which: str) -> None:
    release = release_of(which)
    files = render(spec(defaults={"tls": {"mta_sts": True}}))
    with scratch_dir("sts") as tmp:
        cf = build(files[MC], files[ST], release, tmp)
    lines = cf.splitlines()
    assert "Ksts socket -d5 -T<TMPF> inet:8461@127.0.0.1" in lines
    assert "O StrictTransportSecurity=true" in lines
    assert "O SetCertAltnames=true" in lines  # the SAN check (sts.m4 without NO_SAN_TST)
    assert "SSTS_Check" in lines and "SSTS_SAN" in lines
    assert not [x for x in lines if x.startswith("Ksts ") and "5461" in x]


@pytest.mark.realtools
@pytest.mark.parametrize("which", RELEASE_IDS)
def test_feature_sts_alone_asks_port_5461(which: str) -> None:
    """Why tlsc always writes the socket: the cf tree's default is not the resolver's."""
    release = release_of(which)
    files = render(spec())
    mc = files[MC].replace("MAILER(", "FEATURE(`sts')dnl\nMAILER(", 1)
    with scratch_dir("sts") as tmp:
        cf = build(mc, files[ST], release, tmp)
    assert "Ksts socket -d5 -T<TMPF> inet:5461@127.0.0.1" in cf.splitlines()


@pytest.mark.realtools
@pytest.mark.parametrize("which", RELEASE_IDS)
def test_sendmail_asks_the_resolver_through_the_cf(which: str, tmp_path: Path) -> None:
    """Each release's own binary, in test mode, looks domains up in the `sts` map of the .cf
    tlsc's starttls.m4 builds: an enforce policy comes back as the resolver's words, a
    testing one (and no policy) as no match."""
    release = release_of(which)
    policies = {
        "b.tlsc.test": Policy("enforce", ["mx1.b.tlsc.test", "*.b.tlsc.test"]),
        "t.tlsc.test": Policy("testing", ["mx.t.tlsc.test"]),
    }
    with StsSocketmap(policies) as sts:
        files = render(spec(defaults={"tls": {"mta_sts": {"socket": sts.address}}}))
        with scratch_dir("sts") as tmp:
            cf = build(files[MC], files[ST], release, tmp)
        (tmp_path / "sts.cf").write_text(cf, encoding="utf-8")
        lookups = "/map sts b.tlsc.test\n/map sts t.tlsc.test\n/map sts none.tlsc.test\n"
        done = sendmail_bt(release, tmp_path / "sts.cf", ("-d0.1",), lookups)
        asked = list(sts.queries)
    out = done.stdout
    assert (
        "map_lookup: sts (b.tlsc.test) returns"
        " secure match=mx1.b.tlsc.test:.b.tlsc.test servername=hostname (0)" in out
    ), out
    assert "map_lookup: sts (t.tlsc.test) no match (68)" in out
    assert "map_lookup: sts (none.tlsc.test) no match (68)" in out
    assert asked == [("sts", "b.tlsc.test"), ("sts", "t.tlsc.test"), ("sts", "none.tlsc.test")]
    assert "line " not in out and "unknown" not in out.lower(), out  # read without complaint


@pytest.mark.realtools
@pytest.mark.parametrize("which", RELEASE_IDS)
def test_nothing_listening_is_a_temporary_failure(which: str, tmp_path: Path) -> None:
    """-T<TMPF>: a map that cannot be reached gives <TMPF>, which sts.m4's rulesets turn
    into '450 STS lookup temp fail' (the daemon test shows the reply)."""
    release = release_of(which)
    with StsSocketmap() as sts:
        address = sts.address  # the port is free once the server is closed
    files = render(spec(defaults={"tls": {"mta_sts": {"socket": address}}}))
    with scratch_dir("sts") as tmp:
        cf = build(files[MC], files[ST], release, tmp)
    (tmp_path / "sts.cf").write_text(cf, encoding="utf-8")
    done = sendmail_bt(release, tmp_path / "sts.cf", ("-d0.1",), "/map sts b.tlsc.test\n")
    # 75 is EX_TEMPFAIL (68, EX_NOHOST, is a plain no match: see the test above)
    assert "map_lookup: sts (b.tlsc.test) no match (75)" in done.stdout, done.stdout


# -- tlsc import -----------------------------------------------------------------------


@pytest.mark.realtools
@pytest.mark.parametrize(
    ("feature", "socket", "warned"),
    [
        ("FEATURE(`sts')dnl", "inet:5461@127.0.0.1", True),
        (
            "FEATURE(`sts', `socket -d5 -T<TMPF> local:/run/mta-sts.sock')dnl",
            "local:/run/mta-sts.sock",
            False,
        ),
    ],
)
def test_import_reads_feature_sts_into_tls_mta_sts(
    tmp_path: Path, feature: str, socket: str, warned: bool
) -> None:
    """The round trip (the .cf built from the original and from the imported spec) agrees:
    the FEATURE moves from the .mc to starttls.m4, the socket stays as it was."""
    mc = PLAIN_MC.replace("include(`/etc/mail/tls", f"{feature}\ninclude(`/etc/mail/tls")
    result = imported(tree(tmp_path, mc=mc))
    assert result.ok and messages(result) == [], messages(result)  # no round-trip loss
    again = recompiled(result)
    st = again.hosts["h1"][ST]
    assert f"FEATURE(`sts', ``socket -d5 -T<TMPF> {socket}'')dnl\n" in st
    assert "sts" not in again.hosts["h1"][MC].replace("starttls", "")
    warnings = [(w.code, w.message) for w in result.notes.warnings]
    if warned:  # import lints the original .mc too (M4022)
        assert [code for code, _ in warnings] == ["M4022", "I117"]
        assert warnings[1:] == [
            (
                "I117",
                "FEATURE(`sts') without an argument asks the socket map inet:5461@127.0.0.1,"
                " imported as tls.mta_sts: {socket: inet:5461@127.0.0.1};"
                " postfix-mta-sts-resolver listens on inet:8461@127.0.0.1 unless told"
                " otherwise (tlsc doctor asks it, D036)",
            )
        ]
    else:
        assert warnings == []


@pytest.mark.realtools
def test_import_refuses_a_feature_sts_it_cannot_model(tmp_path: Path) -> None:
    mc = PLAIN_MC.replace(
        "include(`/etc/mail/tls",
        "FEATURE(`sts', `socket -T<TMPF> inet:8461@127.0.0.1', `NO_SAN_TST')dnl\n"
        "include(`/etc/mail/tls",
    )
    result = imported(tree(tmp_path, mc=mc))
    assert not result.ok and result.text is None
    assert messages(result) == [f"I090 the imported spec does not validate: mc.extra: {TRAP}"]


@pytest.mark.realtools
def test_an_adopted_host_keeps_its_own_feature_sts(tmp_path: Path) -> None:
    """ownership: tls leaves the .mc as it is; a tls.mta_sts would write a second Ksts."""
    feature = "FEATURE(`sts', `socket -d5 -T<TMPF> inet:8461@127.0.0.1')dnl"
    mc = PLAIN_MC.replace("include(`/etc/mail/tls", f"{feature}\ninclude(`/etc/mail/tls")
    result = imported(tree(tmp_path, mc=mc), ownership="tls")
    assert result.ok and messages(result) == [], messages(result)
    assert result.text is not None and "mta_sts" not in result.text
    assert "FEATURE" not in recompiled(result).hosts["h1"][ST]
