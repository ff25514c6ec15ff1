"""A TLS requirement checked against what a log shows of one session.

sendmail's TLS_req ruleset, in its order: no TLS at all fails every
requirement; VERIFY needs `${verify}` OK or TRUSTED; ENCR:n and VERIFY:n need
n key bits (max of `bits=A/B`); then the certificate checks: CN (the
certificate's CN is the peer's name, or the name given), CS and CI (the
subject and issuer, `+XX`-encoded as logged and as written in the access
value), CITag (an access entry `TAG:issuer OK`). Names compare without
regard to case, as sendmail's ruleset tokens do. Where the log cannot tell,
the outcome is *unknown*, never a guess. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NamedTuple

from compiler.logs.matching import AccessTable
from compiler.logs.sessions import ENCRYPTED, VERIFIED, Session
from compiler.sendmail.accessmap import Requirement, parse_requirement
from compiler.sendmail.xtext import unxtext

#: the bits ENCR asks for when none are written, and what "enough bits" means otherwise
DEFAULT_BITS = 128

#: reason code -> what it means (the README lists the same)
REASONS = {
    "no_starttls": "no STARTTLS at all (not offered, refused, or switched off by a rule)",
    "handshake_failed": "the TLS handshake broke off (verify SOFTWARE)",
    "not_verified": "the certificate did not verify (verify is not OK or TRUSTED)",
    "too_weak": "fewer key bits than the rule asks for",
    "cn_mismatch": "the certificate's CN is not the name asked for",
    "subject_mismatch": "the certificate's subject is not the one asked for (CS)",
    "issuer_mismatch": "the certificate's issuer is not the one asked for (CI)",
    "issuer_tag_mismatch": "the certificate's issuer is none of the tag's (CITag)",
}
UNKNOWN_REASONS = {
    "cert_unknown": "the log has no cert line (LogLevel below 12) for a CN/CS/CI/CITag check",
    "tls_unknown": "the log does not show the session's TLS (ESMTPS without a handshake line,"
    " or STARTTLS not tried then)",
    "verify_unknown": "the client was not asked for a certificate when the log was written",
}
_CN = re.compile(r"/CN=([^/]*)")


class Outcome(NamedTuple):
    """A requirement checked against a session: pass, fail or unknown, and why."""

    result: Literal["pass", "fail", "unknown"]
    reason: str = ""
    detail: str = ""


@dataclass(frozen=True)
class TlsState:
    """What a session's TLS would be under a map: None where the log cannot tell."""

    encrypted: bool | None
    verify: str | None
    bits: int | None
    subject: str | None = None  # +XX-encoded, as logged; None: no cert line
    issuer: str | None = None
    #: why the session is clear or unknown (`Try_TLS:x NO`), for the detail text
    cause: str | None = None


@lru_cache(maxsize=4096)
def requirement(value: str) -> Requirement | None:
    """The requirement a TLS_* value asks for; None for a value sendmail reads as no requirement."""
    try:
        return parse_requirement(value)
    except ValueError:
        return None


def certificate_cn(subject: str) -> str:
    """The CN of a logged (+XX-encoded) subject, as `${cn_subject}` holds it; '' without one."""
    found = _CN.findall(unxtext(subject))
    return found[-1] if found else ""


def _has_cert_checks(req: Requirement) -> bool:
    return bool(req.cn or req.subject or req.issuer or req.issuer_tag)


def _same(a: str, b: str) -> bool:
    """sendmail's ruleset tokens compare without regard to case; `%%` in a value is `%`."""
    return a.lower() == b.replace("%%", "%").lower()


def check(req: Requirement, state: TlsState, name: str, table: AccessTable) -> Outcome:
    """A requirement against a session's TLS, in the order sendmail's TLS_req checks it.

    `name` is the peer's name a bare CN compares with (`${server_name}` or
    `${client_name}`, an address in brackets when there is none).
    """
    cause = f" ({state.cause})" if state.cause else ""
    if state.encrypted is None:
        return Outcome("unknown", "tls_unknown", f"the log does not show the TLS{cause}")
    if not state.encrypted:
        verify = state.verify or "NONE"
        if verify == "SOFTWARE":
            return Outcome("fail", "handshake_failed", f"TLS handshake failed{cause}")
        return Outcome("fail", "no_starttls", f"no STARTTLS (verify={verify}){cause}")
    if req.level == "verify":
        if state.verify is None:
            return Outcome("unknown", "verify_unknown", f"not asked for a certificate{cause}")
        if state.verify not in VERIFIED:
            asked = " (no certificate asked for)" if state.verify == "NOT" else ""
            return Outcome("fail", "not_verified", f"verify={state.verify}{asked}")
    need = req.bits if req.bits is not None else (DEFAULT_BITS if req.level == "encrypt" else 0)
    if need:
        if state.bits is None:
            return Outcome("unknown", "tls_unknown", f"key bits not logged{cause}")
        if state.bits < need:
            return Outcome("fail", "too_weak", f"encryption too weak {state.bits} less than {need}")
    if not _has_cert_checks(req):
        return Outcome("pass")
    if state.subject is None or state.issuer is None:
        return Outcome("unknown", "cert_unknown", "no cert line in the log")
    if req.cn:
        expected = req.cn if isinstance(req.cn, str) else name
        cn = certificate_cn(state.subject)
        if not _same(cn, expected):
            return Outcome("fail", "cn_mismatch", f"CN {cn or '(none)'} does not match {expected}")
    if req.subject and not _same(state.subject, req.subject):
        return Outcome("fail", "subject_mismatch", f"Cert Subject {state.subject} not acceptable")
    if req.issuer and not _same(state.issuer, req.issuer):
        return Outcome("fail", "issuer_mismatch", f"Cert Issuer {state.issuer} not acceptable")
    if req.issuer_tag:
        hit = table.get(f"{req.issuer_tag}:{state.issuer}")
        if hit is None or hit.value.strip().upper() != "OK":
            return Outcome(
                "fail", "issuer_tag_mismatch", f"Cert Issuer {state.issuer} not acceptable"
            )
    return Outcome("pass")


def logged_state(session: Session) -> TlsState:
    """The session's TLS as the log shows it."""
    if not session.starttls:
        return TlsState(False, session.verify, 0)
    if session.verify in ENCRYPTED:
        return TlsState(
            True, session.verify, session.bits_max, session.cert_subject, session.cert_issuer
        )
    if session.verify == "UNKNOWN":  # ESMTPS, no handshake line
        return TlsState(None, None, None, cause="no handshake line")
    return TlsState(False, session.verify, 0)  # SOFTWARE: broke off
