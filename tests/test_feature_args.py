"""A spec validation takes never makes sendmail-cf complain while apply builds its .cf.

apply treats any m4 output on stderr as a failed build (apply/build.py): Debian's
Makefile installs a truncated sendmail.cf when m4 fails. The FEATURE files that
can complain are the ones holding an `errprint`: each is built here, with the
real m4 and each release's cf tree, with its arguments missing, a word, `reject`,
`canonify_hosts` and two words; those that write the MAILER lines themselves
(msp, nullclient) also with `mc.mailers: []`, and ldap_routing and
preserve_luser_host also with the define they want. Every spec that validates
builds without a word on stderr (`FEATURE(nouucp)` without its argument, `dnsbl`
without a zone, `msp` beside MAILER(local) validated and failed apply's build),
and every FEATURE argument problem said to make sendmail-cf complain (S207) is one
the build shows.
"""

from __future__ import annotations

import json
import re
from typing import Any

from realtools import SendmailRelease, m4_build, scratch_dir
from releases import release

from compiler.compile import compile_text
from compiler.render.mc import _feature
from compiler.sendmail import FEATURES, FEATURES_WITH_MAILERS
from compiler.spec.model import Feature

__all__ = ["release"]  # a fixture, imported for pytest

MC = "/etc/mail/sendmail.mc"
ST = "/etc/mail/tls/starttls.m4"
SHAPES: list[list[str]] = [[], ["x"], ["reject"], ["canonify_hosts"], ["a", "b"]]
#: what ldap_routing and preserve_luser_host want defined before them
WANTED = {"confLDAP_DEFAULT_SPEC": "-h ldap.example.net -b dc=example", "LUSER_RELAY": "local:x"}


#: FEATUREs sendmail-cf complains about elsewhere than in their own file: proto.m4 for
#: ldap_routing's default maps, cfhead.m4's MAILER for the mailers msp and nullclient write
ELSEWHERE = {"ldap_routing", *FEATURES_WITH_MAILERS}


def complaining(release: SendmailRelease) -> list[str]:
    """The FEATUREs whose file in `release`'s cf tree can errprint, and ELSEWHERE."""
    return sorted(
        name
        for name in FEATURES
        if name in ELSEWHERE
        or (
            (path := release.cf_dir / "feature" / f"{name}.m4").is_file()
            and re.search(r"\berrprint\(", path.read_text(encoding="utf-8", errors="replace"))
        )
    )


def variants(name: str) -> list[dict[str, Any]]:
    """The mc: of each case for FEATURE `name`."""
    out = [{"features": [{"name": name, "args": args}]} for args in SHAPES]
    if name in FEATURES_WITH_MAILERS:
        out += [{**mc, "mailers": []} for mc in out]
    if name in ("ldap_routing", "preserve_luser_host"):
        out += [{**mc, "defines": WANTED} for mc in out]
    return out


def test_the_complaining_features_are_found() -> None:
    from realtools import SYSTEM_SENDMAIL

    found = complaining(SYSTEM_SENDMAIL)
    assert {"dnsbl", "nouucp", "msp", "nullclient", "prefixmod", "access_db"} <= set(found)


def files_of(mc: dict[str, Any], release: SendmailRelease) -> tuple[dict[str, str], list[Any]]:
    """(the host's files, the errors) of a spec with `mc`. A spec refused only for its
    FEATURE arguments (S207) gets the files it would have had: those of the spec
    without the FEATURE, with the FEATURE line as the renderer writes it put where
    FEATUREs go (before the STARTTLS include: these specs have no DAEMON_OPTIONS or
    extra lines)."""

    def compiled(mc: dict[str, Any]) -> Any:
        host = {"fqdn": "h1.example.net", "sendmail": release.family, "mc": mc}
        text = json.dumps({"version": 1, "cluster": "c1", "hosts": {"h1": host}})
        return compile_text(text, "c.yaml")

    result = compiled(mc)
    errors = [p for p in result.problems if p.severity == "error"]
    if not errors:
        return result.hosts["h1"], []
    if any(p.code != "S207" for p in errors):
        return {}, errors
    (feature,) = mc["features"]
    files = dict(compiled({**mc, "features": []}).hosts["h1"])
    include = "include(`/etc/mail/tls/starttls.m4')dnl\n"
    line = _feature(Feature(name=feature["name"], args=feature["args"])) + "\n"
    files[MC] = files[MC].replace(include, line + include, 1)
    return files, errors


def test_valid_feature_arguments_build_without_a_word(release: SendmailRelease) -> None:
    wrong = []
    for name in complaining(release):
        for mc in variants(name):
            files, errors = files_of(mc, release)
            if not files:
                continue  # refused for another reason (S205, S224, ...)
            with scratch_dir("featargs") as tmp:
                rc, _, err = m4_build(files[MC], files[ST], tmp, release)
            silent = rc == 0 and err == ""
            said = [p for p in errors if "sendmail-cf complains" in p.message]
            # valid: the build says nothing; refused as a complaint: the build complains
            if (not errors and not silent) or (said and silent):
                wrong.append((name, mc, [p.message for p in errors], err.strip()[:200]))
    assert wrong == []
