"""sendmail's STARTTLS log messages as values, and the stream that merges them per process.

A *record* (TlsRecord) is one `STARTTLS=server|client, relay=..., version=...`
handshake line or one `STARTTLS=server|client, error: ...` line (and a
`STARTTLS=who: file ... unsafe: ...` line, the error that keeps STARTTLS from
being offered at all). The `cert-subject=..., cert-issuer=...` line that
sendmail writes right after the handshake line of the same process (at
LogLevel 12 and above) is merged into that record. Informational lines
(`init=1`, `Diffie-Hellman init`, `start=ok`, `SSL_shutdown failed`, the
OpenSSL error-queue dump after an error line) are not records.

A *refusal* (RulesetEvent) is a `ruleset=...` line whose reason is a TLS
rule: every `tls_server`, `tls_client`, `tls_rcpt` and `try_tls` line, and a
`check_mail`/`check_rcpt`/`check_*` line whose reply is a TLS reason (with
Debian's `delay_checks` a TLS_Clt refusal is logged as `ruleset=check_rcpt`).
They carry the verify values that never appear in a handshake line (NONE,
TEMP, SOFTWARE, ...) and the peer of an outbound handshake failure.
`STARTTLS: <option> missing` lines are Notices. `LogParser.feed` gives
records and hands refusals and notices to `on_event`; `feed_entries` gives
records, refusals and notices in input order (`--format json` prints the
records and refusals).

A line that looks like one of these but cannot be one (truncated, a
continuation line that starts with blanks, a STARTTLS line with no syslog
prefix and no `tag[pid]:`) is *unreadable*: `LogParser.unreadable` counts it.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar, cast

from compiler.logs.syslog import SyslogLine, YearGuess, split_syslog

T = TypeVar("T")

_STARTTLS = re.compile(
    r"STARTTLS(?:=(?P<who>server|client))?(?P<sep>[,:]) ?(?P<rest>.*)", re.DOTALL
)
#: `STARTTLS=<where>, ...` of sendmail's TLS I/O and start-up, not of a session's side:
#: `STARTTLS=read, info: fds=10/8, err=5`, `STARTTLS=write, error: fd 1100/1100 too large`,
#: `STARTTLS=init, SSL_get_ex_new_index=0`, and OpenSSL's error queue after a TLS read or
#: write (`STARTTLS=write: error:0A000126:...`)
_NOT_A_SIDE = tuple(
    f"STARTTLS={where}{sep}" for where in ("read", "write", "init") for sep in (", ", ":")
)
_RULESET = re.compile(r"ruleset=(?P<name>[A-Za-z0-9_]+), (?P<rest>.*)", re.DOTALL)
#: a queue id ("6AT2gk33000955: ", it holds digits) or NOQUEUE before the message
QUEUE_ID = re.compile(r"(NOQUEUE|(?=[A-Za-z]*\d)[A-Za-z0-9]{8,20}): ")
#: `name [addr]`, `[addr]`, `name.` (client side), `name [addr] (may be forged)`
_RELAY = re.compile(r"(?P<name>[^\s\[]*)\s*(?P<addr>\[[^\]\s]*\])?")
#: where `STARTTLS` starts in a line whose prefix is not a known syslog form
_FALLBACK_TAG = re.compile(r"(?P<tag>[^\s\[\]:]+)\[(?P<pid>\d+)\]: (?:\S+: )?(?:STARTTLS|ruleset=)")
#: the SMTP reply code and enhanced status code before a reply's text
_REPLY_CODES = re.compile(r"\d{3}(?:[ -]\d\.\d{1,3}\.\d{1,3})? ?")
#: the reply texts of sendmail's TLS rules (proto.m4: TLS_connection, try_tls, tls_rcpt)
#: not proto.m4's relay refusal with AUTH, `550 5.7.1 <a@b>... Relaying denied. Proper
#: authentication required.`: the most common check_rcpt line of real logs, no TLS
_TLS_REASON = re.compile(
    r"encryption too weak|not authenticated|(?<!Proper )authentication required"
    r"|authentication (?:failed|failure)"
    r"|no authentication requested|STARTTLS|TLS handshake|do not try TLS"
    r"|CN .* does not match|Cert (?:Issuer|Subject) .* (?:not acceptable|does not match)"
    r"|DANE|not listed in SANs"
)
#: the variable parts of a reason, masked so that refusals group by rule
_REASON_MASKS = (
    (re.compile(r"^CN .* does not match .*"), "CN ... does not match ..."),
    (re.compile(r"^Cert (Issuer|Subject) .* does not match .*"), r"Cert \1 ... does not match ..."),
    (re.compile(r"^Cert (Issuer|Subject) .* not acceptable"), r"Cert \1 ... not acceptable"),
    (re.compile(r"^(?:<[^>]*>\.\.\. )?do not try TLS with .*"), "do not try TLS with ..."),
    (re.compile(r"^\S+ not listed in SANs"), "... not listed in SANs"),
)

#: the side we were on (`server`: a client connected to us, inbound;
#: `client`: we connected and sent STARTTLS, outbound); check_* rulesets are inbound
RULESET_DIRECTION = {
    "tls_server": "client",
    "tls_client": "server",
    "tls_rcpt": "client",
    "try_tls": "client",
}
#: the access-map rule behind a ruleset (check_* lines: TLS_Clt, checked at MAIL)
RULESET_RULE = {
    "tls_server": "TLS_Srv",
    "tls_client": "TLS_Clt",
    "tls_rcpt": "TLS_Rcpt",
    "try_tls": "Try_TLS",
}
#: rulesets whose arg1 is a `${verify}` value
VERIFY_RULESETS = frozenset({"tls_server", "tls_client"})

#: the keys every JSON record starts with (_head); relay and addr left out when absent
HEAD_JSON_KEYS = ("kind", "time", "host", "direction", "relay", "addr")
#: JSON keys in the documented order
JSON_KEYS = (*HEAD_JSON_KEYS, "version", "verify", "cipher", "bits", "bits_max", "error")
#: JSON keys of a refusal; verify only for tls_server|tls_client
REFUSAL_JSON_KEYS = (*HEAD_JSON_KEYS, "ruleset", "arg1", "verify", "reply")


def _head(
    kind: str,
    time: str | None,
    host: str | None,
    direction: str,
    relay: str | None,
    addr: str | None,
) -> dict[str, object]:
    """The keys every JSON record starts with; relay and addr only when the line has them."""
    out: dict[str, object] = {"kind": kind, "time": time, "host": host, "direction": direction}
    if relay is not None:
        out["relay"] = relay
    if addr is not None:
        out["addr"] = addr
    return out


@dataclass(slots=True)
class TlsRecord:
    """One STARTTLS record: a handshake (`error` None) or a STARTTLS error (`error` set).

    `bits` is the first number of `bits=A/B` (algorithm bits, `${alg_bits}`),
    `bits_max` the second (`${cipher_bits}`, the strength ENCR:n compares).
    `cert_subject`/`cert_issuer` are None when no cert line was logged (LogLevel
    under 12), `""` when the cert line says the peer sent none.
    `verifymsg` comes from the cert line and is kept for the summary only.
    `count` is how many times the line was logged: N for rsyslog's `message
    repeated N times: [...]` line (see `unrepeat`), else 1.
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
    count: int = 1

    @property
    def kind(self) -> str:
        """`handshake` or `error`."""
        return "handshake" if self.error is None else "error"

    def as_json(self) -> dict[str, object]:
        """The documented JSON object: relay/addr only when present, cert fields once merged."""
        out = _head(self.kind, self.time, self.host, self.direction, self.relay, self.addr)
        out["version"] = self.version
        out["verify"] = self.verify
        out["cipher"] = self.cipher
        out["bits"] = self.bits
        out["bits_max"] = self.bits_max
        out["error"] = self.error
        if self.cert_subject is not None:
            out["cert_subject"] = self.cert_subject
            out["cert_issuer"] = self.cert_issuer
        if self.count != 1:
            out["count"] = self.count
        return out

    @property
    def peer(self) -> str:
        """The peer as a person reads it: `name [addr]`, `name`, `[addr]` or `(unknown)`."""
        if self.relay and self.addr:
            return f"{self.relay} {self.addr}"
        return self.relay or self.addr or "(unknown)"


@dataclass(frozen=True, slots=True)
class CertLine:
    """`STARTTLS=who, cert-subject=S, cert-issuer=I, verifymsg=M` (S and I still +XX-encoded)."""

    direction: str
    subject: str
    issuer: str
    verifymsg: str | None


@dataclass(frozen=True, slots=True)
class RulesetEvent:
    """A refusal: a `ruleset=NAME, arg1=..., relay=..., reject=...` line of a TLS rule.

    `verify` is arg1 for tls_server and tls_client (the `${verify}` value that
    failed the requirement), None for the others (tls_rcpt: the recipient;
    try_tls: the server; check_*: the address). `reject` is the reply as
    logged (`reject=`, or `status=` as sendmail 8.17.2 and later log try_tls).
    `direction` is the side we were on, as in TlsRecord; `count` too.
    """

    time: str | None
    host: str | None
    ruleset: str
    direction: str
    verify: str | None
    relay: str | None
    addr: str | None
    reject: str | None
    arg1: str | None = None
    count: int = 1

    @property
    def kind(self) -> str:
        """Always `refusal`."""
        return "refusal"

    @property
    def reply(self) -> str | None:
        """The reply sendmail gave (the `reject=` text)."""
        return self.reject

    @property
    def rule(self) -> str:
        """The access-map rule that refused: TLS_Srv, TLS_Clt, TLS_Rcpt or Try_TLS."""
        return RULESET_RULE.get(self.ruleset, "TLS_Clt")

    @property
    def reason(self) -> str:
        """The reply without its codes, names masked: what refusals are grouped by."""
        return reply_reason(self.reject)

    @property
    def peer(self) -> str:
        """`name [addr]`, `name`, `[addr]` or `(unknown)`."""
        if self.relay and self.addr:
            return f"{self.relay} {self.addr}"
        return self.relay or self.addr or "(unknown)"

    def as_json(self) -> dict[str, object]:
        """The documented refusal object (REFUSAL_JSON_KEYS)."""
        out = _head("refusal", self.time, self.host, self.direction, self.relay, self.addr)
        out["ruleset"] = self.ruleset
        out["arg1"] = self.arg1
        if self.ruleset in VERIFY_RULESETS:
            out["verify"] = self.verify
        out["reply"] = self.reject
        if self.count != 1:
            out["count"] = self.count
        return out


@dataclass(frozen=True, slots=True)
class Notice:
    """`STARTTLS: <option> missing` for a certificate or key option: STARTTLS is not offered."""

    time: str | None
    host: str | None
    text: str
    count: int = 1


class Unreadable:
    """A line that looks like a STARTTLS or ruleset line but cannot be read as one."""

    __slots__ = ()


UNREADABLE = Unreadable()

Message = TlsRecord | CertLine | RulesetEvent | Notice
#: what `--format json` gives, in input order
Entry = TlsRecord | RulesetEvent
#: what `LogParser.feed_entries` gives, in input order (notices are not in the JSON)
Ordered = TlsRecord | RulesetEvent | Notice


def json_line(entry: Entry) -> str:
    """One record or refusal as one line of JSON Lines (the documented object), newline included."""
    return json.dumps(entry.as_json()) + "\n"


def reply_reason(reply: str | None) -> str:
    """`454 4.7.0 CN a does not match b` -> `CN ... does not match ...`: a reply grouped by rule."""
    if not reply:
        return "(no reply)"
    text = _REPLY_CODES.sub("", reply, count=1).strip()
    for pattern, mask in _REASON_MASKS:
        if pattern.match(text):
            return pattern.sub(mask, text, count=1)
    return text or "(no reply)"


def is_tls_reason(reply: str) -> bool:
    """True when a reply's text is one of the TLS rules' reasons."""
    return _TLS_REASON.search(reply) is not None


def split_relay(text: str) -> tuple[str | None, str | None]:
    """(`relay`, `addr`) of a logged relay: the name without a trailing dot, `[addr]`."""
    m = _RELAY.match(text.strip())
    if m is None:  # pragma: no cover  (the pattern matches every string)
        return None, None
    return m["name"].rstrip(".") or None, m["addr"]


def _int(text: str) -> int | None:
    return int(text) if 0 < len(text) < 10 and text.isascii() and text.isdigit() else None


def split_bits(value: str) -> tuple[int | None, int | None]:
    """`256/256` -> (256, 256); blanks or words after the second number are ignored."""
    a, _, b = value.partition("/")
    words = b.split(maxsplit=1)
    return _int(a.strip()), _int(words[0] if words else "")


def _fields(text: str) -> dict[str, str]:
    """`k=v, k=v` as a dict; the first of a repeated key wins; parts without `=` are skipped."""
    out: dict[str, str] = {}
    for part in text.split(", "):
        key, eq, value = part.partition("=")
        if eq and key not in out:
            out[key] = value
    return out


def _relay_note(rest: str) -> bool:
    """`relay=<relay>, <key>=...` that is not a handshake's `relay=..., version=...`.

    sendmail logs these around a handshake: `field=cn_subject, status=failed to
    extract CN`, `AltName=...`, `tlsstate=1, status=trying_again`, 8.18's
    `warning=DANE configured in DNS but STARTTLS failed` and `X509_digest=...`.
    A handshake line cut off after its relay (`relay=x, vers`) has no `=` there.
    """
    if not rest.startswith("relay="):
        return False
    parts = rest.split(", ", 2)
    return len(parts) > 1 and "=" in parts[1] and not parts[1].startswith("version=")


def _handshake(when: str | None, host: str | None, who: str, rest: str) -> TlsRecord | Unreadable:
    f = _fields(rest)
    if (
        not f.get("verify")
        or "version" not in f
        or "cipher" not in f
        or "/" not in f.get("bits", "")
    ):
        return UNREADABLE  # `relay=x, vers`: cut off (sendmail always logs all six fields)
    relay, addr = split_relay(f["relay"]) if "relay" in f else (None, None)
    bits, bits_max = split_bits(f.get("bits", ""))
    return TlsRecord(
        when,
        host,
        who,
        relay,
        addr,
        f["version"] or None,
        f["verify"] or None,
        f.get("cipher") or None,
        bits,
        bits_max,
    )


def error_record(when: str | None, host: str | None, who: str, text: str) -> TlsRecord:
    """The record of `STARTTLS=who, error:<text>` (a trailing `, relay=...` is its peer)."""
    relay = addr = None
    at = text.rfind(", relay=")
    if at >= 0 and ", " not in text[at + 8 :]:
        relay, addr = split_relay(text[at + 8 :])
        text = text[:at]
    return TlsRecord(when, host, who, relay, addr, error=text.strip() or "error")


def _cert(who: str, rest: str) -> CertLine | Unreadable:
    subject, sep, tail = rest[len("cert-subject=") :].partition(", cert-issuer=")
    if not sep:
        return UNREADABLE
    issuer, sep, verifymsg = tail.partition(", verifymsg=")
    return CertLine(who, subject, issuer, verifymsg if sep else None)


def refusal(when: str | None, host: str | None, name: str, rest: str) -> RulesetEvent | None:
    """The refusal of `ruleset=<name>, <rest>`, or None when it is not a TLS rule's."""
    head, sep, reject = rest.partition(", reject=")
    if not sep:
        head, sep, reject = rest.partition(", status=")
    direction = RULESET_DIRECTION.get(name)
    if direction is None:
        # check_mail, check_rcpt, check_relay, ...: inbound, and ours only for a TLS reason
        if not name.startswith("check_") or not sep or not is_tls_reason(reject):
            return None
        direction = "server"
    f = _fields(head)
    relay, addr = split_relay(f["relay"]) if "relay" in f else (None, None)
    arg1 = f.get("arg1")
    verify = arg1 if name in VERIFY_RULESETS else None
    return RulesetEvent(
        when, host, name, direction, verify or None, relay, addr, reject or None, arg1
    )


#: rsyslog's repeated-message reduction (`$RepeatedMsgReduction on`): ` message repeated
#: %d times: [%.800s]`, the count of the lines it held back and their message, cut at
#: 800 bytes (the message keeps its leading blank)
_REPEATED = re.compile(r"message repeated (?P<n>[1-9]\d{0,9}) times: \[(?P<inner>.*)\]", re.DOTALL)
REPEAT_HEAD = "message repeated "
#: the bytes of a message rsyslog keeps in a repeat line: one that long may be cut
REPEAT_WIDTH = 800
#: the largest count rsyslog's `%d` (a C int) writes
_INT_MAX = 2**31 - 1


