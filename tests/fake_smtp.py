"""A scripted SMTP server on 127.0.0.1 for probe tests: one thread, one session at a time.

    with FakeSmtp(script) as server:      # script(session) plays the server's side
        probe(Target("fake", "127.0.0.1", server.port))

`Session` offers `send(text)`, `expect(prefix)`, `talked_early(seconds)`, `start_tls(ctx)`
and `ehlo_and_quit()`; whatever the script raises is re-raised by `FakeSmtp.__exit__`,
so a broken expectation fails the test.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from types import TracebackType


class Session:
    """The server's end of one connection."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn: socket.socket = conn
        self.buffer = b""

    def send(self, text: str) -> None:
        """Send lines (\\n becomes CRLF)."""
        self.conn.sendall(text.replace("\n", "\r\n").encode())

    def line(self, timeout: float = 5.0) -> str:
        """The next line the client sent, without CRLF ('' when it closed)."""
        self.conn.settimeout(timeout)
        while b"\n" not in self.buffer:
            chunk = self.conn.recv(4096)
            if not chunk:
                return ""
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode().rstrip("\r")

    def expect(self, prefix: str) -> str:
        """The next line, which must start with `prefix` (case-insensitive)."""
        line = self.line()
        assert line.upper().startswith(prefix.upper()), f"expected {prefix!r}, got {line!r}"
        return line

    def talked_early(self, seconds: float) -> bool:
        """Wait `seconds` before greeting; True if the client sent anything meanwhile."""
        self.conn.settimeout(seconds)
        try:
            data = self.conn.recv(4096, socket.MSG_PEEK)
        except TimeoutError:
            return False
        return bool(data)

    def start_tls(self, context: ssl.SSLContext) -> None:
        """Switch to TLS as the server (after answering 220 to STARTTLS)."""
        self.conn.settimeout(5)
        self.conn = context.wrap_socket(self.conn, server_side=True)

    def ehlo_and_quit(self) -> None:
        """Inside TLS, what the probe says last: EHLO again (RFC 3207 4.2), then QUIT."""
        self.expect("EHLO ")
        self.send("250-fake.tlsc.test hello again\n250 PIPELINING\n")
        self.expect("QUIT")
        self.send("221 2.0.0 bye\n")


Script = Callable[[Session], object]


class FakeSmtp:
    """Serve `script` to each connection, one after another, until closed."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port: int = self.listener.getsockname()[1]
        self.sessions = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakeSmtp:
        self.thread.start()
        return self

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.sessions += 1
            session = Session(conn)
            try:
                self.script(session)
            except (ssl.SSLError, ConnectionError, TimeoutError):
                pass  # the client hung up or refused our certificate: its business
            except BaseException as exc:
                self.error = exc
            finally:
                with contextlib.suppress(OSError):
                    session.conn.close()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(5)
        if self.error is not None and kind is None:
            raise self.error
