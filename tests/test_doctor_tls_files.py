"""`tlsc doctor` against the real daemon, over the forms a TLS file takes on a host.

Each case builds the host's certificate, key, CA, CRL files (with `cryptography`)
in one of the forms admins install them in: PKCS #1, PKCS #8, SEC1, Ed25519 keys,
encrypted keys, DER instead of PEM, CRLF line ends, a byte order mark, text
around the PEM, a key and its certificate in one file, a chain in the
certificate file, weak keys and signatures, dates, CRLs. Then a real `sendmail
-bd` (8.17 and 8.18) runs on them, and what it does (STARTTLS offered? does a
client that verifies accept it? does it verify a revoked client certificate?)
is compared with doctor's finding: doctor must name the file at fault with the
right code and severity (an error exactly when STARTTLS is not offered), and
find nothing where sendmail is content. The expected outcome is asserted too,
so a sendmail that changes its mind fails here rather than leaving doctor
wrong.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import shutil
import smtplib
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID
from releases import release
from sendmail_fixture import DaemonFactory, SendmailDaemon, sendmail_daemon, throwaway_ca
from throwaway_ca import Issued, ThrowawayCA, key_pem

from compiler.doctor import Finding, diagnose
from compiler.doctor.pki import check_name
from compiler.resolve import resolve
from compiler.spec.loader import load_file
from compiler.spec.validate import validate

__all__ = ["release", "sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools

VERIFIED = "offered, verifies"
UNVERIFIED = "offered, a verifying client refuses it"
NOT_OFFERED = "STARTTLS not offered"
HANDSHAKE_FAILS = "offered, but the handshake fails"

_PEM = serialization.Encoding.PEM
_DER = serialization.Encoding.DER


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(_PEM)


def _key(
    key: Any,
    form: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
    password: bytes | None = None,
    encoding: serialization.Encoding = _PEM,
) -> bytes:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    data: bytes = key.private_bytes(encoding, form, enc)
    return data


def _cert(
    d: SendmailDaemon,
    key: Any,
    *,
    issuer: tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes] | None = None,
    cn: str | None = None,
    ca: bool = False,
    not_before: dt.timedelta = dt.timedelta(days=-1),
    days: float = 30,
    extra: tuple[x509.ExtensionType, ...] = (),
) -> x509.Certificate:
    """A certificate for `key` issued by `issuer` (default: the test CA), naming the host."""
    issuer_cert, issuer_key = issuer or (d.ca.cert, d.ca.key)
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn or d.fqdn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + not_before)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d.fqdn)]), critical=False
        )
    for extension in extra:
        builder = builder.add_extension(extension, critical=False)
    hash_algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(issuer_key, hash_algorithm)


#: an iPAddress of 5 bytes (RFC 5280 allows 4 or 16) in a second SAN-like extension:
#: the issuer alternative name, so the subject's SAN still names the host
_SAN_IP5 = (
    x509.UnrecognizedExtension(
        x509.ObjectIdentifier("2.5.29.18"), b"\x30\x07\x87\x05\x7f\x00\x00\x01\x01"
    ),
)


def _extension_twice(d: SendmailDaemon, key: Any) -> bytes:
    """Two private extensions, the second's OID then made the first's (the same length),
    and the certificate signed again over the patched bytes by the test CA."""
    oids = [x509.ObjectIdentifier(f"1.3.6.1.4.1.99999.{n}") for n in (1, 2)]
    cert = _cert(d, key, extra=tuple(x509.UnrecognizedExtension(o, b"\x05\x00") for o in oids))
    tbs = cert.tbs_certificate_bytes
    second = bytes.fromhex("2b06010401868d1f02")  # 1.3.6.1.4.1.99999.2
    assert tbs.count(second) == 1
    tbs = tbs.replace(second, second[:-1] + b"\x01")
    signature = d.ca.key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    algorithm = _der(0x30, _der(0x06, bytes.fromhex("2a8648ce3d040302")))  # ecdsa-with-SHA256
    der = _der(0x30, tbs + algorithm + _der(0x03, b"\x00" + signature))
    return ssl.DER_cert_to_PEM_cert(der).encode("ascii")


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    size = b"" if n < 0x80 else n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size) if size else n]) + size + body


def _der_children(data: bytes) -> list[bytes]:
    """The encoded elements inside one DER SEQUENCE's contents."""
    out, i = [], 0
    while i < len(data):
        length, head = data[i + 1], 2
        if length & 0x80:
            head += length & 0x7F
            length = int.from_bytes(data[i + 2 : i + head], "big")
        out.append(data[i : i + head + length])
        i += head + length
    return out


def _body(element: bytes) -> bytes:
    length = element[1]
    return element[2 + (length & 0x7F if length & 0x80 else 0) :]


