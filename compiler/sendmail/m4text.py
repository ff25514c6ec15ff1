"""Checks for raw m4 lines a person writes into `mc.extra`.

tlsc writes every other quote itself; `extra` is the one place raw m4 enters
a generated .mc, so each line must be self-contained: quotes opened with a
back-tick and closed with an apostrophe, balanced, parentheses balanced
outside quotes, no typographic quotes, no `#` comment line (it is live text
after cf.m4), nothing that changes m4's quoting or the MAILER order.
"""

from __future__ import annotations

import os
import re

TYPOGRAPHIC_QUOTES = "\u2018\u2019\u201a\u201b\u201c\u201d\u00b4\u2032\u2035"
_REFUSED_MACROS = {
    "changequote": "it changes m4's quote characters for the rest of the file",
    "changecom": "it changes m4's comment character for the rest of the file",
    "MAILER": "MAILER lines come from mc.mailers, after the STARTTLS include",
    "divert": "tlsc controls the diversions of the file",
    "undivert": "tlsc controls the diversions of the file",
    "m4exit": "it stops m4 in the middle of the file",
    "syscmd": "it runs a shell command while the .cf is built",
    "dnl": "dnl takes no arguments; m4 warns, and a build with warnings is refused",
    "esyscmd": "it runs a shell command while the .cf is built",
    "indir": "it calls any macro by name, the ones refused here included",
    "builtin": "it calls any m4 builtin by name, the ones refused here included",
    "debugfile": "it writes m4's trace output into a file while the .cf is built",
    "mkstemp": "it creates a file while the .cf is built",
    "maketemp": "it creates a file while the .cf is built",
}

# Switched off by the generated .mc itself right after the cf.m4 include, so that
# no spelling of these names (`e()cmd` joins into `esyscmd` when m4 rescans), in
# an extra line, a FEATURE argument or a rescanned define, can run a command,
# make a file or stop m4 early while the .cf is built. sendmail's cf files use
# none of them after that (cfhead.m4's syscmd runs during the include).
SWITCHED_OFF = (
    "syscmd",
    "esyscmd",
    "maketemp",
    "mkstemp",
    "debugfile",
    "m4exit",
    "indir",
    "builtin",
)
SWITCH_OFF_COMMENT = "dnl # tlsc: m4 builtins that run commands or make files are off from here on"
SWITCH_OFF_LINE = "".join(f"undefine(`{name}')" for name in SWITCHED_OFF) + "dnl"
# a mention of these names anywhere, as in defn(`esyscmd'), is refused too
_REFUSED_BY_NAME = (*SWITCHED_OFF, "changequote", "changecom")
_GUARD_NAME = re.compile(r"(?<![A-Za-z0-9_])_tlsc_[A-Za-z0-9_]*")


def check_line(line: str) -> list[tuple[int, str]]:
    """Problems in one raw m4 line, as (1-based column, sentence)."""
    problems: list[tuple[int, str]] = []
    for i, ch in enumerate(line):
        if ch in "\r\n\u2028\u2029" or (ord(ch) < 0x20 and ch != "\t") or 0x7F <= ord(ch) <= 0x9F:
            problems.append((i + 1, "an extra m4 line must be one line of printable text"))
            return problems
        if ch in TYPOGRAPHIC_QUOTES:
            problems.append(
                (i + 1, f"typographic quote '{ch}' where m4 needs ` to open or ' to close")
            )
            return problems
    if line.lstrip().startswith("#"):
        return [
            (
                1,
                "a '#' line is live m4 text after cf.m4 is included; write 'dnl #' for a comment",
            )
        ]
    if _is_dnl(line, 0):
        return problems
    # quotes removed too: `sys'`cmd(...)' is syscmd(...) once a macro body is rescanned
    unquoted = line.replace("`", "").replace("'", "")
    problems += _refused_macro(line, unquoted)
    guard = _GUARD_NAME.search(line) or _GUARD_NAME.search(unquoted)
    if not problems and guard is not None:
        problems.append(
            (
                guard.start() + 1 if guard.string is line else 1,
                f"{guard.group()} is not allowed in mc.extra: the include guard tlsc writes"
                " keeps m4's own include under that name",
            )
        )
    depth = 0
    parens = 0
    opened_at = 0
    i = 0
    while i < len(line):
        ch = line[i]
        if depth == 0 and _is_dnl(line, i):
            break
        if ch == "`":
            if depth == 0:
                opened_at = i
            depth += 1
        elif ch == "'":
            if depth == 0:
                prev = line[i - 1] if i else ""
                if prev in "(, ":
                    problems.append(
                        (i + 1, "a macro argument is opened with ' instead of a back-tick `")
                    )
                else:
                    problems.append((i + 1, "an apostrophe closes a quote that was never opened"))
                return problems
            depth -= 1
        elif depth == 0 and ch == "(":
            parens += 1
        elif depth == 0 and ch == ")":
            parens -= 1
            if parens < 0:
                problems.append((i + 1, "a ')' closes a parenthesis that was never opened"))
                return problems
        i += 1
    if depth > 0:
        problems.append((opened_at + 1, "a quote opened with ` is never closed with '"))
    elif parens > 0:
        problems.append((len(line), "a '(' is never closed; m4 would swallow the following lines"))
    return problems


