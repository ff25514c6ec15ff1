"""The sendmail access map: entries, tags, and the TLS requirement grammar.

An access file line is `KEY<TAB>VALUE`. This module parses one entry as a
person writes it in the spec's `access:` list, checks it against what
sendmail really does with it (its access map rules and makemap), and gives it back in
one canonical form. It also owns `Requirement`, the right-hand side of
`TLS_Srv:`, `TLS_Clt:` and `TLS_Rcpt:` lines:

    [TEMP+|PERM+] (VERIFY | VERIFY:bits | ENCR:bits) [+ext{++ext}]

Pure functions, no pydantic: the linter and the planner use them too.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from compiler.problems import shown
from compiler.sendmail import (
    SRV_FEATURE_LETTERS,
    SRV_FEATURE_VARIANTS,
    SSL_OPTIONS,
    mapline,
    names,
)
from compiler.sendmail.releases import STS_TAG_RELEASE

#: tag (canonical spelling) -> kind of right-hand side
TAGS: dict[str, str] = {
    "Connect": "action",
    "From": "action",
    "To": "action",
    "Spam": "spam",
    "GreetPause": "int",
    "ClientRate": "int",
    "ClientConn": "int",
    "QGRP": "word",
    "Compat": "compat",
    "TLS_Srv": "requirement",
    "TLS_Clt": "requirement",
    "TLS_Rcpt": "requirement",
    "Try_TLS": "try",
    "Srv_Features": "srv_features",
    "Clt_Features": "clt_features",
    "TLS_Srv_Features": "session_features",
    "TLS_Clt_Features": "session_features",
    "CertIssuer": "cert_issuer",
    "CertSubject": "cert_subject",
}
#: each tag by its name in lower case (makemap folds keys)
TAG_BY_LOWER = {t.lower(): t for t in TAGS}
#: tags whose bare form (`TAG:` with nothing after it) is a default sendmail consults
BARE_OK = frozenset(
    {
        "TLS_Srv",
        "TLS_Clt",
        "TLS_Rcpt",
        "Try_TLS",
        "Srv_Features",
        "Clt_Features",
        "ClientRate",
        "ClientConn",
    }
)
_PEER_TAGS = frozenset(
    {
        "Connect",
        "GreetPause",
        "ClientRate",
        "ClientConn",
        "TLS_Srv",
        "TLS_Clt",
        "Try_TLS",
        "Srv_Features",
        # cf/README's `Clt_Features:broken.sts M`: 8.18 looks it up by the server's name,
        # 8.17 by the inbound client's (lint's A006 says so); a host name or address both
        "Clt_Features",
        "TLS_Srv_Features",
        "TLS_Clt_Features",
    }
)
_ADDRESS_TAGS = frozenset({"From", "To", "Spam", "TLS_Rcpt", "QGRP"})
#: tags whose `user@domain` keys sendmail's F ruleset looks up as the client wrote the
#: address, so also `user@[192.0.2.4]` (the untagged key too, for From: and To:);
#: tls_rcpt looks the recipient up so too (`<F:user@[192.0.2.4]>`, sendmail -bt)
_USER_AT_LITERAL_TAGS = frozenset({"From", "To", "Spam", "TLS_Rcpt"})
#: tags sendmail looks up through its D ruleset, which also matches an address literal,
#: by sendmail's own text: the ${client_name} of a client whose address does not resolve
#: (`Connect:[192.0.2.1]`), which a sendmail built with IPV6_FULL (Debian's) writes in
#: full (`[IPv6:2001:db8:0:0:0:0:0:1]`), so a literal key is written so
_FULL_LITERAL_TAGS = frozenset({"Connect", "GreetPause", "Srv_Features", "TLS_Clt"})
#: ... and by an address's text: the domain a sender or recipient is written at
#: (`From:[192.0.2.1]`, and tls_rcpt's `<D:[192.0.2.1]>` of a recipient at a literal,
#: so `TLS_Rcpt:[192.0.2]` too), the ${server_name} of a delivery to it (Try_TLS:,
#: TLS_Srv:), compared as written (`[IPv6:2001:db8::2]` matches only that spelling),
#: so kept so; ClientRate and ClientConn are looked up by ${client_addr} alone
_WRITTEN_LITERAL_TAGS = frozenset({"From", "To", "Try_TLS", "TLS_Srv", "TLS_Rcpt"})
ACTIONS = ("OK", "RELAY", "REJECT", "DISCARD", "SKIP")
_ERROR_TEXT = re.compile(r"^(ERROR:|QUARANTINE:|TEMP:|[245][0-9][0-9][ \t])", re.IGNORECASE)
_SMTP_CODE = re.compile(r'^"?([245][0-9][0-9])[ "]')
_DSN_CODE = re.compile(r"^[245]\.[0-9]{1,3}\.[0-9]{1,3}:([245][0-9][0-9])")
#: a value quoted whole that is an SMTP reply (`"550 text"`): sendmail's error mailer
#: answers it as `550 5.0.0 text`, as it does `ERROR:"550 text"`
_QUOTED_REPLY = re.compile(r'^"[245][0-9][0-9] (?:[^"\\]|\\.)*"\Z')
#: a value that starts with a quoted string: (its text, what follows the closing quote)
_QUOTED = re.compile(r'^"((?:[^"\\]|\\.)*)"(.*)\Z')
_DN_ENCODED = re.compile(r"^/[!-~]*\Z")
_TAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*\Z")
#: control characters other than tab (newlines included), DEL, C1 controls, the Unicode
#: line and paragraph separators (line breaks to an editor) and the back-tick
_VALUE_UNSAFE = re.compile(rf"[\x00-\x08\x0a-\x1f\x7f{names.LINE_BREAKS_BEYOND_ASCII}`]")
_COMMENT_AFTER_BLANK = re.compile(r"[ \t]#")
_LONE_PERCENT = re.compile(r"%(?!%)")
_IPV4_PREFIX = re.compile(r"^[0-9]+(\.[0-9]+){0,3}\Z")
_SESSION_KEYS = {k.lower(): k for k in ("Options", "CipherList", "CertFile", "KeyFile", "Flags")}


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """` (did you mean 'x'?)` when a close match exists, else ``."""
    import difflib  # only when there is a word to suggest for

    lowered = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean '{lowered[match[0]]}'?)" if match else ""


# -- requirements ---------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """What a TLS_Srv / TLS_Clt / TLS_Rcpt line demands of a session."""

    level: Literal["encrypt", "verify"]
    bits: int | None = None
    on_failure: Literal["permanent", "temporary"] | None = None
    cn: bool | str = False
    subject: str | None = None  # xtext-encoded, as sendmail compares it
    issuer: str | None = None  # xtext-encoded
    issuer_tag: str | None = None

    def render(self) -> str:
        """The right-hand side in sendmail's syntax, extensions in a fixed order."""
        prefix = {"permanent": "PERM+", "temporary": "TEMP+", None: ""}[self.on_failure]
        if self.level == "verify":
            base = "VERIFY" if self.bits is None else f"VERIFY:{self.bits}"
        else:
            base = f"ENCR:{self.bits if self.bits is not None else 128}"
        exts = []
        if self.cn is True:
            exts.append("CN")
        elif isinstance(self.cn, str):
            exts.append(f"CN:{self.cn}")
        if self.subject:
            exts.append(f"CS:{self.subject}")
        if self.issuer:
            exts.append(f"CI:{self.issuer}")
        if self.issuer_tag:
            exts.append(f"CITag:{self.issuer_tag}")
        return prefix + base + ("+" + "++".join(exts) if exts else "")


