"""SMTP sessions rebuilt from sendmail's log: who talked to whom, over what TLS, carrying which mail.

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

from dataclasses import dataclass, field

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
    messages: list[Message] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    end: str | None = None

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
