"""A doctor finding: a code, what is wrong (one sentence) and how to fix it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from compiler.problems import Severity, one_line

#: Every finding code, what it means; the README lists the same table.
CODES = {
    "D001": "a file or directory the spec names does not exist",
    "D002": "a TLS file is not a regular file",
    "D003": "a TLS file is owned by someone other than root or TrustedUser",
    "D004": "a TLS file is writable by its group or by others",
    "D005": "a private key is readable by more users than sendmail accepts",
    "D006": "a directory on the path of a TLS file is writable by its group or by others",
    "D007": "a TLS file is not readable by its owner",
    "D008": "a setting sendmail needs for STARTTLS is not set",
    "D009": "the CA directory holds CA certificates under no hashed name",
    "D010": "a private key is not an unencrypted PEM key",
    "D011": "a private key does not match its certificate",
    "D012": "a certificate file holds no PEM certificate",
    "D013": "a certificate has expired or is not valid yet",
    "D014": "a certificate expires within --min-days",
    "D015": "the server certificate does not name the host",
    "D016": "the DH parameters file holds no PEM DH parameters, or DH parameters are too small",
    "D017": "a certificate's key or signature OpenSSL refuses, or a curve TLS clients lack",
    "D018": "the CRL file holds no PEM CRL, or one past its next update",
    "D019": "the certificate file holds intermediates sendmail does not send",
    "D020": "sendmail.cf is missing",
    "D021": "sendmail.cf is older than sendmail.mc or starttls.m4",
    "D022": "access.db is missing or older than access",
    "D023": "sendmail.cf does not use the spec's server certificate",
    "D030": "the sendmail binary has no STARTTLS support",
    "D031": "the sendmail binary could not be checked",
    "D032": "sendmail reports errors in sendmail.cf",
    "D033": "the sendmail check was cut short at its timeout",
    "D034": "the sendmail binary is not the release the spec names",
    "D035": "the sendmail binary lacks what the spec asks for (DANE, MTA-STS)",
    "D036": "nothing answers MTA-STS socket map queries where tls.mta_sts points",
    "D037": "DANE's resolver does not answer or does not validate DNSSEC",
    "D038": "DANE's resolver is not on this host",
    "D039": "a certificate's extended key usage does not allow its role",
}


@dataclass(frozen=True, order=True)
class Finding:
    """One thing wrong on the host, with the fix."""

    path: str
    code: str
    severity: Severity
    message: str
    fix: str

    def as_dict(self, host: str) -> dict[str, str]:
        """The JSON shape: host, path, code, severity, message, fix."""
        return {
            "host": host,
            "path": self.path,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
        }


def format_text(findings: Iterable[Finding], color: bool = False) -> str:
    """`PATH: error|warning: CODE message`, then `  fix: ...`, for each finding."""
    out = []
    for f in findings:
        sev: str = f.severity
        if color:
            sev = ("\033[1;31m" if f.severity == "error" else "\033[1;33m") + sev + "\033[0m"
        # a path under --root may hold a newline: each finding stays two lines
        path, message, fix = one_line(f.path), one_line(f.message), one_line(f.fix)
        out.append(f"{path}: {sev}: {f.code} {message}\n  fix: {fix}\n")
    return "".join(out)


def format_json(host: str, findings: Iterable[Finding]) -> str:
    """A JSON list of finding objects."""
    return json.dumps([f.as_dict(host) for f in findings], indent=2) + "\n"
