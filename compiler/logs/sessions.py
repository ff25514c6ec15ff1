"""SMTP sessions rebuilt from sendmail's log: who talked to whom, over what TLS, with which mail.

A STARTTLS line says how a connection was protected but not what it carried;
a delivery line (`to=..., relay=..., stat=...`) or a receipt line
(`from=..., proto=ESMTP|ESMTPS, relay=...`) says what it carried but not how.
Mail that went in clear has no STARTTLS line at all. A `Session` joins them:
the delivery and receipt lines of one process (host, program, pid) with the
STARTTLS handshake (or refusal) that process logged for the same peer just
before them.

* **Outbound** (`direction == "client"`: we connected and, maybe, sent
  STARTTLS): one session per run of `to=` lines of one process to one relay.
  Its `verify` is the handshake's; without a handshake it is the verify value
  of a `ruleset=tls_server|try_tls` line for that relay, and else `NONE`
  (the peer offered no STARTTLS, or we did not try).
* **Inbound** (`direction == "server"`: a client connected to us): one
  session per process and client; `proto=ESMTPS`/`ESMTPSA` on a `from=` line
  means the message came over TLS, `proto=ESMTP`/`SMTP` that it came in clear
  (`verify` `NONE`).

Memory is bounded: a process's open session is closed by its next peer, and
everything older than `window` lines is closed too. Senders are remembered
per queue id for a bounded number of messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from compiler.logs.parse import (
    LAST_REPEATED,
    QUEUE_ID,
    REPEAT_HEAD,
    CertLine,
    LogParser,
    TlsRecord,
    last_repeated,
    parse_message,
    repeat_of,
    split_relay,
    split_with_text,
    unrepeat,
)
from compiler.logs.source import ReadStats, chronological, log_lines
from compiler.logs.syslog import SyslogLine, YearGuess, split_syslog

#: verify values under which a session is encrypted
ENCRYPTED = frozenset({"OK", "TRUSTED", "NOT", "NO", "FAIL", "DANE_FAIL"})
#: verify values a `VERIFY` requirement accepts
VERIFIED = frozenset({"OK", "TRUSTED"})


@dataclass(slots=True)
class Message:
    """One message a session carried (outbound: one `to=` line; inbound: one `from=` line).

    `sender` and `recipients` are bare addresses (no angle brackets), lower-cased
    domain parts kept as logged; `status` is the `stat=` word of a delivery
    (`Sent`, `Deferred`, ...), None inbound.
    """

    qid: str | None
    sender: str | None
    recipients: tuple[str, ...]
    status: str | None = None


#: the syslog tag of sendmail's MSP queue runner (submit.cf, FEATURE(`msp'))
MSP_TAG = "sm-msp-queue"


@dataclass(slots=True)
class Session:
    """One SMTP connection as the log shows it.

    `direction` is the side we were on, as in `TlsRecord`: `client` outbound,
    `server` inbound. `relay` is the peer's name without a trailing dot (for
    an outbound session the server we connected to, `${server_name}`; inbound
    the client, `${client_name}`), `addr` its bracketed address as logged.
    `starttls` is true when a handshake line was logged; then `verify`,
    `version`, `cipher`, `bits`, `bits_max` are the handshake's. Otherwise
    `verify` is what sendmail's rulesets saw (`NONE`, `TEMP`, `SOFTWARE`, ...)
    and `bits_max` is 0. `cert_subject`/`cert_issuer` are set only when the
    log has the cert line (LogLevel 12 and above), still `+XX`-encoded.
    `refusals` are the replies of TLS rulesets that refused this session
    (`454 4.7.0 encryption too weak 0 less than 128`).
    """

    direction: str
    time: str | None
    host: str | None
    relay: str | None
    addr: str | None
    starttls: bool = False
    verify: str = "NONE"
    version: str | None = None
    cipher: str | None = None
    bits: int | None = None
    bits_max: int = 0
    cert_subject: str | None = None
    cert_issuer: str | None = None
    #: OpenSSL's words on the certificate check (`ok`, `certificate has expired`), from
    #: the cert line; None without one
    verifymsg: str | None = None
    messages: list[Message] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    end: str | None = None
    #: a `Try_TLS:` entry said NO: STARTTLS was not tried (outbound)
    tls_skipped: bool = False
    #: the `STARTTLS=..., error:` text of a handshake that broke off (verify SOFTWARE)
    error: str | None = None
    #: the log has only part of the peer's name (see `peer_of`): the rules match its address
    name_cut: bool = False
    #: outbound, no delivery line of its own: the recipients of the delivery line the
    #: process logged next, whose MX host this session tried first (sendmail logs only
    #: the last relay it tried); not messages this session carried
    attempt_for: tuple[str, ...] = ()

    @property
    def encrypted(self) -> bool:
        """TLS was negotiated."""
        return self.starttls and self.verify in ENCRYPTED

    @property
    def ip(self) -> str | None:
        """The peer's address without brackets and without sendmail's `IPv6:` prefix."""
        if not self.addr:
            return None
        inner = self.addr.strip("[]")
        return inner[5:] if inner[:5].lower() == "ipv6:" else inner

    @property
    def peer(self) -> str:
        """`name [addr]`, `name`, `[addr]` or `(unknown)`."""
        if self.relay and self.addr:
            return f"{self.relay} {self.addr}"
        return self.relay or self.addr or "(unknown)"


# -- rebuilding sessions from the lines ---------------------------------------

#: sendmail logs a relay as `relay=%.100s` in its STARTTLS lines (tls.c, srvrsmtp.c)
RELAY_WIDTH = 100
#: a `to=` line's relay is shortenstring(name, 40): a name of 40 bytes or more becomes
#: its first 18, `...` and its last 18 (libsmutil/snprintf.c)
_SHORTENED = re.compile(r"(?P<head>[^\s\[]{18})\.\.\.(?P<tail>[^\s\[]{18})")


def peer_of(text: str) -> tuple[str | None, str | None, bool]:
    """(name, addr, cut) of a logged relay, the name as the access map sees it.

    An inbound relay is sendmail's `$_`: `user@host [addr]` (`IDENT:user@host`)
    when the client's identd answered; the rules look up `host`. `cut` is true
    when the name may be only part of the peer's: the relay text fills
    sendmail's 100 bytes with no blank after the name, or it is a `to=` line's
    `head...tail`. An address cut short (no `]`) is no address.
    """
    name, addr = split_relay(text)
    if name is not None and "@" in name:
        name = name.rpartition("@")[2] or None
    text = text.strip()
    cut = bool(name) and (
        (len(text.encode("utf-8", "surrogatepass")) >= RELAY_WIDTH and " " not in text)
        or _SHORTENED.fullmatch(text.split(" ", 1)[0]) is not None
    )
    return name, addr, cut


def same_name(a: str, b: str) -> bool:
    """Two logged names of one peer: equal, or one a `head...tail` of the other."""
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    if a == b:
        return True
    for short, full in ((a, b), (b, a)):
        m = _SHORTENED.fullmatch(short + ("." if len(short) == 38 else ""))
        if m is not None and len(full) >= 36:
            tail = m["tail"].rstrip(".")
            if full.startswith(m["head"]) and full.endswith(tail):
                return True
    return False


_RELAY_FIELD = re.compile(r"(?:^|, )relay=([^,]*)")
_FIELD = re.compile(r"(?:^|, )(mailer|proto|stat)=")
#: a reply code in a delivery status: the server answered (`Deferred: 454 4.7.0 ...`)
_REPLY = re.compile(r"\b[245]\d\d[ -]")
#: mailers that deliver on this host: their `to=` lines are no SMTP session
_LOCAL_MAILERS = frozenset({"local", "prog", "*file*", "*include*", "discard", "error"})
#: what a check_* ruleset answers when a TLS rule (TLS_Clt) failed behind it
TLS_REPLY = re.compile(
    r"encryption too weak|not authenticated|no authentication requested|STARTTLS|TLS"
    r"|does not match|Cert (?:Issuer|Subject)|authentication fail",
)

ProcessKey = tuple[str | None, str | None, str | None]


def _field(message: str, name: str) -> str | None:
    """The value of `name=` in a `k=v, k=v` message (up to the next `, `), or None."""
    at = message.find(f"{name}=")
    while at > 0 and message[at - 2 : at] != ", ":
        at = message.find(f"{name}=", at + 1)
    if at < 0:
        return None
    start = at + len(name) + 1
    end = message.find(", ", start)
    return message[start:] if end < 0 else message[start:end]


def _addresses(text: str) -> tuple[str, ...]:
    """`<a@x>,<b@y>` or `a@x` as bare addresses."""
    return tuple(a.strip().strip("<>") for a in text.split(",") if a.strip().strip("<>"))


def _same_peer(session: Session, relay: str | None, addr: str | None) -> bool:
    if not session.relay and not session.addr:
        return True  # a `connect failed` line names no peer: the next line that does is it
    if relay and session.relay:
        return same_name(relay, session.relay)
    if addr and session.addr:
        return addr.lower() == session.addr.lower()
    return not relay and not addr


class SessionBuilder:
    """Turns the lines of one log stream into sessions, each given once it is closed.

    A process's session is closed when the process turns to another peer or
    opens a new connection, and any session is closed once `window` lines
    have gone by without a line of its own; `flush` closes the rest.
    """

    WINDOW = 1000
    SENDERS = 100_000

    def __init__(self, window: int = WINDOW, senders: int = SENDERS) -> None:
        self.window = window
        self.max_senders = senders
        self.lines = 0
        #: (direction, process) -> the open session and the line it was last touched
        self._open: dict[tuple[str, ProcessKey], tuple[Session, int]] = {}
        #: the session a process's next cert line belongs to
        self._cert_for: dict[tuple[str, ProcessKey], Session] = {}
        self._senders: dict[str, str] = {}
        #: queue id -> the inbound message that brought it (for its recipients)
        self._inbound: dict[str, Message] = {}
        self._closed: list[Session] = []
        #: process -> its outbound sessions closed without a delivery line, and the line
        #: each closed at: the MX hosts tried before the one the next `to=` line names
        self._attempts: dict[ProcessKey, list[tuple[Session, int]]] = {}

    # -- the public interface

    def feed(self, line: SyslogLine | None) -> list[Session]:
        """Sessions closed by this line (None: a line without a syslog prefix, which only ages)."""
        self.lines += 1
        if line is not None:
            self._line(line)
        if self.lines % 256 == 0:
            self._expire()
        return self._take()

    def flush(self) -> list[Session]:
        """Every session still open (end of input), oldest first."""
        for held in self._attempts.values():
            self._closed.extend(session for session, _ in held)
        self._attempts.clear()
        for session, _ in sorted(self._open.values(), key=lambda st: st[1]):
            self._closed.append(session)
        self._open.clear()
        self._cert_for.clear()
        self._inbound.clear()
        return self._take()

    # -- bookkeeping

    def _take(self) -> list[Session]:
        if not self._closed:
            return []
        out, self._closed = self._closed, []
        return out

    def _expire(self) -> None:
        oldest = self.lines - self.window
        stale = [key for key, (_, seen) in self._open.items() if seen < oldest]
        for key in stale:
            self._close(key)
        for process in [p for p, held in self._attempts.items() if held[-1][1] < oldest]:
            self._closed.extend(session for session, _ in self._attempts.pop(process))

    def _close(self, key: tuple[str, ProcessKey]) -> None:
        entry = self._open.pop(key, None)
        if entry is None:
            return
        session = entry[0]
        if self._cert_for.get(key) is session:
            del self._cert_for[key]
        for message in session.messages:
            if message.qid is not None and self._inbound.get(message.qid) is message:
                del self._inbound[message.qid]
        if key[0] == "client" and not session.messages:
            self._attempts.setdefault(key[1], []).append((session, self.lines))
            return
        self._closed.append(session)

    def _open_session(self, key: tuple[str, ProcessKey], line: SyslogLine, text: str) -> Session:
        """A new session of the process with the peer of the logged relay `text`."""
        self._close(key)
        relay, addr, cut = peer_of(text)
        session = Session(key[0], line.time, line.host, relay, addr, end=line.time, name_cut=cut)
        self._open[key] = (session, self.lines)
        return session

    def _session(self, key: tuple[str, ProcessKey], line: SyslogLine, text: str) -> Session:
        """The process's open session with this peer, or a new one (closing the old).

        A whole name another line of the session logs replaces a cut one."""
        relay, addr, cut = peer_of(text)
        entry = self._open.get(key)
        if entry is not None and _same_peer(entry[0], relay, addr):
            session = entry[0]
            if relay and (not session.relay or (session.name_cut and not cut)):
                session.relay, session.name_cut = relay, cut
            if addr and not session.addr:
                session.addr = addr
            session.end = line.time or session.end
            self._open[key] = (session, self.lines)
            return session
        return self._open_session(key, line, text)

    def _sender(self, qid: str, sender: str) -> None:
        senders = self._senders
        if qid not in senders and len(senders) >= self.max_senders:
            del senders[next(iter(senders))]
        senders[qid] = sender

    # -- the lines

    def _line(self, line: SyslogLine) -> None:
        if line.tag is not None and ("/" in line.tag or line.tag == MSP_TAG):
            # postfix's `postfix/smtp[12]:` (syslog_name/service) on a host that runs both:
            # its `to=... status=sent` and `connect from` lines are no sendmail session;
            # sendmail's MSP queue runner runs submit.cf, which reads no access map: no
            # TLS rule of the spec applies to its sessions
            return
        message = line.message
        if message.startswith(REPEAT_HEAD):
            # rsyslog's `message repeated N times: [MSG]`: MSG again, N times with no other
            # line of the process between them, so no delivery or receipt: its session once
            found = unrepeat(message)
            if not isinstance(found, tuple):
                return
            message = found[0]
        qid: str | None = None
        m = QUEUE_ID.match(message)
        if m is not None:
            qid = None if m[1] == "NOQUEUE" else m[1]
            message = message[m.end() :]
        process: ProcessKey = (line.host, line.tag, line.pid)
        if message.startswith("to="):
            self._delivery(process, line, qid, message)
        elif message.startswith("from="):
            self._receipt(process, line, qid, message)
        elif message.startswith("connect from "):
            self._open_session(("server", process), line, message[13:])
        elif message.startswith("ruleset="):
            self._ruleset(process, line, message)
        elif message.startswith("STARTTLS"):
            self._starttls(process, line, message)

    def _starttls(self, process: ProcessKey, line: SyslogLine, message: str) -> None:
        parsed = parse_message(message, line.time, line.host)
        if isinstance(parsed, CertLine):
            session = self._cert_for.pop((parsed.direction, process), None)
            if session is not None:
                session.cert_subject = parsed.subject
                session.cert_issuer = parsed.issuer
                session.verifymsg = parsed.verifymsg
            return
        if not isinstance(parsed, TlsRecord):
            return
        key = (parsed.direction, process)
        if parsed.error is not None:
            if parsed.error.startswith("file "):
                return  # a daemon's start-up complaint, no session
            entry = self._open.get(key)
            if parsed.relay or parsed.addr or entry is None:
                session = self._session(key, line, _field(message, "relay") or "")
            else:  # `connect failed` names no peer: the process's open session
                session = entry[0]
            session.starttls = True
            session.verify = "SOFTWARE"
            session.error = parsed.error
            return
        if parsed.direction == "client":
            # a handshake is a new connection, even to the same server
            session = self._open_session(key, line, _field(message, "relay") or "")
        else:
            session = self._session(key, line, _field(message, "relay") or "")
        session.starttls = True
        session.verify = parsed.verify or "NONE"
        session.version = parsed.version
        session.cipher = parsed.cipher
        session.bits = parsed.bits
        session.bits_max = parsed.bits_max or 0
        self._cert_for[key] = session

    def _ruleset(self, process: ProcessKey, line: SyslogLine, message: str) -> None:
        name = message[8 : message.find(",")] if "," in message else message[8:]
        head, _, reply = message.partition(", reject=")
        relay_text = _field(head, "relay") or ""
        arg1 = _field(head, "arg1")
        if name == "try_tls":
            session = self._open_session(("client", process), line, relay_text)
            session.tls_skipped = True
            return
        if name == "tls_server":
            key = ("client", process)
        elif name == "tls_client" or (name.startswith("check_") and TLS_REPLY.search(reply)):
            key = ("server", process)
        else:
            return  # tls_rcpt is per recipient: its `to=` line says Deferred
        session = self._session(key, line, relay_text)
        if name in ("tls_server", "tls_client") and arg1 and not session.starttls:
            session.verify = arg1
        if reply:
            session.refusals.append(reply)

    def _delivery(
        self, process: ProcessKey, line: SyslogLine, qid: str | None, message: str
    ) -> None:
        head, _, status = message.partition(", stat=")
        to_end = head.find(", ")
        recipients = _addresses(head[3 : to_end if to_end >= 0 else len(head)])
        inbound = self._inbound.get(qid) if qid is not None else None
        if inbound is not None:
            inbound.recipients = tuple(dict.fromkeys(inbound.recipients + recipients))
        mailer = _field(head, "mailer")
        relay_text = _field(head, "relay")
        if mailer in _LOCAL_MAILERS or not relay_text or relay_text == "local":
            return
        word = status.split(":", 1)[0].split(" ", 1)[0] or None
        if word == "Deferred" and not _REPLY.search(status):
            return  # no SMTP session was made (connection refused, host unknown, ...)
        session = self._session(("client", process), line, relay_text)
        sender = self._senders.get(qid) if qid is not None else None
        session.messages.append(Message(qid, sender, recipients, word))
        for attempt, _ in self._attempts.pop(process, ()):
            attempt.attempt_for = recipients
            self._closed.append(attempt)

    def _receipt(
        self, process: ProcessKey, line: SyslogLine, qid: str | None, message: str
    ) -> None:
        to_end = message.find(", ")
        senders = _addresses(message[5 : to_end if to_end >= 0 else len(message)])
        sender = senders[0] if senders else ""
        if qid is not None:
            self._sender(qid, sender)
        relay_text = _field(message, "relay")
        proto = _field(message, "proto")
        if not relay_text or proto is None:
            return  # a message submitted on this host (sm-msp), no SMTP session
        key = ("server", process)
        session = self._session(key, line, relay_text)
        if not session.starttls and "ESMTPS" in proto.upper():
            session.starttls = True  # encrypted, the handshake line not logged (LogLevel < 9)
            session.verify = "UNKNOWN"
        received = Message(qid, sender, ())
        session.messages.append(received)
        if qid is not None:
            self._inbound[qid] = received


def read_sessions(
    files: Sequence[str],
    on_session: Callable[[Session], None],
    year: int | None = None,
) -> tuple[ReadStats, list[str]]:
    """Feed the lines of `files`, oldest first (source.chronological), to one builder:
    (what was read, bad inputs)."""
    files = chronological(files)
    builder = SessionBuilder()
    stats = ReadStats()
    problems: list[str] = []
    lineno = 0
    too_long = 0
    #: the last line that is not a repeat line (what a `last message repeated` line repeats,
    #: if within the window, as `tlsc logs` reads it), and its number
    before: tuple[bytes, YearGuess] | None = None
    before_at = 0
    for raw, years in log_lines(files, year, stats, problems):
        lineno += 1
        if too_long != stats.too_long:  # a line too long to read came between
            too_long, before = stats.too_long, None
        if not any(word in raw for word in _WORDS):
            if _REPEAT_WORDS in raw:
                near = before if lineno - before_at <= LogParser.WINDOW else None
                if (repeated := _repeated(raw, years, near)) is not None:
                    # the line before it again, once, as rsyslog's `message repeated` line is
                    for session in builder.feed(repeated[0]):
                        on_session(session)
                    continue
            before, before_at = (raw, years), lineno
            builder.lines += 1
            continue
        before, before_at = (raw, years), lineno
        text = raw.decode("utf-8", "replace")
        for session in builder.feed(split_syslog(text, years)):
            on_session(session)
    for session in builder.flush():
        on_session(session)
    stats.lines = lineno + stats.too_long
    return stats, problems


_REPEAT_WORDS = LAST_REPEATED.encode()


def _repeated(
    raw: bytes, years: YearGuess, before: tuple[bytes, YearGuess] | None
) -> tuple[SyslogLine | None] | None:
    """The line a `last message repeated` line `raw` repeats, at its time (in a 1-tuple:
    None when it repeats none or one without a prefix); None when `raw` is not one."""
    line = split_syslog(raw.decode("utf-8", "replace"), years)
    found = repeat_of(line, split_with_text(before)) if last_repeated(line) is not None else None
    if found is None:
        return None
    assert line is not None
    repeated = found[1]
    if repeated is None or repeated[0] is None:
        return (None,)
    return (replace(repeated[0], time=line.time),)


#: a line holding none of these cannot matter to a session
_WORDS = (b"to=", b"from=", b"STARTTLS", b"ruleset=", b"connect from")
