"""access -> the spec's `domains:`, `recipients:`, `issuer_tags:` and `access:`.

The file is read the way `makemap hash` reads it (comments and blank lines
skipped, a line starting with a blank skipped, the first of two equal keys
kept). A TLS line becomes a rule only when tlsc renders that rule back to
the same map entry: `TLS_Srv`/`Try_TLS NO` -> `outbound`, `TLS_Clt`/
`Srv_Features S` -> `inbound` (a `VERIFY` rule on a host that does not ask
for client certificates also needs its `Srv_Features:KEY v` line, which tlsc
writes with it), `TLS_Rcpt` -> `recipients`, `TAG:issuer OK` for a CITag ->
`issuer_tags` (names xtext-decoded). Every other entry goes to `access:`
in canonical spelling, in file order. With `# BEGIN tlsc` / `# END tlsc`
markers only the block is imported and `ownership: block` is set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from compiler.importer.notes import Notes, Where
from compiler.importer.read_mc import valid
from compiler.render.access import BLOCK_BEGIN, BLOCK_END
from compiler.rules import map_value_dn, requirement_of
from compiler.sendmail import mapline, names
from compiler.sendmail.accessmap import TAG_BY_LOWER, is_tag_name, parse_entry, parse_requirement
from compiler.sendmail.xtext import unxtext, xtext
from compiler.spec.model import DistinguishedName, PeerRule
from compiler.spec.model import Requirement as RequirementSpec

_CITAG = re.compile(r"CITag:([A-Za-z][A-Za-z0-9_-]*)", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One map entry as makemap reads it."""

    key: str
    value: str
    line: int

    @property
    def tag(self) -> str | None:
        """The canonical tag of the key, or None."""
        head, sep, _ = self.key.partition(":")
        return TAG_BY_LOWER.get(head.lower()) if sep else None

    @property
    def rest(self) -> str:
        """The key after its tag."""
        return self.key.partition(":")[2]


@dataclass
class AccessRead:
    """The access file in spec terms."""

    ownership: str = "file"
    #: lines left out on purpose (sendmail never reads them): no loss
    left_out: list[Where] = field(default_factory=list)
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    recipients: dict[str, Any] = field(default_factory=dict)
    issuer_tags: dict[str, list[str]] = field(default_factory=dict)
    access: list[tuple[str, Where]] = field(default_factory=list)
    entries: int = 0
    where: dict[str, Where] = field(default_factory=dict)  # spec loc text -> source line


def map_entries(lines: list[tuple[int, str]], path: str, notes: Notes) -> list[Entry]:
    """The entries makemap loads from numbered lines: first of equal keys wins."""
    seen: dict[str, int] = {}
    out: list[Entry] = []
    for number, raw in lines:
        text = raw.removesuffix("\r")
        if not text.strip(mapline.BLANKS) or text.startswith("#"):
            if text.startswith("#"):
                notes.drop("comment lines in access")
            continue
        at = Where(path, number)
        key, blanks, value = mapline.split(text)
        if not key:
            lead = text[0]
            what = (
                "a blank" if lead in " \t" else f"{names.describe_char(lead)} (a blank to makemap)"
            )
            notes.note(at, f"makemap skips a line that starts with {what}; not imported")
            continue
        if not value:
            notes.note(at, "makemap skips a key without a value; not imported")
            continue
        unseen = mapline.unseen_blank(blanks)
        if unseen is not None:
            notes.note(
                at,
                f"makemap ends the key {key} at {names.describe_char(unseen)}, which an editor does"
                " not show as a blank; imported as makemap reads it, the rest being the value",
            )
        folded = key.lower()
        if folded in seen:
            notes.note(
                at,
                f"key {key} repeats line {seen[folded]}; makemap keeps the first, so this"
                " line is not imported",
            )
            continue
        seen[folded] = number
        out.append(Entry(key, value, number))
    return out


