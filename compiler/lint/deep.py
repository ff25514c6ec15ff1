"""`tlsc lint --deep`: build the file with the real tools and map what they say to lines.

A `.mc` goes through GNU m4 with sendmail's cf.m4 (`m4 -D_NO_MAKEINFO_`,
after compiler/m4run.py's prefix: nothing in the file can run a command,
and an endless recursion is stopped within seconds),
traced so that every message can be pinned to a line of the .mc: m4's own
errors carry file and line; sendmail-cf's `*** ERROR`/`*** WARNING` come
from errprint, whose trace says where it was called (inside a FEATURE file,
the .mc line that included it). Lint severity follows what m4 builds: m4's
own errors, a failed build and sendmail-cf's `*** ERROR` (and its other
complaints) are errors (M4020); sendmail-cf's `WARNING`/`NOTE` lines, for a
.cf built as written, are warnings (`tlsc apply` still refuses any output on
stderr). A .mc written for another system's sendmail-cf (Red Hat's
/usr/share/sendmail-cf/m4/cf.m4, the distribution's relative ../m4/cf.m4)
is built with the local cf tree in its place, and a note says so. Then
the built .cf is checked for the TLS options the .mc (and the starttls.m4
it includes) asks for (M4021). An access file goes through `makemap hash`
into a scratch map (with an empty sendmail.cf, so no machine's
/etc/mail/sendmail.cf is needed), and each complaint is mapped to its line
(A020).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import Call, M4Document
from compiler.lint.rules.m4004_starttls_include import is_starttls
from compiler.lint.rules.m4012_unknown_name import DEFAULT_CF_DIR, cf_dir
from compiler.lint.source import SourceText
from compiler.m4run import M4Stopped, m4_argv, run_m4, write_prefix
from compiler.sendmail import TLS_DEFINES
from compiler.sendmail.cfread import cf_values
from compiler.sendmail.m4text import widen_guard

TIMEOUT = 120
_TRACE = re.compile(r"^m4trace:(?P<file>.*?):(?P<line>\d+): -\d+- (?P<name>\w+)(?P<rest>.*)$")
_M4_ERROR = re.compile(r"^m4:(?P<file>.*?):(?P<line>\d+): (?P<message>.*)$")
_MAKEMAP = re.compile(r"^makemap: .*?: line (?P<line>\d+): (?P<message>.*)$")
_PROTO_OPTION = re.compile(r"^_OPTION\(([^,]+), `([A-Za-z0-9_]+)'", re.MULTILINE)
TLS_OPTIONS = frozenset(TLS_DEFINES) | {
    "confCRL_PATH",
    "confTLS_FALLBACK_TO_CLEAR",
    "confCERT_FINGERPRINT_ALGORITHM",
    "confSSL_ENGINE",
    "confSSL_ENGINE_PATH",
    "confRAND_FILE",
}
STDIN = "stdin"
#: where other systems keep sendmail-cf's cf.m4; --deep builds with the local tree instead
FOREIGN_CF_M4 = {
    "/usr/share/sendmail-cf/m4/cf.m4": "Red Hat, Fedora",
    "/usr/share/sendmail/cf/m4/cf.m4": "Debian, FreeBSD, Slackware",
    "../m4/cf.m4": "the sendmail distribution's cf/cf files and FreeBSD, OpenBSD",
    "/etc/mail/cf/m4/cf.m4": "Solaris",
}
_NOTICE = re.compile(r"^(?:\*\*\* )?(?:WARNING|NOTE)\b")


@dataclass
class _Trace:
    file: str
    line: int
    name: str
    text: str


def deep_check(doc: SourceText, ctx: LintContext) -> list[Finding]:
    """Findings from the real tools; empty when they agree with the file."""
    if doc.kind == "access":
        return _makemap(doc)
    if doc.kind != "mc":
        return []
    assert isinstance(doc, M4Document)
    return _m4(doc, ctx)


def _line_offset(doc: SourceText, line: int) -> int:
    line = min(max(line, 1), len(doc.line_starts))
    return doc.line_starts[line - 1]


def _missing(tool: str, doc: SourceText) -> list[Finding]:
    return [
        Finding(
            0,
            "M4020",
            "warning",
            f"--deep needs {tool}, which is not installed here; the file was not built",
        )
    ]


# -- m4 ----------------------------------------------------------------------


def _cf_include(doc: M4Document) -> tuple[Call, str] | None:
    """The .mc's include of cf.m4 and the path it names."""
    for call in doc.top_calls("include", "sinclude"):
        if call.args and call.start == doc.cf_m4_at:
            return call, doc.first_arg(call)
    return None


