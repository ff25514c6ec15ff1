"""The SMTP/STARTTLS probe: greeting, EHLO, STARTTLS, TLS handshake, QUIT.

A plain state machine over a socket, one deadline per phase. It never sends
a byte before the whole 220 greeting (possibly multi-line) has arrived:
sendmail's greet_pause rejects clients that talk first.

The handshake verifies the certificate chain against the target's CAs but
leaves the name check to certinfo (so "does not verify" and "wrong name" are
separate findings). When verification fails, the session ends, as it does in
OpenSSL; a second session without verification then reads the certificate
and cipher, so the report still shows what the server presents.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from compiler.probe.certinfo import cert_info_der
from compiler.probe.result import ProbeResult

#: longest reply line accepted (RFC 5321 allows 512 octets; be generous)
MAX_LINE = 4096
#: most lines in one reply
MAX_LINES = 200
_REPLY = re.compile(rb"^(\d{3})([ -])(.*?)\r?\n$", re.DOTALL)
#: TLS handshake message type CertificateRequest (RFC 8446 4.3.2)
_CERTIFICATE_REQUEST = 13
_HANDSHAKE = 22


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed for each phase of a probe."""

    connect: float = 10.0
    #: greet_pause and slow DNS on the server side hold the greeting back
    greeting: float = 30.0
    #: each command reply (EHLO, STARTTLS)
    command: float = 30.0
    handshake: float = 30.0


@dataclass(frozen=True)
class Target:
    """One SMTP server to probe."""

    #: how reports name it (the spec's host name, or HOST as given)
    label: str
    #: where to connect (an address or a name)
    host: str
    port: int = 25
    #: the name its certificate must carry; also sent as SNI
    server_name: str | None = None
    #: CAs to verify against; neither means the system's trusted CAs
    ca_file: str | None = None
    ca_path: str | None = None

    @property
    def trust(self) -> str:
        """The CAs the certificate is verified against, for messages."""
        named = [p for p in (self.ca_file, self.ca_path) if p]
        return " and ".join(named) if named else "the system's trusted CAs"


@dataclass(frozen=True)
class ProbeOptions:
    """How to probe."""

    timeouts: Timeouts = field(default_factory=Timeouts)
    #: the EHLO argument; default: this machine's qualified name, else its address literal
    ehlo_name: str | None = None


class ProbeError(Exception):
    """A phase failed; the message is one sentence for the report."""


class _CertRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Reply:
    """An SMTP reply: its code and the text of each line."""

    code: int
    lines: list[str]

    @property
    def text(self) -> str:
        """The reply as one line, e.g. `454 4.7.0 TLS not available`."""
        return f"{self.code} {' '.join(line for line in self.lines if line)}".strip()


