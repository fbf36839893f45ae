"""Who may read /metrics: allowed networks for direct peers, the bearer token for anyone."""

from __future__ import annotations

import pytest

from engage.infra.metrics import MetricsAccess

TOKEN = "t" * 32
LOOPBACK = ("127.0.0.0/8", "::1/128")


@pytest.mark.parametrize("peer", ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"])
def test_direct_loopback_peers_may_read(peer: str) -> None:
    assert MetricsAccess(LOOPBACK, "").verdict(peer, False, None) == "ok"


@pytest.mark.parametrize("peer", ["203.0.113.5", "10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1",
                                  None, "", "not-an-address"])
def test_other_peers_see_nothing_without_a_token(peer: str | None) -> None:
    assert MetricsAccess(LOOPBACK, "").verdict(peer, False, None) == "hidden"
    assert MetricsAccess(LOOPBACK, TOKEN).verdict(peer, False, None) == "unauthenticated"


def test_a_proxied_request_is_not_trusted_by_its_address() -> None:
    assert MetricsAccess(LOOPBACK, "").verdict("127.0.0.1", True, None) == "hidden"
    assert MetricsAccess(LOOPBACK, TOKEN).verdict("127.0.0.1", True, f"Bearer {TOKEN}") == "ok"


@pytest.mark.parametrize("header, verdict", [
    (f"Bearer {TOKEN}", "ok"), (f"bearer  {TOKEN} ", "ok"),
    (f"Bearer {TOKEN}x", "unauthenticated"), ("Bearer ", "unauthenticated"),
    (f"Basic {TOKEN}", "unauthenticated"), (TOKEN, "unauthenticated"),
])
def test_the_token_opens_metrics_from_anywhere_and_a_wrong_one_never(
        header: str, verdict: str) -> None:
    access = MetricsAccess(LOOPBACK, TOKEN)
    assert access.verdict("203.0.113.5", False, header) == verdict
    # A wrong credential stays wrong even from an allowed peer.
    assert access.verdict("127.0.0.1", False, header) == verdict


def test_no_token_configured_means_no_header_opens_it() -> None:
    assert MetricsAccess(LOOPBACK, "").verdict("127.0.0.1", False, "Bearer ") == "unauthenticated"


def test_configured_networks() -> None:
    access = MetricsAccess(("10.1.0.0/16",), "")
    assert access.verdict("10.1.2.3", False, None) == "ok"
    assert access.verdict("127.0.0.1", False, None) == "hidden"
    assert MetricsAccess((), "").verdict("127.0.0.1", False, None) == "hidden"