def _refused_macro(line: str, unquoted: str) -> list[tuple[int, str]]:
    """The first refused macro the line calls, else the first it names."""
    for name, why in _REFUSED_MACROS.items():
        m = re.search(rf"(?<![A-Za-z0-9_]){name}\(", line)
        if m or re.search(rf"(?<![A-Za-z0-9_]){name}\(", unquoted):
            return [(m.start() + 1 if m else 1, f"{name}() is not allowed in mc.extra: {why}")]
    for name in _REFUSED_BY_NAME:
        bare = rf"(?<![A-Za-z0-9_]){name}(?![A-Za-z0-9_])"
        m = re.search(bare, line)
        if m or re.search(bare, unquoted):
            why = _REFUSED_MACROS[name]
            col = m.start() + 1 if m else 1
            return [(col, f"{name} is not allowed in mc.extra, not even by name: {why}")]
    return []


def _is_dnl(line: str, i: int) -> bool:
    """True when the m4 token at `i` is `dnl` that discards the rest of the line.

    `dnlx` is another name, and `dnl(` collects arguments (which may span lines)
    before it discards anything.
    """
    if not line.startswith("dnl", i) or _ident_before(line, i):
        return False
    after = line[i + 3 : i + 4]
    return not (after.isalnum() or after in ("_", "("))


def _ident_before(line: str, i: int) -> bool:
    return i > 0 and (line[i - 1].isalnum() or line[i - 1] == "_")


# -- what m4 may read into sendmail.cf ------------------------------------------

#: how the include guard's line starts
GUARD_START = "define(`_tlsc_refuse',"
INCLUDE_GUARD_COMMENT = (
    "dnl # tlsc: include, sinclude and undivert read only the sendmail cf tree and the"
    " managed directories from here on"
)
#: where a host's cf tree lives: .../cf/m4/cf.m4, Red Hat's .../sendmail-cf/m4/cf.m4
_CF_M4 = re.compile(r"^(/(?:[^/]+/)*(?:cf|mail|sendmail[^/]*))/m4/cf\.m4$")
_REGEX_SPECIAL = re.compile(r"([.*+?\[\]^$\\])")


def plain_components(path: str) -> bool:
    return all(part not in (".", "..") for part in path.split("/")[1:])


def cf_tree(cf_m4: str) -> str | None:
    """The sendmail cf tree of a cf.m4 path (…/cf for …/cf/m4/cf.m4), None if it is none."""
    m = _CF_M4.match(cf_m4)
    if m is None or not plain_components(cf_m4):
        return None
    return m.group(1)


def read_prefixes(cf_m4: str, managed: list[str]) -> list[str]:
    """The directories (each ending in /) below which the .mc may include files:
    the cf tree of `cf_m4`, /etc/mail and the directory of each managed file."""
    tree = cf_tree(cf_m4) or os.path.dirname(os.path.dirname(cf_m4))
    dirs = [os.path.dirname(p).rstrip("/") + "/" for p in managed]
    candidates = [tree.rstrip("/") + "/", "/etc/mail/", *dirs]
    out: list[str] = []
    for prefix in candidates:
        if prefix == "/" or prefix in out:
            continue
        out.append(prefix)
    return [p for p in out if not any(p != q and p.startswith(q) for q in out)]


def include_allowed(path: str, prefixes: list[str]) -> bool:
    """True when `path` is absolute, has no . or .. part, lies below one of `prefixes`
    and names an m4 file (`.m4`: not a key, a password file or a map that sits beside
    the m4 files in /etc/mail)."""
    return (
        path.startswith("/")
        and plain_components(path)
        and any(path.startswith(p) for p in prefixes)
        and path.endswith(".m4")
    )


def _regex_alternatives(prefixes: list[str]) -> str:
    return "\\|".join(_REGEX_SPECIAL.sub(r"\\\1", p) for p in prefixes)


