"""The client's address when requests come through a load balancer (TRUSTED_PROXIES).

Behind a balancer REMOTE_ADDR is the balancer: every per-address limit (sign-in and registration
throttles, the SCIM authentication-failure limit, METRICS_ALLOWED_IPS) would count all clients
as one, and the provisioning log and token "last used from" would name the balancer. When the
peer is a trusted proxy, this middleware puts the client's address in REMOTE_ADDR, so every
reader of REMOTE_ADDR gets the right one without knowing about proxies.

The client is the right-most X-Forwarded-For address that is not itself a trusted proxy: each
trusted proxy appends the address it received the request from, while everything to the left of
what the first trusted proxy appended was written by the client and can be anything (MDN
"X-Forwarded-For", "Selecting an IP address"). Entries that are not addresses are skipped.
With TRUSTED_PROXIES empty (the default) nobody is trusted and the header is never read.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (`10.0.0.5`, `172.16.0.0/12`, `::1`); anything else stops the start
    with the entry named, since a typo here would silently trust nobody (or the wrong hosts)."""
    networks = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {text!r} is not an IP address or network. Use comma-separated "
                "addresses or CIDR networks of the load balancers in front of the web servers, "
                "for example TRUSTED_PROXIES=10.0.0.5,172.16.0.0/12."
            ) from None
    return tuple(networks)


@functools.lru_cache(maxsize=8)
def _trusted(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_trusted_proxies(entries)


def _address(text: str) -> Address | None:
    """An address as proxies write it: `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or
    `203.0.113.7:51234` (some balancers add the port); IPv4-mapped IPv6 as IPv4."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: Address, proxies: tuple[Network, ...]) -> bool:
    return any(address in network for network in proxies)


def client_address(remote_addr: str, forwarded_for: str, proxies: tuple[Network, ...]) -> str:
    """REMOTE_ADDR itself unless it is a trusted proxy; then the right-most X-Forwarded-For
    address that is not one (all of them trusted: the proxy itself, since a client could have
    written a trusted address into the header)."""
    peer = _address(remote_addr)
    if peer is None or not _is_trusted(peer, proxies):
        return remote_addr
    hops = [address for address in map(_address, forwarded_for.split(",")) if address is not None]
    for address in reversed(hops):
        if not _is_trusted(address, proxies):
            return str(address)
    return remote_addr


class ClientAddressMiddleware:
    """Sets REMOTE_ADDR to the client's address for a request relayed by a trusted proxy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        proxies = _trusted(tuple(settings.TRUSTED_PROXIES))
        if proxies:
            request.META["REMOTE_ADDR"] = client_address(
                request.META.get("REMOTE_ADDR", ""),
                request.META.get("HTTP_X_FORWARDED_FOR", ""),
                proxies,
            )
        return self.get_response(request)
