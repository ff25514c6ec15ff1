"""What the certificate, key, CA and DH files hold (cryptography; no openssl command)."""

from __future__ import annotations

import base64
import datetime as dt
import re
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning

from compiler.doctor.files import Role
from compiler.doctor.finding import Finding
from compiler.fileio import NotRegularFile, TooLarge, read_regular
from compiler.probe.certinfo import UnreadableCertificate, a_label, cert_info, oneline
from compiler.tlsfiles import CA_FILE

_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _public_key(cert: x509.Certificate) -> object | None:
    """The certificate's public key, or None for a kind `cryptography` cannot load
    (GOST, say): doctor then says nothing about it rather than fail."""
    try:
        return cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return None


def _spki(cert: x509.Certificate) -> bytes | None:
    """The certificate's SubjectPublicKeyInfo (DER), or None (see _public_key)."""
    key = _public_key(cert)
    public_bytes = getattr(key, "public_bytes", None)
    return public_bytes(*_SPKI) if public_bytes is not None else None


# Debian's CA bundle holds a root with a negative serial number: `cryptography` warns
# about it on stderr whenever its fields are read, in the middle of doctor's report
warnings.filterwarnings(
    "ignore",
    message="Parsed a serial number which wasn't positive",
    category=CryptographyDeprecationWarning,
)

#: a CA file with more certificates than this is a public bundle (Debian's has ~140)
BUNDLE_SIZE = 10


def _read(path: Path, role: Role, code: str) -> bytes | Finding:
    try:
        return read_regular(path)
    except OSError as exc:
        # a file swapped for a FIFO since its check, or one of over 64 MiB: no TLS file
        odd = isinstance(exc, NotRegularFile | TooLarge)
        return Finding(
            str(path),
            code,
            "warning",
            f"{role.label} cannot be read here ({exc.strerror}), so its contents were not checked",
            f"check that {role.setting} names the right file" if odd else "run tlsc doctor as root",
        )


