"""A DNS server on loopback for tests that look records up for real (dnslib's server class).

The test sets the records; every other name is NXDOMAIN. `SilentPort` is a UDP port that is bound
but never answers, for timeouts (a closed port would answer with ICMP "port unreachable").
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dnslib import QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class _Zone(BaseResolver):  # type: ignore[misc]
    def __init__(self) -> None:
        self.txt: dict[str, list[list[str]]] = {}
        self.addresses: dict[str, list[str]] = {}
        self.failing: set[str] = set()
        self.queries: list[str] = []

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        self.queries.append(name)
        if name in self.failing:
            reply.header.rcode = RCODE.SERVFAIL
        elif request.q.qtype == QTYPE.TXT and name in self.txt:
            for strings in self.txt[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(strings), ttl=60))
        elif name in self.addresses or name in self.txt:
            if request.q.qtype == QTYPE.A and name in self.addresses:
                for address in self.addresses[name]:
                    reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=60))
            # Otherwise NOERROR with no answer: the name exists, the type does not.
        else:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class LoopbackDns:
    """Records a test publishes, served on 127.0.0.1:<port> over UDP."""

    def __init__(self) -> None:
        self.zone = _Zone()
        self._server = DNSServer(
            self.zone,
            address="127.0.0.1",
            port=0,
            logger=DNSLogger(
                log="-recv,-send,-request,-reply,-truncated,-error,-data", prefix=False
            ),
        )
        self.port: int = self._server.server.server_address[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def publish_txt(self, name: str, *values: str | list[str]) -> None:
        """One TXT record per value; a list is one record of several strings."""
        self.zone.txt[name.lower()] = [[v] if isinstance(v, str) else list(v) for v in values]

    def publish_a(self, name: str, *addresses: str) -> None:
        """One A record per address (several: as Docker's DNS answers for a scaled service)."""
        self.zone.addresses[name.lower()] = list(addresses or ["192.0.2.10"])

    def fail(self, name: str) -> None:
        self.zone.failing.add(name.lower())

    def start(self) -> None:
        self._server.start_thread()

    def stop(self) -> None:
        self._server.stop()
        self._server.server.server_close()


@contextmanager
def loopback_dns() -> Iterator[LoopbackDns]:
    server = LoopbackDns()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def silent_udp_port() -> Iterator[str]:
    """`127.0.0.1:<port>` where nothing ever answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
