"""Import one host: read ROOT/etc/mail, lint it, build the spec, prove the round trip.

`import_host` does everything but print and write: it returns the spec text
(or None when an error stops the import) with every note, error and loss.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from compiler.compile import compile_text
from compiler.fileio import read_regular
from compiler.importer import blame, unseen
from compiler.importer.emit import SpecParts, emit
from compiler.importer.notes import Notes, Where
from compiler.importer.read_access import AccessRead, read_access
from compiler.importer.read_mc import McRead, read_mc, valid
from compiler.importer.read_starttls import (
    TlsRead,
    blame_without_tls,
    resolve_tls,
    unset_settings,
)
from compiler.importer.roundtrip import (
    build_one,
    build_pair,
    cf_lines,
    compare_access,
    compare_cf,
    m4_available,
)
from compiler.importer.statements import statements
from compiler.lint.engine import LintContext, lint_text
from compiler.lint.lexer import M4Document, lex
from compiler.plan.desired import DesiredSpec, desired_from_text
from compiler.plan.ownership import TLSC_HEADER, BlockError, settle
from compiler.plan.planner import decode
from compiler.plan.submit import read_submit, submit_path
from compiler.sendmail import TLS_DEFINES, TLS_OPTIONS, names, releases
from compiler.sendmail.m4names import CF_MACROS
from compiler.spec.model import HostName, Paths, Word

MC_PATH = "/etc/mail/sendmail.mc"
#: the cf tree of this machine (Debian's sendmail-cf), for the round trip's m4 builds
LOCAL_CF_M4 = "/usr/share/sendmail/cf/m4/cf.m4"
#: lint codes for mistakes that make m4 read the file differently from what it says;
#: an import of such a file would carry the misreading over, so it is refused
#: (a byte order mark, M4023/A008, too: m4 copies it into the .cf, makemap into the first key)
MISREAD_CODES = frozenset(
    {"M4001", "M4002", "M4003", "M4009", "M4011", "M4013", "M4016", "M4023", "A001", "A008"}
)
#: of those, the access file's that `tlsc lint --fix` repairs (it has one meaning)
_ACCESS_FIXED = frozenset({"A008"})


@dataclass
class Imported:
    """The outcome of importing one host."""

    notes: Notes
    text: str | None = None
    parts: SpecParts | None = None
    summary: list[str] = field(default_factory=list)
    #: every file the import read: real path -> its path on the host (`--out` is never one)
    inputs: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the spec was made (losses may still be reported)."""
        return self.text is not None and not self.notes.errors


ETC_MAIL = "/etc/mail/"


def host_root(root: Path) -> tuple[Path, bool]:
    """(the host's `/` for ROOT, True when ROOT holds only the host's /etc/mail).

    ROOT is a host's `/` (or a copy of it), or an /etc/mail directory itself: one
    holding sendmail.mc that is named `mail` or has no etc/mail/sendmail.mc. An
    `.../etc/mail` is read as the tree above it (`/etc/mail` is `/`).
    """
    if not (root / "sendmail.mc").is_file():
        return root, False
    if root.name != "mail" and (root / "etc/mail/sendmail.mc").is_file():
        return root, False
    real = root.resolve()
    if real.name == "mail" and real.parent.name == "etc":
        return real.parent.parent, False
    return root, True