def parse_requirement(rhs: str) -> Requirement:
    """Parse a TLS requirement right-hand side; ValueError says what is wrong."""
    text = blank_stripped(rhs)
    on_failure: Literal["permanent", "temporary"] | None = None
    upper = text.upper()
    if upper.startswith("PERM+"):
        on_failure, text = "permanent", text[5:]
    elif upper.startswith("TEMP+"):
        on_failure, text = "temporary", text[5:]
    m = re.match(r"^(VERIFY|ENCR)(?::([0-9]+))?", text, re.IGNORECASE)
    if not m:
        word = re.split(r"[+:]", text, maxsplit=1)[0]
        raise ValueError(
            f"'{shown(rhs)}' is not a TLS requirement; it must start with VERIFY, VERIFY:bits"
            f" or ENCR:bits{did_you_mean(word, ['VERIFY', 'ENCR'])}"
        )
    level: Literal["encrypt", "verify"] = "verify" if m.group(1).upper() == "VERIFY" else "encrypt"
    # digits past 65535 are out of range however many (int() cannot read 4,300 or more)
    digits = None if m.group(2) is None else m.group(2).lstrip("0") or "0"
    bits = None if digits is None else int(digits) if len(digits) <= 9 else 1 << 40
    if level == "encrypt" and bits is None:
        raise ValueError(f"'{shown(rhs)}': ENCR needs a number of bits, e.g. ENCR:128")
    if bits is not None and not 1 <= bits <= 65535:
        raise ValueError(f"'{shown(rhs)}': the number of bits must be between 1 and 65535")
    rest = text[m.end() :]
    if text[m.end() : m.end() + 1] == ":":
        raise ValueError(f"'{shown(rhs)}': the number of bits after '{m.group(1)}:' must be digits")
    fields: dict[str, str | bool] = {}
    if rest:
        if not rest.startswith("+") or rest.startswith("++"):
            raise ValueError(
                f"'{shown(rhs)}': after the base requirement, extensions start with one '+'"
                " and are joined with '++'"
            )
        for ext in rest[1:].split("++"):
            name, value = _parse_extension(ext, rhs)
            if name in fields:
                raise ValueError(f"'{shown(rhs)}' checks {name} twice")
            fields[name] = value
    cn = fields.get("cn", False)
    return Requirement(
        level=level,
        bits=bits,
        on_failure=on_failure,
        cn=cn,
        subject=_str_or_none(fields.get("subject")),
        issuer=_str_or_none(fields.get("issuer")),
        issuer_tag=_str_or_none(fields.get("issuer_tag")),
    )


