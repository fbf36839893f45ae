"""Visitor tokens, TURN credentials, origin rules, the JSON codec and log format."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

import orjson
import pytest

from engage.calls.ice import ice_servers, turn_credentials
from engage.errors import InvalidPayload, NotAuthenticated
from engage.infra.logs import JsonFormatter
from engage.models import Site
from engage.sites.registry import check_origin
from engage.sites.visitor_tokens import VisitorTokens
from signaling.codec import OrjsonCodec


def test_visitor_token_round_trip_and_identity_kept() -> None:
    tokens = VisitorTokens("k" * 32)
    token, vid = tokens.issue("site_a")
    identity = tokens.verify(token)
    assert (identity.site_key, identity.visitor_id) == ("site_a", vid)
    again, same = tokens.issue("site_a", vid)
    assert same == vid and again


@pytest.mark.parametrize("token", ["", "garbage", None, 5, "x" * 600])
def test_visitor_token_rejects_junk(token: object) -> None:
    with pytest.raises(NotAuthenticated):
        VisitorTokens("k" * 32).verify(token)


def test_visitor_token_signed_with_another_key_is_refused() -> None:
    token, _ = VisitorTokens("a" * 32).issue("site_a")
    with pytest.raises(NotAuthenticated):
        VisitorTokens("b" * 32).verify(token)


def test_client_chosen_visitor_id_must_look_like_ours() -> None:
    _, vid = VisitorTokens("k" * 32).issue("site_a", "admin")
    assert vid != "admin" and vid.startswith("v_")


def test_turn_credentials_follow_the_rest_scheme() -> None:
    username, credential = turn_credentials("secret", "agent1", now=1000.0, ttl=600)
    assert username == "1600:agent1"
    expected = base64.b64encode(hmac.new(b"secret", b"1600:agent1", hashlib.sha1).digest())
    assert credential == expected.decode()
    servers = ice_servers(("stun:s.test",), ("turn:t.test",), "secret", "agent1", 1000.0, 600)
    assert servers[0] == {"urls": ["stun:s.test"]}
    assert servers[1]["username"] == "1600:agent1"
    assert ice_servers((), (), "", "a", 0, 1) == []


@pytest.mark.parametrize("origin", ["*", "https://*.example.test", "example.test",
                                    "https://example.test/", "javascript:alert(1)"])
def test_origin_must_be_exact(origin: str) -> None:
    with pytest.raises(InvalidPayload):
        check_origin(origin)


def test_site_allows_exact_origins_only() -> None:
    site = Site("s", "S", ("https://shop.example.test",))
    assert site.allows("https://shop.example.test")
    assert not site.allows("https://shop.example.test.evil.test")
    assert not site.allows(None)


def test_codec_refuses_deep_nesting_with_a_value_error() -> None:
    with pytest.raises(ValueError):
        OrjsonCodec.loads("[" * 50_000 + "]" * 50_000)
    assert OrjsonCodec.loads(OrjsonCodec.dumps({"a": [1]})) == {"a": [1]}


def test_json_log_lines_carry_extra_fields() -> None:
    record = logging.LogRecord("engage.x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.queue = "rent"
    line = orjson.loads(JsonFormatter().format(record))
    assert line["msg"] == "hello you" and line["queue"] == "rent" and line["level"] == "info"
