"""The block reader behind `tlsc logs`: the same output as LogParser, line for line.

A block of log lines is searched with C-level `bytes.find` for the lines
that hold `STARTTLS` or `ruleset=` (or `last message repeated `: the other
syslogds' repeat lines, read the slow way with the line before them); no
Python code looks at the others. A
candidate line of the usual shape (a classic or ISO syslog prefix, printable
ASCII without `"` or `\\`) is split by one regular expression over the block
and its JSON written from the raw bytes; any other line goes the reference
way (parse.read_line) and is written by json.dumps, so both give the same
bytes (tests/test_logs_scan.py holds them to it on generated and hostile
input). compiler/logs/workers.py cuts the input and hands it to processes.

Which cert line a record gets depends only on the lines within 2 x WINDOW
before it and WINDOW after it (parse.LogParser): a Scanner that reads some
lines before a part of the log (`emit_from`) and some after it
(`emit_until`) gives that part exactly as a read of the whole would.

The summary counts each distinct record once (a Tally: count, first and last
position), then Summary.add(record, n) in the order records were first seen
and each peer's last problem in the order they were last seen: what counting
line by line gives, in memory that grows with the number of distinct records
(peers, ciphers, replies), not with the number of lines.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

from compiler.logs.parse import (
    LAST_REPEATED,
    VERIFY_RULESETS,
    Before,
    CertLine,
    LogParser,
    Notice,
    RulesetEvent,
    TlsRecord,
    Unreadable,
    error_record,
    json_line,
    last_repeated,
    read_last_repeated,
    read_line,
    refusal,
    repeat_groups,
    split_relay,
)
from compiler.logs.source import MAX_LINE
from compiler.logs.summary import PeerStats, Summary
from compiler.logs.syslog import YearGuess, split_syslog

WINDOW = LogParser.WINDOW
#: what a `last message repeated N times` line holds (read the slow way)
_REPEAT_WORDS = LAST_REPEATED.encode()

_MONTHS = b"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_MONTH_NUMBER = {m: n for n, m in enumerate(_MONTHS.split(b"|"), 1)}
#: a printable ASCII byte that needs no JSON escape
_P = rb"[\x20\x21\x23-\x5b\x5d-\x7e]"
#: the same, no comma (a `k=v` value)
_V = rb"[\x20\x21\x23-\x2b\x2d-\x5b\x5d-\x7e]"
_WORD = rb"[\x21\x23-\x39\x3b-\x5a\x5e-\x7e]"  # no blank, `[`, `]`, `:`, `"`, `\`
_HOSTCH = rb"[\x21\x23-\x5a\x5e-\x7e]"  # no blank, `[`, `]`, `"`, `\`
#: the end of a message: a printable non-blank byte (so rstrip() changes nothing), maybe \r
_END = rb"(?<=[\x21-\x7e])\r?\Z"
#: a day of a month and a time of day, as a clock shows them; a day no month of its name
#: has (Nov 31), and Feb 29, whose year decides, are read by the slow path, which gives
#: a stamp no calendar has no time (syslog.split_syslog)
_DAY_RE = rb"[ 0]?[1-9]|[12]\d|3[01]"
_HMS_RE = rb"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
_NOT_IN_MONTH = rb"(?<!Feb 29)(?<!Feb 3[01])(?<!(?:Apr|Jun|Sep|Nov) 31)"
_NOT_IN_ISO_MONTH = rb"(?<!-02-29)(?<!-02-3[01])(?<!-(?:04|06|09|11)-31)"
_CANON = re.compile(
    rb"(?:<\d{1,3}>)?(?:(?P<mon>"
    + _MONTHS
    + rb") (?P<day>"
    + _DAY_RE
    + rb")"
    + _NOT_IN_MONTH
    + rb" (?P<hms>"
    + _HMS_RE
    + rb")"
    rb"|(?P<date>\d{4}-(?:0[1-9]|1[0-2])-(?:"
    + _DAY_RE
    + rb"))"
    + _NOT_IN_ISO_MONTH
    + rb"T(?P<clock>"
    + _HMS_RE
    + rb"(?:\.\d+)?)(?P<zone>Z|[+-]\d\d:\d\d)?)"
    rb" (?P<host>" + _HOSTCH + rb"*" + _WORD + rb") (?P<tag>" + _WORD + rb"+)\[(?P<pid>\d+)\]: "
    rb"(?:\[ID \d+ [\x21-\x5c\x5e-\x7e]+\] ?)?(?:(?:NOQUEUE|(?=[A-Za-z]*\d)[A-Za-z0-9]{8,20}): )?"
    rb"(?:STARTTLS=(?P<who>server|client), (?:"
    rb"relay=(?P<relay>"
    + _V
    + rb"*), version=(?P<version>"
    + _V
    + rb"*), verify=(?P<verify>"
    + _V
    + rb"+), cipher=(?P<cipher>"
    + _V
    + rb"*), bits=(?P<bits>\d{1,9}/\d{1,9})"
    rb"(?:, [\x20-\x7e]*)?"
    rb"|cert-subject=(?P<subject>" + _P + rb"*?), cert-issuer=(?P<issuer>" + _P + rb"*?)"
    rb"(?:, verifymsg=(?P<verifymsg>" + _P + rb"*))?"
    rb"|error: (?P<error>" + _P + rb"*))"
    rb"|ruleset=(?P<ruleset>[A-Za-z0-9_]+), (?P<rest>" + _P + rb"*))" + _END,
)


def _json_str(value: bytes | None) -> bytes:
    return b"null" if value is None else b'"' + value + b'"'


@dataclass(slots=True)
class _Slot:
    """A handshake record waiting for its cert line (JSON, or a FAIL handshake's summary)."""

    line: int
    #: JSON: the object's bytes up to its cert fields; summary: the key it is counted by
    payload: Any
    done: bool = False
    #: (subject, issuer, verifymsg) of its cert line, once known
    cert: tuple[Any, Any, Any] | None = None
    #: a cert line just before it, taken if none comes after it
    fallback: tuple[Any, Any, Any] | None = None
    time: str | None = None
    #: the times it was logged (a repeat line's count), and JSON: its `count` key, if any
    weight: int = 1
    suffix: bytes = b""
    #: a repeat line's records, once resolved: (count, cert) as parse.repeat_groups
    groups: list[tuple[int, Any]] | None = None

    def resolve(self, cert: tuple[Any, Any, Any] | None) -> None:
        if self.weight != 1:
            self.groups = repeat_groups(self.weight, self.fallback, cert)
        self.cert = cert or self.fallback
        self.done = True
        self.fallback = None


#: the pairing state of a handshake whose cert line does not matter (the summary of a
#: handshake other than FAIL, or one before the part being given): it only claims one
_CLAIM = _Slot(0, None)

#: summary keys: kind first (h: usual handshake, H: other record, e: error line as logged,
#: R: refusal, r: ruleset line as logged, N: notice)
Key = tuple[Any, ...]
#: a process's last STARTTLS item: (line, waiting handshake or _CLAIM or None, free cert, who)
_LastItem = tuple[int, _Slot | None, tuple[Any, Any, Any] | None, bytes]


@dataclass(slots=True)
class Tally:
    """The summary's raw counts: each distinct key with [count, first seen, last seen].

    Positions are line numbers times 4 (plus 0..2: the records of one repeat line,
    parse.repeat_groups, one after the other), so tallies of parts of a log merge
    in any order.
    """

    keys: dict[Key, list[int]] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None
    first_at: int = 1 << 62
    last_at: int = -1

    def note(self, at: int, time: str) -> None:
        """A counted line at position `at` logged at `time`: the span's ends."""
        if at < self.first_at:
            self.first_at, self.first = at, time
        if at > self.last_at:
            self.last_at, self.last = at, time

    def merge(self, other: Tally) -> None:
        """Add the tally of another part of the log."""
        keys = self.keys
        for key, (n, first, last) in other.keys.items():
            mine = keys.get(key)
            if mine is None:
                keys[key] = [n, first, last]
            else:
                mine[0] += n
                if first < mine[1]:
                    mine[1] = first
                if last > mine[2]:
                    mine[2] = last
        if other.first is not None:
            self.note(other.first_at, other.first)
        if other.last is not None:
            self.note(other.last_at, other.last)


_G = _CANON.groupindex
_HOST, _TAG, _PID, _WHO = _G["host"] - 1, _G["tag"] - 1, _G["pid"] - 1, _G["who"] - 1
_RELAY, _VERSION, _VERIFY = _G["relay"] - 1, _G["version"] - 1, _G["verify"] - 1
_CIPHER, _BITS, _ERROR = _G["cipher"] - 1, _G["bits"] - 1, _G["error"] - 1
_SUBJECT, _ISSUER, _VMSG = _G["subject"] - 1, _G["issuer"] - 1, _G["verifymsg"] - 1
_RULESET_NAME, _REST = _G["ruleset"] - 1, _G["rest"] - 1
_MON, _DAY, _HMS = _G["mon"] - 1, _G["day"] - 1, _G["hms"] - 1
_DATE, _CLOCK, _ZONE = _G["date"] - 1, _G["clock"] - 1, _G["zone"] - 1
_FAILS = frozenset({b"FAIL", b"DANE_FAIL"})
_TLS_RULESETS = frozenset({b"tls_server", b"tls_client", b"tls_rcpt", b"try_tls"})
_CACHE_MAX = 50_000


@dataclass(slots=True)
class Fragments:
    """JSON written for what a line holds, each a function of its key alone (no time, no
    year, no pairing): a worker keeps them over all its pieces, not one set per piece."""

    #: a relay= value: its `relay` and `addr` members
    relay: dict[bytes, bytes] = field(default_factory=dict)
    #: (host, ruleset, rest): a refusal after its time, or None when the line is none
    refusal: dict[tuple[bytes, ...], bytes | None] = field(default_factory=dict)
    #: (host, direction, error): an error record after its time
    error: dict[tuple[bytes, ...], bytes] = field(default_factory=dict)
    #: (version, verify, cipher, bits): the end of a handshake before its cert
    handshake: dict[tuple[bytes, ...], bytes] = field(default_factory=dict)


class Scanner:
    """The state of one read through the inputs: pairing, what waits, counts.

    `mode` is "json" (write the records and refusals as JSON Lines to
    `out`) or "text" (count them in `tally`). `within` filters by time.
    Line numbers count from any base: only distances matter. `fragments`:
    the JSON pieces an earlier Scanner wrote (a worker's, over its pieces).
    """

    def __init__(
        self,
        mode: str,
        out: IO[bytes] | None,
        within: Callable[[str | None], bool] | None,
        window: int = WINDOW,
        fragments: Fragments | None = None,
    ) -> None:
        self.json = mode == "json"
        self.out = out
        self.within = within
        self.window = window
        #: the number of the last line read
        self.line = 0
        #: lines from `emit_from` to `emit_until` count and are given; the others only pair
        self.emit_from = 0
        self.emit_until: int | None = None
        self.lines = 0
        self.too_long = 0
        self.unreadable = 0
        self.tally = Tally()
        #: added to line numbers to order the tally (the parent of a split reads later lines)
        self.position = 0
        self._last: dict[tuple[Any, ...], _LastItem] = {}
        self._waiting: deque[_Slot] = deque()
        #: JSON: what is to be written, in order: bytes, or a handshake waiting for its cert
        self._items: list[bytes | _Slot] = []
        self._within: dict[Any, bool] = {}
        fragments = fragments or Fragments()
        self._relay_json = fragments.relay
        self._tails = fragments.refusal
        self._day: dict[bytes, bytes] = {}
        self._years = YearGuess(date.today())
        self._first_stamp: tuple[int, Any, YearGuess] | None = None
        self._last_time: tuple[int, Any, YearGuess] | None = None
        self._error_tails = fragments.error
        self._handshake_tails = fragments.handshake
        #: the last line read that is no repeat line (None: none, or one too long), its number
        self._tail: bytes | None = None
        self._tail_line = 0
        #: the last repeat line read, the line it repeats and that one's number (a run of
        #: repeat lines is read without going back over it for each)
        self._repeat: tuple[int, Before, int] = (-1, None, 0)

    def set_years(self, years: YearGuess) -> None:
        """The year rule of the file about to be read (classic stamps have none)."""
        self._years = years
        self._day = {}
        self._within = {}

    # -- blocks ------------------------------------------------------------------------

    def _counted(self, line: int) -> bool:
        until = self.emit_until
        return line >= self.emit_from and (until is None or line <= until)

    def block(self, block: bytes, end: int | None = None) -> None:
        """Read the lines of `block[:end]` (whole lines; the last may lack its newline)."""
        if end is None:
            end = len(block)
        if not end:
            return
        line = self.line
        last = line + block.count(b"\n", 0, end) + (0 if block[end - 1] == 10 else 1)
        lo = max(line + 1, self.emit_from)
        hi = last if self.emit_until is None else min(last, self.emit_until)
        if hi >= lo:
            self.lines += hi - lo + 1
            if end > MAX_LINE:
                self._count_too_long(block, line, end)
        if self.json:
            self._json_lines(block, line, end)
        else:
            self._tally_lines(block, line, end)
        self._keep_tail(block, end, last)
        self.line = last
        self._ready()

    def _count_too_long(self, block: bytes, line: int, end: int) -> None:
        rfind = block.rfind
        find = block.find
        pos = 0
        while end - pos > MAX_LINE:
            j = rfind(b"\n", pos, pos + MAX_LINE + 1)
            if j >= 0:
                pos = j + 1
                continue
            if self._counted(line + block.count(b"\n", 0, pos) + 1):
                self.too_long += 1
            j = find(b"\n", pos, end)
            if j < 0:
                return
            pos = j + 1

    # -- the summary ---------------------------------------------------------------------

    def _tally_lines(self, block: bytes, line: int, end: int) -> None:
        find = block.find
        rfind = block.rfind
        count = block.count
        match = _CANON.match
        lastd = self._last
        keys = self.tally.keys
        window = self.window
        emit_from = self.emit_from
        until = self.emit_until if self.emit_until is not None else 1 << 62
        within = self.within
        position = self.position
        years = self._years
        first_stamp: tuple[int, Any, YearGuess] | None = None
        last_stamp: tuple[int, Any, YearGuess] | None = None
        line += 1
        prev = 0
        tls = find(b"STARTTLS", 0, end)
        rule = find(b"ruleset=", 0, end)
        again = find(_REPEAT_WORDS, 0, end)
        while tls >= 0 or rule >= 0 or again >= 0:
            at = tls if rule < 0 or 0 <= tls < rule else rule
            if again >= 0 and (at < 0 or again < at):
                at = again
            s = rfind(b"\n", 0, at) + 1
            e = find(b"\n", s, end)
            if e < 0:
                e = end
            if 0 <= tls < e:
                tls = find(b"STARTTLS", e, end)
            if 0 <= rule < e:
                rule = find(b"ruleset=", e, end)
            if 0 <= again < e:
                again = find(_REPEAT_WORDS, e, end)
            line += count(b"\n", prev, s)
            prev = s
            if e - s > MAX_LINE:
                continue
            m = match(block, s, e)
            if m is None:
                self._slow(block[s : e - 1 if block[e - 1 : e] == b"\r" else e], line, block, s)
                continue
            g = m.groups()
            who = g[_WHO]
            counted = emit_from <= line <= until
            if within is not None and counted:
                counted = self._time_ok(g)
            if who is None:
                name = g[_RULESET_NAME]
                rest = g[_REST]
                if name not in _TLS_RULESETS and not _tls_check(name, rest):
                    continue
                if not counted:
                    continue
                key: Key = (b"r", g[_HOST], name, rest)
            else:
                pkey = g[_HOST : _PID + 1]
                last = lastd.get(pkey)
                if g[_BITS] is not None:  # a handshake
                    fallback = None
                    if last is not None and line - last[0] <= window:
                        ws = last[1]
                        if ws is not None and ws is not _CLAIM and not ws.done:
                            self._expire(ws)
                        elif ws is None and last[2] is not None and last[3] == who:
                            fallback = last[2]
                    if counted and g[_VERIFY] in _FAILS:
                        key = (b"h", g[_HOST], who, *g[_RELAY : _BITS + 1])
                        slot = _Slot(line, key, False, None, fallback)
                        self._waiting.append(slot)
                        lastd[pkey] = (line, slot, None, who)
                        if first_stamp is None:
                            first_stamp = (line, g, years)
                        last_stamp = (line, g, years)
                        continue
                    lastd[pkey] = (line, _CLAIM, None, who)
                    if not counted:
                        continue
                    key = (b"h", g[_HOST], who, *g[_RELAY : _BITS + 1], None, None, None)
                elif g[_ERROR] is not None:
                    if last is not None and line - last[0] <= window:
                        ws = last[1]
                        if ws is not None and ws is not _CLAIM and not ws.done:
                            self._expire(ws)
                    lastd[pkey] = (line, None, None, who)
                    if not counted:
                        continue
                    key = (b"e", g[_HOST], who, g[_ERROR])
                else:  # a cert line
                    free: tuple[Any, Any, Any] | None = (g[_SUBJECT], g[_ISSUER], g[_VMSG])
                    if last is not None:
                        ws = last[1]
                        if ws is not None and (ws is _CLAIM or not ws.done):
                            if last[3] == who and line - last[0] <= window:
                                if ws is not _CLAIM:
                                    ws.resolve(free)
                                    self._tally_slot(ws)
                                free = None
                            elif ws is not _CLAIM:
                                self._expire(ws)
                    lastd[pkey] = (line, None, free, who)
                    continue
            if first_stamp is None:
                first_stamp = (line, g, years)
            last_stamp = (line, g, years)
            p = (position + line) << 2
            seen = keys.get(key)
            if seen is None:
                keys[key] = [1, p, p]
            else:
                seen[0] += 1
                seen[2] = p
        if first_stamp is not None:
            self._time_note(*first_stamp[:2])
        if last_stamp is not None:
            self._time_note(*last_stamp[:2])

    def _expire(self, slot: _Slot) -> None:
        """A waiting FAIL handshake that gets no cert line after it (its fallback, if any)."""
        slot.resolve(None)
        if not self.json:
            self._tally_slot(slot)

    def _tally_slot(self, slot: _Slot) -> None:
        if slot.groups is not None and len(slot.groups) > 1:
            # a repeat line's records come one after the other within its line
            for k, (n, cert) in enumerate(slot.groups):
                self._tally_key(slot.payload + (cert or (None, None, None)), slot.line, n, k)
            return
        self._tally_key(slot.payload + (slot.cert or (None, None, None)), slot.line, slot.weight)

    def _tally_key(self, key: Key, line: int, weight: int, within: int = 0) -> None:
        p = (self.position + line) << 2 | within
        seen = self.tally.keys.get(key)
        if seen is None:
            self.tally.keys[key] = [weight, p, p]
        else:
            seen[0] += weight
            if p > seen[2]:
                seen[2] = p
            if p < seen[1]:
                seen[1] = p

    def _time_note(self, line: int, g: Any) -> None:
        """Keep the stamp of the first and the last line counted (made a time at the end)."""
        stamp = (line, g, self._years)
        first = self._first_stamp
        if first is None or line < first[0]:
            self._first_stamp = stamp
        last = self._last_time
        if last is None or line > last[0]:
            self._last_time = stamp

    def _time_ok(self, g: Any) -> bool:
        stamp = g[_MON : _HMS + 1] if g[_MON] is not None else g[_DATE : _ZONE + 1]
        ok = self._within.get(stamp)
        if ok is None:
            if len(self._within) > 100_000:
                self._within.clear()
            assert self.within is not None
            ok = self._within[stamp] = self.within(self._time(g).decode())
        return ok

    # -- JSON --------------------------------------------------------------------------

    def _json_lines(self, block: bytes, line: int, end: int) -> None:
        find = block.find
        rfind = block.rfind
        count = block.count
        match = _CANON.match
        lastd = self._last
        items = self._items
        relay_json = self._relay_json
        tails = self._tails
        error_tails = self._error_tails
        handshake_tails = self._handshake_tails
        day = self._day
        window = self.window
        emit_from = self.emit_from
        until = self.emit_until if self.emit_until is not None else 1 << 62
        within = self.within
        line += 1
        prev = 0
        tls = find(b"STARTTLS", 0, end)
        rule = find(b"ruleset=", 0, end)
        again = find(_REPEAT_WORDS, 0, end)
        while tls >= 0 or rule >= 0 or again >= 0:
            at = tls if rule < 0 or 0 <= tls < rule else rule
            if again >= 0 and (at < 0 or again < at):
                at = again
            s = rfind(b"\n", 0, at) + 1
            e = find(b"\n", s, end)
            if e < 0:
                e = end
            if 0 <= tls < e:
                tls = find(b"STARTTLS", e, end)
            if 0 <= rule < e:
                rule = find(b"ruleset=", e, end)
            if 0 <= again < e:
                again = find(_REPEAT_WORDS, e, end)
            line += count(b"\n", prev, s)
            prev = s
            if e - s > MAX_LINE:
                continue
            m = match(block, s, e)
            if m is None:
                self._slow(block[s : e - 1 if block[e - 1 : e] == b"\r" else e], line, block, s)
                continue
            g = m.groups()
            who = g[_WHO]
            counted = emit_from <= line <= until
            if within is not None and counted:
                counted = self._time_ok(g)
            if who is None:
                if not counted:
                    continue
                tkey = (g[_HOST], g[_RULESET_NAME], g[_REST])
                tail = tails.get(tkey, b"")
                if tail == b"":
                    tail = tails[tkey] = self._refusal_tail(g)
                    if len(tails) > _CACHE_MAX:
                        tails.clear()
                if tail is not None:
                    items.append(b'{"kind": "refusal", "time": "' + self._time(g) + tail)
                continue
            pkey = g[_HOST : _PID + 1]
            last = lastd.get(pkey)
            if g[_BITS] is not None:
                fallback = None
                if last is not None and line - last[0] <= window:
                    ws = last[1]
                    if ws is not None and ws is not _CLAIM and not ws.done:
                        ws.resolve(None)
                    elif ws is None and last[2] is not None and last[3] == who:
                        fallback = last[2]
                if not counted:
                    lastd[pkey] = (line, _CLAIM, None, who)
                    continue
                relay = g[_RELAY]
                frag = relay_json.get(relay)
                if frag is None:
                    frag = relay_json[relay] = _relay_json(relay)
                    if len(relay_json) > _CACHE_MAX:
                        relay_json.clear()
                tail_key = g[_VERSION : _BITS + 1]
                tail = handshake_tails.get(tail_key)
                if tail is None:
                    tail = handshake_tails[tail_key] = _handshake_tail(*tail_key)
                    if len(handshake_tails) > _CACHE_MAX:
                        handshake_tails.clear()
                mon = g[_MON]
                if mon is not None:
                    stamp = day.get(mon + g[_DAY])
                    if stamp is None:
                        stamp = self._day_prefix(mon, g[_DAY])
                    stamp += g[_HMS]
                else:
                    stamp = self._time(g)
                slot = _Slot(
                    line,
                    b'{"kind": "handshake", "time": "%s", "host": "%s", "direction": "%s%s%s'
                    % (stamp, g[_HOST], who, frag, tail),
                    False,
                    None,
                    fallback,
                )
                items.append(slot)
                self._waiting.append(slot)
                lastd[pkey] = (line, slot, None, who)
            elif g[_ERROR] is not None:
                if last is not None and line - last[0] <= window:
                    ws = last[1]
                    if ws is not None and ws is not _CLAIM and not ws.done:
                        ws.resolve(None)
                lastd[pkey] = (line, None, None, who)
                if not counted:
                    continue
                tkey = (g[_HOST], who, g[_ERROR])
                etail = error_tails.get(tkey)
                if etail is None:
                    r = error_record(
                        None, g[_HOST].decode(), who.decode(), " " + g[_ERROR].decode()
                    )
                    etail = error_tails[tkey] = _error_tail(r)
                    if len(error_tails) > _CACHE_MAX:
                        error_tails.clear()
                tail = etail
                items.append(b'{"kind": "error", "time": "' + self._time(g) + tail)
            else:
                free: tuple[Any, Any, Any] | None = (g[_SUBJECT], g[_ISSUER], g[_VMSG])
                if last is not None:
                    ws = last[1]
                    if ws is not None and (ws is _CLAIM or not ws.done):
                        if last[3] == who and line - last[0] <= window:
                            if ws is not _CLAIM:
                                ws.resolve(free)
                            free = None
                        elif ws is not _CLAIM:
                            ws.resolve(None)
                lastd[pkey] = (line, None, free, who)

    def _refusal_tail(self, g: Any) -> bytes | None:
        """The JSON of a refusal after its time, or None when the line is not a refusal."""
        event = refusal(None, g[_HOST].decode(), g[_RULESET_NAME].decode(), g[_REST].decode())
        return None if event is None else _event_tail(event)

    # -- one line the reference way ------------------------------------------------------

    def _day_prefix(self, mon: bytes, day: bytes) -> bytes:
        year = self._years.year(mon.decode(), int(day))
        prefix = f"{year:04d}-{_MONTH_NUMBER[mon]:02d}-{int(day):02d}T".encode()
        self._day[mon + day] = prefix
        return prefix

    def _time(self, g: Any) -> bytes:
        mon = g[_MON]
        if mon is not None:
            prefix = self._day.get(mon + g[_DAY])
            if prefix is None:
                prefix = self._day_prefix(mon, g[_DAY])
            return bytes(prefix + g[_HMS])
        return bytes(g[_DATE] + b"T" + g[_CLOCK] + (g[_ZONE] or b""))

    def _slow(self, raw: bytes, line: int, block: bytes = b"", at: int = 0) -> None:
        """A line of another shape, read as LogParser reads it (split_syslog, read_line).

        A `last message repeated` line (it starts at `at` in `block`) repeats the
        line before it that is not one, as parse.read_last_repeated says.
        """
        text = raw.decode("utf-8", "replace")
        split = split_syslog(text, self._years)
        found = None
        if _REPEAT_WORDS in raw and last_repeated(split) is not None:
            found = read_last_repeated(split, self._before(block, at, line))
        key, msg = read_line(split, text) if found is None else found
        if msg is None:
            return
        counted = self._counted(line)
        if isinstance(msg, Unreadable):
            if counted:
                self.unreadable += 1
            return
        if (
            counted
            and self.within is not None
            and not self._slow_time_ok(msg.time if not isinstance(msg, CertLine) else None, msg)
        ):
            counted = False
        pkey: tuple[Any, ...] = tuple(None if k is None else k.encode() for k in key)
        if isinstance(msg, CertLine):
            self._slow_cert(pkey, msg, line)
            return
        if isinstance(msg, TlsRecord):
            self._slow_record(pkey, msg, line, counted)
            return
        if not counted:
            return
        if isinstance(msg, RulesetEvent):
            if self.json:
                self._items.append(json_line(msg).encode())
            else:
                self._count(_event_key(msg), line, msg.time, msg.count)
        elif not self.json:  # a Notice: the summary counts it
            self._count((b"N", msg.host, msg.text), line, msg.time, msg.count)

    def _before(self, block: bytes, at: int, line: int) -> Before:
        """The last line before line `line` (at `at` in `block`, or before the block) that is
        no repeat line, within the window (as parse.LogParser looks back)."""
        found = self._look_back(block, at, line)
        self._repeat = (line, *found)
        return found[0] if found[0] is not None and line - found[1] <= self.window else None

    def _look_back(self, block: bytes, at: int, line: int) -> tuple[Before, int]:
        rfind = block.rfind
        back = line
        while at > 0:
            back -= 1
            if line - back > self.window:
                return None, back
            if back == self._repeat[0]:  # a repeat line just read: the same line before it
                return self._repeat[1], self._repeat[2]
            start = rfind(b"\n", 0, at - 1) + 1
            raw = block[start : at - 2 if block[at - 2 : at - 1] == b"\r" else at - 1]
            if at - 1 - start > MAX_LINE:
                return None, back
            text = raw.decode("utf-8", "replace")
            split = split_syslog(text, self._years)
            if _REPEAT_WORDS not in raw or last_repeated(split) is None:
                return (split, text), back
            at = start
        tail = self._tail
        if tail is None:
            return None, 0
        text = tail.decode("utf-8", "replace")
        return (split_syslog(text, self._years), text), self._tail_line

    def _keep_tail(self, block: bytes, end: int, last: int) -> None:
        """Remember the block's last line that is no repeat line (`last`: the block's last
        line's number), for the next block's."""
        after = end + 1 if block[end - 1] != 10 else end  # where a next line would start
        rfind = block.rfind
        at = after
        while at > 0:
            start = rfind(b"\n", 0, at - 1) + 1
            raw = block[start : at - 2 if block[at - 2 : at - 1] == b"\r" else at - 1]
            if at - 1 - start > MAX_LINE:
                self._tail = None
                return
            if (
                _REPEAT_WORDS not in raw
                or last_repeated(split_syslog(raw.decode("utf-8", "replace"), self._years)) is None
            ):
                self._tail, self._tail_line = raw, last
                return
            at = start
            last -= 1

    def _slow_time_ok(self, time: str | None, msg: object) -> bool:
        if isinstance(msg, CertLine):
            return True
        assert self.within is not None
        ok = self._within.get(time)
        if ok is None:
            ok = self._within[time] = self.within(time)
        return ok

    def _count(self, key: Key, line: int, time: str | None, n: int = 1) -> None:
        if time is not None:
            self._time_note(line, time)
        p = (self.position + line) << 2
        seen = self.tally.keys.get(key)
        if seen is None:
            self.tally.keys[key] = [n, p, p]
        else:
            seen[0] += n
            seen[2] = p

    def _slow_cert(self, pkey: tuple[Any, ...], msg: CertLine, line: int) -> None:
        who = msg.direction.encode()
        free: tuple[Any, Any, Any] | None = (msg.subject, msg.issuer, msg.verifymsg)
        last = self._last.get(pkey)
        if last is not None:
            ws = last[1]
            if ws is not None and (ws is _CLAIM or not ws.done):
                if last[3] == who and line - last[0] <= self.window:
                    if ws is not _CLAIM:
                        ws.resolve(free)
                        if not self.json:
                            self._tally_slot(ws)
                    free = None
                elif ws is not _CLAIM:
                    self._expire(ws)
        self._last[pkey] = (line, None, free, who)

    def _slow_record(self, pkey: tuple[Any, ...], r: TlsRecord, line: int, counted: bool) -> None:
        who = r.direction.encode()
        last = self._last.get(pkey)
        fallback = None
        if last is not None and line - last[0] <= self.window:
            ws = last[1]
            if ws is not None and ws is not _CLAIM and not ws.done:
                self._expire(ws)
            elif ws is None and last[2] is not None and last[3] == who:
                fallback = last[2]
        if r.error is not None:
            self._last[pkey] = (line, None, None, who)
            if counted:
                if self.json:
                    self._items.append(json_line(r).encode())
                else:
                    self._count(_record_key(r), line, r.time, r.count)
            return
        if not counted or (not self.json and r.verify not in ("FAIL", "DANE_FAIL")):
            self._last[pkey] = (line, _CLAIM, None, who)
            if counted:
                self._count((*_record_key(r), None, None, None), line, r.time, r.count)
            return
        count, suffix = r.count, b""
        if self.json and count != 1:  # `count` comes after the cert fields
            r.count, suffix = 1, b', "count": %d' % count
        payload = json_line(r)[:-2].encode() if self.json else _record_key(r)
        r.count = count
        slot = _Slot(line, payload, False, None, fallback, r.time, count, suffix)
        if self.json:
            self._items.append(slot)
        elif r.time is not None:
            self._time_note(line, r.time)
        self._waiting.append(slot)
        self._last[pkey] = (line, slot, None, who)

    # -- output ------------------------------------------------------------------------

    def _ready(self, final: bool = False) -> None:
        if len(self._last) > 4 * self.window + 16:
            oldest = self.line - self.window
            self._last = {k: v for k, v in self._last.items() if v[0] >= oldest}
        waiting = self._waiting
        oldest = self.line - self.window
        while waiting:
            head = waiting[0]
            if not head.done:
                if head.line >= oldest and not final:
                    break
                self._expire(head)
            waiting.popleft()
        if not self.json:
            return
        items = self._items
        if waiting:
            first = waiting[0]
            k = next(i for i, item in enumerate(items) if item is first)
        else:
            k = len(items)
        if not k or self.out is None:
            return
        out = [x if isinstance(x, bytes) else _slot_json(x) for x in items[:k]]
        del items[:k]
        self.out.write(b"".join(out))

    def finish(self) -> None:
        """The end of the input: everything still waiting is given."""
        self._ready(final=True)
        self._last.clear()
        self.close_times()

    def close_times(self) -> None:
        """Turn the first and last stamps counted into times."""
        for attr in ("_first_stamp", "_last_time"):
            stamp = getattr(self, attr, None)
            if stamp is None:
                continue
            setattr(self, attr, None)
            line, g, years = stamp
            if isinstance(g, str):
                text = g
            else:
                keep = self._years
                self._years = years
                self._day = {}
                text = self._time(g).decode()
                self._years = keep
                self._day = {}
            self.tally.note(self.position + line, text)


def _slot_json(slot: _Slot) -> bytes:
    if slot.groups is not None and len(slot.groups) > 1:  # a repeat line's records
        head: bytes = slot.payload
        return b"".join(
            head
            + (_cert_json(cert) if cert is not None else b"")
            + (b', "count": %d' % n if n != 1 else b"")
            + b"}\n"
            for n, cert in slot.groups
        )
    cert = slot.cert
    payload: bytes = slot.payload
    if cert is not None:
        payload += _cert_json(cert)
    return payload + slot.suffix + b"}\n"


def _handshake_tail(version: bytes, verify: bytes, cipher: bytes, bits: bytes) -> bytes:
    """A handshake's JSON from `version` on, to before its cert fields."""
    a, _, b = bits.partition(b"/")
    return b", " + b", ".join(
        (
            b'"version": ' + _json_str(version or None),
            b'"verify": "' + verify + b'"',
            b'"cipher": ' + _json_str(cipher or None),
            b'"bits": ' + str(int(a)).encode(),
            b'"bits_max": ' + str(int(b)).encode(),
            b'"error": null',
        )
    )


def _relay_json(relay: bytes) -> bytes:
    name, addr = split_relay(relay.decode())
    frag = b'"'
    if name is not None:
        frag += b', "relay": "' + name.encode() + b'"'
    if addr is not None:
        frag += b', "addr": "' + addr.encode() + b'"'
    return frag


#: not proto.m4's relay refusal with AUTH, `550 5.7.1 <a@b>... Relaying denied. Proper
#: authentication required.`: the most common check_rcpt line of real logs, no TLS
_CHECK_TLS = re.compile(
    rb"encryption too weak|not authenticated|(?<!Proper )authentication required"
    rb"|authentication (?:failed|failure)"
    rb"|no authentication requested|STARTTLS|TLS handshake|do not try TLS"
    rb"|CN .* does not match|Cert (?:Issuer|Subject) .* (?:not acceptable|does not match)"
    rb"|DANE|not listed in SANs"
)


def _tls_check(name: bytes, rest: bytes) -> bool:
    """A check_* line whose reply is a TLS reason (parse._ruleset decides the same)."""
    if not name.startswith(b"check_"):
        return False
    _, sep, reply = rest.partition(b", reject=")
    if not sep:
        _, sep, reply = rest.partition(b", status=")
    return bool(sep) and _CHECK_TLS.search(reply) is not None


def _cert_json(cert: tuple[Any, Any, Any]) -> bytes:
    subject, issuer, _ = cert
    if isinstance(subject, bytes):
        raw: bytes = b', "cert_subject": "' + subject + b'", "cert_issuer": "' + issuer + b'"'
        return raw
    import json

    return (
        b', "cert_subject": '
        + json.dumps(subject).encode()
        + b', "cert_issuer": '
        + json.dumps(issuer).encode()
    )


def _record_key(r: TlsRecord) -> Key:
    return (
        b"H",
        r.host,
        r.direction,
        r.relay,
        r.addr,
        r.version,
        r.verify,
        r.cipher,
        r.bits,
        r.bits_max,
        r.error,
    )


def _event_key(e: RulesetEvent) -> Key:
    return (b"R", e.host, e.ruleset, e.direction, e.verify, e.relay, e.addr, e.reject, e.arg1)


def _error_tail(r: TlsRecord) -> bytes:
    """An error record's JSON after its time, for fields that need no escapes."""
    parts = [b'", "host": "', (r.host or "").encode(), b'", "direction": "', r.direction.encode()]
    parts.append(b'"')
    if r.relay is not None:
        parts += [b', "relay": "', r.relay.encode(), b'"']
    if r.addr is not None:
        parts += [b', "addr": "', r.addr.encode(), b'"']
    parts += [
        b', "version": null, "verify": null, "cipher": null, "bits": null, "bits_max": null,'
        b' "error": "',
        (r.error or "").encode(),
        b'"}\n',
    ]
    return b"".join(parts)


def _event_tail(e: RulesetEvent) -> bytes:
    """A refusal's JSON after its time, for fields that need no escapes."""
    parts = [b'", "host": "', (e.host or "").encode(), b'", "direction": "', e.direction.encode()]
    parts.append(b'"')
    if e.relay is not None:
        parts += [b', "relay": "', e.relay.encode(), b'"']
    if e.addr is not None:
        parts += [b', "addr": "', e.addr.encode(), b'"']
    parts += [b', "ruleset": "', e.ruleset.encode(), b'", "arg1": ', _json_str(_b(e.arg1))]
    if e.ruleset in VERIFY_RULESETS:
        parts += [b', "verify": ', _json_str(_b(e.verify))]
    parts += [b', "reply": ', _json_str(_b(e.reject)), b"}\n"]
    return b"".join(parts)


def _b(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def summary_of(tally: Tally) -> Summary:
    """The Summary of a tally: each key counted once with its count, first-seen order;
    then last problems in last-seen order."""
    summary = Summary()
    splits: dict[bytes, tuple[str | None, str | None]] = {}
    items = sorted(tally.keys.items(), key=lambda kv: kv[1][1])
    problems: list[tuple[int, PeerStats, str | None]] = []
    add, add_event = summary.add, summary.add_event
    for key, (n, _, last) in items:
        entry = _entry_of(key, splits)
        peer = add(entry, n) if isinstance(entry, TlsRecord) else add_event(entry, n)
        if peer is not None:
            problems.append((last, peer, peer.last_problem))
    problems.sort(key=lambda row: row[0])
    for _, peer, problem in problems:
        peer.last_problem = problem
    summary.first, summary.last = tally.first, tally.last
    return summary


def _entry_of(
    key: Key, splits: dict[bytes, tuple[str | None, str | None]]
) -> TlsRecord | RulesetEvent | Notice:
    kind = key[0]
    if kind == b"h":
        _, host, who, relay, version, verify, cipher, bits, subject, issuer, verifymsg = key
        split = splits.get(relay)
        if split is None:
            split = splits[relay] = split_relay(relay.decode())
        a, _, b = bits.partition(b"/")
        return TlsRecord(
            None,
            host.decode(),
            who.decode(),
            split[0],
            split[1],
            version.decode() or None,
            verify.decode(),
            cipher.decode() or None,
            int(a),
            int(b),
            None,
            _s(subject),
            _s(issuer),
            _s(verifymsg),
        )
    if kind == b"H":
        _, host, who, relay, addr, version, verify, cipher, bits, bits_max, error, *cert = key
        cert = cert or [None, None, None]
        return TlsRecord(
            None,
            host,
            who,
            relay,
            addr,
            version,
            verify,
            cipher,
            bits,
            bits_max,
            error,
            _s(cert[0]),
            _s(cert[1]),
            _s(cert[2]),
        )
    if kind == b"e":
        _, host, who, error = key
        return error_record(None, host.decode(), who.decode(), " " + error.decode())
    if kind == b"r":
        _, host, name, rest = key
        event = refusal(None, host.decode(), name.decode(), rest.decode())
        assert event is not None  # the scan counts only refusals
        return event
    if kind == b"R":
        _, host, ruleset, direction, verify, relay, addr, reject, arg1 = key
        return RulesetEvent(None, host, ruleset, direction, verify, relay, addr, reject, arg1)
    _, host, text = key
    return Notice(None, host, text)


def _s(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
