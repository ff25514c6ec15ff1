"""compiler/probe/smtp.py against scripted servers: every phase, every way it can fail."""

from __future__ import annotations

import ssl
import subprocess
import time
from pathlib import Path

import pytest
from fake_smtp import FakeSmtp, Session
from sendmail_fixture import refused_port
from throwaway_ca import ThrowawayCA, key_pem

from compiler.probe import ProbeOptions, ProbePolicy, Target, Timeouts, probe, probe_all
from compiler.probe.smtp import _peer_chain

FAST = ProbeOptions(timeouts=Timeouts(connect=2, greeting=2, command=2, handshake=2))


def target(port: int, **kw: str) -> Target:
    return Target(label="fake", host="127.0.0.1", port=port, **kw)


def greet_and_ehlo(s: Session, extensions: str = "250-PIPELINING\n250 STARTTLS\n") -> None:
    s.send("220 fake.tlsc.test ESMTP\n")
    s.expect("EHLO ")
    s.send("250-fake.tlsc.test hello\n" + extensions)


@pytest.fixture(scope="module")
def ca() -> ThrowawayCA:
    return ThrowawayCA()


@pytest.fixture
def server_tls(ca: ThrowawayCA, tmp_path: Path) -> ssl.SSLContext:
    issued = ca.issue("fake.tlsc.test", ["fake.tlsc.test", "127.0.0.1"])
    issued.write(tmp_path / "srv.crt", tmp_path / "srv.key")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "srv.crt", tmp_path / "srv.key")
    return ctx


@pytest.fixture
def ca_file(ca: ThrowawayCA, tmp_path: Path) -> str:
    path = tmp_path / "ca.crt"
    path.write_bytes(ca.cert_pem)
    return str(path)


def tls_server(ctx: ssl.SSLContext, greeting_delay: float = 0.0):  # type: ignore[no-untyped-def]
    def script(s: Session) -> None:
        if greeting_delay:
            assert not s.talked_early(greeting_delay), "the probe talked before the greeting"
        greet_and_ehlo(s)
        s.expect("STARTTLS")
        s.send("220 2.0.0 Ready to start TLS\n")
        s.start_tls(ctx)
        s.ehlo_and_quit()

    return script


def test_full_session_reports_tls_facts_and_verifies(
    server_tls: ssl.SSLContext, ca_file: str
) -> None:
    with FakeSmtp(tls_server(server_tls)) as server:
        r = probe(target(server.port, server_name="fake.tlsc.test", ca_file=ca_file), FAST)
    assert r.error is None and r.handshake_ok
    assert r.starttls is True
    assert r.version and r.version.startswith("TLSv1.")
    assert r.cipher and r.bits and r.bits >= 128
    assert r.verify == "OK" and r.name_matches is True
    assert r.client_cert_requested is False
    assert r.cert is not None and r.cert.subject == "/O=tlsc test/CN=fake.tlsc.test"
    assert r.cert.issuer == "/O=tlsc test/CN=tlsc Test CA"
    assert r.cert.sans == ["DNS:fake.tlsc.test", "IP:127.0.0.1"]
    assert r.passed(ProbePolicy(strict=True))
    assert r.as_dict()["error"] is None


def test_unknown_ca_is_verify_fail_with_openssl_reason_from_one_session(
    server_tls: ssl.SSLContext,
) -> None:
    with FakeSmtp(tls_server(server_tls)) as server:
        r = probe(target(server.port, server_name="fake.tlsc.test"), FAST)
        sessions = server.sessions
    assert sessions == 1, "one handshake: the chain it received is verified afterwards"
    assert r.handshake_ok and r.verify == "FAIL"
    assert r.verify_error is not None and "certificate" in r.verify_error
    assert r.cert is not None and r.cert.subject.endswith("CN=fake.tlsc.test")
    assert r.passed() and not r.passed(ProbePolicy(strict=True))
    assert r.problems()[0].startswith("the certificate does not verify against the system's")


def test_multiline_greeting_is_read_whole_before_talking(
    server_tls: ssl.SSLContext, ca_file: str
) -> None:
    def script(s: Session) -> None:
        s.send("220-fake.tlsc.test ESMTP\n")
        assert not s.talked_early(0.3), "the probe talked after the first greeting line"
        s.send("220-second line\n220 last line\n")
        s.expect("EHLO")
        s.send("250-fake\n250 STARTTLS\n")
        s.expect("STARTTLS")
        s.send("220 go ahead\n")
        s.start_tls(server_tls)
        s.ehlo_and_quit()

    with FakeSmtp(script) as server:
        r = probe(target(server.port, ca_file=ca_file), FAST)
    assert r.handshake_ok, r.error
    assert r.greeting == "220 fake.tlsc.test ESMTP second line last line"