def _str_or_none(value: str | bool | None) -> str | None:
    return value if isinstance(value, str) else None


def _parse_extension(ext: str, rhs: str) -> tuple[str, str | bool]:
    joined = ValueError(f"'{shown(rhs)}': join certificate checks with '++', not '+'")
    if ext.upper() == "CN":
        return "cn", True
    head, sep, value = ext.partition(":")
    kind = head.upper()
    if not sep or kind not in ("CN", "CS", "CI", "CITAG"):
        if re.match(r"^(CN|CS|CI|CITag)\+", ext, re.IGNORECASE):
            raise joined
        raise ValueError(
            f"'{shown(rhs)}': unknown certificate check '{shown(ext)}'; use CN,"
            " CN:name, CS:subject,"
            " CI:issuer or CITag:tag"
        )
    if not value:
        raise ValueError(f"'{shown(rhs)}': {head}: needs a value")
    if kind == "CN":
        if "+" in value:
            raise joined
        return "cn", names.parse_hostname(value)
    if kind == "CITAG":
        if "+" in value:
            raise joined
        if not _TAG_NAME.match(value):
            raise ValueError(f"'{shown(rhs)}': '{shown(value)}' is not a valid tag name")
        return "issuer_tag", value
    if re.search(r"\+(?![0-9A-Fa-f]{2})", value):
        raise joined
    if not _DN_ENCODED.match(value):
        raise ValueError(
            f"'{shown(rhs)}': a certificate name must start with '/' and be"
            " xtext-encoded (a space is +20)"
        )
    return ("subject" if kind == "CS" else "issuer"), value


# -- entries -------------------------------------------------------------


@dataclass(frozen=True)
class AccessEntry:
    """One line of the access file, in canonical form."""

    key: str
    value: str

    @property
    def tag(self) -> str | None:
        """The key's tag (`TLS_Srv`), or None for an untagged key."""
        head, sep, _ = self.key.partition(":")
        return head if sep and head in TAGS else None

    @property
    def folded_key(self) -> str:
        """The key as makemap stores it (lower case): two equal ones collide."""
        return self.key.lower()

    def line(self) -> str:
        """`KEY<TAB>VALUE`."""
        return f"{self.key}\t{self.value}"


def check_value_text(value: str) -> None:
    """Refuse characters that change what an access value means."""
    bad = _VALUE_UNSAFE.search(value)
    if bad is not None:
        ch = bad.group(0)
        if ch == "`":
            raise ValueError("an access value cannot contain a back-tick")
        raise ValueError(f"an access value cannot contain {names.describe_char(ch)}")
    blank_stripped(value)
    if "#" in value and _COMMENT_AFTER_BLANK.search(value):
        raise ValueError(
            "a '#' after the value is not a comment in an access file; sendmail would"
            " read it as part of the value"
        )
    if "%" in value and _LONE_PERCENT.search(value.replace("%%", "")):
        raise ValueError("write a literal '%' as '%%' in an access value")


def blank_stripped(value: str) -> str:
    """`value` without the blanks makemap and sendmail's tokenizer drop around it; a
    value that starts or ends with another space (NO-BREAK SPACE, ...) is refused:
    sendmail reads it as part of the word (`REJECT<NBSP>` is no REJECT, `VERIFY<NBSP>`
    no requirement: seen with sendmail -bt)."""
    word = value.strip(mapline.BLANKS)
    for edge, ch in (("start", word[:1]), ("end", word[-1:])):
        if ch and _unicode_space(ch):
            raise ValueError(
                f"an access value cannot {edge} with {names.describe_char(ch)}: sendmail"
                " reads it as part of the word, not as a blank"
            )
    return word


