"""M4006 unknown-option: a conf* name sendmail does not know, is obsolete, or refuses.

m4 and sendmail say nothing about `define(`confCIPHERLIST', ...)`: the name
is simply never read, and the option keeps its default. A known name in
another case (`ConfSERVER_KEY`) or with a blank inside its quotes
(`` `confCACERT_PATH ' ``) is another name to m4, never read either: an error,
since it is a known option mistyped (without CACertPath or ServerKeyFile
sendmail offers no STARTTLS). The known names are
cf.README's table "TWEAKING CONFIGURATION OPTIONS"; a close match is offered.
confDANE is refused for sendmail 8.17 (`tlsc lint --sendmail 8.17`, the
default): Debian 12's build has no DANE and will not start with it; 8.18 has it.

PASS:
    define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5')dnl
    define(`confTO_STARTTLS', `2m')dnl

FAIL at 1:9:
    define(`confCIPHERLIST', `HIGH:!aNULL:!MD5')dnl

FAIL at 1:9:
    define(`confDANE', `true')dnl

FAIL at 1:9:
    define(`ConfSERVER_KEY', `/etc/mail/tls/key.pem')dnl

FAIL at 1:9:
    define(`confCACERT_PATH ', `/etc/ssl/certs')dnl
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from compiler.lint.engine import MAX_SHOWN_PER_RULE, Finding, LintContext
from compiler.lint.lexer import M4Document
from compiler.lint.suggest import hint
from compiler.sendmail import REFUSED_DEFINES
from compiler.sendmail.confnames import KNOWN_OPTIONS, OBSOLETE_OPTIONS
from compiler.sendmail.releases import release_of

ID = "M4006"
NAME = "unknown-option"
KIND = "m4"


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """define/undefine of conf* names against sendmail-cf's list."""
    release = release_of(ctx.release)
    # the report shows the first MAX_SHOWN_PER_RULE of this rule (in file order, as these
    # come) and counts the rest: only those shown get a did-you-mean (difflib, ~1 ms each)
    given = 0
    for call in doc.all_calls():
        if call.name not in ("define", "pushdef", "undefine") or not call.args:
            continue
        name = doc.first_arg(call)
        if not name.startswith("conf") or not name.isidentifier():
            near = _near_miss(name)
            if near is not None:
                at = doc.value_offset(call.args[0])
                yield Finding(at, ID, "error", near, length=len(name))
            continue
        at = doc.value_offset(call.args[0])
        refused = REFUSED_DEFINES.get(name) or release.refused_define(name)
        if refused:
            finding = Finding(at, ID, "error", f"{name}: {refused}; remove it", length=len(name))
        elif name in OBSOLETE_OPTIONS:
            finding = Finding(
                at,
                ID,
                "warning",
                f"{name} is obsolete and sendmail-cf only complains about it;"
                f" {OBSOLETE_OPTIONS[name]}",
                length=len(name),
            )
        elif name not in KNOWN_OPTIONS:
            finding = Finding(
                at,
                ID,
                "warning",
                f"sendmail does not know {name}, so this {call.name} does nothing"
                f"{hint(name, KNOWN_OPTIONS) if given < MAX_SHOWN_PER_RULE else ''}",
                length=len(name),
            )
        else:
            continue
        given += 1
        yield finding


def _near_miss(name: str) -> str | None:
    """Why a define of a known option's name in another case, or with blanks around
    it, does nothing; None for any other name."""
    stripped = name.strip(" \t\n")
    if stripped in KNOWN_OPTIONS and stripped != name:
        return (
            f"the blank in '{name}' is part of the name m4 defines, so sendmail-cf never"
            f" reads this {stripped}: remove the blank"
        )
    meant = _known_by_lower().get(stripped.lower())
    if meant is not None and meant != name:
        return (
            f"m4 names are case-sensitive: {stripped} is not {meant}, so sendmail-cf never"
            f" reads it (write {meant})"
        )
    return None


@cache
def _known_by_lower() -> dict[str, str]:
    """Each known option by its name in lower case (made when a name is first asked)."""
    return {n.lower(): n for n in sorted(KNOWN_OPTIONS)}
