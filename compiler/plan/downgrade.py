"""The downgrade guard: changes that weaken TLS.

A peer's policy is read from the access entries that decide it:

* outbound (mail sent to PEER): `Try_TLS:PEER NO` -> none, else
  `TLS_Srv:PEER` -> encrypt or verify, else may;
* inbound (mail received from PEER): `Srv_Features:PEER` with the letter `S`
  -> none, else `TLS_Clt:PEER`, else may;
* recipients: `TLS_Rcpt:ADDRESS`, else may.

Levels rank verify > encrypt > may > none. A weakening is

* P001 a lower level (verify -> encrypt -> may -> none);
* P002 fewer minimum bits (VERIFY:128 -> VERIFY asks for none; ENCR:128 ->
  VERIFY raises the level and is not one);
* P003 STARTTLS removed from a host (its include leaves sendmail.mc, so the
  built sendmail.cf loses it);
* P004 a certificate check dropped (+CN, +CN:name, +CS, +CI, +CITag).

`PERM+` -> `TEMP+` (or either -> none) changes what a failure does, not what
is required, and is not a downgrade; nor is any strengthening. Only keys the
access diff touches are compared, so an entry that did not change never
raises a warning. A right-hand side that is not a TLS requirement at all is
left to `tlsc lint`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from compiler.plan.model import AccessDiff, AccessLine, PlanWarning, WarningLine
from compiler.sendmail.accessmap import Requirement, parse_requirement

RANK = {"none": 0, "may": 1, "encrypt": 2, "verify": 3}

#: folded tag -> direction
_DIRECTION = {
    "tls_srv": "outbound",
    "try_tls": "outbound",
    "tls_clt": "inbound",
    "srv_features": "inbound",
    "tls_rcpt": "recipient",
}
_CHECKS = ("cn", "subject", "issuer", "issuer_tag")
_LEVEL_TEXT = {
    "none": "none (STARTTLS off)",
    "may": "may (opportunistic)",
    "encrypt": "encrypt",
    "verify": "verify",
}
_INCLUDE = re.compile(r"^[ \t]*include\(`([^'`]*)'\)")


@dataclass(frozen=True)
class Policy:
    """What the entries of one peer and direction require."""

    level: str  # none, may, encrypt, verify, or unknown (a right-hand side we cannot read)
    requirement: Requirement | None


def _policy(direction: str, entries: dict[str, AccessLine]) -> Policy:
    try_tls = entries.get("try_tls") if direction == "outbound" else None
    if try_tls is not None and try_tls.value.strip().upper() == "NO":
        return Policy("none", None)
    features = entries.get("srv_features") if direction == "inbound" else None
    if features is not None and "S" in features.value.split():
        return Policy("none", None)
    tag = {"outbound": "tls_srv", "inbound": "tls_clt", "recipient": "tls_rcpt"}[direction]
    if tag not in entries:
        return Policy("may", None)
    try:
        req = parse_requirement(entries[tag].value)
    except ValueError:
        return Policy("unknown", None)
    return Policy(req.level, req)


def _subject(direction: str, peer: str) -> str:
    if direction == "recipient":
        return f"mail for {peer}" if peer else "mail for any recipient (the bare TLS_Rcpt: default)"
    verb = "sent to" if direction == "outbound" else "received from"
    tag = "TLS_Srv" if direction == "outbound" else "TLS_Clt"
    return f"mail {verb} {peer}" if peer else f"mail {verb} any peer (the bare {tag}: default)"


def _check_text(req: Requirement, attr: str) -> str:
    """A certificate check as sendmail writes it: +CN, +CN:name, +CS:..., +CI:..., +CITag:..."""
    if attr == "cn":
        return "+CN" if req.cn is True else f"+CN:{req.cn}"
    prefix = {"subject": "CS", "issuer": "CI", "issuer_tag": "CITag"}[attr]
    return f"+{prefix}:{getattr(req, attr)}"


def _bits(req: Requirement) -> int:
    return req.bits or 0


def access_downgrades(diff: AccessDiff, path: str) -> list[PlanWarning]:
    """A warning for each peer whose TLS policy the access diff weakens."""
    before: dict[tuple[str, str], dict[str, AccessLine]] = defaultdict(dict)
    after: dict[tuple[str, str], dict[str, AccessLine]] = defaultdict(dict)
    display: dict[tuple[str, str], str] = {}
    for side, entries in (
        (before, [*diff.removed, *(c.before for c in diff.changed)]),
        (after, [*diff.added, *(c.after for c in diff.changed)]),
    ):
        for entry in entries:
            tag, sep, peer = entry.key.partition(":")
            direction = _DIRECTION.get(tag.lower())
            if not sep or direction is None:
                continue
            slot = (direction, peer.lower())
            side[slot][tag.lower()] = entry
            display.setdefault(slot, peer)
    warnings = []
    for slot in sorted(set(before) | set(after)):
        direction = slot[0]
        old = _policy(direction, before.get(slot, {}))
        new = _policy(direction, after.get(slot, {}))
        lines = tuple(
            [WarningLine("before", e.line, e.text()) for e in before.get(slot, {}).values()]
            + [WarningLine("after", e.line, e.text()) for e in after.get(slot, {}).values()]
        )
        lines = tuple(sorted(lines, key=lambda w: (w.side != "before", w.line)))
        what = _subject(direction, display[slot])
        for code, message in _compare(old, new, what):
            warnings.append(PlanWarning(code, message, path, lines))
    return warnings


def _compare(old: Policy, new: Policy, what: str) -> list[tuple[str, str]]:
    if "unknown" in (old.level, new.level):
        return []
    out = []
    if RANK[new.level] < RANK[old.level]:
        was, now = _LEVEL_TEXT[old.level], _LEVEL_TEXT[new.level]
        out.append(("P001", f"TLS for {what} weakens from {was} to {now}"))
    if old.requirement is None or new.requirement is None:
        return out
    # ENCR:128 -> VERIFY raises the level and leaves the key length to the cipher:
    # fewer bits only counts when the level stays or the new rule names a number
    fewer = _bits(new.requirement) < _bits(old.requirement)
    if fewer and (new.requirement.bits is not None or new.level == old.level):
        old_bits, new_bits = _bits(old.requirement), _bits(new.requirement)
        now_text = f"{new_bits} bits" if new_bits else "no minimum"
        out.append(
            ("P002", f"minimum key length for {what} drops from {old_bits} bits to {now_text}")
        )
    for attr in _CHECKS:
        if getattr(old.requirement, attr) and not getattr(new.requirement, attr):
            check = _check_text(old.requirement, attr)
            out.append(("P004", f"certificate check {check} is dropped for {what}"))
    return out


def _starttls_includes(text: str | None) -> list[tuple[int, str]]:
    if not text:
        return []
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        m = _INCLUDE.match(line)
        if m and "starttls" in m.group(1).lower():
            out.append((number, line))
    return out


def starttls_removed(
    mc_path: str,
    mc_before: str | None,
    mc_after: str | None,
) -> PlanWarning | None:
    """P003 when the host stops offering STARTTLS: the include leaves sendmail.mc.

    That is what the built sendmail.cf loses; starttls.m4 itself is never deleted
    (an unused one does nothing, plan/ownership.py), so it is never the sign.
    """
    had = _starttls_includes(mc_before)
    if mc_after is not None and had and not _starttls_includes(mc_after):
        return PlanWarning(
            "P003",
            f"STARTTLS is removed from this host: {mc_path} no longer includes the STARTTLS"
            " settings",
            mc_path,
            tuple(WarningLine("before", n, line) for n, line in had),
        )
    return None