class _Tree:
    """Files of a host under ROOT: host path -> real path, with readable errors.

    With `etc_mail_only`, ROOT is a copy of the host's /etc/mail: paths under
    /etc/mail map into it, and other paths are not there.
    """

    def __init__(self, root: Path, notes: Notes, etc_mail_only: bool = False):
        self.root = root
        self.notes = notes
        self.etc_mail_only = etc_mail_only
        #: every file read: real path -> host path
        self.inputs: dict[str, str] = {}

    def outside(self, host_path: str) -> bool:
        """True for a host path this ROOT does not hold (outside a copied /etc/mail)."""
        return self.etc_mail_only and not host_path.startswith(ETC_MAIL)

    def real(self, host_path: str) -> Path:
        if self.etc_mail_only:
            if self.outside(host_path):
                return Path(host_path)  # only named in messages: read() and friends check
            return self.root / host_path.removeprefix(ETC_MAIL)
        return self.root / host_path.lstrip("/")

    def host_path(self, real: str) -> str | None:
        """The host path of a file under ROOT, or None."""
        try:
            rel = Path(real).relative_to(self.root)
        except ValueError:
            return None
        return (ETC_MAIL if self.etc_mail_only else "/") + str(rel)

    def leads_out(self, path: Path) -> bool:
        """True when `path` is a symbolic link (or under one) that leads out of ROOT:
        on a copy of a host, `/etc/shadow` or `../..` would name this machine's files,
        and their lines would be quoted in the problems and the spec."""
        try:
            root = self.root.resolve(strict=True)
            return not path.resolve().is_relative_to(root)
        except (OSError, RuntimeError):  # a loop: read() says so
            return False

    def read(self, host_path: str, required: bool, code: str = "I003") -> str | None:
        path = self.real(host_path)
        if self.outside(host_path):
            if required:
                self.notes.error(
                    Where(host_path),
                    code,
                    f"{host_path} is outside /etc/mail, and {self.root} holds only /etc/mail",
                )
            return None
        if self.leads_out(path):
            self.notes.error(
                Where(str(path)),
                "I003",
                f"cannot read {path}: it is a symbolic link leading out of {self.root}",
            )
            return None
        try:
            data = read_regular(path)
            self.inputs[str(path)] = host_path
        except FileNotFoundError:
            if required:
                self.notes.error(Where(str(path)), code, f"{path} does not exist")
            return None
        except OSError as exc:
            self.notes.error(Where(str(path)), "I003", f"cannot read {path}: {exc.strerror}")
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            # Latin-1 and other 8-bit files: each byte that is not UTF-8 becomes a lone
            # surrogate, so the m4 builds write the file's own bytes back (see _utf8_only)
            line = data[: exc.start].count(b"\n") + 1
            self.notes.note(
                Where(str(path), line),
                f"{path} is not UTF-8 (byte {exc.start}); read byte for byte",
            )
            return data.decode("utf-8", "surrogateescape")

    def read_bytes(self, host_path: str) -> bytes | None:
        """The file's bytes, or None when it cannot be read (read() reports why)."""
        if self.leads_out(self.real(host_path)):
            return None
        try:
            data = read_regular(self.real(host_path))
        except OSError:
            return None
        self.inputs[str(self.real(host_path))] = host_path
        return data

    def lint_reader(self, path: str) -> str | None:
        """For the linter: paths under ROOT as they are, host paths mapped into ROOT."""
        real = Path(path)
        if not str(real).startswith(str(self.root)):
            if self.outside(path):
                return None
            real = self.real(path)
        try:
            data = read_regular(real)
        except OSError:
            return None
        self.inputs[str(real)] = self.host_path(str(real)) or str(real)
        return data.decode("utf-8", "surrogateescape")

    def root_map(self, path: str) -> str | None:
        """An include's host path mapped into ROOT, when ROOT has that file."""
        if not path.startswith("/"):
            path = "/etc/mail/" + path
        if self.outside(path):
            return None
        real = self.real(path)
        return str(real.resolve()) if real.is_file() else None


