"""What the certificate, key, CA and DH files hold (cryptography; no openssl command)."""

from __future__ import annotations

import base64
import datetime as dt
import re
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from compiler.doctor.files import Role
from compiler.doctor.finding import Finding
from compiler.probe.certinfo import cert_info

_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _read(path: Path, role: Role, code: str) -> bytes | Finding:
    try:
        return path.read_bytes()
    except OSError as exc:
        return Finding(
            str(path),
            code,
            "warning",
            f"{role.label} cannot be read here ({exc.strerror}), so its contents were not checked",
            "run tlsc doctor as root",
        )


def load_certificates(path: Path, role: Role) -> list[x509.Certificate] | Finding:
    """The PEM certificates in a file, or the finding that says why there are none."""
    data = _read(path, role, "D012")
    if isinstance(data, Finding):
        return data
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        return Finding(
            str(path),
            "D012",
            role.severity,
            f"{role.label} holds no PEM certificate, so {role.consequence}",
            f"put the PEM certificate (-----BEGIN CERTIFICATE-----) in {path}",
        )


def check_validity(
    path: Path, cert: x509.Certificate, role: Role, now: dt.datetime, min_days: int
) -> list[Finding]:
    """Expired (D013) or expiring within `min_days` (D014)."""
    info = cert_info(cert)
    date = f"{info.not_after:%Y-%m-%d}"
    what = role.label if role.label.endswith("certificate") else f"{info.subject} in {role.label}"
    if info.expired(now):
        return [
            Finding(
                str(path),
                "D013",
                role.severity,
                f"{what} expired on {date}; peers that verify it refuse it",
                f"renew it and install the new certificate at {path}",
            )
        ]
    days = info.days_left(now)
    if days <= min_days:
        return [
            Finding(
                str(path),
                "D014",
                "warning",
                f"{what} expires in {days} day{'' if days == 1 else 's'} ({date})",
                f"renew it before {date} and install the new certificate at {path}",
            )
        ]
    return []


def check_name(path: Path, cert: x509.Certificate, fqdn: str) -> list[Finding]:
    """The server certificate should name the host's fqdn (D015)."""
    info = cert_info(cert)
    if info.matches(fqdn):
        return []
    names = ", ".join(info.names()) or "no name"
    return [
        Finding(
            str(path),
            "D015",
            "warning",
            f"the server certificate names {names}, not {fqdn}, so peers that check the name"
            " refuse it",
            f"issue a certificate with subjectAltName DNS:{fqdn}",
        )
    ]


def check_key(key_path: Path, role: Role, cert: x509.Certificate | None) -> list[Finding]:
    """An unencrypted PEM private key (D010) that matches `cert` (D011)."""
    data = _read(key_path, role, "D010")
    if isinstance(data, Finding):
        return [data]
    problem = None
    if b"-----BEGIN" not in data:
        problem = "is not in PEM form"
    elif b"ENCRYPTED" in data:
        problem = "is encrypted (sendmail would prompt for its pass phrase)"
    else:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except TypeError:
            problem = "is encrypted (sendmail would prompt for its pass phrase)"
        except (ValueError, UnsupportedAlgorithm):
            problem = "holds no private key that can be read"
    if problem:
        return [
            Finding(
                str(key_path),
                "D010",
                role.severity,
                f"{role.label} {problem}, so sendmail cannot load it and {role.consequence}",
                f"install the unencrypted PEM key at {key_path}"
                " (openssl pkey -in KEY -out KEY.plain decrypts one)",
            )
        ]
    if cert is not None and key.public_key().public_bytes(*_SPKI) != cert.public_key().public_bytes(
        *_SPKI
    ):
        return [
            Finding(
                str(key_path),
                "D011",
                role.severity,
                f"{role.label} does not belong to the certificate it is paired with, so"
                f" sendmail's key check fails and {role.consequence}",
                "install the key the certificate was issued for, or the certificate for this key",
            )
        ]
    return []


def check_dh_params(path: Path, role: Role) -> list[Finding]:
    """PEM DH parameters (D016); sendmail falls back to its built-in group otherwise."""
    data = _read(path, role, "D016")
    if isinstance(data, Finding):
        return [data]
    if not _is_dh_params_pem(data):
        return [
            Finding(
                str(path),
                "D016",
                role.severity,
                f"{role.label} holds no PEM DH parameters, so {role.consequence}",
                f"write DH parameters to {path} (openssl dhparam -out FILE 2048),"
                " or set tls.dh_params: i",
            )
        ]
    return []


_DH_PEM = re.compile(
    rb"-----BEGIN (?:X9\.42 )?DH PARAMETERS-----\s*([A-Za-z0-9+/=\s]+?)\s*"
    rb"-----END (?:X9\.42 )?DH PARAMETERS-----"
)


def _der_items(data: bytes) -> list[tuple[int, bytes]] | None:
    """The (tag, contents) of each DER element in `data`, or None if it is not DER."""
    items = []
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            return None
        tag, length = data[i], data[i + 1]
        i += 2
        if length & 0x80:
            size = length & 0x7F
            if size == 0 or size > 4 or i + size > len(data):
                return None
            length = int.from_bytes(data[i : i + size], "big")
            i += size
        if i + length > len(data):
            return None
        items.append((tag, data[i : i + length]))
        i += length
    return items


def _is_dh_params_pem(data: bytes) -> bool:
    """PEM DH parameters: a SEQUENCE of INTEGERs p, g[, ...] (PKCS #3 or X9.42).

    Parsed here rather than by `cryptography`, which deprecates finite-field
    DH; sendmail (OpenSSL) still reads these files.
    """
    m = _DH_PEM.search(data)
    if m is None:
        return False
    try:
        der = base64.b64decode(b"".join(m.group(1).split()), validate=True)
    except ValueError:
        return False
    outer = _der_items(der)
    if outer is None or len(outer) != 1 or outer[0][0] != 0x30:
        return False
    inner = _der_items(outer[0][1])
    return (
        inner is not None
        and len(inner) >= 2
        and all(tag == 0x02 and body for tag, body in inner[:2])
        and int.from_bytes(inner[0][1], "big") > 2
    )