def _looks_like(text: str) -> Unreadable | None:
    """UNREADABLE when `text` holds what a STARTTLS or ruleset line holds, else None."""
    return UNREADABLE if "STARTTLS" in text or "ruleset=" in text else None


def unrepeat(message: str) -> tuple[str, int] | Unreadable | None:
    """The message and count of a repeat line (nested ones multiply), else None or UNREADABLE.

    A repeat line without its closing bracket (cut; a message of more `[` than
    `]` lost it), with a count rsyslog cannot
    write (0, over 2**31 - 1, leading zeros), or whose message fills the 800
    bytes rsyslog keeps of it (maybe cut: a cut relay or issuer would be taken
    for a whole one) is UNREADABLE when it holds a STARTTLS or ruleset line.
    """
    count = 1
    while message.startswith(REPEAT_HEAD):
        m = _REPEATED.fullmatch(message.rstrip())
        if m is None or int(m["n"]) > _INT_MAX:
            return _looks_like(message)
        inner = m["inner"]
        if len(inner.encode("utf-8", "surrogatepass")) >= REPEAT_WIDTH:
            return _looks_like(inner)
        if inner.count("[") > inner.count("]"):  # `relay=[192.0.2.1]` and the bracket lost
            return _looks_like(inner)
        count *= int(m["n"])
        message = inner[1:] if inner.startswith(" ") else inner
    return message, count