def _sha1_signed(d: SendmailDaemon, key: Any) -> x509.Certificate:
    """A leaf the test CA signed with ECDSA-SHA1, which `cryptography` refuses to build:
    a SHA-256 one with the algorithm in its TBS swapped and the TBS signed again."""
    tbs_children = _der_children(_body(_cert(d, key).tbs_certificate_bytes))
    ecdsa_sha1 = _der(0x30, bytes.fromhex("06072a8648ce3d0401"))
    tbs = _der(0x30, b"".join([tbs_children[0], tbs_children[1], ecdsa_sha1, *tbs_children[3:]]))
    signature = d.ca.key.sign(tbs, ec.ECDSA(hashes.SHA1()))
    return x509.load_der_x509_certificate(
        _der(0x30, tbs + ecdsa_sha1 + _der(0x03, b"\x00" + signature))
    )


def _crl(
    d: SendmailDaemon, revoked: list[int], next_update: dt.timedelta
) -> x509.CertificateRevocationList:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(d.ca.cert.subject)
        .last_update(now - dt.timedelta(days=2))
        .next_update(now + next_update)
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - dt.timedelta(hours=1))
            .build()
        )
    return builder.sign(d.ca.key, hashes.SHA256())


def _trusted(cert: x509.Certificate) -> bytes:
    """`cert` as `openssl x509 -trustout` writes it: BEGIN TRUSTED CERTIFICATE, the DER
    certificate then its trust settings (X509_CERT_AUX: trusted for serverAuth and
    clientAuth)."""
    usages = bytes.fromhex("06082b06010505070301") + bytes.fromhex("06082b06010505070302")
    aux = _der(0x30, _der(0x30, usages))
    b64 = base64.encodebytes(cert.public_bytes(_DER) + aux)
    return b"-----BEGIN TRUSTED CERTIFICATE-----\n" + b64 + b"-----END TRUSTED CERTIFICATE-----\n"


@dataclass(frozen=True)
class Case:
    """One form of the host's TLS files, what sendmail does with it, what doctor says."""

    #: writes the files (the daemon's spec and files are built, not yet started)
    setup: Callable[[SendmailDaemon], None]
    outcome: str  # VERIFIED, UNVERIFIED or NOT_OFFERED
    #: (code, severity, file name) doctor reports, or None for no finding
    finding: tuple[str, str, str] | None = None
    #: words the finding's message holds: the cause named
    says: str = ""
    #: words its fix holds
    fix: str = ""
    #: spec tls settings to change (paths relative to the work directory)
    tls: dict[str, Any] | None = None
    #: spec mc.defines to add
    defines: dict[str, str] | None = None
    #: directories made (mode 0777) before the fixture installs the files the spec names
    open_dirs: tuple[str, ...] = ()


def _server(cert: Callable[[SendmailDaemon, Any], bytes], key: Any = None) -> Callable[..., None]:
    """Install a server certificate file built by `cert(d, key)` and the key as PKCS #8."""

    def setup(d: SendmailDaemon) -> None:
        k = key() if callable(key) else ec.generate_private_key(ec.SECP256R1())
        d.server_cert.write_bytes(cert(d, k))
        d.server_key.write_bytes(key_pem(k))

    return setup


def _server_key(form: Callable[[Any, bytes], bytes], key: Any = None) -> Callable[..., None]:
    """Install a fresh certificate and its key in the form `form(key, cert_pem)` gives."""

    def setup(d: SendmailDaemon) -> None:
        k = key() if callable(key) else ec.generate_private_key(ec.SECP256R1())
        cert = _pem(_cert(d, k))
        d.server_cert.write_bytes(cert)
        d.server_key.write_bytes(form(k, cert))

    return setup


def _rsa(bits: int) -> Callable[[], rsa.RSAPrivateKey]:
    return lambda: rsa.generate_private_key(65537, bits)


def _intermediate(d: SendmailDaemon) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    return _cert(d, key, cn="tlsc Test Intermediate", ca=True), key


def _chain(into_ca_file: bool) -> Callable[[SendmailDaemon], None]:
    def setup(d: SendmailDaemon) -> None:
        inter, inter_key = _intermediate(d)
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _pem(_cert(d, key, issuer=(inter, inter_key)))
        d.server_key.write_bytes(key_pem(key))
        if into_ca_file:
            d.server_cert.write_bytes(leaf)
            (d.work / "tls" / "ca.crt").write_bytes(d.ca.cert_pem + _pem(inter))
        else:
            d.server_cert.write_bytes(leaf + _pem(inter))

    return setup