def _pem_certificates(data: bytes) -> list[x509.Certificate]:
    """The PEM certificates in `data` (ValueError: none), quietly: a CA bundle such as
    Debian's holds a root with a negative serial, which `cryptography` warns about."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return x509.load_pem_x509_certificates(data)


def load_certificates(path: Path, role: Role) -> list[x509.Certificate] | Finding:
    """The PEM certificates in a file, or the finding that says why there are none.

    The CA file may hold `TRUSTED CERTIFICATE`s too (`openssl x509 -trustout`, some
    distributions' bundles): OpenSSL's CA loading reads them. sendmail's own
    certificates are read with SSL_CTX_use_certificate_file(), which does not.
    """
    data = _read(path, role, "D012")
    if isinstance(data, Finding):
        return data
    try:
        certs = _pem_certificates(data)
    except ValueError:
        certs = []
    trusted = _trusted_certificates(data)
    if role is CA_FILE:
        certs += trusted
    if certs and role is not CA_FILE and (why := _unreadable(certs[0])) is not None:
        return Finding(
            str(path),
            "D012",
            "warning",
            f"{role.label} cannot be parsed here ({why}), so its dates, names and key were"
            " not checked; peers that verify it may refuse it",
            f"issue a new certificate and install it at {path}",
        )
    if certs:
        return [c for c in certs if _unreadable(c) is None]
    if trusted:
        return Finding(
            str(path),
            "D012",
            role.severity,
            f"{role.label} is a TRUSTED CERTIFICATE, a form sendmail reads only in the CA"
            f" file, so {role.consequence}",
            f"drop its trust settings: openssl x509 -in {path} -out {path}",
        )
    return Finding(
        str(path),
        "D012",
        role.severity,
        f"{role.label} holds no PEM certificate, so {role.consequence}",
        f"convert it: openssl x509 -inform DER -in {path} -out {path}.pem, then install"
        f" {path}.pem as {path}"
        if data[:1] == b"\x30"
        else f"put the PEM certificate (-----BEGIN CERTIFICATE-----) in {path}",
    )


def _unreadable(cert: x509.Certificate) -> str | None:
    """Why `cert`'s facts cannot be read (an extension twice, a SAN IP address of 5
    bytes: OpenSSL loads such a certificate), or None when they can."""
    try:
        cert_info(cert)
    except UnreadableCertificate as exc:
        return " ".join(str(exc).split())[:200] or type(exc).__name__
    return None


_TRUSTED_PEM = re.compile(
    rb"-----BEGIN TRUSTED CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*"
    rb"-----END TRUSTED CERTIFICATE-----"
)


def _trusted_certificates(data: bytes) -> list[x509.Certificate]:
    """The certificates of the `TRUSTED CERTIFICATE` blocks in `data`: each is a DER
    certificate followed by its trust settings (X509_AUX), which are dropped."""
    out = []
    for m in _TRUSTED_PEM.finditer(data):
        try:
            der = base64.b64decode(b"".join(m.group(1).split()), validate=True)
        except ValueError:
            continue
        items = _der_prefix(der)
        if items is None:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                out.append(x509.load_der_x509_certificate(der[:items]))
        except ValueError:
            continue
    return out


def _der_prefix(der: bytes) -> int | None:
    """The length of the first DER element in `der`, or None."""
    if len(der) < 2:
        return None
    length, head = der[1], 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4 or len(der) < 2 + size:
            return None
        length, head = int.from_bytes(der[2 : 2 + size], "big"), 2 + size
    return head + length if head + length <= len(der) else None


def check_validity(
    path: Path, cert: x509.Certificate, role: Role, now: dt.datetime, min_days: int
) -> list[Finding]:
    """Expired or not yet valid (D013), or expiring within `min_days` (D014).

    sendmail loads a certificate whatever its dates (OpenSSL does not check its
    own), so STARTTLS is still offered: it is the peers that verify it that
    refuse it. A CA certificate out of its dates does not stop STARTTLS either:
    only the certificates it issued stop verifying here, so it is a warning.
    """
    info = cert_info(cert)
    date = f"{info.not_after:%Y-%m-%d}"
    own = role.label.endswith("certificate")
    what = role.label if own else f"{info.subject} in {role.label}"
    severity = role.severity if own else "warning"
    refusal = "peers that verify it refuse it" if own else "certificates it issued do not verify"
    if now < info.not_before:
        return [
            Finding(
                str(path),
                "D013",
                severity,
                f"{what} is not valid until {info.not_before:%Y-%m-%d %H:%M} UTC; until then"
                f" {refusal}",
                f"check this host's clock, or install a certificate valid now at {path}",
            )
        ]
    if info.expired(now):
        return [
            Finding(
                str(path),
                "D013",
                severity,
                f"{what} expired on {date}; {refusal}",
                f"renew it and install the new certificate at {path}"
                if own
                else f"replace it in {path} with its renewed certificate, or remove it",
            )
        ]
    days = info.days_left(now)
    if days <= min_days:
        return [
            Finding(
                str(path),
                "D014",
                "warning",
                f"{what} expires in {days} day{'' if days == 1 else 's'} ({date})",
                f"renew it before {date} and install the new certificate at {path}",
            )
        ]
    return []


def check_name(path: Path, cert: x509.Certificate, fqdn: str) -> list[Finding]:
    """The server certificate should name the host's fqdn (D015)."""
    info = cert_info(cert)
    if info.matches(fqdn):
        return []
    names = ", ".join(info.names()) or "no name"
    return [
        Finding(
            str(path),
            "D015",
            "warning",
            f"the server certificate names {names}, not {fqdn}, so peers that check the name"
            " refuse it",
            f"issue a certificate with subjectAltName DNS:{a_label(fqdn)}",
        )
    ]


def _load_key(data: bytes) -> object | None:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (TypeError, ValueError, UnsupportedAlgorithm):
        return None


def key_index(key_path: Path, certs: list[x509.Certificate]) -> int | None:
    """Which of `certs` the key in `key_path` belongs to (None: none, or no usable key)."""
    try:
        key = _load_key(read_regular(key_path))
    except OSError:
        return None
    public = getattr(key, "public_key", None)
    if public is None:
        return None
    spki = public().public_bytes(*_SPKI)
    return next((i for i, c in enumerate(certs) if _spki(c) == spki), None)


