"""Generate a large, valid tlsc spec for benchmarks.

    python3 bench/gen_spec.py --hosts 50 --domains 5000 --access 100000 --out FILE

The output is deterministic (same arguments and seed, same bytes) and shaped
like a big site's file: MX, relay and submission hosts sharing settings
through YAML anchors; `domains:` rules of every kind keyed by domain names,
IPv4 prefixes and `IPv6:` addresses; `recipients:`; `issuer_tags:`; and
`access:` entries of the common tags (Connect, From, To, Spam, GreetPause,
ClientRate, ClientConn, Srv_Features, TLS_*_Features). Keys are unique after
sendmail's case folding, so the spec validates. Addresses come from private
(10/8, 172.16/12) and documentation (2001:db8::/32) ranges.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path


def _words(text: str) -> tuple[str, ...]:
    """A word list written as one string."""
    return tuple(text.split())


WORDS = _words(
    "north south east west lake river hill valley stone bridge harbor forest meadow "
    "cedar maple oak pine birch silver golden blue green red amber crystal "
    "tech data cloud media mail net web soft logic works labs systems group "
    "health bank trust law energy motor food travel school college press"
)
TLDS = ("example.com", "example.net", "example.org", "example")
LOCAL_PARTS = _words(
    "info sales billing support hr payroll legal admin office contact noreply "
    "invoices accounts security press jobs orders team hello"
)
GIVEN = _words(
    "anna ben carla david emma felix greta hugo ida jonas karin leo maria nils olga paul "
    "rosa sven tina uwe vera walter xenia yusuf zoe ali bea chen dana eric fatima gus "
    "hana ivan jana kim lars mei noah"
)
FAMILY = _words(
    "adams baker costa dietrich evans fischer garcia hansen ito jensen kowalski lopez "
    "meyer nguyen olsen park quinn rossi schmidt tanaka urban vogel weber young zhang "
    "alvarez brown"
)
ISSUER_TAGS = {
    "CampusCA": ["/C=US/O=Example University/CN=Example University Campus CA"],
    "PartnerCA": [
        "/C=US/O=Example Trust Services/CN=Example Trust RSA CA 2018",
        "/C=US/O=Example Trust Services/CN=Example Trust ECC CA 2021",
    ],
    "GovCA": ["/C=US/O=State Government/OU=PKI/CN=State Gov Issuing CA 2"],
    "BankCA": ["/C=GB/O=Example Banking Group/CN=Example Bank Mail CA"],
    "HealthCA": ["/C=DE/O=Example Health Network/CN=Example Health TLS CA G3"],
}


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


class _Exhausted(Exception):
    """Every name of the asked shape is taken."""


class Names:
    """Deterministic, never-repeating names, addresses and prefixes."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.seen: set[str] = set()
        #: (first octet, parts) of large spaces (65,536 prefixes and more) found full: asked
        #: again, go longer at once instead of 10,000 tries. Only specs of some 400,000
        #: entries fill one, so smaller specs stay byte for byte what they were.
        self.full: set[tuple[int, int]] = set()
        #: our own domains whose short addresses are all taken
        self.full_domains: set[str] = set()

    def _unique(self, make: Callable[[], str], tries: int = 10_000) -> str:
        for _ in range(tries):
            name = make()
            if name not in self.seen:
                self.seen.add(name)
                return name
        raise _Exhausted

    def domain(self) -> str:
        r = self.rng

        def make() -> str:
            words = r.sample(WORDS, r.choice((1, 2, 2, 3)))
            base = "-".join(words) if r.random() < 0.4 else "".join(words)
            if r.random() < 0.3:
                base += str(r.randrange(1, 1000))
            sub = r.choice(("", "", "", "mail.", "mx.", "smtp.", "eu.", "us."))
            return f"{sub}{base}.{r.choice(TLDS)}"

        return self._unique(make)

    def ipv4(self, first: int, parts: int) -> str:
        """An address (parts=4) or octet-boundary prefix (parts<4) under `first`.

        When every prefix of that length is taken, a longer one is given.
        """
        if (first, parts) in self.full:
            return self.ipv4(first, parts + 1)
        try:
            return self._ipv4(first, parts)
        except _Exhausted:
            if parts == 4:
                raise
            if first != 172 and parts >= 3:
                self.full.add((first, parts))
            return self.ipv4(first, parts + 1)

    def _ipv4(self, first: int, parts: int) -> str:
        r = self.rng
        if first == 172:

            def make() -> str:
                octets = [172, r.randrange(16, 32)] + [r.randrange(0, 256) for _ in range(2)]
                return ".".join(map(str, octets[:parts]))

        else:

            def make() -> str:
                octets = [first] + [r.randrange(0, 256) for _ in range(3)]
                return ".".join(map(str, octets[:parts]))

        return self._unique(make)

    def ipv6(self, groups: int) -> str:
        """`IPv6:` plus a 2001:db8 address (groups=0) or a prefix of `groups` groups."""
        r = self.rng

        def make() -> str:
            if groups:
                tail = [format(r.randrange(1, 0x10000), "x") for _ in range(groups - 2)]
                return "IPv6:" + ":".join(["2001", "db8", *tail])
            return f"IPv6:2001:db8:{r.randrange(1, 0x10000):x}::{r.randrange(1, 0x10000):x}"

        return self._unique(make)

    def address(self, domain: str | None = None) -> str:
        """`role@domain` for another site, `given.family[N]@domain` for our own."""
        r = self.rng
        if domain is None:
            return self._unique(
                lambda: (
                    f"{r.choice(LOCAL_PARTS)}{r.choice(('', '', str(r.randrange(1, 100))))}"
                    f"@{self.domain()}"
                )
            )
        if domain not in self.full_domains:
            try:
                return self._unique(
                    lambda: (
                        f"{r.choice(GIVEN)}.{r.choice(FAMILY)}"
                        f"{r.choice(('', '', '', str(r.randrange(2, 100))))}@{domain}"
                    )
                )
            except _Exhausted:  # some 95,000 taken: numbers up to a million from now on
                self.full_domains.add(domain)
        return self._unique(
            lambda: f"{r.choice(GIVEN)}.{r.choice(FAMILY)}{r.randrange(100, 1_000_000)}@{domain}"
        )


