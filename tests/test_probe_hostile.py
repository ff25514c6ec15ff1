"""compiler/probe/smtp.py against hostile and broken servers: what each makes of the probe.

Every form must end in bounded time with one sentence that says what the server
did, never a traceback, and never STARTTLS passed for a session that cannot
carry mail.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID
from fake_smtp import FakeSmtp, Session
from throwaway_ca import ThrowawayCA, key_pem

from compiler.cli import main
from compiler.probe import ProbeOptions, ProbePolicy, ProbeResult, Target, Timeouts, probe

TIMEOUT = 1.0
FAST = ProbeOptions(timeouts=Timeouts(TIMEOUT, TIMEOUT, TIMEOUT, TIMEOUT))
#: scheduling slack on 2 shared cores; a timeout that were per recv() would blow past it
SLACK = 1.5


def target(port: int, **kw: str) -> Target:
    return Target(label="fake", host="127.0.0.1", port=port, **kw)


def timed_probe(script: Callable[[Session], object], **kw: str) -> tuple[ProbeResult, float, int]:
    with FakeSmtp(script) as server:
        started = time.monotonic()
        r = probe(target(server.port, **kw), FAST)
        return r, time.monotonic() - started, server.port


@pytest.fixture(scope="module")
def ca() -> ThrowawayCA:
    return ThrowawayCA()


@pytest.fixture
def server_tls(ca: ThrowawayCA, tmp_path: Path) -> ssl.SSLContext:
    ca.issue("fake.tlsc.test", ["fake.tlsc.test", "127.0.0.1"]).write(
        tmp_path / "srv.crt", tmp_path / "srv.key"
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "srv.crt", tmp_path / "srv.key")
    return ctx


def to_starttls(s: Session) -> None:
    s.send("220 fake.tlsc.test ESMTP\n")
    s.expect("EHLO ")
    s.send("250-fake.tlsc.test\n250 STARTTLS\n")
    s.expect("STARTTLS")
    s.send("220 2.0.0 go ahead\n")


def trickle(data: bytes, gap: float) -> Callable[[Session], None]:
    """Slow-loris: one byte every `gap` seconds, each within a per-read timeout."""

    def script(s: Session) -> None:
        for byte in data:
            s.conn.sendall(bytes([byte]))
            time.sleep(gap)

    return script


def sends(data: bytes, then: str = "wait") -> Callable[[Session], None]:
    def script(s: Session) -> None:
        s.conn.sendall(data)
        if then == "wait":
            s.talked_early(TIMEOUT + SLACK)

    return script


# -- a reply cut short: the sentence quotes what came, in bounded time --------------------


@pytest.mark.parametrize(
    ("script", "message"),
    [
        pytest.param(
            sends(b"220 fake ESMTP\r"),
            "{where} sent only part of its greeting within 1 s: '220 fake ESMTP\\r'",
            id="bare-CR-line-end",
        ),
        pytest.param(
            sends(b"220-fake ESMTP\r\n"),
            "{where} sent only part of its greeting within 1 s: '220-fake ESMTP\\r\\n'",
            id="continuation-then-silence",
        ),
        pytest.param(
            trickle(b"220 fake.tlsc.test ESMTP ready\r\n", 0.2),
            "{where} sent only part of its greeting within 1 s: '220 f",
            id="byte-by-byte",
        ),
        pytest.param(
            sends(b"220-fake ESMTP\r\n", then="close"),
            "{where} closed the connection in the middle of its greeting: '220-fake ESMTP\\r\\n'",
            id="continuation-then-close",
        ),
        pytest.param(
            sends(b"220 fake", then="close"),
            "{where} closed the connection in the middle of its greeting: '220 fake'",
            id="half-a-line-then-close",
        ),
        pytest.param(sends(b"", then="wait"), "no greeting from {where} within 1 s", id="silence"),
        pytest.param(
            sends(b"", then="close"),
            "{where} closed the connection before its greeting",
            id="close",
        ),
    ],
)
def test_a_reply_cut_short_says_what_came(script: Callable[[Session], None], message: str) -> None:
    r, elapsed, port = timed_probe(script)
    assert elapsed < TIMEOUT + SLACK
    assert r.error is not None
    assert r.error.startswith(message.format(where=f"127.0.0.1 port {port}"))
    assert not r.passed()


# -- the reply grammar (RFC 5321 4.2) ------------------------------------------------------


@pytest.mark.parametrize(
    ("greeting", "ehlo", "starttls"),
    [
        pytest.param("220\n", "250-fake\n250 STARTTLS\n", "220 go\n", id="greeting-code-only"),
        pytest.param("220 hi\n", "250-fake\n250-STARTTLS\n250\n", "220 go\n", id="ehlo-last-bare"),
        pytest.param("220 hi\n", "250-fake\n250 STARTTLS\n", "220\n", id="starttls-code-only"),
        pytest.param("220-\n220 hi\n", "250-fake\n250 STARTTLS\n", "220 go\n", id="empty-cont"),
        pytest.param("220 hi\n", "250-fake\n250 starttls\n", "220 go\n", id="lowercase-keyword"),
        pytest.param(
            "220 hi\n", "250-fake\n250-STARTTLS \n250 X\n", "220 go\n", id="trailing-blank"
        ),
        pytest.param("220 hi\x00there\n", "250-fake\n250 STARTTLS\n", "220 go\n", id="nul"),
    ],
)
def test_every_well_formed_reply_is_read(
    server_tls: ssl.SSLContext, greeting: str, ehlo: str, starttls: str
) -> None:
    def script(s: Session) -> None:
        s.send(greeting)
        s.expect("EHLO ")
        s.send(ehlo)
        s.expect("STARTTLS")
        s.send(starttls)
        s.start_tls(server_tls)
        s.ehlo_and_quit()

    r, _, _ = timed_probe(script)
    assert r.error is None and r.handshake_ok


def test_bytes_that_are_not_utf8_are_kept_replaced(server_tls: ssl.SSLContext) -> None:
    def script(s: Session) -> None:
        s.conn.sendall(b"220 caf\xe9 \xff\r\n")
        s.expect("EHLO ")
        s.send("250-fake\n250 STARTTLS\n")
        s.expect("STARTTLS")
        s.send("220 go\n")
        s.start_tls(server_tls)
        s.ehlo_and_quit()

    r, _, _ = timed_probe(script)
    assert r.handshake_ok and r.greeting == "220 caf\ufffd \ufffd"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"220 " + b"a" * 5000 + b"\r\n", id="5000-with-line-end-in-one-segment"),
        pytest.param(b"220 " + b"a" * 4093 + b"\r\n", id="4099-with-line-end"),
        pytest.param(b"220 " + b"a" * 1_000_000, id="1MB-without-line-end"),
        pytest.param(b"220-" + b"a" * 5000 + b"\n220 ok\r\n", id="long-continuation-bare-LF"),
    ],
)
def test_a_line_over_the_limit_is_refused_however_it_arrives(data: bytes) -> None:
    r, elapsed, port = timed_probe(sends(data))
    assert elapsed < TIMEOUT + SLACK
    assert r.error == f"127.0.0.1 port {port} sent a greeting line longer than 4096 bytes"


def test_a_long_line_within_the_limit_is_read(server_tls: ssl.SSLContext) -> None:
    def script(s: Session) -> None:
        s.send("220 " + "a" * 1000 + "\n")  # over RFC 5321's 512, as some servers do
        s.expect("EHLO ")
        s.send("250-" + "b" * 4000 + "\n250 STARTTLS\n")
        s.expect("STARTTLS")
        s.send("220 go\n")
        s.start_tls(server_tls)
        s.ehlo_and_quit()

    r, _, _ = timed_probe(script)
    assert r.handshake_ok, r.error


# -- replies the probe did not ask for (the STARTTLS injection class) ------------------------


@pytest.mark.parametrize(
    ("sent", "verb", "shown"),
    [
        pytest.param("220 hi\n250 early\n", "EHLO", "'250 early\\r\\n'", id="after-the-greeting"),
        pytest.param(None, "STARTTLS", "'220 2.0.0 Ready\\r\\n'", id="starttls-answered-early"),
    ],
)
def test_a_reply_that_came_before_its_command_is_refused(
    sent: str | None, verb: str, shown: str
) -> None:
    talked: list[str] = []

    def script(s: Session) -> None:
        if sent is not None:
            s.send(sent)
        else:
            s.send("220 hi\n")
            s.expect("EHLO ")
            s.send("250-fake\n250 STARTTLS\n220 2.0.0 Ready\n")
        talked.append(s.line(TIMEOUT + SLACK))

    r, _, port = timed_probe(script)
    assert r.error == (
        f"127.0.0.1 port {port} sent data before the probe's {verb}, which cannot be its"
        f" reply: {shown}"
    )
    assert not any(line.upper().startswith(verb) for line in talked)


# -- a session that dies right after the handshake is not STARTTLS that works -------------


def _cert_required(ca: ThrowawayCA, ctx: ssl.SSLContext) -> Callable[[Session], None]:
    ctx.verify_mode = ssl.CERT_REQUIRED  # TLS 1.3: the alert comes after the client's Finished
    ctx.load_verify_locations(cadata=ca.cert_pem.decode())

    def script(s: Session) -> None:
        to_starttls(s)
        s.start_tls(ctx)

    return script


def _after_tls(then: Callable[[Session], object], ctx: ssl.SSLContext) -> Callable[[Session], None]:
    def script(s: Session) -> None:
        to_starttls(s)
        s.start_tls(ctx)
        then(s)

    return script


def _plaintext(s: Session) -> None:
    assert isinstance(s.conn, ssl.SSLSocket)
    raw = socket.socket(fileno=s.conn.detach())
    raw.sendall(b"250 this is not a TLS record\r\n")
    raw.settimeout(TIMEOUT + SLACK)
    raw.recv(4096)  # open until the probe has read it: a reset would drop it unread
    raw.close()


def _refuse_ehlo(s: Session) -> None:
    s.expect("EHLO ")
    s.send("421 4.3.2 shutting down\n")


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (
            "close",
            # the hang-up reaches the probe as an end of file, or as a reset after its EHLO
            (
                "{where} closed the connection before its reply to EHLO after STARTTLS",
                "the connection to {where} failed while waiting for its reply to EHLO after"
                " STARTTLS: Connection reset by peer",
            ),
        ),
        (
            "certificate-required",
            "the TLS session with {where} failed while waiting for its reply to EHLO after"
            " STARTTLS: tlsv13 alert certificate required",
        ),
        ("plaintext", "the TLS session with {where} failed while waiting for its reply to EHLO"),
        ("refuse", "{where} refused EHLO after STARTTLS: 421 4.3.2 shutting down"),
        ("silence", "no reply to EHLO after STARTTLS from {where} within 1 s"),
    ],
)
def test_a_session_that_dies_after_the_handshake_fails(
    ca: ThrowawayCA, server_tls: ssl.SSLContext, form: str, message: str | tuple[str, ...]
) -> None:
    scripts: dict[str, Callable[[], Callable[[Session], None]]] = {
        "close": lambda: _after_tls(lambda s: s.conn.close(), server_tls),
        "certificate-required": lambda: _cert_required(ca, server_tls),
        "plaintext": lambda: _after_tls(_plaintext, server_tls),
        "refuse": lambda: _after_tls(_refuse_ehlo, server_tls),
        "silence": lambda: _after_tls(lambda s: time.sleep(TIMEOUT + SLACK), server_tls),
    }
    r, elapsed, port = timed_probe(scripts[form]())
    assert elapsed < TIMEOUT + SLACK
    assert r.version == "TLSv1.3" and not r.handshake_ok
    assert r.verify == "FAIL" and r.cert is not None  # the chain it sent is still checked
    assert r.error is not None
    messages = (message,) if isinstance(message, str) else message
    where = f"127.0.0.1 port {port}"
    assert r.error.startswith(tuple(m.format(where=where) for m in messages)), r.error
    assert "_ssl.c" not in r.error and "[SSL" not in r.error
    assert not r.passed()


def test_a_hang_up_during_the_handshake_is_said_so() -> None:
    def script(s: Session) -> None:
        to_starttls(s)
        s.conn.recv(4096)  # the ClientHello

    r, _, port = timed_probe(script)
    assert r.error == f"127.0.0.1 port {port} closed the connection during the TLS handshake"


def test_a_handshake_sent_byte_by_byte_is_bounded_by_its_timeout() -> None:
    """A TLS record header, then a byte at a time: each read is quick, the whole is not."""

    def script(s: Session) -> None:
        to_starttls(s)
        s.conn.recv(4096)
        trickle(bytes.fromhex("16030340000200") + bytes(20), 0.3)(s)

    r, elapsed, port = timed_probe(script)
    assert elapsed < TIMEOUT + SLACK
    assert r.error == f"the TLS handshake with 127.0.0.1 port {port} took longer than 1 s"


# -- a certificate OpenSSL takes but cryptography cannot read --------------------------------


def _patched_duplicate(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> bytes:
    """Two private extensions, the second's OID then made the first's (the same length)."""
    cert = builder
    for last in (1, 2):
        oid = x509.ObjectIdentifier(f"1.3.6.1.4.1.99999.{last}")
        cert = cert.add_extension(x509.UnrecognizedExtension(oid, b"\x05\x00"), critical=False)
    der = cert.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    second = bytes.fromhex("2b06010401868d1f02")  # 1.3.6.1.4.1.99999.2
    assert der.count(second) == 1
    return der.replace(second, second[:-1] + b"\x01")


def _with_extension(oid: x509.ObjectIdentifier, value: bytes) -> Callable[..., bytes]:
    def make(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> bytes:
        cert = builder.add_extension(x509.UnrecognizedExtension(oid, value), critical=False).sign(
            key, hashes.SHA256()
        )
        return cert.public_bytes(serialization.Encoding.DER)

    return make


UNREADABLE = {
    "san-ip-of-one-byte": _with_extension(
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x03\x87\x01\x01"
    ),
    "san-ip-of-five-bytes": _with_extension(
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x07\x87\x05\x7f\x00\x00\x01\x01"
    ),
    "an-extension-twice": _patched_duplicate,
}


@pytest.fixture(params=sorted(UNREADABLE))
def unreadable_tls(request: pytest.FixtureRequest, tmp_path: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake.tlsc.test")])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
    )
    der = UNREADABLE[request.param](builder, key)
    (tmp_path / "odd.crt").write_text(ssl.DER_cert_to_PEM_cert(der), encoding="ascii")
    (tmp_path / "odd.key").write_bytes(key_pem(key))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "odd.crt", tmp_path / "odd.key")
    return ctx


def _serve_tls(ctx: ssl.SSLContext) -> Callable[[Session], None]:
    return _after_tls(Session.ehlo_and_quit, ctx)


def test_an_unreadable_certificate_is_a_problem_not_a_crash(
    unreadable_tls: ssl.SSLContext,
) -> None:
    r, _, _ = timed_probe(_serve_tls(unreadable_tls))
    assert r.handshake_ok and r.cert is None
    assert r.cert_error is not None
    assert r.cert_error.startswith("the certificate cannot be read, so its names and dates")
    assert r.cert_error in r.problems()
    assert r.passed() and not r.passed(ProbePolicy(strict=True))


def test_verify_of_an_unreadable_certificate_reports_it(unreadable_tls: ssl.SSLContext) -> None:
    with FakeSmtp(_serve_tls(unreadable_tls)) as server:
        where = f"127.0.0.1:{server.port}"
        text = CliRunner().invoke(main, ["verify", where, "--timeout", "2"])
    with FakeSmtp(_serve_tls(unreadable_tls)) as server:
        where = f"127.0.0.1:{server.port}"
        strict = CliRunner().invoke(main, ["verify", where, "--strict", "--format", "json"])
    assert text.exception is None or isinstance(text.exception, SystemExit), text.output
    assert text.exit_code == 0, text.output
    assert "the certificate cannot be read" in text.stdout
    assert strict.exit_code == 1, strict.output
    [item] = json.loads(strict.stdout)
    assert item["starttls"] is True and item["cert_subject"] is None
    assert "the certificate cannot be read" in item["error"]


# -- IPv6 ---------------------------------------------------------------------------------


def test_an_ipv6_literal_target(server_tls: ssl.SSLContext) -> None:
    try:
        listener = socket.socket(socket.AF_INET6)
        listener.bind(("::1", 0))
    except OSError:
        pytest.skip("no ::1 here")
    listener.listen(1)
    port = listener.getsockname()[1]
    seen: list[str] = []

    def serve() -> None:
        conn, _ = listener.accept()
        s = Session(conn)
        to_starttls(s)
        s.start_tls(server_tls)
        seen.append(s.line())
        s.send("250 fake\n")
        s.expect("QUIT")
        s.send("221 bye\n")
        s.conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    result = CliRunner().invoke(main, ["verify", f"[::1]:{port}", "--format", "json"])
    thread.join(5)
    listener.close()
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.stdout)
    assert item["target"] == "::1" and item["port"] == port and item["version"] == "TLSv1.3"
    assert seen and seen[0].startswith("EHLO ")


# -- a server too old for this probe's TLS ----------------------------------------------------


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_a_server_of_old_tls_only_is_said_to_be_too_old(
    server_tls: ssl.SSLContext, version: str
) -> None:
    server_tls.set_ciphers("DEFAULT:@SECLEVEL=0")
    server_tls.minimum_version = server_tls.maximum_version = ssl.TLSVersion[version]
    r, _, port = timed_probe(_after_tls(Session.ehlo_and_quit, server_tls))
    assert r.starttls and not r.handshake_ok
    assert r.error == (
        f"the TLS handshake with 127.0.0.1 port {port} failed: tlsv1 alert protocol version"
        " (the server speaks no TLS version from TLSv1.2 on)"
    )