def _lint(tree: _Tree, text: str, path: str, kind: str) -> None:
    ctx = LintContext(read=tree.lint_reader)
    report = lint_text(text, path, kind, ctx)
    misread = {f.code for f in report.findings if f.code in MISREAD_CODES and f.severity == "error"}
    for p in report.capped().problems():  # each rule's first findings, the rest counted
        if p.code in MISREAD_CODES and p.severity == "error":
            tree.notes.errors.append(p)
        else:
            tree.notes.warnings.append(
                p.__class__(p.path, p.line, p.col, p.code, "warning", p.message)
            )
    if misread and kind == "access" and misread <= _ACCESS_FIXED:
        tree.notes.error(
            Where(path),
            "I004",
            f"makemap would read {os.path.basename(path)} differently from what it says"
            f" (its byte order mark, A008 above); run `tlsc lint --fix {path}`, check the"
            " diff, and import again",
        )
    elif misread and kind == "access":
        # A001 has no safe fix: moving a '#' comment off a `RELAY # ...` line, say,
        # turns a rejection into a relay, so the person decides
        tree.notes.error(
            Where(path),
            "I004",
            f"makemap and sendmail would read {os.path.basename(path)} differently from what"
            f" it says (the {' and '.join(sorted(misread))} lines above); correct those lines"
            " and import again",
        )
    elif misread:
        tree.notes.error(
            Where(path),
            "I004",
            f"m4 would read {os.path.basename(path)} differently from what it says;"
            f" run `tlsc lint --fix {path}`, check the diff, and import again",
        )


def import_host(
    root: str | Path,
    host: str,
    fqdn: str | None = None,
    cluster: str | None = None,
    check_cf: bool = True,
    ownership: str | None = None,
) -> Imported:
    """Read ROOT/etc/mail of one host into a spec and compare the round trip.

    `ownership` None picks: `file` for files tlsc wrote (they carry its header),
    else `tls` -- the host is adopted: its files stay as they are, and tlsc owns
    only what STARTTLS needs, so the first plan is empty.
    """
    notes = Notes()
    result = Imported(notes)
    root_path = Path(root)
    if not root_path.is_dir():
        notes.error(Where(str(root)), "I001", f"{root} is not a directory")
        return result
    for label, value, tp in (("host name", host, HostName), ("cluster name", cluster, Word)):
        if value is not None and valid(tp, value):
            problem = valid(tp, value) or ""
            said = problem if problem.startswith(label) else f"{label} {value!r}: {problem}"
            notes.error(Where(str(root)), "I002", said)
    root_path, etc_mail_only = host_root(root_path)
    tree = _Tree(root_path, notes, etc_mail_only)
    result.inputs = tree.inputs
    mc_real = str(tree.real(MC_PATH))
    mc_text = tree.read(MC_PATH, required=True, code="I002")
    if mc_text is None or notes.errors:
        return result
    _lint(tree, mc_text, mc_real, "mc")
    if notes.errors:
        return result
    if ownership is None:
        ownership = "file" if TLSC_HEADER in mc_text[:4096] else "tls"
    adopt = ownership == "tls"
    doc = lex(mc_text, mc_real, "mc")
    # adopted, the .mc stays the host's: what tlsc could not model in it is no loss
    mc = read_mc(doc, mc_real, _mc_only(notes) if adopt else notes)
    if adopt and not mc.cf_m4_included:
        _refuse_without_cf_m4(doc, mc_real, notes)
        return result
    _unseen_tls(tree, doc, mc_real, mc)
    if notes.errors:
        return result
    st_doc, st_real = _starttls(tree, mc)
    if st_doc is not None and st_real is not None:
        unseen.report(unseen.in_starttls(st_doc, st_real), notes, lambda real: real)
        if notes.errors:
            return result
    mark = len(notes.losses)
    tls = resolve_tls(mc, st_doc, st_real, notes)
    tls = _incomplete(tls, mc, doc, mc_real, adopt, notes, mark)
    if notes.errors:
        return result
    access_host, access_text, access_real = _access(tree, mc)
    request = bool(tls.settings.get("request_client_cert", False)) if tls.enabled else False
    access = read_access(access_text or "", access_real, notes, request, others=not adopt)
    if access_text is not None:
        _lint(tree, access_text, access_real, "access")
    parts = _parts(host, fqdn, cluster, mc, tls, access, access_host, root, notes)
    parts.sendmail = _release(tree, root_path, parts, notes)
    _submit(tree, parts)
    if adopt:
        _adopt(parts, tls, notes, mc_real)
    if notes.errors:
        return result
    text = emit(parts, lambda at: "from " + _host_label(tree, at))
    compiled = compile_text(text, "imported.yaml")
    if not compiled.ok:
        for p in compiled.problems:
            notes.error(Where(mc_real), "I090", f"the imported spec does not validate: {p.message}")
        return result
    files = compiled.hosts[host]
    result.text, result.parts = text, parts
    if adopt:
        settled = _settled(text, host, tree, {**Paths().model_dump(), **parts.paths}, notes)
        if settled is None:
            return result
        files = settled
    reported = {p.line for p in notes.losses if p.path == access_real}
    reported |= {at.line for at in access.left_out}
    keys = compare_access(
        access_text or "",
        files.get(parts.paths["access"], ""),
        parts.ownership == "block",
        access_real,
        notes,
        reported,
    )
    result.summary.append(f"access map: {keys} entries compared")
    if check_cf:
        result.summary.append(_check_cf(tree, mc_text, mc, tls, parts, files, mc_real))
    return result


