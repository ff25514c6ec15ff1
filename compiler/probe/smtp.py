"""The SMTP/STARTTLS probe: greeting, EHLO, STARTTLS, TLS handshake, EHLO again, QUIT.

A plain state machine over a socket, one deadline per phase. It never sends
a byte before the whole 220 greeting (possibly multi-line) has arrived:
sendmail's greet_pause rejects clients that talk first.

One handshake per probe, with verification off: a client that rejects the
certificate mid-handshake leaves `alert unknown ca` in the server's log,
which reads as a scanner. The chain the server sent in that same session is
then verified by `openssl verify -purpose sslserver` (OpenSSL's own chain
rules and error strings) against the target's CAs, or the system's trusted
CAs when it names none. The name check is left to certinfo (so "does not
verify" and "wrong name" are separate findings).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.probe.certinfo import UnreadableCertificate, cert_info_der
from compiler.probe.result import ProbeResult

#: longest reply line accepted (RFC 5321 allows 512 octets; be generous)
MAX_LINE = 4096
#: most lines in one reply
MAX_LINES = 200
#: RFC 5321 4.2: `250-text`, `250 text`, or the code alone (a last line without text)
_REPLY = re.compile(rb"^(\d{3})(?:([ -])(.*?))?\r?\n$", re.DOTALL)
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

    def _line(self, deadline: float, phase: str, timeout: float, so_far: bytes) -> bytes:
        """The next line, LF included; `so_far` (the reply's earlier lines) is for messages."""
        while True:
            end = self.buffer.find(b"\n")
            if end >= MAX_LINE or (end < 0 and len(self.buffer) > MAX_LINE):
                raise ProbeError(f"{self.where} sent a {phase} line longer than {MAX_LINE} bytes")
            if end >= 0:
                line = bytes(self.buffer[: end + 1])
                del self.buffer[: end + 1]
                return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._cut_short(phase, so_far, f"within {timeout:g} s")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                raise self._cut_short(phase, so_far, f"within {timeout:g} s") from None
            except ssl.SSLError as exc:
                raise ProbeError(
                    f"the TLS session with {self.where} failed while waiting for its {phase}:"
                    f" {_reason(exc)}"
                ) from None
            except OSError as exc:
                raise ProbeError(
                    f"the connection to {self.where} failed while waiting for its {phase}:"
                    f" {exc.strerror or exc}"
                ) from None
            if not chunk:
                raise self._cut_short(phase, so_far, None)
            self.buffer += chunk

    def _cut_short(self, phase: str, so_far: bytes, waited: str | None) -> ProbeError:
        """The reply stopped coming (`waited`: the time allowed) or the server hung up.

        A part that came is quoted (a line ended by a bare CR is one that never
        ends), so the sentence does not say the server sent nothing.
        """
        part = so_far + bytes(self.buffer)
        if part:
            shown = part.decode("utf-8", "replace")[:80]
            if waited is None:
                return ProbeError(
                    f"{self.where} closed the connection in the middle of its {phase}: {shown!r}"
                )
            return ProbeError(f"{self.where} sent only part of its {phase} {waited}: {shown!r}")
        if waited is None:
            return ProbeError(f"{self.where} closed the connection before its {phase}")
        return ProbeError(f"no {phase} from {self.where} {waited}")

    def reply(self, phase: str, timeout: float) -> Reply:
        """One whole reply (all its continuation lines), within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        code: bytes | None = None
        lines: list[str] = []
        so_far = b""
        while len(lines) < MAX_LINES:
            raw = self._line(deadline, phase, timeout, so_far)
            so_far += raw
            match = _REPLY.match(raw)
            if match is None or (code is not None and match.group(1) != code):
                shown = raw.decode("utf-8", "replace").strip()[:80]
                raise ProbeError(f"{self.where} sent a malformed {phase}: {shown!r}")
            code = match.group(1)
            lines.append((match.group(3) or b"").decode("utf-8", "replace").strip())
            if match.group(2) != b"-":
                return Reply(int(code), lines)
        raise ProbeError(f"{self.where} sent a {phase} of more than {MAX_LINES} lines")

    def send(self, command: str) -> None:
        """Send `command`; a reply already waiting is one the server made up, not its answer."""
        verb = command.split()[0]
        if self.buffer:
            shown = bytes(self.buffer).decode("utf-8", "replace")[:80]
            raise ProbeError(
                f"{self.where} sent data before the probe's {verb}, which cannot be its reply:"
                f" {shown!r}"
            )
        try:
            self.sock.sendall(command.encode("ascii") + b"\r\n")
        except ssl.SSLError as exc:
            raise ProbeError(
                f"the TLS session with {self.where} failed while sending {verb}: {_reason(exc)}"
            ) from None
        except OSError as exc:
            raise ProbeError(
                f"the connection to {self.where} failed while sending {verb}: {exc.strerror or exc}"
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
        chain = _session(target, options, result)
        failure = verify_chain(chain, target, options.timeouts.handshake)
        result.verify = "OK" if failure is None else "FAIL"
        result.verify_error = failure
    except ProbeError as exc:
        result.error = result.error or str(exc)
    return result


def _session(target: Target, options: ProbeOptions, result: ProbeResult) -> list[bytes]:
    """One SMTP session up to the handshake; the DER chain the server sent, leaf first."""
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
        tls = _handshake(sock, target, result, t.handshake, where)
    finally:
        sock.close()
    try:
        chain = _peer_chain(tls)
        der = tls.getpeercert(binary_form=True)
        result.version = tls.version()
        cipher = tls.cipher()
        if cipher is not None:
            result.cipher, result.bits = cipher[0], cipher[2]
        if der:
            _read_cert(der, result, target)
        try:
            _ehlo_again(_Conversation(tls, where), name, t.command)
        except ProbeError as exc:
            # the session failed, but a handshake was done: its chain is still verified
            result.error = str(exc)
    finally:
        tls.close()
    return chain


def _ehlo_again(smtp: _Conversation, name: str, timeout: float) -> None:
    """EHLO inside TLS (RFC 3207 4.2), then QUIT: the session must carry SMTP.

    A handshake that completes on this side is not yet a session the server
    accepts: under TLS 1.3 a server that requires a client certificate says
    so with an alert after the client's Finished, and a server may hang up
    or send garbage right after the handshake. Only its 250 shows that mail
    could follow.
    """
    try:
        smtp.send(f"EHLO {name}")
    except ProbeError:
        # the server's alert is what explains it; it may be waiting to be read
        smtp.reply("reply to EHLO after STARTTLS", min(timeout, 1.0))
        raise
    reply = smtp.reply("reply to EHLO after STARTTLS", timeout)
    if reply.code != 250:
        _quit(smtp, timeout)
        raise ProbeError(f"{smtp.where} refused EHLO after STARTTLS: {reply.text}")
    _quit(smtp, min(timeout, 5.0))


def _read_cert(der: bytes, result: ProbeResult, target: Target) -> None:
    """The leaf's facts into `result`; one that cannot be parsed is a certificate problem.

    The handshake took it (OpenSSL is lenient), so the session is encrypted as
    sendmail's would be; only its names and dates are unknown.
    """
    try:
        result.cert = cert_info_der(der)
    except UnreadableCertificate as exc:
        result.cert_error = (
            f"the certificate cannot be read, so its names and dates are unknown: {exc}"
        )
        return
    result.name_matches = result.cert.matches(result.server_name or target.host)


def _peer_chain(tls: ssl.SSLSocket) -> list[bytes]:
    """The certificates the server sent (leaf first, unverified), DER.

    Python 3.13 has SSLSocket.get_unverified_chain() (DER bytes); 3.11 and 3.12
    only the private _sslobj.get_unverified_chain() (_ssl.Certificate objects).
    """
    public = getattr(tls, "get_unverified_chain", None)
    if public is not None:
        raw: Any = public()
    else:
        raw = tls._sslobj.get_unverified_chain()  # type: ignore[attr-defined]
    out: list[bytes] = []
    for cert in raw or []:
        if isinstance(cert, bytes | bytearray):
            out.append(bytes(cert))
        else:
            out.append(cert.public_bytes(ssl._ssl.ENCODING_DER))  # type: ignore[attr-defined]
    return out


#: `error 20 at 0 depth lookup: unable to get local issuer certificate`
_VERIFY_ERROR = re.compile(r"^error (\d+) at (\d+) depth lookup: ?(.*)$", re.MULTILINE)


def verify_chain(chain: list[bytes], target: Target, timeout: float) -> str | None:
    """None when `chain` verifies against the target's CAs, else OpenSSL's reason.

    `openssl verify -purpose sslserver` checks the leaf with the rest of the
    chain as untrusted intermediates; its first error is the one a verifying
    handshake would have stopped at (`certificate has expired`, `unable to get
    local issuer certificate`, `self-signed certificate`...).
    """
    if not chain:
        return "the server sent no certificate"
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ProbeError(
            "cannot verify the certificate: the openssl command is not installed"
            " (Debian package openssl)"
        )
    command = [openssl, "verify", "-purpose", "sslserver"]
    # openssl verify adds the default file/directory/store unless told not to;
    # a target naming its CAs trusts those only (as SSLContext.load_verify_locations)
    if target.ca_file or target.ca_path:
        command += ["-CAfile", target.ca_file] if target.ca_file else ["-no-CAfile"]
        command += ["-CApath", target.ca_path] if target.ca_path else ["-no-CApath"]
        command += ["-no-CAstore"]
    with tempfile.TemporaryDirectory(prefix="tlsc-verify-") as tmp:
        leaf = Path(tmp) / "leaf.pem"
        leaf.write_text(ssl.DER_cert_to_PEM_cert(chain[0]), encoding="ascii")
        if chain[1:]:
            untrusted = Path(tmp) / "untrusted.pem"
            untrusted.write_text(
                "".join(ssl.DER_cert_to_PEM_cert(der) for der in chain[1:]), encoding="ascii"
            )
            command += ["-untrusted", str(untrusted)]
        command += [str(leaf)]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                check=False,
                env=_openssl_env(),
            )
        except subprocess.TimeoutExpired:
            raise ProbeError(
                f"cannot verify the certificate: openssl verify took longer than {timeout:g} s"
            ) from None
        except OSError as exc:
            raise ProbeError(f"cannot verify the certificate: {exc.strerror or exc}") from None
    output = done.stdout + "\n" + done.stderr
    first = _VERIFY_ERROR.search(output)
    if done.returncode == 0 and first is None:
        return None
    if first is not None:
        return first.group(3).strip() or f"error {first.group(1)}"
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    shown = lines[0] if lines else f"exit status {done.returncode}"
    raise ProbeError(f"cannot verify the certificate against {target.trust}: {shown}")


def _openssl_env() -> dict[str, str]:
    """This process's environment (SSL_CERT_FILE/SSL_CERT_DIR apply as in ssl), C locale."""
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    return env


def _connect(target: Target, timeout: float) -> socket.socket:
    where = f"{target.host} port {target.port}"
    try:
        return socket.create_connection((target.host.strip("[]"), target.port), timeout=timeout)
    except socket.gaierror as exc:
        raise ProbeError(f"cannot resolve {target.host}: {exc.strerror}") from None
    except UnicodeError:  # the idna codec: an empty label (a..b) or one over 63 bytes
        raise ProbeError(f"cannot resolve {target.host}: it is no host name") from None
    except ConnectionRefusedError:
        raise ProbeError(f"{where} refused the connection (nothing listening?)") from None
    except TimeoutError:
        raise ProbeError(f"no connection to {where} within {timeout:g} s") from None
    except OSError as exc:
        raise ProbeError(f"cannot connect to {where}: {exc.strerror or exc}") from None


def _context(target: Target, requested: list[bool]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    # the chain is verified after the handshake (verify_chain); a CA file or
    # directory that cannot be read still fails here, before the handshake
    ctx.verify_mode = ssl.CERT_NONE
    if target.ca_file or target.ca_path:
        ctx.load_verify_locations(cafile=target.ca_file, capath=target.ca_path)

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
    timeout: float,
    where: str,
) -> ssl.SSLSocket:
    requested: list[bool] = []
    try:
        ctx = _context(target, requested)
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
    except ssl.SSLEOFError:
        # OpenSSL's "EOF occurred in violation of protocol": the server hung up
        raise ProbeError(f"{where} closed the connection during the TLS handshake") from None
    except ssl.SSLError as exc:
        raise ProbeError(
            f"the TLS handshake with {where} failed: {_reason(exc)}{_version_hint(exc, ctx)}"
        ) from None
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


#: OpenSSL's reasons when client and server share no protocol version
_NO_COMMON_VERSION = {"TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL"}


def _version_hint(exc: ssl.SSLError, ctx: ssl.SSLContext) -> str:
    """Why `tlsv1 alert protocol version` happens, in words: the server is too old.

    This probe offers TLS 1.3 down to its floor (TLSv1.2, Python's and OpenSSL's
    default, as sendmail's client has under Debian's openssl.cnf): a server
    that speaks only TLS 1.0 or 1.1 refuses the ClientHello with that alert.
    """
    if exc.reason not in _NO_COMMON_VERSION:
        return ""
    floor = ctx.minimum_version
    if floor in (ssl.TLSVersion.MINIMUM_SUPPORTED, ssl.TLSVersion.MAXIMUM_SUPPORTED):
        return " (the server speaks none of the TLS versions this probe offers)"
    return f" (the server speaks no TLS version from {floor.name.replace('_', '.')} on)"


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