#: the reduction of sysklogd, the BSDs' and macOS's syslogd: the line (or the process's line,
#: as rsyslog writes it with `$RepeatedMsgContainsOriginalMsg off`) before it, N more times.
#: sysklogd 1.5 and OpenBSD/NetBSD write `HOST last message repeated N times` (no tag; the
#: repeated line's host); FreeBSD 12 and later `HOST syslogd: last message repeated N times`
#: (its own host and name); macOS `--- last message repeated N time(s) ---` (no host; 1 time)
_LAST_REPEATED = re.compile(
    r"(?:(?P<host>[^\s\[\]]*[^\s\[\]:]) )?(?P<dash>--- )?last message repeated"
    r" (?P<n>[1-9]\d{0,9}) times?(?(dash) ---)"
)
#: the words every such line holds (the readers look for the lines with them)
LAST_REPEATED = "last message repeated "


def last_repeated(line: SyslogLine | None) -> tuple[int, str | None, ProcessKey | None] | None:
    """(N, the host named, the process named) of a `last message repeated N times` line.

    None when `line` is not one. The host is None when the line names none or is the
    syslogd's own (FreeBSD names its own host: the repeated line may be another's);
    the process is set when the line is a process's (rsyslog's old form): only that
    process's line can be the one repeated.
    """
    if line is None or LAST_REPEATED not in line.message:
        return None
    m = _LAST_REPEATED.fullmatch(line.message.rstrip())
    if m is not None and m["host"] is not None and line.tag is not None and line.pid is None:
        # sysklogd's line of an IPv6 host (`2001:db8::1 last message ...`), split at its `:`
        m = _LAST_REPEATED.fullmatch(f"{line.tag}:{line.message.rstrip()}")
        if m is None:
            return None
        line = SyslogLine(line.time, None, None, None, line.message)
    if m is None or int(m["n"]) > _INT_MAX:
        return None
    n = int(m["n"])
    if line.tag is None:  # sysklogd's `HOST last message ...` (split as a message), macOS's
        return n, m["host"] or line.host, None
    if m["host"] is not None or m["dash"] is not None:
        return None
    if line.tag == "syslogd" and line.pid is None:  # FreeBSD's: its own name and host
        return n, None, None
    return n, None, (line.host, line.tag, line.pid)


