"""The sendmail releases tlsc targets, and what each one has that the other lacks.

Two releases, as Debian builds them (each fact checked with that release's
own binary and cf files; tests/test_sendmail_818.py runs both):

* **8.17** — Debian 12 (bookworm), 8.17.1.9: STARTTLS, MTA-STS through
  `_FFR_MTA_STS` (FEATURE(`sts') and a socket map; no per-domain opt-out,
  the `STS:` access tag came with 8.18.2), **no DANE** (a .cf with
  `O DANE=true` makes it refuse to start), no `confOPENSSL_CNF`.
* **8.18** — Debian 13 (trixie) and bookworm-backports, 8.18.1: everything
  of 8.17, and DANE (`-DDANE=1`: `confDANE`, the `{verify}` values TRUSTED,
  DANE_FAIL, DANE_TEMP, DANE_NOTLS), `confOPENSSL_CNF` (OpenSSL settings
  such as `MinProtocol` and TLSv1.3 `Ciphersuites` from
  /etc/mail/sendmail.ossl) and FEATURE(`fips3').

A spec names a release by its family (`8.18`) or more exactly (`8.18.1`); a
host's binary satisfies it when its version starts with that text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: what the spec's `sendmail:` accepts: a family and, optionally, its patch levels
RELEASE_PATTERN = r"^8\.1[78](\.[0-9]{1,3}){0,2}$"
_RELEASE = re.compile(RELEASE_PATTERN)


@dataclass(frozen=True)
class Release:
    """One sendmail family and its facts."""

    family: str
    #: where Debian ships it
    debian: str
    #: built with DANE (`Compiled with: DANE`): confDANE works
    dane: bool
    #: reads OpenSSL settings from confOPENSSL_CNF (default /etc/mail/sendmail.ossl)
    openssl_cnf: bool
    #: `{verify}` values this release produces
    verify_values: frozenset[str]
    #: FEATUREs only this release has
    own_features: frozenset[str]
    #: built with `_FFR_MTA_STS` (FEATURE(`sts'), O StrictTransportSecurity)
    mta_sts: bool
    #: reads the per-domain MTA-STS opt-out `STS:domain<TAB>NO` from the access map
    #: (it came with 8.18.2; 8.17.1.9's and 8.18.1's proto.m4 have no STS: lookup)
    sts_tag: bool

    def refused_define(self, name: str) -> str | None:
        """Why this release refuses `define(NAME)`, or None."""
        if name == "confDANE" and not self.dane:
            return (
                f"sendmail {self.family} ({self.debian}) is built without DANE and refuses to"
                " start with it; DANE needs sendmail: 8.18"
            )
        if name == "confOPENSSL_CNF" and not self.openssl_cnf:
            return f"sendmail {self.family} has no confOPENSSL_CNF (it came with 8.18)"
        return None


_VERIFY_817 = frozenset(
    {"OK", "NO", "NOT", "FAIL", "NONE", "TEMP", "SOFTWARE", "PROTOCOL", "CLEAR", "CONFIG"}
    | {"USAGE", "FAILURE"}
)

RELEASES = {
    "8.17": Release(
        family="8.17",
        debian="Debian 12",
        dane=False,
        openssl_cnf=False,
        verify_values=_VERIFY_817,
        own_features=frozenset(),
        mta_sts=True,
        sts_tag=False,
    ),
    "8.18": Release(
        family="8.18",
        debian="Debian 13",
        dane=True,
        openssl_cnf=True,
        verify_values=_VERIFY_817 | {"TRUSTED", "DANE_FAIL", "DANE_TEMP", "DANE_NOTLS"},
        own_features=frozenset({"fips3"}),
        mta_sts=True,
        sts_tag=False,
    ),
}
#: the first release whose access map takes `STS:domain NO` (no family tlsc knows has it)
STS_TAG_RELEASE = "8.18.2"
#: the release a spec targets when it names none (what tlsc always targeted)
DEFAULT = "8.17"
#: FEATUREs some release lacks: release family -> the FEATUREs it lacks
MISSING_FEATURES = {
    family: frozenset().union(*(r.own_features for r in RELEASES.values())) - release.own_features
    for family, release in RELEASES.items()
}


def is_release(text: str) -> bool:
    """`text` names a release tlsc targets (8.17, 8.17.1.9, 8.18, 8.18.1, ...)."""
    return bool(_RELEASE.match(text))


def release_of(text: str) -> Release:
    """The facts of the release `text` names (`8.18.1` -> 8.18); KeyError when it names none."""
    if not is_release(text):
        raise KeyError(text)
    return RELEASES[".".join(text.split(".")[:2])]


def newer_family(family: str, target: str) -> bool:
    """Release family `family` (`8.18`) comes after the family of `target` (`8.17.1.9`)."""

    def key(text: str) -> tuple[int, ...]:
        return tuple(int(p) for p in text.split(".")[:2] if p.isascii() and p.isdigit())

    return key(family) > key(target)


def binary_satisfies(target: str, version: str) -> bool:
    """A binary of `version` (`8.18.1`) is the release `target` (`8.18`, `8.18.1`) asks for."""
    want = target.split(".")
    return version.split(".")[: len(want)] == want