_DZ = re.compile(r"^DZ(8\.[0-9]+)[.0-9]*", re.MULTILINE)


def _release(tree: _Tree, root: Path, parts: SpecParts, notes: Notes) -> str | None:
    """The release family the host runs (`8.18`): its sendmail binary's version when the
    tree has the binary (`/` on the host itself), else the `DZ` line of its sendmail.cf
    (the cf tree that built it). None when neither says, or it is no release tlsc knows."""
    from compiler.doctor import host_binary
    from compiler.doctor.binary import binary_version, run_sendmail_check

    cf_host = parts.paths.get("sendmail_cf", Paths().sendmail_cf)
    binary = None if tree.etc_mail_only else host_binary(root)
    if binary is not None:
        try:
            output, _finished = run_sendmail_check(binary, None, parts.fqdn)
        except OSError:
            output = ""
        version = binary_version(output)
        if version is not None:
            family = ".".join(version.split(".")[:2])
            if releases.is_release(family):
                notes.note(Where(binary), f"{binary} is sendmail {version}: sendmail: {family}")
                return family
    text = tree.read(cf_host, required=False)
    m = _DZ.search(text or "")
    if m is not None and releases.is_release(m.group(1)):
        if m.group(1) != releases.DEFAULT:
            notes.note(
                Where(str(tree.real(cf_host))),
                f"built by the sendmail {m.group(1)} cf files: sendmail: {m.group(1)}",
            )
        return m.group(1)
    return None


def _refuse_without_cf_m4(doc: M4Document, mc_real: str, notes: Notes) -> None:
    """An adopted .mc that does not include cf.m4 itself (FreeBSD's, OpenBSD's, the
    sendmail distribution's cf/cf/*.mc: their make puts cf.m4 first on m4's command
    line) cannot stay as it is: tlsc builds sendmail.cf from the .mc alone."""
    first = next((s for s in statements(doc) if s.call and s.call.name in CF_MACROS), None)
    at = Where(mc_real, first.line, first.col) if first else Where(mc_real)
    notes.error(
        at,
        "I138",
        "sendmail.mc does not include cf.m4 (FreeBSD's and OpenBSD's make put cf.m4 first on"
        " m4's command line), but tlsc builds sendmail.cf from the .mc alone, so it cannot"
        " adopt this file as it is; import with --ownership file (tlsc then writes the whole"
        " .mc, with the include)",
    )


