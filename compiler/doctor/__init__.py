"""`tlsc doctor`: this host's side of STARTTLS, checked offline.

For the host the spec describes, it checks that the certificate, key, CA and
DH files exist and that sendmail would accept them (files.py: sendmail's
safefile rules), what they hold as sendmail and its OpenSSL read them (pki.py:
an unencrypted key that matches the file's first certificate, dates, the host
name, OpenSSL's security level, the chain sendmail sends, the CA directory's
hash links, the CRL), that sendmail.cf and access.db were
rebuilt after their sources changed (builds.py), that the installed
sendmail supports STARTTLS and reads sendmail.cf without error (binary.py),
and, with tls.mta_sts, that the MTA-STS resolver answers its socket map
(stsmap.py; on the host itself only).
Each finding has a code (finding.CODES), one sentence, and the fix.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from compiler.doctor.binary import check_binary, find_sendmail, release_findings
from compiler.doctor.builds import check_builds
from compiler.doctor.files import SafetyRules, check_directories, check_file, check_key_mode
from compiler.doctor.finding import CODES, Finding
from compiler.doctor.pki import (
    BUNDLE_SIZE,
    ca_directory_certificates,
    check_ca_directory,
    check_crl,
    check_dh_params,
    check_dh_setting,
    check_key,
    check_name,
    check_purpose,
    check_strength,
    check_validity,
    is_rsa,
    key_index,
    load_certificates,
    security_level,
    unsent_chain,
)
from compiler.doctor.resolver import check_resolver
from compiler.doctor.stsmap import check_sts_resolver
from compiler.fileio import read_regular_text
from compiler.resolve import HostConfig
from compiler.sendmail import STARTTLS_REQUIRED
from compiler.sendmail.cfread import cf_values
from compiler.tlsfiles import (
    CA_FILE,
    CLIENT_CERT,
    CLIENT_KEY,
    CRL,
    DH_PARAMS,
    NO_CLIENT_CERT,
    NO_STARTTLS,
    SERVER_CERT,
    SERVER_KEY,
    Role,
)

__all__ = [
    "CA_FILE",
    "CLIENT_CERT",
    "CLIENT_KEY",
    "CODES",
    "CRL",
    "DH_PARAMS",
    "NO_CLIENT_CERT",
    "NO_STARTTLS",
    "SERVER_CERT",
    "SERVER_KEY",
    "Finding",
    "diagnose",
    "preflight",
]


def on_disk(root: Path, path: str) -> Path:
    """Where a host path is on this machine when the host's files live under `root`."""
    return root / path.lstrip("/")


def safety_rules(host: HostConfig, cf: Path | None) -> SafetyRules:
    """DontBlameSendmail and TrustedUser as sendmail.cf sets them (else, or with no
    `cf`, as the spec would)."""
    s = host.settings
    options: dict[str, str] | None = None
    if cf is not None:
        try:
            options = cf_values(read_regular_text(cf))
        except OSError:
            options = None
    if options is not None:
        flags = options.get("DontBlameSendmail", "safe")
        trusted = options.get("TrustedUser")
    else:
        flags = s.mc.defines.get("confDONT_BLAME_SENDMAIL", "safe")
        if s.tls.enabled and s.tls.group_readable_key:
            flags += ",GroupReadableKeyFile"
        trusted = s.mc.defines.get("confTRUSTED_USER") or (
            "smmta" if s.mc.domain == "debian-mta" else None
        )
    return SafetyRules(
        dont_blame=frozenset(f.lower() for f in flags.replace(",", " ").split()),
        trusted_user=trusted or None,
        group_readable_key_setting=s.tls.group_readable_key,
    )


def diagnose(
    host: HostConfig,
    spec_path: str,
    root: Path = Path("/"),
    *,
    min_days: int = 14,
    now: dt.datetime | None = None,
    check_sendmail: bool = True,
    dns_server: str | None = None,
    ask_sts_resolver: bool | None = None,
) -> list[Finding]:
    """Every finding for `host`, whose files live under `root`, in the order checked
    (`dns_server`: the resolver DANE's check asks instead of ROOT/etc/resolv.conf's).

    `ask_sts_resolver` (default: when `root` is `/`, i.e. on the host itself): query the
    MTA-STS resolver's socket map when tls.mta_sts is on (D036)."""
    now = now or dt.datetime.now(dt.UTC)
    s = host.settings
    paths = {name: on_disk(root, value) for name, value in s.paths.model_dump().items()}
    out: list[Finding] = []
    if s.tls.enabled:
        rules = safety_rules(host, paths["sendmail_cf"])
        out += _missing_settings(host, spec_path)
        out += _tls_files(host, spec_path, root, rules, now, min_days)
    out += check_builds(host, paths)
    if check_sendmail:
        out += check_binary(paths["sendmail_cf"], host.fqdn, s, host.name)
    out += check_resolver(s, root, dns_server)
    if ask_sts_resolver if ask_sts_resolver is not None else root.resolve() == Path("/"):
        out += check_sts_resolver(s, host.name)
    return out