def _combined(mode: int) -> Callable[[SendmailDaemon], None]:
    def setup(d: SendmailDaemon) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        d.server_cert.write_bytes(_pem(_cert(d, key)) + key_pem(key))
        d.server_cert.chmod(mode)

    return setup


def _key_mode(mode: int, owner: int = 0) -> Callable[[SendmailDaemon], None]:
    def setup(d: SendmailDaemon) -> None:
        d.server_key.chmod(mode)
        os.chown(d.server_key, owner, -1)

    return setup


def _key_link(link_in_open_dir: bool) -> Callable[[SendmailDaemon], None]:
    """The key as a symbolic link, from or to a directory everyone can write (not sticky).

    sendmail checks the directories of the path it is given (the link's), and the
    file the link leads to, not the directories on the way to it."""

    def setup(d: SendmailDaemon) -> None:
        open_dir = d.work / "open"
        real = d.work / "tls" / "real.key" if link_in_open_dir else open_dir / "server.key"
        d.server_key.rename(real)
        d.server_key.symlink_to(real)

    return setup


def _bundle(d: SendmailDaemon) -> None:
    """A public bundle's worth of roots (more than doctor's BUNDLE_SIZE), two of them
    expired, as Debian's ca-certificates.crt holds, and the test CA."""
    roots = []
    for i in range(12):
        key = ec.generate_private_key(ec.SECP256R1())
        expired = {"not_before": dt.timedelta(days=-400), "days": -30} if i < 2 else {}
        roots.append(_pem(_cert(d, key, cn=f"Public Root {i}", ca=True, **expired)))
    (d.work / "tls" / "ca.crt").write_bytes(b"".join(roots) + d.ca.cert_pem)


def _expired_ca_too(d: SendmailDaemon) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    old = _cert(
        d, other, issuer=None, cn="old CA", ca=True, not_before=dt.timedelta(days=-400), days=-30
    )
    (d.work / "tls" / "ca.crt").write_bytes(d.ca.cert_pem + _pem(old))


def _crl_file(
    data: Callable[[SendmailDaemon], bytes], mode: int = 0o644
) -> Callable[[SendmailDaemon], None]:
    def setup(d: SendmailDaemon) -> None:
        crl = d.work / "tls" / "ca.crl"
        crl.write_bytes(data(d))
        crl.chmod(mode)

    return setup


def _revoking(encoding: serialization.Encoding = _PEM) -> Callable[[SendmailDaemon], bytes]:
    """A current CRL that revokes the client certificate the test presents."""
    return lambda d: _crl(d, [_client(d).cert.serial_number], dt.timedelta(days=7)).public_bytes(
        encoding
    )


def _other_crl() -> bytes:
    """A current CRL of another CA."""
    other = ThrowawayCA("tlsc Other CA")
    now = dt.datetime.now(dt.UTC)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(other.cert.subject)
        .last_update(now - dt.timedelta(days=1))
        .next_update(now + dt.timedelta(days=7))
        .sign(other.key, hashes.SHA256())
    )
    return crl.public_bytes(_PEM)


def _expired_crl(d: SendmailDaemon) -> bytes:
    return _crl(d, [], dt.timedelta(days=-1)).public_bytes(_PEM)


_CLIENTS: dict[Path, Issued] = {}


def _client(d: SendmailDaemon) -> Issued:
    """The client certificate the test presents to this daemon."""
    if d.work not in _CLIENTS:
        _CLIENTS[d.work] = d.ca.issue("client.tlsc.test", client=True)
    return _CLIENTS[d.work]


def _plain(data: Callable[[bytes], bytes]) -> Callable[[Any, bytes], bytes]:
    return lambda key, cert: data(key_pem(key))


CRL = {"crl": "tls/ca.crl", "request_client_cert": True}