def check_key(
    key_path: Path,
    role: Role,
    certs: list[x509.Certificate] | None,
    cert_path: Path | None = None,
) -> list[Finding]:
    """An unencrypted PEM private key (D010) that matches the first of `certs`, the
    certificates of the paired file `cert_path` (D011): sendmail loads only the first
    (SSL_CTX_use_certificate_file) and checks the key against it."""
    data = _read(key_path, role, "D010")
    if isinstance(data, Finding):
        return [data]
    problem = None
    if b"-----BEGIN" not in data:
        problem = "is not in PEM form"
    elif b"ENCRYPTED" in data:
        problem = "is encrypted (sendmail would prompt for its pass phrase)"
    else:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except TypeError:
            problem = "is encrypted (sendmail would prompt for its pass phrase)"
        except (ValueError, UnsupportedAlgorithm):
            problem = "holds no private key that can be read"
    if problem:
        fix = (
            f"convert it: openssl pkey -inform DER -in {key_path} -out {key_path}.pem, then"
            f" install {key_path}.pem as {key_path} (mode 600)"
            if problem == "is not in PEM form" and data[:1] == b"\x30"
            else f"install the unencrypted PEM key at {key_path}"
            " (openssl pkey -in KEY -out KEY.plain decrypts one)"
        )
        return [
            Finding(
                str(key_path),
                "D010",
                role.severity,
                f"{role.label} {problem}, so sendmail cannot load it and {role.consequence}",
                fix,
            )
        ]
    if not certs:
        return []
    spki = key.public_key().public_bytes(*_SPKI)
    if spki == _spki(certs[0]) or _spki(certs[0]) is None:
        return []  # matches, or a kind of key doctor cannot read to compare
    later = next((i for i, c in enumerate(certs) if _spki(c) == spki), None)
    if later is not None and cert_path is not None:
        return [
            Finding(
                str(key_path),
                "D011",
                role.severity,
                f"{role.label} belongs to certificate {later + 1} of {cert_path}"
                f" ({cert_info(certs[later]).subject}), but the file starts with"
                f" {cert_info(certs[0]).subject}'s and sendmail uses only the first, so its"
                f" key check fails and {role.consequence}",
                f"put {cert_info(certs[later]).subject}'s certificate first in {cert_path}"
                " (the intermediates after it)",
            )
        ]
    return [
        Finding(
            str(key_path),
            "D011",
            role.severity,
            f"{role.label} does not belong to the certificate it is paired with, so"
            f" sendmail's key check fails and {role.consequence}",
            "install the key the certificate was issued for, or the certificate for this key",
        )
    ]


def check_dh_params(path: Path, role: Role, rsa_server: bool, level: int) -> list[Finding]:
    """PEM DH parameters (D016); sendmail falls back to its built-in group otherwise.

    Parameters too small for OpenSSL's security level are read and logged
    ('Diffie-Hellman init, key=1024 bit') but refused by SSL_CTX_set_tmp_dh(), whose
    failure sendmail ignores: no DHE cipher is left, which matters only with an RSA
    server certificate (there is no DHE cipher for EC keys, nor in TLS 1.3).
    """
    data = _read(path, role, "D016")
    if isinstance(data, Finding):
        return [data]
    bits = _dh_prime_bits(data)
    if bits is None:
        return [
            Finding(
                str(path),
                "D016",
                role.severity,
                f"{role.label} holds no PEM DH parameters, so {role.consequence}",
                f"write DH parameters to {path} (openssl dhparam -out FILE 2048),"
                " or set tls.dh_params: i",
            )
        ]
    if rsa_server and _rsa_bits(bits) < _level_bits(level):
        return [weak_dh(str(path), f"{role.label} holds {bits}-bit parameters", level)]
    return []


#: what sendmail does for tls.dh_params 1 and 5 (tls.c inittls: only the first character
#: counts), and the size of p it ends with
_BUILT_IN_DH = {"1": ("generate 1024-bit", 1024), "5": ("use its built-in 512-bit", 512)}


