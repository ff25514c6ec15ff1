"""Names sendmail matches in its access map: domains, IP prefixes, addresses.

Each `parse_*` function takes what a person wrote in the spec and returns the
exact text sendmail compares against (IDNA names in ASCII, lower case, IPv6
in `inet_ntop` form), or raises ValueError with one sentence saying why not.
Pure functions; no pydantic, so the linter can use them too.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from compiler.problems import shown

_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\Z")
_IPV4_PREFIX = re.compile(r"^[0-9]+(\.[0-9]+){0,3}\Z")
_IPV6_GROUPS = re.compile(r"^[0-9a-fA-F]{1,4}(:[0-9a-fA-F]{1,4}){0,6}\Z")
#: an address with one `::` standing for two or more zero groups, nothing else (no
#: IPv4 tail, no zone): _expanded reads it without ipaddress
_COMPRESSED = re.compile(
    r"(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,5})?::(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,5})?"
)
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!$&*+/=?^_{|}~.-]+\Z")
# Fast paths: text these match, parse_domain, parse_peer and parse_recipient give back
# unchanged if it is at most 253 characters long (tests/test_accessmap_fast.py).
#: (an `xn--` label is IDNA's ASCII form: checked by the slow path, never passed as is)
_CANONICAL_LABEL = r"(?!xn--)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_CANONICAL_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
#: lower-case ASCII labels, the last one not all digits
_CANONICAL_NAME = rf"(?:{_CANONICAL_LABEL}\.)*(?=[a-z0-9_-]*[a-z_-]){_CANONICAL_LABEL}"
_CANONICAL_IPV4 = rf"{_CANONICAL_OCTET}(?:\.{_CANONICAL_OCTET}){{0,3}}"
_CANONICAL_ATOM = r"[A-Za-z0-9!$&*+/=?^_{|}~-]+"
_CANONICAL_LOCAL = rf"{_CANONICAL_ATOM}(?:\.{_CANONICAL_ATOM})*@"
CANONICAL_DOMAIN = re.compile(rf"{_CANONICAL_NAME}\Z")
CANONICAL_PEER = re.compile(rf"(?:{_CANONICAL_NAME}|{_CANONICAL_IPV4})\Z")
CANONICAL_RECIPIENT = re.compile(
    rf"(?:{_CANONICAL_LOCAL}(?:{_CANONICAL_NAME})?|{_CANONICAL_NAME})\Z"
)
#: characters that may never appear in anything tlsc writes into a file
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029`'\"\\#%]")
#: line breaks of str.splitlines() and of editors beyond the ASCII ones: C1 controls
#: (NEL is U+0085), the line and the paragraph separator
LINE_BREAKS_BEYOND_ASCII = "\x80-\x9f\u2028\u2029"
#: the bidirectional controls (embeddings, overrides, isolates, their ends, the LRM,
#: RLM and ALM marks): a diff shows a line holding one in another order than it is read
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def port_digits(text: str) -> bool:
    """`text` is the digits of a port number: one to five ASCII digits (str.isdigit() also
    takes `²` and any length, which int() then refuses or cannot read)."""
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit()


def describe_char(ch: str) -> str:
    """A readable name for a character in an error message."""
    names = {
        " ": "a space",
        "\t": "a tab",
        "\n": "a newline",
        "\r": "a carriage return",
        "`": "a back-tick",
        "'": "an apostrophe",
        '"': "a double quote",
        "\\": "a backslash",
        "#": "a '#'",
        "%": "a '%'",
    }
    if ch in names:
        return names[ch]
    if ch == "\u2028":
        return "the line separator U+2028"
    if ch == "\u2029":
        return "the paragraph separator U+2029"
    if ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F:
        return f"the control character U+{ord(ch):04X}"
    if not _visible(ch):
        import unicodedata

        name = unicodedata.name(ch, "")
        return f"the character U+{ord(ch):04X}" + (f" ({name})" if name else "")
    return f"'{shown(ch)}'"


#: Unicode categories of characters a terminal shows as nothing, as a blank, or on
#: the character before them: format (zero-width, bidi controls, BOM), separators,
#: combining marks, private, surrogate and unassigned code points
_UNSEEN = frozenset({"Cf", "Zs", "Zl", "Zp", "Mn", "Me", "Mc", "Co", "Cs", "Cn"})


def _visible(ch: str) -> bool:
    """True when `ch` quoted alone ('x') shows the reader which character it is; a
    ZERO WIDTH SPACE or a RIGHT-TO-LEFT OVERRIDE quoted so is '' or reverses the line."""
    if ch.isascii():
        return True
    import unicodedata

    return unicodedata.category(ch) not in _UNSEEN


def first_unsafe(text: str, pattern: re.Pattern[str] = _UNSAFE) -> str | None:
    """The first character of `text` matched by `pattern`, or None."""
    m = pattern.search(text)
    return m.group(0) if m else None


def parse_domain(text: str) -> str:
    """A DNS name in the ASCII form sendmail sees (IDNA, lower case, no trailing dot)."""
    if len(text) <= 253 and CANONICAL_DOMAIN.match(text):
        return text
    if not text:
        raise ValueError("a domain name cannot be empty")
    if text.startswith("."):
        raise ValueError(
            f"'{shown(text)}' starts with a dot; write '{text.lstrip('.')}', which already"
            " matches the domain and every sub-domain"
        )
    if text.endswith("."):
        raise ValueError(f"'{shown(text)}' ends with a dot; write '{text.rstrip('.')}'")
    bad = first_unsafe(text)
    if bad is not None:
        raise ValueError(f"a domain name cannot contain {describe_char(bad)}")
    if not text.isascii() or "xn--" in text.lower():
        text = to_ascii(text)
    name = text.lower()
    if len(name) > 253:
        raise ValueError("a domain name cannot be longer than 253 characters")
    for label in name.split("."):
        if not _LABEL.match(label):
            raise ValueError(
                f"'{shown(text)}' is not a valid domain name (bad label '{shown(label)}')"
            )
    if name.rsplit(".", 1)[-1].isdigit():
        raise ValueError(
            f"'{shown(text)}' is not a domain name (its last label is a number) nor an IPv4 address"
        )
    return name


def to_ascii(text: str) -> str:
    """`text` in IDNA 2008 ASCII form (UTS #46 mapping, non-transitional), or ValueError.

    Non-transitional, so 'straße.de' is 'xn--strae-oqa.de', not IDNA 2003's
    'strasse.de' (another domain); a joiner is kept where CONTEXTJ allows it and
    refused elsewhere, not dropped; an `xn--` label must be valid Punycode of a
    valid name. The whole name is mapped (so '。' separates labels), then each
    label that is not plain ASCII (or is an `xn--` label) is encoded on its own:
    IDNA 2008 refuses '_', which plain labels such as `_dmarc` keep. The `idna`
    package is imported here only, so ASCII specs never load it.
    """
    import idna

    try:
        mapped = idna.uts46_remap(text, std3_rules=False, transitional=False)
        labels = []
        for label in mapped.split("."):
            if label.isascii() and not label.startswith("xn--"):
                labels.append(label)
            elif label:
                _one_look(label, text)
                labels.append(idna.encode(label, uts46=True, transitional=False).decode("ascii"))
            else:
                labels.append(label)
    except idna.IDNAError as exc:
        shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
        raise ValueError(
            f"'{shown}' is not a valid internationalised domain name under IDNA 2008 ({exc})"
        ) from None
    return ".".join(labels)


#: scripts whose letters look like Latin ones (and like each other's): a label mixing
#: two of them reads as a name it is not (`exаmple` with a Cyrillic а)
_LOOKALIKE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC")


def _one_look(label: str, text: str) -> None:
    """Refuse a label whose letters are of two look-alike scripts (ValueError).

    IDNA allows `exаmple` with a Cyrillic `а`: another domain than example, which it
    shows in a diff, so a rule for it would not cover the name a reviewer reads.
    Registries refuse such labels (UTS #39's mixed-script test); so does tlsc. A
    label of one script (Cyrillic alone), and CJK, Hangul, Arabic, ... with Latin,
    pass. Called on a label UTS #46 mapped (fullwidth letters are ASCII by then).
    """
    import unicodedata

    first: tuple[str, str] | None = None
    for ch in label:
        if not unicodedata.category(ch).startswith("L"):
            continue
        script = unicodedata.name(ch, "").split(" ", 1)[0]
        if script not in _LOOKALIKE_SCRIPTS:
            continue
        if first is None:
            first = (script, ch)
        elif script != first[0]:
            odd = ch if first[0] == "LATIN" else first[1]
            raise ValueError(
                f"'{shown(text)}' mixes {first[0].title()} and {script.title()} letters in"
                f" the label '{shown(label)}' ({describe_char(odd)} is"
                f" {unicodedata.name(odd)}): it is another name than the one it looks like;"
                " write each label in one script"
            )


def parse_ipv4_prefix(text: str) -> str:
    """An IPv4 address or a prefix on an octet boundary, as sendmail matches it."""
    if "/" in text:
        raise ValueError(
            f"'{shown(text)}': sendmail does not understand CIDR; write the prefix on an octet"
            " boundary instead, e.g. '10.1' for 10.1.0.0/16"
        )
    if text.endswith("."):
        raise ValueError(
            f"'{shown(text)}' ends with a dot, which never matches; write '{text[:-1]}'"
        )
    if not _IPV4_PREFIX.match(text):
        raise ValueError(f"'{shown(text)}' is not an IPv4 address or prefix")
    for octet in text.split("."):
        if len(octet) > 1 and octet.startswith("0"):
            raise ValueError(
                f"'{shown(text)}' has an octet with a leading zero, which never matches"
            )
        if int(octet) > 255:
            raise ValueError(f"'{shown(text)}' has an octet larger than 255")
    return text


def _expanded(rest: str) -> str | None:
    """parse_ipv6's answer for `IPv6:` + `rest` when rest is a compressed address that
    is surely valid, not IPv4-mapped and not ending in `::` (the usual key, read 20
    times faster than by ipaddress); None for anything else."""
    if not _COMPRESSED.fullmatch(rest) or rest.endswith("::"):
        return None
    head, _, tail = rest.partition("::")
    before = head.split(":") if head else []
    after = tail.split(":")
    if len(before) + len(after) > 6:  # `::` stands for one group, or is misplaced
        return None
    groups = [*(int(g, 16) for g in before), *[0] * (8 - len(before) - len(after))]
    groups += (int(g, 16) for g in after)
    if groups[:6] == [0, 0, 0, 0, 0, 0xFFFF]:
        return None  # IPv4-mapped: ipaddress's path says so
    return "IPv6:" + ":".join(map("{:x}".format, groups))


def parse_ipv6(text: str) -> str:
    """`IPv6:` plus an address or a colon-group prefix, in sendmail's text form.

    sendmail built with IPV6_FULL (Debian's is; `sendmail -d0.1` lists it)
    leaves UseCompressedIPv6Addresses off and writes `${client_addr}` and
    `${server_addr}` as eight `%x` groups (libsm's sm_inet6_ntop): `::1` is
    `0:0:0:0:0:0:0:1`. A compressed key never matches, so an address is
    written uncompressed; an IPv4-mapped one is looked up as plain IPv4.
    """
    if not text.lower().startswith("ipv6:"):
        raise ValueError(f"'{shown(text)}' must start with 'IPv6:'")
    rest = text[5:]
    if "/" in rest:
        raise ValueError(_ipv6_cidr(text))
    expanded = _expanded(rest)
    if expanded is not None:
        return expanded
    try:
        address = ipaddress.IPv6Address(rest)
    except ValueError:
        pass
    else:
        if address.ipv4_mapped is not None:
            raise ValueError(
                f"'{shown(text)}' is an IPv4-mapped address, which sendmail looks up as"
                f" {address.ipv4_mapped}; write '{shown(address.ipv4_mapped)}'"
            )
        if rest.endswith("::"):
            prefix = rest.rstrip(":") or "0"
            raise ValueError(
                f"'{shown(text)}' ends with '::'; sendmail compares uncompressed"
                " addresses, so write"
                f" the net as its leading groups (e.g. 'IPv6:{prefix}') or the one address"
                f" in full"
            )
        groups = address.exploded.split(":")
        return "IPv6:" + ":".join(format(int(g, 16), "x") for g in groups)
    if _IPV6_GROUPS.match(rest):
        return "IPv6:" + ":".join(format(int(g, 16), "x") for g in rest.split(":"))
    raise ValueError(f"'{shown(text)}' is not an IPv6 address or prefix of colon groups")


def _ipv6_cidr(text: str) -> str:
    """Why `IPv6:2001:db8::/32` is refused: sendmail's A ruleset drops whole groups of
    the address it writes in full, never compares a net's bits (sendmail -bt)."""
    address, _, length = text[5:].partition("/")
    how = "write the net as its leading colon groups, e.g. 'IPv6:2001:db8' for 2001:db8::/32"
    try:
        net = ipaddress.IPv6Network(f"{address}/{length}", strict=False)
    except ValueError:
        net = None
    if net is not None and 0 < net.prefixlen <= 128 and net.prefixlen % 16 == 0:
        groups = net.network_address.exploded.split(":")[: net.prefixlen // 16]
        how = f"write 'IPv6:{':'.join(format(int(g, 16), 'x') for g in groups)}'"
    elif net is not None and net.prefixlen % 16:
        how = (
            "a net whose length is no multiple of 16 is written as one key for each of its"
            " prefixes of whole groups"
        )
    return f"'{shown(text)}': sendmail does not understand CIDR; {how}"


def parse_literal(text: str) -> str:
    """`[192.0.2.1]` or `[IPv6:...]`, an address literal, as sendmail's D ruleset matches it
    in a name sendmail writes itself.

    sendmail names a client whose address does not resolve `[192.0.2.1]` in
    `${client_name}`, an IPv6 one in full (IPV6_FULL, see parse_ipv6); the D
    ruleset looks the literal up, then drops its last octet or group inside the
    brackets (`[192.0.2]`, ...), so a key may be a prefix, as a plain address key may.
    A literal an address holds is compared as written: parse_written_literal.
    """
    if len(text) < 3 or not text.startswith("[") or not text.endswith("]"):
        raise ValueError(f"'{shown(text)}' is not an address literal such as '[192.0.2.1]'")
    inner = text[1:-1]
    if inner.lower().startswith("ipv6:"):
        return f"[{parse_ipv6(inner)}]"
    return f"[{parse_ipv4_prefix(inner)}]"


def parse_written_literal(text: str) -> str:
    """An address literal a sender or recipient address holds, kept as it was written.

    sendmail looks up the domain part of an envelope address (From:, To:, and the
    ${server_name} of a delivery to it: Try_TLS:, TLS_Srv:) as the address writes it,
    so `[IPv6:2001:db8::2]` matches only that spelling and `[IPv6:2001:db8:0:0:0:0:0:2]`
    only its own (tested with sendmail -bt and real deliveries). Checked as
    parse_literal checks it (an IPv6 address, or a prefix of colon groups), not rewritten.
    """
    if len(text) < 3 or not text.startswith("[") or not text.endswith("]"):
        raise ValueError(f"'{shown(text)}' is not an address literal such as '[192.0.2.1]'")
    inner = text[1:-1]
    if not inner.lower().startswith("ipv6:"):
        return f"[{parse_ipv4_prefix(inner)}]"
    rest = inner[5:]
    if not _IPV6_GROUPS.match(rest):
        try:
            ipaddress.IPv6Address(rest)
        except ValueError:
            raise ValueError(
                f"'{shown(text)}' is not an IPv6 address literal nor a prefix of colon groups"
            ) from None
    return f"[IPv6:{rest}]"


#: keys remembered by parse_peer and parse_recipient: a cluster's `domains:` keys are
#: read by the model's check, by the rules of each set of hosts and by the check for
#: two spellings of one key
_REMEMBERED = 1 << 16


@lru_cache(maxsize=_REMEMBERED)
def parse_peer(text: str) -> str:
    """A key of `domains:`: a domain, an IPv4 prefix, `IPv6:...`, or `*` (bare tag)."""
    if len(text) <= 253 and CANONICAL_PEER.match(text):
        return text
    if text == "*":
        return ""
    if text.lower().startswith("ipv6:"):
        return parse_ipv6(text)
    if ":" in text:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            raise ValueError(
                f"'{shown(text)}' is not a domain, an IPv4 prefix or an 'IPv6:' address"
            ) from None
        raise ValueError(f"'{shown(text)}' is an IPv6 address; write 'IPv6:{text}'")
    if "/" in text or _IPV4_PREFIX.match(text.rstrip(".")):
        return parse_ipv4_prefix(text)
    return parse_domain(text)


@lru_cache(maxsize=_REMEMBERED)
def parse_recipient(text: str) -> str:
    """A key of `recipients:`: `user@domain`, `user@`, a domain, or `*` (bare tag)."""
    if text == "*":
        return ""
    if "@" not in text:
        return parse_domain(text)
    local, _, domain = text.rpartition("@")
    if not local:
        raise ValueError(f"'{shown(text)}' has no local part before the '@'")
    if not _LOCAL_PART.match(local):
        bad = first_unsafe(local) or next((c for c in local if not _LOCAL_PART.match(c)), local[0])
        raise ValueError(f"the local part of '{shown(text)}' cannot contain {describe_char(bad)}")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError(f"'{shown(text)}' has a misplaced dot in its local part")
    return local + "@" + (parse_domain(domain) if domain else "")


def parse_hostname(text: str) -> str:
    """A fully qualified host name (for `fqdn:` and `cn:`)."""
    return parse_domain(text)


def parse_address(text: str) -> str:
    """An IPv4 or IPv6 address (a host's `address:`)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"'{shown(text)}' is not an IP address") from None