# -- hosts ----------------------------------------------------------------

HEAD = """\
# Generated by bench/gen_spec.py --hosts {hosts} --domains {domains} --access {access} \
--seed {seed}
version: 1
cluster: bench-{hosts}x{access}

defaults:
  tls:
    ca_cert: /etc/mail/tls/ca.crt
    cipher_list: HIGH:!aNULL:!MD5
    server_ssl_options: [+SSL_OP_NO_SSLv3, +SSL_OP_NO_TLSv1, +SSL_OP_NO_TLSv1_1]
  mc:
    defines:
      confPRIVACY_FLAGS: authwarnings,goaway,restrictqrun
      confREJECT_MSG: 550 5.7.1 Access denied
      confMAX_MESSAGE_SIZE: 52428800
    features: &mx_features
      - {{name: access_db, args: ["", skip]}}
      - {{name: delay_checks, args: [friend]}}
      - {{name: greet_pause, args: ["1000"]}}
      - {{name: ratecontrol, args: [nodelay, terminate]}}
      - {{name: conncontrol, args: [nodelay, terminate]}}
      - blocklist_recipients
      - tls_session_features
      - use_cw_file
      - mailertable
    daemon_options:
      - Family=inet, Name=MTA-v4, Port=smtp
      - "Family=inet6, Name=MTA-v6, Port=smtp, Addr=::"

hosts:
"""

RELAY_FIRST = """\
    commands: &relay_commands
      after: make -C /etc/mail mailertable.db
    tls: &relay_tls
      server_cert: /etc/mail/tls/relay.crt
      client_cert: /etc/mail/tls/relay.crt
      client_key: /etc/mail/tls/relay.key
    mc: &relay_mc
      features:
        - {name: access_db, args: ["", skip]}
        - tls_session_features
        - use_cw_file
        - mailertable
        - masquerade_envelope
      daemon_options:
        - Family=inet, Name=MTA-v4, Port=smtp
      extra:
        - MASQUERADE_AS(`example.edu')dnl
"""

SUBMIT_FIRST = """\
    smtp_port: 587
    tls: &submit_tls
      server_cert: /etc/mail/tls/smtp.crt
      request_client_cert: true
    mc: &submit_mc
      defines:
        confAUTH_MECHANISMS: PLAIN LOGIN
      features:
        - {name: access_db, args: ["", skip]}
        - tls_session_features
        - no_default_msa
      daemon_options:
        - Family=inet, Name=MSA-v4, Port=submission, M=Ea
"""


