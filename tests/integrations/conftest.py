from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dns_server import LoopbackDns, loopback_dns


@pytest.fixture
def dns_server(settings) -> Iterator[LoopbackDns]:
    """A DNS server on loopback, and email-domain verification pointed at it."""
    with loopback_dns() as server:
        settings.DOMAIN_VERIFICATION_NAMESERVERS = server.address
        settings.DOMAIN_VERIFICATION_TIMEOUT = 2.0
        yield server
