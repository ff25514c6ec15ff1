"""A socketmap server for tests that answers as postfix-mta-sts-resolver does.

    with StsSocketmap({"b.tlsc.test": Policy("enforce", ["localhost.tlsc.test"])}) as sts:
        ... tls.mta_sts: {socket: sts.address} ...   # inet:PORT@127.0.0.1
        sts.queries                                  # [(zone, domain), ...] as asked

What it answers is the resolver's (postfix_mta_sts_resolver/responder.py,
`process_request`, with its defaults: require_sni on, tlsrpt off,
strict_testing off), one netstring per request over a connection that
stays open (sendmail keeps it):

* the request is `ZONE DOMAIN`; the domain is taken as `filter_domain`
  does (`[name]` and `name:port` lose the brackets and the port, then
  lower case, no trailing dot);
* a domain starting with `.` or an IP address: `NOTFOUND ` (no lookup);
* a policy in mode `enforce`: `OK secure match=MX1:MX2...
  servername=hostname`, each MX pattern with its leading `*` stripped
  (`*.example.net` -> `.example.net`); the resolver lists them from a set,
  so in no fixed order;
* mode `testing` or `none`, or no policy: `NOTFOUND `.

The replies are the resolver's exact bytes (`netstring.encode`:
`b'%d:%s,' % (len(data), data)`). With `path=` it listens on a Unix socket
(the resolver's `path:` setting) instead of 127.0.0.1; with `fixed=` it gives
that reply to every request (what the resolver never does: `TEMP ...`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType


@dataclass(frozen=True)
class Policy:
    """An MTA-STS policy as the resolver has fetched it (RFC 8461 section 3.2)."""

    mode: str  # "enforce", "testing" or "none"
    mx: list[str] = field(default_factory=list)


def filter_domain(domain: str) -> str:
    """The resolver's utils.filter_domain: strip [ ] or :port, lower case, no final dot."""
    left, found, _rest = domain.partition("]")
    result = left.lstrip("[")
    if not found:
        left, found, right = domain.rpartition(":")
        result = left if found else right
    return result.lower().strip().rstrip(".")


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def answer(policies: dict[str, Policy], request: str) -> str:
    """What the resolver answers to one request `ZONE DOMAIN`."""
    _zone, _, raw = request.partition(" ")
    domain = filter_domain(raw)
    if domain.startswith(".") or _is_address(domain):
        return "NOTFOUND "
    policy = policies.get(domain)
    if policy is None or policy.mode in ("none", "testing"):
        return "NOTFOUND "
    assert policy.mx, "Empty MX list for restrictive policy!"
    mxlist = [mx.lstrip("*") for mx in dict.fromkeys(policy.mx)]
    return "OK secure match=" + ":".join(mxlist) + " servername=hostname"


def encode(data: bytes) -> bytes:
    """The resolver's netstring.encode."""
    return b"%d:%s," % (len(data), data)


class StsSocketmap:
    """The server, in a thread; stop it with close() or a with block."""

    def __init__(
        self,
        policies: dict[str, Policy] | None = None,
        path: Path | None = None,
        fixed: str | None = None,
    ):
        self.policies = dict(policies or {})
        #: a reply to give every request instead (a broken resolver's `TEMP ...`)
        self.fixed = fixed
        #: every request as (zone, domain as sent), in order
        self.queries: list[tuple[str, str]] = []
        self.path = path
        if path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(str(path))
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port: int = 0 if path is not None else self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """The socket as tls.mta_sts.socket (and sendmail's socket map) names it."""
        if self.path is not None:
            return f"local:{self.path}"
        return f"inet:{self.port}@127.0.0.1"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        buf = b""
        with conn, contextlib.suppress(OSError):
            while not self._stop.is_set():
                request, buf = self._next_request(conn, buf)
                if request is None:
                    return
                text = request.decode("utf-8")
                zone, _, domain = text.partition(" ")
                self.queries.append((zone, domain))
                reply = self.fixed if self.fixed is not None else answer(self.policies, text)
                conn.sendall(encode(reply.encode("utf-8")))

    @staticmethod
    def _next_request(conn: socket.socket, buf: bytes) -> tuple[bytes | None, bytes]:
        """One netstring from the connection; None at its end or on a malformed one (the
        resolver logs 'Bad netstring message received' and closes the connection)."""
        while True:
            head, colon, rest = buf.partition(b":")
            if colon:
                if not head.isdigit():
                    return None, b""
                size = int(head)
                if len(rest) >= size + 1:
                    if rest[size : size + 1] != b",":
                        return None, b""
                    return rest[:size], rest[size + 1 :]
            elif buf and not buf.isdigit():
                return None, b""
            chunk = conn.recv(4096)
            if not chunk:
                return None, b""
            buf += chunk

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=5)
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def __enter__(self) -> StsSocketmap:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