def block_lines(text: str, path: str, notes: Notes) -> tuple[str, list[tuple[int, str]]]:
    """(ownership, the numbered lines to import): only the tlsc block when there is one."""
    lines = list(enumerate(text.split("\n"), start=1))
    begins = [n for n, t in lines if t.rstrip("\r") == BLOCK_BEGIN]
    ends = [n for n, t in lines if t.rstrip("\r") == BLOCK_END]
    if not begins and not ends:
        return "file", lines
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        at = Where(path, (begins or ends)[0])
        notes.error(
            at,
            "I140",
            f"the tlsc block markers are broken ({len(begins)} '{BLOCK_BEGIN}',"
            f" {len(ends)} '{BLOCK_END}'); keep one pair, BEGIN before END, and import again",
        )
        return "file", []
    notes.note(
        Where(path, begins[0]),
        "found the tlsc block: ownership: block, only its lines are imported",
    )
    return "block", [(n, t) for n, t in lines if begins[0] < n < ends[0]]


def decode_dn(value: str) -> str | None:
    """The natural name of an xtext-encoded certificate name in a value, if it round-trips."""
    natural = unxtext(value.replace("%%", "%"))
    if map_value_dn(natural) != value or valid(DistinguishedName, natural):
        return None
    return natural


def rule_of(value: str) -> dict[str, Any] | None:
    """The spec rule for a requirement value, when tlsc renders it back identically."""
    try:
        req = parse_requirement(value)
    except ValueError:
        return None
    rule: dict[str, Any] = {"require": req.level}
    if req.bits is not None and not (req.level == "encrypt" and req.bits == 128):
        rule["min_bits"] = req.bits
    if req.on_failure:
        rule["on_failure"] = req.on_failure
    if req.cn:
        rule["cn"] = req.cn
    for key in ("subject", "issuer"):
        encoded = getattr(req, key)
        if encoded:
            natural = decode_dn(encoded)
            if natural is None:
                return None
            rule[key] = natural
    if req.issuer_tag:
        rule["issuer_tag"] = req.issuer_tag
    try:
        rendered = requirement_of(PeerRule.model_validate(rule)).render()
    except (ValidationError, ValueError):
        return None
    return rule if rendered == req.render() else None


def shorthand(rule: dict[str, Any]) -> Any:
    """`encrypt` for {require: encrypt}: the spec's shorthand when nothing else is set."""
    return rule["require"] if list(rule) == ["require"] else rule


