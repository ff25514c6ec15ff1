"""sendmail.mc -> the spec's `mc:` and `paths:`, plus the TLS defines it holds.

Each statement is modelled when tlsc renders it the same way (OSTYPE,
DOMAIN, a define set once, FEATUREs, DAEMON_OPTIONS, MAILERs, the cf.m4 and
starttls includes); anything else that m4 would act on is kept verbatim in
`mc.extra`, in file order. tlsc writes its own header, VERSIONID and
comments, so comments, blank lines and VERSIONID are dropped. Moving a
statement into tlsc's fixed order can change what m4 builds; the round trip
(`roundtrip.py`) builds both with real m4 and reports any difference.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from compiler.importer.notes import Notes, Where
from compiler.importer.statements import Statement, inert, statements
from compiler.lint.lexer import Arg, Call, M4Document
from compiler.lint.rules.m4004_starttls_include import is_starttls
from compiler.sendmail import (
    DOMAINS,
    FEATURES,
    MAILERS,
    OSTYPES,
    REFUSED_DEFINES,
    REFUSED_FEATURES,
    TLS_DEFINES,
)
from compiler.sendmail.m4names import BUILTINS, CF_MACROS
from compiler.sendmail.m4text import (
    GUARD_START,
    SWITCH_OFF_LINE,
    check_line,
    include_allowed,
    read_prefixes,
)
from compiler.sendmail.names import port_digits
from compiler.spec.model import (
    MTA_STS_SOCKET,
    AbsPath,
    DefineName,
    DefineValue,
    M4Arg,
    M4Text,
    Mc,
    Paths,
    SocketMap,
)

#: sts.m4's socket map when FEATURE(`sts') has no argument
STS_DEFAULT_SOCKET = "inet:5461@127.0.0.1"
#: the FEATURE(`sts') argument tls.mta_sts writes: `socket -d5 -T<TMPF> ADDRESS`
_STS_ARG = re.compile(r"^socket -d5 -T<TMPF> (\S+)$")

#: defines tls: owns (starttls.m4 renders them); DontBlameSendmail carries group_readable_key
TLS_NAMES = frozenset(TLS_DEFINES) | {"confDONT_BLAME_SENDMAIL"}
_PLAIN_WORD = re.compile(r"^[A-Za-z0-9_.:/+@=-]*\Z")
_MACRO_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONF_WORD = re.compile(r"conf[A-Z0-9_]+")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class TlsDefine:
    """A define or undefine of a name tls: owns, in the order m4 meets it."""

    name: str
    value: str | None  # None: undefine, or a value that could not be read
    raw: str  # the value argument as written (DontBlameSendmail appends with defn)
    where: Where
    readable: bool = True
    text: str | None = None  # the statement as one line, to keep it verbatim


@dataclass
class McRead:
    """What the .mc says, in spec terms."""

    cf_m4: str | None = None
    cf_m4_included: bool = False  # also when cf_m4 is not kept (a relative include)
    ostype: str | None = None
    domain: str | None = None
    defines: dict[str, str] = field(default_factory=dict)
    features: list[dict[str, Any]] = field(default_factory=list)
    daemon_options: list[str] = field(default_factory=list)
    extra: list[tuple[str, Where]] = field(default_factory=list)
    mailers: list[str] = field(default_factory=list)
    starttls_include: str | None = None
    #: TLS defines before the starttls include, and after it
    tls_before: list[TlsDefine] = field(default_factory=list)
    tls_after: list[TlsDefine] = field(default_factory=list)
    #: the first argument of FEATURE(access_db), when given
    access_db_map: str | None = None
    #: the socket map address of FEATURE(`sts') (tls.mta_sts.socket), when read
    mta_sts_socket: str | None = None
    #: where each modelled define came from (for the round-trip report)
    define_at: dict[str, Where] = field(default_factory=dict)
    #: the MTA daemon's port, for the spec's smtp_port, when DAEMON_OPTIONS name one port
    smtp_port: int | None = None
    #: DAEMON_OPTIONS lines kept verbatim (their ports cannot be read)
    daemon_unread: list[Where] = field(default_factory=list)
    #: every define (its plain value, or None) and undefine of other names, in order:
    #: TLS values that name them (`CERT_DIR/host.pem') are expanded with them
    macros: dict[str, list[str | None]] = field(default_factory=dict)


#: a define value m4 reads as a macro name joined to plain text by an empty quote
JOINED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*`'[^`'$]*")


def joined_name(doc: M4Document, call: Call) -> str | None:
    """The quoted value of a `define` when it is a name joined to text by an empty quote
    (`MAIL_SETTINGS_DIR`'certs', cf/README's CERT_DIR), expanded when a TLS value naming
    the defined name is written; None for anything else."""
    if call.name != "define" or len(call.args) < 2 or not doc.arg_quoted(call.args[1]):
        return None
    value = doc.arg_value(call.args[1])
    return value if JOINED_NAME.fullmatch(value) else None


def valid(tp: Any, value: object) -> str | None:
    """None when `value` passes the spec type `tp`, else the validator's sentence."""
    if isinstance(value, str) and _NOT_UTF8.search(value):
        # a byte of a Latin-1 file, read with surrogateescape
        return "it holds a byte that is not UTF-8, and the spec is UTF-8 text"
    try:
        TypeAdapter(tp).validate_python(value, strict=True)
    except ValidationError as exc:
        msg = str(exc.errors(include_url=False)[0]["msg"])
        return msg.removeprefix("Value error, ")
    return None


def plain_value(doc: M4Document, arg: Arg) -> str | None:
    """The value m4 gives an argument, when reading it needs no macro expansion.

    A quoted argument is its text without the quotes. An unquoted one
    (`OSTYPE(linux)`) is its own value when it is a plain word holding no
    name m4 would expand: no builtin, no cf macro, nothing the file defines,
    no `_NAME` or `confNAME` (cf.m4 and the OSTYPE files define such names).
    m4 skips the blanks before an unquoted argument but keeps those after it,
    so `OSTYPE(linux )` is not read either.
    """
    text = doc.arg_text(arg)
    if text == "":
        return ""
    if doc.arg_quoted(arg):
        value = doc.arg_value(arg)
        return None if "`" in value or "'" in value else value
    if not _PLAIN_WORD.match(text) or doc.text[arg.end - 1] in " \t\r\n":
        return None
    if any(c.start >= arg.start and c.end <= arg.end for c in doc.calls if c.parent is not None):
        return None
    for word in _MACRO_WORD.findall(text):
        if word in BUILTINS or word in CF_MACROS or word in doc_defined(doc) or _cf_name(word):
            return None
    return text


def _cf_name(word: str) -> bool:
    """A name cf.m4 or an OSTYPE/DOMAIN file may have defined (`_ARG_`, `confEBINDIR`)."""
    return word.startswith("_") or _CONF_WORD.fullmatch(word) is not None


def doc_defined(doc: M4Document) -> set[str]:
    """Names the file itself defines (an unquoted one of them would expand)."""
    return {doc.first_arg(c) for c in doc.top_calls("define", "pushdef") if c.args}


#: /etc/services names sendmail resolves with getservbyname(3) (daemon.c)
SERVICES = {
    "smtp": 25,
    "mail": 25,
    "submission": 587,
    "submissions": 465,
    "smtps": 465,
    "ssmtp": 465,
}


def daemon_fields(option: str) -> dict[str, str]:
    """KEY=VALUE fields of one DaemonPortOptions value, keyed by the first letter of the
    key, upper-cased: sendmail reads a key by its first letter (Port=, P=, port=)."""
    out: dict[str, str] = {}
    for part in option.split(","):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            out[key[0].upper()] = value.strip()
    return out


def mta_ports(options: list[str]) -> tuple[set[int], list[str]]:
    """(ports of the MTA listeners, Port= names that are not known) of DAEMON_OPTIONS.

    Submission daemons are left out: Name=MSA/MSP, M= with `a` (AUTH required) or
    `s` (SMTPS), Port=submission/587 or smtps/465; so are Family=local sockets.
    Without DAEMON_OPTIONS sendmail's one daemon is the MTA on port 25.
    """
    ports: set[int] = set()
    unknown: list[str] = []
    for option in options:
        f = daemon_fields(option)
        if f.get("F", "inet").lower() in ("local", "unix"):
            continue
        name = f.get("N", "").upper()
        port_text = f.get("P", "smtp")
        port = int(port_text) if port_digits(port_text) else SERVICES.get(port_text.lower())
        mods = f.get("M", "")
        if name.startswith(("MSA", "MSP")) or "a" in mods or "s" in mods or port in (587, 465):
            continue
        if port is None:
            unknown.append(port_text)
        else:
            ports.add(port)
    return ports, unknown


#: names sendmail-cf macros set as well as define: INPUT_MAIL_FILTER appends the
#: filter to confINPUT_MAIL_FILTERS (cfhead.m4), so a define of it after one replaces
#: the list and a define before one is added to
_IMPLICIT_SETTERS = {
    "confINPUT_MAIL_FILTERS": re.compile(r"(?<![A-Za-z0-9_])INPUT_MAIL_FILTER\s*\("),
}


@dataclass
class _Pending:
    """A define/undefine of an ordinary name, decided once the whole file is read."""

    name: str
    value: str | None
    stmt: Statement
    index: int  # position in the extra list where it goes when kept verbatim


class _McReader:
    def __init__(self, doc: M4Document, path: str, notes: Notes):
        self.doc = doc
        self.path = path
        self.notes = notes
        self.out = McRead()
        self.after_cf = False
        self.after_mailer: Where | None = None
        self.pending: list[_Pending] = []
        self.extra_slots: list[tuple[str, Where] | _Pending] = []

    def where(self, stmt: Statement) -> Where:
        return Where(self.path, stmt.line, stmt.col)

    def run(self) -> McRead:
        for stmt in statements(self.doc):
            if stmt.kind == "blank":
                continue
            if stmt.kind == "comment":
                self.notes.drop(f"comment lines in {os.path.basename(self.path)}")
                continue
            if stmt.kind == "raw":
                self.raw(stmt)
                continue
            assert stmt.call is not None
            self.call(stmt, stmt.call)
        self.decide_defines()
        self.smtp_port()
        if self.out.ostype is None:
            self.notes.loss(
                Where(self.path),
                "I110",
                "the .mc has no OSTYPE; tlsc always writes OSTYPE(`debian'), so the built"
                " .cf differs",
            )
        return self.out

    # -- statements ----------------------------------------------------------

    def raw(self, stmt: Statement) -> None:
        if inert(self.doc, stmt):
            self.notes.drop(f"comment lines in {os.path.basename(self.path)}")
            return
        if stmt.text.strip() == SWITCH_OFF_LINE:
            self.notes.drop("lines switching m4 builtins off (tlsc writes its own)")
            return
        if stmt.text.strip().startswith(GUARD_START):
            self.notes.drop("tlsc's include guard (tlsc writes its own)")
            return
        self.keep(stmt)

    def keep(self, stmt: Statement, why: str = "") -> None:
        """Keep the statement verbatim in mc.extra (or report it lost)."""
        at = self.where(stmt)
        if stmt.oneline is None:
            self.notes.loss(
                at,
                "I111",
                "this statement spans several lines with a line break inside a quote;"
                " mc.extra holds single lines, so it cannot be carried over",
            )
            return
        text = stmt.oneline.rstrip()
        problems = check_line(text)
        if problems:
            col, message = problems[0]
            self.notes.loss(
                Where(at.path, at.line, col if not stmt.multiline else at.col),
                "I112",
                f"cannot keep this line in mc.extra: {message}",
            )
            return
        self.extra_slots.append((text, at))
        self.notes.keep(at, "mc.extra" + (f" ({why})" if why else ""))

    def call(self, stmt: Statement, call: Call) -> None:
        name = call.name
        doc = self.doc
        at = self.where(stmt)
        first = doc.first_arg(call) if call.args else ""
        if name in ("include", "sinclude") and call.args:
            self.include(stmt, first)
        elif name == "divert" and not self.after_cf:
            self.notes.drop("divert() header lines")
        elif name == "VERSIONID":
            self.notes.drop("VERSIONID lines (tlsc writes its own)")
        elif name in ("define", "undefine") and call.args and _MACRO_WORD.fullmatch(first):
            if first in TLS_DEFINES or plain_value(doc, call.args[0]) == first:
                self.define(stmt, call, first)
            else:  # an unquoted name that may be a macro already: m4 would expand it
                self.keep(stmt)
        elif name == "OSTYPE" and self.out.ostype is None and (os_ := self.simple(call, OSTYPES)):
            self.out.ostype = os_
        elif name == "DOMAIN" and self.out.domain is None and (dom := self.simple(call, DOMAINS)):
            self.out.domain = dom
        elif name == "FEATURE" and call.args:
            self.feature(stmt, call)
        elif name == "DAEMON_OPTIONS":
            self.daemon_options(stmt, call)
        elif name == "MAILER":
            mailer = self.simple(call, MAILERS)
            if mailer is not None and mailer not in self.out.mailers:
                self.out.mailers.append(mailer)
                self.after_mailer = self.after_mailer or at
            else:
                self.notes.loss(at, "I113", f"MAILER line tlsc cannot write: {stmt.text.strip()}")
        else:
            self.keep(stmt)

    def simple(self, call: Call, known: frozenset[str]) -> str | None:
        """The one argument, quoted or a plain word, when it names something sendmail-cf has."""
        if len(call.args) != 1:
            return None
        value = plain_value(self.doc, call.args[0])
        return value if value is not None and value in known else None

    def include(self, stmt: Statement, target: str) -> None:
        at = self.where(stmt)
        if os.path.basename(target) == "cf.m4" and self.out.cf_m4 is None:
            self.after_cf = True
            self.out.cf_m4_included = True
            if target.endswith("m4/cf.m4") and not target.startswith("/"):
                # Slackware's `../m4/cf.m4': built in the cf/cf directory of a cf tree
                self.notes.note(
                    at,
                    f"`{target}' names the cf.m4 of the cf tree the .mc was built in;"
                    " the spec includes this system's (mc.cf_m4)",
                )
                return
            problem = valid(AbsPath, target)
            if problem:
                self.notes.loss(at, "I114", f"the cf.m4 include: {problem}")
            else:
                self.out.cf_m4 = target
            return
        if is_starttls(target) and self.out.starttls_include is None:
            problem = valid(AbsPath, target)
            if problem:
                self.notes.loss(at, "I114", f"the STARTTLS include: {problem}")
                return
            self.out.starttls_include = target
            if self.after_mailer:
                self.notes.note(at, "the STARTTLS include moves before the MAILER lines")
            return
        managed = list(Paths().model_dump().values())
        prefixes = read_prefixes(self.out.cf_m4 or Mc().cf_m4, managed)
        if not include_allowed(target, prefixes):
            self.notes.loss(
                at,
                "I116",
                f"cannot keep this include in mc.extra: '{target}' is not an m4 file (.m4)"
                f" below {' or '.join(prefixes)} and tlsc includes no other file (S219: m4 copies"
                " it into the world-readable sendmail.cf); move the file below /etc/mail"
                " or its lines into the .mc",
            )
            return
        self.keep(stmt)

    def define(self, stmt: Statement, call: Call, name: str) -> None:
        at = self.where(stmt)
        if name in REFUSED_DEFINES:
            self.notes.error(
                at, "I120", f"{name}: {REFUSED_DEFINES[name]}; remove it and import again"
            )
            return
        value: str | None = None
        readable = True
        raw = ""
        if call.name == "define":
            if len(call.args) > 1:
                raw = self.doc.arg_text(call.args[1])
                value = plain_value(self.doc, call.args[1])
                readable = value is not None
            else:
                value = ""
        if name in TLS_NAMES:
            event = TlsDefine(name, value, raw, at, readable, stmt.oneline)
            (self.out.tls_after if self.out.starttls_include else self.out.tls_before).append(event)
            return
        pending = _Pending(name, value if readable else None, stmt, len(self.extra_slots))
        if call.name == "undefine" or not readable:
            pending.value = None
        macro = pending.value if pending.value is not None else joined_name(self.doc, call)
        self.out.macros.setdefault(name, []).append(macro)
        self.pending.append(pending)
        self.extra_slots.append(pending)

    def feature(self, stmt: Statement, call: Call) -> None:
        doc = self.doc
        name = plain_value(doc, call.args[0])
        args = [plain_value(doc, a) for a in call.args[1:]]
        while args and args[-1] == "" and not doc.arg_text(call.args[len(args)]):
            args.pop()  # FEATURE(`x', ) is FEATURE(`x')
        if name == "sts":
            self.sts_feature(stmt, args)
            return
        seen = [f["name"] for f in self.out.features]
        ok = (
            name is not None
            and name in FEATURES
            and name not in REFUSED_FEATURES
            and name not in seen
            and all(a is not None and valid(M4Arg, a) is None for a in args)
        )
        if not ok:
            self.keep(stmt)
            return
        assert name is not None
        clean = [a for a in args if a is not None]
        if name == "access_db" and clean:
            from compiler.importer.read_starttls import expand_helpers

            # `hash -o -T<TMPF> CF/access` with CF defined once: the map m4 writes
            expanded = expand_helpers(clean[0], self.out.macros)
            if expanded is not None:
                self.notes.note(
                    Where(self.path, stmt.line),
                    f"FEATURE(`access_db') map `{clean[0]}' is {expanded} once m4 expands it",
                )
                clean[0] = expanded
        self.out.features.append({"name": name, "args": clean})
        if name == "access_db" and clean:
            self.out.access_db_map = clean[0]

    def sts_feature(self, stmt: Statement, args: list[str | None]) -> None:
        """FEATURE(`sts') becomes tls.mta_sts: its socket as written, or sts.m4's default
        (inet:5461@127.0.0.1) with a warning; other arguments are kept in mc.extra."""
        m = _STS_ARG.match(args[0] or "") if len(args) == 1 else None
        socket = m.group(1) if m else STS_DEFAULT_SOCKET if not args else None
        if socket is None or valid(SocketMap, socket) is not None or self.out.mta_sts_socket:
            self.keep(stmt)
            return
        self.out.mta_sts_socket = socket
        if not args:
            self.notes.warn(
                self.where(stmt),
                "I117",
                f"FEATURE(`sts') without an argument asks the socket map {socket}, imported"
                f" as tls.mta_sts: {{socket: {socket}}}; postfix-mta-sts-resolver listens on"
                f" {MTA_STS_SOCKET} unless told otherwise (tlsc doctor asks it, D036)",
            )

    def daemon_options(self, stmt: Statement, call: Call) -> None:
        value = plain_value(self.doc, call.args[0]) if len(call.args) == 1 else None
        if value is None:
            self.out.daemon_unread.append(self.where(stmt))
            self.keep(stmt)
            return
        normal = " ".join(value.split())
        if valid(M4Text, normal) is not None:
            self.out.daemon_unread.append(self.where(stmt))
            self.keep(stmt)
            return
        if normal != value:
            self.notes.note(
                self.where(stmt),
                "DAEMON_OPTIONS: runs of blanks written as one (sendmail ignores them)",
            )
        self.out.daemon_options.append(normal)

    def smtp_port(self) -> None:
        """smtp_port (the port verify probes) from the MTA daemon's Port=, when unambiguous."""
        ports, unknown = mta_ports(self.out.daemon_options)
        if self.out.daemon_unread:
            why = "a DAEMON_OPTIONS line is kept verbatim"
        elif unknown:
            why = f"DAEMON_OPTIONS Port={unknown[0]} names a service tlsc does not resolve"
        elif len(ports) > 1:
            why = f"the MTA listens on ports {', '.join(str(p) for p in sorted(ports))}"
        elif ports and ports != {25}:
            self.out.smtp_port = next(iter(ports))
            self.notes.note(
                Where(self.path), f"smtp_port: {self.out.smtp_port}, the MTA daemon's port"
            )
            return
        else:
            return
        at = self.out.daemon_unread[0] if self.out.daemon_unread else Where(self.path)
        self.notes.note(at, f"{why}: smtp_port (the port verify probes) stays 25")

    # -- defines ----------------------------------------------------------------

    def decide_defines(self) -> None:
        """A name defined once with a plain value is a define; anything else stays verbatim."""
        by_name: dict[str, list[_Pending]] = {}
        for p in self.pending:
            by_name.setdefault(p.name, []).append(p)
        modelled: set[int] = set()
        for name, group in by_name.items():
            p = group[0]
            if len(group) != 1 or p.value is None or p.stmt.call is None:
                continue
            if p.stmt.call.name != "define":
                continue
            if valid(DefineName, name) or valid(DefineValue, p.value):
                continue
            if self.before_cf(p) or self.read_before(p):
                continue
            self.out.defines[name] = p.value
            self.out.define_at[name] = self.where(p.stmt)
            modelled.add(id(p))
        for slot in self.extra_slots:
            if isinstance(slot, _Pending):
                if id(slot) not in modelled:
                    self.keep_pending(slot)
            else:
                self.out.extra.append(slot)

    def read_before(self, p: _Pending) -> bool:
        """True when a line kept above the define reads or sets its name (an `ifdef`, a
        value naming it, `INPUT_MAIL_FILTER` adding to confINPUT_MAIL_FILTERS): tlsc
        writes defines before mc.extra, so moved there the define would change it."""
        word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(p.name)}(?![A-Za-z0-9_])")
        setter = _IMPLICIT_SETTERS.get(p.name)
        for slot in self.extra_slots:
            if slot is p:
                return False
            text = slot.stmt.text if isinstance(slot, _Pending) else slot[0]
            if word.search(text) or (setter is not None and setter.search(text)):
                return True
        return False

    def before_cf(self, p: _Pending) -> bool:
        cf = self.doc.cf_m4_at
        return cf is not None and p.stmt.start < cf

    def keep_pending(self, p: _Pending) -> None:
        before = len(self.out.extra)
        mark = len(self.notes.verbatim)
        saved, self.extra_slots = self.extra_slots, []
        self.keep(p.stmt)
        kept, self.extra_slots = self.extra_slots, saved
        self.out.extra.extend(s for s in kept if not isinstance(s, _Pending))
        if self.before_cf(p) and len(self.out.extra) > before:
            self.notes.verbatim[mark] = (
                self.notes.verbatim[mark][0],
                "mc.extra (it stood before the cf.m4 include; tlsc writes it after)",
            )


def read_mc(doc: M4Document, path: str, notes: Notes) -> McRead:
    """Read a lexed sendmail.mc into spec terms, noting what is kept verbatim or lost."""
    return _McReader(doc, path, notes).run()
