"""Which `conf*` names `mc.defines` takes: the ones sendmail-cf reads, and no obsolete one.

sendmail-cf errprints a warning for each obsolete name while it builds the .cf
(`*** confREAD_TIMEOUT is obsolete.`), and apply treats any m4 output on stderr
as a failed build: such a define is refused (S203). A name sendmail-cf does not
read at all (`confCIPHERLIST`) builds the very .cf the spec without it builds, so
the define does nothing: a warning (S227), naming the option or the `tls:` key
meant. Both checked with the real m4 and each release's cf tree.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from realtools import SendmailRelease, m4_build, scratch_dir
from releases import release

from compiler.compile import compile_text
from compiler.sendmail import IGNORED_DEFINES, TLS_DEFINES
from compiler.sendmail.confnames import KNOWN_OPTIONS, OBSOLETE_OPTIONS

__all__ = ["release"]  # a fixture, imported for pytest


def compiled(defines: dict[str, str], family: str = "8.17") -> Any:
    host = {"fqdn": "h1.example.net", "sendmail": family, "mc": {"defines": defines}}
    return compile_text(
        json.dumps({"version": 1, "cluster": "c1", "hosts": {"h1": host}}), "c.yaml"
    )


def built(defines: dict[str, str], release: SendmailRelease) -> tuple[int, str, str]:
    """The .cf a spec with `defines` builds (validation bypassed: the text is rendered for
    a harmless name, then renamed)."""
    stand_in = {f"confTLSC_TEST_{i}": v for i, v in enumerate(defines.values())}
    files = compiled(stand_in, release.family).hosts["h1"]
    mc = files["/etc/mail/sendmail.mc"]
    for stand, name in zip(stand_in, defines, strict=True):
        mc = mc.replace(f"`{stand}'", f"`{name}'")
    with scratch_dir("defnames") as tmp:
        return m4_build(mc, files["/etc/mail/tls/starttls.m4"], tmp, release)


@pytest.mark.parametrize("name", sorted(OBSOLETE_OPTIONS))
def test_an_obsolete_name_is_refused(release: SendmailRelease, name: str) -> None:
    result = compiled({name: "1"}, release.family)
    assert [(p.code, p.severity) for p in result.problems] == [("S203", "error")]
    assert f"{name} is obsolete" in result.problems[0].message
    # the reason: sendmail-cf says so on stderr, which fails apply's build
    rc, _, err = built({name: "1"}, release)
    assert rc == 0 and name in err, err


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("confCIPHERLIST", "tls.cipher_list"),
        ("confSERVER_CERTS", "tls.server_cert"),
        ("confTO_STARTTSL", "tls.timeout"),
        ("confMAX_MESAGE_SIZE", "'confMAX_MESSAGE_SIZE'"),
        ("confXYZZY_PLUGH_42", None),
    ],
)
def test_a_name_sendmail_does_not_read_is_a_warning(
    release: SendmailRelease, name: str, meant: str | None
) -> None:
    result = compiled({name: "HIGH"}, release.family)
    assert result.ok
    (problem,) = result.problems
    assert (problem.code, problem.severity) == ("S227", "warning")
    assert f"sendmail does not know {name}" in problem.message
    assert (
        (f"(did you mean {meant}?)" in problem.message)
        if meant
        else "did you" not in problem.message
    )
    # the reason: the .cf is the one built without the define
    rc, cf, err = built({name: "HIGH"}, release)
    assert (rc, err) == (0, "")
    files = compiled({}, release.family).hosts["h1"]
    with scratch_dir("defnames") as tmp:
        rc, plain, err = m4_build(
            files["/etc/mail/sendmail.mc"], files["/etc/mail/tls/starttls.m4"], tmp, release
        )
    assert cf == plain


def test_every_name_sendmail_reads_is_taken_without_a_word() -> None:
    names = sorted(
        KNOWN_OPTIONS - TLS_DEFINES.keys() - OBSOLETE_OPTIONS.keys() - IGNORED_DEFINES.keys()
    )
    result = compiled({name: "1" for name in names})
    assert [p for p in result.problems if p.code in ("S203", "S227")] == []


def test_every_name_sendmail_reads_builds_without_a_word(release: SendmailRelease) -> None:
    """All at once, each set to 1: sendmail-cf says nothing (confUNSAFE_GROUP_WRITES,
    deprecated, printed a warning and is obsolete now)."""
    names = KNOWN_OPTIONS - TLS_DEFINES.keys() - OBSOLETE_OPTIONS.keys() - IGNORED_DEFINES.keys()
    result = compiled(dict.fromkeys(sorted(names), "1"), release.family)
    assert result.ok, [p.message for p in result.problems if p.severity == "error"]
    files = result.hosts["h1"]
    with scratch_dir("defnames") as tmp:
        rc, _, err = m4_build(
            files["/etc/mail/sendmail.mc"], files["/etc/mail/tls/starttls.m4"], tmp, release
        )
    assert (rc, err) == (0, "")
