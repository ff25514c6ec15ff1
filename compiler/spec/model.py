"""The spec, version 1, as pydantic models (documented in README.md).

Strict: unknown keys are errors, types are not coerced ("128" is not a
number), and every string that ends up in a generated file is checked here so
that no value can break out of an m4 quote or an access line. Keys of
`domains:` and `recipients:` are kept as written; `compiler.sendmail.names` gives the
normalised access key, so two spellings of one key can be reported as
duplicates instead of silently merging.

Annotations are evaluated as the classes are defined (no `from __future__ import
annotations`): pydantic reads each field's type from them, and with strings it
would evaluate every one again (a tenth of the models' build).
"""

import functools
import ipaddress
import re
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from compiler.problems import shown
from compiler.sendmail import (
    DOCUMENTED_DEFINES,
    SSL_OPTIONS,
    TLS13_SUITES,
    accessmap,
    names,
    releases,
)
from compiler.spec.accessfiles import check_name


class Model(BaseModel):
    """Base of every spec model: strict, closed, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check(fn: Any) -> AfterValidator:
    """Run `fn(value)` for validation only; keep the value as written."""

    def run(value: str) -> str:
        fn(value)
        return value

    return AfterValidator(run)


_M4_UNSAFE = re.compile(
    rf"[\x00-\x1f\x7f{names.LINE_BREAKS_BEYOND_ASCII}`'\u2018\u2019\u201a\u201b\u201c\u201d\u00b4]"
)
_M4_ARG_REF = re.compile(r"\$[0-9#*@]")
#: a `#` sendmail reads as a comment when it reads sendmail.cf (readcf.c translate_dollars):
#: every one not escaped by the backslash before it (`$#` is refused as m4's already)
_CF_COMMENT = re.compile(r"(?<!\\)#")
_PATH = re.compile(r"^(/[A-Za-z0-9._+@=:~-]+)+/?\Z")
_PATH_CHAR = re.compile(r"[A-Za-z0-9._+@=:~/-]")
_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_DURATION = re.compile(r"^([0-9]+[smhdw]?)+\Z")
_CIPHER_LIST = re.compile(r"^[A-Za-z0-9!+@:,._=-]+\Z")
_CIPHER_CHAR = re.compile(r"[A-Za-z0-9!+@:,._=-]")
_HEX_NUMBER = re.compile(r"^0x[0-9a-fA-F]+\Z")
_CONF_NAME = re.compile(r"^conf[A-Z0-9_]+\Z")
_MACRO_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_XTEXT_ESCAPE = re.compile(r"\+[0-9A-F]{2}")


def _m4_text(value: str) -> None:
    bad = names.first_unsafe(value, _M4_UNSAFE)
    if bad is not None and (bad in "\u2028\u2029" or 0x80 <= ord(bad) <= 0x9F):
        raise ValueError(
            f"a value cannot contain {names.describe_char(bad)}: editors and Python's"
            " splitlines() break the line there"
        )
    if bad is not None:
        raise ValueError(
            f"{names.describe_char(bad)} cannot stand inside an m4 quote; tlsc writes"
            " every quote itself"
        )
    if _M4_ARG_REF.search(value):
        raise ValueError("'$' followed by a digit, '#', '*' or '@' is an m4 argument reference")
    if _CF_COMMENT.search(value):
        raise ValueError(
            "sendmail reads a '#' in sendmail.cf as the start of a comment and drops it with"
            " the rest of the line and the blanks before it; write '\\#' for the character"
        )
    if value != value.strip():
        raise ValueError("a value cannot start or end with a blank (m4 would keep it)")
    if "  " in value or "\t" in value:
        raise ValueError("a value cannot hold tabs or runs of blanks")


def _path(value: str) -> None:
    bad = names.first_unsafe(value) or names.first_unsafe(value, _M4_UNSAFE)
    if bad is not None:
        raise ValueError(f"a path cannot contain {names.describe_char(bad)}")
    if not value.startswith("/"):
        raise ValueError(f"'{shown(value)}' is not an absolute path")
    if not _PATH.match(value):
        bad_ch = next((c for c in value if not _PATH_CHAR.match(c)), None)
        if bad_ch is not None:
            raise ValueError(f"a path cannot contain {names.describe_char(bad_ch)}")
        raise ValueError(f"'{shown(value)}' has an empty path component")
    if any(part in (".", "..") for part in value.split("/")):
        raise ValueError(f"'{shown(value)}' cannot contain '.' or '..' components")


def _ca_dir(value: str) -> None:
    _path(value)
    if ":" in value:
        raise ValueError(
            f"OpenSSL reads a ':' in a CA directory as the break between two directories"
            f" ('{shown(value.split(':', 1)[0])}' and '{shown(value.split(':', 1)[1])}'), so"
            " sendmail would never find the certificates in this one"
        )


def _file_path(value: str) -> None:
    _path(value)
    if value.endswith("/"):
        raise ValueError(f"'{shown(value)}' names a file, so it cannot end with '/'")


def _word(value: str) -> None:
    if not _WORD.match(value):
        raise ValueError(
            f"'{shown(value)}' must be a single word of letters, digits, '.', '_' or '-'"
        )


def _host_name(value: str) -> None:
    if not _WORD.match(value):
        raise ValueError(
            f"host name '{shown(value)}' must start with a letter or digit and hold only"
            " letters, digits, '.', '_' or '-'"
        )
    if len(value) > 63:
        raise ValueError(f"host name '{shown(value)}' is longer than 63 characters")


def _command(value: str) -> None:
    bad = next((c for c in value if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if bad is not None:
        raise ValueError(f"a command cannot contain {names.describe_char(bad)}")
    if not value.strip():
        raise ValueError("a command cannot be empty; use null for none")


#: seconds of each unit of sendmail's convtime(); a bare number is minutes (settimeout)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "": 60}
_DURATION_PART = re.compile(r"([0-9]+)([smhdw]?)")
#: the longest tls.timeout: sendmail's convtime() adds up in a time_t without an
#: overflow check (2^64+1 seconds would be 1), and no handshake takes a day
MAX_TIMEOUT_SECONDS = 86400


def _duration(value: str) -> None:
    if not _DURATION.match(value):
        raise ValueError(f"'{shown(value)}' is not a sendmail time such as 30s, 2m or 1h")
    total = 0
    for digits, unit in _DURATION_PART.findall(value):
        # more than 12 digits (beyond leading zeros) is past a day already: not read
        digits = digits.lstrip("0") or "0"
        number = int(digits) if len(digits) <= 12 else MAX_TIMEOUT_SECONDS + 1
        total += number * _UNIT_SECONDS[unit]
        if total > MAX_TIMEOUT_SECONDS:
            raise ValueError(
                f"'{shown(value)}' is longer than a day (1d), which no STARTTLS handshake"
                " takes; sendmail adds the time up without a bound, so a far larger one"
                " comes out as another"
            )


def _cipher_list(value: str) -> None:
    if not _CIPHER_LIST.match(value):
        bad = next((c for c in value if not _CIPHER_CHAR.match(c)), None)
        if bad is None:
            raise ValueError("a cipher list cannot be empty; use null for OpenSSL's default")
        raise ValueError(f"a cipher list cannot contain {names.describe_char(bad)}")
    if not _selects_a_tls12_cipher(value):
        hint = (
            "put TLSv1.3 suites (TLS_...) in tls.ciphersuites"
            if re.search(r"(^|[:,\s])TLS_", value)
            else f"check its names with: openssl ciphers -v '{shown(value)}'"
        )
        raise ValueError(
            f"OpenSSL selects no TLSv1.2 cipher from '{shown(value)}', so sendmail logs 'list"
            " ignored' yet is left with no TLSv1.2 cipher: only TLSv1.3 peers could use"
            f" STARTTLS; {hint}"
        )


@functools.lru_cache(maxsize=64)
def _selects_a_tls12_cipher(value: str) -> bool:
    """SSL_CTX_set_cipher_list(), as sendmail calls it, of this machine's OpenSSL (3.0
    fails when the list selects no TLSv1.2-or-older cipher, having replaced the
    context's list already). `ssl` is imported only here: a cold validate of a spec
    without a cipher list does not pay for it."""
    import ssl

    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_ciphers(value)
    except ssl.SSLError:
        return False
    return True


def _ssl_option(value: str) -> None:
    name = value[1:] if value[:1] in "+-" else value
    if _HEX_NUMBER.match(name):
        return
    if name not in SSL_OPTIONS:
        raise ValueError(
            f"'{shown(name)}' is not an SSL option this sendmail knows; an unknown one stops the"
            f" daemon from starting{accessmap.did_you_mean(name, sorted(SSL_OPTIONS))}"
        )


def _dh_params(value: str) -> None:
    if value in ("1", "2", "5", "i", "none"):
        return
    _file_path(value)


def _define_name(value: str) -> None:
    if _CONF_NAME.match(value) or value in DOCUMENTED_DEFINES:
        return
    if not _MACRO_NAME.match(value):
        raise ValueError(f"'{shown(value)}' is not an m4 macro name")
    raise ValueError(
        f"'{shown(value)}' is neither a conf* option nor a setting cf.README documents; defining"
        f" it could redefine an m4 or sendmail macro (write raw m4 in mc.extra)"
        f"{accessmap.did_you_mean(value, sorted(DOCUMENTED_DEFINES))}"
    )


def _dn(value: str) -> None:
    if not value.startswith("/") or "=" not in value:
        raise ValueError(
            f"'{shown(value)}' is not a certificate name in OpenSSL's one-line form"
            " (/C=../O=../CN=..)"
        )
    bad = next((c for c in value if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if bad is not None:
        raise ValueError(f"a certificate name cannot contain {names.describe_char(bad)}")
    if _XTEXT_ESCAPE.search(value):
        raise ValueError(
            f"'{shown(value)}' looks xtext-encoded already; write the name naturally"
            " (tlsc applies sendmail's +XX encoding)"
        )


def _tag_name(value: str) -> None:
    if not accessmap.is_tag_name(value):
        raise ValueError(
            f"'{shown(value)}' cannot be an issuer tag: use letters, digits, '_' or '-',"
            " and not the name of a sendmail access tag"
        )


_GROUP = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _group_name(value: str) -> None:
    if not _GROUP.match(value):
        raise ValueError(
            f"group name '{shown(value)}' must hold only letters, digits and '_' and not"
            " start with a digit (Ansible's rule for group names)"
        )


def _release(value: str) -> None:
    if not releases.is_release(value):
        raise ValueError(
            f"'{shown(value)}' is not a sendmail release tlsc knows; use 8.17 (Debian 12)"
            " or 8.18 (Debian 13), optionally with the patch level (8.18.1)"
        )


def _ciphersuites(value: str) -> None:
    for suite in value.split(":"):
        if suite not in TLS13_SUITES:
            raise ValueError(
                f"'{shown(suite)}' is not a TLSv1.3 cipher suite"
                f"{accessmap.did_you_mean(suite, list(TLS13_SUITES))}; use"
                f" {', '.join(TLS13_SUITES)}, joined by ':'"
            )


def _unique_groups(value: list[str]) -> None:
    seen: set[str] = set()
    for name in value:
        if name in seen:
            raise ValueError(f"group '{shown(name)}' is listed twice")
        seen.add(name)


def _cn(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        names.parse_hostname(value)
        return value
    raise ValueError("cn must be true, false or a host name")


def _peer_rule_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        if value not in ("may", "encrypt", "verify"):
            raise ValueError(
                f"'{shown(value)}' is not a rule; write may, encrypt, verify or a mapping"
                f"{accessmap.did_you_mean(value, ['may', 'encrypt', 'verify'])}"
            )
        return {"require": value}
    return value


def _requirement_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        if value not in ("encrypt", "verify"):
            raise ValueError(
                f"'{shown(value)}' is not a requirement; write encrypt, verify or a mapping"
                f"{accessmap.did_you_mean(value, ['encrypt', 'verify'])}"
            )
        return {"require": value}
    return value


def _feature_shorthand(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


def _version_number(value: Any) -> Any:
    # Literal[1] alone takes true and 1.0 (both == 1 in Python); strict takes neither
    if not isinstance(value, int) or isinstance(value, bool):
        raise PydanticCustomError("version_type", "version must be the number 1")
    return value


def _define_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    return value


#: postfix-mta-sts-resolver's own default (defaults.py: HOST 127.0.0.1, PORT 8461);
#: FEATURE(`sts') without an argument asks inet:5461@127.0.0.1 instead
MTA_STS_SOCKET = "inet:8461@127.0.0.1"
_SOCKET_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
_SOCKET_HOST = re.compile(rf"^{_SOCKET_LABEL}(\.{_SOCKET_LABEL})*\Z")


def _socket_map(value: str) -> None:
    """A sendmail socket map address: inet:PORT@HOST, inet6:PORT@ADDRESS, local:/PATH."""
    kind, colon, rest = value.partition(":")
    if not colon or kind not in ("inet", "inet6", "local", "unix"):
        raise ValueError(
            f"'{shown(value)}' is not a socket map address; write inet:PORT@HOST"
            f" ({MTA_STS_SOCKET}, postfix-mta-sts-resolver's default), inet6:PORT@ADDRESS"
            " or local:/PATH"
        )
    if kind in ("local", "unix"):
        _file_path(rest)
        return
    port, at, host = rest.partition("@")
    if not at or not names.port_digits(port) or not 1 <= int(port) <= 65535 or port[0] == "0":
        raise ValueError(
            f"'{shown(value)}' needs a port from 1 to 65535 and a host: {kind}:PORT@HOST"
        )
    if kind == "inet6":
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"'{shown(host)}' in {kind}: is not an IPv6 address") from None
    elif not _SOCKET_HOST.match(host) or len(host) > 253:
        raise ValueError(f"'{shown(host)}' in {kind}: is not an IPv4 address or a host name")
    else:
        _dotted_quad(host, kind)


#: a part of a number glibc's inet_aton reads (decimal, octal with a 0, hex with 0x)
_ATON_PART = re.compile(r"(0[xX][0-9A-Fa-f]*|[0-9]+)\Z")


def _dotted_quad(host: str, kind: str) -> None:
    """A host that is a number to the resolver (gethostbyname reads it with inet_aton,
    not DNS) must be an IPv4 address as one reads it: 127.000.000.010 is 127.0.0.8
    to sendmail, 1.2.3 is 1.2.0.3, 256.0.0.1 is no address."""
    parts = host.split(".")
    if len(parts) > 4 or not all(_ATON_PART.match(p) for p in parts):
        return
    try:
        ipaddress.IPv4Address(host)
        return
    except ValueError:
        pass
    import socket

    try:
        read = f"as {socket.inet_ntoa(socket.inet_aton(host))}"
    except OSError:
        read = "as no address at all"
    raise ValueError(
        f"'{shown(host)}' in {kind}: is not an IPv4 address in dotted-quad form (like"
        f" 127.0.0.1); sendmail's resolver reads it {read}"
    )


AbsPath = Annotated[str, _check(_path)]
CaDirPath = Annotated[str, _check(_ca_dir)]
SpecRelativePath = Annotated[str, StringConstraints(max_length=1024), _check(check_name)]
FilePath = Annotated[str, _check(_file_path)]
M4Text = Annotated[str, StringConstraints(min_length=1, max_length=1024), _check(_m4_text)]
M4Arg = Annotated[str, StringConstraints(max_length=1024), _check(_m4_text)]
Word = Annotated[str, StringConstraints(max_length=128), _check(_word)]
Command = Annotated[str, StringConstraints(max_length=4096), _check(_command)]
Duration = Annotated[str, _check(_duration)]
CipherList = Annotated[str, StringConstraints(max_length=1024), _check(_cipher_list)]
SslOption = Annotated[str, _check(_ssl_option)]
DhParams = Annotated[str, _check(_dh_params)]
DefineName = Annotated[str, StringConstraints(max_length=128), _check(_define_name)]
DefineValue = Annotated[
    str,
    BeforeValidator(
        _define_value,
        json_schema_input_type=str
        | Annotated[int, Field(description="written as its decimal digits")]
        | Annotated[bool, Field(description="written as True or False")],
    ),
    _check(_m4_text),
]
HostName = Annotated[
    str,
    _check(_host_name),  # a sentence, where a pattern would print the regex
    WithJsonSchema(
        {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", "maxLength": 63}
    ),
]
Fqdn = Annotated[str, _check(names.parse_hostname)]
IpAddress = Annotated[str, _check(names.parse_address)]
PeerKey = Annotated[str, _check(names.parse_peer)]
RecipientKey = Annotated[str, _check(names.parse_recipient)]
DistinguishedName = Annotated[str, StringConstraints(max_length=1024), _check(_dn)]
TagName = Annotated[str, StringConstraints(max_length=64), _check(_tag_name)]
GroupName = Annotated[
    str,
    StringConstraints(max_length=64),
    _check(_group_name),
    WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$", "maxLength": 64}),
]
Release = Annotated[
    str,
    StringConstraints(max_length=16),
    _check(_release),
    WithJsonSchema({"type": "string", "pattern": releases.RELEASE_PATTERN}),
]
SocketMap = Annotated[str, StringConstraints(max_length=512), _check(_socket_map)]
Ciphersuites = Annotated[
    str, StringConstraints(min_length=1, max_length=512), _check(_ciphersuites)
]
Bits = Annotated[int, Field(ge=1, le=65535)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Paths(Model):
    """Where the managed files live on a host."""

    sendmail_mc: FilePath = Field(
        "/etc/mail/sendmail.mc",
        description="Where tlsc writes sendmail.mc; apply builds sendmail_cf from it with m4.",
        examples=["/etc/mail/mx1/sendmail.mc"],
    )
    sendmail_cf: FilePath = Field(
        "/etc/mail/sendmail.cf",
        description="The sendmail.cf apply builds from sendmail_mc with m4 (tlsc never renders"
        " it itself); a change to it is what makes apply run commands.restart.",
        examples=["/etc/mail/mx1/sendmail.cf"],
    )
    starttls_m4: FilePath = Field(
        "/etc/mail/tls/starttls.m4",
        description="Where tlsc writes the tls: defines; sendmail.mc includes it before the"
        " MAILER lines: include(`PATH')dnl",
        examples=["/etc/mail/mx1/starttls.m4"],
    )
    access: FilePath = Field(
        "/etc/mail/access",
        description="Where tlsc writes the access file (KEY<TAB>VALUE lines: access:,"
        " domains:, recipients:, issuer_tags:).",
        examples=["/etc/mail/mx1/access"],
    )
    access_db: FilePath = Field(
        "/etc/mail/access.db",
        description="The map apply builds from the access file with makemap hash; must end in"
        " .db (S213). Any other path than /etc/mail/access.db makes the added"
        " FEATURE(`access_db', ``hash -T<TMPF> PATH-WITHOUT-.db'')dnl name it.",
        examples=["/etc/mail/mx1/access.db"],
    )


class Commands(Model):
    """Shell commands apply runs."""

    restart: Command | None = Field(
        "/etc/init.d/sendmail restart",
        description="Run by apply only when sendmail.cf changed; null: sendmail is not"
        " restarted and keeps its old settings (plan warns, P106). Writes no file line.",
        examples=["systemctl restart sendmail", None],
    )
    after: Command | None = Field(
        None,
        description="Run by apply after the restart step, when set and something changed;"
        " null: nothing. Writes no file line.",
        examples=["make -C /etc/mail"],
    )


class MtaSts(Model):
    """MTA-STS (RFC 8461) for outbound mail, through postfix-mta-sts-resolver."""

    socket: SocketMap = Field(
        MTA_STS_SOCKET,
        description="Where postfix-mta-sts-resolver answers sendmail's socket map queries:"
        " inet:PORT@HOST, inet6:PORT@ADDRESS or local:/PATH (its `path:` setting); in"
        " starttls.m4: FEATURE(`sts', ``socket -d5 -T<TMPF> SOCKET'')dnl. The default is"
        " the resolver's own, inet:8461@127.0.0.1; tlsc always writes it, since"
        " FEATURE(`sts') alone asks inet:5461@127.0.0.1.",
        examples=["inet:8461@127.0.0.1", "local:/var/run/mta-sts/mta-sts.sock"],
    )


def _mta_sts_shorthand(value: Any) -> Any:
    if value is True:
        return {}
    if value is False:
        return None
    if value is not None and not isinstance(value, dict | MtaSts):
        raise ValueError("write true, false or {socket: ADDRESS}")
    return value


class Tls(Model):
    """STARTTLS settings, rendered into starttls.m4."""

    enabled: bool = Field(
        True,
        description="true: tlsc writes starttls.m4 and sendmail.mc includes it"
        " (include(`/etc/mail/tls/starttls.m4')dnl); false: neither, so sendmail offers no"
        " STARTTLS. The access rules are written either way.",
        examples=[False],
    )
    ca_cert_path: CaDirPath | None = Field(
        "/etc/ssl/certs",
        description="Directory of trusted CA certificates, in starttls.m4:"
        " define(`confCACERT_PATH', ``PATH'')dnl; null: no line.",
        examples=["/etc/pki/tls/certs"],
    )
    ca_cert: FilePath | None = Field(
        "/etc/mail/tls/ca.crt",
        description="File of trusted CA certificates, in starttls.m4:"
        " define(`confCACERT', ``PATH'')dnl; null: no line.",
        examples=["/etc/pki/tls/certs/ca-bundle.crt", None],
    )
    server_cert: FilePath | None = Field(
        "/etc/mail/tls/sendmail-server.crt",
        description="The certificate sendmail presents to connecting clients, in starttls.m4:"
        " define(`confSERVER_CERT', ``PATH'')dnl; null: no line.",
        examples=["/etc/mail/tls/mx1.crt"],
    )
    server_key: FilePath | None = Field(
        "/etc/mail/tls/sendmail-common.key",
        description="The private key of server_cert, in starttls.m4:"
        " define(`confSERVER_KEY', ``PATH'')dnl; null: no line.",
        examples=["/etc/mail/tls/mx1.key"],
    )
    client_cert: FilePath | None = Field(
        "/etc/mail/tls/sendmail-client.crt",
        description="The certificate sendmail presents when it connects to other servers, in"
        " starttls.m4: define(`confCLIENT_CERT', ``PATH'')dnl; null: no line.",
        examples=["/etc/mail/tls/mx1-client.crt"],
    )
    client_key: FilePath | None = Field(
        "/etc/mail/tls/sendmail-common.key",
        description="The private key of client_cert, in starttls.m4:"
        " define(`confCLIENT_KEY', ``PATH'')dnl; null: no line.",
        examples=["/etc/mail/tls/mx1-client.key"],
    )
    dh_params: DhParams | None = Field(
        "/etc/mail/tls/sendmail-common.prm",
        description="A DH parameters file or one of sendmail's values 1, 2, 5, i, none; in"
        " starttls.m4: define(`confDH_PARAMETERS', ``VALUE'')dnl; null: no line.",
        examples=["i", "/etc/mail/tls/dh2048.pem"],
    )
    crl: FilePath | None = Field(
        None,
        description="A certificate revocation list file, in starttls.m4:"
        " define(`confCRL', ``PATH'')dnl; null (the default): no line.",
        examples=["/etc/mail/tls/ca.crl"],
    )
    request_client_cert: bool = Field(
        False,
        description="false: starttls.m4 has define(`confTLS_SRV_OPTIONS', ``V'')dnl and each"
        " inbound verify rule adds Srv_Features:KEY<TAB>v to the access file; true: neither"
        " is written.",
        examples=[True],
    )
    timeout: Duration | None = Field(
        "2m",
        description="A sendmail time (30s, 2m, 1h; a number without a unit is minutes to"
        " sendmail, a warning, S228), in starttls.m4:"
        " define(`confTO_STARTTLS', ``TIME'')dnl; null: no line.",
        examples=["1m", None],
    )
    cipher_list: CipherList | None = Field(
        None,
        description="An OpenSSL cipher list, in starttls.m4:"
        " define(`confCIPHER_LIST', ``LIST'')dnl; null (the default): no line, OpenSSL's"
        " default.",
        examples=["HIGH:!aNULL:!MD5"],
    )
    server_ssl_options: list[SslOption] = Field(
        [],
        description="SSL_OP_ names (or 0x numbers), each optionally with + or -, joined by"
        " blanks in starttls.m4: define(`confSERVER_SSL_OPTIONS', ``OPTIONS'')dnl; []: no"
        " line.",
        examples=[["+SSL_OP_NO_TLSv1", "+SSL_OP_NO_TLSv1_1"]],
    )
    client_ssl_options: list[SslOption] = Field(
        [],
        description="SSL_OP_ names (or 0x numbers), each optionally with + or -, joined by"
        " blanks in starttls.m4: define(`confCLIENT_SSL_OPTIONS', ``OPTIONS'')dnl; []: no"
        " line.",
        examples=[["+SSL_OP_NO_TLSv1"]],
    )
    min_protocol: Literal["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] | None = Field(
        None,
        description="The oldest TLS version sendmail accepts (inbound) and uses (outbound):"
        " +SSL_OP_NO_SSLv3 and +SSL_OP_NO_TLSv1... for each older version, after"
        " server_ssl_options and client_ssl_options in starttls.m4's"
        " confSERVER_SSL_OPTIONS and confCLIENT_SSL_OPTIONS; null (the default): OpenSSL's"
        " floor.",
        examples=["TLSv1.2"],
    )
    ciphersuites: Ciphersuites | None = Field(
        None,
        description="The TLSv1.3 cipher suites, in order, joined by ':' (cipher_list does not"
        " apply to TLSv1.3). sendmail reads them from its CipherSuites option, which has no"
        " m4 define: starttls.m4 writes it into the .cf's local section, PUSHDIVERT(6)dnl"
        " then `O CipherSuites=SUITES' and POPDIVERT`'dnl; null (the default): OpenSSL's.",
        examples=["TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"],
    )
    dane: bool = Field(
        False,
        description="true: DANE (RFC 7672) for outbound mail, in starttls.m4:"
        " define(`confDANE', ``true'')dnl; sendmail 8.18 only (8.17 is built without DANE"
        " and will not start). Needs a local DNSSEC-validating resolver (tlsc doctor"
        " checks /etc/resolv.conf); domains: NAME: {outbound: {dane: false}} turns it off"
        " for the servers named NAME. false (the default): no line.",
        examples=[True],
    )
    mta_sts: Annotated[
        MtaSts | None,
        BeforeValidator(
            _mta_sts_shorthand,
            json_schema_input_type=Annotated[
                bool, Field(description="true: on, at the resolver's socket; false: off")
            ]
            | MtaSts
            | None,
        ),
    ] = Field(
        None,
        description="MTA-STS (RFC 8461) for outbound mail: true, or {socket: ADDRESS} for"
        " postfix-mta-sts-resolver elsewhere than its default inet:8461@127.0.0.1. In"
        " starttls.m4: FEATURE(`sts', ``socket -d5 -T<TMPF> ADDRESS'')dnl (sendmail then"
        " defers a recipient whose domain's enforce policy lists no MX it reached, or whose"
        " certificate does not name it). Needs the resolver running (tlsc doctor asks it,"
        " D036); false or null (the default): no line.",
        examples=[True, {"socket": "inet:8461@127.0.0.1"}],
    )
    group_readable_key: bool = Field(
        True,
        description="true: starttls.m4 appends GroupReadableKeyFile to confDONT_BLAME_SENDMAIL,"
        " keeping what the .mc set there, so sendmail accepts a group-readable key;"
        " false: no line.",
        examples=[False],
    )


class Feature(Model):
    """A FEATURE(`name', `arg', ...) line."""

    name: Word = Field(
        description="The FEATURE name (a file of sendmail's cf/feature), in sendmail.mc:"
        " FEATURE(`NAME')dnl",
        examples=["use_cw_file", "greet_pause"],
    )
    args: list[M4Arg] = Field(
        [],
        description="The FEATURE's arguments, each doubly quoted; an empty string leaves the"
        " argument empty: FEATURE(`access_db', , ``skip'')dnl",
        examples=[["1000"], ["", "skip"]],
    )


class Mc(Model):
    """The parts of sendmail.mc, rendered in a fixed order."""

    cf_m4: FilePath = Field(
        "/usr/share/sendmail/cf/m4/cf.m4",
        description="sendmail's cf.m4, the first include of sendmail.mc:"
        " include(`PATH')dnl; must be m4/cf.m4 of a sendmail cf tree (S219).",
        examples=["/usr/share/sendmail/cf/m4/cf.m4"],
    )
    ostype: Word = Field(
        "debian",
        description="In sendmail.mc: OSTYPE(`NAME')dnl",
        examples=["linux", "debian"],
    )
    domain: Word | None = Field(
        "debian-mta",
        description="In sendmail.mc: DOMAIN(`NAME')dnl; null: no DOMAIN line.",
        examples=[None, "debian-mta"],
    )
    defines: dict[DefineName, DefineValue] = Field(
        {},
        description="confNAME: value; a number or true/false is written as text. In"
        " sendmail.mc, sorted by name: define(`NAME', ``VALUE'')dnl. The names starttls.m4"
        " sets from tls: are refused here (S202).",
        examples=[{"confPRIVACY_FLAGS": "authwarnings,noexpn,novrfy"}],
    )
    features: list[
        Annotated[
            Feature,
            BeforeValidator(
                _feature_shorthand,
                json_schema_input_type=Annotated[
                    Word, Field(description="shorthand for {name: FEATURE}")
                ]
                | Feature,
            ),
        ]
    ] = Field(
        [],
        description="FEATURE lines: a name, or {name: NAME, args: [...]}. In sendmail.mc, as"
        " listed: FEATURE(`NAME', ``ARG'')dnl; FEATURE(`access_db') is put first when the"
        " access file has entries and the list lacks it.",
        examples=[["use_cw_file", {"name": "greet_pause", "args": ["1000"]}]],
    )
    daemon_options: list[M4Text] = Field(
        [],
        description="One DAEMON_OPTIONS line each, in sendmail.mc: DAEMON_OPTIONS(``OPTIONS'')dnl",
        examples=[["Family=inet, Name=MTA-v4, Port=smtp"]],
    )
    extra: list[Annotated[str, StringConstraints(max_length=4096)]] = Field(
        [],
        description="Raw m4 lines, copied into sendmail.mc as written after the"
        " DAEMON_OPTIONS lines; checked for broken quoting (S209) and includes (S219);"
        " a line that sets an option tls: owns (a define of confCIPHER_LIST, an"
        " `O CipherList=` line) is refused (S202).",
        examples=[["LOCAL_CONFIG"]],
    )
    mailers: list[Word] = Field(
        ["local", "smtp"],
        description="One MAILER line each, last in sendmail.mc: MAILER(`NAME')dnl",
        examples=[["local", "smtp", "procmail"]],
    )


class HostSettings(Model):
    """Everything a host may set; `defaults:` holds one for all hosts."""

    paths: Paths = Field(Paths(), description="Where the managed files live on the host.")
    commands: Commands = Field(Commands(), description="The shell commands apply runs.")
    smtp_port: Port = Field(
        25,
        description="The port verify (and apply's verify step) probes, at the host's address"
        " or else its fqdn. Writes no file line.",
        examples=[2525],
    )
    tls: Tls = Field(Tls(), description="STARTTLS settings, written to starttls.m4.")
    mc: Mc = Field(Mc(), description="The parts of sendmail.mc, written in a fixed order.")
    sendmail: Release = Field(
        releases.DEFAULT,
        description="The sendmail release the host runs: 8.17 (Debian 12) or 8.18"
        " (Debian 13), optionally exact (8.18.1). Validation, the files and lint follow"
        " that release; doctor and apply check the host's binary against it. Writes no"
        " line by itself.",
        examples=["8.18", "8.18.1"],
    )
    ownership: Literal["file", "block", "tls"] = Field(
        "file",
        description="file: tlsc owns its files whole; block: only the tlsc block of the"
        " access file; tls: only what STARTTLS needs (the access block, the STARTTLS"
        " include of sendmail.mc, starttls.m4), the rest stays the host's",
        examples=["block", "tls", "file"],
    )


class _RuleBase(Model):
    min_bits: Bits | None = Field(
        None,
        description="The minimum key length: ENCR:BITS (encrypt; default ENCR:128) or"
        " VERIFY:BITS (verify) in the access value.",
        examples=[112],
    )
    on_failure: Literal["permanent", "temporary"] | None = Field(
        None,
        description="permanent prefixes the access value with PERM+, temporary with TEMP+"
        " (how sendmail fails the session when the rule is not met); null: no prefix.",
        examples=["permanent"],
    )
    cn: Annotated[
        bool | str | None, BeforeValidator(_cn, json_schema_input_type=bool | str | None)
    ] = Field(
        None,
        description="A check of the certificate's CN: true adds +CN, a host name adds"
        " +CN:NAME (IDNA A-label, lower case) to the access value.",
        examples=[True, "mx.example.com"],
    )
    subject: DistinguishedName | None = Field(
        None,
        description="The certificate subject required, in OpenSSL's one-line form"
        " (/C=../O=../CN=..); adds +CS:SUBJECT (xtext-encoded) to the access value.",
        examples=["/C=US/O=Example/CN=mx.example.com"],
    )
    issuer: DistinguishedName | None = Field(
        None,
        description="The certificate issuer required, in OpenSSL's one-line form; adds"
        " +CI:ISSUER (xtext-encoded) to the access value.",
        examples=["/C=US/O=Example CA/CN=ca.example.com"],
    )
    issuer_tag: TagName | None = Field(
        None,
        description="A tag of issuer_tags: the issuer must be one of its names; adds"
        " +CITag:TAG to the access value.",
        examples=["MyCA"],
    )

    def has_checks(self) -> bool:
        """True when the rule asks for anything beyond the base level."""
        return any(
            v not in (None, False)
            for v in (
                self.min_bits,
                self.on_failure,
                self.cn,
                self.subject,
                self.issuer,
                self.issuer_tag,
            )
        )


class PeerRule(_RuleBase):
    """TLS toward (outbound) or from (inbound) one peer."""

    starttls: bool = Field(
        True,
        description="false: no STARTTLS with this peer: Try_TLS:KEY<TAB>NO (outbound) or"
        " Srv_Features:KEY<TAB>S (inbound); no other key of the rule may be set then.",
        examples=[False],
    )
    require: Literal["may", "encrypt", "verify"] = Field(
        "may",
        description="may: no line; encrypt: TLS_Srv:KEY<TAB>ENCR:128 (outbound) or"
        " TLS_Clt:KEY<TAB>ENCR:128 (inbound); verify: ...<TAB>VERIFY, inbound also"
        " Srv_Features:KEY<TAB>v unless tls.request_client_cert.",
        examples=["encrypt", "verify"],
    )

    dane: Literal[False] | None = Field(
        None,
        description="outbound only; false: no DANE for the servers named KEY although"
        " tls.dane is on: TLS_Clt_Features:KEY<TAB>Flags=d (needs FEATURE"
        " tls_session_features and sendmail: 8.18); null (the default): no line.",
        examples=[False],
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.starttls and (self.require != "may" or self.has_checks()):
            raise ValueError("starttls: false cannot be combined with a requirement")
        if not self.starttls and self.dane is not None:
            raise ValueError("starttls: false cannot be combined with dane: without TLS")
        if self.starttls and self.require == "may" and self.has_checks():
            raise ValueError(
                "certificate checks, min_bits and on_failure need require: encrypt or verify"
            )
        return self


class Requirement(_RuleBase):
    """A TLS_Rcpt requirement for a recipient."""

    require: Literal["encrypt", "verify"] = Field(
        description="encrypt: TLS_Rcpt:KEY<TAB>ENCR:128; verify: TLS_Rcpt:KEY<TAB>VERIFY",
        examples=["encrypt", "verify"],
    )


#: a rule, or its level alone: `encrypt` is short for `{require: encrypt}`
PeerRuleOrLevel = Annotated[
    PeerRule,
    BeforeValidator(
        _peer_rule_shorthand,
        json_schema_input_type=Annotated[
            Literal["may", "encrypt", "verify"],
            Field(description="shorthand for {require: LEVEL}"),
        ]
        | PeerRule,
    ),
]
RequirementOrLevel = Annotated[
    Requirement,
    BeforeValidator(
        _requirement_shorthand,
        json_schema_input_type=Annotated[
            Literal["encrypt", "verify"], Field(description="shorthand for {require: LEVEL}")
        ]
        | Requirement,
    ),
]


class DomainRule(Model):
    """Per-peer TLS rules."""

    outbound: PeerRuleOrLevel | None = Field(
        None,
        description="TLS toward this peer: may, encrypt, verify or a mapping. In the access"
        " file: TLS_Srv:KEY<TAB>ENCR:128 (encrypt), TLS_Srv:KEY<TAB>VERIFY (verify),"
        " Try_TLS:KEY<TAB>NO (starttls: false); may: no line.",
        examples=["encrypt", {"require": "verify", "cn": True}, {"starttls": False}],
    )
    inbound: PeerRuleOrLevel | None = Field(
        None,
        description="TLS from this peer: may, encrypt, verify or a mapping. In the access"
        " file: TLS_Clt:KEY<TAB>ENCR:128 (encrypt), TLS_Clt:KEY<TAB>VERIFY plus"
        " Srv_Features:KEY<TAB>v unless tls.request_client_cert (verify),"
        " Srv_Features:KEY<TAB>S (starttls: false); may: no line.",
        examples=["encrypt", {"require": "verify"}],
    )

    @model_validator(mode="after")
    def _dane_outbound(self) -> Self:
        if isinstance(self.inbound, PeerRule) and self.inbound.dane is not None:
            raise ValueError("dane: is for outbound rules (DANE checks the servers we send to)")
        return self


class AccessFile(Model):
    """An access file whose entries stand in the list at this place."""

    file: SpecRelativePath = Field(
        description="An access file (KEY VALUE lines, # comments in column 1, blank lines),"
        " relative to the spec's directory: its entries stand here, in its order, checked"
        " as the list's own are (problems are FILE:LINE:COL); a saved plan goes stale when"
        " it changes.",
        examples=["blocklist.access"],
    )


#: an access: item: an entry as written, or {file: PATH}. A union pydantic tells
#: apart in Rust (a callable discriminator cost a Python call per item: 0.35 s for
#: a million); validate keeps, of a refused item's errors, those of the member it
#: was meant as (a mapping with a `file` key: AccessFile; anything else: a string).
AccessItem = Annotated[str, StringConstraints(max_length=4096)] | AccessFile


class Host(HostSettings):
    """One mail host: its names, any settings that differ from the defaults, and any
    TLS rules or access entries of its own (on top of the cluster's)."""

    fqdn: Fqdn = Field(
        description="The host's DNS name: named in each file's header comment; verify probes"
        " it when address is not set; apply picks this machine's host by it (or the name).",
        examples=["mx1.example.net"],
    )
    address: IpAddress | None = Field(
        None,
        description="The address verify (and apply's verify step) probes instead of the fqdn."
        " Writes no file line.",
        examples=["192.0.2.10", "2001:db8::25"],
    )
    groups: Annotated[list[GroupName], _check(_unique_groups)] = Field(
        [],
        description="The Ansible groups the tlsc.sendmail.spec inventory plugin puts this"
        " host in (letters, digits and '_', not starting with a digit; each once)."
        " Writes no file line.",
        examples=[["canary", "eu"]],
    )
    domains: dict[PeerKey, DomainRule] = Field(
        {},
        description="rules for this host only; a key the cluster's domains: has too"
        " (same access key) is replaced on this host, {} removes it",
        examples=[{"extra.example": {"outbound": "encrypt"}}],
    )
    recipients: dict[RecipientKey, RequirementOrLevel] = Field(
        {},
        description="TLS_Rcpt rules for this host only; a key the cluster's recipients:"
        " has too is replaced on this host",
        examples=[{"postmaster@example.org": "encrypt"}],
    )
    issuer_tags: dict[TagName, list[DistinguishedName]] = Field(
        {},
        description="issuer tags for this host only; a tag the cluster has too is replaced",
        examples=[{"MyCA": ["/C=US/O=My CA/CN=ca.example.net"]}],
    )
    access: list[AccessItem] = Field(
        [],
        description="access entries for this host only, after the cluster's; an item"
        " {file: PATH} stands for the entries of that access file (relative to the spec)",
        examples=[["Connect:192.0.2.9 REJECT", {"file": "mx1-blocklist.access"}]],
    )


class Cluster(Model):
    """A whole spec file."""

    version: Annotated[
        Literal[1], BeforeValidator(_version_number, json_schema_input_type=Literal[1])
    ] = Field(description="The spec format version: always 1.", examples=[1])
    cluster: Word = Field(
        description="The cluster's name, in each sendmail.mc: VERSIONID(`tlsc CLUSTER/HOST')",
        examples=["colo"],
    )
    defaults: HostSettings = Field(
        HostSettings(),
        description="Settings for every host; a host's own keys are deep-merged over them"
        " (mappings key by key, lists and scalars replace).",
    )
    hosts: Annotated[
        dict[HostName, Host],
        Field(
            min_length=1,
            description="The mail hosts, by name (at least one); tlsc writes each one's files.",
        ),
    ]
    domains: dict[PeerKey, DomainRule] = Field(
        {},
        description="TLS rules per peer (a domain, an IPv4 prefix, IPv6:ADDRESS, or * for"
        " every peer), written to the access file sorted by key, the bare * first.",
        examples=[{"secure.example.com": {"outbound": "encrypt"}}],
    )
    recipients: dict[RecipientKey, RequirementOrLevel] = Field(
        {},
        description="TLS_Rcpt per recipient: encrypt, verify or a mapping. In the access"
        " file: TLS_Rcpt:KEY<TAB>ENCR:128 (encrypt) or TLS_Rcpt:KEY<TAB>VERIFY (verify).",
        examples=[{"postmaster@example.org": "encrypt"}],
    )
    issuer_tags: dict[TagName, list[DistinguishedName]] = Field(
        {},
        description="Named lists of certificate issuers for issuer_tag: one access line"
        " TAG:ISSUER<TAB>OK per name (xtext-encoded), sorted by tag.",
        examples=[{"MyCA": ["/C=US/O=My CA/CN=ca.example.net"]}],
    )
    access: list[AccessItem] = Field(
        [],
        description="Access entries as written (KEY VALUE), first in the access file, in"
        " canonical spelling and in order: KEY<TAB>VALUE. An item {file: PATH} stands for"
        " the entries of that access file (relative to the spec).",
        examples=[["Connect:127 RELAY", {"file": "blocklist.access"}]],
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec, for editors and `tlsc schema`."""
    schema = Cluster.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://tlsc.invalid/schemas/tlsc.schema.json"
    schema["title"] = "tlsc cluster spec, version 1"
    return schema