def repeat_of(line: SyslogLine | None, before: Before) -> tuple[int, Before] | None:
    """(N, the line repeated) of a `last message repeated N times` line; None when not one.

    `before` is the last line before it that is not one (split, and as read; None
    at the start of the input, after a line too long to read, or more than the
    pairing window back, as the readers in parts cannot look further): a syslogd writes
    the repeat line right after the line it repeats, and another after it when
    more came. A line before it of another host (or process) is not the one
    repeated: the line repeated is None.
    """
    found = last_repeated(line)
    if found is None:
        return None
    n, host, process = found
    if before is None:
        return n, None
    previous, raw = before
    if previous is not None:
        key: ProcessKey = (previous.host, previous.tag, previous.pid)
    else:
        at = fallback_key(raw)
        key = _NO_KEY if at is None else at[1]
    if (process is not None and key != process) or (host is not None and key[0] != host):
        return n, None
    return n, before


def split_with_text(line: tuple[bytes, YearGuess] | None) -> Before:
    """A line as read (its bytes and its file's years) as repeat_of takes it."""
    if line is None:
        return None
    text = line[0].decode("utf-8", "replace")
    return split_syslog(text, line[1]), text


def read_last_repeated(
    line: SyslogLine | None, before: Before
) -> tuple[ProcessKey, Message | Unreadable | None] | None:
    """What a `last message repeated N times` line says: the line `before` it, N more times.

    None when `line` is not such a line (repeat_of says which line it repeats). That
    line's record, refusal or notice counts N more times (`count`), at the repeat
    line's time; a cert line is one cert line.
    """
    found = repeat_of(line, before)
    if found is None:
        return None
    assert line is not None
    n, repeated = found
    if repeated is None:
        return _NO_KEY, None
    key, msg = read_line(*repeated)
    if isinstance(msg, TlsRecord):
        msg.time = line.time
        msg.count *= n
    elif isinstance(msg, (RulesetEvent, Notice)):
        msg = replace(msg, time=line.time, count=msg.count * n)
    return key, msg


