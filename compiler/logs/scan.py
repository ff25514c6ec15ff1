"""Reading logs fast: what `tlsc logs` runs; the same output as LogParser, line for line.

A log is read in blocks of a few MiB. In each block, C-level searches
(`bytes.find`) find the lines that hold `STARTTLS` or `ruleset=`; no Python
code looks at the others. A candidate line of the usual shape (a classic or
ISO syslog prefix, printable ASCII without `"` or `\\`) is split by one
regular expression over the block and its JSON written from the raw bytes;
any other line goes the reference way (parse.read_line) and is written by
json.dumps, so both give the same bytes (tests/test_logs_scan.py holds them
to it on generated and hostile input).

A big plain file is read by two processes (os.fork): the child reads the
first half, the parent the second. Because which cert line a record gets
depends only on the lines within 2 x WINDOW around it (parse.LogParser), the
parent first reads 2 x WINDOW + 2 lines before its half without giving
anything from them, and the child reads WINDOW + 1 lines past its half so
that its last records are complete. The child writes its JSON straight to
stdout and the parent its own to a temporary file, copied after the child
is done; for the summary the child sends its counts back through a pipe.

The summary counts each distinct record once, with how often it was seen
(Summary.add(record, n)), in the order records were first seen; then each
peer's last problem is set in the order they were last seen. That gives
what counting line by line gives, in memory that grows with the number of
distinct records (peers, ciphers, replies), not with the number of lines.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import pickle
import re
import stat
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any, BinaryIO

from compiler.logs.parse import (
    VERIFY_RULESETS,
    CertLine,
    LogParser,
    Notice,
    RulesetEvent,
    TlsRecord,
    Unreadable,
    _error,
    _ruleset,
    json_line,
    read_line,
    split_relay,
)
from compiler.logs.source import MAX_LINE, InputError, ReadStats, open_input, read_error
from compiler.logs.summary import Summary
from compiler.logs.syslog import YearGuess, split_syslog

WINDOW = LogParser.WINDOW

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
_CANON = re.compile(
    rb"(?:<\d{1,3}>)?(?:(?P<mon>" + _MONTHS + rb") (?P<day>[ \d]?\d) (?P<hms>\d\d:\d\d:\d\d)"
    rb"|(?P<date>\d{4}-\d\d-\d\d)T(?P<clock>\d\d:\d\d:\d\d(?:\.\d+)?)(?P<zone>Z|[+-]\d\d:\d\d)?)"
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
_SAFE_TEXT = re.compile(_P + rb"*")


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

    def resolve(self, cert: tuple[Any, Any, Any] | None) -> None:
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

    Positions are line numbers, so tallies of parts of a log merge in any order.
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


class Scanner:
    """The state of one read through the inputs: pairing, what waits, counts.

    `mode` is "json" (write the records and refusals as JSON Lines to
    `out`) or "text" (count them in `tally`). `within` filters by time.
    Line numbers count from any base: only distances matter.
    """

    def __init__(
        self,
        mode: str,
        out: IO[bytes] | None,
        within: Callable[[str | None], bool] | None,
        window: int = WINDOW,
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
        self._relay_json: dict[bytes, bytes] = {}
        self._tails: dict[tuple[bytes, ...], bytes | None] = {}
        self._day: dict[bytes, bytes] = {}
        self._years = YearGuess(date.today())
        self._first_stamp: tuple[int, Any, YearGuess] | None = None
        self._last_time: tuple[int, Any, YearGuess] | None = None
        self._error_tails: dict[tuple[bytes, ...], bytes] = {}
        self._handshake_tails: dict[tuple[bytes, ...], bytes] = {}

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
        line += 1
        prev = 0
        tls = find(b"STARTTLS", 0, end)
        rule = find(b"ruleset=", 0, end)
        while tls >= 0 or rule >= 0:
            s = rfind(b"\n", 0, tls if rule < 0 or 0 <= tls < rule else rule) + 1
            e = find(b"\n", s, end)
            if e < 0:
                e = end
            if 0 <= tls < e:
                tls = find(b"STARTTLS", e, end)
            if 0 <= rule < e:
                rule = find(b"ruleset=", e, end)
            line += count(b"\n", prev, s)
            prev = s
            if e - s > MAX_LINE:
                continue
            m = match(block, s, e)
            if m is None:
                self._slow(block[s : e - 1 if block[e - 1 : e] == b"\r" else e], line)
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
                pkey = (g[_HOST], g[_TAG], g[_PID])
                last = lastd.get(pkey)
                if g[_BITS] is not None:  # a handshake
                    fallback = None
                    if last is not None and line - last[0] <= window:
                        ws = last[1]
                        if ws is not None and ws is not _CLAIM and not ws.done:
                            self._expire(ws)
                        elif ws is None and last[2] is not None and last[3] == who:
                            fallback = last[2]
                    key = (
                        b"h",
                        g[_HOST],
                        who,
                        g[_RELAY],
                        g[_VERSION],
                        g[_VERIFY],
                        g[_CIPHER],
                        g[_BITS],
                    )
                    if counted and g[_VERIFY] in _FAILS:
                        slot = _Slot(line, key, False, None, fallback)
                        self._waiting.append(slot)
                        lastd[pkey] = (line, slot, None, who)
                        self._time_note(line, g)
                        continue
                    lastd[pkey] = (line, _CLAIM, None, who)
                    if not counted:
                        continue
                    key = (*key, None, None, None)
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
            self._time_note(line, g)
            p = position + line
            seen = keys.get(key)
            if seen is None:
                keys[key] = [1, p, p]
            else:
                seen[0] += 1
                seen[2] = p

    def _expire(self, slot: _Slot) -> None:
        """A waiting FAIL handshake that gets no cert line after it (its fallback, if any)."""
        slot.resolve(None)
        if not self.json:
            self._tally_slot(slot)

    def _tally_slot(self, slot: _Slot) -> None:
        key = slot.payload + (slot.cert or (None, None, None))
        p = self.position + slot.line
        seen = self.tally.keys.get(key)
        if seen is None:
            self.tally.keys[key] = [1, p, p]
        else:
            seen[0] += 1
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
        while tls >= 0 or rule >= 0:
            s = rfind(b"\n", 0, tls if rule < 0 or 0 <= tls < rule else rule) + 1
            e = find(b"\n", s, end)
            if e < 0:
                e = end
            if 0 <= tls < e:
                tls = find(b"STARTTLS", e, end)
            if 0 <= rule < e:
                rule = find(b"ruleset=", e, end)
            line += count(b"\n", prev, s)
            prev = s
            if e - s > MAX_LINE:
                continue
            m = match(block, s, e)
            if m is None:
                self._slow(block[s : e - 1 if block[e - 1 : e] == b"\r" else e], line)
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
            pkey = (g[_HOST], g[_TAG], g[_PID])
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
                tail_key = (g[_VERSION], g[_VERIFY], g[_CIPHER], g[_BITS])
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
                    r = _error(None, g[_HOST].decode(), who.decode(), " " + g[_ERROR].decode())
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
        event = _ruleset(None, g[_HOST].decode(), g[_RULESET_NAME].decode(), g[_REST].decode())
        return None if event is None else _event_tail(event)

    # -- one line the reference way ------------------------------------------------------

    def _day_prefix(self, mon: bytes, day: bytes) -> bytes:
        year = self._years.year(mon.decode())
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

    def _slow(self, raw: bytes, line: int) -> None:
        """A line of another shape, read as LogParser reads it (split_syslog, read_line)."""
        text = raw.decode("utf-8", "replace")
        key, msg = read_line(split_syslog(text, self._years), text)
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
                self._count(_event_key(msg), line, msg.time)
        elif not self.json:  # a Notice: the summary counts it
            self._count((b"N", msg.host, msg.text), line, msg.time)

    def _slow_time_ok(self, time: str | None, msg: object) -> bool:
        if isinstance(msg, CertLine):
            return True
        assert self.within is not None
        ok = self._within.get(time)
        if ok is None:
            ok = self._within[time] = self.within(time)
        return ok

    def _count(self, key: Key, line: int, time: str | None) -> None:
        if time is not None:
            self._time_note(line, time)
        p = self.position + line
        seen = self.tally.keys.get(key)
        if seen is None:
            self.tally.keys[key] = [1, p, p]
        else:
            seen[0] += 1
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
                    self._count(_record_key(r), line, r.time)
            return
        if not counted or (not self.json and r.verify not in ("FAIL", "DANE_FAIL")):
            self._last[pkey] = (line, _CLAIM, None, who)
            if counted:
                self._count((*_record_key(r), None, None, None), line, r.time)
            return
        payload = json_line(r)[:-2].encode() if self.json else _record_key(r)
        slot = _Slot(line, payload, False, None, fallback, r.time)
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
    cert = slot.cert
    payload: bytes = slot.payload
    return payload + b"}\n" if cert is None else payload + _cert_json(cert) + b"}\n"


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


_CHECK_TLS = re.compile(
    rb"encryption too weak|not authenticated|authentication (?:required|failed|failure)"
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


# -- reading files ----------------------------------------------------------------------


@dataclass(slots=True)
class ScanResult:
    """What a read gave: counts, one sentence per input that could not be read, the tally."""

    stats: ReadStats
    problems: list[str]
    tally: Tally


def scan_files(
    files: tuple[str, ...],
    mode: str,
    out: IO[bytes] | None,
    within: Callable[[str | None], bool] | None = None,
    year: int | None = None,
    workers: int | None = None,
    window: int = WINDOW,
) -> ScanResult:
    """Read `files` in order as one stream: JSON Lines to `out` (mode "json") or a tally.

    Input of more than one CHUNK is read by `workers` processes (default: one
    per CPU this process may use), this one unpacking and cutting it.
    """
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    problems: list[str] = []
    pieces = _pieces(files, year, problems, window)
    first: list[_Piece] = []
    big = workers > 1 and _expected_size(files) > CHUNK
    if workers > 1 and not big:
        size = 0  # small or unknown (stdin): read one piece past CHUNK before forking
        for piece in pieces:
            first.append(piece)
            size += piece.size
            if size > CHUNK:
                big = True
                break
    if big:
        pool = _Pool(mode, out, within, window, workers)
        try:
            pool.run(itertools.chain(_drain(first), pieces))
        finally:
            pool.close()
        return ScanResult(pool.stats(), problems, pool.tally)
    scanner = Scanner(mode, out if mode == "json" else None, within, window)
    for piece in itertools.chain(_drain(first), pieces):
        scanner.set_years(piece.years)
        scanner.block(piece.data if piece.data is not None else _read_range(piece))
    scanner.finish()
    stats = ReadStats(scanner.lines, scanner.too_long, scanner.too_long + scanner.unreadable)
    return ScanResult(stats, problems, scanner.tally)


def _read_range(piece: _Piece) -> bytes:
    assert piece.path is not None
    fd = os.open(piece.path, os.O_RDONLY)
    try:
        return os.pread(fd, piece.end - piece.start, piece.start)
    finally:
        os.close(fd)


def _expected_size(files: tuple[str, ...]) -> int:
    """About how many bytes `files` hold unpacked (gzip counts five times; stdin nothing)."""
    total = 0
    for path in files:
        try:
            size = os.stat(path).st_size if path != "-" else 0
        except OSError:
            continue
        total += size * 5 if path.endswith(".gz") else size
    return total


def _drain(pieces: list[_Piece]) -> Iterator[_Piece]:
    """The pieces of a list, each forgotten once given."""
    while pieces:
        yield pieces.pop(0)


def summary_of(tally: Tally) -> Summary:
    """The Summary of a tally: each key counted once with its count, first-seen order;
    then last problems in last-seen order."""
    summary = Summary()
    splits: dict[bytes, tuple[str | None, str | None]] = {}
    items = sorted(tally.keys.items(), key=lambda kv: kv[1][1])
    entries: list[tuple[int, TlsRecord | RulesetEvent]] = []
    for key, (n, _, last) in items:
        entry = _entry_of(key, splits)
        if isinstance(entry, Notice):
            summary.add_event(entry, n)
            continue
        if isinstance(entry, TlsRecord):
            summary.add(entry, n)
        else:
            summary.add_event(entry, n)
        entries.append((last, entry))
    entries.sort(key=lambda le: le[0])
    for _, entry in entries:
        summary.set_problem(entry)
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
        return _error(None, host.decode(), who.decode(), " " + error.decode())
    if kind == b"r":
        _, host, name, rest = key
        event = _ruleset(None, host.decode(), name.decode(), rest.decode())
        assert event is not None  # the scan counts only refusals
        return event
    if kind == b"R":
        _, host, ruleset, direction, verify, relay, addr, reject, arg1 = key
        return RulesetEvent(None, host, ruleset, direction, verify, relay, addr, reject, arg1)
    _, host, text = key
    return Notice(None, host, text)


def _s(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _blocks(stream: BinaryIO, path: str, size: int) -> Iterator[bytes]:
    """Blocks of whole lines, of about `size`; a longer line is given as a too-long stand-in."""
    carry = b""
    skipping = False
    read = stream.read
    try:
        while True:
            chunk = read(size)
            if not chunk:
                if carry and not skipping:
                    yield carry
                return
            if skipping:
                j = chunk.find(b"\n")
                if j < 0:
                    continue
                skipping = False
                chunk = chunk[j + 1 :]
            data = carry + chunk if carry else chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                if len(data) > 2 * size:  # one line longer than two blocks: too long
                    yield b"x" * (MAX_LINE + 1) + b"\n"
                    skipping, carry = True, b""
                else:
                    carry = data
                continue
            yield data[: cut + 1]
            carry = data[cut + 1 :]
    except (OSError, EOFError, zlib.error) as exc:
        raise read_error(exc, path) from None


def _head_lines(block: bytes, n: int) -> bytes:
    """The first `n` lines of `block`."""
    pos = 0
    find = block.find
    for _ in range(max(n, 0)):
        j = find(b"\n", pos)
        if j < 0:
            return block
        pos = j + 1
    return block[:pos]


def _tail_lines(data: bytes, n: int) -> bytes:
    """The last `n` lines of `data` (all of it when it has fewer)."""
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    pos = end
    for _ in range(n):
        j = data.rfind(b"\n", 0, pos)
        if j < 0:
            return data
        pos = j
    return data[pos + 1 :]


def _count_lines(data: bytes) -> int:
    return data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)


# -- many processes ---------------------------------------------------------------------

#: input is cut into pieces of about this size, each read by one worker
CHUNK = 8 << 20


@dataclass(slots=True)
class _Piece:
    """Whole lines of one file (the last may lack its newline) and the file's year rule.

    A piece of a plain file is a byte range (`path`, `start`, `end`) that a
    worker reads itself; a piece of a stream (gzip, stdin) is its `data`.
    `head` and `tail` are its first window + 1 and last 2 x window + 2 lines.
    """

    years: YearGuess
    data: bytes | None
    path: str | None
    start: int
    end: int
    head: bytes = b""
    tail: bytes = b""

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self.end - self.start


def _pieces(
    files: tuple[str, ...], year: int | None, problems: list[str], window: int
) -> Iterator[_Piece]:
    """The inputs in order, as pieces of about CHUNK; a file that breaks off adds a problem."""
    for path in files:
        try:
            with open_input(path) as (stream, modified):
                years = YearGuess(modified, year)
                plain = _plain_fd(stream, path)
                if plain is not None:
                    try:
                        yield from _range_pieces(years, path, *plain, window)
                    except OSError as exc:
                        raise read_error(exc, path) from None
                    continue
                for block in _blocks(stream, path, CHUNK):
                    piece = _Piece(years, block, None, 0, len(block))
                    piece.head = _head_lines(block, window + 1)
                    piece.tail = _tail_lines(block, 2 * window + 2)
                    yield piece
        except InputError as exc:
            problems.append(str(exc))


def _plain_fd(stream: BinaryIO, path: str) -> tuple[int, int] | None:
    """The file descriptor and size of a regular, uncompressed file, or None."""
    if path == "-" or not isinstance(stream, io.BufferedReader):
        return None
    raw = stream.raw
    if not isinstance(raw, io.FileIO) or stream.tell() != 0:
        return None
    st = os.fstat(raw.fileno())
    return (raw.fileno(), st.st_size) if stat.S_ISREG(st.st_mode) else None


def _range_pieces(years: YearGuess, path: str, fd: int, size: int, window: int) -> Iterator[_Piece]:
    pos = 0
    while pos < size:
        end = _line_start_at_or_after(fd, pos + CHUNK, size)
        if end is None:  # one line from `pos` on that never ends (within 2 x CHUNK)
            last = _last_newline(fd, pos, pos + CHUNK)
            if last is None:
                standin = b"x" * (MAX_LINE + 1) + b"\n"
                yield _Piece(years, standin, None, 0, len(standin), standin, standin)
                after = _line_start_at_or_after(fd, pos + 1, size, unbounded=True)
                pos = size if after is None else after
                continue
            end = last + 1
        piece = _Piece(years, None, path, pos, end)
        piece.head = _range_head(fd, pos, end, window + 1)
        piece.tail = _range_tail(fd, pos, end, 2 * window + 2)
        yield piece
        pos = end


def _line_start_at_or_after(fd: int, pos: int, size: int, unbounded: bool = False) -> int | None:
    """Where the first line starting at or after `pos` begins (`size` at the end of the file).

    None when no line starts within CHUNK after `pos` (unless `unbounded`).
    """
    if pos >= size or pos == 0:
        return min(pos, size)
    at = pos - 1  # a line starts at `pos` when the byte before it is a newline
    limit = size if unbounded else min(size, pos + CHUNK)
    while at < limit:
        chunk = os.pread(fd, min(1 << 20, limit - at), at)
        if not chunk:
            break
        j = chunk.find(b"\n")
        if j >= 0:
            return at + j + 1
        at += len(chunk)
    return size if limit == size else None


def _last_newline(fd: int, start: int, end: int) -> int | None:
    """The offset of the last newline in bytes start..end, or None."""
    pos = end
    while pos > start:
        lo = max(start, pos - (1 << 20))
        j = os.pread(fd, pos - lo, lo).rfind(b"\n")
        if j >= 0:
            return lo + j
        pos = lo
    return None


def _range_head(fd: int, start: int, end: int, n: int) -> bytes:
    """The first `n` lines of bytes start..end of a file."""
    parts: list[bytes] = []
    pos = start
    seen = 0
    while pos < end and seen < n:
        chunk = os.pread(fd, min(1 << 18, end - pos), pos)
        if not chunk:
            break
        parts.append(chunk)
        seen += chunk.count(b"\n")
        pos += len(chunk)
    return _head_lines(b"".join(parts), n)


def _range_tail(fd: int, start: int, end: int, n: int) -> bytes:
    """The last `n` lines of bytes start..end of a file."""
    parts: list[bytes] = []
    pos = end
    seen = 0
    while pos > start and seen <= n:
        lo = max(start, pos - (1 << 18))
        chunk = os.pread(fd, pos - lo, lo)
        parts.append(chunk)
        seen += chunk.count(b"\n")
        pos = lo
    return _tail_lines(b"".join(reversed(parts)), n)


@dataclass(slots=True)
class _Task:
    """One piece for a worker, with the lines around it that decide its cert pairing."""

    base: int  # the number of the line before the piece's first
    warm: list[bytes]  # lines before it (2 x window + 2, or all there are)
    look: list[bytes]  # lines after it (window + 1, or all there are)
    final: bool  # nothing comes after `look`
    years: YearGuess
    #: where a worker reads the piece itself; None: its bytes follow the task on the pipe
    path: str | None
    start: int
    end: int


class _Parts:
    """A write() target that keeps what it is given (a worker's JSON)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(data)
        return len(data)

    def flush(self) -> None:
        pass


def _run_task(
    task: _Task,
    data: bytes | bytearray,
    mode: str,
    within: Callable[[str | None], bool] | None,
    window: int,
    tally: Tally,
) -> tuple[list[bytes], tuple[int, int, int]]:
    """What a worker gives for one task: JSON parts, and lines, too long, unreadable.

    The summary's counts go to `tally`, which the worker keeps over all its tasks.
    """
    out = _Parts() if mode == "json" else None
    scanner = Scanner(mode, out, within, window)  # type: ignore[arg-type]
    scanner.tally = tally
    scanner.set_years(task.years)
    scanner.line = task.base - sum(_count_lines(w) for w in task.warm)
    scanner.emit_from = task.base + 1
    for warm in task.warm:
        scanner.block(warm)
    scanner.block(data)  # type: ignore[arg-type]
    scanner.emit_until = scanner.line
    for look in task.look:
        scanner.block(look)
    if task.final:
        scanner.finish()
    else:
        scanner._ready()
        scanner.close_times()
    parts = out.parts if out is not None else []
    return parts, (scanner.lines, scanner.too_long, scanner.unreadable)


def _send(fd: int, obj: object, raw: list[bytes] = []) -> None:  # noqa: B006  (read only)
    """A pickled object, then `raw` as it is (its total size is in the object's frame)."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    size = sum(len(r) for r in raw)
    _write_all(fd, len(data).to_bytes(8, "big") + size.to_bytes(8, "big") + data)
    for part in raw:
        _write_all(fd, part)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int) -> tuple[Any, bytearray] | None:
    head = _read_exactly(fd, 16)
    if head is None:
        return None
    body = _read_exactly(fd, int.from_bytes(head[:8], "big"))
    raw = _read_exactly(fd, int.from_bytes(head[8:], "big"))
    if body is None or raw is None:
        return None
    return pickle.loads(body), raw


def _read_exactly(fd: int, n: int) -> bytearray | None:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if not k:
            return None
        got += k
    return buf


class _Pool:
    """Worker processes (os.fork) that read tasks in turn; results are taken in order."""

    def __init__(
        self,
        mode: str,
        out: IO[bytes] | None,
        within: Callable[[str | None], bool] | None,
        window: int,
        workers: int,
    ) -> None:
        self.mode = mode
        self.out = out
        self.window = window
        self.tally = Tally()
        self.lines = self.too_long = self.unreadable = 0
        self._workers: list[tuple[int, int, int]] = []  # pid, task fd, result fd
        if out is not None:
            out.flush()
        for _ in range(workers):
            task_r, task_w = os.pipe()
            result_r, result_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # a worker: tasks in, results out, until the pipe closes
                os.close(task_w)
                os.close(result_r)
                for _pid, other_task, other_result in self._workers:
                    os.close(other_task)
                    os.close(other_result)
                code = 0
                tally = Tally()
                files: dict[str, int] = {}
                try:
                    while (received := _receive(task_r)) is not None:
                        task = received[0]
                        data: bytes | bytearray = received[1]
                        if task is None:  # the end: the counts of every task
                            _send(result_w, ("tally", tally))
                            break
                        if task.path is not None:
                            fd = files.get(task.path)
                            if fd is None:
                                for old in files.values():
                                    os.close(old)
                                files = {task.path: (fd := os.open(task.path, os.O_RDONLY))}
                            data = os.pread(fd, task.end - task.start, task.start)
                        parts, counts = _run_task(task, data, mode, within, window, tally)
                        _send(result_w, ("ok", counts), parts)
                except BrokenPipeError:
                    pass
                except BaseException:
                    import traceback

                    with contextlib.suppress(OSError):
                        _send(result_w, ("error", traceback.format_exc()))
                    code = 1
                os._exit(code)
            os.close(task_r)
            os.close(result_w)
            self._workers.append((pid, task_w, result_r))
        self._busy: deque[int] = deque()  # worker numbers with a task out, oldest first

    def run(self, pieces: Iterator[_Piece]) -> None:
        """Hand out the pieces, each with its warm-up and look-ahead lines, in turn."""
        window = self.window
        warm: deque[bytes] = deque()  # tails of the pieces before, newest last
        warm_lines = 0
        queue: deque[_Piece] = deque()  # pieces read, not handed out yet
        turn = 0
        number = 0
        ended = False
        while True:
            # read until the first piece waiting has window + 1 lines after it (or the end)
            while not ended and (
                not queue
                or sum(_count_lines(p.head) for p in itertools.islice(queue, 1, None)) <= window
            ):
                piece = next(pieces, None)
                if piece is None:
                    ended = True
                    break
                queue.append(piece)
            if not queue:
                break
            piece = queue.popleft()
            look: list[bytes] = []
            need = window + 1
            for after in queue:
                if need <= 0:
                    break
                head = _head_lines(after.head, need)
                look.append(head)
                need -= _count_lines(head)
            final = ended and need > 0
            number += 1
            task = _Task(
                number << 32,
                list(warm),
                look,
                final,
                piece.years,
                piece.path,
                piece.start,
                piece.end,
            )
            self._hand_out(turn, task, piece.data)
            turn = (turn + 1) % len(self._workers)
            warm.append(piece.tail)
            warm_lines += _count_lines(piece.tail)
            while len(warm) > 1 and warm_lines - _count_lines(warm[0]) >= 2 * window + 2:
                warm_lines -= _count_lines(warm.popleft())
        while self._busy:
            self._take()
        for _pid, task_fd, result_fd in self._workers:
            _send(task_fd, None)
            received = _receive(result_fd)
            if received is None or received[0][0] != "tally":
                raise RuntimeError("a tlsc logs worker failed: no counts")
            self.tally.merge(received[0][1])

    def _hand_out(self, worker: int, task: _Task, data: bytes | None) -> None:
        if worker in self._busy:
            while self._busy:  # results in order: everything handed out before it
                if self._take() == worker:
                    break
        _send(self._workers[worker][1], task, [] if data is None else [data])
        self._busy.append(worker)

    def _take(self) -> int:
        worker = self._busy.popleft()
        received = _receive(self._workers[worker][2])
        if received is None or received[0][0] != "ok":
            why = received[0][1] if received else "it died"
            raise RuntimeError(f"a tlsc logs worker failed: {why}")
        (_, (lines, too_long, unreadable)), data = received
        if self.out is not None and data:
            self.out.write(data)
        self.lines += lines
        self.too_long += too_long
        self.unreadable += unreadable
        return worker

    def stats(self) -> ReadStats:
        return ReadStats(self.lines, self.too_long, self.too_long + self.unreadable)

    def close(self) -> None:
        for pid, task_fd, result_fd in self._workers:
            with contextlib.suppress(OSError):
                os.close(task_fd)
            with contextlib.suppress(OSError):
                os.close(result_fd)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
        self._workers = []
