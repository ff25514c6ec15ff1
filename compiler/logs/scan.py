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

import io
import os
import pickle
import re
import shutil
import sys
import tempfile
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

BLOCK = 4 << 20
#: files smaller than this are read by one process
PARALLEL_MIN = 16 << 20
WINDOW = LogParser.WINDOW

_MONTHS = b"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_MONTH_NUMBER = {m: n for n, m in enumerate(_MONTHS.split(b"|"), 1)}
#: a printable ASCII byte that needs no JSON escape
_P = rb'[\x20\x21\x23-\x5b\x5d-\x7e]'
#: the same, no comma (a `k=v` value)
_V = rb'[\x20\x21\x23-\x2b\x2d-\x5b\x5d-\x7e]'
_WORD = rb'[\x21\x23-\x39\x3b-\x5a\x5e-\x7e]'  # no blank, `[`, `]`, `:`, `"`, `\`
_HOSTCH = rb'[\x21\x23-\x5a\x5e-\x7e]'  # no blank, `[`, `]`, `"`, `\`
#: the end of a message: a printable non-blank byte (so rstrip() changes nothing), maybe \r
_END = rb'(?<=[\x21-\x7e])\r?\Z'
_CANON = re.compile(
    rb"(?:<\d{1,3}>)?(?:(?P<mon>" + _MONTHS + rb") (?P<day>[ \d]?\d) (?P<hms>\d\d:\d\d:\d\d)"
    rb"|(?P<date>\d{4}-\d\d-\d\d)T(?P<clock>\d\d:\d\d:\d\d(?:\.\d+)?)(?P<zone>Z|[+-]\d\d:\d\d)?)"
    rb" (?P<host>" + _HOSTCH + rb"*" + _WORD + rb") (?P<tag>" + _WORD + rb"+)\[(?P<pid>\d+)\]: "
    rb"(?:\[ID \d+ [\x21-\x5c\x5e-\x7e]+\] ?)?(?:(?:NOQUEUE|(?=[A-Za-z]*\d)[A-Za-z0-9]{8,20}): )?"
    rb"(?:STARTTLS=(?P<who>server|client), (?:"
    rb"relay=(?P<relay>" + _V + rb"*), version=(?P<version>" + _V + rb"*), verify=(?P<verify>"
    + _V + rb"+), cipher=(?P<cipher>" + _V + rb"*), bits=(?P<bits>\d{1,9}/\d{1,9})"
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
    """One record or refusal on its way out, in input order."""

    line: int
    #: JSON: the object's bytes up to its cert fields; summary: the key it is counted by
    payload: Any
    done: bool
    #: (subject, issuer, verifymsg) of its cert line, once known
    cert: tuple[Any, Any, Any] | None = None
    #: a cert line just before it, taken if none comes after it
    fallback: tuple[Any, Any, Any] | None = None
    time: str | None = None


@dataclass(slots=True)
class _Last:
    """The last STARTTLS item of one process (as in parse.LogParser)."""

    line: int
    waiting: _Slot | None
    cert: tuple[Any, Any, Any] | None
    direction: bytes


#: summary keys: kind first (h: canonical handshake, H: other record, R: refusal, N: notice)
Key = tuple[Any, ...]


@dataclass(slots=True)
class Tally:
    """The summary's raw counts: each distinct key with [count, first seen, last seen]."""

    keys: dict[Key, list[int]] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None

    def absorb(self, later: Tally) -> None:
        """Add the tally of the part of the log after this one (its positions are later)."""
        keys = self.keys
        for key, (n, first, last) in later.keys.items():
            mine = keys.get(key)
            if mine is None:
                keys[key] = [n, first, last]
            else:
                mine[0] += n
                mine[2] = last
        if self.first is None:
            self.first = later.first
        if later.last is not None:
            self.last = later.last


class Scanner:
    """The state of one read through the inputs: pairing, the queue, counts.

    `mode` is "json" (write the records and refusals as JSON Lines to
    `out`) or "text" (count them in `tally`). `within` filters by time.
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
        #: the number of the last line read (counting from any base: only distances matter)
        self.line = 0
        #: lines from `emit_from` to `emit_until` count and give; the others only pair
        self.emit_from = 0
        self.emit_until: int | None = None
        self.lines = 0
        self.too_long = 0
        self.unreadable = 0
        self.tally = Tally()
        self.position = 0
        self._queue: deque[_Slot] = deque()
        self._last: dict[tuple[bytes | str | None, ...], _Last] = {}
        self._within_cache: dict[str | None, bool] = {}
        self._relay_cache: dict[bytes, bytes] = {}
        self._relay_split: dict[bytes, tuple[str | None, str | None]] = {}
        self._day_cache: dict[bytes, bytes] = {}
        self._years: YearGuess | None = None
        self._pending_out: list[bytes] = []

    # -- blocks ------------------------------------------------------------------------

    def set_years(self, years: YearGuess) -> None:
        self._years = years
        self._day_cache = {}

    def _counted(self, line: int) -> bool:
        until = self.emit_until
        return line >= self.emit_from and (until is None or line <= until)

    def block(self, block: bytes) -> None:
        """Read the whole lines of `block` (the last may lack its newline)."""
        if not block:
            return
        line = self.line
        last = line + block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        lo = max(line + 1, self.emit_from)
        hi = last if self.emit_until is None else min(last, self.emit_until)
        if hi >= lo:
            self.lines += hi - lo + 1
            if len(block) > MAX_LINE:
                self._count_too_long(block, line)
        self._lines(block, _candidates(block), line)
        self.line = last
        self._ready()

    def _count_too_long(self, block: bytes, line: int) -> None:
        rfind = block.rfind
        find = block.find
        end = len(block)
        pos = 0
        while end - pos > MAX_LINE:
            j = rfind(b"\n", pos, pos + MAX_LINE + 1)
            if j >= 0:
                pos = j + 1
                continue
            if self._counted(line + block.count(b"\n", 0, pos) + 1):
                self.too_long += 1
            j = find(b"\n", pos)
            if j < 0:
                return
            pos = j + 1

    def _lines(self, block: bytes, starts: list[int], line: int) -> None:
        find = block.find
        count = block.count
        match = _CANON.match
        line += 1  # the number of the line at `prev`
        prev = 0
        for s in starts:
            line += count(b"\n", prev, s)
            prev = s
            e = find(b"\n", s)
            if e < 0:
                e = len(block)
            if e - s > MAX_LINE:
                continue  # counted by _count_too_long
            m = match(block, s, e)
            if m is None or not self._fast(m, line):
                self._slow(block[s : e - 1 if block[e - 1 : e] == b"\r" else e], line)

    # -- one candidate line -------------------------------------------------------------

    def _time(self, m: re.Match[bytes]) -> bytes:
        mon = m["mon"]
        if mon is not None:
            day = m["day"]
            key = mon + day
            prefix = self._day_cache.get(key)
            if prefix is None:
                years = self._years or YearGuess(date.today())
                year = years.year(mon.decode())
                prefix = f"{year:04d}-{_MONTH_NUMBER[mon]:02d}-{int(day):02d}T".encode()
                self._day_cache[key] = prefix
            return prefix + m["hms"]
        return m["date"] + b"T" + m["clock"] + (m["zone"] or b"")

    def _fast(self, m: re.Match[bytes], line: int) -> bool:
        """Take a line of the usual shape; False: read it the reference way instead."""
        who = m["who"]
        host = m["host"]
        key = (host, m["tag"], m["pid"])
        if who is None:
            return self._ruleset(m, line)
        if m["bits"] is not None:
            self._handshake(m, line, key, who, host)
        elif m["error"] is not None:
            self._error(m, line, key, who, host)
        else:
            self._cert(key, (m["subject"], m["issuer"], m["verifymsg"]), who, line)
        return True

    def _error(
        self, m: re.Match[bytes], line: int, key: tuple[Any, ...], who: bytes, host: bytes
    ) -> None:
        time = self._time(m).decode()
        r = _error(time, host.decode(), who.decode(), " " + m["error"].decode())
        payload = _error_json(r) if self.json else _record_key(r)
        self._record(key, who, line, payload, time, waiting=False)

    def _ruleset(self, m: re.Match[bytes], line: int) -> bool:
        time = self._time(m).decode()
        event = _ruleset(time, m["host"].decode(), m["ruleset"].decode(), m["rest"].decode())
        if event is not None:
            payload = _event_json(event) if self.json else _event_key(event)
            self._queue.append(_Slot(line, payload, True, time=time))
        return True

    def _handshake(
        self, m: re.Match[bytes], line: int, key: tuple[Any, ...], who: bytes, host: bytes
    ) -> None:
        time = self._time(m)
        relay = m["relay"]
        if self.json:
            frag = self._relay_cache.get(relay)
            if frag is None:
                name, addr = split_relay(relay.decode())
                frag = b""
                if name is not None:
                    frag += b', "relay": "' + name.encode() + b'"'
                if addr is not None:
                    frag += b', "addr": "' + addr.encode() + b'"'
                self._relay_cache[relay] = frag
            a, _, b = m["bits"].partition(b"/")
            payload: Any = b"".join(
                (
                    b'{"kind": "handshake", "time": "',
                    time,
                    b'", "host": "',
                    host,
                    b'", "direction": "',
                    who,
                    b'"',
                    frag,
                    b', "version": ',
                    _json_str(m["version"] or None),
                    b', "verify": "',
                    m["verify"],
                    b'", "cipher": ',
                    _json_str(m["cipher"] or None),
                    b', "bits": ',
                    str(int(a)).encode(),
                    b', "bits_max": ',
                    str(int(b)).encode(),
                    b', "error": null',
                )
            )
        else:
            payload = (b"h", host, who, relay, m["version"], m["verify"], m["cipher"], m["bits"])
        self._record(key, who, line, payload, time.decode(), waiting=True)

    def _record(
        self, key: tuple[Any, ...], who: bytes, line: int, payload: Any, time: str | None,
        waiting: bool,
    ) -> None:
        last = self._last.get(key)
        fallback = None
        if last is not None and line - last.line <= self.window:
            if last.waiting is not None and not last.waiting.done:
                self._resolve(last.waiting, None)
            elif last.cert is not None and last.direction == who:
                fallback = last.cert
        if not waiting:
            self._last[key] = _Last(line, None, None, who)
            self._queue.append(_Slot(line, payload, True, time=time))
            return
        slot = _Slot(line, payload, False, None, fallback, time)
        self._queue.append(slot)
        self._last[key] = _Last(line, slot, None, who)

    def _cert(self, key: tuple[Any, ...], cert: tuple[Any, Any, Any], who: bytes, line: int) -> None:
        last = self._last.get(key)
        free: tuple[Any, Any, Any] | None = cert
        if last is not None and last.waiting is not None and not last.waiting.done:
            if last.direction == who and line - last.line <= self.window:
                self._resolve(last.waiting, cert)
                free = None
            else:
                self._resolve(last.waiting, None)
        self._last[key] = _Last(line, None, free, who)

    @staticmethod
    def _resolve(slot: _Slot, cert: tuple[Any, Any, Any] | None) -> None:
        slot.cert = cert or slot.fallback
        slot.done = True
        slot.fallback = None

    def _slow(self, raw: bytes, line: int) -> None:
        """A line read the reference way: split_syslog, read_line."""
        text = raw.decode("utf-8", "replace")
        years = self._years or YearGuess(date.today())
        split = split_syslog(text, years)
        key, msg = read_line(split, text)
        if msg is None:
            return
        if isinstance(msg, Unreadable):
            if self._counted(line):
                self.unreadable += 1
            return
        skey: tuple[Any, ...] = tuple(None if k is None else k.encode() for k in key)
        if isinstance(msg, CertLine):
            cert = (msg.subject, msg.issuer, msg.verifymsg)
            self._cert(skey, cert, msg.direction.encode(), line)
            return
        if isinstance(msg, TlsRecord):
            payload: Any
            if msg.error is None:
                payload = json_line(msg)[:-2].encode() if self.json else _record_key(msg)
                self._record(skey, msg.direction.encode(), line, payload, msg.time, waiting=True)
            else:
                payload = json_line(msg).encode() if self.json else _record_key(msg)
                self._record(skey, msg.direction.encode(), line, payload, msg.time, waiting=False)
            return
        if isinstance(msg, RulesetEvent):
            payload = json_line(msg).encode() if self.json else _event_key(msg)
            self._queue.append(_Slot(line, payload, True, time=msg.time))
            return
        if not self.json:  # a Notice: the summary counts it
            self._queue.append(
                _Slot(line, (b"N", msg.host, msg.text), True, time=msg.time)
            )

    # -- output ------------------------------------------------------------------------

    def _ready(self, final: bool = False) -> None:
        if len(self._last) > 4 * self.window + 16:
            oldest = self.line - self.window
            self._last = {k: v for k, v in self._last.items() if v.line >= oldest}
        queue = self._queue
        oldest = self.line - self.window
        out = self._pending_out
        while queue:
            head = queue[0]
            if not head.done:
                if head.line >= oldest and not final:
                    break
                self._resolve(head, None)
            queue.popleft()
            if self._counted(head.line):
                self._emit(head, out)
        if out and self.out is not None:
            self.out.write(b"".join(out))
            out.clear()

    def _emit(self, slot: _Slot, out: list[bytes]) -> None:
        within = self.within
        if within is not None:
            ok = self._within_cache.get(slot.time)
            if ok is None:
                if len(self._within_cache) > 100_000:
                    self._within_cache.clear()
                ok = self._within_cache[slot.time] = within(slot.time)
            if not ok:
                return
        if self.json:
            payload: bytes = slot.payload
            if payload[-1:] == b"\n":
                out.append(payload)
                return
            cert = slot.cert
            if cert is None:
                out.append(payload + b"}\n")
            else:
                out.append(payload + _cert_json(cert) + b"}\n")
            return
        tally = self.tally
        if slot.time is not None:
            if tally.first is None:
                tally.first = slot.time
            tally.last = slot.time
        key = slot.payload
        if key[0] in (b"h", b"H"):
            cert = slot.cert
            key = key + ((None, None, None) if cert is None else cert)
        self.position += 1
        seen = tally.keys.get(key)
        if seen is None:
            tally.keys[key] = [1, self.position, self.position]
        else:
            seen[0] += 1
            seen[2] = self.position

    def finish(self) -> None:
        """The end of the input: everything still waiting is given."""
        self._ready(final=True)
        self._last.clear()

    def drop_queue(self) -> None:
        """Forget what waits and what pairs (the child gives them): a fresh start."""
        self._queue.clear()
        self._last.clear()


def _cert_json(cert: tuple[Any, Any, Any]) -> bytes:
    subject, issuer, _ = cert
    if isinstance(subject, bytes):
        return b', "cert_subject": "' + subject + b'", "cert_issuer": "' + issuer + b'"'
    import json

    return (
        b', "cert_subject": ' + json.dumps(subject).encode()
        + b', "cert_issuer": ' + json.dumps(issuer).encode()
    )


def _record_key(r: TlsRecord) -> Key:
    return (
        b"H", r.host, r.direction, r.relay, r.addr, r.version, r.verify, r.cipher, r.bits,
        r.bits_max, r.error,
    )


def _event_key(e: RulesetEvent) -> Key:
    return (b"R", e.host, e.ruleset, e.direction, e.verify, e.relay, e.addr, e.reject, e.arg1)


def _candidates(block: bytes) -> list[int]:
    """Where the lines holding `STARTTLS` or `ruleset=` start, in order."""
    a = _starts(block, b"STARTTLS")
    b = _starts(block, b"ruleset=")
    if not b:
        return a
    if not a:
        return b
    return sorted(set(a).union(b))


def _starts(block: bytes, needle: bytes) -> list[int]:
    find = block.find
    rfind = block.rfind
    out: list[int] = []
    append = out.append
    i = find(needle)
    while i >= 0:
        append(rfind(b"\n", 0, i) + 1)
        e = find(b"\n", i)
        if e < 0:
            break
        i = find(needle, e)
    return out


def _error_json(r: TlsRecord) -> bytes:
    """The JSON of an error record whose fields need no escapes (as json_line writes it)."""
    parts = [
        b'{"kind": "error", "time": "',
        (r.time or "").encode(),
        b'", "host": "',
        (r.host or "").encode(),
        b'", "direction": "',
        r.direction.encode(),
        b'"',
    ]
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


def _event_json(e: RulesetEvent) -> bytes:
    """The JSON of a refusal whose fields need no escapes (as json_line writes it)."""
    parts = [
        b'{"kind": "refusal", "time": "',
        (e.time or "").encode(),
        b'", "host": "',
        (e.host or "").encode(),
        b'", "direction": "',
        e.direction.encode(),
        b'"',
    ]
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
) -> ScanResult:
    """Read `files` in order as one stream: JSON Lines to `out` (mode "json") or a tally."""
    scanner = Scanner(mode, out if mode == "json" else None, within)
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    problems: list[str] = []
    for path in files:
        try:
            _scan_path(scanner, path, year, workers)
        except InputError as exc:
            problems.append(str(exc))
    scanner.finish()
    stats = ReadStats(scanner.lines, scanner.too_long, scanner.too_long + scanner.unreadable)
    return ScanResult(stats, problems, scanner.tally)


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
        return TlsRecord(
            None, host, who, relay, addr, version, verify, cipher, bits, bits_max, error,
            _s(cert[0]), _s(cert[1]), _s(cert[2]),
        )
    if kind == b"R":
        _, host, ruleset, direction, verify, relay, addr, reject, arg1 = key
        return RulesetEvent(None, host, ruleset, direction, verify, relay, addr, reject, arg1)
    _, host, text = key
    return Notice(None, host, text)


def _s(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _scan_path(scanner: Scanner, path: str, year: int | None, workers: int) -> None:
    with open_input(path) as (stream, modified):
        scanner.set_years(YearGuess(modified, year))
        raw = _plain_fd(stream, path)
        if raw is not None and workers > 1:
            fd, size = raw
            if size >= PARALLEL_MIN and _parallel(scanner, fd, size, path):
                return
        for block in _blocks(stream, path):
            scanner.block(block)


def _plain_fd(stream: BinaryIO, path: str) -> tuple[int, int] | None:
    """The file descriptor and size of a regular, uncompressed file, or None."""
    if path == "-" or not isinstance(stream, io.BufferedReader):
        return None
    raw = stream.raw
    if not isinstance(raw, io.FileIO):
        return None
    try:
        st = os.fstat(raw.fileno())
    except OSError:
        return None
    import stat

    if not stat.S_ISREG(st.st_mode) or stream.tell() != 0:
        return None
    return raw.fileno(), st.st_size


def _blocks(stream: BinaryIO, path: str) -> Iterator[bytes]:
    """Blocks of whole lines; a line longer than a block is given as a too-long stand-in."""
    carry = b""
    skipping = False
    read = stream.read
    try:
        while True:
            chunk = read(BLOCK)
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
                if len(data) > 2 * BLOCK:  # one line longer than two blocks: too long
                    yield b"x" * (MAX_LINE + 1) + b"\n"
                    skipping, carry = True, b""
                else:
                    carry = data
                continue
            yield data[: cut + 1]
            carry = data[cut + 1 :]
    except (OSError, EOFError, zlib.error) as exc:
        raise read_error(exc, path) from None


def _pread_blocks(fd: int, start: int, end: int) -> Iterator[bytes]:
    """Blocks of whole lines of bytes start..end of a file (end: at a line start or EOF)."""
    pos = start
    carry = b""
    while pos < end:
        chunk = os.pread(fd, min(BLOCK, end - pos), pos)
        if not chunk:
            break
        pos += len(chunk)
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n")
        if cut < 0 and pos < end:
            carry = data
            continue
        if cut < 0:
            yield data
            return
        yield data[: cut + 1]
        carry = data[cut + 1 :]
    if carry:
        yield carry


def _line_start_after(fd: int, pos: int, size: int) -> int | None:
    """The offset of the first line that starts at or after `pos`, or None (no newline)."""
    while pos < size:
        chunk = os.pread(fd, 1 << 16, pos - 1 if pos else 0)
        j = chunk.find(b"\n")
        if j >= 0:
            return (pos - 1 if pos else 0) + j + 1
        pos += len(chunk)
    return None


def _lines_back(fd: int, start: int, count: int) -> int | None:
    """The offset of the line `count` lines before the one at `start` (a line start), or None."""
    pos = start  # the newline ending the line before is the first counted
    seen = 0
    while pos > 0:
        lo = max(0, pos - (1 << 20))
        chunk = os.pread(fd, pos - lo, lo)
        end = len(chunk)
        while True:
            j = chunk.rfind(b"\n", 0, end)
            if j < 0:
                break
            seen += 1
            if seen > count:
                return lo + j + 1
            end = j
        pos = lo
    return None


def _parallel(scanner: Scanner, fd: int, size: int, path: str) -> bool:
    """Read a big plain file in two processes; False when it cannot be split."""
    split = _line_start_after(fd, size // 2, size)
    if split is None:
        return False
    warm = _lines_back(fd, split, 2 * scanner.window + 2)
    ahead = _lines_ahead(fd, split, size, 3 * scanner.window)
    if warm is None or warm == 0 or not ahead:
        return False
    out = scanner.out
    if out is not None:
        out.flush()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the first half, then far enough into the second
        os.close(r)
        code = 0
        try:
            for block in _pread_blocks(fd, 0, split):
                scanner.block(block)
            scanner.emit_until = scanner.line
            stop = scanner.line + scanner.window + 1
            for block in _pread_blocks(fd, split, size):
                head = _head_lines(block, stop - scanner.line)
                scanner.block(head)
                if scanner.line >= stop:
                    break
            scanner._ready()
            if out is not None:
                out.flush()
            counts = (scanner.lines, scanner.too_long, scanner.unreadable, scanner.tally)
            with os.fdopen(w, "wb") as pipe:
                pickle.dump(counts, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        except BrokenPipeError:
            code = 0
        except BaseException:  # noqa: BLE001  (the parent says it in one sentence)
            code = 1
        os._exit(code)
    os.close(w)
    # the parent: the second half, after 2 x window lines that only prepare the pairing
    scanner.drop_queue()
    scanner.lines = scanner.too_long = scanner.unreadable = 0
    scanner.tally = Tally()
    scanner.position += 1 << 50
    base = scanner.line + (1 << 40)
    scanner.line = base
    scanner.emit_from = base + 2 * scanner.window + 2 + 1
    real_out = out
    spool: IO[bytes] | None = None
    if out is not None:
        spool = tempfile.TemporaryFile()
        scanner.out = spool
    try:
        for block in _pread_blocks(fd, warm, size):
            scanner.block(block)
        with os.fdopen(r, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            raise InputError(f"{path}: the reader of its first half failed")
        lines, too_long, unreadable, tally = pickle.loads(data)
        scanner.lines += lines
        scanner.too_long += too_long
        scanner.unreadable += unreadable
        tally.absorb(scanner.tally)
        scanner.tally = tally
        if spool is not None and real_out is not None:
            scanner._ready()  # what the spool holds so far is complete
            spool.flush()
            spool.seek(0)
            shutil.copyfileobj(spool, real_out, 1 << 20)
    finally:
        if spool is not None:
            spool.close()
        scanner.out = real_out
        scanner.emit_from = 0
    return True


def _lines_ahead(fd: int, start: int, size: int, count: int) -> bool:
    """True when at least `count` whole lines follow `start`."""
    seen = 0
    pos = start
    while pos < size and seen < count:
        chunk = os.pread(fd, 1 << 20, pos)
        if not chunk:
            break
        seen += chunk.count(b"\n")
        pos += len(chunk)
    return seen >= count


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
