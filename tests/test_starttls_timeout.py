"""`tls.timeout` against the real daemon: a number without a unit is minutes.

sendmail reads every Timeout.* value with convtime(val, 'm') (readcf.c
settimeout), so `timeout: "2"` is two minutes, not two seconds; validate warns
of it (S228). Here a client asks for STARTTLS, gets its 220 and then sends no
ClientHello: with `2s` the daemon gives up on the handshake and hangs up within
seconds; with `2` it still waits several seconds later.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from releases import release
from sendmail_fixture import DaemonFactory, sendmail_daemon, throwaway_ca

from compiler.spec.loader import load_file
from compiler.spec.validate import validate

__all__ = ["release", "sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools

#: how long the client waits for the daemon to hang up
WAIT = 6.0


def _timeout(value: str) -> Any:
    def edit(spec: dict[str, Any]) -> None:
        spec["defaults"]["tls"]["timeout"] = value

    return edit


def _reply(sock: socket.socket) -> bytes:
    """One SMTP reply (its last line starts with the code and a blank)."""
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"closed after {data!r}")
        data += chunk
        lines = data.split(b"\r\n")
        if len(lines) > 1 and lines[-2][3:4] == b" ":
            return data


def _hang_up_after(port: int) -> float | None:
    """Seconds from the STARTTLS 220 to the daemon's hang-up, None if it waited WAIT."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        assert _reply(sock).startswith(b"220")
        sock.sendall(b"EHLO client.tlsc.test\r\n")
        assert b"STARTTLS" in _reply(sock)
        sock.sendall(b"STARTTLS\r\n")
        assert _reply(sock).startswith(b"220")
        start = time.monotonic()
        sock.settimeout(WAIT)
        try:
            while sock.recv(4096):
                pass
        except TimeoutError:
            return None
        except ConnectionResetError:
            pass
        return time.monotonic() - start


@pytest.mark.parametrize(("value", "closes"), [("2s", True), ("2", False)])
def test_a_bare_number_is_minutes_to_sendmail(
    sendmail_daemon: DaemonFactory, release: object, value: str, closes: bool
) -> None:
    daemon = sendmail_daemon(edit=_timeout(value))
    problems = validate(load_file(daemon.spec_path)).problems
    s228 = [p for p in problems if p.code == "S228"]
    assert bool(s228) is not closes, problems
    if s228:
        assert s228[0].severity == "warning"
        assert "'2m'" in s228[0].message and "'2s' for seconds" in s228[0].message
    took = _hang_up_after(daemon.port)
    if closes:
        assert took is not None and took < WAIT, daemon.diagnostics()
    else:
        assert took is None, f"hung up after {took:.1f} s: {daemon.diagnostics()}"
