"""`tlsc verify --mx DOMAIN`: a domain's mail servers as sendmail's rules would see them.

DNS (dnspython) gives the domain's MX hosts, their addresses, the domain's
MTA-STS record (`_mta-sts.DOMAIN` TXT) and each server's TLSA records
(`_25._tcp.MX`). When the TXT record announces a policy, the policy file is
fetched from https://mta-sts.DOMAIN/.well-known/mta-sts.txt (its address from
the same resolver, its certificate verified) and each MX host checked
against its `mx:` patterns. Each address is then probed
for STARTTLS (compiler.probe), its certificate checked against the MX name.

sendmail's tls_server ruleset looks up `TLS_Srv:` with the *server's* name
({server_name}, the MX host), then each parent domain of it (a.b.c, b.c, c),
then its address and the address's leading parts, then the bare default;
the recipient's domain is not among them. So a `domains:` rule keyed by the
queried domain applies only to MX servers named inside that domain, and
`tls_srv_keys` lists, for each server, the keys in the order sendmail tries them.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.name
import dns.rdatatype
import dns.resolver

from compiler.probe.result import ProbePolicy, ProbeResult
from compiler.probe.smtp import Target
from compiler.problems import one_line, shown
from compiler.sendmail.names import port_digits


class MxError(Exception):
    """The domain's mail servers cannot be found; the message is one sentence."""


@dataclass
class Tlsa:
    """One TLSA record (RFC 6698): usage, selector, matching type, data in hex."""

    usage: int
    selector: int
    mtype: int
    data: str

    def as_dict(self) -> dict[str, object]:
        """The JSON shape."""
        return {
            "usage": self.usage,
            "selector": self.selector,
            "mtype": self.mtype,
            "data": self.data,
        }


@dataclass
class MxHost:
    """One MX host: its name, addresses, TLSA records and probes."""

    preference: int
    name: str
    addresses: list[str] = field(default_factory=list)
    tlsa: list[Tlsa] = field(default_factory=list)
    #: the resolver said the TLSA answer was DNSSEC-validated (AD flag)
    tlsa_validated: bool = False
    #: why the addresses could not be found, if so
    error: str | None = None
    probes: list[ProbeResult] = field(default_factory=list)

    @property
    def tls_srv_keys(self) -> list[str]:
        """The `TLS_Srv:` keys sendmail looks up for this server, in order (name part)."""
        labels = self.name.rstrip(".").lower().split(".")
        return [".".join(labels[i:]) for i in range(len(labels))]

    def address_keys(self, address: str) -> list[str]:
        """The address keys sendmail tries after the names: 192.0.2.1, 192.0.2, 192.0, 192.

        For IPv6 only the whole `IPv6:` key is shown (sendmail also tries it
        shortened at each colon)."""
        ip = ipaddress.ip_address(address)
        if ip.version == 6:
            return [f"IPv6:{ip.compressed}"]
        parts = str(ip).split(".")
        return [".".join(parts[:i]) for i in range(4, 0, -1)]


#: largest policy file read (RFC 8461 3.3 suggests senders accept at least 64 KiB)
MAX_POLICY = 64 * 1024


@dataclass
class StsPolicy:
    """The MTA-STS policy file (RFC 8461 3.2), or why it could not be had."""

    url: str
    mode: str | None = None
    max_age: str | None = None
    mx: list[str] = field(default_factory=list)
    error: str | None = None

    def lists(self, host: str) -> bool:
        """Whether an `mx:` pattern matches MX host `host` (a `*.` stands for one label)."""
        name = host.rstrip(".").lower()
        for pattern in (p.rstrip(".").lower() for p in self.mx):
            if pattern == name:
                return True
            if pattern.startswith("*.") and name.partition(".")[2] == pattern[2:]:
                return True
        return False

    def as_dict(self) -> dict[str, object]:
        """The JSON shape."""
        return {
            "url": self.url,
            "mode": self.mode,
            "max_age": self.max_age,
            "mx": self.mx,
            "error": self.error,
        }