def check_dh_setting(
    value: str | None, spec_path: str, rsa_server: bool, level: int
) -> list[Finding]:
    """D016 for tls.dh_params 1 or 5, whose groups OpenSSL's security level refuses."""
    if value not in _BUILT_IN_DH or not rsa_server:
        return []
    does, bits = _BUILT_IN_DH[value]
    if _rsa_bits(bits) >= _level_bits(level):
        return []
    return [weak_dh(spec_path, f"tls.dh_params: {value} makes sendmail {does} parameters", level)]


def weak_dh(where: str, what: str, level: int) -> Finding:
    """D016 for DH parameters OpenSSL's security level refuses."""
    return Finding(
        where,
        "D016",
        "warning",
        f"{what}, too weak for OpenSSL's security level {level}, so sendmail offers no DHE"
        " cipher and a client without ECDHE cannot connect",
        "set tls.dh_params: i (sendmail's 2048-bit group), or write 2048-bit parameters"
        " (openssl dhparam -out FILE 2048)",
    )


_DH_PEM = re.compile(
    rb"-----BEGIN (?:X9\.42 )?DH PARAMETERS-----\s*([A-Za-z0-9+/=\s]+?)\s*"
    rb"-----END (?:X9\.42 )?DH PARAMETERS-----"
)


def _der_items(data: bytes) -> list[tuple[int, bytes]] | None:
    """The (tag, contents) of each DER element in `data`, or None if it is not DER."""
    items = []
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            return None
        tag, length = data[i], data[i + 1]
        i += 2
        if length & 0x80:
            size = length & 0x7F
            if size == 0 or size > 4 or i + size > len(data):
                return None
            length = int.from_bytes(data[i : i + size], "big")
            i += size
        if i + length > len(data):
            return None
        items.append((tag, data[i : i + length]))
        i += length
    return items


def _dh_prime_bits(data: bytes) -> int | None:
    """The size of p in PEM DH parameters: a SEQUENCE of INTEGERs p, g[, ...] (PKCS #3
    or X9.42); None when `data` holds none.

    Parsed here rather than by `cryptography`, which deprecates finite-field
    DH; sendmail (OpenSSL) still reads these files.
    """
    m = _DH_PEM.search(data)
    if m is None:
        return None
    try:
        der = base64.b64decode(b"".join(m.group(1).split()), validate=True)
    except ValueError:
        return None
    outer = _der_items(der)
    if outer is None or len(outer) != 1 or outer[0][0] != 0x30:
        return None
    inner = _der_items(outer[0][1])
    if (
        inner is None
        or len(inner) < 2
        or not all(tag == 0x02 and body for tag, body in inner[:2])
        or int.from_bytes(inner[0][1], "big") <= 2
    ):
        return None
    return int.from_bytes(inner[0][1], "big").bit_length()


#: the fewest bits of security OpenSSL's security levels 0..5 accept (SSL_CTX_set_security_level)
_LEVEL_BITS = (0, 80, 112, 128, 192, 256)
#: the security level of Debian's OpenSSL 3 (built with OPENSSL_TLS_SECURITY_LEVEL=2)
DEFAULT_SECURITY_LEVEL = 2
_SECLEVEL = re.compile(rb"@SECLEVEL=(\d)")


def security_level(root: Path) -> int:
    """OpenSSL's security level for sendmail on the host under `root`: Debian's 2,
    unless ROOT/etc/ssl/openssl.cnf lowers (or raises) it with `@SECLEVEL=N` in an
    uncommented line (its system_default CipherString, which every SSL_CTX sendmail
    makes starts with); the lowest such N, so that doctor never refuses what the
    host accepts. sendmail's own CipherList is set only after the certificate is
    loaded, so it does not count."""
    try:
        text = read_regular(root / "etc/ssl/openssl.cnf")
    except OSError:
        return DEFAULT_SECURITY_LEVEL
    levels = [
        int(m.group(1))
        for line in text.splitlines()
        if not line.lstrip().startswith(b"#")
        for m in _SECLEVEL.finditer(line.split(b"#", 1)[0])
    ]
    return min(levels, default=DEFAULT_SECURITY_LEVEL)


def _rsa_bits(size: int) -> int:
    """The bits of security of an RSA, DSA or DH modulus of `size` bits (BN_security_bits)."""
    for floor, bits in ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80)):
        if size >= floor:
            return bits
    return 0