class _AccessReader:
    def __init__(
        self,
        entries: list[Entry],
        path: str,
        notes: Notes,
        request_client_cert: bool,
        others: bool = True,
    ):
        #: False: entries that are not TLS rules stay the host's (ownership: tls)
        self.others = others
        self.entries = entries
        self.path = path
        self.notes = notes
        self.request_client_cert = request_client_cert
        self.out = AccessRead(entries=len(entries))
        self.used: set[int] = set()
        self.by_key = {e.key.lower(): e for e in entries}

    def at(self, e: Entry) -> Where:
        return Where(self.path, e.line)

    def run(self) -> AccessRead:
        self.issuer_tags()
        for e in self.entries:
            if e.tag in ("TLS_Srv", "TLS_Clt"):
                self.requirement(e)
            elif e.tag == "TLS_Rcpt":
                self.recipient(e)
        for e in self.entries:
            if e.line in self.used:
                continue
            if e.tag == "Try_TLS" and e.value.strip().upper() == "NO":
                self.no_tls(e, "outbound")
            elif e.tag == "Srv_Features" and e.value.strip() == "S":
                self.no_tls(e, "inbound")
        tag_names = frozenset(self.out.issuer_tags)
        for e in self.entries:
            if e.line in self.used:
                continue
            if not self.others:
                self.notes.keep(self.at(e), "the host's access file (ownership: tls)")
                continue
            try:
                entry = parse_entry(f"{e.key} {e.value.rstrip(mapline.BLANKS)}", tag_names)
            except ValueError as exc:
                if "never consults" in str(exc):
                    # a line sendmail never reads: leaving it out changes nothing
                    self.notes.note(
                        self.at(e),
                        f"{e.key} {e.value.strip()} left out: {exc}, so it never matched",
                    )
                    self.notes.drop("access lines sendmail never consults")
                    self.out.left_out.append(self.at(e))
                    continue
                self.notes.loss(self.at(e), "I141", f"cannot carry over {e.key}: {exc}")
                continue
            self.out.access.append((f"{entry.key} {entry.value}", self.at(e)))
            self.notes.keep(self.at(e), "access")
        return self.out

    def peer_key(self, e: Entry) -> str | None:
        if e.rest == "":
            return "*"
        try:
            return names.parse_peer(e.rest)
        except ValueError:
            return None

    def requirement(self, e: Entry) -> None:
        key = self.peer_key(e)
        rule = rule_of(e.value.rstrip())
        if key is None or rule is None:
            return
        if rule.get("issuer_tag") and rule["issuer_tag"] not in self.out.issuer_tags:
            return
        direction = "outbound" if e.tag == "TLS_Srv" else "inbound"
        partner: Entry | None = None
        if direction == "inbound" and rule["require"] == "verify" and not self.request_client_cert:
            partner = self.by_key.get(f"srv_features:{e.rest}".lower())
            if partner is None or partner.value.strip() != "v":
                self.notes.note(
                    self.at(e),
                    f"{e.key} {e.value.strip()} is not read into the spec: this host asks no"
                    " client for a certificate, so the rule never passes without a"
                    f" Srv_Features:{e.rest} v line; in the spec, {key}: {{inbound: verify}}"
                    " writes both",
                )
                return
        slot = self.out.domains.setdefault(key, {})
        if direction in slot:
            return
        slot[direction] = shorthand(rule)
        self.used.add(e.line)
        if partner is not None:
            self.used.add(partner.line)

    def recipient(self, e: Entry) -> None:
        try:
            key = "*" if e.rest == "" else names.parse_recipient(e.rest)
        except ValueError:
            return
        rule = rule_of(e.value.rstrip())
        if rule is None or key in self.out.recipients:
            return
        if rule.get("issuer_tag") and rule["issuer_tag"] not in self.out.issuer_tags:
            return
        try:
            RequirementSpec.model_validate(rule)
        except ValidationError:
            return
        self.out.recipients[key] = shorthand(rule)
        self.used.add(e.line)

    def no_tls(self, e: Entry, direction: str) -> None:
        key = self.peer_key(e)
        if key is None or (key == "*" and direction == "inbound"):
            return
        slot = self.out.domains.setdefault(key, {})
        if direction in slot:
            return
        slot[direction] = {"starttls": False}
        self.used.add(e.line)

    def issuer_tags(self) -> None:
        """`TAG:/issuer OK` lines; a tag is known once one of its lines is seen."""
        for e in self.entries:
            head, sep, dn = e.key.partition(":")
            if not sep or e.tag is not None or head.lower() == "ipv6":
                continue
            if not dn.startswith("/") or not is_tag_name(head):
                continue
            known = next((t for t in self.out.issuer_tags if t.lower() == head.lower()), None)
            tag = known or head
            self.out.issuer_tags.setdefault(tag, [])
            natural = unxtext(dn)
            if (
                e.value.strip().upper() == "OK"
                and xtext(natural).lower() == dn.lower()
                and valid(DistinguishedName, natural) is None
                and natural not in self.out.issuer_tags[tag]
            ):
                self.out.issuer_tags[tag].append(natural)
                self.used.add(e.line)


def rule_lines(lines: list[tuple[int, str]], request_client_cert: bool) -> set[int]:
    """The numbers of the `lines` (a host's access lines outside tlsc's block) that an
    import reads as TLS rules of the spec: with ownership: tls they are tlsc's, so a
    rule the spec no longer has goes from the file with them."""
    notes = Notes()
    reader = _AccessReader(map_entries(lines, "", notes), "", notes, request_client_cert, False)
    reader.run()
    return reader.used


def read_access(
    text: str, path: str, notes: Notes, request_client_cert: bool, others: bool = True
) -> AccessRead:
    """Read an access file into spec terms, noting what is kept verbatim or lost.

    With `others` False (ownership: tls) only the TLS rules are read; every other
    line stays the host's and is not carried into the spec.
    """
    if "\r\n" in text:
        notes.note(Where(path), "CRLF line endings: tlsc writes LF (the CR was part of values)")
    if others:
        ownership, lines = block_lines(text, path, notes)
    else:
        # ownership: tls owns the TLS rules of the whole file, its block's and the host's
        # lines' alike (plan.ownership.splice_tls_access): all of them are read
        ownership = "tls"
        lines = [
            (n, t)
            for n, t in enumerate(text.split("\n"), start=1)
            if t.rstrip("\r") not in (BLOCK_BEGIN, BLOCK_END)
        ]
    entries = map_entries(lines, path, notes)
    out = _AccessReader(entries, path, notes, request_client_cert, others).run()
    out.ownership = ownership
    return out