def _substitute(doc: M4Document, text: str) -> tuple[str, str, Finding | None]:
    """(text to build, cf tree, note): a cf.m4 path absent here is mapped to the local tree.

    `text` is the document's text, changed only after its cf.m4 include."""
    found = _cf_include(doc)
    base = cf_dir(doc)
    if found is None:
        return text, base, None
    call, path = found
    here = os.path.dirname(os.path.abspath(doc.path))
    if not path.endswith("m4/cf.m4"):
        return text, base, None
    if os.path.exists(os.path.join(here, path)):
        return text, os.path.dirname(os.path.dirname(os.path.join(here, path))), None
    local = os.path.join(DEFAULT_CF_DIR, "m4", "cf.m4")
    if not os.path.exists(local):
        return text, base, None
    arg = call.args[0]
    text = text[: arg.start] + f"`{local}'" + text[arg.end :]
    # a tlsc .mc's include guard reads only its own cf tree: allow the local one
    text = widen_guard(text, [DEFAULT_CF_DIR.rstrip("/") + "/"])
    known = FOREIGN_CF_M4.get(path)
    whose = f" (where {known} keep it)" if known else ""
    note = Finding(
        arg.start,
        "M4020",
        "warning",
        f"{path}{whose} is not on this machine, so --deep built the file with the local"
        f" sendmail-cf tree ({DEFAULT_CF_DIR}) in its place",
        length=arg.end - arg.start,
    )
    return text, DEFAULT_CF_DIR, note


def _in_tree_includes(doc: M4Document, ctx: LintContext) -> str:
    """`text` with each STARTTLS include pointed at the run's own copy of the file.

    A compiled tree's .mc (build/HOST/etc/mail/sendmail.mc) includes
    /etc/mail/tls/starttls.m4: the build reads build/HOST/etc/mail/tls/starttls.m4
    when the run lints it, never this machine's file (the same rule as the rules'
    `LintContext.in_tree`). Every such include comes after the cf.m4 include, so
    that one's offsets stay as they are.
    """
    text = doc.text
    edits: list[tuple[int, int, str]] = []
    for call in doc.top_calls("include", "sinclude"):
        if not call.args or call.start == doc.cf_m4_at:
            continue
        name = doc.first_arg(call)
        local = ctx.in_tree(name, doc.path)
        if is_starttls(name) and local != name:
            arg = call.args[0]
            edits.append((arg.start, arg.end, os.path.abspath(local)))
    if not edits:
        return text
    for start, end, path in sorted(edits, reverse=True):
        text = text[:start] + f"`{path}'" + text[end:]
    return widen_guard(text, sorted({os.path.dirname(p) + "/" for _s, _e, p in edits}))


def _m4(doc: M4Document, ctx: LintContext) -> list[Finding]:
    text, base, note = _substitute(doc, _in_tree_includes(doc, ctx))
    cf_m4 = os.path.join(base, "m4", "cf.m4")
    notes = [note] if note is not None else []
    if shutil.which("m4") is None:
        return _missing("GNU m4", doc)
    if not os.path.exists(cf_m4):
        return _missing(f"sendmail-cf ({cf_m4})", doc)
    with tempfile.TemporaryDirectory(prefix="tlsc-deep-") as tmp:
        debug = os.path.join(tmp, "trace")
        # the prefix switches off what runs commands before m4 reads any of the file
        argv = [*m4_argv(write_prefix(Path(tmp))), "-dfla", f"--debugfile={debug}"]
        argv += [f"--trace={name}" for name in ("errprint", "include", "sinclude")]
        if doc.cf_m4_at is None:
            argv.append(cf_m4)
        argv.append("-")
        try:
            proc = run_m4(
                argv,
                os.path.dirname(os.path.abspath(doc.path)),
                text.encode("utf-8", "surrogateescape"),
                TIMEOUT,
            )
        except M4Stopped as exc:
            return [*notes, Finding(0, "M4020", "error", str(exc))]
        with open(debug, encoding="utf-8", errors="replace") as handle:
            traces = _parse_traces(handle.read())
    stderr = proc.stderr.decode("utf-8", "replace")
    findings = notes + _map_messages(doc, traces, stderr, proc.returncode)
    if proc.returncode == 0:  # a failed build's .cf is cut short: nothing to compare
        cf = proc.stdout.decode("utf-8", "replace")
        findings += _check_options(doc, ctx, cf, os.path.join(base, "m4", "proto.m4"))
    return findings


def _parse_traces(text: str) -> list[_Trace]:
    traces: list[_Trace] = []
    for line in text.split("\n"):
        m = _TRACE.match(line)
        if m:
            traces.append(_Trace(m["file"], int(m["line"]), m["name"], m["rest"]))
        elif traces:
            traces[-1].text += "\n" + line
    return traces


def _message(trace: _Trace) -> str:
    text = trace.text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    return " ".join(text.split())