def repeat_groups(count: int, before: T | None, after: T | None) -> list[tuple[int, T | None]]:
    """How a handshake logged `count` times in a row shares the cert lines around it.

    Read one by one, each but the last is followed by the next, so has no cert line
    after it: the first takes the cert line `before` it (if any, as one line does),
    the last the one `after` it, those between none. (n, cert) pairs, in order,
    the same cert merged.
    """
    if count == 1:
        return [(1, after if after is not None else before)]
    groups: list[tuple[int, T | None]] = []
    for n, cert in ((1, before), (count - 2, None), (1, after)):
        if not n:
            continue
        if groups and groups[-1][1] == cert:
            groups[-1] = (groups[-1][0] + n, cert)
        else:
            groups.append((n, cert))
    return groups


def read_message(
    message: str, when: str | None = None, host: str | None = None
) -> Message | Unreadable | None:
    """What a sendmail log message says about STARTTLS: a Message, UNREADABLE or None (nothing).

    A repeat line (`message repeated N times: [MSG]`) is MSG, its record or
    refusal counted N times (`count`); a repeated cert line is one cert line.
    """
    if not message.startswith(REPEAT_HEAD):
        return _read_message(message, when, host)
    found = unrepeat(message)
    if not isinstance(found, tuple):
        return found
    inner, count = found
    msg = _read_message(inner, when, host)
    if isinstance(msg, TlsRecord):
        msg.count = count
    elif isinstance(msg, (RulesetEvent, Notice)):
        msg = replace(msg, count=count)
    return msg


