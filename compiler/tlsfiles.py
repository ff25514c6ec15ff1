"""The TLS files a host's spec names: what each is for, and what sendmail
does without it.

Shared by `tlsc doctor` (which checks the files) and `tlsc plan` (which
lists the certificates' facts), so that neither reaches into the other.
Pure data, no imports beyond the standard library: the plan loads it on
every run, the certificate parser only when a certificate is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compiler.problems import Severity


@dataclass(frozen=True)
class Role:
    """What a file is for, and what sendmail does without it."""

    label: str  # "the server key"
    setting: str  # "tls.server_key"
    key: bool  # a private key (stricter read rules)
    #: what happens when sendmail cannot use the file: "STARTTLS is not offered"
    consequence: str
    severity: Severity = "error"
    #: sendmail reads the file even when safefile() calls it unsafe (only the CRL:
    #: tls.c load_crlfile() opens CRLFile whatever the safety check said)
    read_when_unsafe: bool = False

    def refused(self, it: str = "it") -> str:
        """What sendmail does with the file (`it`) once its safety check fails."""
        if self.read_when_unsafe:
            return f"so sendmail logs {it} as unsafe, yet still reads {it}"
        return f"so sendmail refuses {it} and {self.consequence}"


NO_STARTTLS = "STARTTLS is not offered"
NO_CLIENT_CERT = "no client certificate is presented when sending mail"
SERVER_CERT = Role("the server certificate", "tls.server_cert", False, NO_STARTTLS)
SERVER_KEY = Role("the server key", "tls.server_key", True, NO_STARTTLS)
CA_FILE = Role("the CA file", "tls.ca_cert", False, NO_STARTTLS)
CLIENT_CERT = Role("the client certificate", "tls.client_cert", False, NO_CLIENT_CERT, "warning")
CLIENT_KEY = Role("the client key", "tls.client_key", True, NO_CLIENT_CERT, "warning")
DH_PARAMS = Role(
    "the DH parameters file",
    "tls.dh_params",
    False,
    "sendmail uses its built-in DH parameters",
    "warning",
)
CRL = Role(
    "the CRL file",
    "tls.crl",
    False,
    "revoked certificates are not detected",
    "warning",
    read_when_unsafe=True,
)