def _map_messages(doc: M4Document, traces: list[_Trace], stderr: str, rc: int) -> list[Finding]:
    findings: list[Finding] = []
    last_own = 1
    printed: set[str] = set()
    for trace in traces:
        if trace.file == STDIN:
            last_own = trace.line
        if trace.name != "errprint":
            continue
        message = _message(trace)
        printed.update(part.strip() for part in trace.text.strip("()").split("\n"))
        line = trace.line if trace.file == STDIN else last_own
        where = "" if trace.file == STDIN else f" (in {trace.file}:{trace.line})"
        findings.append(
            Finding(
                _line_offset(doc, line),
                "M4020",
                "warning" if _NOTICE.match(message) else "error",
                f"sendmail-cf says: {message}{where}",
            )
        )
    for raw in stderr.split("\n"):
        line_text = raw.strip()
        if not line_text or line_text in printed:
            continue
        m = _M4_ERROR.match(line_text)
        if m:
            own = m["file"] == STDIN
            line = int(m["line"]) if own else last_own
            where = "" if own else f" (in {m['file']}:{m['line']})"
            findings.append(
                Finding(_line_offset(doc, line), "M4020", "error", f"m4: {m['message']}{where}")
            )
        else:
            findings.append(Finding(0, "M4020", "error", f"m4 printed: {line_text}"))
    if rc != 0 and not findings:
        findings.append(Finding(0, "M4020", "error", f"m4 failed with exit status {rc}"))
    return findings


# -- the built .cf -------------------------------------------------------------


def _expected(doc: M4Document, ctx: LintContext) -> dict[str, tuple[str | None, int]]:
    """conf name -> (literal value or None, offset in the .mc) after every define."""
    expected: dict[str, tuple[str | None, int]] = {}
    # a value naming a macro (cf/README's `CERT_DIR/host.pem') is what m4 expands it to
    defined = {doc.first_arg(c) for c in doc.all_calls() if c.name in ("define", "pushdef")}

    def names_macro(value: str) -> bool:
        return any(w in defined for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", value))

    def walk(source: M4Document, calls: list[Call], anchor: int | None) -> None:
        for call in calls:
            at = call.start if anchor is None else anchor
            name = source.first_arg(call)
            if call.name == "define" and name in TLS_OPTIONS:
                value = source.arg_value(call.args[1]) if len(call.args) > 1 else ""
                literal = (
                    value if re.fullmatch(r"[^`'()$,]*", value) and not names_macro(value) else None
                )
                expected[name] = (literal, at)
            elif call.name == "undefine" and name in expected:
                del expected[name]
            elif call.name in ("include", "sinclude") and anchor is None and is_starttls(name):
                included = ctx.included_m4(name, doc.path)
                if included is not None:
                    walk(included, included.all_calls(), call.start)

    walk(doc, [c for c in doc.all_calls() if not c.hash_line], None)
    return expected


def _check_options(doc: M4Document, ctx: LintContext, cf: str, proto: str) -> list[Finding]:
    try:
        with open(proto, encoding="utf-8", errors="replace") as handle:
            options = {conf: opt.strip() for opt, conf in _PROTO_OPTION.findall(handle.read())}
    except OSError:
        return []
    built = cf_values(cf)
    findings = []
    for conf, (literal, at) in sorted(_expected(doc, ctx).items(), key=lambda kv: kv[1][1]):
        option = options.get(conf)
        if option is None:
            continue
        if option not in built:
            findings.append(
                Finding(
                    at,
                    "M4021",
                    "error",
                    f"the .mc sets {conf}, but the built sendmail.cf has no 'O {option}=' line,"
                    " so sendmail runs without it",
                )
            )
        elif literal and built[option] != literal:
            findings.append(
                Finding(
                    at,
                    "M4021",
                    "error",
                    f"the .mc sets {conf} to '{literal}', but the built sendmail.cf says"
                    f" 'O {option}={built[option]}'",
                )
            )
    return findings


# -- makemap -------------------------------------------------------------------


def _makemap(doc: SourceText) -> list[Finding]:
    tool = shutil.which("makemap") or (
        "/usr/sbin/makemap" if os.path.exists("/usr/sbin/makemap") else None
    )
    if tool is None:
        return _missing("makemap (sendmail-bin)", doc)
    with tempfile.TemporaryDirectory(prefix="tlsc-deep-") as tmp:
        os.chmod(tmp, 0o700)
        try:
            proc = subprocess.run(
                # -C an empty sendmail.cf: without one makemap needs /etc/mail/sendmail.cf
                # (exit 66 where there is none), and a scratch map owes nothing to this
                # machine's TrustedUser or DontBlameSendmail
                [tool, "-C", os.devnull, "hash", os.path.join(tmp, "access")],
                input=doc.text.encode("utf-8", "surrogateescape"),
                capture_output=True,
                env={**os.environ, "LC_ALL": "C"},
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return [Finding(0, "A020", "error", f"makemap did not finish in {TIMEOUT} s")]
    findings = []
    for raw in proc.stderr.decode("utf-8", "replace").split("\n"):
        m = _MAKEMAP.match(raw.strip())
        if m:
            findings.append(
                Finding(
                    _line_offset(doc, int(m["line"])), "A020", "error", f"makemap: {m['message']}"
                )
            )
        elif raw.strip() and "World writable directory" not in raw:
            findings.append(Finding(0, "A020", "error", f"makemap printed: {raw.strip()}"))
    if proc.returncode != 0 and not findings:
        findings.append(
            Finding(0, "A020", "error", f"makemap failed with exit status {proc.returncode}")
        )
    return findings
