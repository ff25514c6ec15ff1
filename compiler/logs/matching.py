"""sendmail's access-map lookups for TLS, as its rulesets make them.

An access map folds its keys to lower case and, for a key given twice, keeps
the first value (makemap). A lookup tries a list of keys in order and the
first one present wins:

* **a peer** (`TLS_Srv`, `Try_TLS` by the server we connect to; `TLS_Clt`,
  `Srv_Features` by the client that connects to us): the host name, then
  for each parent domain `.parent` (a leading-dot key: sub-domains only,
  FEATURE(`lookupdotdomain`)) and `parent`, by whole labels (a name that
  is an address literal, `[192.0.2.1]`, its prefixes `[192.0.2]` ... instead); then the
  address and its prefixes (IPv4 on octet boundaries, `IPv6:` one colon
  group at a time); then the bare `TAG:`.
* **a recipient** (`TLS_Rcpt`): `user@domain`, `user@`, the domain and its
  parents as above, then the bare `TAG:`; a `user+detail` local part tries
  `user+detail`, `user+*` and `user` at each of the first two steps.

IPv6 addresses are compared in the full form Debian's sendmail (built with
IPV6_FULL) writes, eight groups without leading zeros, which is also how
tlsc writes its keys. Pure: no I/O, no pydantic.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import NamedTuple


class Hit(NamedTuple):
    """The entry a lookup found: its key as written and its value."""

    key: str
    value: str


def domain_keys(name: str) -> list[str]:
    """The keys ruleset D tries for a host name, most specific first (lower case)."""
    name = name.strip().lower().rstrip(".")
    if not name:
        return []
    if name.startswith("["):  # an address literal: no parents, its prefixes instead
        return _literal_keys(name)
    labels = name.split(".")
    out = [name]
    for i in range(1, len(labels)):
        parent = ".".join(labels[i:])
        out += ("." + parent, parent)
    return out


def _literal_keys(name: str) -> list[str]:
    """The keys ruleset D tries for an address literal (the name of a client whose
    address does not resolve), as proto.m4 makes them: the literal as it is, then with
    its last octet or colon group (`::group` at once) dropped inside the brackets, one
    at a time: `[10.1.2.3]`, `[10.1.2]`, `[10.1]`, `[10]`. The text is compared as
    written: `[ipv6:2001:db8::1]` never finds `[ipv6:2001:db8:0:0:0:0:0]`."""
    out = [name]
    inner = name[1:-1] if name.endswith("]") else ""
    while m := _LITERAL_TAIL.fullmatch(inner):
        inner = m[1]
        out.append(f"[{inner}]")
    return out


#: ruleset D's `[$+.$-]`, `[$+::$-]` and `[$+:$-]`: the literal but its last token
_LITERAL_TAIL = re.compile(r"(.+?)(?:\.|::|:)[^.:]+")


def ipv6_text(address: str) -> str | None:
    """An IPv6 address as sendmail's ${client_addr} writes it (full, no leading zeros)."""
    try:
        parsed = ipaddress.IPv6Address(address)
    except ValueError:
        return None
    if parsed.ipv4_mapped is not None:
        return None
    return ":".join(format(int(g, 16), "x") for g in parsed.exploded.split(":"))


def address_keys(addr: str) -> list[str]:
    """The keys ruleset A tries for an address (`[192.0.2.1]`, `IPv6:...`), lower case.

    IPv4: the address and its octet prefixes (`10.1.2.3`, `10.1.2`, `10.1`, `10`).
    IPv6: `ipv6:` and the address, then one colon group fewer at a time.
    An IPv4-mapped IPv6 address is looked up as the IPv4 address.
    """
    text = addr.strip().strip("[]").strip()
    if text[:5].lower() == "ipv6:":
        text = text[5:]
    if ":" in text:
        try:
            mapped = ipaddress.IPv6Address(text).ipv4_mapped
        except ValueError:
            mapped = None
        if mapped is not None:
            text = str(mapped)
        else:
            full = ipv6_text(text) or text.lower()
            groups = [g for g in full.split(":") if g]
            return ["ipv6:" + ":".join(groups[:n]) for n in range(len(groups), 0, -1)]
    octets = text.split(".")
    if not text or not all(o.isdigit() for o in octets):
        return []
    return [".".join(octets[:n]) for n in range(len(octets), 0, -1)]


def _local_variants(local: str) -> list[str]:
    """`user+detail`, `user+*`, `user`; just `user` without a detail."""
    user, plus, _detail = local.partition("+")
    return [local, f"{user}+*", user] if plus else [local]


def recipient_keys(address: str) -> list[str]:
    """The keys tls_rcpt tries for a recipient, before the bare tag (lower case)."""
    address = address.strip().strip("<>").lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return domain_keys(address)
    variants = _local_variants(local) if local else []
    out = [f"{v}@{domain}" for v in variants if domain]
    out += [f"{v}@" for v in variants]
    return out + domain_keys(domain)


class AccessTable:
    """An access map as sendmail reads it: keys fold case, the first of a key wins."""

    #: peer lookups remembered (a log meets the same peers again and again)
    MEMO = 65536

    def __init__(self, entries: Iterable[tuple[str, str]] = ()) -> None:
        self._map: dict[str, Hit] = {}
        for key, value in entries:
            self._map.setdefault(key.lower(), Hit(key, value))
        self._memo: dict[tuple[str, str | None, str | None], Hit | None] = {}

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._map

    def get(self, key: str) -> Hit | None:
        """The entry with this key (any case), or None."""
        return self._map.get(key.lower())

    def first(self, tag: str, keys: Iterable[str]) -> Hit | None:
        """The entry of the first `TAG:key` present, else the bare `TAG:`, else None."""
        prefix = tag.lower() + ":"
        table = self._map
        for key in keys:
            hit = table.get(prefix + key)
            if hit is not None:
                return hit
        return table.get(prefix)

    def peer(
        self, tag: str, name: str | None, addr: str | None, by_name: bool = True
    ) -> Hit | None:
        """The entry for a peer: by its name (its address literal when it has none), then
        its address, then the bare tag; without `by_name` (a name the log cut short, that
        no domain key can be matched against) by its address and the bare tag only."""
        if not by_name:
            return self.first(tag, address_keys(addr) if addr else [])
        memo = (tag, name, addr)
        if memo in self._memo:
            return self._memo[memo]
        # a peer logged with no name (`relay=[192.0.2.1]`) is named by its address
        # literal in sendmail (${client_name}, ${server_name}): ruleset D looks that up
        literal = addr if not name and addr and addr.startswith("[") else None
        keys = domain_keys(name) if name else domain_keys(literal) if literal else []
        if addr:
            keys += address_keys(addr)
        hit = self.first(tag, keys)
        if len(self._memo) >= self.MEMO:
            self._memo.clear()
        self._memo[memo] = hit
        return hit

    def recipient(self, tag: str, address: str) -> Hit | None:
        """The entry for a recipient address (`user@domain`)."""
        return self.first(tag, recipient_keys(address))
