"""sendmail's STARTTLS log messages as values, and the stream that merges them per process.

A *record* (TlsRecord) is one `STARTTLS=server|client, relay=..., version=...`
handshake line or one `STARTTLS=server|client, error: ...` line (and a
`STARTTLS=who: file ... unsafe: ...` line, the error that keeps STARTTLS from
being offered at all). The `cert-subject=..., cert-issuer=...` line that
sendmail writes right after the handshake line of the same process (at
LogLevel 12 and above) is merged into that record. Informational lines
(`init=1`, `Diffie-Hellman init`, `start=ok`, `SSL_shutdown failed`, the
OpenSSL error-queue dump after an error line) are not records.

`ruleset=tls_server|tls_client|tls_rcpt|try_tls` rejections and
`STARTTLS: <option> missing` lines are not STARTTLS records (the JSON has
none of them) but the summary needs them: they carry the verify values that
never appear in a handshake line (NONE, TEMP, SOFTWARE, PROTOCOL, ...) and the
peer of an outbound handshake failure. They go to the parser's `on_event`.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from compiler.logs.syslog import SyslogLine

_STARTTLS = re.compile(
    r"STARTTLS(?:=(?P<who>server|client))?(?P<sep>[,:]) ?(?P<rest>.*)", re.DOTALL
)
_RULESET = re.compile(r"ruleset=(?P<name>tls_server|tls_client|tls_rcpt|try_tls), (?P<rest>.*)")
#: a queue id ("6AT2gk33000955: ", it holds digits) or NOQUEUE before the message
_QID = re.compile(r"(?:NOQUEUE|(?=[A-Za-z]*\d)[A-Za-z0-9]{8,20}): ")
#: `name [addr]`, `[addr]`, `name.` (client side), `name [addr] (may be forged)`
_RELAY = re.compile(r"(?P<name>[^\s\[]*)\s*(?P<addr>\[[^\]\s]*\])?")
#: where `STARTTLS` starts in a line whose prefix is not a known syslog form
_FALLBACK_TAG = re.compile(r"(?P<tag>[^\s\[\]:]+)\[(?P<pid>\d+)\]: (?:\S+: )?STARTTLS")

#: who logged it (`server`: we accepted STARTTLS, inbound; `client`: we sent it, outbound)
RULESET_DIRECTION = {
    "tls_server": "client",
    "tls_client": "server",
    "tls_rcpt": "client",
    "try_tls": "client",
}

#: JSON keys in the documented order; relay and addr are left out when the line has none
JSON_KEYS = (
    "time",
    "host",
    "direction",
    "relay",
    "addr",
    "version",
    "verify",
    "cipher",
    "bits",
    "bits_max",
    "error",
)


@dataclass(slots=True)
class TlsRecord:
    """One STARTTLS record: a handshake (`error` None) or a STARTTLS error (`error` set).

    `bits` is the first number of `bits=A/B` (algorithm bits, `${alg_bits}`),
    `bits_max` the second (`${cipher_bits}`, the strength ENCR:n compares).
    `verifymsg` comes from the cert line and is kept for the summary only.
    """

    time: str | None
    host: str | None
    direction: str
    relay: str | None = None
    addr: str | None = None
    version: str | None = None
    verify: str | None = None
    cipher: str | None = None
    bits: int | None = None
    bits_max: int | None = None
    error: str | None = None
    cert_subject: str | None = None
    cert_issuer: str | None = None
    verifymsg: str | None = None

    def as_json(self) -> dict[str, object]:
        """The documented JSON object: relay/addr only when present, cert fields once merged."""
        out: dict[str, object] = {"time": self.time, "host": self.host, "direction": self.direction}
        if self.relay is not None:
            out["relay"] = self.relay
        if self.addr is not None:
            out["addr"] = self.addr
        out["version"] = self.version
        out["verify"] = self.verify
        out["cipher"] = self.cipher
        out["bits"] = self.bits
        out["bits_max"] = self.bits_max
        out["error"] = self.error
        if self.cert_subject is not None:
            out["cert_subject"] = self.cert_subject
            out["cert_issuer"] = self.cert_issuer
        return out

    @property
    def peer(self) -> str:
        """The peer as a person reads it: `name [addr]`, `name`, `[addr]` or `(unknown)`."""
        if self.relay and self.addr:
            return f"{self.relay} {self.addr}"
        return self.relay or self.addr or "(unknown)"


def json_line(record: TlsRecord) -> str:
    """One record as one line of JSON Lines (the documented object), newline included."""
    return json.dumps(record.as_json()) + "\n"


@dataclass(frozen=True, slots=True)
class CertLine:
    """`STARTTLS=who, cert-subject=S, cert-issuer=I, verifymsg=M` (S and I still +XX-encoded)."""

    direction: str
    subject: str
    issuer: str
    verifymsg: str | None


@dataclass(frozen=True, slots=True)
class RulesetEvent:
    """A `ruleset=tls_server|tls_client|tls_rcpt|try_tls, ..., reject=...` line.

    `verify` is arg1 for tls_server and tls_client (the `${verify}` value that
    failed the requirement), None for tls_rcpt (arg1 is the recipient) and try_tls.
    """

    time: str | None
    host: str | None
    ruleset: str
    direction: str
    verify: str | None
    relay: str | None
    addr: str | None
    reject: str | None


@dataclass(frozen=True, slots=True)
class Notice:
    """`STARTTLS: <option> missing` for a certificate or key option: STARTTLS is not offered."""

    time: str | None
    host: str | None
    text: str


Message = TlsRecord | CertLine | RulesetEvent | Notice


def split_relay(text: str) -> tuple[str | None, str | None]:
    """(`relay`, `addr`) of a logged relay: the name without a trailing dot, `[addr]`."""
    m = _RELAY.match(text.strip())
    if m is None:  # pragma: no cover  (the pattern matches every string)
        return None, None
    return m["name"].rstrip(".") or None, m["addr"]


def _int(text: str) -> int | None:
    return int(text) if 0 < len(text) < 10 and text.isascii() and text.isdigit() else None


def _fields(text: str) -> dict[str, str]:
    """`k=v, k=v` as a dict; the first of a repeated key wins; parts without `=` are skipped."""
    out: dict[str, str] = {}
    for part in text.split(", "):
        key, eq, value = part.partition("=")
        if eq and key not in out:
            out[key] = value
    return out


def _handshake(when: str | None, host: str | None, who: str, rest: str) -> TlsRecord | None:
    f = _fields(rest)
    if "version" not in f or "verify" not in f:
        return None
    relay, addr = split_relay(f["relay"]) if "relay" in f else (None, None)
    bits, _, bits_max = f.get("bits", "").partition("/")
    return TlsRecord(
        when,
        host,
        who,
        relay,
        addr,
        f["version"] or None,
        f["verify"] or None,
        f.get("cipher") or None,
        _int(bits),
        _int(bits_max),
    )


def _error(when: str | None, host: str | None, who: str, text: str) -> TlsRecord:
    relay = addr = None
    at = text.rfind(", relay=")
    if at >= 0 and ", " not in text[at + 8 :]:
        relay, addr = split_relay(text[at + 8 :])
        text = text[:at]
    return TlsRecord(when, host, who, relay, addr, error=text.strip() or "error")


def _cert(who: str, rest: str) -> CertLine | None:
    subject, sep, tail = rest[len("cert-subject=") :].partition(", cert-issuer=")
    if not sep:
        return None
    issuer, sep, verifymsg = tail.partition(", verifymsg=")
    return CertLine(who, subject, issuer, verifymsg if sep else None)


def _ruleset(when: str | None, host: str | None, name: str, rest: str) -> RulesetEvent:
    head, _sep, reject = rest.partition(", reject=")
    f = _fields(head)
    relay, addr = split_relay(f["relay"]) if "relay" in f else (None, None)
    verify = f.get("arg1") if name in ("tls_server", "tls_client") else None
    return RulesetEvent(
        when, host, name, RULESET_DIRECTION[name], verify or None, relay, addr, reject or None
    )


def parse_message(message: str, when: str | None = None, host: str | None = None) -> Message | None:
    """What a sendmail log message (after the syslog prefix) says about STARTTLS, or None."""
    qid = _QID.match(message)
    if qid is not None:
        message = message[qid.end() :]
    if message.startswith("ruleset="):
        r = _RULESET.match(message)
        return _ruleset(when, host, r["name"], r["rest"]) if r else None
    m = _STARTTLS.match(message)
    if m is None:
        return None
    who, sep, rest = m["who"], m["sep"], m["rest"]
    if who is None:
        # `STARTTLS: ServerCertFile missing` and kin stop STARTTLS; a missing CRLFile does not
        if rest.endswith(" missing") and " " not in rest[:-8] and rest != "CRLFile missing":
            return Notice(when, host, f"STARTTLS: {rest}")
        return None
    if sep == ":":
        # `STARTTLS=server: file <path> unsafe: <why>` keeps STARTTLS from being offered;
        # `STARTTLS=server: error:0A000126:...` repeats the error line above it
        return _error(when, host, who, rest) if rest.startswith("file ") else None
    if rest.startswith("relay=") or rest.startswith("version="):
        return _handshake(when, host, who, rest)
    if rest.startswith("error:"):
        return _error(when, host, who, rest[6:])
    if rest.startswith("cert-subject="):
        return _cert(who, rest)
    return None


ProcessKey = tuple[str | None, str | None, str | None]


@dataclass(slots=True)
class _Waiting:
    line: int
    key: ProcessKey
    record: TlsRecord
    done: bool


class LogParser:
    """Turns the lines of one log stream into records, in input order, cert lines merged.

    A handshake record waits for the cert line of its process (host, program,
    pid) until that line comes, the process logs another STARTTLS record, or
    `window` more lines have gone by; records behind it wait too, so the
    output keeps the input's order. Memory is bounded by the window. A cert
    line that comes first (not what sendmail does, but syslog relays reorder)
    waits the same way for its handshake line.
    """

    WINDOW = 1000

    def __init__(
        self,
        on_event: Callable[[RulesetEvent | Notice], None] | None = None,
        window: int = WINDOW,
    ) -> None:
        self.on_event = on_event
        self.window = window
        #: the number of the line being fed (lines the caller skipped count too)
        self.lines = 0
        self._queue: deque[_Waiting] = deque()
        self._open: dict[ProcessKey, _Waiting] = {}
        self._early_certs: dict[ProcessKey, tuple[int, CertLine]] = {}

    def feed(
        self, line: SyslogLine | None, raw: str, lineno: int | None = None
    ) -> Sequence[TlsRecord]:
        """Records completed by line `raw` (`line`: its split prefix, None when unknown).

        `lineno` is its number in the stream, when the caller skips lines that
        cannot matter (they still age the window); by default one more than the last.
        """
        self.lines = self.lines + 1 if lineno is None else lineno
        if line is None:
            at = raw.find("STARTTLS")
            if at < 0:
                at = raw.find("ruleset=")
                if at < 0:
                    return self._ready()
            tag = _FALLBACK_TAG.search(raw)
            key: ProcessKey = (None, tag["tag"], tag["pid"]) if tag else (None, None, None)
            msg = parse_message(raw[at:])
        else:
            key = (line.host, line.tag, line.pid)
            msg = parse_message(line.message, line.time, line.host)
        if msg is None:
            return self._ready()
        if isinstance(msg, TlsRecord):
            return self._record(key, msg)
        if isinstance(msg, CertLine):
            return self._cert(key, msg)
        if self.on_event is not None:
            self.on_event(msg)
        return self._ready()

    def flush(self) -> list[TlsRecord]:
        """Every record still waiting (end of input)."""
        out = [w.record for w in self._queue]
        self._queue.clear()
        self._open.clear()
        self._early_certs.clear()
        return out

    def _record(self, key: ProcessKey, record: TlsRecord) -> Sequence[TlsRecord]:
        previous = self._open.pop(key, None)
        if previous is not None:
            previous.done = True
        if record.error is not None:
            if not self._queue:
                return [record]
            self._queue.append(_Waiting(self.lines, key, record, True))
            return self._ready()
        early = self._early_certs.pop(key, None)
        if early is not None and self.lines - early[0] <= self.window:
            _attach(record, early[1])
            if not self._queue:
                return [record]
            self._queue.append(_Waiting(self.lines, key, record, True))
            return self._ready()
        waiting = _Waiting(self.lines, key, record, False)
        self._queue.append(waiting)
        self._open[key] = waiting
        return self._ready()

    def _cert(self, key: ProcessKey, cert: CertLine) -> Sequence[TlsRecord]:
        waiting = self._open.pop(key, None)
        if waiting is not None and waiting.record.direction == cert.direction:
            _attach(waiting.record, cert)
            waiting.done = True
        else:
            if len(self._early_certs) >= self.window:
                self._early_certs.clear()
            self._early_certs[key] = (self.lines, cert)
        return self._ready()

    def _ready(self) -> Sequence[TlsRecord]:
        queue = self._queue
        if not queue:
            return _NONE
        out: list[TlsRecord] = []
        oldest = self.lines - self.window
        while queue and (queue[0].done or queue[0].line < oldest):
            waiting = queue.popleft()
            if not waiting.done and self._open.get(waiting.key) is waiting:
                del self._open[waiting.key]
            out.append(waiting.record)
        return out


_NONE: tuple[TlsRecord, ...] = ()


def _attach(record: TlsRecord, cert: CertLine) -> None:
    record.cert_subject = cert.subject
    record.cert_issuer = cert.issuer
    record.verifymsg = cert.verifymsg
