"""The linter core: read a file, lex it, hand it to every rule, honour disables.

A rule is a module under `compiler/lint/rules/` with an `ID`, a `NAME`, the
`KIND` of document it reads (`m4` or `access`) and a `check(doc, ctx)` that
yields `Finding`s; its docstring holds PASS and FAIL examples that the tests
run. The engine knows nothing about any one rule. Findings stay values with
offsets until `LintReport.problems()` turns them into located `Problem`s.

`dnl tlsc: disable=M4005` (or `# tlsc: disable=A004` in an access file)
silences the listed codes on its own line, or on the next line when the
comment stands alone on its line, as yamllint's `disable-line` does;
`disable` without codes silences every rule there, and `disable-file=...`
the whole file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from compiler.problems import Problem, Severity

if TYPE_CHECKING:
    from compiler.lint.access import AccessDocument
    from compiler.lint.lexer import M4Document
    from compiler.lint.source import SourceText

_DISABLE = re.compile(r"tlsc:\s*(disable-file|disable)(?:\s*=\s*([A-Za-z0-9, ]+))?")
_M4_SNIFF = re.compile(r"\b(dnl|divert\(|define\(|include\(|FEATURE\(|MAILER\(|OSTYPE\()")


@dataclass(frozen=True)
class Edit:
    """Replace text[start:end] with `text`."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Finding:
    """One finding of one rule, at an offset of the document.

    `edits` is a mechanical repair; `--fix` applies it only when `safe`.
    `length` is how many characters the offending text spans (for the caret).
    """

    offset: int
    code: str
    severity: Severity
    message: str
    edits: tuple[Edit, ...] = ()
    safe: bool = False
    length: int = 1


@dataclass(frozen=True)
class Rule:
    """A lint rule, loaded from its module."""

    id: str
    name: str
    kind: str
    check: Callable[[Any, LintContext], Iterable[Finding]]
    doc: str


def load_rule(module: ModuleType) -> Rule:
    """The Rule a rule module defines."""
    return Rule(
        id=module.ID,
        name=module.NAME,
        kind=module.KIND,
        check=module.check,
        doc=module.__doc__ or "",
    )


@dataclass
class LintContext:
    """What a rule may know beyond its own file: the other files of the run.

    `read` fetches a file that is not part of the run (the .mc's sibling
    access file, the starttls.m4 it includes); the command passes a reader
    of the disk, tests pass a dictionary.
    """

    access: dict[str, AccessDocument] = field(default_factory=dict)
    m4_paths: list[str] = field(default_factory=list)
    #: the sendmail release the files are for (`tlsc lint --sendmail`)
    release: str = "8.17"
    read: Callable[[str], str | None] = lambda path: None
    listdir: Callable[[str], list[str] | None] = lambda path: None
    _cache: dict[str, Any] = field(default_factory=dict)

    def access_for(self, mc_path: str) -> list[AccessDocument]:
        """The access files a .mc's rules apply to: same directory, else its sibling."""
        here = os.path.dirname(os.path.abspath(mc_path))
        same = [d for p, d in self.access.items() if os.path.dirname(os.path.abspath(p)) == here]
        if same:
            return same
        sibling = os.path.join(os.path.dirname(mc_path), "access")
        doc = self.cached(("access", sibling), lambda: self._load_access(sibling))
        if doc is not None:
            return [doc]
        return list(self.access.values()) if len(self.access) == 1 else []

    def in_tree(self, path: str, including: str | None) -> str:
        """Where to read `path`, an absolute path a file of the run includes.

        When the run lints a compiled tree (`tlsc lint build`), the .mc at
        build/HOST/etc/mail/sendmail.mc includes /etc/mail/tls/starttls.m4: that is
        build/HOST/etc/mail/tls/starttls.m4 if the run lints it, not this machine's file.
        """
        if including is None or not os.path.isabs(path):
            return path
        here = os.path.abspath(including)
        for linted in self.m4_paths:
            full = os.path.abspath(linted)
            if full != path and full.endswith(path) and here.startswith(full[: -len(path)] + "/"):
                return linted
        return path

    def included_m4(self, path: str, including: str | None = None) -> M4Document | None:
        """An m4 file a .mc (`including`) includes, lexed, or None when it cannot be read."""
        path = self.in_tree(path, including)

        def load() -> M4Document | None:
            from compiler.lint.lexer import lex

            text = self.read(path)
            return None if text is None else lex(text, path, "m4")

        result: M4Document | None = self.cached(("m4", path), load)
        return result

    def cached(self, key: object, make: Callable[[], Any]) -> Any:
        """`make()` once per key for the whole run."""
        skey = repr(key)
        if skey not in self._cache:
            self._cache[skey] = make()
        return self._cache[skey]

    def _load_access(self, path: str) -> AccessDocument | None:
        from compiler.lint.access import parse_access

        text = self.read(path)
        return None if text is None else parse_access(text, path)