class _Conversation:
    """Reads whole SMTP replies from a socket without reading past them."""

    def __init__(self, sock: socket.socket, where: str) -> None:
        self.sock = sock
        self.where = where
        self.buffer = bytearray()

    def _line(self, deadline: float, phase: str, timeout: float) -> bytes:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[: end + 1])
                del self.buffer[: end + 1]
                return line
            if len(self.buffer) > MAX_LINE:
                raise ProbeError(f"{self.where} sent a {phase} line longer than {MAX_LINE} bytes")
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProbeError(f"no {phase} from {self.where} within {timeout:g} s")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                raise ProbeError(f"no {phase} from {self.where} within {timeout:g} s") from None
            except OSError as exc:
                raise ProbeError(
                    f"the connection to {self.where} failed while waiting for its {phase}:"
                    f" {exc.strerror or exc}"
                ) from None
            if not chunk:
                raise ProbeError(f"{self.where} closed the connection before its {phase}")
            self.buffer += chunk

    def reply(self, phase: str, timeout: float) -> Reply:
        """One whole reply (all its continuation lines), within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        code: bytes | None = None
        lines: list[str] = []
        while len(lines) < MAX_LINES:
            raw = self._line(deadline, phase, timeout)
            match = _REPLY.match(raw)
            if match is None or (code is not None and match.group(1) != code):
                shown = raw.decode("utf-8", "replace").strip()[:80]
                raise ProbeError(f"{self.where} sent a malformed {phase}: {shown!r}")
            code = match.group(1)
            lines.append(match.group(3).decode("utf-8", "replace").strip())
            if match.group(2) == b" ":
                return Reply(int(code), lines)
        raise ProbeError(f"{self.where} sent a {phase} of more than {MAX_LINES} lines")

    def send(self, command: str) -> None:
        try:
            self.sock.sendall(command.encode("ascii") + b"\r\n")
        except OSError as exc:
            raise ProbeError(
                f"the connection to {self.where} failed while sending {command.split()[0]}:"
                f" {exc.strerror or exc}"
            ) from None


def probe(target: Target, options: ProbeOptions | None = None) -> ProbeResult:
    """Probe one target; never raises for anything the network or server does."""
    options = options or ProbeOptions()
    result = ProbeResult(
        target=target.label,
        host=target.host,
        port=target.port,
        server_name=target.server_name or target.host,
        trust=target.trust,
    )
    try:
        _session(target, options, result, verify=True)
        result.verify = "OK"
    except _CertRejected as rejected:
        try:
            _session(target, options, result, verify=False)
            result.verify = "FAIL"
            result.verify_error = rejected.reason
        except ProbeError as exc:
            result.error = str(exc)
        except _CertRejected:  # pragma: no cover - verification is off in that session
            raise AssertionError("certificate rejected without verification") from None
    except ProbeError as exc:
        result.error = str(exc)
    return result


def _session(target: Target, options: ProbeOptions, result: ProbeResult, verify: bool) -> None:
    t = options.timeouts
    where = f"{target.host} port {target.port}"
    sock = _connect(target, t.connect)
    try:
        result.address = str(sock.getpeername()[0])
        smtp = _Conversation(sock, where)
        greeting = smtp.reply("greeting", t.greeting)
        result.greeting = greeting.text
        if greeting.code != 220:
            raise ProbeError(f"{where} refused the session: {greeting.text}")
        name = options.ehlo_name or _ehlo_name(sock)
        if not valid_ehlo_name(name):
            raise ProbeError(f"'{name}' cannot be sent with EHLO: not a host name or address")
        smtp.send(f"EHLO {name}")
        ehlo = smtp.reply("reply to EHLO", t.command)
        if ehlo.code != 250:
            raise ProbeError(f"{where} refused EHLO: {ehlo.text}")
        keywords = {line.split()[0].upper() for line in ehlo.lines[1:] if line.split()}
        result.starttls = "STARTTLS" in keywords
        if not result.starttls:
            _quit(smtp, t.command)
            raise ProbeError(f"{where} does not offer STARTTLS")
        smtp.send("STARTTLS")
        reply = smtp.reply("reply to STARTTLS", t.command)
        if reply.code != 220:
            _quit(smtp, t.command)
            raise ProbeError(f"{where} refused STARTTLS: {reply.text}")
        if smtp.buffer:
            raise ProbeError(f"{where} sent data after its STARTTLS reply, before the handshake")
        tls = _handshake(sock, target, result, verify, t.handshake, where)
    finally:
        sock.close()
    try:
        der = tls.getpeercert(binary_form=True)
        result.version = tls.version()
        cipher = tls.cipher()
        if cipher is not None:
            result.cipher, result.bits = cipher[0], cipher[2]
        if der:
            result.cert = cert_info_der(der)
            result.name_matches = result.cert.matches(result.server_name or target.host)
        _quit(_Conversation(tls, where), min(t.command, 5.0))
    finally:
        tls.close()


def _connect(target: Target, timeout: float) -> socket.socket:
    where = f"{target.host} port {target.port}"
    try:
        return socket.create_connection((target.host.strip("[]"), target.port), timeout=timeout)
    except socket.gaierror as exc:
        raise ProbeError(f"cannot resolve {target.host}: {exc.strerror}") from None
    except ConnectionRefusedError:
        raise ProbeError(f"{where} refused the connection (nothing listening?)") from None
    except TimeoutError:
        raise ProbeError(f"no connection to {where} within {timeout:g} s") from None
    except OSError as exc:
        raise ProbeError(f"cannot connect to {where}: {exc.strerror or exc}") from None


def _context(target: Target, verify: bool, requested: list[bool]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if verify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        if target.ca_file or target.ca_path:
            ctx.load_verify_locations(cafile=target.ca_file, capath=target.ca_path)
        else:
            ctx.load_default_certs()
    else:
        ctx.verify_mode = ssl.CERT_NONE

    def seen(_conn: Any, direction: str, _v: Any, content: Any, msg: Any, _d: Any) -> None:
        if direction == "read" and content == _HANDSHAKE and msg == _CERTIFICATE_REQUEST:
            requested.append(True)

    # SSLContext._msg_callback (CPython >= 3.8) is the only way the ssl module shows
    # whether the server sent a CertificateRequest.
    if hasattr(ctx, "_msg_callback"):
        ctx._msg_callback = seen
    else:  # pragma: no cover - other Python implementations
        requested.append(False)
    return ctx


def _handshake(
    sock: socket.socket,
    target: Target,
    result: ProbeResult,
    verify: bool,
    timeout: float,
    where: str,
) -> ssl.SSLSocket:
    requested: list[bool] = []
    try:
        ctx = _context(target, verify, requested)
    except (OSError, ssl.SSLError) as exc:
        raise ProbeError(f"cannot load the CA certificates ({target.trust}): {exc}") from None
    sni = target.server_name or target.host
    try:
        ipaddress.ip_address(sni.strip("[]"))
        sni_arg: str | None = None
    except ValueError:
        sni_arg = sni
    sock.settimeout(timeout)
    try:
        tls = ctx.wrap_socket(sock, server_hostname=sni_arg)
    except ssl.SSLCertVerificationError as exc:
        raise _CertRejected(exc.verify_message or _reason(exc)) from None
    except ssl.SSLError as exc:
        raise ProbeError(f"the TLS handshake with {where} failed: {_reason(exc)}") from None
    except TimeoutError:
        raise ProbeError(f"the TLS handshake with {where} took longer than {timeout:g} s") from None
    except OSError as exc:
        raise ProbeError(
            f"the TLS handshake with {where} failed: {exc.strerror or 'connection closed'}"
        ) from None
    if requested == [False]:
        result.client_cert_requested = None
    else:
        result.client_cert_requested = bool(requested)
    return tls


def _reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason, without Python's `[SSL: CODE]` prefix and source location."""
    text = str(exc.args[1] if len(exc.args) > 1 else exc)
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)
    text = re.sub(r"\s*\(_ssl\.c:\d+\)$", "", text)
    return text or (exc.reason or "unknown error").lower().replace("_", " ")


def _quit(smtp: _Conversation, timeout: float) -> None:
    """Say goodbye politely; the result no longer depends on it."""
    try:
        smtp.send("QUIT")
        smtp.reply("reply to QUIT", timeout)
    except (ProbeError, OSError, ssl.SSLError):
        pass


def valid_ehlo_name(name: str) -> bool:
    """A domain or an address literal ([192.0.2.1], [IPv6:2001:db8::1]): nothing to inject."""
    return bool(re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Za-z:.]+\]", name))


def _ehlo_name(sock: socket.socket) -> str:
    name = socket.gethostname()
    if "." in name and re.fullmatch(r"[A-Za-z0-9.-]+", name):
        return name
    address = ipaddress.ip_address(sock.getsockname()[0])
    return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"
