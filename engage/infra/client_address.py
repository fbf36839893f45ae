"""The client's address of a request: the peer, or what configured proxies say it was."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Protocol

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(name: str, raw: Iterable[str]) -> tuple[Network, ...]:
    """``10.0.0.0/8``, ``127.0.0.1`` (a /32) or ``::1``; ValueError naming ``name`` else."""
    out = []
    for part in raw:
        try:
            out.append(ipaddress.ip_network(part.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{name}: {part!r} is not an address or network") from None
    return tuple(out)


def parse_address(raw: str) -> Address | None:
    """An IP address (IPv4-mapped IPv6 as IPv4, as dual-stack listeners report them), or
    None."""
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class Headers(Protocol):
    def getall(self, key: str, default: list[str]) -> list[str]: ...


def forwarded_for(headers: Headers | None) -> str | None:
    """Every ``X-Forwarded-For`` header of a request, joined in order (None when absent)."""
    if headers is None:
        return None
    return ",".join(headers.getall("X-Forwarded-For", [])) or None


class ClientAddress:
    """Believes ``X-Forwarded-For`` only from the configured proxies, and only its hops
    they appended: walking from the right, the first address that is not a trusted proxy
    is the client. Anything to its left was written by the client and can be a lie."""

    def __init__(self, trusted: tuple[Network, ...] = ()) -> None:
        self.trusted = trusted

    def _is_trusted(self, address: Address) -> bool:
        return any(address in network for network in self.trusted)

    def of(self, peer: str | None, forwarded_for: str | None) -> str:
        """The address to count sign-ins (and other limits) by, as text."""
        current = parse_address(peer) if peer else None
        if current is None:
            return peer or "unknown"
        if not self.trusted or forwarded_for is None:
            return str(current)
        # Several headers are joined by the framework with commas, in order.
        for hop in reversed(forwarded_for.split(",")):
            if not self._is_trusted(current):
                break
            found = parse_address(hop)
            if found is None:  # a garbled hop: stop at the last proxy that vouched
                break
            current = found
        return str(current)
