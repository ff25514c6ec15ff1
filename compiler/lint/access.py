"""An access file (the source of access.db) read the way `makemap hash` reads it.

Each line is `KEY<blanks>VALUE`, split where makemap splits it
(`compiler.sendmail.mapline`: a blank is a space, tab, VT, FF or CR); `#` in
column 1 starts a comment and blank lines are skipped. The parser keeps every
line with its offsets and leaves judging to the A-rules, which check keys and
values with the same grammar the compiler uses (`compiler.sendmail.accessmap`).

A byte order mark that starts the file is makemap's first key's first
character; the first line is read here as it was meant, after the mark, so
the rules judge what the author wrote, and A008 says what makemap makes of
it (`first_line_with_bom`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from compiler.lint.source import SourceText
from compiler.sendmail import mapline

_CITAG = re.compile(r"\+\+?CITag:([A-Za-z][A-Za-z0-9_-]*)", re.IGNORECASE)

#: tags whose lines are TLS rules (they all need FEATURE(`access_db') to work)
TLS_TAGS = frozenset(
    {
        "tls_srv",
        "tls_clt",
        "tls_rcpt",
        "try_tls",
        "srv_features",
        "clt_features",
        "tls_srv_features",
        "tls_clt_features",
        "certissuer",
        "certsubject",
    }
)


@dataclass(frozen=True)
class AccessLine:
    """One entry line (not a comment, not blank), split as makemap splits it."""

    number: int
    start: int
    raw: str
    key: str
    value: str
    value_start: int

    @property
    def blanks(self) -> str:
        """The run of blanks between key and value, as written."""
        return self.raw[len(self.key) : self.value_start - self.start]

    @property
    def tag(self) -> str:
        """The key's tag as written (`TLS_Srv`), or '' for an untagged key."""
        head, sep, _ = self.key.partition(":")
        return head if sep and head.lower() != "ipv6" and not head.startswith("[") else ""


class AccessDocument(SourceText):
    """The entry lines of an access file, plus the CITag names its rules use."""

    def __init__(self, text: str, path: str) -> None:
        super().__init__(text, path, "access")
        self.entries: list[AccessLine] = []
        #: the first line after a byte order mark (None without one), as meant
        self.first_line_with_bom: str | None = None
        for number, start in enumerate(self.line_starts, 1):
            raw = self.line_text(number)
            if number == 1 and self.bom:
                raw, start = raw[1:], 1
                self.first_line_with_bom = raw
            if raw.strip(mapline.BLANKS) == "" or raw.startswith("#"):
                continue
            key, blanks, value = mapline.split(raw)
            self.entries.append(
                AccessLine(
                    number, start, raw, key, value.rstrip("\r"), start + len(key) + len(blanks)
                )
            )
        self.issuer_tags = frozenset(
            tag for e in self.entries for tag in _CITAG.findall(e.value) if e.tag
        )

    def tls_rules(self) -> list[AccessLine]:
        """The lines that are TLS rules."""
        return [e for e in self.entries if e.tag.lower() in TLS_TAGS]

    def rules_needing_certificates(self) -> list[AccessLine]:
        """TLS rules that only work when sendmail has certificates (TLS_Clt, VERIFY)."""
        return [
            e for e in self.tls_rules() if e.tag.lower() == "tls_clt" or "VERIFY" in e.value.upper()
        ]


def parse_access(text: str, path: str = "access") -> AccessDocument:
    """Read an access file."""
    return AccessDocument(text, path)
