"""sendmail's xtext encoding of certificate names (`+XX`).

sendmail stores `${cert_subject}` and `${cert_issuer}` through
`xtextify(buf, "<>\\")")` (tls.c): every byte below `!` or above `~`, and
`+ \\ ( < > " )`, becomes `+` and two upper-case hex digits. Access keys and
`CS:`/`CI:` requirements must be written the same way to match.
"""

from __future__ import annotations

_TABOO = frozenset(b'+\\(<>")')


def xtext(text: str) -> str:
    """Encode a certificate name the way sendmail logs and compares it."""
    out = []
    for byte in text.encode("utf-8"):
        if byte < 0x21 or byte > 0x7E or byte in _TABOO:
            out.append(f"+{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def unxtext(text: str) -> str:
    """Decode xtext (as found in logs) back to the natural name."""
    raw = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "+" and i + 2 < len(text) + 0 and _is_hex(text[i + 1 : i + 3]):
            raw.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(ch.encode("utf-8"))
            i += 1
    return raw.decode("utf-8", "replace")


def _is_hex(pair: str) -> bool:
    return len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair)