def preflight(
    host: HostConfig,
    spec_path: str,
    root: Path = Path("/"),
    *,
    min_days: int = 14,
    now: dt.datetime | None = None,
) -> list[Finding]:
    """The TLS file checks of `diagnose` for the configuration the spec describes, for
    `tlsc apply` to run before it writes anything: the certificate, key, CA, DH and CRL
    files the spec names (under `root`), judged by the DontBlameSendmail and
    TrustedUser the spec's sendmail.cf will have, not the one on disk; and the host's
    sendmail binary against the release and build flags the spec asks for (D034, D035:
    the binary found on PATH for root `/`, else ROOT/usr/sbin/sendmail when the tree
    has one); for root `/`, the MTA-STS resolver tls.mta_sts names (D036). No findings
    when STARTTLS is off for the host; sendmail.cf and access.db are not checked (apply
    rebuilds them)."""
    if not host.settings.tls.enabled:
        return []
    now = now or dt.datetime.now(dt.UTC)
    rules = safety_rules(host, None)
    out = _missing_settings(host, spec_path) + _tls_files(
        host, spec_path, root, rules, now, min_days
    )
    binary = host_binary(root)
    if binary is not None:
        out += release_findings(binary, host.settings, host.name, host.fqdn)
    if root.resolve() == Path("/"):
        out += check_sts_resolver(host.settings, host.name)
    return out


def host_binary(root: Path) -> str | None:
    """The sendmail a host under `root` runs: PATH's for `/`, else one inside the tree."""
    if root.resolve() == Path("/"):
        return find_sendmail()
    for candidate in ("usr/sbin/sendmail", "usr/lib/sendmail"):
        path = root / candidate
        if path.is_file():
            return str(path)
    return None


def _missing_settings(host: HostConfig, spec_path: str) -> list[Finding]:
    # validation refuses such a spec (S214); this guards callers that build a HostConfig
    tls = host.settings.tls
    return [
        Finding(
            spec_path,
            "D008",
            "error",
            f"tls.{name} is not set for host {host.name}, so sendmail logs"
            f" '{option} missing' and {NO_STARTTLS}",
            f"set tls.{name} in the spec",
        )
        for name, option in STARTTLS_REQUIRED.items()
        if getattr(tls, name) is None
    ]


def _tls_files(
    host: HostConfig,
    spec_path: str,
    root: Path,
    rules: SafetyRules,
    now: dt.datetime,
    min_days: int,
) -> list[Finding]:
    tls = host.settings.tls
    dh = tls.dh_params if tls.dh_params and tls.dh_params.startswith("/") else None
    files = [
        (SERVER_CERT, tls.server_cert),
        (SERVER_KEY, tls.server_key),
        (CA_FILE, tls.ca_cert),
        (CLIENT_CERT, tls.client_cert),
        (CLIENT_KEY, tls.client_key),
        (DH_PARAMS, dh),
        (CRL, tls.crl),
    ]
    keys = {SERVER_CERT: tls.server_key, CLIENT_CERT: tls.client_key}
    context = _Context(host.fqdn, now, min_days, security_level(root), root)
    out: list[Finding] = []
    first_role: dict[str, Role] = {}
    unusable: set[str] = set()
    for role, value in files:
        if value is None or value in unusable:
            continue
        path = on_disk(root, value)
        first = first_role.get(value)
        if first is None:
            first_role[value] = role
            found = check_directories(path, root, rules, role) + check_file(path, role, rules)
            out += found
            if any(f.code in ("D001", "D002") for f in found):
                unusable.add(value)
                continue
        elif role.key and not first.key:
            # one file holds the certificate and its key: sendmail opens it as a key too
            out += check_key_mode(path, role, rules)
        else:
            continue
        key = keys.get(role)
        out += _contents(role, path, context, on_disk(root, key) if key else None)
    out += check_dh_setting(tls.dh_params, spec_path, _rsa_server(context), context.level)
    out += _unsent_chains(tls.ca_cert_path, context)
    if tls.ca_cert_path and on_disk(root, tls.ca_cert_path).is_dir():
        # the CA file's certificates are found anyway; the host's own issue no one's
        known = [c for r, (_, certs) in context.certs.items() for c in certs]
        out += check_ca_directory(on_disk(root, tls.ca_cert_path), known)
    elif tls.ca_cert_path:
        out.append(_no_ca_directory(on_disk(root, tls.ca_cert_path)))
    return out


