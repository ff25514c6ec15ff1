"""M4006 unknown-option: a conf* name sendmail does not know, is obsolete, or refuses.

m4 and sendmail say nothing about `define(`confCIPHERLIST', ...)`: the name
is simply never read, and the option keeps its default. The known names are
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
"""

from __future__ import annotations

from collections.abc import Iterator

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
