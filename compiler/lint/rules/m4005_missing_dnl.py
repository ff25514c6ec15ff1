"""M4005 missing-dnl: a macro call line without dnl that leaves a stray line in the .cf.

define, FEATURE, OSTYPE, MAILER, include and their kin expand to nothing,
but the newline after the call is still copied into sendmail.cf, as a blank
line, unless `dnl` deletes it. Blanks before `dnl` are worse: they start the
next line of the .cf, and a .cf line that starts with a blank continues the
line above it. Text after the call (`)dnI`) lands in the .cf and sendmail
rejects it as an unknown configuration line. Section macros such as
MAILER_DEFINITIONS and LOCAL_CONFIG, and VERSIONID (which writes a comment
line), are meant to be followed by their newline. `--fix` adds the `dnl`.

PASS:
    divert(-1)
    define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5')
    divert(0)dnl
    FEATURE(`access_db')dnl
    MAILER_DEFINITIONS

FAIL at 1:46:
    define(`confCIPHER_LIST', `HIGH:!aNULL:!MD5')

FAIL at 1:21:
    FEATURE(`access_db')  dnl

FAIL at 1:21:
    FEATURE(`access_db')dnI
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from compiler.lint.engine import Edit, Finding, LintContext
from compiler.lint.lexer import M4Document
from compiler.sendmail.m4names import SILENT_MACROS

ID = "M4005"
NAME = "missing-dnl"
KIND = "m4"

_DNL = re.compile(r"dnl(?![A-Za-z0-9_])")
_LOOKS_LIKE_DNL = re.compile(r"(?i)(dn[l1iI|]|dml|dln|dnl)(?![A-Za-z0-9_])")


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Statement calls whose line does not end in dnl while output is on."""
    statements = doc.top_calls()
    starts = [c.start for c in statements]
    events = sorted(e.start for e in doc.events)
    for k, call in enumerate(statements):
        if call.name not in SILENT_MACROS or not call.closed or call.diversion_after < 0:
            continue
        end = doc.line_end(call.end)
        if k + 1 < len(starts) and starts[k + 1] < end:
            continue  # another call follows on the same line
        if any(call.end <= e < end for e in events):
            continue  # a quoting problem there is reported on its own
        rest = doc.text[call.end : end]
        finding = _judge(doc, call.name, call.end, rest)
        if finding is not None:
            yield finding


def _judge(doc: M4Document, name: str, at: int, rest: str) -> Finding | None:
    stripped = rest.strip(" \t\r")
    if stripped == "":
        return Finding(
            at,
            ID,
            "warning",
            f"{name}(...) without dnl leaves a blank line in sendmail.cf; end the line with dnl",
            (Edit(at, at + len(rest.rstrip("\r")), "dnl"),),
            safe=True,
        )
    lead = len(rest) - len(rest.lstrip(" \t"))
    if _DNL.match(rest, lead):
        if lead == 0:
            return None
        return Finding(
            at,
            ID,
            "warning",
            "the blanks before dnl are copied to the start of the next sendmail.cf line,"
            " which then continues the line above it; remove them",
            (Edit(at, at + lead, ""),),
            safe=True,
            length=lead,
        )
    if doc.comments and any(s == at + lead for s, _ in doc.comments):
        return Finding(
            at + lead,
            ID,
            "warning",
            "this # comment is copied into sendmail.cf after a blank; write dnl # for a comment",
        )
    word = stripped.split()[0]
    m = _LOOKS_LIKE_DNL.match(word)
    if m and len(word) <= 4:
        return Finding(
            at + lead,
            ID,
            "error",
            f"'{word}' is not dnl, so m4 copies it into sendmail.cf, which rejects it as an"
            " unknown configuration line (write dnl)",
            (Edit(at, at + lead + len(word), "dnl"),),
            safe=True,
            length=len(word),
        )
    return Finding(
        at + lead,
        ID,
        "error",
        f"the text '{stripped[:40]}' after {name}(...) is copied into sendmail.cf; end the"
        " line with dnl, and write comments as dnl # ...",
        length=len(stripped),
    )