def canonical_key(key: str, issuer_tags: frozenset[str] = frozenset()) -> str:
    """Validate an access key and return it in canonical form."""
    if not key:
        raise ValueError("an access entry needs a key")
    bad = names.first_unsafe(key)
    if bad is not None:
        raise ValueError(f"an access key cannot contain {names.describe_char(bad)}")
    head, sep, rest = key.partition(":")
    if sep and head.lower() == "ipv6":
        return names.parse_ipv6(key)
    if not sep or key.startswith("["):  # `[IPv6:...]` is untagged
        return _plain_key(key)
    tag = TAG_BY_LOWER.get(head.lower())
    if tag is None:
        for t in issuer_tags:
            if t.lower() == head.lower():
                return f"{t}:{_encoded_dn(rest, key)}"
        if head.lower() == "sts":
            raise ValueError(
                f"'STS:' (the per-domain MTA-STS opt-out) came with sendmail {STS_TAG_RELEASE};"
                " neither 8.17.1.9 nor 8.18.1 reads it, so the entry would change nothing"
            )
        hint = did_you_mean(head, [*TAGS, *issuer_tags])
        raise ValueError(f"unknown access tag '{head}:'{hint}")
    if rest == "":
        if tag not in BARE_OK:
            raise ValueError(f"sendmail never consults a bare '{tag}:' default")
        return f"{tag}:"
    if tag in ("CertIssuer", "CertSubject"):
        return f"{tag}:{_encoded_dn(rest, key)}"
    if tag == "Compat":
        return f"{tag}:{rest}"
    if rest.startswith("[") and tag in _FULL_LITERAL_TAGS:
        return f"{tag}:{names.parse_literal(rest)}"
    if rest.startswith("[") and tag in _WRITTEN_LITERAL_TAGS:
        return f"{tag}:{names.parse_written_literal(rest)}"
    if rest.startswith("[") and tag in ("ClientRate", "ClientConn"):
        try:
            address = names.parse_peer(rest.strip("[]"))
        except ValueError:
            address = rest.strip("[]")
        raise ValueError(
            f"sendmail looks {tag}: up by the client's address (${{client_addr}}) alone,"
            f" never by a name in brackets; write '{tag}:{shown(address)}'"
        )
    if tag in ("ClientRate", "ClientConn"):
        return f"{tag}:{_client_addr_key(tag, rest)}"
    if tag in _PEER_TAGS:
        return f"{tag}:{names.parse_peer(rest)}"
    if "@[" in rest and tag in _USER_AT_LITERAL_TAGS:
        return f"{tag}:{_user_at_literal(rest, f'{tag}:')}"
    if tag in _ADDRESS_TAGS:
        return f"{tag}:{names.parse_recipient(rest)}"
    return f"{tag}:{rest}"  # pragma: no cover - every tag is in a class above


def _client_addr_key(tag: str, rest: str) -> str:
    """A ClientRate: or ClientConn: key: an IPv4 address or prefix, or `IPv6:...`.

    Their rulesets (RateControl, ConnControl) look up `${client_addr}` alone through
    the A ruleset, never the client's name: `ClientRate:mx.example.com` is never
    found (sendmail -bt: a client of that name at any address has no limit).
    """
    peer = names.parse_peer(rest)
    if peer.startswith("IPv6:") or _IPV4_PREFIX.match(peer):
        return peer
    raise ValueError(
        f"sendmail never consults {tag}: by a name ('{shown(peer)}'): it looks {tag}: up by"
        f" the client's address (${{client_addr}}) alone; write the client's address or net"
        f" ('{tag}:192.0.2', '{tag}:IPv6:2001:db8')"
    )


def _plain_key(key: str) -> str:
    if key.startswith("["):
        # looked up as Connect: (sendmail's text) and as From: and To: (the address's):
        # rewritten, it would match what it did not and miss what it did
        return names.parse_written_literal(key)
    if "@[" in key:
        return _user_at_literal(key, "")
    if "@" in key:
        return names.parse_recipient(key)
    return names.parse_peer(key) if key != "*" else "*"