def _read_message(message: str, when: str | None, host: str | None) -> Message | Unreadable | None:
    qid = QUEUE_ID.match(message)
    if qid is not None:
        message = message[qid.end() :]
    message = message.rstrip()
    if message.startswith("ruleset="):
        r = _RULESET.match(message)
        if r is None:
            return UNREADABLE if message[8:].startswith(("tls_", "try_tls")) else None
        return refusal(when, host, r["name"], r["rest"])
    m = _STARTTLS.match(message)
    if m is None:
        if message.startswith(_NOT_A_SIDE):
            return None  # `STARTTLS=read, info: fds=...`, `STARTTLS=init, ...`: no session's
        return UNREADABLE if message.startswith("STARTTLS=") else None
    who, sep, rest = m["who"], m["sep"], m["rest"]
    if who is None:
        if message.startswith("STARTTLS="):
            return UNREADABLE  # `STARTTLS=serv`: cut off
        # `STARTTLS: ServerCertFile missing` and kin stop STARTTLS; a missing CRLFile does not
        if rest.endswith(" missing") and " " not in rest[:-8] and rest != "CRLFile missing":
            return Notice(when, host, f"STARTTLS: {rest}")
        return None
    if sep == ":":
        # `STARTTLS=server: file <path> unsafe: <why>` keeps STARTTLS from being offered;
        # `STARTTLS=server: error:0A000126:...` repeats the error line above it
        return error_record(when, host, who, rest) if rest.startswith("file ") else None
    if rest.startswith("relay=") or rest.startswith("version="):
        if _relay_note(rest):
            return None
        return _handshake(when, host, who, rest)
    if rest.startswith("error:"):
        return error_record(when, host, who, rest[6:])
    if rest.startswith("cert-subject="):
        return _cert(who, rest)
    return None


def parse_message(message: str, when: str | None = None, host: str | None = None) -> Message | None:
    """What a sendmail log message (after the syslog prefix) says about STARTTLS, or None."""
    msg = read_message(message, when, host)
    return None if isinstance(msg, Unreadable) else msg


ProcessKey = tuple[str | None, str | None, str | None]
#: a line as split and as read: the one a `last message repeated` line repeats, or None
Before = tuple[SyslogLine | None, str] | None


class Unset:
    """The default of an argument not given (None means something else)."""

    __slots__ = ()


UNSET = Unset()


