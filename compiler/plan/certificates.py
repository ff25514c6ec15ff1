"""Certificate facts: what the certificates a host's spec names say about
themselves, read where the plan reads the managed files (--root DIR,
--state DIR/HOST).

For tls.server_cert, tls.client_cert and tls.ca_cert the plan shows the
subject, issuer, expiry, days left and the file's SHA-256 (of a CA bundle,
the first certificate's facts and how many it holds). It never shows the
bytes, never opens a key file, and its error texts are its own words, never
the parser's, which could quote the file: a private key stored at a
certificate path is "holds no PEM certificate", nothing more.

A certificate the spec names that does not exist, or holds no certificate,
is warning P005: sendmail skips the file with one syslog line and, for the
server certificate or the CA file, offers no STARTTLS at all.

cryptography is imported only when a certificate file is there to be read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.fileio import read_regular
from compiler.plan.model import CertificateFacts, PlanWarning
from compiler.plan.observe import host_path
from compiler.tlsfiles import CA_FILE, CLIENT_CERT, SERVER_CERT, Role

if TYPE_CHECKING:
    from compiler.resolve import HostConfig

#: the spec's certificate settings, in the order the plan lists them
ROLES: tuple[tuple[str, Role], ...] = (
    ("server_cert", SERVER_CERT),
    ("client_cert", CLIENT_CERT),
    ("ca_cert", CA_FILE),
)
_ROLE = dict(ROLES)

MISSING = "missing"
NOT_PEM = "holds no PEM certificate"
NOT_REGULAR = "not a regular file"


def certificate_paths(config: HostConfig) -> list[tuple[str, str]]:
    """(role, host path) of each certificate the host's spec names (none with TLS off)."""
    tls = config.settings.tls
    if not tls.enabled:
        return []
    out = []
    for role, _ in ROLES:
        path = getattr(tls, role)
        if path is not None:
            out.append((role, str(path)))
    return out


def read_certificate(
    role: str, path: str, file: Path, now: dt.datetime | None = None
) -> CertificateFacts:
    """The facts of the certificate file `file` (the host's `path`), or why there are none."""
    try:
        mode = file.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return CertificateFacts(path, role, error=MISSING)
    except OSError as exc:
        return CertificateFacts(path, role, error=f"not readable ({exc.strerror})")
    if not stat.S_ISREG(mode):
        return CertificateFacts(path, role, error=NOT_REGULAR)
    try:
        data = read_regular(file)  # a file swapped for a FIFO meanwhile is not waited on
    except OSError as exc:
        return CertificateFacts(path, role, error=f"not readable ({exc.strerror})")
    sha = hashlib.sha256(data).hexdigest()
    # the parser is loaded only for a certificate that is there (a plan of
    # managed files alone never needs it)
    from cryptography import x509

    from compiler.probe.certinfo import cert_info

    try:
        certs = x509.load_pem_x509_certificates(data)
        info = cert_info(certs[0])
    except (ValueError, IndexError):  # the parser's message is not shown: it may quote the file
        return CertificateFacts(path, role, sha256=sha, error=NOT_PEM)
    return CertificateFacts(
        path,
        role,
        sha256=sha,
        subject=info.subject,
        issuer=info.issuer,
        not_after=info.not_after_text(),
        days_left=info.days_left(now),
        count=len(certs),
    )


def host_certificates(
    config: HostConfig, base: Path, now: dt.datetime | None = None
) -> list[CertificateFacts]:
    """The facts of every certificate the host's spec names, read under `base`."""
    now = now or dt.datetime.now(dt.UTC)
    return [
        read_certificate(role, path, host_path(base, path), now)
        for role, path in certificate_paths(config)
    ]


def none_present(facts: Sequence[CertificateFacts]) -> bool:
    """True when not one of the files exists (a --state tree of managed files only)."""
    return bool(facts) and all(f.error == MISSING for f in facts)


def certificate_warnings(facts: Sequence[CertificateFacts]) -> list[PlanWarning]:
    """P005 for each certificate that is missing or holds no certificate."""
    out = []
    for f in facts:
        role = _ROLE[f.role]
        if f.error == MISSING:
            what = "does not exist"
            fix = "install it there"
        elif f.error in (NOT_PEM, NOT_REGULAR):
            what = "holds no PEM certificate" if f.error == NOT_PEM else "is not a regular file"
            fix = "install the PEM certificate (-----BEGIN CERTIFICATE-----) there"
        else:
            continue  # unreadable by whoever runs the plan: not the host's fault
        out.append(
            PlanWarning(
                "P005",
                f"{role.label} {f.path} ({role.setting}) {what}, so after apply"
                f" {role.consequence}; {fix} or point {role.setting} at the right file",
                f.path,
            )
        )
    return out