CASES = {
    # private keys
    "key PKCS#8": Case(_server_key(lambda k, c: key_pem(k)), VERIFIED),
    "key SEC1 (BEGIN EC PRIVATE KEY)": Case(
        _server_key(lambda k, c: _key(k, serialization.PrivateFormat.TraditionalOpenSSL)),
        VERIFIED,
    ),
    "key RSA PKCS#1 (BEGIN RSA PRIVATE KEY)": Case(
        _server_key(
            lambda k, c: _key(k, serialization.PrivateFormat.TraditionalOpenSSL), _rsa(2048)
        ),
        VERIFIED,
    ),
    "key Ed25519": Case(
        _server_key(lambda k, c: key_pem(k), ed25519.Ed25519PrivateKey.generate), VERIFIED
    ),
    "key CRLF line ends": Case(_server_key(_plain(lambda p: p.replace(b"\n", b"\r\n"))), VERIFIED),
    "key byte order mark": Case(_server_key(_plain(lambda p: b"\xef\xbb\xbf" + p)), VERIFIED),
    "key text around the PEM": Case(
        _server_key(_plain(lambda p: b"Bag Attributes\n    friendlyName: mx\n" + p + b"junk\n")),
        VERIFIED,
    ),
    "key file holds the certificate first": Case(
        _server_key(lambda k, c: c + key_pem(k)), VERIFIED
    ),
    "key encrypted PKCS#8": Case(
        _server_key(lambda k, c: key_pem(k, b"secret")),
        NOT_OFFERED,
        ("D010", "error", "server.key"),
        "is encrypted",
    ),
    "key encrypted traditional (Proc-Type)": Case(
        _server_key(
            lambda k, c: _key(k, serialization.PrivateFormat.TraditionalOpenSSL, b"secret")
        ),
        NOT_OFFERED,
        ("D010", "error", "server.key"),
        "is encrypted",
    ),
    "key DER": Case(
        _server_key(lambda k, c: _key(k, encoding=_DER)),
        NOT_OFFERED,
        ("D010", "error", "server.key"),
        "is not in PEM form",
        fix="openssl pkey -inform DER -in",
    ),
    "key file holds another key first": Case(
        _server_key(lambda k, c: key_pem(ec.generate_private_key(ec.SECP256R1())) + key_pem(k)),
        NOT_OFFERED,
        ("D011", "error", "server.key"),
        "does not belong to the certificate",
    ),
    # certificate files
    "cert CRLF line ends": Case(
        _server(lambda d, k: _pem(_cert(d, k)).replace(b"\n", b"\r\n")), VERIFIED
    ),
    "cert byte order mark": Case(
        _server(lambda d, k: b"\xef\xbb\xbf" + _pem(_cert(d, k))), VERIFIED
    ),
    "cert key first in the file": Case(
        _server(lambda d, k: key_pem(k) + _pem(_cert(d, k))), VERIFIED
    ),
    "cert DER": Case(
        _server(lambda d, k: _cert(d, k).public_bytes(_DER)),
        NOT_OFFERED,
        ("D012", "error", "server.crt"),
        "holds no PEM certificate",
        fix="openssl x509 -inform DER -in",
    ),
    # OpenSSL loads these; cryptography cannot read their facts
    "cert issuer alt name IP address of five bytes": Case(
        _server(lambda d, k: _pem(_cert(d, k, extra=_SAN_IP5))),
        VERIFIED,  # OpenSSL 3.0 verifies it: the warning says "may"
        ("D012", "warning", "server.crt"),
        "cannot be parsed here",
    ),
    "cert an extension twice": Case(
        _server(_extension_twice),
        VERIFIED,  # OpenSSL 3.0 verifies it: the warning says "may"
        ("D012", "warning", "server.crt"),
        "cannot be parsed here",
    ),
    "cert CA certificate first": Case(
        _server(lambda d, k: d.ca.cert_pem + _pem(_cert(d, k))),
        NOT_OFFERED,
        ("D011", "error", "server.key"),
        "belongs to certificate 2 of",
    ),
    "cert intermediate in the cert file only": Case(
        _chain(into_ca_file=False),
        UNVERIFIED,
        ("D019", "warning", "server.crt"),
        "sendmail sends only its first certificate",
    ),
    "cert intermediate in the CA file": Case(_chain(into_ca_file=True), VERIFIED),
    "cert with an unrelated CA after it": Case(
        _server(lambda d, k: _pem(_cert(d, k)) + _pem(_intermediate(d)[0])), VERIFIED
    ),
    "cert RSA 1024": Case(
        _server(lambda d, k: _pem(_cert(d, k)), _rsa(1024)),
        NOT_OFFERED,
        ("D017", "error", "server.crt"),
        "RSA key of 1024 bits, too weak for OpenSSL's security level 2",
    ),
    **{
        f"cert EC {curve.name}": Case(
            _server(lambda d, k: _pem(_cert(d, k)), lambda c=curve: ec.generate_private_key(c())),
            HANDSHAKE_FAILS,
            ("D017", "error", "server.crt"),
            f"has an EC key on {curve.name}, a curve TLS clients do not offer",
        )
        for curve in (ec.SECP256K1, ec.BrainpoolP256R1, ec.SECP224R1)
    },
    **{
        f"cert EC {curve.name}": Case(
            _server(lambda d, k: _pem(_cert(d, k)), lambda c=curve: ec.generate_private_key(c())),
            VERIFIED,
        )
        for curve in (ec.SECP384R1, ec.SECP521R1)
    },
    "cert RSA 2048": Case(_server(lambda d, k: _pem(_cert(d, k)), _rsa(2048)), VERIFIED),
    "cert Ed25519": Case(
        _server(lambda d, k: _pem(_cert(d, k)), ed25519.Ed25519PrivateKey.generate), VERIFIED
    ),
    "cert signed with SHA-1": Case(
        _server(lambda d, k: _pem(_sha1_signed(d, k))),
        NOT_OFFERED,
        ("D017", "error", "server.crt"),
        "signed with SHA-1",
    ),
    "cert not yet valid": Case(
        _server(lambda d, k: _pem(_cert(d, k, not_before=dt.timedelta(days=2)))),
        UNVERIFIED,
        ("D013", "error", "server.crt"),
        "is not valid until",
    ),
    "cert expired": Case(
        _server(lambda d, k: _pem(_cert(d, k, not_before=dt.timedelta(days=-40), days=-1))),
        UNVERIFIED,
        ("D013", "error", "server.crt"),
        "expired on",
    ),
    "cert for clientAuth only (the client certificate)": Case(
        lambda d: d.install_server_cert(d.ca.issue(d.fqdn, client=True)),
        UNVERIFIED,
        ("D039", "warning", "server.crt"),
        "extended key usage (clientAuth) lacks serverAuth",
    ),
    "cert and key in one file 0600": Case(
        _combined(0o600), VERIFIED, tls={"server_key": "tls/server.crt"}
    ),
    "cert and key in one file 0644": Case(
        _combined(0o644),
        NOT_OFFERED,
        ("D005", "error", "server.crt"),
        "the server key is readable by everyone (mode 0644)",
        tls={"server_key": "tls/server.crt"},
    ),
    # the key's mode, owner and path (sendmail's safefile rules)
    "key 0640": Case(
        _key_mode(0o640),
        NOT_OFFERED,
        ("D005", "error", "server.key"),
        "readable by its group (mode 0640) and DontBlameSendmail lacks GroupReadableKeyFile",
    ),
    "key 0640 with GroupReadableKeyFile": Case(
        _key_mode(0o640), VERIFIED, tls={"group_readable_key": True}
    ),
    "key 0644 with GroupReadableKeyFile": Case(
        _key_mode(0o644),
        NOT_OFFERED,
        ("D005", "error", "server.key"),
        "readable by everyone (mode 0644)",
        tls={"group_readable_key": True},
    ),
    "key owned by TrustedUser": Case(
        _key_mode(0o600, 65534), VERIFIED, defines={"confTRUSTED_USER": "nobody"}
    ),
    "key owned by another user": Case(
        _key_mode(0o600, 65534),
        NOT_OFFERED,
        ("D003", "error", "server.key"),
        "owned by uid 65534, not root",
    ),
    "key linked into a world-writable directory": Case(
        _key_link(False), VERIFIED, open_dirs=("open",)
    ),
    "key named by a link in a world-writable directory": Case(
        _key_link(True),
        NOT_OFFERED,
        ("D006", "error", "server.key"),
        "which everyone can write (mode 0777)",
        tls={"server_key": "open/server.key"},
        open_dirs=("open",),
    ),
    # CA file
    "CA file with an expired CA besides": Case(
        _expired_ca_too,
        VERIFIED,
        ("D013", "warning", "ca.crt"),
        "/CN=old CA in the CA file",
        fix="replace it in",
    ),
    "CA file a bundle with expired roots": Case(_bundle, VERIFIED),
    "CA file of TRUSTED CERTIFICATEs": Case(
        lambda d: (d.work / "tls" / "ca.crt").write_bytes(_trusted(d.ca.cert)), VERIFIED
    ),
    "cert TRUSTED CERTIFICATE": Case(
        _server(lambda d, k: _trusted(_cert(d, k))),
        NOT_OFFERED,
        ("D012", "error", "server.crt"),
        "is a TRUSTED CERTIFICATE, a form sendmail reads only in the CA file",
    ),
    "CA directory a file": Case(
        lambda d: None,
        VERIFIED,
        ("D001", "warning", "ca.crt"),
        "the CA directory (tls.ca_cert_path) is not a directory",
        tls={"ca_cert_path": "tls/ca.crt"},
    ),
    "CA directory missing": Case(
        lambda d: None,
        VERIFIED,
        ("D001", "warning", "nowhere"),
        "the CA directory (tls.ca_cert_path) does not exist",
        tls={"ca_cert_path": "nowhere"},
    ),
    "CA file DER": Case(
        lambda d: (d.work / "tls" / "ca.crt").write_bytes(d.ca.cert.public_bytes(_DER)),
        NOT_OFFERED,
        ("D012", "error", "ca.crt"),
        "holds no PEM certificate",
    ),
}

