"""Values that sendmail's cf files rescan: no m4 macro call may hide in them.

Two quote levels keep a `conf*` option value as written (render/m4quote.py),
but feature files rescan their arguments (`FEATURE(`bcc', ...)` hands its
argument to `ifelse` unquoted) and a few defines are expanded twice
(`O HelpFile=ifdef(`HELP_FILE', HELP_FILE, ...)`). A call written there runs
while the .cf is built: `esyscmd(...)` ran a shell command as root. The .mc
now switches those builtins off right after the cf.m4 include, the defines
that are expanded twice get a third quote level, and validation refuses
`NAME(` in those values and macro names in the arguments of the FEATUREs
that rescan them (S217), each proved here with the real m4 and the cf tree
of each release (tests/releases.py).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from realtools import SendmailRelease, compile_dict, m4_build, scratch_dir, spec, with_cf_tree
from releases import release

from compiler.sendmail import (
    FEATURES,
    REFUSED_FEATURES,
    RESCANNED_DEFINES,
    RESCANNED_FEATURE_ARGS,
    m4quote,
)
from compiler.sendmail.m4text import SWITCH_OFF_LINE
from compiler.sendmail.releases import MISSING_FEATURES

CALL = "esyscmd(touch {marker})"

__all__ = ["release"]  # a fixture, imported for pytest


def _built_runs(
    mc: dict[str, Any], placeholder: str, tmp: Path, guarded: bool, release: SendmailRelease
) -> bool:
    """Build the .mc of `mc` with `placeholder` replaced by a command-running call.

    The marker the command touches lives in a directory whose path is lower case
    (tempfile's names are): bcc and nocanonify lower-case their argument, so a
    checkout path with capitals would send `touch` elsewhere and the control fail.
    """
    files = compile_dict(spec(defaults={"mc": mc})).hosts["h1"]
    marks = Path(tempfile.mkdtemp(prefix="tlsc-rescanned-", dir="/tmp"))
    marker = marks / ("ran-guarded" if guarded else "ran")
    text = files["/etc/mail/sendmail.mc"]
    quoted = m4quote.value(placeholder)
    assert quoted in text
    evil = text.replace(quoted, m4quote.value(CALL.format(marker=marker)))
    if not guarded:
        evil = evil.replace(SWITCH_OFF_LINE + "\n", "")
    try:
        m4_build(evil, files["/etc/mail/tls/starttls.m4"], tmp, release)
        return marker.exists()
    finally:
        shutil.rmtree(marks, ignore_errors=True)


CASES = [
    {"features": [{"name": "bcc", "args": ["PLACEHOLDER"]}]},
    # nocanonify takes only canonify_hosts (S207): that word is its placeholder
    {"features": [{"name": "nocanonify", "args": ["canonify_hosts"]}]},
    {"features": [{"name": "local_procmail", "args": ["", "PLACEHOLDER"]}]},
    {"defines": {"SMTP_MAILER_FLAGS": "PLACEHOLDER"}},
]


def placeholder(mc: dict[str, Any]) -> str:
    return "canonify_hosts" if "canonify_hosts" in str(mc) else "PLACEHOLDER"


@pytest.mark.realtools
@pytest.mark.parametrize("mc", CASES, ids=lambda mc: str(mc)[:40])
def test_a_macro_call_in_a_rescanned_value_is_inert_and_refused(
    mc: dict[str, Any], release: SendmailRelease
) -> None:
    word = placeholder(mc)
    with scratch_dir("rescanned") as tmp:
        # the control: without the switch-off line the real m4 runs the command
        assert _built_runs(mc, word, tmp, False, release)
        assert not _built_runs(mc, word, tmp, True, release)
    text = str(mc).replace(word, CALL.format(marker="/tmp/x"))
    evil = ast.literal_eval(text)
    result = compile_dict(spec(defaults={"mc": evil}))
    assert not result.ok
    # nocanonify's argument is no canonify_hosts either (S207)
    said = [p for p in result.problems if p.code != "S207" or word == "PLACEHOLDER"]
    assert [p.code for p in said] == ["S217"], result.problems
    assert "esyscmd(" in said[0].message


@pytest.mark.parametrize("name", sorted(RESCANNED_DEFINES))
def test_a_call_in_any_rescanned_define_is_refused(name: str) -> None:
    result = compile_dict(spec(defaults={"mc": {"defines": {name: "esyscmd(id)"}}}))
    assert [p.code for p in result.problems] == ["S217"], result.problems


BASE_MC = (
    "divert(-1)dnl\ndivert(0)dnl\ninclude(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n"
    "OSTYPE(`debian')dnl\nFEATURE(`access_db')dnl\n{lines}\nMAILER(`local')dnl\n"
    "MAILER(`smtp')dnl\n"
)


def _m4(text: str, release: SendmailRelease) -> str:
    proc = subprocess.run(
        with_cf_tree(release, ["m4", "-D_NO_MAKEINFO_", "-"]),
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout + proc.stderr


@pytest.mark.realtools
def test_the_features_that_rescan_their_arguments_are_the_listed_ones(
    release: SendmailRelease,
) -> None:
    """For every FEATURE: does a macro name in its argument change what m4 makes?"""

    def build(feature: str, arg: str) -> str:
        line = m4quote.call("FEATURE", m4quote.name(feature), m4quote.value(arg))
        return _m4(BASE_MC.format(lines=line), release).replace(arg, "ARG")

    found = {
        feature
        for feature in sorted(FEATURES - set(REFUSED_FEATURES) - {"access_db"})
        if build(feature, "/etc/mail/dnl/lower/divnum") != build(feature, "/etc/mail/plain")
    }
    # a FEATURE the release lacks makes m4 fail alike for both arguments
    expected = RESCANNED_FEATURE_ARGS - {"access_db"} - MISSING_FEATURES[release.family]
    assert found == expected


@pytest.mark.parametrize(
    ("feature", "arg", "refused"),
    [
        ("dnsbl", "dnl.example.org", "dnl"),
        ("local_procmail", "/usr/lower/procmail", "lower"),
        ("bcc", "_ARG_", "_ARG_"),
        ("rhsbl", "confFOO.example", "confFOO"),
        ("virtusertable", "hash -o /etc/lower/dnl/virtusertable", None),  # read once
        ("dnsbl", "bl.spamcop.net", None),
    ],
)
def test_macro_names_in_rescanned_feature_arguments_are_refused(
    feature: str, arg: str, refused: str | None
) -> None:
    result = compile_dict(spec(defaults={"mc": {"features": [{"name": feature, "args": [arg]}]}}))
    messages = [p.message for p in result.problems if p.code == "S217"]
    if refused is None:
        assert messages == []
    else:
        assert messages == [
            f"FEATURE {feature} argument 1 holds '{refused}', a name m4 expands when sendmail's"
            " cf files rescan this value, so sendmail would get something else than written"
        ]


@pytest.mark.realtools
@pytest.mark.parametrize(
    ("name", "option"),
    [("HELP_FILE", "O HelpFile="), ("QUEUE_DIR", "O QueueDirectory="), ("confCT_FILE", "Ft")],
)
def test_defines_expanded_twice_reach_the_cf_as_written(
    name: str, option: str, release: SendmailRelease
) -> None:
    value = "/srv/lower/dnl/divnum/x"
    mc = {"defines": {name: value}, "features": ["use_ct_file"]}
    files = compile_dict(spec(defaults={"mc": mc})).hosts["h1"]
    with scratch_dir("rescanned-define") as tmp:
        rc, cf, err = m4_build(
            files["/etc/mail/sendmail.mc"], files["/etc/mail/tls/starttls.m4"], tmp, release
        )
    assert (rc, err) == (0, "")
    assert f"{option}{value}" in cf.splitlines()


@pytest.mark.parametrize(
    "value", ["/var/spool/mqueue", "550 Access denied (see postmaster)", "a (c)", "x.(y)"]
)
def test_rescanned_values_without_calls_stay_valid(value: str) -> None:
    mc = {
        "features": [{"name": "bcc", "args": [value]}],
        "defines": {"QUEUE_DIR": value},
    }
    result = compile_dict(spec(defaults={"mc": mc}))
    assert "S217" not in [p.code for p in result.problems], result.problems


def test_a_single_expanded_option_keeps_its_macro_words() -> None:
    """confDEF_CHAR_SET is an O option, expanded once: lower(X) reaches the .cf as
    written (test_realtools.py), so it is not refused."""
    assert compile_dict(spec(defaults={"mc": {"defines": {"confDEF_CHAR_SET": "lower(X)"}}})).ok


def test_the_rescanned_defines_are_documented_or_conf() -> None:
    for name in RESCANNED_DEFINES:
        assert compile_dict(spec(defaults={"mc": {"defines": {name: "x"}}})).ok, name


#: values that end a macro argument, comment out the rest of a line, or name macros:
#: in a define sendmail's cf files rescan, each changed the .cf (a ',' or a ')' in
#: confMESSAGE_TIMEOUT or LOCAL_MAILER_FLAGS wrote raw .cf lines: a relay domain,
#: a mailer run as /bin/sh)
BREAKOUTS = ["a,b (c) d", "a) dnl", "x dnl y", "p len q", "LOCAL_CONFIG"]


def _accepted(names: list[str], value: str) -> list[str]:
    return [
        n
        for n in names
        if compile_dict(spec(defaults={"mc": {"defines": {n: value}}})).ok
        and compile_dict(spec(defaults={"mc": {"defines": {n: "QQCTRL0QQ"}}})).ok
    ]


def _differs(names: list[str], value: str, tmp: Path, release: SendmailRelease) -> bool:
    """Does the .cf built with `value` in every define of `names` differ from the one
    built with a placeholder in each, the placeholders then replaced by `value`?"""
    control = {n: f"QQCTRL{i:03d}QQ" for i, n in enumerate(names)}
    built = []
    for defines in (control, dict.fromkeys(names, value)):
        files = compile_dict(spec(defaults={"mc": {"defines": defines}})).hosts["h1"]
        rc, cf, err = m4_build(
            files["/etc/mail/sendmail.mc"], files["/etc/mail/tls/starttls.m4"], tmp, release
        )
        built.append((rc, cf, err))
    expected = built[0][1]
    for placeholder in control.values():
        expected = expected.replace(placeholder, value)
    return (built[1][0], built[1][2]) != (built[0][0], built[0][2]) or built[1][1] != expected


@pytest.mark.realtools
@pytest.mark.parametrize("value", BREAKOUTS)
def test_every_define_tlsc_accepts_reaches_the_cf_as_written(
    value: str, release: SendmailRelease
) -> None:
    """The class: for every define name tlsc knows, a value validation accepts reaches
    the .cf exactly as written (it does not end the macro argument sendmail's cf files
    pass it in, nor expand): the .cf is the one built with a placeholder in its place.
    Built 40 names at a time; a group that differs is read name by name."""
    from compiler.sendmail import DOCUMENTED_DEFINES, TLS_DEFINES
    from compiler.sendmail.confnames import KNOWN_OPTIONS

    names = _accepted(
        sorted((set(KNOWN_OPTIONS) | set(DOCUMENTED_DEFINES)) - set(TLS_DEFINES)), value
    )
    assert len(names) > 100  # most defines take any text
    wrong = []
    with scratch_dir("rescanned-all") as tmp:
        for k in range(0, len(names), 40):
            group = names[k : k + 40]
            if _differs(group, value, tmp, release):
                wrong += [n for n in group if _differs([n], value, tmp, release)]
    assert wrong == []


def _feature_cf(
    feature: str, arg: str, tmp: Path, release: SendmailRelease
) -> tuple[int, str, str]:
    files = compile_dict(spec(defaults={"mc": {"features": [{"name": feature, "args": [arg]}]}}))
    h1 = files.hosts["h1"]
    return m4_build(h1["/etc/mail/sendmail.mc"], h1["/etc/mail/tls/starttls.m4"], tmp, release)


@pytest.mark.realtools
@pytest.mark.parametrize("value", ["a,b (c) d", "a) x"])
def test_every_feature_argument_tlsc_accepts_reaches_the_cf_as_written(
    value: str, release: SendmailRelease
) -> None:
    """The class, for FEATURE arguments: a ',' or an unmatched ')' accepted in any
    FEATURE's first argument reaches the .cf as written (bestmx_is_local's `a)CR...`
    wrote a relay class line)."""
    wrong = []
    with scratch_dir("rescanned-features") as tmp:
        for feature in sorted(FEATURES - set(REFUSED_FEATURES) - {"access_db"}):
            accepted = compile_dict(
                spec(defaults={"mc": {"features": [{"name": feature, "args": [value]}]}})
            )
            if not accepted.ok:
                continue
            control = _feature_cf(feature, "qqctrlqq", tmp, release)
            if control[0] != 0:  # a FEATURE this release lacks, or one needing more
                continue
            built = _feature_cf(feature, value, tmp, release)
            if built != (control[0], control[1].replace("qqctrlqq", value), control[2]):
                wrong.append(feature)
    assert wrong == []
