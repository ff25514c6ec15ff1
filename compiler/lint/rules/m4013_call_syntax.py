"""M4013 call-syntax: a blank between a macro and `(`, or a macro name in the wrong case.

Nothing may stand between a macro name and its `(`: `FEATURE (`access_db')`
calls FEATURE with no arguments (m4: "cannot open `.../feature/.m4'") and
copies ` (access_db)` into sendmail.cf. Macro names are case-sensitive:
`feature(`access_db')` is plain text to m4, lands in the .cf, and sendmail
rejects it as an unknown configuration line. `dnl(` is a call with
arguments: m4 collects them (across lines) and warns. `--fix` removes the
blank, corrects the case, or separates dnl from its `(`.

PASS:
    FEATURE(`access_db', , `skip')dnl

FAIL at 1:1:
    FEATURE (`access_db', , `skip')dnl

FAIL at 1:1:
    feature(`access_db', , `skip')dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Edit, Finding, LintContext
from compiler.lint.lexer import M4Document
from compiler.sendmail.m4names import BUILTINS, CF_MACROS

ID = "M4013"
NAME = "call-syntax"
KIND = "m4"

_BY_LOWER = {name.lower(): name for name in sorted(CF_MACROS | BUILTINS)}


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Detached calls and miscased macro names."""
    for call in doc.calls:
        if call.name == "dnl" and call.paren is not None and not call.detached:
            yield Finding(
                call.start,
                ID,
                "error",
                "dnl takes no arguments: m4 warns 'excess arguments to builtin dnl ignored'"
                " (a build with warnings is refused); put a blank between dnl and '('",
                (Edit(call.start + 3, call.start + 3, " "),),
                safe=True,
                length=3,
            )
        if call.detached and call.paren is not None:
            gap = call.start + len(call.name)
            yield Finding(
                call.start,
                ID,
                "error",
                f"the blank between {call.name} and '(' makes m4 call {call.name} without"
                " arguments and copy the rest into sendmail.cf; remove the blank",
                (Edit(gap, call.paren, ""),),
                safe=True,
                length=len(call.name),
            )
    for word in doc.words:
        if not word.paren_follows or word.hash_line:
            continue
        meant = _BY_LOWER.get(word.text.lower())
        if meant is not None and meant != word.text:
            yield Finding(
                word.start,
                ID,
                "error",
                f"m4 macro names are case-sensitive: {word.text}( is plain text that lands in"
                f" sendmail.cf (write {meant}()",
                (Edit(word.start, word.start + len(word.text), meant),),
                safe=True,
                length=len(word.text),
            )