#: CRLs: the outcome is whether sendmail refuses the revoked client certificate (verify=FAIL)
CRL_CASES = {
    "CRL PEM": Case(_crl_file(_revoking()), "FAIL", tls=CRL),
    "CRL group-writable": Case(
        _crl_file(_revoking(), 0o664),
        "FAIL",
        ("D004", "warning", "ca.crl"),
        "logs it as unsafe, yet still reads it",
        tls=CRL,
    ),
    "CRL DER": Case(
        _crl_file(_revoking(_DER)), "OK", ("D018", "warning", "ca.crl"), "holds no PEM CRL", tls=CRL
    ),
    "CRL after another CA's": Case(
        _crl_file(lambda d: _other_crl() + _revoking()(d)),
        "OK",
        ("D018", "warning", "ca.crl"),
        "holds 2 CRLs, but sendmail reads only the first (from /O=tlsc test/CN=tlsc Other CA)",
        tls=CRL,
    ),
    "CRL past its next update": Case(
        _crl_file(_expired_crl),
        "FAIL",
        ("D018", "warning", "ca.crl"),
        "is past its next update",
        tls=CRL,
    ),
}


def _prepare(make: DaemonFactory, case: Case) -> SendmailDaemon:
    def edit(spec: dict[str, Any]) -> None:
        tls = spec["defaults"]["tls"]
        work = Path(tls["server_cert"]).parent.parent
        for name, value in (case.tls or {}).items():
            tls[name] = str(work / value) if isinstance(value, str) else value
        spec["defaults"]["mc"]["defines"].update(case.defines or {})
        for name in case.open_dirs:
            (work / name).mkdir()
            (work / name).chmod(0o777)

    daemon = make(start=False, edit=edit)
    case.setup(daemon)
    daemon.start()
    return daemon