@dataclass(slots=True)
class _Waiting:
    line: int
    key: ProcessKey
    entry: Ordered
    done: bool
    #: a cert line of the process just before this handshake, taken if none comes after it
    fallback: CertLine | None = None
    #: the records after `entry` that the same repeat line gave (repeat_groups)
    more: list[TlsRecord] | None = None


@dataclass(slots=True)
class _Last:
    """The last STARTTLS item (record or cert line) of one process."""

    line: int
    waiting: _Waiting | None  # a handshake still waiting for its cert line
    cert: CertLine | None  # a cert line no handshake before it took
    direction: str


def is_continuation(raw: str) -> bool:
    """A line that starts with blanks continues the line above: never a record of its own."""
    return raw[:1] in (" ", "\t")


def fallback_key(raw: str) -> tuple[int, ProcessKey] | None:
    """Where the message starts in a line with no known syslog prefix, and its process, or None.

    The line is read when it starts with the message itself (`STARTTLS=...`, a
    queue id, `ruleset=...`) or has a `tag[pid]: ` before it.
    """
    at = raw.find("STARTTLS")
    if at < 0:
        at = raw.find("ruleset=")
        if at < 0:
            return None
    tag = _FALLBACK_TAG.search(raw)
    if tag is not None:
        return at, (None, tag["tag"], tag["pid"])
    head = raw[:at]
    if not head or QUEUE_ID.fullmatch(head):
        return at, (None, None, None)
    return None


def read_line(line: SyslogLine | None, raw: str) -> tuple[ProcessKey, Message | Unreadable | None]:
    """The process that logged `raw` (`line`: its split prefix, None when unknown) and its message.

    UNREADABLE for a continuation line (it starts with blanks) or a STARTTLS
    line without a syslog prefix or tag; None for a line about something else.
    """
    if line is not None:
        return (line.host, line.tag, line.pid), read_message(line.message, line.time, line.host)
    needle = "STARTTLS" in raw or "ruleset=" in raw
    if is_continuation(raw):
        return _NO_KEY, UNREADABLE if needle else None
    found = fallback_key(raw)
    if found is None:
        return _NO_KEY, UNREADABLE if needle else None
    at, key = found
    return key, read_message(raw[at:])


_NO_KEY: ProcessKey = (None, None, None)