def _user_at_literal(text: str, tag: str) -> str:
    """`user@[192.0.2.4]` or `user@[IPv6:...]`, a sender or recipient at an address literal.

    sendmail's F ruleset looks the whole address up as the client wrote it (an IPv6
    literal compressed or not: each matches its own spelling), never a net's prefix.
    """
    local, _, literal = text.rpartition("@")
    names.parse_recipient(local + "@")
    inner = literal[1:-1] if literal.endswith("]") else ""
    if inner.lower().startswith("ipv6:"):
        try:
            ipaddress.IPv6Address(inner[5:])
        except ValueError:
            raise ValueError(f"'{shown(literal)}' is not an IPv6 address literal") from None
        return f"{local}@[IPv6:{inner[5:]}]"
    prefix = names.parse_literal(literal)
    if prefix.count(".") != 3:
        raise ValueError(
            f"sendmail looks {tag}{shown(text)} up as the whole address, never by a net's"
            f" prefix; write {tag}{shown(prefix)} for every address at the net, or the"
            " literal's four octets"
        )
    return f"{local}@{prefix}"


def _encoded_dn(dn: str, key: str) -> str:
    if not _DN_ENCODED.match(dn):
        raise ValueError(
            f"'{shown(key)}': a certificate name must start with '/' and be"
            " xtext-encoded (a space is +20)"
        )
    return dn


def canonical_value(tag: str | None, value: str, issuer_tag: bool = False) -> str:
    """Validate a right-hand side for `tag` and return it in canonical form."""
    check_value_text(value)
    kind = "issuer_tag" if issuer_tag else TAGS.get(tag or "", "action")
    word = value.strip(mapline.BLANKS)
    upper = word.upper()
    if kind == "action":
        if upper in ACTIONS:
            return upper
        if word.startswith('"'):
            return _quoted_value(tag, word)
        if _ERROR_TEXT.match(word):
            _temp_outside_compat(tag, word)
            return _error_text(word)
        raise ValueError(
            f"'{shown(word)}' is not an access action; use OK, RELAY, REJECT, DISCARD, SKIP,"
            f" ERROR:..., QUARANTINE:... or '### text'{did_you_mean(word, ACTIONS)}"
        )
    if kind == "requirement":
        return parse_requirement(word).render()
    if kind == "try":
        if upper not in ("NO", "YES"):
            raise ValueError(f"Try_TLS takes NO (or YES), not '{shown(word)}'")
        return upper
    if kind == "int":
        return _whole_number(tag or "", word)
    if kind == "spam":
        if upper not in ("FRIEND", "HATER"):
            raise ValueError(f"Spam: takes FRIEND or HATER, not '{shown(word)}'")
        return upper
    if kind == "word":
        if not re.match(r"^[A-Za-z0-9_.-]+\Z", word):
            raise ValueError(f"{tag} takes a queue group name, not '{shown(word)}'")
        return word
    if kind == "compat":
        if upper == "DISCARD":
            return upper
        if _ERROR_TEXT.match(word):
            return _error_text(word)
        raise ValueError(f"Compat: takes DISCARD, TEMP:... or ERROR:..., not '{shown(word)}'")
    if kind == "srv_features":
        return _feature_letters(word, SRV_FEATURE_LETTERS, "Srv_Features", SRV_FEATURE_VARIANTS)
    if kind == "clt_features":
        return _feature_letters(word, "ADMSadms", "Clt_Features")
    if kind == "session_features":
        return _session_features(word)
    if kind == "cert_issuer":
        if upper not in ("RELAY", "SUBJECT"):
            raise ValueError(f"CertIssuer: takes RELAY or SUBJECT, not '{shown(word)}'")
        return upper
    if kind == "cert_subject":
        if upper != "RELAY":
            raise ValueError(f"CertSubject: takes RELAY, not '{shown(word)}'")
        return upper
    if kind == "issuer_tag":
        if upper != "OK":
            raise ValueError(f"an issuer tag line takes OK, not '{shown(word)}'")
        return upper
    raise ValueError(f"unknown value kind {kind}")  # pragma: no cover


