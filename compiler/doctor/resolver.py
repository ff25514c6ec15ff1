"""DANE's resolver: a local one that validates DNSSEC (D037, D038).

sendmail 8.18's DANE (`confDANE`) sets `use_dnssec use_edns0` and trusts the
AD flag of its resolver's answers: TLSA records count only when the resolver
says they validated. With a resolver that does not validate, every TLSA
record is ignored and DANE silently does nothing; with a remote one the flag
crosses the network unprotected (op.me: "requires a DNSSEC-validating
recursive resolver ... best to run it locally"). The check asks the first
`nameserver` of the host's resolv.conf (or `--dns-server`) for the root
zone's SOA with the AD flag set: the root is signed, so a validating resolver
answers with AD.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from compiler.doctor.finding import Finding
from compiler.fileio import read_regular_text
from compiler.spec.model import HostSettings

TIMEOUT = 3.0


def nameserver(resolv_conf: Path) -> str | None:
    """The first `nameserver` of a resolv.conf, or None."""
    try:
        text = read_regular_text(resolv_conf)
    except OSError:
        return None
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            return words[1]
    return None


def _is_local(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def check_resolver(settings: HostSettings, root: Path, server: str | None = None) -> list[Finding]:
    """D037 when DANE is on and the resolver does not validate; D038 when it is remote."""
    if not (settings.tls.enabled and settings.tls.dane):
        return []
    resolv = root / "etc/resolv.conf"
    where = server or nameserver(resolv)
    fix = (
        "run a validating resolver on the host (Debian: unbound) and name it first in"
        " /etc/resolv.conf (nameserver 127.0.0.1), or set tls.dane: false"
    )
    if where is None:
        return [
            Finding(
                str(resolv),
                "D037",
                "error",
                f"tls.dane is on but {resolv} names no nameserver, so sendmail's DANE has no"
                " resolver to validate TLSA records",
                fix,
            )
        ]
    import dns.exception
    import dns.flags
    import dns.message
    import dns.query

    from compiler.probe.mx import parse_server

    try:
        address, port = parse_server(where)
    except ValueError as exc:
        return [Finding(str(resolv), "D037", "error", f"nameserver {exc}", fix)]
    query = dns.message.make_query(".", "SOA", want_dnssec=True)
    query.flags |= dns.flags.AD
    out: list[Finding] = []
    label = where if server else f"{where} (the first nameserver of {resolv})"
    if not _is_local(address):
        out.append(
            Finding(
                label,
                "D038",
                "warning",
                f"tls.dane is on but the resolver {address} is not on this host: the AD flag"
                " DANE trusts crosses the network unprotected",
                fix,
            )
        )
    try:
        answer = dns.query.udp(query, address, timeout=TIMEOUT, port=port)
    except (dns.exception.DNSException, OSError) as exc:
        out.append(
            Finding(
                label,
                "D037",
                "error",
                f"tls.dane is on but the resolver {address} did not answer"
                f" ({exc.__class__.__name__}), so sendmail's DANE cannot look up TLSA records",
                fix,
            )
        )
        return out
    if not answer.flags & dns.flags.AD:
        out.append(
            Finding(
                label,
                "D037",
                "error",
                f"tls.dane is on but the resolver {address} does not validate DNSSEC (no AD"
                " flag on the signed root zone's SOA), so sendmail ignores every TLSA record"
                " and DANE does nothing",
                fix,
            )
        )
    return out
