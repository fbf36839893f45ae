"""Which address a request counts as: X-Forwarded-For only through configured proxies."""

from __future__ import annotations

import pytest

from engage.config import ConfigError, load
from engage.infra.client_address import ClientAddress, parse_networks

PROXIES = ClientAddress(parse_networks("T", ["127.0.0.1", "10.0.0.0/8", "::1"]))


@pytest.mark.parametrize("peer, forwarded, expected", [
    ("203.0.113.5", None, "203.0.113.5"),
    ("127.0.0.1", None, "127.0.0.1"),
    ("127.0.0.1", "198.51.100.7", "198.51.100.7"),
    # A hop the client wrote, left of the proxy's, is not believed.
    ("127.0.0.1", "192.0.2.1, 198.51.100.7", "198.51.100.7"),
    # Proxies in a chain are walked through, right to left.
    ("127.0.0.1", "198.51.100.7, 10.1.2.3", "198.51.100.7"),
    ("::1", "2001:db8::5", "2001:db8::5"),
    ("::ffff:127.0.0.1", "198.51.100.7", "198.51.100.7"),
    # A peer that is no trusted proxy: its header is its own words.
    ("203.0.113.5", "198.51.100.7", "203.0.113.5"),
    # A garbled hop: the last address a trusted proxy vouched for.
    ("127.0.0.1", "not-an-address", "127.0.0.1"),
    ("127.0.0.1", "198.51.100.7, bogus, 10.1.2.3", "10.1.2.3"),
    ("127.0.0.1", "", "127.0.0.1"),
    (None, "198.51.100.7", "unknown"),
])
def test_client_address_through_trusted_proxies(peer: str | None, forwarded: str | None,
                                                expected: str) -> None:
    assert PROXIES.of(peer, forwarded) == expected


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert ClientAddress().of("127.0.0.1", "198.51.100.7") == "127.0.0.1"


def test_trusted_proxies_setting_is_checked() -> None:
    settings = load({"ENGAGE_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"})
    assert settings.trusted_proxies == ("10.0.0.0/8", "127.0.0.1/32")  # normalised
    assert load({}).trusted_proxies == ()
    with pytest.raises(ConfigError, match="ENGAGE_TRUSTED_PROXIES"):
        load({"ENGAGE_TRUSTED_PROXIES": "10.0.0.0/33"})
    with pytest.raises(ConfigError, match="ENGAGE_PASSWORD_WORKERS"):
        load({"ENGAGE_PASSWORD_WORKERS": "-1"})