def _quoted_value(tag: str | None, word: str) -> str:
    """A Connect:, From:, To: or untagged value that starts with a double quote.

    sendmail's tokenizer reads a quoted string as one word, so `"REJECT"` or
    `"ERROR:550 text"` matches none of the access rules (OK, REJECT, ERROR:...):
    the word becomes the text of the generic error, and sendmail answers it as
    `553 5.3.0 REJECT` unless it starts with an SMTP reply code (`"550 text"`:
    `550 5.0.0 text`, as ERROR:"550 text" is answered). Tested with sendmail -bs.
    """
    if _QUOTED_REPLY.match(word):
        return word
    quoted = _QUOTED.match(word)
    if quoted is None:
        raise ValueError(
            f"the double quote that opens '{shown(word)}' is never closed: sendmail answers"
            " 553 5.0.0 Unbalanced '\"' whenever the line matches; close it at the end"
        )
    inner, after = quoted.groups()
    if after:
        raise ValueError(
            f"sendmail joins the words of '{shown(word)}' around its quotes without their"
            ' blanks; quote the whole text of the reply, as in ERROR:"550 text"'
        )
    suggestion = None
    for candidate in (inner, f"ERROR:{inner}"):
        try:
            suggestion = canonical_value(tag, candidate)
            break
        except ValueError:
            continue
    if suggestion is None:
        how = 'write the reply with its code, as in ERROR:"550 text"'
    else:
        how = "remove the quotes" if suggestion == inner else f"write {shown(suggestion)}"
    raise ValueError(
        "sendmail reads a value in double quotes as one word, the text of an error, so it"
        f" answers 553 5.3.0 {shown(inner)} whenever the line matches; {how}"
    )


def _whole_number(tag: str, word: str) -> str:
    """A GreetPause:, ClientRate: or ClientConn: value, in decimal ASCII digits.

    sendmail reads GreetPause's with strtol(.., 10), so a leading zero is nothing
    (`010` is 10, written so). ClientRate's and ClientConn's go through the arith
    map, strtol(.., 0), which reads C's number forms (sendmail -bt: `010` is a limit
    of 8, `0x10` of 16), and their rulesets take only the word `0` for no limit
    (`00` is a limit of 0, refusing every connection): each is refused, saying so,
    rather than written as another number.
    """
    if tag in ("ClientRate", "ClientConn"):
        if _HEX.match(word):
            value = int(word, 16)
            number = min(value, LONG_MAX)
            raise ValueError(
                f"sendmail reads {tag} {shown(word)} as the hexadecimal number"
                f" {number}{_clipped(value)}; write {number}"
            )
        if _DIGITS.match(word) and word.startswith("0") and word != "0":
            octal = int(_OCTAL.match(word)[0], 8)  # type: ignore[index]
            if octal == 0:
                raise ValueError(
                    f"sendmail takes only {tag} 0 for no limit; it reads {shown(word)} as a"
                    " limit of 0, which refuses every connection (421 4.3.2); write 0"
                )
            number, decimal = min(octal, LONG_MAX), shown(word.lstrip("0"))
            raise ValueError(
                f"sendmail reads {tag} {shown(word)} as the octal number {number}"
                f"{_clipped(octal)}, not {decimal}; write {number}, or {decimal} without the"
                " leading zero"
            )
    if not _DIGITS.match(word):
        raise ValueError(f"{tag} takes a whole number, not '{shown(word)}'")
    return word.lstrip("0") or "0"  # str(int(word)), for any number of digits


#: the largest number strtol() gives (a 64-bit long): sendmail reads a bigger one as this
LONG_MAX = (1 << 63) - 1


def _clipped(value: int) -> str:
    """What to say after the number strtol() reads for `value`: that it is LONG_MAX, when
    `value` is bigger (a number of thousands of digits, which str() refuses, is not shown)."""
    return " (strtol's largest: the number written is bigger)" if value > LONG_MAX else ""


_DIGITS = re.compile(r"[0-9]+\Z")
_HEX = re.compile(r"0[xX][0-9a-fA-F]+\Z")
#: what strtol(.., 0) reads of a number starting with 0: the octal digits
_OCTAL = re.compile(r"[0-7]+")


def _temp_outside_compat(tag: str | None, word: str) -> None:
    """Refuse `TEMP:` on a Connect:, From:, To: or untagged line.

    Only check_compat's rules read TEMP: (a Compat: line, cf/README); the access
    rules of the other tags do not, so `TEMP:450 text` is the text of the generic
    error there, a permanent one (sendmail -bt: `$#error $: TEMP:450 text`).
    """
    head, _, rest = word.partition(":")
    if head.upper() != "TEMP":
        return
    body = rest.strip(mapline.BLANKS)
    how = (
        f"write ERROR:{body}"
        if re.match(r'^"?4[0-9][0-9][ "]', body)
        else ('write ERROR: with a 4xx reply code, as in ERROR:"450 try later"')
    )
    where = f"{tag}: line" if tag else "line without a tag"
    raise ValueError(
        f"sendmail reads TEMP: only on a Compat: line; on a {where} '{shown(word)}' is the"
        f" text of a permanent error, not a temporary one; {how}"
    )


