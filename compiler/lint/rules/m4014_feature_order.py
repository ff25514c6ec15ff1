"""M4014 feature-order: a FEATURE that reads the access map before FEATURE(`access_db').

greet_pause, ratecontrol, conncontrol and lookupdotdomain look their entries
up in the access map, so FEATURE(`access_db') must come first. Otherwise
ratecontrol, conncontrol and lookupdotdomain are left out with
`*** ERROR: ... requires FEATURE(`access_db')`, and greet_pause silently
ignores every GreetPause: entry (sendmail-cf only warns, but the .cf is not
what the .mc says, so it is an error; a greet_pause with its own pause and
no access_db at all is built as written and only a warning). The `nodelay'
argument of ratecontrol and conncontrol needs FEATURE(`delay_checks')
before them.

PASS:
    FEATURE(`access_db', , `skip')dnl
    FEATURE(`greet_pause', `1000')dnl
    FEATURE(`delay_checks', `friend', `n')dnl
    FEATURE(`ratecontrol', `nodelay', `terminate')dnl

FAIL at 1:1:
    FEATURE(`ratecontrol', `nodelay', `terminate')dnl
    FEATURE(`access_db', , `skip')dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import M4Document

ID = "M4014"
NAME = "feature-order"
KIND = "m4"

_NEED_ACCESS = ("greet_pause", "ratecontrol", "conncontrol", "lookupdotdomain")


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """FEATUREs used before the FEATUREs they depend on."""
    seen: set[str] = set()
    features = doc.top_calls("FEATURE")
    everywhere = {doc.first_arg(c) for c in features}
    for call in features:
        name = doc.first_arg(call)
        args = [doc.arg_value(a) for a in call.args[1:]]
        length = call.end - call.start
        if name in _NEED_ACCESS and "access_db" not in seen:
            later = "access_db" in everywhere
            if name == "greet_pause" and (later or (args and args[0])):
                # m4 builds it (sendmail-cf only warns), but with FEATURE(`access_db')
                # later the .cf is not what the .mc says: its GreetPause: entries are
                # never read. With no access_db at all, the fixed pause is as written.
                yield Finding(
                    call.start,
                    ID,
                    "error" if later else "warning",
                    "FEATURE(`greet_pause') before FEATURE(`access_db') never reads the"
                    " GreetPause: entries; move FEATURE(`access_db') above it"
                    if later
                    else "FEATURE(`greet_pause') without FEATURE(`access_db') never reads"
                    " GreetPause: entries; add FEATURE(`access_db') above it if you use them",
                    length=length,
                )
            else:
                where = "move FEATURE(`access_db') above it" if later else "add it first"
                yield Finding(
                    call.start,
                    ID,
                    "error",
                    f"FEATURE(`{name}') needs FEATURE(`access_db') before it, or sendmail-cf"
                    f" leaves it out ('*** ERROR: ... requires FEATURE(`access_db')'); {where}",
                    length=length,
                )
        if (
            name in ("ratecontrol", "conncontrol")
            and "nodelay" in args
            and "delay_checks" not in seen
        ):
            yield Finding(
                call.start,
                ID,
                "error",
                f"FEATURE(`{name}', `nodelay') needs FEATURE(`delay_checks') before it;"
                " add or move it above this line",
                length=length,
            )
        seen.add(name)