def _doctor(daemon: SendmailDaemon) -> list[Finding]:
    cluster = validate(load_file(daemon.spec_path)).cluster
    assert cluster is not None
    host = resolve(cluster, daemon.host)
    return diagnose(host, str(daemon.spec_path), check_sendmail=False)


def _root_only(daemon: SendmailDaemon) -> ssl.SSLContext:
    """A client that verifies against the test CA's root alone (no intermediates)."""
    roots = daemon.work / "client-roots.pem"
    roots.write_bytes(daemon.ca.cert_pem)
    context = ssl.create_default_context(cafile=str(roots))
    context.check_hostname = False  # the name is doctor's D015, tested elsewhere
    return context


def _outcome(daemon: SendmailDaemon, client: Issued | None = None) -> str:
    """What a client sees: STARTTLS offered? does a verifying handshake succeed?"""
    context = _root_only(daemon)
    if client is not None:
        client.write(daemon.work / "client-test.crt", daemon.work / "client-test.key")
        context.load_cert_chain(daemon.work / "client-test.crt", daemon.work / "client-test.key")
    with smtplib.SMTP("127.0.0.1", daemon.port, timeout=10) as smtp:
        smtp.ehlo("client.tlsc.test")
        if not smtp.has_extn("starttls"):
            return NOT_OFFERED
        try:
            smtp.starttls(context=context)
        except ssl.SSLCertVerificationError:
            return UNVERIFIED
        except ssl.SSLError:
            return HANDSHAKE_FAILS
        smtp.ehlo("client.tlsc.test")
    return VERIFIED


def _check(daemon: SendmailDaemon, case: Case) -> None:
    found = [f for f in _doctor(daemon) if f.code not in ("D021", "D022")]
    got = [(f.code, f.severity, Path(f.path).name) for f in found]
    assert got == ([case.finding] if case.finding else []), [f.message for f in found]
    if case.finding:
        assert case.says in found[0].message, found[0].message
        assert case.fix in found[0].fix, found[0].fix


@pytest.mark.parametrize("name", list(CASES))
def test_doctor_agrees_with_the_daemon(
    sendmail_daemon: DaemonFactory, release: object, name: str
) -> None:
    case = CASES[name]
    daemon = _prepare(sendmail_daemon, case)
    assert _outcome(daemon) == case.outcome, daemon.diagnostics()
    _check(daemon, case)
    # doctor's verdict follows sendmail's: an error exactly when STARTTLS is not offered
    errors = [f for f in _doctor(daemon) if f.severity == "error"]
    if case.outcome in (NOT_OFFERED, HANDSHAKE_FAILS):
        assert errors
    elif case.outcome == VERIFIED:
        assert not errors


@pytest.mark.parametrize("name", list(CRL_CASES))
def test_doctor_agrees_with_the_daemon_on_crls(
    sendmail_daemon: DaemonFactory, release: object, name: str
) -> None:
    case = CRL_CASES[name]
    daemon = _prepare(sendmail_daemon, case)
    assert _outcome(daemon, _client(daemon)) == VERIFIED
    line = daemon.wait_for_log(r"STARTTLS=server, relay=.* verify=")
    assert f"verify={case.outcome}," in line, daemon.diagnostics()
    _check(daemon, case)