def include_guard(prefixes: list[str]) -> list[str]:
    """The .mc lines, right after the switch-off line, that make include and sinclude
    (and undivert, which copies a file named instead of a diversion number)
    refuse any file not below `prefixes`: m4 prints a sentence (no newline can be
    written on one line, so m4's own "cannot open `'" follows on it) and exits 1.

    m4's own include, sinclude and undivert stay reachable only as `_tlsc_include`,
    `_tlsc_sinclude` and `_tlsc_undivert`, names validation refuses in mc.extra (any
    `_tlsc_` name); `defn(`include')` gives the guarded macro. Paths are tlsc's own
    (no quote can be in one), so `$1` is quoted safely in the bodies. sendmail's cf
    files include their own files (OSTYPE, FEATURE, MAILER, proto.m4 at the end) from
    the cf tree, which is allowed.
    """
    alts = _regex_alternatives(prefixes)
    return [
        INCLUDE_GUARD_COMMENT,
        "define(`_tlsc_refuse', `errprint(`tlsc: m4 refuses to read $1: only files below"
        " the sendmail cf tree and the managed directories may go into sendmail.cf; ')"
        # m4 cannot open an empty name: an m4 error, so m4 exits 1
        "_tlsc_include(`')')"
        "define(`_tlsc_include', defn(`include'))"
        "define(`_tlsc_sinclude', defn(`sinclude'))"
        "define(`_tlsc_read', `ifelse(regexp(`$2', `\\(^\\|/\\)\\.\\.?\\(/\\|$\\)'), `-1',"
        f" `ifelse(regexp(`$2', `^\\({alts}\\)'), `0', `$1(`$2')', `_tlsc_refuse(`$2')')',"
        " `_tlsc_refuse(`$2')')')"
        "define(`include', `ifelse(`$#', `0', ``$0'', `_tlsc_read(`_tlsc_include', `$1')')')"
        "define(`sinclude', `ifelse(`$#', `0', ``$0'', `_tlsc_read(`_tlsc_sinclude', `$1')')')"
        # GNU undivert(`FILE') copies a file too: only diversion numbers pass
        "define(`_tlsc_undivert', defn(`undivert'))"
        "define(`undivert', `ifelse(`$#', `0', `_tlsc_undivert', `_tlsc_divs($@)')')"
        "define(`_tlsc_divs', `ifelse(regexp(`$1', `^-?[0-9]+$'), `0', `_tlsc_undivert(`$1')',"
        " `_tlsc_refuse(`$1')')ifelse(`$#', `1', `', `_tlsc_divs(shift($@))')')"
        "dnl",
    ]


def widen_guard(mc_text: str, prefixes: list[str]) -> str:
    """The .mc with `prefixes` also allowed by its include guard (a tool that points an
    include at a copy elsewhere, as apply --root and the import round trip do)."""
    marker = "regexp(`$2', `^\\("
    at = mc_text.find("define(`_tlsc_read',")
    if at < 0 or not prefixes:
        return mc_text
    at = mc_text.find(marker, at)
    if at < 0:
        return mc_text
    at += len(marker)
    return mc_text[:at] + _regex_alternatives(prefixes) + "\\|" + mc_text[at:]


_INCLUDE_WORD = re.compile(r"(?<![A-Za-z0-9_])s?include(?![A-Za-z0-9_])")
_INCLUDE_CALL = re.compile(r"\(\s*(?:`([^`'$]*)'|([^`'$(),\s]+))\s*\)")


def included_paths(line: str) -> list[tuple[int, str | None]]:
    """(1-based column, path) of each include/sinclude in a raw m4 line; path None
    when the name is not a call with one written-out path (`defn(`include')`, a
    path built from macros, a name joined when m4 rescans the line)."""
    if line.lstrip().startswith("dnl") and _is_dnl(line, len(line) - len(line.lstrip())):
        return []
    found: list[tuple[int, str | None]] = []
    for m in _INCLUDE_WORD.finditer(line):
        call = _INCLUDE_CALL.match(line, m.end())
        path = (call.group(1) if call.group(1) is not None else call.group(2)) if call else None
        found.append((m.start() + 1, path))
    unquoted = line.replace("`", "").replace("'", "")
    if len(_INCLUDE_WORD.findall(unquoted)) > len(found):
        found.append((1, None))
    return found


#: a define-like call and its first argument's name, in a line with its quotes taken out
_DEFINING = re.compile(
    r"(?<![A-Za-z0-9_])(?:define|undefine|pushdef|popdef)\(\s*([A-Za-z_][A-Za-z0-9_]*)"
)


def defined_names(line: str) -> list[str]:
    """The names one m4 line defines, undefines or pushes anywhere in it, in a quoted
    argument too (a macro's body runs where it is called), up to a `dnl` that ends the
    line: quotes taken out, as m4 sees the text once it rescans it."""
    end = next((i for i in range(len(line)) if _is_dnl(line, i)), len(line))
    unquoted = line[:end].replace("`", "").replace("'", "")
    return _DEFINING.findall(unquoted)
