"""Prometheus metrics of a node, in a registry of its own (so tests can build many apps), and
who may read them."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from engage.infra.client_address import parse_address


class Metrics:
    """The counters, gauges and histograms a node exports on ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.connections = Gauge(
            "engage_socket_connections", "Connected Socket.IO clients per namespace",
            ["namespace"], registry=self.registry)
        self.events = Counter(
            "engage_socket_events_total", "Socket.IO events received, by namespace and event",
            ["namespace", "event"], registry=self.registry)
        self.event_errors = Counter(
            "engage_socket_event_errors_total", "Socket.IO events refused, by error code",
            ["namespace", "code"], registry=self.registry)
        self.protocol_errors = Counter(
            "engage_socket_protocol_errors_total",
            "Malformed packets and unauthenticated timeouts that closed a connection",
            ["reason"], registry=self.registry)
        self.http_latency = Histogram(
            "engage_http_request_seconds", "HTTP request latency by route and status",
            ["route", "method", "status"], registry=self.registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.queue_waiting = Gauge(
            "engage_queue_waiting", "Interactions waiting per queue", ["queue"],
            registry=self.registry)
        self.queue_longest_wait = Gauge(
            "engage_queue_longest_wait_seconds", "Wait of the longest waiting interaction",
            ["queue"], registry=self.registry)
        self.agents = Gauge(
            "engage_agents", "Agents per state (all nodes)", ["state"], registry=self.registry)
        self.logins = Counter(
            "engage_logins_total", "Staff sign-in attempts by outcome", ["outcome"],
            registry=self.registry)
        self.password_checks = Counter(
            "engage_password_checks_total",
            "argon2 password verifications run (sign-ins the throttle let through)",
            registry=self.registry)


class MetricsAccess:
    """Who may read ``/metrics`` (pure): a direct peer in an allowed network, or whoever shows
    the bearer token. Queue lengths, agents by state and sign-in outcomes are not public."""

    def __init__(self, allow: Iterable[str], token: str) -> None:
        self.networks = tuple(ipaddress.ip_network(n) for n in allow)
        self.token = token

    def verdict(self, peer: str | None, proxied: bool,
                authorization: str | None) -> Literal["ok", "unauthenticated", "hidden"]:
        """``proxied``: the request carries a forwarding header. A proxy on the same host
        connects from loopback for every visitor, so a proxied request is never trusted by
        its address."""
        if authorization is not None:
            scheme, _, given = authorization.partition(" ")
            if self.token and scheme.lower() == "bearer" and hmac.compare_digest(
                    given.strip().encode(), self.token.encode()):
                return "ok"
            return "unauthenticated"
        if not proxied and self._allowed(peer):
            return "ok"
        # Say how to authenticate only where a token exists; otherwise there is nothing here.
        return "unauthenticated" if self.token else "hidden"

    def _allowed(self, peer: str | None) -> bool:
        address = parse_address(peer or "")  # None: a Unix socket or an unknown peer
        return address is not None and any(address in network for network in self.networks)
