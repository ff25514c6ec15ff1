"""`tlsc doctor`: this host's side of STARTTLS, checked offline.

For the host the spec describes, it checks that the certificate, key, CA and
DH files exist and that sendmail would accept them (files.py: sendmail's
safefile rules), what they hold (pki.py: an unencrypted key that matches the
certificate, expiry, the host name), that sendmail.cf and access.db were
rebuilt after their sources changed (builds.py), that the installed
sendmail supports STARTTLS and reads sendmail.cf without error (binary.py),
and, with tls.mta_sts, that the MTA-STS resolver answers its socket map
(stsmap.py; on the host itself only).
Each finding has a code (finding.CODES), one sentence, and the fix.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509

from compiler.doctor.binary import check_binary, find_sendmail, release_findings
from compiler.doctor.builds import check_builds
from compiler.doctor.files import SafetyRules, check_directories, check_file
from compiler.doctor.finding import CODES, Finding
from compiler.doctor.pki import (
    check_dh_params,
    check_key,
    check_name,
    check_validity,
    load_certificates,
)
from compiler.doctor.resolver import check_resolver
from compiler.doctor.stsmap import check_sts_resolver
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
            options = cf_values(cf.read_text(encoding="utf-8", errors="replace"))
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
        out += _tls_files(host, root, rules, now, min_days)
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
    out = _missing_settings(host, spec_path) + _tls_files(host, root, rules, now, min_days)
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
    host: HostConfig, root: Path, rules: SafetyRules, now: dt.datetime, min_days: int
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
    out: list[Finding] = []
    seen: set[str] = set()
    certs: dict[str, x509.Certificate] = {}
    for role, value in files:
        if value is None or value in seen:
            continue
        seen.add(value)
        path = on_disk(root, value)
        found = check_directories(path, root, rules, role) + check_file(path, role, rules)
        out += found
        if any(f.code in ("D001", "D002") for f in found):
            continue
        out += _contents(role, path, host.fqdn, now, min_days, certs)
    if tls.ca_cert_path and not on_disk(root, tls.ca_cert_path).is_dir():
        out.append(
            Finding(
                str(on_disk(root, tls.ca_cert_path)),
                "D001",
                "warning",
                "the CA directory (tls.ca_cert_path) does not exist, so peers are verified"
                " against tls.ca_cert alone",
                "create it (Debian uses /etc/ssl/certs), or point tls.ca_cert_path at it",
            )
        )
    return out


def _contents(
    role: Role,
    path: Path,
    fqdn: str,
    now: dt.datetime,
    min_days: int,
    certs: dict[str, x509.Certificate],
) -> list[Finding]:
    """What the file holds; `certs` collects the certificates for the key checks."""
    if role in (SERVER_CERT, CLIENT_CERT, CA_FILE):
        loaded = load_certificates(path, role)
        if isinstance(loaded, Finding):
            return [loaded]
        certs[role.setting] = loaded[0]
        out: list[Finding] = []
        for cert in loaded if role is CA_FILE else loaded[:1]:
            out += check_validity(path, cert, role, now, min_days)
        if role is SERVER_CERT:
            out += check_name(path, loaded[0], fqdn)
        return out
    if role in (SERVER_KEY, CLIENT_KEY):
        paired = "tls.server_cert" if role is SERVER_KEY else "tls.client_cert"
        return check_key(path, role, certs.get(paired))
    if role is DH_PARAMS:
        return check_dh_params(path, role)
    return []
