"""sendmail's xtext encoding of certificate names (`+XX`).

sendmail stores `${cert_subject}` and `${cert_issuer}` as
`xtextify(X509_NAME_oneline(name), "<>\\")")` (tls.c). OpenSSL's
X509_NAME_oneline first writes every byte outside ' '..'~' (a UTF-8 name's
non-ASCII bytes) as `\\xHH`; xtextify then turns every byte below `!` or above
`~`, and `+ \\ ( < > " )`, into `+` and two upper-case hex digits, so `é`
becomes `+5CxC3+5CxA9`. Access keys and `CS:`/`CI:` requirements must be
written the same way to match.
"""

from __future__ import annotations

import re

_TABOO = frozenset(b'+\\(<>")')
#: what X509_NAME_oneline escapes: `\xHH` for a byte outside ' '..'~'
_ONELINE_ESCAPE = re.compile(rb"\\x([0-9A-F]{2})")


def _oneline(raw: bytes) -> bytes:
    """A name's bytes as X509_NAME_oneline prints them."""
    return b"".join(b"\\x%02X" % b if b < 0x20 or b > 0x7E else bytes([b]) for b in raw)


def xtext(text: str) -> str:
    """Encode a certificate name the way sendmail logs and compares it."""
    out = []
    for byte in _oneline(text.encode("utf-8")):
        if byte < 0x21 or byte > 0x7E or byte in _TABOO:
            out.append(f"+{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def unxtext(text: str) -> str:
    """Decode xtext (as found in logs) back to the natural name.

    The `\\xHH` escapes X509_NAME_oneline made of bytes outside ' '..'~' are
    turned back into those bytes; any other backslash is kept as written.
    """
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
    unescaped = _ONELINE_ESCAPE.sub(_oneline_byte, bytes(raw))
    return unescaped.decode("utf-8", "replace")


def _oneline_byte(m: re.Match[bytes]) -> bytes:
    value = int(m.group(1), 16)
    return bytes([value]) if value < 0x20 or value > 0x7E else m.group(0)


def _is_hex(pair: str) -> bool:
    return len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair)
