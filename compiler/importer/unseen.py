"""TLS settings the import does not read: set where it does not look, or incomplete.

The import reads `tls:` from the plain TLS defines of sendmail.mc and of the
starttls.m4 it includes. m4 takes them from elsewhere too: a define inside an
ifdef/ifelse of the .mc, another file the .mc includes (Debian's
sendmail.conf writes /etc/mail/m4/*.m4, a site its own
include(`/etc/mail/local.m4')), or an `O ServerCertFile=` line of a
LOCAL_CONFIG section. A spec imported past them would say something else than
the host's sendmail.cf (`tls: {enabled: false}` on a host that offers
STARTTLS), and tlsc's starttls.m4, placed after the defines it knows, would
not have the last word; so each is an error naming its line. The built
sendmail.cf is then held against the spec's four STARTTLS settings, for
whatever this reading still misses.

A host whose TLS defines leave out one of the four settings sendmail needs
(STARTTLS_REQUIRED) offers no STARTTLS: `tls:` cannot say that with STARTTLS
on, so such a host is read as STARTTLS off (see `incomplete`).
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from compiler.importer.notes import Notes, Where
from compiler.importer.statements import Statement, statements
from compiler.lint.lexer import Call, M4Document, lex
from compiler.sendmail import OPTION_DEFINES, STARTTLS_REQUIRED, TLS_DEFINES, same_option
from compiler.sendmail.cfread import cf_values, logical_lines, read_option
from compiler.sendmail.m4text import cf_tree

#: the define of each setting sendmail needs to offer STARTTLS, and its cf option
REQUIRED_DEFINES = {
    next(d for d, s in TLS_DEFINES.items() if s == f"tls.{key}"): option
    for key, option in STARTTLS_REQUIRED.items()
}
#: how deep includes are followed (m4's own limit is far above what a host uses)
MAX_DEPTH = 8


@dataclass(frozen=True)
class Unseen:
    """One place that sets a TLS option the import does not read."""

    where: Where
    name: str  # the define (confSERVER_CERT) or the cf option (ServerCertFile)
    how: str  # "nested", "hash", "raw", "shared" or "included"
    outer: str = ""  # the call it stands in (nested), or the include line (included)


def _outer(doc: M4Document, call: Call) -> str:
    """The name of the top-level statement a nested call stands in; for a define (or
    pushdef) whose body holds it, `define TLS_ON`: the body runs where TLS_ON is called."""
    for stmt in statements(doc):
        if stmt.call is not None and stmt.start <= call.start < stmt.end:
            outer = stmt.call
            body = outer.args[1:2] if outer.name in ("define", "pushdef") else []
            if body and body[0].start <= call.start:
                return f"{outer.name} {doc.first_arg(outer)}"
            return outer.name
    return "a macro"


def _tls_define_calls(doc: M4Document, live_from: int | None = None) -> Iterator[Call]:
    """Defines and undefines of TLS options; on a `#` line only from offset `live_from`
    on (cf.m4 turns m4's `#` comments off, so after its include such a line runs).
    Also those in any quoted argument: a macro's body, a FEATURE's argument."""
    for c in doc.quoted_calls():
        if c.name not in ("define", "undefine") or not c.args:
            continue
        if c.hash_line and (live_from is None or c.start < live_from):
            continue
        if doc.first_arg(c) in TLS_DEFINES:
            yield c


def raw_options(
    doc: M4Document, path: str, stmts: list[Statement] | None = None
) -> Iterator[Unseen]:
    """`O ServerCertFile=...` lines m4 copies into sendmail.cf as they are (`stmts`:
    the file's statements, when the caller has them)."""
    for stmt in statements(doc) if stmts is None else stmts:
        if stmt.kind != "raw":
            continue
        for offset, line in logical_lines(stmt.text):
            got = read_option(line)
            if got is not None and got[0] in OPTION_DEFINES:
                yield Unseen(Where(path, stmt.line + offset - 1, 1), got[0], "raw")


def in_mc(doc: M4Document, path: str) -> list[Unseen]:
    """TLS options the .mc sets where the import does not read them: defines inside
    another call (ifdef, ifelse, a macro's body) and raw `O` lines."""
    found = []
    for c in _tls_define_calls(doc, doc.cf_m4_at):
        at = Where(path, *doc.pos(c.start))
        if c.hash_line:
            found.append(Unseen(at, doc.first_arg(c), "hash"))
        elif c.parent is not None or c.in_quotes:
            found.append(Unseen(at, doc.first_arg(c), "nested", _outer(doc, c)))
    stmts = statements(doc)
    return found + list(_shared(doc, path, stmts)) + list(raw_options(doc, path, stmts))


def _shared(doc: M4Document, path: str, stmts: list[Statement] | None = None) -> Iterator[Unseen]:
    """TLS defines m4 runs on a line they share with another statement (two defines,
    a define and a FEATURE): the import reads a define only from a line of its own."""
    calls = [
        c
        for c in _tls_define_calls(doc)  # no `#` line's
        if c.parent is None and not c.in_quotes and not c.detached
    ]
    if not calls:
        return
    every = statements(doc) if stmts is None else stmts
    raw = [(st.start, st.end) for st in every if st.kind == "raw"]
    starts = [start for start, _ in raw]
    for c in calls:
        at = bisect.bisect_right(starts, c.start) - 1
        if at >= 0 and c.start < raw[at][1]:
            yield Unseen(Where(path, *doc.pos(c.start)), doc.first_arg(c), "shared")


def in_starttls(doc: M4Document, path: str) -> list[Unseen]:
    """TLS defines starttls.m4 makes inside another call than the ifdef/ifelse guards
    the import reads through (Debian's `ifelse(sm_enable_tls, `yes', ...)`): a
    macro's body, a FEATURE's argument."""
    found = []
    for c in _tls_define_calls(doc, 0):
        if c.parent is None and not c.in_quotes:
            continue
        outer = _outer(doc, c)
        if outer not in ("ifdef", "ifelse"):
            found.append(Unseen(Where(path, *doc.pos(c.start)), doc.first_arg(c), "nested", outer))
    return found + list(_shared(doc, path))


def _includes(doc: M4Document) -> Iterator[tuple[Call, str]]:
    """The includes m4 runs (M4Document.includes) but of cf.m4 and the cf tree's files."""
    for c, target in doc.includes():
        if os.path.basename(target) != "cf.m4" and cf_tree(target) is None:
            yield c, target


def in_includes(
    doc: M4Document,
    path: str,
    skip: str | None,
    read: Callable[[str], tuple[str, str] | None],
    label: Callable[[str], str],
) -> list[Unseen]:
    """TLS options set in the files the .mc includes (and those they include), the cf
    tree's own files and `skip` (the starttls include) aside. `read` maps an include's
    argument to (real path, text), None when ROOT does not hold it."""
    found: list[Unseen] = []
    seen: set[str] = set()

    def walk(doc: M4Document, path: str, depth: int) -> None:
        for call, target in _includes(doc):
            if depth == 0 and target == skip:
                continue
            got = read(target)
            if got is None or got[0] in seen or depth >= MAX_DEPTH:
                continue
            real, text = got
            seen.add(real)
            inner = lex(text, real, "m4")
            line = doc.pos(call.start)[0]
            via = f"{label(path)}:{line}"
            for c in _tls_define_calls(inner, 0):
                at = Where(real, *inner.pos(c.start))
                found.append(Unseen(at, inner.first_arg(c), "included", via))
            found.extend(Unseen(u.where, u.name, "included", via) for u in raw_options(inner, real))
            walk(inner, real, depth + 1)

    walk(doc, path, 0)
    return found


def report(found: list[Unseen], notes: Notes, label: Callable[[str], str]) -> None:
    """One error (I139) for each place, in one sentence."""
    for u in found:
        if u.how == "nested" and " " in u.outer:
            how, macro = u.outer.split(" ", 1)
            why = (
                f"{u.name} is set in the body of the macro {macro} this {how}() makes, which"
                f" m4 runs wherever {macro} is called, and tlsc reads only the TLS defines m4"
                f" always runs; write the define on its own line, outside any macro, and"
                " import again"
            )
        elif u.how == "nested":
            why = (
                f"{u.name} is set inside {u.outer}() here, and tlsc reads only the TLS defines"
                f" m4 always runs; move the define out of the {u.outer}() and import again"
            )
        elif u.how == "hash":
            why = (
                f"this '#' line is live m4 text after cf.m4 is included, so m4 runs its"
                f" {u.name} define, which tlsc does not read; write 'dnl #' for a comment (or"
                " the define alone on its line) and import again"
            )
        elif u.how == "shared":
            why = (
                f"this line holds the {u.name} define together with another statement, and"
                " tlsc reads a TLS define only when it stands alone on its line; put each"
                " statement on a line of its own and import again"
            )
        elif u.how == "raw":
            why = (
                f"this line writes the sendmail.cf option {u.name} itself, and tlsc reads"
                " only the TLS defines (confSERVER_CERT, ...); write it as its define and"
                " import again"
            )
        else:
            why = (
                f"{u.name} is set in {label(u.where.path)}, which {u.outer} includes, and"
                " tlsc reads the TLS settings only from sendmail.mc and the starttls.m4 it"
                " includes, so it cannot adopt this one; move the line into one of them and"
                " import again"
            )
        notes.error(u.where, "I139", why)


def incomplete(set_at: dict[str, Where]) -> list[str]:
    """The defines sendmail needs to offer STARTTLS that the files leave unset."""
    return [d for d in REQUIRED_DEFINES if d not in set_at]


def cf_tls_options(cf: str) -> dict[str, str]:
    """The TLS options an `O Name=value` line of a sendmail.cf sets (the last one wins)."""
    return {name: value for name, value in cf_values(cf).items() if name in OPTION_DEFINES}


def check_built(
    cf: str, tls: dict[str, object], unread: set[str], where: Where, notes: Notes
) -> None:
    """The host's own sendmail.cf against the spec's four STARTTLS settings: with
    STARTTLS off it must lack one of them, with it on hold each as the spec says
    (`unread`: tls: keys whose define the import could not read, already reported)."""
    have = cf_tls_options(cf)
    if tls.get("enabled", True) is False:
        if all(have.get(o) for o in REQUIRED_DEFINES.values()):
            names = ", ".join(REQUIRED_DEFINES.values())
            notes.error(
                where,
                "I139",
                f"the host's sendmail.cf sets {names}, so sendmail offers STARTTLS, but no"
                " TLS define the import reads sets them (tls.enabled would be false); set"
                " them with plain defines in sendmail.mc or its starttls.m4 and import again",
            )
        return
    for define, option in REQUIRED_DEFINES.items():
        key = TLS_DEFINES[define].removeprefix("tls.")
        value = tls.get(key)
        wanted = value if isinstance(value, str) else None  # a path, or unset
        if key not in unread and not same_option(option, have.get(option), wanted):
            notes.error(
                where,
                "I139",
                f"the host's sendmail.cf has {option}={have.get(option, '')}, but the TLS"
                f" defines the import reads give tls.{key}: {tls.get(key)}; something else"
                " sets the option, so tlsc cannot adopt it",
            )
