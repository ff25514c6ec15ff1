"""M4012 unknown-name: FEATURE, OSTYPE, DOMAIN, MAILER or HACK naming a file sendmail-cf lacks.

`FEATURE(`acces_db')` makes m4 stop with "cannot open
`.../feature/acces_db.m4'": access_db is missing and, with it, every access
rule. Names are checked against the installed cf tree (feature/, ostype/,
domain/, mailer/, hack/ beside the included cf.m4) or, where sendmail-cf is
not installed, against the Debian 8.17 lists; a close match is offered. A
site's own DOMAIN file is only a warning when the tree is not there to
confirm it.

Severity follows what real m4 builds. A deprecated alias
(`FEATURE(`blacklist_recipients')`, `OSTYPE(`bsdi2.0')`) builds the modern
file and only prints a deprecation line, so it is a warning naming the
modern name. FEATUREs that make sendmail-cf complain are reported too, as
tlsc apply refuses any build that prints something: tls_failures prints
`*** ERROR` and is an error; promiscuous_relay, relay_mail_from and
relay_local_from build as written with a `*** WARNING` and are warnings.

PASS:
    FEATURE(`access_db', , `skip')dnl
    OSTYPE(`debian')dnl
    MAILER(`smtp')dnl

FAIL at 1:10:
    FEATURE(`acces_db')dnl

FAIL at 1:10:
    FEATURE(`blacklist_recipients')dnl
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import partial

from compiler import sendmail
from compiler.lint.engine import MAX_SHOWN_PER_RULE, Finding, LintContext
from compiler.lint.lexer import M4Document
from compiler.lint.suggest import hint
from compiler.sendmail.m4names import DEPRECATED_ALIASES, ERROR_FEATURES

ID = "M4012"
NAME = "unknown-name"
KIND = "m4"

_HACKS = frozenset(
    [
        "cssubdomain",
        "debian_auth",
        "dnsblaccess",
        "msp_nullclient",
        "nodns",
        "spamtrap",
        "virthost_by_ip",
        "xconnect",
    ]
)
_DIRS = {
    "FEATURE": ("feature", sendmail.FEATURES),
    "OSTYPE": ("ostype", sendmail.OSTYPES),
    "DOMAIN": ("domain", sendmail.DOMAINS),
    "MAILER": ("mailer", sendmail.MAILERS),
    "HACK": ("hack", _HACKS),
}
_REFUSED = {
    "tls_failures": "sendmail-cf prints '*** ERROR' for it; write"
    " define(`confTLS_FALLBACK_TO_CLEAR', `true')dnl instead",
}
_SIMPLE = re.compile(r"[A-Za-z0-9_.+-]+")
DEFAULT_CF_DIR = "/usr/share/sendmail/cf"


def cf_dir(doc: M4Document) -> str:
    """The cf tree the .mc builds with: the directory above its included cf.m4."""
    for call in doc.top_calls("include"):
        path = doc.first_arg(call)
        if path.endswith("/m4/cf.m4"):
            return path[: -len("/m4/cf.m4")]
    return DEFAULT_CF_DIR


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Names that have no file in the cf tree."""
    base = cf_dir(doc)
    #: directory -> the names it has, built once per file (not once per call)
    by_dir: dict[str, tuple[list[str] | None, set[str]]] = {}
    given = 0  # findings so far: a did-you-mean only for those a report shows (m4006)
    for call in doc.top_calls(*_DIRS):
        if not call.args or call.paren is None:
            continue
        name = doc.first_arg(call)
        if not _SIMPLE.fullmatch(name):
            continue
        sub, known = _DIRS[call.name]
        directory = os.path.join(base, sub)
        if directory not in by_dir:
            found: list[str] | None = ctx.cached(("cf", directory), partial(ctx.listdir, directory))
            by_dir[directory] = (
                found,
                {n[:-3] for n in found if n.endswith(".m4")} if found else set(known),
            )
        listed, names = by_dir[directory]
        at = doc.value_offset(call.args[0])
        modern = DEPRECATED_ALIASES.get((call.name, name))
        finding: Finding | None = None
        if modern is not None:
            finding = Finding(
                at,
                ID,
                "warning",
                f"{call.name}(`{name}') is deprecated; sendmail 8.17 builds it as {modern}"
                f" (and prints a deprecation line, which tlsc apply refuses) — write"
                f" {call.name}(`{modern}')",
                length=len(name),
            )
        elif call.name == "FEATURE" and name in sendmail.REFUSED_FEATURES:
            why = _REFUSED.get(name, sendmail.REFUSED_FEATURES[name])
            if name in ERROR_FEATURES:
                finding = Finding(
                    at, ID, "error", f"FEATURE(`{name}') is refused: {why}", length=len(name)
                )
            else:
                finding = Finding(
                    at,
                    ID,
                    "warning",
                    f"m4 builds FEATURE(`{name}') as written but sendmail-cf prints a warning"
                    f" for it: {why}",
                    length=len(name),
                )
        elif name not in names:
            trusted = listed is not None or call.name != "DOMAIN"
            suggested = hint(name, names) if given < MAX_SHOWN_PER_RULE else ""
            finding = Finding(
                at,
                ID,
                "error" if trusted else "warning",
                f"there is no {call.name} `{name}' ({sub}/{name}.m4 is not in the sendmail-cf"
                f" tree), so m4 stops with 'cannot open'{suggested}",
                length=len(name),
            )
        if finding is not None:
            given += 1
            yield finding