def _no_ca_directory(path: Path) -> Finding:
    """D001 for a CA directory that is missing or not a directory (OpenSSL then looks up
    nothing there, without a word: sendmail still offers STARTTLS)."""
    what = "is not a directory" if path.exists() else "does not exist"
    return Finding(
        str(path),
        "D001",
        "warning",
        f"the CA directory (tls.ca_cert_path) {what}, so peers are verified against"
        " tls.ca_cert alone",
        "create it (Debian uses /etc/ssl/certs), or point tls.ca_cert_path at it",
    )


@dataclass
class _Context:
    """What the content checks share: the host, the clock, and what was loaded so far."""

    fqdn: str
    now: dt.datetime
    min_days: int
    level: int  # OpenSSL's security level (pki.security_level)
    root: Path
    #: the certificates of each certificate file loaded, by role, and where they are
    certs: dict[Role, tuple[Path, list[x509.Certificate]]] = field(default_factory=dict)
    #: the certificate files whose key belongs to a later certificate than the first
    misordered: set[Role] = field(default_factory=set)


def _contents(role: Role, path: Path, ctx: _Context, key_path: Path | None) -> list[Finding]:
    """What the file holds; `key_path`: the key paired with a certificate file."""
    if role in (SERVER_CERT, CLIENT_CERT, CA_FILE):
        loaded = load_certificates(path, role)
        if isinstance(loaded, Finding):
            return [loaded]
        ctx.certs[role] = (path, loaded)
        if role is not CA_FILE and key_path is not None and key_index(key_path, loaded):
            ctx.misordered.add(role)
            return []  # the key belongs to a later certificate: the key check says so (D011)
        out: list[Finding] = []
        for cert in _dated(role, loaded, ctx):
            out += check_validity(path, cert, role, ctx.now, ctx.min_days)
        if role is not CA_FILE:
            out += check_strength(path, loaded[0], role, ctx.level)
        if role is SERVER_CERT:
            out += check_name(path, loaded[0], ctx.fqdn)
        if role is not CA_FILE:
            out += check_purpose(path, loaded[0], role)
        return out
    if role in (SERVER_KEY, CLIENT_KEY):
        cert_path, certs = ctx.certs.get(
            SERVER_CERT if role is SERVER_KEY else CLIENT_CERT, (None, None)
        )
        return check_key(path, role, certs, cert_path)
    if role is DH_PARAMS:
        return check_dh_params(path, role, _rsa_server(ctx), ctx.level)
    if role is CRL:
        return check_crl(path, role, ctx.now)
    return []


def _dated(role: Role, loaded: list[x509.Certificate], ctx: _Context) -> list[x509.Certificate]:
    """The certificates of a file whose dates doctor reports: a server or client
    certificate file's first; in the CA file, each of a site's own short list, but of a
    public bundle (more than pki.BUNDLE_SIZE) only the issuer of the server
    certificate: the bundle's expired roots (Debian's holds some) verify nothing
    anyone still uses, and no admin can renew them."""
    if role is not CA_FILE:
        return loaded[:1]
    if len(loaded) <= BUNDLE_SIZE:
        return loaded
    server = ctx.certs.get(SERVER_CERT)
    issuer = server[1][0].issuer if server else None
    return [c for c in loaded if c.subject == issuer]


def _rsa_server(ctx: _Context) -> bool:
    """The server certificate has an RSA key (DHE ciphers serve no other kind)."""
    loaded = ctx.certs.get(SERVER_CERT)
    return loaded is not None and SERVER_CERT not in ctx.misordered and is_rsa(loaded[1][0])


def _unsent_chains(ca_cert_path: str | None, ctx: _Context) -> list[Finding]:
    """D019 for the server and client certificate files, against the CA file and directory
    OpenSSL completes the chain from."""
    if not any(len(certs) > 1 for r, (_, certs) in ctx.certs.items() if r is not CA_FILE):
        return []
    store = list(ctx.certs.get(CA_FILE, (None, []))[1])
    if ca_cert_path:
        store += ca_directory_certificates(on_disk(ctx.root, ca_cert_path))
    out: list[Finding] = []
    for role in (SERVER_CERT, CLIENT_CERT):
        if role in ctx.certs and role not in ctx.misordered:
            path, certs = ctx.certs[role]
            out += unsent_chain(path, certs, store, role)
    return out