def test_a_greeting_delay_is_waited_out_in_silence(
    server_tls: ssl.SSLContext, ca_file: str
) -> None:
    with FakeSmtp(tls_server(server_tls, greeting_delay=0.5)) as server:
        r = probe(target(server.port, ca_file=ca_file), FAST)
    assert r.handshake_ok, r.error


def test_454_to_starttls_is_reported_with_its_reply() -> None:
    def script(s: Session) -> None:
        greet_and_ehlo(s)
        s.expect("STARTTLS")
        s.send("454 4.7.0 TLS not available due to local problem\n")
        s.expect("QUIT")
        s.send("221 bye\n")

    with FakeSmtp(script) as server:
        r = probe(target(server.port), FAST)
    assert r.starttls is True and r.version is None and r.verify is None
    assert r.error == (
        f"127.0.0.1 port {server.port} refused STARTTLS: 454 4.7.0 TLS not available due to"
        " local problem"
    )
    assert not r.passed()


def test_starttls_not_offered() -> None:
    def script(s: Session) -> None:
        greet_and_ehlo(s, "250-PIPELINING\n250 8BITMIME\n")
        s.expect("QUIT")
        s.send("221 bye\n")

    with FakeSmtp(script) as server:
        r = probe(target(server.port), FAST)
    assert r.starttls is False
    assert r.error == f"127.0.0.1 port {server.port} does not offer STARTTLS"
    assert r.as_dict()["starttls"] is False


def test_refused_greeting_and_refused_ehlo() -> None:
    with FakeSmtp(lambda s: s.send("554 5.7.1 go away\n")) as server:
        r = probe(target(server.port), FAST)
    assert r.error == f"127.0.0.1 port {server.port} refused the session: 554 5.7.1 go away"

    def no_ehlo(s: Session) -> None:
        s.send("220 hi\n")
        s.expect("EHLO")
        s.send("502 5.5.1 no\n")

    with FakeSmtp(no_ehlo) as server:
        r = probe(target(server.port), FAST)
    assert r.error == f"127.0.0.1 port {server.port} refused EHLO: 502 5.5.1 no"


def test_greeting_timeout_is_its_own_phase() -> None:
    options = ProbeOptions(timeouts=Timeouts(connect=2, greeting=0.3, command=2, handshake=2))
    with FakeSmtp(lambda s: s.talked_early(1.0)) as server:
        started = time.monotonic()
        r = probe(target(server.port), options)
    assert time.monotonic() - started < 1.0
    assert r.error == f"no greeting from 127.0.0.1 port {server.port} within 0.3 s"


def test_server_hangs_up_before_greeting() -> None:
    with FakeSmtp(lambda s: None) as server:
        r = probe(target(server.port), FAST)
    assert r.error == f"127.0.0.1 port {server.port} closed the connection before its greeting"


def test_malformed_reply() -> None:
    with FakeSmtp(lambda s: s.send("hello there\n")) as server:
        r = probe(target(server.port), FAST)
    assert r.error == f"127.0.0.1 port {server.port} sent a malformed greeting: 'hello there'"


def test_nothing_listening() -> None:
    with refused_port() as port:
        r = probe(target(port), FAST)
    assert r.error == f"127.0.0.1 port {port} refused the connection (nothing listening?)"
    assert not r.starttls and r.greeting is None
    assert r.as_dict() == {
        "target": "fake",
        "port": port,
        "starttls": False,
        "version": None,
        "cipher": None,
        "bits": None,
        "verify": None,
        "cert_subject": None,
        "cert_issuer": None,
        "cert_not_after": None,
        "error": r.error,
    }


def test_handshake_failure_carries_openssl_reason() -> None:
    def script(s: Session) -> None:
        greet_and_ehlo(s)
        s.expect("STARTTLS")
        s.send("220 go ahead\n")
        s.conn.recv(4096)  # the ClientHello, never answered properly
        s.send("this is not TLS at all\n")

    with FakeSmtp(script) as server:
        r = probe(target(server.port), FAST)
    assert r.starttls and r.version is None
    assert r.error is not None
    assert r.error.startswith(f"the TLS handshake with 127.0.0.1 port {server.port} failed: ")
    assert "wrong version number" in r.error or "record" in r.error
    assert "_ssl.c" not in r.error and "[SSL" not in r.error


def test_data_pipelined_after_starttls_reply_is_refused() -> None:
    def script(s: Session) -> None:
        greet_and_ehlo(s)
        s.expect("STARTTLS")
        s.send("220 go ahead\n250 injected\n")

    with FakeSmtp(script) as server:
        r = probe(target(server.port), FAST)
    assert r.error == (
        f"127.0.0.1 port {server.port} sent data after its STARTTLS reply, before the handshake"
    )