@dataclass
class MtaSts:
    """The `_mta-sts.DOMAIN` TXT records (RFC 8461 3.1) and the policy they announce."""

    records: list[str] = field(default_factory=list)
    error: str | None = None
    policy: StsPolicy | None = None

    @property
    def sts_records(self) -> list[str]:
        """The records that are MTA-STS ones (start with v=STSv1)."""
        return [r for r in self.records if r.startswith("v=STSv1")]

    @property
    def policy_id(self) -> str | None:
        """The `id=` of the one MTA-STS record, None unless exactly one is there."""
        if len(self.sts_records) != 1:
            return None
        for part in self.sts_records[0].split(";"):
            key, _, value = part.strip().partition("=")
            if key == "id" and value:
                return value
        return None

    def summary(self, domain: str) -> str:
        """One line for the text report."""
        where = f"_mta-sts.{domain}"
        if self.error:
            return f"cannot tell: {self.error}"
        if not self.sts_records:
            return f"no {where} TXT record: the domain publishes no MTA-STS policy"
        if len(self.sts_records) > 1:
            return f"{len(self.sts_records)} v=STSv1 records at {where}: senders ignore them all"
        if self.policy_id is None:
            return f"{where} has no id=: the record is invalid"
        p = self.policy
        if p is None:
            return f"{where} TXT announces policy id {self.policy_id} (the policy was not fetched)"
        if p.error:
            return f"{where} TXT announces policy id {self.policy_id}, but {p.url}: {p.error}"
        return (
            f"policy id {self.policy_id}, mode {p.mode}, max_age {p.max_age},"
            f" mx {', '.join(p.mx) or 'none'} ({p.url})"
        )


@dataclass
class MxReport:
    """Everything `tlsc verify --mx DOMAIN` found."""

    domain: str
    dns_server: str
    hosts: list[MxHost]
    mta_sts: MtaSts
    #: the domain has no MX record and its own address stands in (RFC 5321 5.1)
    implicit: bool = False

    def domain_rule_applies(self, host: MxHost) -> bool:
        """Whether a `domains:` rule keyed by the queried domain matches this server."""
        return self.domain.rstrip(".").lower() in host.tls_srv_keys

    def sts_lists(self, host: MxHost) -> bool | None:
        """Whether the fetched MTA-STS policy lists this MX host; None without a policy."""
        policy = self.mta_sts.policy
        if policy is None or policy.error is not None:
            return None
        return policy.lists(host.name)

    @property
    def results(self) -> list[ProbeResult]:
        """Every probe, host by host."""
        return [r for h in self.hosts for r in h.probes]

    def passed(self, policy: ProbePolicy) -> bool:
        """Every address of every MX host was probed and passed."""
        return bool(self.results) and all(
            h.error is None and h.probes and all(r.passed(policy) for r in h.probes)
            for h in self.hosts
        )

    def as_dict(self, policy: ProbePolicy) -> dict[str, object]:
        """The JSON shape of `tlsc verify --mx DOMAIN --format json`."""
        return {
            "domain": self.domain,
            "dns_server": self.dns_server,
            "implicit_mx": self.implicit,
            "mta_sts": {
                "records": self.mta_sts.records,
                "id": self.mta_sts.policy_id,
                "error": self.mta_sts.error,
                "policy": self.mta_sts.policy.as_dict() if self.mta_sts.policy else None,
            },
            "domain_rule_applies": [h.name for h in self.hosts if self.domain_rule_applies(h)],
            "mx": [
                {
                    "preference": h.preference,
                    "name": h.name,
                    "addresses": h.addresses,
                    "error": h.error,
                    "tls_srv_keys": h.tls_srv_keys,
                    "domain_rule_applies": self.domain_rule_applies(h),
                    "tlsa": [t.as_dict() for t in h.tlsa],
                    "tlsa_dnssec_validated": h.tlsa_validated,
                    "mta_sts_listed": self.sts_lists(h),
                    "probes": [_probe_dict(r, policy) for r in h.probes],
                }
                for h in self.hosts
            ],
        }


