"""A tiny authoritative DNS server on 127.0.0.1 for tests, built with dnspython's message API.

    with DnsServer({"example.org": {"MX": ["10 mx1.example.org."]},
                    "mx1.example.org": {"A": ["127.0.0.1"]}}) as dns:
        ... tlsc verify --mx example.org --dns-server 127.0.0.1:{dns.port} ...

It answers over UDP on a port it opened (with the AD flag when `validated`,
as a DNSSEC-validating resolver does): the records of a name and type as
given (relative names are absolute), NOERROR with no answer for a name it
knows without that type, NXDOMAIN otherwise. `queries` records each
(name, type) asked, in order.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class DnsServer:
    """A UDP DNS server in a thread; stop it with close() or a with block."""

    def __init__(
        self, zone: dict[str, dict[str, list[str]]], ttl: int = 60, validated: bool = False
    ) -> None:
        self.zone = {name.rstrip(".").lower() or ".": types for name, types in zone.items()}
        self.ttl = ttl
        #: answer with the AD flag, as a DNSSEC-validating resolver does for signed data
        self.validated = validated
        self.queries: list[tuple[str, str]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """ADDRESS:PORT, as `--dns-server` takes it."""
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:  # not DNS: ignore it, as a server would
                continue
            self.sock.sendto(self._answer(query).to_wire(), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if self.validated:
            response.flags |= dns.flags.AD
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        types = self.zone.get(name)
        if types is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        records = types.get(rdtype, [])
        if records:
            response.answer.append(
                dns.rrset.from_text_list(question.name, self.ttl, "IN", rdtype, records)
            )
        return response

    def close(self) -> None:
        """Stop answering."""
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def __enter__(self) -> DnsServer:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()