class LogParser:
    """Turns the lines of one log stream into records, in input order, cert lines merged.

    A handshake record takes the cert line of its process (host, program,
    pid) that comes next among that process's STARTTLS lines, when it has
    the same direction and comes within `window` lines; else a cert line of
    that direction that came just before it (within `window` lines, and not
    taken by a handshake before it: syslog relays reorder). Which cert line
    a record gets depends only on the lines within 2 x `window` around it,
    so a file can be read in parts (compiler/logs/scan.py) with the same result.
    A record is given once that is known; records behind it wait, so the
    output keeps the input's order. Memory is bounded by the window.
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
        #: lines that looked like STARTTLS or ruleset lines but could not be read
        self.unreadable = 0
        self._queue: deque[_Waiting] = deque()
        self._last: dict[ProcessKey, _Last] = {}
        self._events_in_order = False
        #: the last line fed that is not a repeat line and its number; the last line fed's
        self._before: Before = None
        self._before_at = 0
        self._before_line = -1

    def feed(
        self,
        line: SyslogLine | None,
        raw: str,
        lineno: int | None = None,
        before: Before | Unset = UNSET,
    ) -> Sequence[TlsRecord]:
        """Records completed by line `raw` (`line`: its split prefix, None when unknown).

        `lineno` is its number in the stream, when the caller skips lines that
        cannot matter (they still age the window); by default one more than the last.
        Refusals and notices go to `on_event` as they are read. `before` is the
        line a `last message repeated N times` line repeats (read_last_repeated),
        when the caller skipped it; by default the last line fed, if it was the one
        before `raw` (or only repeat lines came between) and is within the window.
        """
        return cast(Sequence[TlsRecord], self._feed(line, raw, lineno, before))

    def feed_entries(
        self,
        line: SyslogLine | None,
        raw: str,
        lineno: int | None = None,
        before: Before | Unset = UNSET,
    ) -> Sequence[Ordered]:
        """Like `feed`, but refusals and notices come in the output too, in input order.

        Use either feed/flush or feed_entries/flush_entries on one parser.
        """
        self._events_in_order = True
        return self._feed(line, raw, lineno, before)

    def flush(self) -> list[TlsRecord]:
        """Every record still waiting (end of input)."""
        return cast(list[TlsRecord], self.flush_entries())

    def flush_entries(self) -> list[Ordered]:
        """Every record, refusal and notice still waiting (end of input)."""
        out: list[Ordered] = []
        for waiting in self._queue:
            if not waiting.done:
                self._resolve(waiting, None)
            out.append(waiting.entry)
            if waiting.more:
                out.extend(waiting.more)
        self._queue.clear()
        self._last.clear()
        return out

    def _feed(
        self, line: SyslogLine | None, raw: str, lineno: int | None, before: Before | Unset
    ) -> Sequence[Ordered]:
        lines = self.lines + 1 if lineno is None else lineno
        self.lines = lines
        found = None
        if LAST_REPEATED in raw:
            if isinstance(before, Unset):
                near = self._before_line == lines - 1 and lines - self._before_at <= self.window
                before = self._before if near else None
            found = read_last_repeated(line, before)
            if found is not None:  # a repeat line after this one repeats the same line
                self._before = before
        if found is None:
            key, msg = read_line(line, raw)
            self._before, self._before_at = (line, raw), lines
        else:
            key, msg = found
        self._before_line = lines
        if msg is None:
            return self._ready()
        if isinstance(msg, Unreadable):
            self.unreadable += 1
            return self._ready()
        if isinstance(msg, TlsRecord):
            return self._record(key, msg)
        if isinstance(msg, CertLine):
            return self._cert(key, msg)
        if self._events_in_order:
            self._queue.append(_Waiting(self.lines, key, msg, True))
            return self._ready()
        if self.on_event is not None:
            self.on_event(msg)
        return self._ready()

    def _resolve(self, waiting: _Waiting, cert: CertLine | None) -> None:
        record = cast(TlsRecord, waiting.entry)
        groups = repeat_groups(record.count, waiting.fallback, cert)
        records = [record] + [replace(record) for _ in groups[1:]]
        for each, (n, got) in zip(records, groups, strict=True):
            each.count = n
            if got is not None:
                _attach(each, got)
        if len(records) > 1:
            waiting.more = records[1:]
        waiting.done = True
        waiting.fallback = None

    def _record(self, key: ProcessKey, record: TlsRecord) -> Sequence[Ordered]:
        last = self._last.get(key)
        lines = self.lines
        fallback = None
        if last is not None and lines - last.line <= self.window:
            if last.waiting is not None and not last.waiting.done:
                self._resolve(last.waiting, None)  # a second record: the first has no cert line
            elif last.cert is not None and last.direction == record.direction:
                fallback = last.cert
        if record.error is not None:
            self._last[key] = _Last(lines, None, None, record.direction)
            if not self._queue:
                return [record]
            self._queue.append(_Waiting(lines, key, record, True))
            return self._ready()
        waiting = _Waiting(lines, key, record, False, fallback)
        self._queue.append(waiting)
        self._last[key] = _Last(lines, waiting, None, record.direction)
        return self._ready()

    def _cert(self, key: ProcessKey, cert: CertLine) -> Sequence[Ordered]:
        last = self._last.get(key)
        lines = self.lines
        free: CertLine | None = cert
        if last is not None and last.waiting is not None and not last.waiting.done:
            if last.direction == cert.direction and lines - last.line <= self.window:
                self._resolve(last.waiting, cert)
                free = None
            else:
                self._resolve(last.waiting, None)
        self._last[key] = _Last(lines, None, free, cert.direction)
        return self._ready()

    def _forget(self) -> None:
        """Drop what is older than the window: it can no longer pair with anything."""
        oldest = self.lines - self.window
        self._last = {k: v for k, v in self._last.items() if v.line >= oldest}

    def _ready(self) -> Sequence[Ordered]:
        if len(self._last) > 4 * self.window + 16:
            self._forget()
        queue = self._queue
        if not queue:
            return _NONE
        out: list[Ordered] = []
        oldest = self.lines - self.window
        while queue:
            head = queue[0]
            if not head.done:
                if head.line >= oldest:
                    break
                self._resolve(head, None)
            out.append(queue.popleft().entry)
            if head.more:
                out.extend(head.more)
        return out


_NONE: tuple[Ordered, ...] = ()


def _attach(record: TlsRecord, cert: CertLine) -> None:
    record.cert_subject = cert.subject
    record.cert_issuer = cert.issuer
    record.verifymsg = cert.verifymsg
