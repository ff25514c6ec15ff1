"""Problems: located findings (errors and warnings) and their output formats.

A problem is a value until the edge of the program; the CLI prints it. This
module is imported by every command, including the fast lint path, so it must
stay free of heavy imports.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]

#: the most characters of a value a message quotes; longer ones are cut and end in …
SHOWN_CHARS = 40
#: a run of base64 this long is taken for key material (a PEM body without its
#: markers, a pasted secret) and never shown
KEY_RUN = 64
WITHHELD = "[base64 data withheld]"
#: a word (no blanks) of a message longer than this is a value quoted whole: cut
_LONG_WORD = 200
#: the longest message kept whole (an 8 MB value must not come back 8 MB long)
MAX_MESSAGE = 2000

_BASE64_RUN = re.compile(
    rf"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{{{KEY_RUN},}}={{0,2}}(?![A-Za-z0-9+/=])"
)
_WORD = re.compile(rf"\S{{{_LONG_WORD + 1},}}")


def _key_like(run: str) -> bool:
    # base64 of a key mixes cases and digits and has few slashes; a long path has many
    body = run.rstrip("=")
    return (
        any(c.isdigit() for c in body)
        and any(c.islower() for c in body)
        and any(c.isupper() for c in body)
        and body.count("/") * 8 <= len(body)
    )


def withhold_key_material(text: str) -> str:
    """`text` with every key-like base64 run (64 characters or more) replaced by WITHHELD."""
    if len(text) < KEY_RUN:
        return text
    return _BASE64_RUN.sub(lambda m: WITHHELD if _key_like(m.group(0)) else m.group(0), text)


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """A value as a message may quote it: key-like base64 withheld, cut to `limit` chars + …."""
    text = withhold_key_material(str(value))
    if len(text) > limit and text != WITHHELD:
        return text[:limit] + "…"
    return text


def scrub_message(message: str) -> str:
    """The last guard on what a message quotes: key-like base64 withheld, a long value cut.

    Builders quote values through `shown()`; this catches the ones that came
    from elsewhere (pydantic's messages, a library's exception text).
    """
    message = withhold_key_material(message)
    if len(message) > _LONG_WORD:
        message = _WORD.sub(lambda m: m.group(0)[:SHOWN_CHARS] + "…", message)
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + "…"
    return message


@dataclass(frozen=True, order=True)
class Problem:
    """One finding at a place in a file. Lines and columns count from 1.

    The message is scrubbed when the problem is made (scrub_message): no
    problem repeats key material or a huge value, whatever built it.
    """

    path: str
    line: int
    col: int
    code: str
    severity: Severity
    message: str

    def __post_init__(self) -> None:
        clean = scrub_message(self.message)
        if clean is not self.message:
            object.__setattr__(self, "message", clean)

    def as_dict(self) -> dict[str, object]:
        """The stable JSON shape: path, line, col, code, severity, message."""
        return asdict(self)


def line_col(text: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column of `offset` in `text` (a position for a Problem)."""
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def has_errors(problems: Iterable[Problem]) -> bool:
    """True when any problem is an error (warnings do not fail a command)."""
    return any(p.severity == "error" for p in problems)


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Problems in file order, duplicates removed."""
    return sorted(set(problems))


#: what printable escapes (one_line all of it): C0 and C1 controls (ESC starts CSI and
#: OSC sequences, U+009B is CSI, BS and CR overwrite), DEL, the line and paragraph
#: separators, the bidirectional controls ("Trojan Source", CVE-2021-42574: ALM, LRM,
#: RLM, LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI) and the zero-width characters
#: (ZWSP, ZWNJ, ZWJ, WORD JOINER, the invisible operators, the BOM)
_CONTROLS = (
    "\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
)
ESCAPED_IN_TEXT = re.compile(f"[{_CONTROLS}]")


@functools.cache
def _controls(keep: str) -> re.Pattern[str]:
    return re.compile(f"(?![{re.escape(keep)}])[{_CONTROLS}]") if keep else ESCAPED_IN_TEXT


def _escaped(match: re.Match[str]) -> str:
    return match.group(0).encode("unicode_escape").decode("ascii")


def printable(text: str, keep: str = "") -> str:
    """`text` safe to show on a terminal or in a CI log: every character of
    ESCAPED_IN_TEXT in it (but those in `keep`) written as Python escapes it, `\\x1b`,
    `\\r`, `\\u202e`.

    What tlsc shows comes from servers, logs and files it does not write: an ESC there
    would reach the operator's terminal as a sequence (colour, a cleared screen, a
    window title), a CR or backspace would overwrite what came before it, a bidi
    override would reorder the line. Escaped, it is shown for what it is.
    """
    return _controls(keep).sub(_escaped, text)


def one_line(text: str) -> str:
    """Control characters (a newline in a quoted value) escaped, so a problem stays one line.

    C1 controls (NEL) and the Unicode line and paragraph separators too: terminals,
    editors and str.splitlines() break lines there. And the bidirectional controls: a
    RIGHT-TO-LEFT OVERRIDE in a quoted value showed the rest of the line reversed, the
    problem's own words and whatever a CI log printed after them; and the zero-width
    characters, which a quote shows as nothing ('a' is the same as 'a'). All of
    printable, nothing kept.
    """
    return printable(text)


def no_host(name: str, where: str, hosts: Iterable[str]) -> str:
    """The sentence for a host name (--host) the spec lacks, the name quoted as given:
    an empty one, or one with a blank or a line break in it, stays readable."""
    return f"no host named '{one_line(shown(name))}' in {where}; hosts are {', '.join(hosts)}"


def format_text(problems: Iterable[Problem], color: bool = False) -> str:
    """`PATH:LINE:COL: error|warning: CODE message`, one a line."""
    out = []
    for p in problems:
        sev: str = p.severity
        if color:
            sev = ("\033[1;31m" if p.severity == "error" else "\033[1;33m") + sev + "\033[0m"
        path = one_line(p.path)  # a file name may hold a newline too
        out.append(f"{path}:{p.line}:{p.col}: {sev}: {p.code} {one_line(p.message)}")
    return "".join(line + "\n" for line in out)


def format_json(problems: Iterable[Problem]) -> str:
    """A JSON list of problem objects."""
    import json  # only here: the lint path of a pre-commit hook starts without it

    return json.dumps([p.as_dict() for p in problems], indent=2) + "\n"


def _gh_escape(text: str, prop: bool = False) -> str:
    """`text` for a workflow command: bidi controls, zero-width characters and other
    controls escaped as in text output (GitHub shows the annotation in the pull
    request, where a RIGHT-TO-LEFT OVERRIDE reversed the rest of the message), then
    the command's own escapes, which GitHub decodes (%25, %0D, %0A; %3A, %2C in a
    property)."""
    # escaped as text output does (one_line), but CR and LF, which the workflow
    # command's own escapes carry (%0D, %0A)
    text = printable(text, "\r\n")
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def format_github(problems: Iterable[Problem]) -> str:
    """GitHub Actions workflow annotations (`::error file=...,line=...::msg`)."""
    out = []
    for p in problems:
        kind = "error" if p.severity == "error" else "warning"
        out.append(
            f"::{kind} file={_gh_escape(p.path, True)},line={p.line},col={p.col},"
            f"title={_gh_escape(p.code, True)}::{_gh_escape(p.message)}"
        )
    return "".join(line + "\n" for line in out)


FORMATTERS = {"text": format_text, "json": format_json, "github": format_github}