#: the most findings of one rule shown for one file; the rest are counted in one line
MAX_SHOWN_PER_RULE = 100


@dataclass
class LintReport:
    """The findings for one file.

    A report cut by `capped()` holds at most MAX_SHOWN_PER_RULE findings of
    each rule; `omitted` counts the rest per code (with the first one left
    out, for its place and severity).
    """

    path: str
    doc: SourceText
    findings: list[Finding]
    omitted: dict[str, tuple[int, Finding]] = field(default_factory=dict)

    def problems(self) -> list[Problem]:
        """The findings as located problems, in file order (plus a capped report's counts)."""
        out = []
        for f in self.findings:
            line, col = self.doc.pos(f.offset)
            out.append(Problem(self.path, line, col, f.code, f.severity, f.message))
        return sorted(set(out) | set(self.omitted_problems()))

    def capped(self, limit: int = MAX_SHOWN_PER_RULE) -> LintReport:
        """This report with the first `limit` findings of each rule, the rest counted.

        A file in which every one of 200,000 lines warns would otherwise print
        a screenful per line; what is shown is what a person can act on.
        """
        shown: list[Finding] = []
        per_code: dict[str, int] = {}
        omitted: dict[str, tuple[int, Finding]] = dict(self.omitted)
        for f in self.findings:
            seen = per_code.get(f.code, 0)
            if seen < limit:
                per_code[f.code] = seen + 1
                shown.append(f)
                continue
            count, first = omitted.get(f.code, (0, f))
            if f.severity == "error" and first.severity != "error":
                first = f  # the count line is an error when any finding it stands for is
            omitted[f.code] = (count + 1, first)
        return LintReport(self.path, self.doc, shown, omitted)

    def omitted_problems(self) -> list[Problem]:
        """One problem per capped rule: how many of its findings are not shown."""
        out = []
        for code, (count, first) in sorted(self.omitted.items()):
            line, col = self.doc.pos(first.offset)
            message = (
                f"{count:,} more finding{'s' if count != 1 else ''} not shown"
                f" (only the first {MAX_SHOWN_PER_RULE} of a rule are listed per file)"
            )
            out.append(Problem(self.path, line, col, code, first.severity, message))
        return out

    @property
    def errors(self) -> int:
        """How many findings are errors (of a capped report: those shown)."""
        return sum(1 for f in self.findings if f.severity == "error")


def detect_kind(path: str, text: str) -> str:
    """`mc`, `m4` or `access`, from the file name, else from the content."""
    name = os.path.basename(path)
    if name.endswith(".mc"):
        return "mc"
    if name.endswith(".m4"):
        return "m4"
    if "access" in name.lower():
        return "access"
    return "mc" if _M4_SNIFF.search(text) else "access"


def parse(text: str, path: str, kind: str) -> SourceText:
    """The document a kind of file is read into."""
    if kind == "access":
        from compiler.lint.access import parse_access

        return parse_access(text, path)
    from compiler.lint.lexer import lex

    return lex(text, path, kind)


def lint_text(text: str, path: str, kind: str, ctx: LintContext | None = None) -> LintReport:
    """Lint one file's text with every rule for its kind."""
    from compiler.lint.rules import RULES

    ctx = ctx or LintContext()
    doc = parse(text, path, kind)
    rule_kind = "access" if kind == "access" else "m4"
    devtools = rule_kind == "m4" and _devtools(doc)
    findings: list[Finding] = []
    for rule in RULES:
        if rule.kind == rule_kind and (not devtools or rule.id in DEVTOOLS_RULES):
            findings.extend(rule.check(doc, ctx))
    findings = _apply_disables(doc, findings)
    findings.sort(key=lambda f: (f.offset, f.code))
    return LintReport(path, doc, _dedupe(findings))


