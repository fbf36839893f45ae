"""The hostile-input corpus over a real socket: each gets a clear error or a clean close,
and a well-behaved client on the same node keeps being served throughout."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from engage.staff.sessions import ThrottlePolicy
from tests.conftest import PASSWORD, LiveNode, login, socket_token
from tests.rawsocket import RawSocket

NS = "/agent"


@pytest.fixture
async def bystander(node: LiveNode) -> AsyncIterator[RawSocket]:
    sock = await RawSocket.open(node.url)
    assert (await sock.join(NS, {"token": await socket_token(node.url, "agent")})).startswith(
        "40/agent,")
    yield sock
    await sock.close()


async def still_served(sock: RawSocket, marker: str) -> None:
    await sock.event(NS, 900, "ping", {"text": marker})
    reply = await sock.ack(NS, 900)
    assert reply["ok"] is True and reply["text"] == marker


async def agent_socket(node: LiveNode) -> RawSocket:
    sock = await RawSocket.open(node.url)
    reply = await sock.join(NS, {"token": await socket_token(node.url, "agent")})
    assert reply.startswith("40/agent,"), reply
    return sock


@pytest.mark.parametrize("event, payload, code", [
    ("ping", {"text": "x" * 5000}, "too_large"),
    ("connect", {}, "reserved_event"),
    ("disconnect", {}, "reserved_event"),
    ("connect_error", {}, "reserved_event"),
    ("no_such_event", {}, "unknown_event"),
    ("ping", {"text": 5}, "invalid_payload"),
    ("ping", "not an object", "invalid_payload"),
    ("ping", {"text": "hi", "extra": True}, "invalid_payload"),
    ("ping", [1, 2, 3], "invalid_payload"),
    ("announce", {"text": "agents may not"}, "unknown_event"),
])
async def test_refused_events_get_an_ack_with_a_stable_code(
        node: LiveNode, bystander: RawSocket, event: str, payload: object, code: str) -> None:
    sock = await agent_socket(node)
    try:
        await sock.event(NS, 7, event, payload)
        reply = await sock.ack(NS, 7)
        assert reply["ok"] is False and reply["code"] == code and reply["message"]
        # The refused socket itself stays usable.
        await sock.event(NS, 8, "ping", {"text": "after"})
        assert (await sock.ack(NS, 8))["ok"] is True
    finally:
        await sock.close()
    await still_served(bystander, event)


async def test_refused_event_without_ack_is_reported_as_an_error_event(
        node: LiveNode, bystander: RawSocket) -> None:
    sock = await agent_socket(node)
    try:
        await sock.send(f'42{NS},["disconnect","bye"]')
        name, body = await sock.next_event(NS)
        assert name == "engage:error" and body["code"] == "reserved_event"
    finally:
        await sock.close()
    await still_served(bystander, "no-ack")


@pytest.mark.parametrize("frame", [
    "42",
    "42[]",
    "42[1]",
    '442["x"',
    f"42{NS},[]",
    f"42{NS},[1]",
    f'42{NS},1["ping",',
    f"42{NS}," + "[" * 50_000 + "]" * 50_000,
    f'45{NS},1-["ping",{{"_placeholder":true,"num":0}}]',
    f'49{NS},{{}}',
    '40/visitor,"not an object"',
    '41/nowhere,',
], ids=["bare-event", "empty-array", "numeric-name", "truncated-eio", "ns-empty-array",
        "ns-numeric-name", "truncated-json", "50k-nested", "binary-event", "bad-type",
        "string-auth", "unknown-ns-disconnect"])
async def test_malformed_packets_close_the_connection(
        node: LiveNode, bystander: RawSocket, frame: str) -> None:
    sock = await agent_socket(node)
    try:
        await sock.send(frame)
        if frame.startswith("41/nowhere"):
            # Leaving a namespace one never joined is harmless: the socket still works.
            await sock.event(NS, 3, "ping", {"text": "still here"})
            assert (await sock.ack(NS, 3))["ok"] is True
        else:
            await sock.wait_closed()
    finally:
        await sock.close()
    await still_served(bystander, "malformed")


async def test_packet_over_the_buffer_cap_closes_the_connection(
        node: LiveNode, bystander: RawSocket) -> None:
    sock = await agent_socket(node)
    try:
        await sock.send(f'42{NS},1["ping",{{"text":"{"x" * 1_100_000}"}}]')
        await sock.wait_closed()
    finally:
        await sock.close()
    await still_served(bystander, "huge")


async def test_cross_site_origin_is_refused_on_the_upgrade(node: LiveNode) -> None:
    with pytest.raises(Exception) as info:
        await RawSocket.open(node.url, origin="http://evil.example.test")
    assert "400" in str(info.value)


async def test_allowed_origin_is_accepted_on_the_upgrade(node: LiveNode) -> None:
    sock = await RawSocket.open(node.url, origin=node.settings.public_origin)
    await sock.close()


async def test_session_that_never_connects_is_closed(node: LiveNode,
                                                     bystander: RawSocket) -> None:
    sock = await RawSocket.open(node.url)  # the fixture sets a 2 s connect timeout
    try:
        await sock.wait_closed(timeout=15)
    finally:
        await sock.close()
    await still_served(bystander, "idle")


async def test_refused_namespace_connect_then_idle_is_closed(node: LiveNode) -> None:
    sock = await RawSocket.open(node.url)
    try:
        reply = await sock.join(NS, {"token": "forged"})
        assert reply.startswith("44/agent,") and "unauthenticated" in reply
        await sock.wait_closed(timeout=15)
    finally:
        await sock.close()


async def test_flood_is_rate_limited_then_closed(node: LiveNode, bystander: RawSocket) -> None:
    sock = await agent_socket(node)
    codes: list[str] = []
    try:
        for i in range(1, 1001):
            await sock.event(NS, i, "ping", {})
        try:
            while True:
                frame = await sock.recv()
                if frame.startswith(f"43{NS},"):
                    body = frame.split("[", 1)[1]
                    codes.append("ok" if '"ok":true' in body else body)
        except Exception:
            pass
    finally:
        await sock.close()
    assert any('"code":"rate_limited"' in c for c in codes)
    assert codes.count("ok") < 100
    await still_served(bystander, "flood")


async def test_unauthenticated_visitor_namespace_is_refused(node: LiveNode) -> None:
    sock = await RawSocket.open(node.url)
    try:
        reply = await sock.join("/visitor", {"token": "nope"})
        assert reply.startswith("44/visitor,") and "unauthenticated" in reply
    finally:
        await sock.close()


@pytest.mark.parametrize("username, password", [
    ("x" * 1_000_000, "wrong-password"),
    ("agent" + "}" * 3 + ":from:127.0.0.1", "wrong-password"),
    ("{agent}", "wrong-password"),
    ("agent\x00", "test-password-123"),
    ("agent\r\nX-Injected: 1", "test-password-123"),
    (12345, "wrong-password"),
    (["agent"], "test-password-123"),
    ("agent", "p" * 1_000_000),
    ("agent", {"$ne": ""}),
], ids=["1mb-name", "key-splice", "hash-tag", "nul", "crlf", "number", "list", "1mb-password",
        "operator"])
async def test_hostile_sign_ins_are_refused_and_lock_out_nobody(
        node: LiveNode, bystander: RawSocket, username: object, password: object) -> None:
    """A made-up name of any size or character is one failed guess with a short key of its
    own; odd passwords for the real account are guesses too, short of its lock."""
    async with aiohttp.ClientSession() as http:
        for _ in range(ThrottlePolicy().pair_failures - 1):
            async with http.post(f"{node.url}/login",
                                 json={"username": username, "password": password}) as reply:
                assert reply.status in (400, 401), await reply.text()
                assert (await reply.json())["code"] in ("bad_credentials", "invalid_payload")
        assert (await login(http, node.url, "agent", PASSWORD)).status == 200
    found = [k async for k in node.services.backends.redis.scan_iter("engage:login-fail:*")]
    assert found and max(len(k) for k in found) < 120, found
    await still_served(bystander, "sign-in")