def host_blocks(count: int) -> Iterator[str]:
    """MX hosts (most), relays (a quarter), submission hosts (one in ten)."""
    first: set[str] = set()
    for i in range(count):
        role = "submit" if i % 10 == 9 else "relay" if i % 4 == 3 else "mx"
        n = i + 1
        octet3, octet4 = divmod(n, 250)
        lines = [
            f"  {role}{n:03d}:",
            f"    fqdn: {role}{n:03d}.mail.example.edu",
            f"    address: 10.{octet3}.{octet4 + 1}.25"
            if i % 3
            else f"    address: 2001:db8:25::{n:x}",
        ]
        if role == "mx":
            if n % 7 == 0:
                lines += [
                    "    tls:",
                    "      <<: *mx_tls",
                    f"      server_cert: /etc/mail/tls/mx{n:03d}.crt",
                ]
            elif "mx" in first:
                lines.append("    tls: *mx_tls")
            else:
                lines += [
                    "    tls: &mx_tls",
                    "      server_cert: /etc/mail/tls/mx.crt",
                    "      server_key: /etc/mail/tls/mx.key",
                ]
        elif role == "relay":
            if "relay" in first:
                lines += [
                    "    commands: *relay_commands",
                    "    tls: *relay_tls",
                    "    mc: *relay_mc",
                ]
                if n % 2:
                    lines.append("    ownership: block")
            else:
                lines.append(RELAY_FIRST.rstrip("\n"))
        else:
            if "submit" in first:
                lines += ["    smtp_port: 587", "    tls: *submit_tls", "    mc: *submit_mc"]
            else:
                lines.append(SUBMIT_FIRST.rstrip("\n"))
        first.add(role)
        yield "\n".join(lines) + "\n"


# -- domains, recipients --------------------------------------------------


def outbound_rule(r: random.Random, names: Names) -> str:
    """One outbound rule, weighted roughly as a real site's file."""
    x = r.random()
    if x < 0.35:
        return "encrypt"
    if x < 0.50:
        return f"{{require: encrypt, min_bits: {r.choice((112, 128, 256))}}}"
    if x < 0.60:
        return "verify"
    if x < 0.72:
        return f"{{require: verify, cn: true, issuer_tag: {r.choice(list(ISSUER_TAGS))}}}"
    if x < 0.80:
        return f"{{require: verify, cn: {names.domain()}, min_bits: 128}}"
    if x < 0.85:
        return f"{{require: verify, issuer: {_q(r.choice(ISSUER_TAGS['PartnerCA']))}}}"
    if x < 0.90:
        failure = r.choice(("permanent", "temporary"))
        return f"{{require: encrypt, min_bits: 128, on_failure: {failure}}}"
    return "{starttls: false}"


def inbound_rule(r: random.Random) -> str:
    """One inbound rule."""
    x = r.random()
    if x < 0.5:
        return "encrypt"
    if x < 0.75:
        return f"{{require: verify, issuer_tag: {r.choice(list(ISSUER_TAGS))}}}"
    if x < 0.9:
        return "{require: encrypt, min_bits: 128, on_failure: permanent}"
    return "{starttls: false}"


def domain_lines(count: int, r: random.Random, names: Names) -> Iterator[str]:
    """`domains:` entries: mostly domains, some IPv4 prefixes and IPv6 keys, one `*`."""
    yield '  "*":\n    outbound: may\n'
    for _ in range(count - 1):
        x = r.random()
        if x < 0.80:
            key = names.domain()
        elif x < 0.93:
            key = names.ipv4(172, r.choice((2, 3, 3, 4)))
        else:
            key = names.ipv6(r.choice((0, 3)))
        parts = []
        y = r.random()
        if y < 0.75 or key.startswith("IPv6"):
            parts.append(f"outbound: {outbound_rule(r, names)}")
        if y >= 0.55:
            parts.append(f"inbound: {inbound_rule(r)}")
        yield f"  {_q(key)}: {{{', '.join(parts)}}}\n"


def recipient_lines(count: int, r: random.Random, names: Names) -> Iterator[str]:
    """`recipients:` entries: addresses and whole domains."""
    for _ in range(count):
        key = names.address() if r.random() < 0.7 else names.domain()
        if r.random() < 0.5:
            rule = "encrypt"
        else:
            rule = f"{{require: verify, issuer_tag: {r.choice(list(ISSUER_TAGS))}}}"
        yield f"  {_q(key)}: {rule}\n"


# -- access ---------------------------------------------------------------