def _unseen_tls(tree: _Tree, doc: M4Document, mc_real: str, mc: McRead) -> None:
    """I139 for each TLS option the .mc, or a file it includes, sets where the import
    does not read it (see unseen.py)."""

    def read(target: str) -> tuple[str, str] | None:
        host_path = target if target.startswith("/") else ETC_MAIL + target
        if tree.outside(host_path) or not tree.real(host_path).is_file():
            return None
        text = tree.read(host_path, required=False)
        return None if text is None else (str(tree.real(host_path)), text)

    def label(real: str) -> str:
        return tree.host_path(real) or real

    found = unseen.in_mc(doc, mc_real)
    found += unseen.in_includes(doc, mc_real, mc.starttls_include, read, label)
    unseen.report(found, tree.notes, label)


def _incomplete(
    tls: TlsRead,
    mc: McRead,
    doc: M4Document,
    mc_real: str,
    adopt: bool,
    notes: Notes,
    mark: int,
) -> TlsRead:
    """A host whose TLS defines leave out a setting sendmail needs offers no STARTTLS
    (it logs `CACertFile missing` and goes on without): `tls:` cannot say that with
    STARTTLS on. Without a starttls include, the host is read as STARTTLS off -- adopted,
    its TLS lines stay in its .mc; with --ownership file they are lost (tlsc writes no TLS
    option with STARTTLS off). Its include of a starttls.m4 that does so is an error:
    the include cannot be taken out without changing the host's sendmail.cf."""
    if not tls.enabled or notes.errors:  # (a starttls.m4 that could not be read)
        return tls
    missing = unseen.incomplete(tls.set_at)
    events = [*mc.tls_before, *mc.tls_after]
    unread = [d for d in missing if any(e.name == d and not e.readable for e in events)]
    if not missing or unread or (notes.losses and any(p.code == "I134" for p in notes.losses)):
        return tls
    option = unseen.REQUIRED_DEFINES[missing[0]]
    names = " or ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)
    if mc.starttls_include is not None:
        include = next(
            (
                c
                for c in doc.top_calls("include", "sinclude")
                if c.args and doc.first_arg(c) == mc.starttls_include
            ),
            None,
        )
        at = Where(mc_real, *doc.pos(include.start)) if include else Where(mc_real)
        notes.error(
            at,
            "I143",
            f"sendmail.mc and the {mc.starttls_include} it includes here define no {names},"
            f" so sendmail offers no STARTTLS (it logs '{option} missing'), which tls: cannot"
            " say with STARTTLS on; define it, or take the include out, and import again",
        )
        return tls
    events = [e for e in events if e.name in TLS_OPTIONS]
    first = min((e.where for e in events), key=lambda w: (w.line, w.col), default=Where(mc_real))
    if adopt:
        del notes.losses[mark:]  # the lines stay the host's: what tls: cannot say is no loss
        notes.warn(
            first,
            "I143",
            f"sendmail.mc sets TLS options from here on but no {names}, so sendmail offers no"
            f" STARTTLS (it logs '{option} missing'): imported as tls.enabled: false, and"
            " those lines stay in the host's .mc as they are",
        )
    else:
        for e in events:
            notes.loss(
                e.where,
                "I143",
                f"sendmail.mc defines no {names}, so sendmail offers no STARTTLS and the spec"
                f" has tls.enabled: false, with which tlsc writes no {e.name}",
            )
    blame = [e for e in [*mc.tls_before, *mc.tls_after] if e.name not in TLS_OPTIONS]
    blame_without_tls(replace(mc, tls_before=blame, tls_after=[]), notes)
    return TlsRead(False, set_at=tls.set_at, off=f"no {names}, so sendmail offers no STARTTLS")


