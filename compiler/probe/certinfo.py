"""Certificate facts a mail administrator checks, read with the cryptography package.

Names are given in OpenSSL's one-line form (`/O=tlsc test/CN=mta1.example.net`),
the form sendmail logs in `cert-subject=` (there `+XX`-encoded) and the form a
spec's `subject:`, `issuer:` and `issuer_tags:` take, so a name can be copied
from tlsc's output into the spec.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

#: OpenSSL's short names for the attributes X509_NAME_oneline() prints
_SHORT_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.4": "SN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "street",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.12": "title",
    "2.5.4.15": "businessCategory",
    "2.5.4.17": "postalCode",
    "2.5.4.42": "GN",
    "2.5.4.43": "initials",
    "2.5.4.44": "generationQualifier",
    "2.5.4.46": "dnQualifier",
    "2.5.4.65": "pseudonym",
    "2.5.4.97": "organizationIdentifier",
    "0.9.2342.19200300.100.1.1": "UID",
    "0.9.2342.19200300.100.1.25": "DC",
    "1.2.840.113549.1.9.1": "emailAddress",
    "1.2.840.113549.1.9.2": "unstructuredName",
}


def oneline(name: x509.Name) -> str:
    """`name` as OpenSSL's X509_NAME_oneline() writes it: `/C=US/O=Example/CN=host`."""
    parts = []
    for attr in name:
        key = _SHORT_NAMES.get(attr.oid.dotted_string, attr.oid.dotted_string)
        value = attr.value if isinstance(attr.value, str) else attr.value.hex()
        text = "".join(c if " " <= c <= "~" else f"\\x{ord(c):02X}" for c in value)
        parts.append(f"/{key}={text}")
    return "".join(parts)


@dataclass(frozen=True)
class CertInfo:
    """What a certificate says about itself."""

    subject: str
    issuer: str
    common_names: tuple[str, ...]
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime

    @property
    def sans(self) -> list[str]:
        """Subject alternative names as `DNS:name` and `IP:address`."""
        return [f"DNS:{n}" for n in self.dns_names] + [f"IP:{a}" for a in self.ip_addresses]

    def days_left(self, now: dt.datetime | None = None) -> int:
        """Whole days until it expires (negative once expired)."""
        now = now or dt.datetime.now(dt.UTC)
        return (self.not_after - now) // dt.timedelta(days=1)

    def expired(self, now: dt.datetime | None = None) -> bool:
        """True once the certificate's validity has ended."""
        return (now or dt.datetime.now(dt.UTC)) > self.not_after

    def not_after_text(self) -> str:
        """The expiry as ISO 8601 UTC, e.g. `2027-01-31T12:00:00Z`."""
        return self.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")

    def names(self) -> list[str]:
        """The names it is valid for: its DNS and IP SANs, else its common names."""
        if self.dns_names or self.ip_addresses:
            return [*self.dns_names, *self.ip_addresses]
        return list(self.common_names)

    def matches(self, name: str) -> bool:
        """True when the certificate is valid for host name or IP address `name` (RFC 6125)."""
        try:
            address = ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            address = None
        if address is not None:
            return address in {_address(a) for a in self.ip_addresses}
        wanted = a_label(name.rstrip(".")).lower()
        candidates = self.dns_names if self.dns_names else self.common_names
        return any(_dns_match(pattern, wanted) for pattern in candidates)


def a_label(name: str) -> str:
    """`name` as DNS and certificates spell it: a Unicode label in its xn-- form
    (`mx.bücher.example` is `mx.xn--bcher-kva.example`); unchanged when it is ASCII
    or no IDNA name at all."""
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address of an iPAddress SAN; None for a network (8 or 32 bytes, `127.0.0.1/32`:
    cryptography reads those as networks, name constraints' form), which OpenSSL's host
    check never matches with an address."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _dns_match(pattern: str, name: str) -> bool:
    pattern = pattern.rstrip(".").lower()
    if pattern == name:
        return True
    # a wildcard stands for exactly one whole left-most label: *.example.com
    if pattern.startswith("*.") and "*" not in pattern[2:]:
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return False


class UnreadableCertificate(ValueError):
    """A certificate the cryptography package cannot take apart; the message says why.

    OpenSSL accepts certificates cryptography refuses (a subjectAltName IP
    address of 1 byte, an extension twice, BER where DER is due), and it parses
    extensions only when asked: so a TLS peer can send one, and the refusal
    comes from `cert.extensions` as a ValueError, a DuplicateExtension or an
    UnsupportedGeneralNameType. One type here, for the callers to catch.
    """


#: what cryptography raises for a certificate it cannot parse
_PARSE_ERRORS = (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)


def cert_info(cert: x509.Certificate) -> CertInfo:
    """The facts of one certificate; UnreadableCertificate when they cannot be read."""
    try:
        return _facts(cert)
    except _PARSE_ERRORS as exc:
        raise UnreadableCertificate(str(exc)) from None


def _facts(cert: x509.Certificate) -> CertInfo:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(a) for a in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns, ips = (), ()
    cns = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    return CertInfo(
        subject=oneline(cert.subject),
        issuer=oneline(cert.issuer),
        common_names=cns,
        dns_names=dns,
        ip_addresses=ips,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def cert_info_der(der: bytes) -> CertInfo:
    """The facts of a DER certificate (what a TLS peer sent); UnreadableCertificate if none."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except _PARSE_ERRORS as exc:
        raise UnreadableCertificate(str(exc)) from None
    return cert_info(cert)