def _level_bits(level: int) -> int:
    """The fewest bits of security OpenSSL's security `level` accepts."""
    return _LEVEL_BITS[max(0, min(level, len(_LEVEL_BITS) - 1))]


def is_rsa(cert: x509.Certificate) -> bool:
    """The certificate has an RSA key (the only kind DHE ciphers serve)."""
    return isinstance(_public_key(cert), rsa.RSAPublicKey)


def _key_security(key: object) -> tuple[str, int] | None:
    """(what the key is, with its article; its bits of security as OpenSSL counts
    them: EVP_PKEY_security_bits), or None for a kind OpenSSL does not rate here."""
    # DSA by name: touching cryptography's dsa module warns that it is deprecated
    is_dsa = type(key).__name__.startswith("DSAPublicKey")
    if isinstance(key, rsa.RSAPublicKey) or is_dsa:
        size: int = getattr(key, "key_size", 0)
        name = "a DSA" if is_dsa else "an RSA"
        return f"{name} key of {size} bits", _rsa_bits(size)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"an EC key on {key.curve.name}", key.curve.key_size // 2
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "an Ed25519 key", 128
    if isinstance(key, ed448.Ed448PublicKey):
        return "an Ed448 key", 224
    return None


def _signature_security(cert: x509.Certificate) -> tuple[str, int] | None:
    """(the signature's digest, its bits of security as OpenSSL 3 counts them), or None
    for a self-signed certificate (OpenSSL does not judge those) or one without a
    digest (Ed25519)."""
    if cert.issuer == cert.subject:
        return None
    try:
        digest = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    if digest is None:
        return None
    if isinstance(digest, hashes.SHA1):
        return "SHA-1", 63
    if isinstance(digest, hashes.MD5):
        return "MD5", 39
    return digest.name.upper(), digest.digest_size * 4


#: the curves of EC certificate keys TLS clients can use: OpenSSL 3's default groups (and
#: TLS 1.3's ECDSA signature schemes) name no others
_TLS_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})


def check_strength(path: Path, cert: x509.Certificate, role: Role, level: int) -> list[Finding]:
    """A certificate OpenSSL's security level refuses to load (D017): sendmail's
    SSL_CTX_use_certificate_file() fails with 'ee key too small' or 'ca md too weak';
    or one on a curve no usual client offers (secp256k1, brainpool, P-224), which
    sendmail loads but cannot complete a handshake with."""
    need = _level_bits(level)
    key = _key_security(_public_key(cert))
    if key is not None and key[1] < need:
        return [
            Finding(
                str(path),
                "D017",
                role.severity,
                f"{role.label} has {key[0]}, too weak for OpenSSL's security level"
                f" {level}, so sendmail cannot load it ('ee key too small') and"
                f" {role.consequence}",
                "issue a certificate with an RSA key of 2048 bits or more, or an EC P-256 key",
            )
        ]
    public = _public_key(cert)
    if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name not in _TLS_CURVES:
        return [
            Finding(
                str(path),
                "D017",
                role.severity,
                f"{role.label} has {key[0] if key else 'an EC key'}, a curve TLS clients do not"
                " offer (OpenSSL's defaults: P-256, P-384, P-521), so sendmail loads it but"
                " their handshakes fail with 'no shared cipher'",
                "issue a certificate with an EC P-256 (prime256v1) or an RSA 2048 key",
            )
        ]
    sig = _signature_security(cert)
    if sig is not None and sig[1] < need:
        return [
            Finding(
                str(path),
                "D017",
                role.severity,
                f"{role.label} is signed with {sig[0]}, too weak for OpenSSL's security level"
                f" {level}, so sendmail cannot load it ('ca md too weak') and"
                f" {role.consequence}",
                "have it reissued with a SHA-256 signature",
            )
        ]
    return []