def _submit(tree: _Tree, parts: SpecParts) -> None:
    """At each include in the host's submit.mc of a file tlsc will write (its
    starttls.m4 above all): a note that apply rebuilds submit.cf whenever it changes
    that file, or I144 where m4 alone cannot build submit.cf, so that tlsc will not
    (compiler/plan/submit.py). The submit.mc and what it includes are only read; a
    file that is not a regular one is passed over."""
    paths = {**Paths().model_dump(), **parts.paths}
    written = [paths[k] for k in ("sendmail_mc", "starttls_m4", "access")]
    directory = os.path.dirname(submit_path(MC_PATH))

    def read(path: str) -> bytes | None:
        if tree.outside(path) or not tree.real(path).is_file():
            return None
        return tree.read_bytes(path)

    def exists(target: str) -> bool:
        path = os.path.normpath(os.path.join(directory, target))
        return not tree.outside(path) and tree.real(path).is_file()

    submit = read_submit(MC_PATH, paths["sendmail_cf"], written, read, exists)
    if submit is None:
        return
    for include in submit.includes:
        at = Where(str(tree.real(submit.path)), include.line, include.col)
        why = submit.cannot([include.target])
        if why is None:
            tree.notes.note(
                at,
                f"{submit.path} includes {include.target}: tlsc apply rebuilds"
                f" {submit.cf} whenever it changes that file",
            )
        else:
            tree.notes.warn(at, "I144", why)


def _mc_only(notes: Notes) -> Notes:
    """Notes for reading an adopted .mc: its errors count, nothing else is reported."""
    scratch = Notes()
    scratch.errors = notes.errors
    return scratch


def _adopt(parts: SpecParts, tls: TlsRead, notes: Notes, mc_real: str) -> None:
    """Make `parts` an adopted host's: ownership tls, no mc:, no access: of its own."""
    parts.ownership = "tls"
    for what in [w for w in notes.dropped if w.startswith("comment lines in")]:
        del notes.dropped[what]  # they stay in the host's files
    parts.mc = {}
    parts.extra_at = []
    parts.access, parts.access_at = [], []
    if parts.tls.pop("mta_sts", None) is not None:  # the .mc keeps its own FEATURE(`sts')
        notes.note(
            Where(mc_real),
            "FEATURE(`sts') stays in the host's sendmail.mc, so tls.mta_sts stays off"
            " (starttls.m4 would write a second one)",
        )
    for text, at in tls.extra:
        notes.loss(at, "I137", f"with ownership: tls tlsc's starttls.m4 would not hold {text}")
    for name in tls.other_defines:
        at = tls.set_at.get(name, Where(mc_real))
        notes.loss(at, "I137", f"with ownership: tls tlsc's starttls.m4 would not define {name}")
    if tls.dont_blame:
        notes.loss(
            Where(mc_real),
            "I137",
            f"with ownership: tls tlsc's starttls.m4 would not set DontBlameSendmail"
            f" {tls.dont_blame}",
        )
    notes.note(
        Where(mc_real),
        "ownership: tls -- sendmail.mc and the access file stay as they are; tlsc owns only"
        " the STARTTLS include, starttls.m4 and its own block of the access file",
    )
    parts.header = [
        "tlsc spec imported by `tlsc import`. ownership: tls -- the host's files stay",
        "as they are; tlsc owns only the STARTTLS include of sendmail.mc, starttls.m4",
        "and the tlsc block of the access file. Settings equal to tlsc's defaults are",
        "left out.",
    ]


def _settled(
    text: str, host: str, tree: _Tree, paths: dict[str, str], notes: Notes
) -> dict[str, str] | None:
    """The adopted host's files as tlsc would leave them (its parts spliced into the originals)."""
    desired = desired_from_text(text, "imported.yaml")
    assert isinstance(desired, DesiredSpec)  # compile_text just accepted the same text
    config = desired.config(host)
    observed: dict[str, str | None] = {}
    for key in ("sendmail_mc", "access", "starttls_m4"):
        data = tree.read_bytes(paths[key])
        observed[paths[key]] = None if data is None else decode(data)
    try:
        return settle(config, desired.host(host).files, observed).files
    except BlockError as exc:
        notes.error(Where(str(tree.real(paths["sendmail_mc"]))), "I091", str(exc))
        return None