def _error_text(word: str) -> str:
    head, sep, rest = word.partition(":")
    if sep and head.upper() in ("ERROR", "QUARANTINE", "TEMP"):
        if not rest.strip():
            raise ValueError(f"'{shown(word)}' needs a message after '{head}:'")
        body = rest.strip()
        # ERROR:D.S.N:"### text" is cf/README's quoted form with a DSN (sendmail -bt:
        # `$#error $@ D.S.N $: "### text"`)
        m = _SMTP_CODE.match(body) or re.match(
            r'^[245]\.[0-9]{1,3}\.[0-9]{1,3}:"?([245][0-9][0-9])', body
        )
        if head.upper() == "ERROR" and not m:
            raise ValueError(
                f"'{shown(word)}' needs an SMTP reply code, e.g. ERROR:\"550 go away\""
            )
        return f"{head.upper()}:{body}"
    return word


def _feature_letters(word: str, allowed: str, tag: str, variants: tuple[str, ...] = ()) -> str:
    tokens = word.split()
    for tok in tokens:
        if tok in variants:
            continue
        if len(tok) != 1:
            raise ValueError(
                f"{tag} letters must be separated by blanks ('{' '.join(tok)}', not"
                f" '{shown(tok)}');"
                " sendmail reads only the first letter of a word"
            )
        if tok not in allowed:
            raise ValueError(
                f"'{shown(tok)}' is not a {tag} letter; use one of {' '.join(allowed)}"
            )
    if not tokens:
        raise ValueError(f"{tag} needs at least one letter")
    return " ".join(tokens)


def _session_features(word: str) -> str:
    """`Options=...; CipherList=...`, what get_tls_se_features reads (8.17 and 8.18).

    Seen with real daemons (tests/test_session_features_sendmail.py): sendmail hands
    the value over as its tokens joined without blanks, so blanks around `=` and `;`
    are nothing, but a blank between two words glues them (`Options=+SSL_OP_NO_TLSv1
    +SSL_OP_NO_TLSv1_1` is one unknown option); an empty part (`;;`, a leading `;`)
    makes the next name `;Options`, unknown; either refuses STARTTLS (454 4.3.3).
    One `;` after the last part is read as nothing.
    """
    parts = [p.strip(mapline.BLANKS) for p in word.split(";")]
    if len(parts) > 1 and not parts[-1]:
        parts.pop()  # `Options=...;`: sendmail stops at the end
    if not any(parts):
        raise ValueError("TLS session features need at least one key=value")
    if "" in parts:
        after = next(p for p in parts[parts.index("") :] if p).partition("=")[0]
        raise ValueError(
            f"'{shown(word)}' has an empty part (';;' or a leading ';'): sendmail reads the"
            f" next name with its ';' (';{shown(after.strip(mapline.BLANKS))}'), which it does"
            " not know, and refuses STARTTLS (454 4.3.3); take the extra ';' out"
        )
    out = []
    seen = set()
    for part in parts:
        key, sep, value = part.partition("=")
        canon = _SESSION_KEYS.get(key.strip(mapline.BLANKS).lower())
        if not sep or canon is None:
            raise ValueError(
                f"'{shown(part)}' is not a TLS session feature; use Options=, CipherList=,"
                f" CertFile=, KeyFile= or Flags={did_you_mean(key, list(_SESSION_KEYS.values()))}"
            )
        value = value.strip(mapline.BLANKS)
        _glued_words(canon, value)
        if canon == "Options":
            for opt in value.split(","):
                name = opt.strip(mapline.BLANKS).lstrip("+-")
                if name and name not in SSL_OPTIONS and not re.match(r"^0x[0-9a-fA-F]+\Z", name):
                    raise ValueError(
                        f"'{shown(name)}' is not an SSL option this sendmail knows"
                        f"{did_you_mean(name, sorted(SSL_OPTIONS))}"
                    )
        seen.add(canon)
        out.append(f"{canon}={value}")
    if ("CertFile" in seen) != ("KeyFile" in seen):
        raise ValueError("CertFile= and KeyFile= must be given together")
    return "; ".join(out)


#: what separates the words of a session feature's value (a blank beside one is nothing)
_FEATURE_SEPARATORS = {"Options": ",", "CipherList": ":,"}


