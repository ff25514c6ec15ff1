"""tlsc's starttls.m4 leaves m4 in the diversion it was included in.

A host's own sendmail.mc (ownership: tls) may set a TLS option inside a
section after its MAILER lines (`LOCAL_CONFIG`, `LOCAL_RULESETS`, ...); tlsc
then includes its starttls.m4 right after that define (plan/ownership.py),
inside the section. The file used to end its header with `divert(0)dnl`, so
the section's lines after the include went to diversion 0, the top of the
.cf, before its `V` line: a Local_check_rcpt ruleset there made sendmail warn
that OperatorChars was redefined after rulesets and that the ruleset had two
definitions. Built with the real m4 and each release's cf tree, the .cf with
the include inside any section now has the lines of the one with the include
before the MAILER lines, in their order, and sendmail reads it without a warning.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from realtools import SendmailRelease, m4_build, scratch_dir, sendmail_bt
from releases import release

from compiler.compile import compile_text
from compiler.plan.ownership import splice_mc
from compiler.sendmail.m4names import SECTION_MACROS

__all__ = ["release"]  # a fixture, imported for pytest

ST = "/etc/mail/tls/starttls.m4"
HEAD = (
    "divert(-1)dnl\ndnl # the host's own .mc\ndivert(0)dnl\n"
    "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\nOSTYPE(`debian')dnl\n"
    "DOMAIN(`debian-mta')dnl\nFEATURE(`access_db')dnl\n"
)
MAILERS = "MAILER(`local')dnl\nMAILER(`smtp')dnl\n"
DEFINE = "define(`confSERVER_CERT', `/etc/mail/host.crt')dnl\n"
#: lines after the include, in the section (a rule sendmail reads in LOCAL_RULESETS)
AFTER = '# tlsc marker\nSLocal_check_rcpt\nR$* < @ tlsc.marker. > $*\t$#error $: "550 marked"\n'

#: tls: variants: the plain defines; with the CipherSuites line (diversion 6 and back)
VARIANTS: list[dict[str, Any]] = [{}, {"ciphersuites": "TLS_AES_256_GCM_SHA384"}]


def starttls(release: SendmailRelease, tls: dict[str, Any]) -> str:
    host = {"fqdn": "h1.example.net", "sendmail": release.family, "ownership": "tls", "tls": tls}
    spec = {"version": 1, "cluster": "c1", "hosts": {"h1": host}}
    result = compile_text(json.dumps(spec), "cluster.yaml")
    assert result.ok, [p.message for p in result.problems]
    return result.hosts["h1"][ST]


@pytest.mark.parametrize("tls", VARIANTS, ids=["defines", "ciphersuites"])
@pytest.mark.parametrize("section", sorted(SECTION_MACROS))
def test_the_sections_lines_after_the_include_stay_in_it(
    release: SendmailRelease, section: str, tls: dict[str, Any]
) -> None:
    text = starttls(release, tls)
    # the host's TLS define in the section, after the MAILERs: the include goes right after it
    inside = splice_mc(HEAD + MAILERS + f"{section}\n" + DEFINE + AFTER, ST, True, "sendmail.mc")
    assert inside.index(DEFINE) < inside.index(f"include(`{ST}')") < inside.index(AFTER)
    # the same define before the MAILERs: the include goes before them, out of any section
    before = splice_mc(HEAD + DEFINE + MAILERS + f"{section}\n" + AFTER, ST, True, "sendmail.mc")
    assert before.index(f"include(`{ST}')") < before.index(MAILERS)
    with scratch_dir("divert") as tmp:
        rc, cf_inside, err = m4_build(inside, text, tmp, release)
        assert (rc, err) == (0, "")
        rc, cf_before, err = m4_build(before, text, tmp, release)
        assert (rc, err) == (0, "")
        # the same lines in the same order; the blank line the section's own line leaves
        # (`LOCAL_CONFIG` and its newline) stands before the CipherSuites line or after it
        assert cf_inside.replace("\n\n", "\n") == cf_before.replace("\n\n", "\n")
        assert "O ServerCertFile=/etc/mail/tls/sendmail-server.crt\n" in cf_inside
        if section == "LOCAL_RULESETS":
            (tmp / "built.cf").write_text(cf_inside, encoding="utf-8")
            done = sendmail_bt(release, tmp / "built.cf", ("-d0.0",), "Local_check_rcpt a\n")
            assert "redefined" not in done.stdout + done.stderr
            assert "multiple definitions" not in done.stdout + done.stderr