def _host_label(tree: _Tree, at: Where) -> str:
    host_path = tree.host_path(at.path)
    return f"{host_path}:{at.line}" if host_path is not None else str(at)


def _starttls(tree: _Tree, mc: McRead) -> tuple[M4Document | None, str | None]:
    if mc.starttls_include is None:
        return None, None
    real = str(tree.real(mc.starttls_include))
    text = tree.read(mc.starttls_include, required=True, code="I005")
    if text is None:
        return None, None
    _lint(tree, text, real, "m4")
    if tree.notes.errors:
        return None, None
    return lex(text, real, "m4"), real


def _access(tree: _Tree, mc: McRead) -> tuple[str, str | None, str]:
    """(host path of the access source, its text or None, its real path)."""
    stem = Paths().access
    if mc.access_db_map:
        words = mc.access_db_map.split()
        if words and words[0] != "hash":
            tree.notes.loss(
                Where(str(tree.real(MC_PATH))),
                "I142",
                f"FEATURE(access_db) uses a {words[0]} map; tlsc builds access.db with"
                " makemap hash",
            )
        if words and words[-1].startswith("/"):
            stem = words[-1].removesuffix(".db")
    text = tree.read(stem, required=False)
    if text is None:
        tree.notes.note(Where(str(tree.real(stem))), "no access file here; the spec has no entries")
    return stem, text, str(tree.real(stem))


def _parts(
    host: str,
    fqdn: str | None,
    cluster: str | None,
    mc: McRead,
    tls: TlsRead,
    access: AccessRead,
    access_host: str,
    root: str | Path,
    notes: Notes,
) -> SpecParts:
    defines = {**tls.other_defines, **mc.defines}
    if tls.dont_blame:
        defines["confDONT_BLAME_SENDMAIL"] = tls.dont_blame
    chosen_fqdn = fqdn or _fqdn_from(defines) or host
    try:
        names.parse_hostname(chosen_fqdn)
    except ValueError as exc:
        notes.error(Where(str(root)), "I006", f"fqdn {chosen_fqdn!r}: {exc}; give --fqdn")
    extra = _utf8_only([*mc.extra, *tls.extra], notes)
    access_lines = _utf8_only(access.access, notes)
    mc_data: dict[str, Any] = {
        "ostype": mc.ostype or "debian",
        "domain": mc.domain,
        "defines": defines,
        "features": mc.features,
        "daemon_options": mc.daemon_options,
        "extra": [t for t, _ in extra],
        "mailers": mc.mailers,
    }
    if mc.cf_m4:
        mc_data["cf_m4"] = mc.cf_m4
    paths = {"access": access_host, "access_db": access_host + ".db"}
    if mc.starttls_include:
        paths["starttls_m4"] = mc.starttls_include
    if tls.enabled:
        tls_data: dict[str, Any] = unset_settings()
        del tls_data["enabled"]
        tls_data.update(tls.settings)
    else:
        tls_data = {"enabled": False}
    if mc.mta_sts_socket is not None:
        tls_data["mta_sts"] = {"socket": mc.mta_sts_socket}
    return SpecParts(
        tls_off=tls.off,
        cluster=cluster or host,
        host=host,
        fqdn=chosen_fqdn,
        smtp_port=mc.smtp_port,
        paths=paths,
        ownership=access.ownership,
        tls=tls_data,
        mc=mc_data,
        extra_at=[w for _, w in extra],
        domains=access.domains,
        recipients=access.recipients,
        issuer_tags=access.issuer_tags,
        access=[t for t, _ in access_lines],
        access_at=[w for _, w in access_lines],
        header=[
            f"tlsc spec imported by `tlsc import {root} --host {host}`.",
            "Comments of the original files were dropped, and settings equal to",
            "tlsc's defaults are left out. Lines tlsc cannot model are kept verbatim",
            "(mc.extra, access:), each with the file and line it came from.",
        ],
    )


