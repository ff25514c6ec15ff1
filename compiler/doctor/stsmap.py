"""The MTA-STS resolver behind `tls.mta_sts`: does something answer sendmail's socket map?

With FEATURE(`sts') sendmail asks its `sts` socket map about every
recipient domain (`socket -d5 -T<TMPF> ADDRESS`). When nothing answers there,
or something that does not speak the socketmap protocol, every lookup fails
temporarily and sendmail defers every recipient with "450 STS lookup temp
fail". The check asks the map the way sendmail does, one netstring
(`LEN:sts KEY,`), and wants one netstring back whose text starts with a
socketmap status: `OK value`, `NOTFOUND `, `TEMP reason`, `TIMEOUT reason`
or `PERM reason`.

The key is `.doctor.tlsc.invalid`: postfix-mta-sts-resolver answers a name
that starts with a dot `NOTFOUND ` at once, without a DNS lookup or a policy
fetch (it never looks up parent-domain policies), and `.invalid` (RFC 6761)
names nothing, so another resolver that does look it up finds no policy
either. Timeouts are short (2 s to connect and for the reply): sendmail
itself waits 5 s (`-d5`).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from compiler.doctor.finding import Finding
from compiler.spec.model import HostSettings

#: what the check asks (the map name sendmail's FEATURE(`sts') gives the map, and a key)
MAP_NAME = "sts"
PROBE_KEY = ".doctor.tlsc.invalid"
TIMEOUT = 2.0
#: the first word of every socketmap reply (sendmail's op.me, "socket" map class)
STATUSES = ("OK", "NOTFOUND", "TEMP", "TIMEOUT", "PERM")
#: longest reply read (postfix-mta-sts-resolver's answers are a few hundred bytes)
MAX_REPLY = 65536


class NotSocketmap(Exception):
    """The peer took the connection, but sent no socketmap netstring (`got` instead, or
    nothing before it closed the connection or before the timeout)."""

    def __init__(self, got: bytes, timed_out: bool = False) -> None:
        super().__init__(got)
        self.got = got
        self.timed_out = timed_out


@dataclass(frozen=True)
class Address:
    """A socket map address split up: family, and (host, port) or a path."""

    family: str  # "inet", "inet6" or "local"
    host: str = ""
    port: int = 0
    path: str = ""

    @classmethod
    def parse(cls, text: str) -> Address:
        """`inet:PORT@HOST`, `inet6:PORT@ADDRESS`, `local:/PATH` or `unix:/PATH`
        (validated by the spec already)."""
        kind, _, rest = text.partition(":")
        if kind in ("local", "unix"):
            return cls("local", path=rest)
        port, _, host = rest.partition("@")
        return cls(kind, host=host, port=int(port))


def netstring(data: bytes) -> bytes:
    """`LEN:DATA,`."""
    return b"%d:%s," % (len(data), data)


def _read_netstring(sock: socket.socket) -> bytes:
    """One netstring's text from `sock`; NotSocketmap when what comes is not one."""
    got = b""
    while b":" not in got:
        chunk = sock.recv(64)
        if not chunk:
            raise NotSocketmap(got)
        got += chunk
        head = got.split(b":", 1)[0]
        if not head.isdigit() or len(head) > 5:
            raise NotSocketmap(got)
    head, rest = got.split(b":", 1)
    size = int(head)
    if size > MAX_REPLY:
        raise NotSocketmap(got)
    while len(rest) < size + 1:
        chunk = sock.recv(size + 1 - len(rest))
        if not chunk:
            raise NotSocketmap(head + b":" + rest)
        rest += chunk
    if rest[size : size + 1] != b",":
        raise NotSocketmap(head + b":" + rest)
    return rest[:size]


def query(address: str, key: str = PROBE_KEY, timeout: float = TIMEOUT) -> str:
    """The text of the socket map's reply to `sts KEY` (`NOTFOUND `, `OK secure ...`).

    OSError when nothing can be reached at `address` or it does not answer in
    time; NotSocketmap when the reply is not a socketmap netstring."""
    where = Address.parse(address)
    if where.family == "local":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: str | tuple[str, int] = where.path
    else:
        family = socket.AF_INET6 if where.family == "inet6" else socket.AF_INET
        infos = socket.getaddrinfo(where.host, where.port, family, socket.SOCK_STREAM)
        family, _type, _proto, _name, sockaddr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        target = (str(sockaddr[0]), int(sockaddr[1]))
    with sock:
        sock.settimeout(timeout)
        sock.connect(target)
        try:
            sock.sendall(netstring(f"{MAP_NAME} {key}".encode()))
            reply = _read_netstring(sock)
        except TimeoutError:
            raise NotSocketmap(b"", timed_out=True) from None
        except OSError:  # reset after the connection was taken: not a socket map
            raise NotSocketmap(b"") from None
    text = reply.decode("utf-8", "replace")
    if text.split(" ", 1)[0] not in STATUSES:
        raise NotSocketmap(netstring(reply))
    return text


def _shown(data: bytes) -> str:
    """The first bytes of a reply, printable."""
    text = data[:40].decode("ascii", "replace")
    text = "".join(c if c.isprintable() else "." for c in text)
    return text + ("..." if len(data) > 40 else "")


def check_sts_resolver(
    settings: HostSettings, host: str, timeout: float = TIMEOUT
) -> list[Finding]:
    """D036: with tls.mta_sts on, the resolver answers the `sts` socket map."""
    tls = settings.tls
    if not tls.enabled or tls.mta_sts is None:
        return []
    address = tls.mta_sts.socket
    consequence = "sendmail would defer every recipient with '450 STS lookup temp fail'"
    fix = (
        "start postfix-mta-sts-resolver (mta-sts-daemon; its default listens on"
        " inet:8461@127.0.0.1), or set tls.mta_sts.socket to where it listens"
    )
    try:
        reply = query(address, timeout=timeout)
    except NotSocketmap as exc:
        if exc.got:
            what = f"it sent '{_shown(exc.got)}'"
        elif exc.timed_out:
            what = f"it sent no reply in {timeout:g} s"
        else:
            what = "it closed the connection without a reply"
        message = (
            f"tls.mta_sts is on for host {host}, but what listens on {address} does not"
            f" answer socketmap queries ({what}), so {consequence}"
        )
        return [Finding(address, "D036", "error", message, fix)]
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        if isinstance(exc, TimeoutError):
            why = f"no connection in {timeout:g} s"
        message = (
            f"tls.mta_sts is on for host {host}, but nothing answers on {address} ({why}),"
            f" so {consequence}"
        )
        return [Finding(address, "D036", "error", message, fix)]
    status = reply.split(" ", 1)[0]
    if status in ("OK", "NOTFOUND"):
        return []
    message = (
        f"tls.mta_sts is on for host {host}, and the resolver on {address} answered a test"
        f" query with '{reply[:80]}', so {consequence}"
    )
    return [Finding(address, "D036", "error", message, "see the resolver's log (mta-sts-daemon)")]
