"""Every STARTTLS line the real sendmail binaries can log is read, none is "unreadable".

The formats come from the binaries themselves (8.17.1.9, this machine's, and
8.18.1): each `STARTTLS=...`/`STARTTLS: ...` format string in them is filled
with sample values, for each side a `STARTTLS=%s` can name, and read as a
line of the log. "Unreadable" is for damaged lines (cut off, binary, a
continuation); a line sendmail writes as it is meant to be written is a
record, a cert line, a notice or nothing. The handshake and cert formats are
the control: they must give their record.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import pytest

from compiler.logs.parse import UNREADABLE, CertLine, TlsRecord, read_message
from tests.realtools import SYSTEM_SENDMAIL, sendmail_818

#: `%s` after `key=` in the handshake format, so that its line is a whole handshake
_SAMPLES = {
    "relay": "mx.example.net. [192.0.2.1]",
    "version": "TLSv1.3",
    "verify": "OK",
    "cipher": "TLS_AES_256_GCM_SHA384",
    "bits": "256",
}
#: what `STARTTLS=%s` is filled with: the two sides of a session (tls.c) and where in
#: the TLS I/O (sfsasl.c: tls_retry's `where`)
_SIDES = ("server", "client", "read", "write")


@cache
def formats(binary: str) -> tuple[str, ...]:
    data = Path(os.path.realpath(binary)).read_bytes()
    found = {m.decode() for m in re.findall(rb"STARTTLS[=:][\x20-\x7e]*", data)}
    return tuple(sorted(found))


def fill(fmt: str, side: str) -> str:
    text = fmt.replace("STARTTLS=%s", f"STARTTLS={side}", 1)
    text = re.sub(r"(\w+)=%(?:\.\d+)?s", lambda m: f"{m[1]}={_SAMPLES.get(m[1], 'x')}", text)
    text = re.sub(r"/%(?:\.\d+)?s", "/256", text)  # bits=%.6s/%.6s
    text = re.sub(r"(?:%(?:\.\d+)?s)+$", "", text)  # the handshake's optional tail
    text = re.sub(r"%(?:\.\d+)?s", "x", text)
    text = re.sub(r"%l?[dx]", "1", text)
    return text.replace("%c", "I")


def _binaries() -> list[str]:
    return [str(SYSTEM_SENDMAIL.sendmail), str(sendmail_818().sendmail)]


@pytest.mark.parametrize("release", ["8.17", "8.18"])
def test_no_line_of_sendmail_s_own_formats_is_unreadable(release: str) -> None:
    binary = _binaries()[0 if release == "8.17" else 1]
    fmts = formats(binary)
    assert len(fmts) > 50, f"{binary}: too few STARTTLS formats found ({len(fmts)})"
    unreadable = []
    handshakes = certs = 0
    for fmt in fmts:
        for side in _SIDES if "STARTTLS=%s" in fmt else ("",):
            line = fill(fmt, side)
            for message in (line, f"6AT2gk33000955: {line}"):  # with and without a queue id
                msg = read_message(message, "2026-12-01T10:00:00", "mx1")
                if msg is UNREADABLE:
                    unreadable.append(message)
                elif isinstance(msg, TlsRecord) and msg.error is None:
                    handshakes += 1
                    assert (msg.relay, msg.addr, msg.verify, msg.bits) == (
                        "mx.example.net",
                        "[192.0.2.1]",
                        "OK",
                        256,
                    ), message
                elif isinstance(msg, CertLine):
                    certs += 1
    assert unreadable == []
    # the control: the handshake and cert-line formats, for server and client, both forms
    assert handshakes == 4 and certs == 4


def test_a_cut_off_handshake_is_still_unreadable() -> None:
    fmt = next(f for f in formats(str(SYSTEM_SENDMAIL.sendmail)) if ", version=%" in f)
    line = fill(fmt, "server")
    cut = line[: line.index(", version=") + 6]  # `..., relay=mx.example.net. [192.0.2.1], vers`
    assert read_message(cut, None, "mx1") is UNREADABLE
    assert read_message(line[: line.index(", verify=") + 4], None, "mx1") is UNREADABLE
    assert isinstance(read_message(line, None, "mx1"), TlsRecord)