def test_client_certificate_request_is_detected(
    server_tls: ssl.SSLContext, ca: ThrowawayCA, ca_file: str
) -> None:
    server_tls.verify_mode = ssl.CERT_OPTIONAL
    server_tls.load_verify_locations(cadata=ca.cert_pem.decode())
    with FakeSmtp(tls_server(server_tls)) as server:
        r = probe(target(server.port, ca_file=ca_file), FAST)
    assert r.handshake_ok and r.client_cert_requested is True
    assert r.passed(ProbePolicy(expect_client_cert=True))


def test_probe_all_keeps_target_order() -> None:
    seen: list[int] = []
    with refused_port() as one, refused_port() as two:
        ports = [one, two]
        results = probe_all([target(p) for p in ports], FAST, lambda r: seen.append(r.port))
    assert [r.port for r in results] == ports
    assert sorted(seen) == sorted(ports)


def hashed_ca_dir(directory: Path, ca: ThrowawayCA | None) -> str:
    """A -CApath style directory: the CA under its subject hash (`openssl rehash`'s name)."""
    directory.mkdir()
    if ca is not None:
        subject_hash = (
            subprocess.run(
                ["openssl", "x509", "-hash", "-noout"],
                input=ca.cert_pem,
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .strip()
        )
        (directory / f"{subject_hash}.0").write_bytes(ca.cert_pem)
    return str(directory)


def test_ca_path_alone_is_the_trust(
    server_tls: ssl.SSLContext, ca: ThrowawayCA, tmp_path: Path
) -> None:
    with FakeSmtp(tls_server(server_tls)) as server:
        good = probe(target(server.port, ca_path=hashed_ca_dir(tmp_path / "good", ca)), FAST)
    assert good.verify == "OK" and good.verify_error is None
    with FakeSmtp(tls_server(server_tls)) as server:
        empty = probe(target(server.port, ca_path=hashed_ca_dir(tmp_path / "empty", None)), FAST)
        sessions = server.sessions
    assert sessions == 1 and empty.handshake_ok and empty.verify == "FAIL"
    # the fake server sends the leaf alone: its issuer is nowhere to be found
    assert empty.verify_error == "unable to get local issuer certificate"


def test_self_signed_leaf_reports_openssl_reason(tmp_path: Path, ca_file: str) -> None:
    alone = ThrowawayCA()  # a CA certificate as the server's own: depth-0 self-signed
    (tmp_path / "self.crt").write_bytes(alone.cert_pem)
    (tmp_path / "self.key").write_bytes(key_pem(alone.key))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "self.crt", tmp_path / "self.key")
    with FakeSmtp(tls_server(ctx)) as server:
        r = probe(target(server.port, ca_file=ca_file), FAST)
    assert r.handshake_ok and r.verify == "FAIL"
    assert r.verify_error == "self-signed certificate"


def test_a_client_only_certificate_is_the_wrong_purpose(
    ca: ThrowawayCA, ca_file: str, tmp_path: Path
) -> None:
    """-purpose sslserver, as a verifying handshake checks: an EKU of clientAuth only fails."""
    ca.issue("fake.tlsc.test", ["127.0.0.1"], client=True).write(
        tmp_path / "c.crt", tmp_path / "c.key"
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "c.crt", tmp_path / "c.key")
    with FakeSmtp(tls_server(ctx)) as server:
        r = probe(target(server.port, ca_file=ca_file), FAST)
    assert r.handshake_ok and r.verify == "FAIL"
    assert r.verify_error == "unsuitable certificate purpose"


def test_chain_from_the_public_api_of_python_3_13() -> None:
    """3.13's SSLSocket.get_unverified_chain() gives DER bytes; 3.11 has only _sslobj's."""

    class Public:
        def get_unverified_chain(self) -> list[bytes]:
            return [b"leaf", b"intermediate"]

    class Private:
        class _sslobj:
            @staticmethod
            def get_unverified_chain() -> None:
                return None

    assert _peer_chain(Public()) == [b"leaf", b"intermediate"]  # type: ignore[arg-type]
    assert _peer_chain(Private()) == []  # type: ignore[arg-type]


def test_no_openssl_command_is_one_sentence(
    server_tls: ssl.SSLContext, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("compiler.probe.smtp.shutil.which", lambda _name: None)
    with FakeSmtp(tls_server(server_tls)) as server:
        r = probe(target(server.port, ca_file=ca_file), FAST)
    assert r.verify is None and r.error == (
        "cannot verify the certificate: the openssl command is not installed"
        " (Debian package openssl)"
    )