@pytest.mark.parametrize("layout", ["unhashed", "hashed", "one added after the rehash"])
def test_ca_directory_hash_links(
    sendmail_daemon: DaemonFactory, release: object, layout: str
) -> None:
    """Only the client's CA is in tls.ca_cert_path: sendmail verifies its certificate
    exactly when `openssl rehash` linked it there (D009 otherwise)."""

    def edit(spec: dict[str, Any]) -> None:
        tls = spec["defaults"]["tls"]
        tls["ca_cert_path"] = str(Path(tls["server_cert"]).parent.parent / "cadir")
        tls["request_client_cert"] = True

    daemon = sendmail_daemon(start=False, edit=edit)
    cadir = daemon.work / "cadir"
    cadir.mkdir()
    (daemon.work / "tls" / "ca.crt").write_bytes(ThrowawayCA("tlsc Other CA").cert_pem)
    if layout == "one added after the rehash":
        (cadir / "other.pem").write_bytes(ThrowawayCA("tlsc Older CA").cert_pem)
        subprocess.run(["openssl", "rehash", str(cadir)], check=True)
    (cadir / "test-ca.pem").write_bytes(daemon.ca.cert_pem)
    if layout == "hashed":
        subprocess.run(["openssl", "rehash", str(cadir)], check=True)
    daemon.start()
    assert _outcome(daemon, _client(daemon)) == VERIFIED
    line = daemon.wait_for_log(r"STARTTLS=server, relay=.* verify=")
    found = [(f.code, f.severity, f.path) for f in _doctor(daemon) if f.code == "D009"]
    if layout == "hashed":
        assert "verify=OK," in line and found == []
    else:
        assert "verify=FAIL," in line, daemon.diagnostics()
        assert found == [("D009", "warning", str(cadir))]


_SECLEVEL_1 = """openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
CipherString = DEFAULT@SECLEVEL=1
"""


def test_security_level_comes_from_the_hosts_openssl_cnf(
    sendmail_daemon: DaemonFactory,
    release: object,
    tmp_path: Path,
) -> None:
    """An RSA-1024 certificate is refused at Debian's level 2 (D017) but loaded where
    openssl.cnf lowers the level to 1: doctor reads ROOT/etc/ssl/openssl.cnf."""
    daemon = sendmail_daemon(start=False)
    _server(lambda d, k: _pem(_cert(d, k)), _rsa(1024))(daemon)
    cnf = daemon.work / "openssl.cnf"
    cnf.write_text(_SECLEVEL_1)
    daemon.binds.append((cnf, "/etc/ssl/openssl.cnf"))  # what the daemon's OpenSSL reads
    daemon.start()
    with smtplib.SMTP("127.0.0.1", daemon.port, timeout=10) as smtp:
        smtp.ehlo("client.tlsc.test")
        assert smtp.has_extn("starttls"), daemon.diagnostics()
    image = tmp_path / "img"
    shutil.copytree(
        daemon.work,
        image / daemon.work.relative_to("/"),
        symlinks=True,
        ignore=shutil.ignore_patterns("dev"),  # the daemon's /dev/log socket
    )
    (image / "etc" / "ssl").mkdir(parents=True)
    (image / "etc" / "ssl" / "openssl.cnf").write_text(_SECLEVEL_1)
    image.chmod(0o755)
    cluster = validate(load_file(daemon.spec_path)).cluster
    assert cluster is not None
    host = resolve(cluster, daemon.host)
    assert diagnose(host, str(daemon.spec_path), image, check_sendmail=False) == []
    (image / "etc" / "ssl" / "openssl.cnf").write_text("# CipherString = DEFAULT@SECLEVEL=1\n")
    [found] = diagnose(host, str(daemon.spec_path), image, check_sendmail=False)
    assert (found.code, found.severity) == ("D017", "error")
    assert "too weak for OpenSSL's security level 2" in found.message