def _glued_words(name: str, value: str) -> None:
    """Refuse a blank between two words of a session feature's value: sendmail drops it."""
    seps = re.escape(_FEATURE_SEPARATORS.get(name, ""))
    if not re.search(rf"[^ \t{seps}][ \t]+[^ \t{seps}]", value):
        return
    glued = re.sub(r"[ \t]+", "", value)
    how = {"Options": "separate the options with ','", "CipherList": "separate them with ':'"}
    raise ValueError(
        f"sendmail reads {name}={shown(value)} without its blanks, as {name}={shown(glued)}"
        " (an option or cipher it does not know makes it refuse STARTTLS, 454 4.3.3);"
        f" {how.get(name, 'a blank cannot stand in it')}"
    )


def parse_entry(text: str, issuer_tags: frozenset[str] = frozenset()) -> AccessEntry:
    """Parse one `access:` item (`KEY VALUE`) into its canonical entry.

    The key ends where makemap ends it (compiler.sendmail.mapline: a space, tab, VT,
    FF or CR), not at every character Python calls whitespace: a NO-BREAK SPACE or
    U+001C there would be part of the key to makemap, so it is refused, naming it,
    rather than read as a separator (what tlsc reported would not be what a makemap
    of the same line loads).
    """
    if "\n" in text or "\r" in text:
        raise ValueError("an access entry must be one line")
    if text and text[0] in mapline.BLANKS:
        raise ValueError("an access entry cannot start with a blank; makemap drops such lines")
    key, _, rest = mapline.split(text)
    odd = space_in_key(key)
    if odd is not None:
        raise ValueError(odd[1])
    if not key or key.startswith("#"):
        raise ValueError("an access entry needs a key and a value (comments are not entries)")
    value = rest.rstrip(mapline.BLANKS)
    if not value:
        raise ValueError(f"the access entry '{key}' has no value")
    key = key if _already_canonical(key) else canonical_key(key, issuer_tags)
    head = key.partition(":")[0]
    is_tag = head in issuer_tags and head not in TAGS
    tag = head if head in TAGS and ":" in key else None
    return AccessEntry(key, _cached_value(tag, value, is_tag))


def space_in_key(key: str) -> tuple[int, str] | None:
    """(where, why) when makemap's key holds a character that looks like a blank (a
    NO-BREAK SPACE, U+001C, ...): it is part of the key, which then never matches."""
    found = _ODD_SPACE.search(key)
    if found is None:
        return None
    odd = found.start()
    before = key[:odd]
    where = f" after '{shown(before)}'" if before else ""
    return odd, (
        f"{names.describe_char(key[odd])}{where} is no blank to makemap, which ends a key"
        " only at a space, tab, vertical tab, form feed or carriage return, so it"
        " would be part of the key; separate the key from the value with a space or"
        " a tab"
    )


def _unicode_space(ch: str) -> bool:
    """A character str.split() would end a word at that makemap keeps in one: the
    controls U+001C to U+001F, NEL, NO-BREAK SPACE, U+2000 to U+200A, ..."""
    return ch.isspace() and ch not in mapline.BLANKS


#: the first _unicode_space character of a string, in one C-level search: `\s` of a str
#: pattern is str.isspace() (Py_UNICODE_ISSPACE), less makemap's blanks
_ODD_SPACE = re.compile(r"[^\S" + re.escape(mapline.BLANKS) + "]")


# -- fast paths for big access lists (tests/test_accessmap_fast.py holds them to
# -- canonical_key and canonical_value) ------------------------------------------

#: canonical_value is pure, and a big access list repeats a few values (RELAY,
#: REJECT, ENCR:128, ...) many times; a ValueError is not cached but raised anew
_cached_value = lru_cache(maxsize=8192)(canonical_value)

_FAST_PEER = names.CANONICAL_PEER
_FAST_RECIPIENT = names.CANONICAL_RECIPIENT
#: a key without a tag: a peer, or an address with an '@' (a domain is both)
_FAST_PLAIN = re.compile(f"{names.CANONICAL_PEER.pattern}|{names.CANONICAL_RECIPIENT.pattern}")


def _already_canonical(key: str) -> bool:
    """True when canonical_key surely gives `key` back unchanged (False: ask it)."""
    if len(key) > 253:
        return False
    head, sep, rest = key.partition(":")
    if not sep:
        return _FAST_PLAIN.match(key) is not None
    if head in _PEER_TAGS and head not in ("ClientRate", "ClientConn"):  # no names
        return _FAST_PEER.match(rest) is not None
    if head in _ADDRESS_TAGS:
        return _FAST_RECIPIENT.match(rest) is not None
    return False


def is_tag_name(name: str) -> bool:
    """True when `name` is usable as an issuer tag (and is not a sendmail tag)."""
    return bool(_TAG_NAME.match(name)) and name.lower() not in TAG_BY_LOWER
