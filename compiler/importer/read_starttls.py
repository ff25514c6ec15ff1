"""starttls.m4 (and the TLS defines of the .mc) -> the spec's `tls:`.

m4 meets the TLS defines in this order: the .mc's up to its starttls
include, then starttls.m4's (also those inside Debian's `ifelse` guard, read
as if the guard holds), then the .mc's after the include; the last define
wins. The spec holds the value in effect at the end. A setting the files do
not make but tlsc's defaults would (`ca_cert`, `timeout`, `V`, ...) is set
explicitly to null / false so the compiled files match. DontBlameSendmail
is split: `GroupReadableKeyFile` becomes `group_readable_key`, a plain
define of other flags stays in `mc.defines`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from compiler.importer.notes import Notes, Where
from compiler.importer.read_mc import McRead, TlsDefine, joined_name, plain_value, valid
from compiler.importer.statements import inert, statements
from compiler.lint.lexer import Call, M4Document
from compiler.sendmail import REFUSED_DEFINES, TLS_DEFINES, option_true
from compiler.sendmail.m4text import check_line
from compiler.spec.model import (
    AbsPath,
    CaDirPath,
    CipherList,
    Ciphersuites,
    DefineName,
    DefineValue,
    DhParams,
    Duration,
    SslOption,
    Tls,
)

GROUP_READABLE = "GroupReadableKeyFile"
_BLAME = "confDONT_BLAME_SENDMAIL"
_DEFN = re.compile(
    r"ifdef\(`confDONT_BLAME_SENDMAIL',\s*`defn\(`confDONT_BLAME_SENDMAIL'\)`,''\)"
    r"|defn\(`confDONT_BLAME_SENDMAIL'\)"
)
_DNL = re.compile(r"\bdnl\b[^\n]*\n?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: names cfhead.m4 defines that a helper macro's value may name (cf/README's
#: `define(`CERT_DIR', `MAIL_SETTINGS_DIR`'certs')')
CF_DEFAULTS = {"MAIL_SETTINGS_DIR": "/etc/mail/"}
_PATHS = {
    "confCACERT_PATH": "ca_cert_path",
    "confCACERT": "ca_cert",
    "confSERVER_CERT": "server_cert",
    "confSERVER_KEY": "server_key",
    "confCLIENT_CERT": "client_cert",
    "confCLIENT_KEY": "client_key",
    "confCRL": "crl",
}
_SCALARS: dict[str, tuple[str, Any]] = {
    **{name: (key, AbsPath) for name, key in _PATHS.items()},
    "confCACERT_PATH": ("ca_cert_path", CaDirPath),
    "confDH_PARAMETERS": ("dh_params", DhParams),
    "confTO_STARTTLS": ("timeout", Duration),
    "confCIPHER_LIST": ("cipher_list", CipherList),
}
_LISTS = {
    "confSERVER_SSL_OPTIONS": "server_ssl_options",
    "confCLIENT_SSL_OPTIONS": "client_ssl_options",
}


def unset_settings() -> dict[str, Any]:
    """Every `tls:` key as a file that does not set it has it: no list, no line, off."""
    return {
        k: ([] if isinstance(v, list) else False if isinstance(v, bool) else None)
        for k, v in Tls().model_dump().items()
    }


@dataclass
class TlsRead:
    """The `tls:` settings in effect, and the define of other DontBlameSendmail flags."""

    enabled: bool
    settings: dict[str, Any] = field(default_factory=dict)
    dont_blame: str | None = None
    #: non-TLS defines found in starttls.m4, for mc.defines
    other_defines: dict[str, str] = field(default_factory=dict)
    #: statements of starttls.m4 kept for mc.extra
    extra: list[tuple[str, Where]] = field(default_factory=list)
    #: where the value in effect of each TLS define was set
    set_at: dict[str, Where] = field(default_factory=dict)
    #: defines and undefines of other names in starttls.m4 (see McRead.macros)
    macros: dict[str, list[str | None]] = field(default_factory=dict)
    #: why STARTTLS is off, for the summary
    off: str = "no starttls include"


#: the block tlsc writes for tls.ciphersuites (no conf* define reaches the option); before
#: it kept the includer's diversion it was LOCAL_CONFIG ... divert(0)dnl
_SUITES_BLOCK = re.compile(
    r"^(?:LOCAL_CONFIG|PUSHDIVERT\(6\)dnl)\n`?O CipherSuites=([A-Za-z0-9_:]+)'?\n"
    r"(?:divert\(0\)|POPDIVERT`')dnl$",
    re.MULTILINE,
)
#: the line that ends tlsc's header, back in the includer's diversion (render/starttls.py)
_POPDIVERT = "POPDIVERT`'dnl"


def _ciphersuites(doc: M4Document, path: str, notes: Notes, out: TlsRead) -> set[int]:
    """tls.ciphersuites from the `O CipherSuites=` block; the line numbers it takes."""
    taken: set[int] = set()
    for m in _SUITES_BLOCK.finditer(doc.text):
        line = doc.text.count("\n", 0, m.start()) + 1
        problem = valid(Ciphersuites, m.group(1))
        if problem:
            notes.loss(Where(path, line + 1, 1), "I136", f"O CipherSuites: {problem}")
            continue
        out.settings["ciphersuites"] = m.group(1)
        taken |= {line, line + 1, line + 2}
    return taken


def starttls_defines(doc: M4Document, path: str, notes: Notes, out: TlsRead) -> list[TlsDefine]:
    """The TLS defines of starttls.m4 in order; other statements go to `out` or the notes."""
    events: list[TlsDefine] = []
    suites = _ciphersuites(doc, path, notes, out)
    for stmt in statements(doc):
        if stmt.line in suites:
            continue
        at = Where(path, stmt.line, stmt.col)
        if stmt.kind in ("blank", "comment"):
            if stmt.kind == "comment":
                notes.drop(f"comment lines in {os.path.basename(path)}")
            continue
        call = stmt.call
        if call is None and stmt.oneline == _POPDIVERT:
            notes.drop("divert() header lines")
            continue
        if call is None and inert(doc, stmt):
            notes.drop(f"comment lines in {os.path.basename(path)}")
            continue
        if call is None:
            notes.loss(at, "I130", "text in starttls.m4 that tlsc cannot carry over")
            continue
        if call.name in ("ifdef", "ifelse"):
            inner = [
                c
                for c in doc.all_calls()
                if c.in_quotes and stmt.start <= c.start < stmt.end and c.parent is None
            ]
            defines = [c for c in inner if c.name in ("define", "undefine")]
            if defines:
                notes.note(
                    at, f"read the conditional {call.name}() block as if its condition holds"
                )
            for c in defines:
                events += _event(doc, c, path, notes, out)
            if len(defines) != len(inner):
                notes.drop("Debian autoconf guard in starttls.m4")
        elif call.name in ("define", "undefine"):
            events += _event(doc, call, path, notes, out)
        elif call.name == "VERSIONID":
            notes.drop("VERSIONID lines (tlsc writes its own)")
        elif call.name in ("divert", "PUSHDIVERT"):
            notes.drop("divert() header lines")
        elif stmt.oneline is not None:
            out.extra.append((stmt.oneline, at))
            notes.keep(at, "mc.extra (moved from starttls.m4)")
        else:
            notes.loss(at, "I130", "a statement in starttls.m4 that tlsc cannot carry over")
    return events


def _event(doc: M4Document, call: Call, path: str, notes: Notes, out: TlsRead) -> list[TlsDefine]:
    at = Where(path, *doc.pos(call.start))
    name = doc.first_arg(call) if call.args else ""
    if name in REFUSED_DEFINES:
        notes.error(at, "I120", f"{name}: {REFUSED_DEFINES[name]}; remove it and import again")
        return []
    value: str | None = None
    raw = ""
    readable = True
    if call.name == "define":
        if len(call.args) > 1:
            # inside an ifelse branch the lexer records no dnl spans: drop them here
            raw = _DNL.sub("", doc.arg_text(call.args[1]))
            value = plain_value(doc, call.args[1])
            readable = value is not None
        else:
            value = ""
    if name in TLS_DEFINES or name == _BLAME:
        return [TlsDefine(name, value, raw, at, readable)]
    macro = value if call.name == "define" and readable else None
    out.macros.setdefault(name, []).append(macro if macro is not None else joined_name(doc, call))
    if (
        call.name == "define"
        and value
        and valid(DefineValue, value) is None
        and valid(DefineName, name) is None
    ):
        out.other_defines[name] = value
        notes.note(at, f"{name} moves from starttls.m4 to mc.defines")
        return []
    line = doc.text[call.start : call.end]
    if "\n" not in line and check_line(line + "dnl") == []:
        out.extra.append((line + "dnl", at))  # a helper such as CERT_DIR: kept as it is
        notes.keep(at, "mc.extra (moved from starttls.m4)")
    else:
        notes.loss(at, "I131", f"cannot carry over this {call.name} of {name} in starttls.m4")
    return []


def expand_helpers(value: str, macros: dict[str, list[str | None]]) -> str | None:
    """`value` with the names it holds that are defined once, with a plain value, replaced
    by that value, as m4 does when proto.m4 (run at the end of input) writes the option;
    a replaced value may name further such names, and an empty quote in it joins a name
    to text (`MAIL_SETTINGS_DIR`'certs', MAIL_SETTINGS_DIR being cfhead.m4's /etc/mail/
    unless the files define it). None when nothing was replaced or a name is left."""
    known = {k: v for k, v in CF_DEFAULTS.items() if k not in macros}
    known.update({k: v[0] for k, v in macros.items() if len(v) == 1 and v[0] is not None})
    out = value
    for _round in range(8):
        changed = False

        def one(m: re.Match[str]) -> str:
            nonlocal changed
            found = known.get(m.group())
            if found is None:
                return m.group()
            changed = True
            return found

        out = _WORD.sub(one, out)
        if not changed:
            break
    out = out.replace("`'", "")
    if out == value or "`" in out or "'" in out:
        return None
    if any(w in macros or w in CF_DEFAULTS for w in _WORD.findall(out)):
        return None
    return out


def resolve_tls(
    mc: McRead,
    st_doc: M4Document | None,
    st_path: str | None,
    notes: Notes,
) -> TlsRead:
    """The tls: settings in effect after the .mc, starttls.m4 and the .mc again."""
    enabled = mc.starttls_include is not None or any(
        e.name in TLS_DEFINES for e in [*mc.tls_before, *mc.tls_after]
    )
    out = TlsRead(enabled)
    if not enabled:
        blame_without_tls(mc, notes)
        return out
    events = list(mc.tls_before)
    if st_doc is not None and st_path is not None:
        events += starttls_defines(st_doc, st_path, notes, out)
    events += mc.tls_after
    state: dict[str, TlsDefine | None] = {}
    explicit: list[str] | None = None
    appended: list[str] = []
    blame_at: Where | None = None
    for e in events:
        if e.name == _BLAME:
            blame_at = e.where
            if e.value is None and e.raw == "":
                explicit, appended = [], []  # undefine
            elif _DEFN.search(e.raw):
                appended += _tokens(_DEFN.sub(" ", e.raw))
            elif e.readable and e.value is not None:
                explicit, appended = _tokens(e.value), []
            else:
                notes.loss(e.where, "I132", "cannot read this DontBlameSendmail define")
            continue
        previous = state.get(e.name)
        if previous is not None and previous.where.path != e.where.path:
            notes.note(
                previous.where,
                f"{e.name} here is overridden by {e.where}; the spec keeps the later value",
            )
        state[e.name] = e if (e.value is not None or not e.readable) else None
    macros: dict[str, list[str | None]] = {}
    for source in (mc.macros, out.macros):
        for name, values in source.items():
            macros.setdefault(name, []).extend(values)
    _settings(state, out, notes, macros)
    flags = [*(explicit or []), *appended]
    out.settings["group_readable_key"] = GROUP_READABLE in flags
    rest = [f for f in flags if f != GROUP_READABLE]
    if explicit is not None and rest:
        out.dont_blame = ",".join(dict.fromkeys(rest))
    elif rest and blame_at is not None:
        notes.loss(
            blame_at,
            "I133",
            f"DontBlameSendmail flags appended here ({', '.join(rest)}) cannot be carried"
            " over; tlsc appends only GroupReadableKeyFile",
        )
    return out


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[\s,`']+", text) if t]


def _settings(
    state: dict[str, TlsDefine | None],
    out: TlsRead,
    notes: Notes,
    macros: dict[str, list[str | None]],
) -> None:
    s = out.settings
    for name in TLS_DEFINES:
        e = state.get(name)
        if e is not None:
            out.set_at[name] = e.where
        if e is not None and (not e.readable or e.value is None):
            notes.loss(e.where, "I134", f"cannot read the value of {name} (it needs m4 to expand)")
            continue
        value = e.value if e is not None else None
        expanded = expand_helpers(value, macros) if value else None
        if expanded is not None and e is not None:
            notes.note(e.where, f"{name} `{value}' is {expanded} once m4 expands it")
            value = expanded
        if name == "confTLS_SRV_OPTIONS":
            # sendmail (readcf.c) reads the letters V and C, skipping blanks and commas;
            # an empty value sets no flag, so the server asks for a certificate (Debian's
            # packaged starttls.m4 defines it empty)
            s["request_client_cert"] = "V" not in (value or "")
            if value is not None and value.strip(" \t,") in ("", "V"):
                continue
            if value is not None:
                assert e is not None
                notes.loss(
                    e.where,
                    "I135",
                    f"confTLS_SRV_OPTIONS `{value}': tlsc writes only `V'"
                    " (request_client_cert: false) or nothing",
                )
            continue
        if name == "confDANE":
            if value is not None:
                s["dane"] = option_true(value)
            continue
        if name in _LISTS:
            items = re.split(r"[\s,]+", value.strip()) if value else []
            for item in items:
                problem = valid(SslOption, item)
                if problem and e is not None:
                    notes.loss(e.where, "I136", f"{name}: {problem}")
            s[_LISTS[name]] = [i for i in items if i]
            continue
        key, tp = _SCALARS[name]
        if value == "":
            assert e is not None
            notes.loss(
                e.where,
                "I137",
                f"{name} is defined empty (sendmail writes a bare option); tlsc cannot write that",
            )
            continue
        if value is not None:
            problem = valid(tp, value)
            single = re.sub("//+", "/", value)
            # `define(`CERT_DIR', `MAIL_SETTINGS_DIR/certs')`, cf/README's idiom, is
            # /etc/mail//certs: the same file to the kernel and to sendmail
            if problem and single != value and value.startswith("/") and not valid(tp, single):
                assert e is not None
                notes.note(e.where, f"{name} `{value}' read as {single}, the same path")
                value, problem = single, None
            if problem:
                assert e is not None
                notes.loss(e.where, "I136", f"{name} `{value}': {problem}")
                continue
        s[key] = value


def blame_without_tls(mc: McRead, notes: Notes) -> None:
    """No STARTTLS: DontBlameSendmail is an ordinary define again."""
    events = [*mc.tls_before, *mc.tls_after]
    value = events[0].value if len(events) == 1 and events[0].readable else None
    if value:
        e = events[0]
        if valid(DefineValue, value) is None and not _DEFN.search(e.raw):
            mc.defines[_BLAME] = value
            mc.define_at[_BLAME] = e.where
            return
    for e in events:
        if e.text is not None:
            mc.extra.append((e.text, e.where))
            notes.keep(e.where, "mc.extra")
        else:
            notes.loss(e.where, "I132", "cannot carry over this DontBlameSendmail define")