ERRORS = (
    'ERROR:"550 Mail from your host is refused"',
    "ERROR:5.7.1:550 Rejected for abuse; see https://postmaster.example.edu/",
    'ERROR:"550 Bulk mail not accepted"',
    "ERROR:4.7.1:450 Try again later",
)


def access_lines(count: int, r: random.Random, names: Names) -> Iterator[str]:
    """`access:` entries of several tags; keys never repeat within a tag."""
    fixed = [
        "Connect:127 RELAY",
        "Connect:IPv6:::1 RELAY",
        "Connect:localhost RELAY",
        "GreetPause:127 0",
        "ClientRate: 30",
        "ClientRate:127 0",
        "ClientConn: 10",
        "ClientConn:127 0",
        "Spam:postmaster@ FRIEND",
        "Spam:abuse@ FRIEND",
    ]
    for entry in fixed[:count]:
        yield f"  - {_q(entry)}\n"
    for _ in range(count - len(fixed)):
        x = r.random()
        if x < 0.30:  # Connect: by IPv4 address/prefix, IPv6, or host name
            y = r.random()
            if y < 0.6:
                key = names.ipv4(10, r.choice((4, 4, 4, 3)))
            elif y < 0.7:
                key = names.ipv6(r.choice((0, 4)))
            else:
                key = names.domain()
            action = r.choice(("REJECT", "REJECT", "REJECT", "RELAY", "OK", *ERRORS))
            entry = f"Connect:{key} {action}"
        elif x < 0.50:  # From: senders
            key = names.address() if r.random() < 0.6 else names.domain()
            entry = f"From:{key} {r.choice(('REJECT', 'REJECT', 'DISCARD', 'OK', *ERRORS))}"
        elif x < 0.62:  # To: recipients
            key = names.address("example.edu") if r.random() < 0.7 else names.domain()
            entry = f"To:{key} {r.choice(('RELAY', 'REJECT', *ERRORS[:3]))}"
        elif x < 0.67:
            entry = f"Spam:{names.address('example.edu')} {r.choice(('FRIEND', 'HATER'))}"
        elif x < 0.77:
            entry = f"GreetPause:{names.ipv4(10, r.choice((3, 4)))} {r.choice((0, 2000, 5000))}"
        elif x < 0.85:
            entry = f"ClientRate:{names.ipv4(10, r.choice((3, 4)))} {r.choice((0, 5, 10, 100))}"
        elif x < 0.93:
            entry = f"ClientConn:{names.ipv4(10, r.choice((3, 4)))} {r.choice((0, 2, 5, 20))}"
        elif x < 0.98:
            letters = " ".join(sorted(r.sample("AaBbDdEePpSsXx", r.randrange(1, 4))))
            entry = f"Srv_Features:{names.ipv4(10, 4)} {letters}"
        elif x < 0.99:
            entry = f"TLS_Srv_Features:{names.ipv4(10, 4)} Options=SSL_OP_NO_TLSv1_3"
        else:
            entry = (
                f"TLS_Clt_Features:{names.domain()} Options=SSL_OP_NO_TLSv1_3;"
                " CipherList=ECDHE-RSA-AES128-GCM-SHA256"
            )
        yield f"  - {_q(entry)}\n"


def generate(hosts: int, domains: int, access: int, seed: int = 1) -> str:
    """The whole spec text."""
    r = random.Random(seed)
    names = Names(r)
    out = [HEAD.format(hosts=hosts, domains=domains, access=access, seed=seed)]
    out += host_blocks(hosts)
    if domains:
        out.append("\ndomains:\n")
        out += domain_lines(domains, r, names)
    recipients = domains // 10
    if recipients:
        out.append("\nrecipients:\n")
        out += recipient_lines(recipients, r, names)
    out.append("\nissuer_tags:\n")
    for tag, dns in ISSUER_TAGS.items():
        out.append(f"  {tag}:\n" + "".join(f"    - {_q(dn)}\n" for dn in dns))
    if access:
        out.append("\naccess:\n")
        out += access_lines(access, r, names)
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    """Command line: write the spec to --out (or stdout)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--domains", type=int, default=5000)
    parser.add_argument("--access", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="output file (default: stdout)")
    args = parser.parse_args(argv)
    if args.hosts < 1 or args.domains < 0 or args.access < 0:
        parser.error("--hosts must be at least 1; --domains and --access cannot be negative")
    text = generate(args.hosts, args.domains, args.access, args.seed)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
