"""What a probe found about one target, and whether that passes a policy.

`ProbeResult.as_dict()` is the stable JSON shape of `tlsc verify --format
json` (README.md): target, port, starttls, version, cipher, bits, verify,
cert_subject, cert_issuer, cert_not_after, error.

* `starttls`: the server offered STARTTLS in its EHLO reply.
* `verify`: `OK` when the certificate chain verifies against the trusted CAs,
  `FAIL` when it does not (the session is still encrypted, as sendmail's
  `verify=FAIL`), null when no handshake was done.
* `error`: null when nothing is wrong; else the failure that ended the
  session, or the certificate's problems (a failed verification, a name
  that does not match, expiry within `min_days`, no client certificate
  request when one was expected, a certificate too malformed to read),
  joined by "; ". Certificate problems fail
  the exit status only under `--strict`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from compiler.probe.certinfo import CertInfo

#: the most of a certificate's names a sentence lists (one may hold thousands)
_NAMES_SHOWN = 10


@dataclass(frozen=True)
class ProbePolicy:
    """What a target must show to pass."""

    #: also require a verified certificate that names the host and lasts > min_days
    strict: bool = False
    min_days: int = 14
    #: require the server to ask for a client certificate
    expect_client_cert: bool = False


@dataclass
class ProbeResult:
    """The outcome of probing one target. Filled in phase by phase."""

    target: str
    host: str
    port: int
    #: the name the certificate must carry (the host's fqdn), if any
    server_name: str | None = None
    #: which CAs the certificate was verified against, for messages
    trust: str = "the system's trusted CAs"
    address: str | None = None
    greeting: str | None = None
    starttls: bool = False
    version: str | None = None
    cipher: str | None = None
    bits: int | None = None
    verify: str | None = None
    verify_error: str | None = None
    cert: CertInfo | None = None
    #: why the certificate's facts could not be read (cert is then None), if so
    cert_error: str | None = None
    name_matches: bool | None = None
    client_cert_requested: bool | None = None
    #: the failure that ended the session early (one sentence), if any
    error: str | None = None
    checked_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def handshake_ok(self) -> bool:
        """True when STARTTLS was offered and the TLS handshake succeeded."""
        return self.error is None and self.starttls and self.version is not None

    @property
    def days_left(self) -> int | None:
        """Whole days of validity the certificate has left, when one was seen."""
        return self.cert.days_left(self.checked_at) if self.cert else None

    def problems(self, policy: ProbePolicy = ProbePolicy()) -> list[str]:
        """Everything wrong with the target, one sentence each; fatal error first."""
        if self.error is not None:
            return [self.error]
        out: list[str] = []
        cert = self.cert
        if self.verify == "FAIL":
            out.append(f"the certificate does not verify against {self.trust}: {self.verify_error}")
        if self.cert_error is not None:
            out.append(self.cert_error)
        if cert is not None and self.name_matches is False and self.server_name:
            every = cert.names()
            names = ", ".join(every[:_NAMES_SHOWN]) or "no name"
            if len(every) > _NAMES_SHOWN:
                names += f" and {len(every) - _NAMES_SHOWN:,} more"
            out.append(f"the certificate is not valid for {self.server_name} (it names {names})")
        if cert is not None:
            days = cert.days_left(self.checked_at)
            date = cert.not_after.strftime("%Y-%m-%d")
            if cert.expired(self.checked_at):
                if self.verify_error != "certificate has expired":
                    out.append(f"the certificate expired on {date}")
            elif days <= policy.min_days:
                out.append(
                    f"the certificate expires in {days} day{'s' if days != 1 else ''}"
                    f" ({date}), within the {policy.min_days}-day margin"
                )
        if policy.expect_client_cert and self.handshake_ok and not self.client_cert_requested:
            if self.client_cert_requested is None:
                out.append("cannot tell whether the server asks for a client certificate")
            else:
                out.append("the server did not ask for a client certificate")
        return out

    def passed(self, policy: ProbePolicy = ProbePolicy()) -> bool:
        """Whether the target meets `policy` (the exit status of `tlsc verify`)."""
        if not self.handshake_ok:
            return False
        if policy.expect_client_cert and not self.client_cert_requested:
            return False
        if policy.strict:
            days = self.days_left
            return (
                self.verify == "OK"
                and self.name_matches is not False
                and days is not None
                and days > policy.min_days
            )
        return True

    def as_dict(self, policy: ProbePolicy = ProbePolicy()) -> dict[str, object]:
        """The stable JSON shape (README.md, `tlsc verify --format json`)."""
        problems = self.problems(policy)
        return {
            "target": self.target,
            "port": self.port,
            "starttls": self.starttls,
            "version": self.version,
            "cipher": self.cipher,
            "bits": self.bits,
            "verify": self.verify,
            "cert_subject": self.cert.subject if self.cert else None,
            "cert_issuer": self.cert.issuer if self.cert else None,
            "cert_not_after": self.cert.not_after_text() if self.cert else None,
            "error": "; ".join(problems) if problems else None,
        }