def _probe_dict(r: ProbeResult, policy: ProbePolicy) -> dict[str, object]:
    out = r.as_dict(policy)
    out["address"] = r.host
    out["cert_common_names"] = list(r.cert.common_names) if r.cert else []
    out["cert_sans"] = r.cert.sans if r.cert else []
    out["name_matches"] = r.name_matches
    out["passed"] = r.passed(policy)
    return out


def make_resolver(server: str | None, timeout: float) -> dns.resolver.Resolver:
    """A resolver asking `server` (ADDRESS or ADDRESS:PORT, [v6]:PORT), else the system's."""
    if server is None:
        resolver = dns.resolver.Resolver()
    else:
        address, port = parse_server(server)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [address]
        resolver.port = port
    resolver.lifetime = timeout
    resolver.timeout = timeout
    # ask for the AD flag: a validating resolver then says whether TLSA answers are secure
    resolver.flags = dns.flags.RD | dns.flags.AD
    return resolver


def parse_server(server: str) -> tuple[str, int]:
    """(address, port) of `--dns-server`; ValueError with one sentence when it is neither."""
    text = server.strip()
    port = 53
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not port_digits(rest[1:]):
                raise ValueError(f"'{shown(server)}' is not ADDRESS[:PORT]")
            port = int(rest[1:])
    elif text.count(":") == 1:
        address, _, tail = text.partition(":")
        if not port_digits(tail):
            raise ValueError(f"'{shown(server)}' is not ADDRESS[:PORT]")
        port = int(tail)
    else:
        address = text
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(
            f"'{shown(server)}' is not ADDRESS[:PORT] (an IP address is needed)"
        ) from None
    if not 0 < port < 65536:
        raise ValueError(f"port {port} of '{shown(server)}' is out of range")
    return address, port


