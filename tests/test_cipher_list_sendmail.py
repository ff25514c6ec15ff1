"""`tls.cipher_list` against the real daemon: a list OpenSSL selects no cipher from.

sendmail hands confCIPHER_LIST to SSL_CTX_set_cipher_list(); when OpenSSL
selects no TLS 1.2 cipher from it (a misspelt name, a TLS 1.3 suite name, which
belongs in tls.ciphersuites) sendmail logs "list ignored", but OpenSSL 3 has
already replaced the list: the daemon is left with no TLS 1.2 cipher at all, so
only TLS 1.3 peers get STARTTLS through, every other handshake fails ("no
shared cipher"). validate refuses such a list (S104); a list that selects one
cipher, whatever unknown words it holds, is what sendmail uses.
"""

from __future__ import annotations

import smtplib
import ssl
from typing import Any

import pytest
from releases import release
from sendmail_fixture import DaemonFactory, sendmail_daemon, throwaway_ca

from compiler.spec.loader import load_file
from compiler.spec.validate import validate

__all__ = ["release", "sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools

#: the list the fixture builds with where validate refuses the one tested
PLACEHOLDER = "HIGH:!aNULL"

#: a TLS 1.2 cipher the client offers alone: the daemon's list decides the handshake
CLIENT_CIPHER = "ECDHE-ECDSA-AES256-GCM-SHA384"


def _cipher_list(value: str | None) -> Any:
    def edit(spec: dict[str, Any]) -> None:
        spec["defaults"]["tls"]["cipher_list"] = value

    return edit


def _handshake(port: int, tls12: bool = True) -> str:
    """'ok' or 'refused' for a TLS 1.2 client offering only CLIENT_CIPHER (or, not
    `tls12`, a TLS 1.3 one)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(CLIENT_CIPHER)
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo("client.tlsc.test")
        assert smtp.has_extn("starttls")
        try:
            smtp.starttls(context=context)
        except ssl.SSLError:
            return "refused"
    return "ok"


@pytest.mark.parametrize(
    ("value", "tls12", "ignored"),
    [
        (None, "ok", False),  # OpenSSL's default list holds the client's cipher
        ("ECDHE-ECDSA-AES128-GCM-SHA256", "refused", False),  # a list without it
        (f"NO-SUCH-CIPHER:{CLIENT_CIPHER}", "ok", False),  # an unknown word is skipped
        ("ECDHE-ECDSA-AES256-GCM-SHA38", "refused", True),  # misspelt: no cipher at all
        ("TLS_AES_128_GCM_SHA256", "refused", True),  # a TLS 1.3 suite: not a cipher list's
    ],
)
def test_a_list_openssl_selects_nothing_from_leaves_no_tls12_cipher(
    sendmail_daemon: DaemonFactory, release: object, value: str | None, tls12: str, ignored: bool
) -> None:
    if not ignored:
        daemon = sendmail_daemon(edit=_cipher_list(value))
    else:
        # validate refuses the list, so the fixture builds with a good one, which is
        # then replaced in starttls.m4 as a hand edit would, and sendmail.cf rebuilt
        daemon = sendmail_daemon(edit=_cipher_list(PLACEHOLDER), start=False)
        spec = daemon.spec_path.read_text(encoding="utf-8")
        bad = daemon.work / "bad.yaml"
        bad.write_text(spec.replace(PLACEHOLDER, str(value)), encoding="utf-8")
        problems = validate(load_file(bad)).problems
        assert [(p.code, p.severity) for p in problems] == [("S104", "error")], problems
        assert "OpenSSL selects no TLSv1.2 cipher from" in problems[0].message
        starttls = daemon.work / "tls" / "starttls.m4"
        text = starttls.read_text(encoding="utf-8")
        assert f"``{PLACEHOLDER}''" in text
        starttls.write_text(text.replace(PLACEHOLDER, str(value)), encoding="utf-8")
        daemon.build()
        daemon.start()
    assert _handshake(daemon.port) == tls12, daemon.diagnostics()
    assert _handshake(daemon.port, tls12=False) == "ok", daemon.diagnostics()
    if ignored:
        line = daemon.wait_for_log(r"SSL_CTX_set_cipher_list")
        assert "list ignored" in line, line