def _utf8_only(lines: list[tuple[str, Where]], notes: Notes) -> list[tuple[str, Where]]:
    """The verbatim lines the spec (UTF-8 YAML) can carry; a line holding bytes that are
    not UTF-8 (a Latin-1 name) is reported lost rather than written with other bytes."""
    kept = []
    for text, at in lines:
        bad = next((i for i, ch in enumerate(text) if "\udc80" <= ch <= "\udcff"), None)
        if bad is None:
            kept.append((text, at))
            continue
        byte = ord(text[bad]) - 0xDC00
        notes.verbatim = [(w, to) for w, to in notes.verbatim if w != at]
        notes.loss(
            Where(at.path, at.line, bad + 1),
            "I115",
            f"this line holds the byte 0x{byte:02X}, which is not UTF-8; the spec is UTF-8"
            " text and cannot keep the line byte for byte (write it in UTF-8 or ASCII)",
        )
    return kept


def _fqdn_from(defines: dict[str, str]) -> str | None:
    name = defines.get("confDOMAIN_NAME")
    if name and "$" not in name:
        return name
    return None


def _check_cf(
    tree: _Tree,
    mc_text: str,
    mc: McRead,
    tls: TlsRead,
    parts: SpecParts,
    files: dict[str, str],
    mc_real: str,
) -> str:
    cf_m4 = mc.cf_m4 or LOCAL_CF_M4
    local = tree.root_map(cf_m4) or cf_m4
    if local != LOCAL_CF_M4 and not os.path.exists(local) and os.path.exists(LOCAL_CF_M4):
        # another system's cf tree (Red Hat's /usr/share/sendmail-cf) that neither ROOT
        # nor this machine has: build both with the cf tree here
        tree.notes.note(
            Where(mc_real),
            f"{cf_m4} is not here; the round trip builds with {LOCAL_CF_M4}",
        )
        local = LOCAL_CF_M4
    missing = m4_available(local)
    if missing:
        tree.notes.warn(Where(mc_real), "I166", f"sendmail.cf was not compared: {missing}")
        return "sendmail.cf: not compared"

    def mapper(path: str) -> str | None:
        relative_cf = not path.startswith("/") and path.endswith("m4/cf.m4")
        return tree.root_map(path) or (local if path == cf_m4 or relative_cf else None)

    starttls = parts.paths.get("starttls_m4", Paths().starttls_m4)
    original, imported = build_pair(
        mc_text,
        None if mc.cf_m4_included else local,
        files,
        Paths().sendmail_mc,
        starttls,
        mapper,
    )

    if original.stopped:
        tree.notes.loss(Where(mc_real), "I167", f"sendmail.cf was not compared: {original.stderr}")
        return "sendmail.cf: not compared"
    if original.rc == 0:
        unread = {TLS_DEFINES[d].removeprefix("tls.") for d in tls.set_at} - set(parts.tls)
        unseen.check_built(original.cf, parts.tls, unread, Where(mc_real), tree.notes)

    def locate(conf: str) -> Where | None:
        return mc.define_at.get(conf) or tls.set_at.get(conf)

    cf_m4_arg = None if mc.cf_m4_included else local
    built = cf_lines(original.cf)

    def rebuilt(text: str) -> set[str] | None:
        again = build_one(text, cf_m4_arg, mapper)
        return None if again.rc != 0 or again.stopped else cf_lines(again.cf)

    def causes(diffs: list[blame.Diff]) -> dict[blame.Diff, blame.Cause]:
        found = blame.verbatim(mc_text, mc_real, diffs)
        if parts.ownership == "tls":  # adopted: the host's lines stay where they are
            return found
        left = [d for d in diffs if d not in found]
        return {**found, **blame.late(mc_text, mc_real, left, rebuilt, built)}

    if compare_cf(original, imported, mc_real, locate, tree.notes, causes):
        return "sendmail.cf: same options, maps, mailers and rulesets"
    return "sendmail.cf: differs"