def _dh_1024(d: SendmailDaemon) -> None:
    subprocess.run(
        ["openssl", "dhparam", "-dsaparam", "-out", str(d.work / "tls" / "dh.pem"), "1024"],
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize(
    ("dh_params", "key", "dhe", "finding"),
    [
        ("file, 1024 bits", _rsa(2048), False, ("D016", "dh.pem")),
        ("5", _rsa(2048), False, ("D016", "cluster.yaml")),
        ("i", _rsa(2048), True, None),
        ("file, 2048 bits", _rsa(2048), True, None),
        ("file, 1024 bits", lambda: ec.generate_private_key(ec.SECP256R1()), None, None),
    ],
    ids=["1024-bit file", "5", "i", "2048-bit file", "1024-bit file, EC certificate"],
)
def test_weak_dh_parameters(
    sendmail_daemon: DaemonFactory,
    release: object,
    dh_params: str,
    key: Callable[[], Any],
    dhe: bool | None,
    finding: tuple[str, str] | None,
) -> None:
    """DH parameters below OpenSSL's security level are logged as set, yet leave no DHE
    cipher (a DHE-only client gets 'no shared cipher'); with an EC certificate there
    is no DHE cipher to lose, so doctor says nothing."""

    def edit(spec: dict[str, Any]) -> None:
        if not dh_params.startswith("file"):
            spec["defaults"]["tls"]["dh_params"] = dh_params

    daemon = sendmail_daemon(start=False, edit=edit)
    _server(lambda d, k: _pem(_cert(d, k)), key)(daemon)
    if dh_params == "file, 1024 bits":
        _dh_1024(daemon)
    daemon.start()
    if dhe is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers("DHE-RSA-AES128-GCM-SHA256")
        with smtplib.SMTP("127.0.0.1", daemon.port, timeout=10) as smtp:
            smtp.ehlo("client.tlsc.test")
            try:
                smtp.starttls(context=context)
                got = True
            except ssl.SSLError:
                got = False
        assert got is dhe, daemon.diagnostics()
    found = [(f.code, Path(f.path).name, f.severity) for f in _doctor(daemon)]
    assert found == ([(*finding, "warning")] if finding else [])


def _named(cn: str, dns: list[str], ips: list[str]) -> x509.Certificate:
    """A self-signed certificate with common name `cn` and these SANs."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256())


@pytest.mark.parametrize(
    ("cn", "dns", "ips", "fqdn"),
    [
        ("mx1.example.net", ["mx1.example.net"], [], "mx1.example.net"),
        ("mx1.example.net", ["MX1.Example.NET"], [], "mx1.example.net"),
        ("mx1.example.net", [], [], "mx1.example.net"),  # CN only: peers fall back to it
        ("mx1.example.net", ["other.example.net"], [], "mx1.example.net"),  # SAN wins
        ("mx1.example.net", [], ["192.0.2.1"], "mx1.example.net"),  # no DNS SAN: CN
        ("x", ["*.example.net"], [], "mx1.example.net"),
        ("x", ["*.example.net"], [], "a.mx1.example.net"),  # one label only
        ("x", ["*.example.net"], [], "example.net"),
        ("x", ["*.mx1.example.net", "mx1.example.net"], [], "mx1.example.net"),
        ("x", ["mx.xn--bcher-kva.example"], [], "mx.bücher.example"),  # IDN: the A-label
        ("x", ["mx.xn--bcher-kva.example"], [], "mx.xn--bcher-kva.example"),
        ("x", ["mx.bucher.example"], [], "mx.bücher.example"),
    ],
)
def test_host_name_check_agrees_with_openssl(
    tmp_path: Path, cn: str, dns: list[str], ips: list[str], fqdn: str
) -> None:
    """D015 exactly when OpenSSL's X509_check_host (what verifying peers run, asked for
    the name DNS gives them: the A-label) refuses the name."""
    cert = _named(cn, dns, ips)
    path = tmp_path / "server.crt"
    path.write_bytes(_pem(cert))
    wanted = fqdn.encode("idna").decode()
    result = subprocess.run(
        ["openssl", "x509", "-in", str(path), "-noout", "-checkhost", wanted],
        capture_output=True,
        text=True,
        check=True,
    )
    openssl_matches = " does match certificate" in result.stdout
    assert (check_name(path, cert, fqdn) == []) is openssl_matches, result.stdout


def test_a_key_cryptography_cannot_read(sendmail_daemon: DaemonFactory, release: object) -> None:
    """A self-signed SM2 certificate and key (OpenSSL makes them, `cryptography` reads
    neither key): sendmail refuses the key ('unknown certificate type'), doctor says
    D010 for it, runs through the rest, and blames neither the certificate's key nor
    the CA directory it lies in."""
    daemon = sendmail_daemon(start=False)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "sm2", "-nodes", "-sm3", "-days", "2",
            "-subj", f"/CN={daemon.fqdn}", "-addext", f"subjectAltName=DNS:{daemon.fqdn}",
            "-keyout", str(daemon.server_key), "-out", str(daemon.server_cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    daemon.server_key.chmod(0o600)
    daemon.start()
    assert _outcome(daemon) == NOT_OFFERED
    found = [(f.code, f.severity, Path(f.path).name) for f in _doctor(daemon)]
    assert found == [("D014", "warning", "server.crt"), ("D010", "error", "server.key")]
