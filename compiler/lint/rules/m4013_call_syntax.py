"""M4013 call-syntax: a blank between a macro and `(`, or a macro name in the wrong case.

Nothing may stand between a macro name and its `(`: `FEATURE (`access_db')`
calls FEATURE with no arguments (m4: "cannot open `.../feature/.m4'") and
copies ` (access_db)` into sendmail.cf. Macro names are case-sensitive:
`feature(`access_db')` is plain text to m4, lands in the .cf, and sendmail
rejects it as an unknown configuration line. So is a name one or two letters
from a sendmail-cf macro (`FEATUR(`access_db')`, `DAEMON_OPTION(...)`) that
the file does not define itself (unless it includes a file of its own, which
may), and APPENDDEF/PREPENDDEF, macros of sendmail's devtools (a Build
site.config.m4), not of sendmail-cf. `dnl(` is a call with
arguments: m4 collects them (across lines) and warns. `--fix` removes the
blank, corrects the case, or separates dnl from its `(`.

PASS:
    FEATURE(`access_db', , `skip')dnl

FAIL at 1:1:
    FEATURE (`access_db', , `skip')dnl

FAIL at 1:1:
    feature(`access_db', , `skip')dnl

FAIL at 1:1:
    FEATUR(`access_db', , `skip')dnl

FAIL at 1:1:
    APPENDDEF(`confTLS_SRV_OPTIONS', `,C')dnl
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from compiler.lint.engine import Edit, Finding, LintContext
from compiler.lint.lexer import M4Document
from compiler.sendmail.m4names import BUILTINS, CF_MACROS
from compiler.sendmail.m4text import cf_tree

ID = "M4013"
NAME = "call-syntax"
KIND = "m4"

_BY_LOWER = {name.lower(): name for name in sorted(CF_MACROS | BUILTINS)}
#: a word that looks like a sendmail-cf macro name
_MACRO_LIKE = re.compile(r"[A-Z][A-Z0-9_]{3,}\Z")
#: sendmail-cf's macros in a fixed order, for the first close one of a misspelling
_CF_SORTED = tuple(sorted(CF_MACROS))
#: macros of sendmail's devtools (devtools/M4/*.m4, a Build site.config.m4)
_DEVTOOLS = ("APPENDDEF", "PREPENDDEF")


def _defined_or_unknowable(doc: M4Document) -> set[str]:
    """The names the file defines itself; every name when it includes a file of its own
    (not sendmail-cf's), which may define any."""
    for _call, target in doc.includes():
        if os.path.basename(target) != "cf.m4" and cf_tree(target) is None:
            return _Everything()
    return {
        doc.first_arg(c) for c in doc.quoted_calls() if c.name in ("define", "pushdef") and c.args
    }


class _Everything(set[str]):
    def __contains__(self, item: object) -> bool:
        return True


def _not_a_macro(word: str) -> str | None:
    """Why `word(` is text to m4, when it is a devtools macro or a sendmail-cf macro
    name one or two edits away; None for any other word (a site's own macro)."""
    if word in _DEVTOOLS:
        return (
            f"{word} is a macro of sendmail's devtools (a Build site.config.m4), not of"
            f" m4 or sendmail-cf: m4 copies {word}(...) into sendmail.cf as text; write"
            " the define it means"
        )
    close = [m for m in _CF_SORTED if abs(len(m) - len(word)) <= 2 and _edits(m, word) <= 2]
    if not close:
        return None
    return (
        f"{word} is no macro of m4 or sendmail-cf, so m4 copies {word}(...) into"
        f" sendmail.cf as text (did you mean {close[0]}?)"
    )


def _edits(a: str, b: str) -> int:
    """Levenshtein distance of two short words."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


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
    defined: set[str] | None = None
    for word in doc.words:
        if not word.paren_follows or word.hash_line:
            continue
        meant = _BY_LOWER.get(word.text.lower())
        if meant is None and _MACRO_LIKE.match(word.text):
            if defined is None:
                defined = _defined_or_unknowable(doc)
            if word.text not in defined and doc.diversion_at(word.start) != -1:
                why = _not_a_macro(word.text)
                if why is not None:
                    yield Finding(word.start, ID, "error", why, length=len(word.text))
            continue
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