#: the rules of m4 itself, which a devtools file (below) is held to: it is m4 input too,
#: but of sendmail's Build, not of sendmail-cf, and goes into no sendmail.cf
DEVTOOLS_RULES = frozenset({"M4001", "M4002", "M4003", "M4009", "M4016", "M4019", "M4023"})
#: the cf.m4 macros a sendmail-cf file calls, and the devtools names a site.config.m4 sets
_CF_CALLS = frozenset({"OSTYPE", "DOMAIN", "FEATURE", "MAILER", "VERSIONID", "HACK"})
_DEVTOOLS_CALLS = frozenset({"APPENDDEF", "PREPENDDEF"})
_DEVTOOLS_NAMES = re.compile(
    r"conf(?:MAPDEF|ENVDEF|LIBS|LIBSEARCH|LIBDIRS|INCDIRS|OPTIMIZE|CC|CCOPTS|LDOPTS|MAN[0-9]SRC"
    r"|MANROOT|MANOWN|MANGRP|MANMODE|SBINDIR|UBINDIR|EBINDIR|MBINDIR|STDIR|HFDIR|SHAREDLIB_EXT"
    r"|SM_OS_HEADER|DEPEND_TYPE|INSTALL|LINKS|BLDVARIANT|SHELL)\Z"
)


def _devtools(doc: Any) -> bool:
    """True for a devtools file (a Build site.config.m4, devtools/OS/*): it calls
    APPENDDEF/PREPENDDEF or sets a devtools name (confMAPDEF, confENVDEF, ...), and
    nothing of a sendmail-cf file (no cf.m4 include, OSTYPE, FEATURE, MAILER...)."""
    names = {c.name for c in doc.calls}
    if names & _CF_CALLS or any(os.path.basename(t) == "cf.m4" for _c, t in doc.includes()):
        return False
    if names & _DEVTOOLS_CALLS:
        return True
    return any(
        _DEVTOOLS_NAMES.match(doc.first_arg(c))
        for c in doc.calls
        if c.name in ("define", "undefine") and c.args
    )


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[int, str]] = set()
    out = []
    for f in findings:
        if (f.offset, f.code) not in seen:
            seen.add((f.offset, f.code))
            out.append(f)
    return out


def _directives(doc: SourceText) -> Iterator[tuple[int, str]]:
    """(offset, comment text) of every comment that can carry a directive."""
    spans: list[tuple[int, int]] = []
    if doc.kind == "access":
        for line, start in enumerate(doc.line_starts, 1):
            start += 1 if line == 1 and doc.bom else 0  # a directive as meant (A008)
            if doc.text.startswith("#", start):
                spans.append((start, doc.line_end(start)))
    else:
        m4doc: Any = doc
        spans = list(m4doc.dnl) + list(m4doc.comments)
    for start, end in spans:
        yield start, doc.text[start:end]


def _apply_disables(doc: SourceText, findings: list[Finding]) -> list[Finding]:
    if "tlsc:" not in doc.text:
        return findings
    per_line: dict[int, set[str] | None] = {}
    whole_file: set[str] | None = set()
    for start, comment in _directives(doc):
        m = _DISABLE.search(comment)
        if not m:
            continue
        codes = {c.strip().upper() for c in (m.group(2) or "").split(",") if c.strip()} or None
        if m.group(1) == "disable-file":
            whole_file = None if codes is None or whole_file is None else whole_file | codes
            continue
        line = doc.line_of(start)
        alone = doc.text[doc.line_starts[line - 1] : start].strip() == ""
        target = line + 1 if alone else line
        old = per_line.get(target, set())
        per_line[target] = None if codes is None or old is None else old | codes
    kept = []
    for f in findings:
        line = doc.line_of(f.offset)
        if whole_file is None or f.code in whole_file:
            continue
        if line in per_line:
            codes = per_line[line]
            if codes is None or f.code in codes:
                continue
        kept.append(f)
    return kept