def _query(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> dns.resolver.Answer | None:
    """The answer, None when the name or the type does not exist; MxError on failure."""
    try:
        return resolver.resolve(name, rdtype, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    except dns.resolver.LifetimeTimeout:
        raise MxError(
            f"no answer to the {rdtype} query for {name} within {resolver.lifetime:g} s"
        ) from None
    except dns.resolver.NoNameservers as exc:
        raise MxError(f"the {rdtype} query for {name} failed: {exc.msg}") from None
    except dns.exception.DNSException as exc:
        raise MxError(f"the {rdtype} query for {name} failed: {exc}") from None


def _addresses(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    out: list[str] = []
    for rdtype in ("A", "AAAA"):
        answer = _query(resolver, name, rdtype)
        if answer is not None:
            out += [rr.to_text() for rr in answer]
    return out


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to `host` at a given address (resolved by our resolver), SNI and checks on `host`."""

    def __init__(
        self, host: str, address: str, port: int, context: ssl.SSLContext, timeout: float
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._ctx = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


def fetch_policy(
    domain: str,
    resolver: dns.resolver.Resolver,
    port: int = 443,
    ca_file: str | None = None,
    timeout: float = 10.0,
) -> StsPolicy:
    """The MTA-STS policy of `domain`, fetched as RFC 8461 3.3 says (no redirects, 200 only)."""
    host = f"mta-sts.{domain}"
    shown_port = "" if port == 443 else f":{port}"
    policy = StsPolicy(url=f"https://{host}{shown_port}/.well-known/mta-sts.txt")
    try:
        addresses = _addresses(resolver, host)
    except MxError as exc:
        policy.error = str(exc)
        return policy
    if not addresses:
        policy.error = f"{host} has no A or AAAA record"
        return policy
    context = ssl.create_default_context(cafile=ca_file)
    conn = _PinnedHTTPS(host, addresses[0], port, context, timeout)
    try:
        conn.request("GET", "/.well-known/mta-sts.txt", headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read(MAX_POLICY + 1)
    except ssl.SSLCertVerificationError as exc:
        policy.error = f"the certificate of {host} does not verify: {exc.verify_message}"
        return policy
    except (OSError, http.client.HTTPException) as exc:
        policy.error = f"cannot fetch it: {getattr(exc, 'strerror', None) or exc}"
        return policy
    finally:
        conn.close()
    if response.status != 200:
        policy.error = f"the server answered {response.status} {response.reason} (200 needed)"
        return policy
    if len(body) > MAX_POLICY:
        policy.error = f"the policy is longer than {MAX_POLICY} bytes"
        return policy
    fields: dict[str, list[str]] = {}
    for line in body.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), []).append(value.strip())
    if fields.get("version") != ["STSv1"]:
        policy.error = "the policy has no 'version: STSv1' line"
        return policy
    policy.mode = next(iter(fields.get("mode", [])), None)
    policy.max_age = next(iter(fields.get("max_age", [])), None)
    policy.mx = fields.get("mx", [])
    if policy.mode not in ("enforce", "testing", "none"):
        policy.error = f"the policy's mode is {policy.mode!r}, not enforce, testing or none"
    return policy


def lookup(domain: str, resolver: dns.resolver.Resolver, dns_server: str) -> MxReport:
    """The domain's MX hosts (by preference), their addresses and TLSA, its MTA-STS record."""
    try:
        name = dns.name.from_text(domain).to_text(omit_final_dot=True)
    except dns.exception.DNSException as exc:
        raise MxError(f"'{domain}' is not a domain name: {exc}") from None
    answer = _query(resolver, name, "MX")
    implicit = False
    if answer is None:
        if not _addresses(resolver, name):
            raise MxError(f"{name} has no MX record and no address: no mail server to check")
        hosts = [MxHost(0, name)]
        implicit = True
    else:
        pairs = sorted(
            ((rr.preference, rr.exchange.to_text(omit_final_dot=True)) for rr in answer),
            key=lambda p: (p[0], p[1]),
        )
        if len(pairs) == 1 and pairs[0][1] in ("", "."):
            raise MxError(f"{name} has a null MX (RFC 7505): it accepts no mail")
        hosts = [MxHost(pref, exchange) for pref, exchange in pairs if exchange not in ("", ".")]
    for host in hosts:
        try:
            host.addresses = _addresses(resolver, host.name)
            if not host.addresses:
                host.error = f"{host.name} has no A or AAAA record"
            tlsa = _query(resolver, f"_25._tcp.{host.name}", "TLSA")
        except MxError as exc:
            host.error = str(exc)
            continue
        if tlsa is not None:
            host.tlsa_validated = bool(tlsa.response.flags & dns.flags.AD)
            host.tlsa = [Tlsa(rr.usage, rr.selector, rr.mtype, rr.cert.hex()) for rr in tlsa]
    sts = MtaSts()
    try:
        txt = _query(resolver, f"_mta-sts.{name}", "TXT")
        if txt is not None:
            sts.records = [b"".join(rr.strings).decode("utf-8", "replace") for rr in txt]
    except MxError as exc:
        sts.error = str(exc)
    return MxReport(name, dns_server, hosts, sts, implicit)


def targets(report: MxReport, port: int, ca_file: str | None) -> list[tuple[MxHost, Target]]:
    """One probe target per address of each MX host; the certificate must name the MX host."""
    out = []
    for host in report.hosts:
        for address in host.addresses:
            out.append(
                (
                    host,
                    Target(
                        label=host.name,
                        host=address,
                        port=port,
                        server_name=host.name,
                        ca_file=ca_file,
                    ),
                )
            )
    return out


def text_report(report: MxReport, policy: ProbePolicy) -> list[str]:
    """The report for people, line by line, each escaped (problems.one_line): what DNS,
    the policy's web server and the MX hosts sent is shown, never acted on."""
    return [one_line(line) for line in _report_lines(report, policy)]


def _report_lines(report: MxReport, policy: ProbePolicy) -> list[str]:
    d = report.domain
    lines = []
    if report.implicit:
        lines.append(f"{d}: no MX record; mail goes to {d} itself (RFC 5321 5.1)")
    else:
        lines.append(f"{d}: {len(report.hosts)} MX host(s), asked {report.dns_server}")
    lines.append(f"MTA-STS: {report.mta_sts.summary(d)}")
    for host in report.hosts:
        lines.append("")
        addresses = ", ".join(host.addresses) or "no address"
        lines.append(f"MX {host.preference} {host.name} ({addresses})")
        if host.error:
            lines.append(f"  {host.error}")
        for r in host.probes:
            lines += _probe_lines(r, policy)
        if host.tlsa:
            secure = "DNSSEC-validated" if host.tlsa_validated else "not DNSSEC-validated"
            lines.append(f"  TLSA _25._tcp.{host.name} ({secure}):")
            lines += [f"    {t.usage} {t.selector} {t.mtype} {t.data}" for t in host.tlsa]
        else:
            lines.append(f"  TLSA _25._tcp.{host.name}: none (DANE does not apply)")
        listed = report.sts_lists(host)
        sts_policy = report.mta_sts.policy
        if listed is True and sts_policy is not None:
            lines.append(f"  MTA-STS: listed in the policy's mx ({sts_policy.mode})")
        elif listed is False and sts_policy is not None:
            lines.append(
                f"  MTA-STS: NOT listed in the policy's mx ({', '.join(sts_policy.mx) or 'none'}):"
                + (
                    " senders that enforce MTA-STS refuse to deliver here"
                    if sts_policy.mode == "enforce"
                    else f" mode {sts_policy.mode}, so senders only report it"
                )
            )
        keys = host.tls_srv_keys
        addr_keys = [k for a in host.addresses[:1] for k in host.address_keys(a)]
        lines.append(
            "  TLS_Srv keys sendmail tries for this server, in order (domains: keys):"
            f" {', '.join(keys + addr_keys)}, then the default (*)"
        )
    lines.append("")
    outside = [h.name for h in report.hosts if not report.domain_rule_applies(h)]
    if not outside:
        lines.append(
            f"A domains: rule for {d} (outbound:) applies to every MX host of {d}:"
            " each is named inside it."
        )
    else:
        lines.append(
            f"A domains: rule for {d} (outbound:) would NOT apply to {', '.join(outside)}:"
            " sendmail matches TLS_Srv against the server's name, not the recipient's"
            f" domain. For mail to {d} use recipients: {{{d}: ...}} (TLS_Rcpt), or key the"
            " domains: rule by one of the server's keys above."
        )
    return lines


def _probe_lines(r: ProbeResult, policy: ProbePolicy) -> list[str]:
    lines = [f"  {r.host} port {r.port}:"]
    if r.error is not None and r.cert is None:
        lines.append(f"    {r.error}")
        return lines
    if r.version:
        lines.append(f"    STARTTLS: yes, {r.version} {r.cipher} ({r.bits} bits)")
    cert = r.cert
    if cert is not None:
        cns = ", ".join(cert.common_names) or "none"
        lines.append(f"    certificate: subject CN {cns}; SANs {', '.join(cert.sans) or 'none'}")
        if r.verify == "OK":
            lines.append(f"    verifies against {r.trust}: yes")
        else:
            lines.append(f"    verifies against {r.trust}: no ({r.verify_error})")
        valid = "yes" if r.name_matches else "no"
        lines.append(f"    valid for {r.server_name}: {valid}")
    lines += [f"    {p}" for p in r.problems(policy) if not p.startswith("the certificate")]
    return lines