def unsent_chain(
    path: Path, certs: list[x509.Certificate], store: list[x509.Certificate], role: Role
) -> list[Finding]:
    """Intermediates in the certificate file that no peer gets (D019).

    sendmail loads the file with SSL_CTX_use_certificate_file(), which keeps the
    first certificate only; OpenSSL completes the chain it sends from the CA file
    and the CA directory (`store`). An intermediate found only after the first
    certificate is never sent, so peers that verify cannot reach their root.
    """
    known = {_identity(c) for c in store}
    missing = [c for c in _chain(certs) if _is_intermediate(c) and _identity(c) not in known]
    if not missing:
        return []
    names = ", ".join(cert_info(c).subject for c in missing)
    return [
        Finding(
            str(path),
            "D019",
            "warning",
            f"{role.label} file also holds {names}, but sendmail sends only its first"
            " certificate and takes the rest of the chain from tls.ca_cert and"
            " tls.ca_cert_path, which lack it, so peers that verify cannot build the chain",
            f"add {names} to the CA file tls.ca_cert names (a file of your own:"
            " update-ca-certificates rewrites the system bundle)",
        )
    ]


def _chain(certs: list[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates after the first that lead from it towards its root, each the
    issuer of the one before (by name); others in the file are no part of its chain."""
    chain: list[x509.Certificate] = []
    current = certs[0]
    rest = certs[1:]
    while True:
        issuer = next((c for c in rest if c.subject == current.issuer and c not in chain), None)
        if issuer is None or issuer.subject == current.subject:
            return chain
        chain.append(issuer)
        current = issuer


def _is_ca(cert: x509.Certificate) -> bool:
    """A CA certificate: basicConstraints CA, or (an old root without it) self-signed."""
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return cert.issuer == cert.subject
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType):
        return False  # its extensions cannot be read (_unreadable): no CA doctor can check


def _is_intermediate(cert: x509.Certificate) -> bool:
    """A CA certificate that is not a self-signed root (peers hold their roots)."""
    return _is_ca(cert) and cert.issuer != cert.subject


def ca_directory_certificates(directory: Path) -> list[x509.Certificate]:
    """The certificates OpenSSL finds in a CA directory: those under hashed names
    (HASH.N, as c_rehash or update-ca-certificates make them); others are never looked at."""
    out: list[x509.Certificate] = []
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return out
    for entry in entries:
        if not _HASHED.match(entry.name):
            continue
        try:
            data = read_regular(entry, _CA_FILE_LIMIT)
            out += [c for c in _pem_certificates(data) if _unreadable(c) is None]
        except (OSError, ValueError):
            continue
    return out


_HASHED = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")
#: a file in a CA directory bigger than this is no CA certificate (nor a bundle of them)
_CA_FILE_LIMIT = 4 << 20


def check_ca_directory(directory: Path, known: list[x509.Certificate]) -> list[Finding]:
    """CA certificates in the CA directory that OpenSSL never finds (D009).

    OpenSSL's directory lookup (CACertPath) opens only `HASH.N` names, HASH being
    the subject's hash; a CA certificate copied in under its own name is not seen
    until `openssl rehash` (c_rehash, update-ca-certificates) links it, so peers
    it issued fail verification (verify=FAIL), inbound and outbound. Leaf
    certificates there are never looked up, and neither are the `known` ones (the
    CA file's, found there; the host's own, a self-signed one included, which issued
    no peer's certificate), and a file of several certificates (a chain,
    a bundle) is one rehash skips too: it is the certificate files' business (D019).
    """
    try:
        entries = sorted(e for e in directory.iterdir() if e.is_file())
    except OSError:
        return []
    hashed = {_identity(c) for c in [*ca_directory_certificates(directory), *known]}
    unseen: list[x509.Certificate] = []
    for entry in entries:
        if _HASHED.match(entry.name):
            continue
        try:
            certs = _pem_certificates(read_regular(entry, _CA_FILE_LIMIT))
        except (OSError, ValueError):
            continue
        # openssl rehash links a file of one certificate; a bundle stays unlinked
        if len(certs) == 1 and _is_ca(certs[0]) and _identity(certs[0]) not in hashed:
            unseen += certs
    if not unseen:
        return []
    first = cert_info(unseen[0]).subject
    more = f" and {len(unseen) - 1} more" if len(unseen) > 1 else ""
    return [
        Finding(
            str(directory),
            "D009",
            "warning",
            f"the CA directory (tls.ca_cert_path) holds {first}{more} under no hashed name"
            " (HASH.0), and OpenSSL looks certificates up by those alone, so peers they"
            " issued fail verification",
            f"run openssl rehash {directory} (or c_rehash)",
        )
    ]


def _identity(cert: x509.Certificate) -> tuple[x509.Name, bytes | None]:
    return cert.subject, _spki(cert)


_CRL_PEM = re.compile(rb"-----BEGIN X509 CRL-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END X509 CRL-----")


def check_crl(path: Path, role: Role, now: dt.datetime) -> list[Finding]:
    """The CRL sendmail reads (the file's first PEM CRL: PEM_read_bio_X509_CRL) is
    there (D018), not past its next update (D018: OpenSSL then fails every
    certificate its issuer signed with 'CRL has expired'), and alone (D018: the
    CRLs after it are never read)."""
    data = _read(path, role, "D018")
    if isinstance(data, Finding):
        return [data]
    m = _CRL_PEM.search(data)
    crl = None
    if m is not None:
        try:
            crl = x509.load_der_x509_crl(base64.b64decode(b"".join(m.group(1).split())))
        except ValueError:
            crl = None
    if crl is None:
        return [
            Finding(
                str(path),
                "D018",
                role.severity,
                f"{role.label} holds no PEM CRL (sendmail logs 'PEM_read_bio_X509_CRL failed'),"
                f" so {role.consequence}",
                f"put the PEM CRL (-----BEGIN X509 CRL-----) in {path}"
                " (openssl crl -inform DER -in CRL -out FILE converts a DER one)",
            )
        ]
    next_update = crl.next_update_utc
    if next_update is not None and next_update < now:
        issuer = oneline(crl.issuer)
        return [
            Finding(
                str(path),
                "D018",
                role.severity,
                f"the CRL of {issuer} in {role.label} is past its next update"
                f" ({next_update:%Y-%m-%d}), so every certificate {issuer} issued fails"
                " verification ('CRL has expired')",
                f"install the current CRL at {path}",
            )
        ]
    count = len(_CRL_PEM.findall(data))
    if count > 1:
        issuer = oneline(crl.issuer)
        return [
            Finding(
                str(path),
                "D018",
                role.severity,
                f"{role.label} holds {count} CRLs, but sendmail reads only the first (from"
                f" {issuer}), so the others' revocations are not detected",
                "keep one CA's CRL in tls.crl, or put each CRL in a directory hashed with"
                " openssl rehash and name it with mc.defines confCRL_PATH",
            )
        ]
    return []


_EKU = x509.oid.ExtendedKeyUsageOID
#: the extended key usage each certificate role needs from peers that verify it
_PURPOSE = {"tls.server_cert": _EKU.SERVER_AUTH, "tls.client_cert": _EKU.CLIENT_AUTH}
#: OpenSSL's names of the usual extended key usages
_EKU_NAMES = {
    _EKU.SERVER_AUTH: "serverAuth",
    _EKU.CLIENT_AUTH: "clientAuth",
    _EKU.CODE_SIGNING: "codeSigning",
    _EKU.EMAIL_PROTECTION: "emailProtection",
    _EKU.TIME_STAMPING: "timeStamping",
    _EKU.OCSP_SIGNING: "OCSPSigning",
}


def check_purpose(path: Path, cert: x509.Certificate, role: Role) -> list[Finding]:
    """An extended key usage without the role's purpose (D039): sendmail loads the
    certificate, but a peer that verifies it refuses it ('unsupported certificate
    purpose'; sendmail logs the peer's 'alert unsupported certificate')."""
    wanted = _PURPOSE.get(role.setting)
    if wanted is None:
        return []
    try:
        usages = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return []
    if wanted in usages or _EKU.ANY_EXTENDED_KEY_USAGE in usages:
        return []
    has = ", ".join(_EKU_NAMES.get(u, u.dotted_string) for u in usages) or "none"
    return [
        Finding(
            str(path),
            "D039",
            "warning",
            f"{role.label}'s extended key usage ({has}) lacks {_EKU_NAMES[wanted]}, so peers"
            " that verify it refuse it ('unsupported certificate purpose')",
            f"issue a certificate whose extendedKeyUsage includes {_EKU_NAMES[wanted]}",
        )
    ]
