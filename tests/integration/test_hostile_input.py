"""The hostile-input corpus over a real socket: each gets a clear error or a clean close,
and a well-behaved client on the same node keeps being served throughout."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from engage.infra.embedded import EmbeddedRedis
from engage.infra.json_body import MAX_DEPTH
from engage.staff.sessions import ThrottlePolicy
from tests.conftest import PASSWORD, SITE_KEY, SITE_ORIGIN, LiveNode, login, node_with, socket_token
from tests.rawsocket import Closed, RawSocket

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


# -- HTTP bodies: every JSON body is read by one helper with size and depth limits ----------

NESTED = "[" * 1100  # 2.2 KB with its closing brackets: the body the scan sent
# Within the JSON parser's own limit (1,024) but past Python's recursion limit once a route
# turns the field into text: this one was the RecursionError and its 500.
DEEP_FIELD = "[" * 1000 + "]" * 1000
HOSTILE_BODIES = {
    "nested-open": NESTED,
    "nested-closed": NESTED + "]" * 1100,
    "nested-objects": '{"a":' * 1100 + "1" + "}" * 1100,
    "deep-field": f'{{"site_key":"{SITE_KEY}","customer_id":{DEEP_FIELD},"customer_hash":"x"}}',
    "just-too-deep": f'{{"site_key":"{SITE_KEY}","x":{"[" * MAX_DEPTH + "]" * MAX_DEPTH}}}',
    "not-json": "site_key=x",
    "not-an-object": "[1,2,3]",
    "bad-utf8": '{"site_key":"\xff"}',
    "nan": '{"site_key":NaN}',
    "empty": "",
}


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
async def test_hostile_bodies_to_the_anonymous_token_route_get_a_400(
        node: LiveNode, bystander: RawSocket, name: str,
        caplog: pytest.LogCaptureFixture) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{node.url}/api/visitor/token",
                                   data=HOSTILE_BODIES[name].encode("latin-1"),
                                   headers={"Origin": SITE_ORIGIN,
                                            "Content-Type": "application/json"})
        assert (response.status, response.content_type) == (400, "application/json")
        body = await response.json()
    assert body["ok"] is False and body["code"] == "invalid_payload" and body["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await still_served(bystander, name)


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


async def metrics_text(node: LiveNode) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{node.url}/metrics") as response:
            assert response.status == 200
            return await response.text()


async def test_refused_event_names_never_become_metric_labels(
        node: LiveNode, bystander: RawSocket) -> None:
    """Made-up event names, refused as unknown and (past the burst) as rate-limited, are all
    counted under one label: a visitor cannot mint Prometheus series."""
    sock = await agent_socket(node)
    try:
        for i in range(1, 81):  # twice the burst: the later ones are refused as rate_limited
            await sock.event(NS, i, f"made-up-{i}", {})
        codes = {(await sock.ack(NS, i))["code"] for i in range(1, 81)}
    finally:
        await sock.close()
    assert codes == {"unknown_event", "rate_limited"}
    text = await metrics_text(node)
    assert "made-up-" not in text
    assert 'engage_socket_events_total{event="other",namespace="/agent"} 80.0' in text
    await still_served(bystander, "labels")


async def test_refusals_interleaved_with_valid_events_still_close_the_socket(
        redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
        aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    """A valid event between refusals does not reset the flood count: refusals are counted
    over a window. (A generous token bucket, so every refusal here is the client's doing.)"""
    async with node_with(redis_server.url, mongo_url, db_name, tmp_path, aiohttp_server,
                         ENGAGE_SOCKET_RATE="100000", ENGAGE_SOCKET_BURST="100000") as node:
        sock = await agent_socket(node)
        acked_ok = 0
        try:
            for round_ in range(100):
                for i in range(9):
                    await sock.send(f'42{NS},["ping",{{"text":{i}}}]')  # invalid_payload
                await sock.event(NS, round_ + 1, "ping", {"text": "valid"})
            with pytest.raises(Closed):
                while True:
                    frame = await sock.recv()
                    acked_ok += frame.startswith(f"43{NS},") and '"ok":true' in frame
        finally:
            await sock.close()
        assert acked_ok < 100  # closed before the end: 900 refusals were never tolerated


# -- the widget's transcript mail: not a relay ------------------------------------------------
@pytest.mark.parametrize("email, code", [
    ("victim@example.com\r\nBcc: everyone@example.com", "invalid_payload"),
    ("a@example.com, b@example.com", "invalid_payload"),
    ('"Support" <victim@example.com>', "invalid_payload"),
    ("victim@example.com", "not_answered"),  # no agent ever joined: the text is the visitor's
])
async def test_transcript_mail_refuses_relaying(node: LiveNode, email: str, code: str) -> None:
    token, visitor = node.services.visitor_tokens.issue(SITE_KEY)
    await node.services.queues.save({"_id": "chat_q", "required_skills": {"nobody": 1}})
    created = await node.services.acd.enqueue("chat_q", "chat", visitor=visitor, site=SITE_KEY)
    sock = await RawSocket.open(node.url, origin=SITE_ORIGIN)
    try:
        assert (await sock.join("/visitor", {"token": token})).startswith("40/visitor,")
        await sock.event("/visitor", 5, "chat.transcript",
                         {"interaction": created["interaction"], "email": email})
        reply = await sock.ack("/visitor", 5)
        assert reply["ok"] is False and reply["code"] == code, reply
    finally:
        await sock.close()
    assert await node.services.backends.db.mail_outbox.count_documents({}) == 0


async def visitor_socket(node: LiveNode) -> RawSocket:
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{node.url}/api/visitor/token", json={"site_key": SITE_KEY},
                                   headers={"Origin": SITE_ORIGIN})
        token = (await response.json())["token"]
    sock = await RawSocket.open(node.url, origin=SITE_ORIGIN)
    reply = await sock.join("/visitor", {"token": token})
    assert reply.startswith("40/visitor,"), reply
    return sock


@pytest.mark.parametrize("payload, code", [
    ({"channel": "phone"}, "invalid_payload"),
    ({"channel": "outbound", "queue": "support"}, "invalid_payload"),
    ({"channel": "chat", "queue": "another_sites_queue"}, "queue_not_offered"),
    ({"channel": "chat", "queue": "../../etc"}, "invalid_payload"),
], ids=["phone-channel", "outbound-channel", "foreign-queue", "queue-path"])
async def test_visitor_cannot_reach_beyond_its_sites_web_queues(
        node: LiveNode, bystander: RawSocket, payload: dict[str, str], code: str) -> None:
    sock = await visitor_socket(node)
    try:
        await sock.event("/visitor", 5, "contact.request", payload)
        reply = await sock.ack("/visitor", 5)
        assert reply["ok"] is False and reply["code"] == code, reply
    finally:
        await sock.close()
    await still_served(bystander, "visitor-queue")


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
                # A body over the JSON limit (1 MB fields) is refused before any check.
                assert reply.status in (400, 401, 413), await reply.text()
                assert (await reply.json())["code"] in ("bad_credentials", "invalid_payload",
                                                        "too_large")
        assert (await login(http, node.url, "agent", PASSWORD)).status == 200
    found = [k async for k in node.services.backends.redis.scan_iter("engage:login-fail:*")]
    assert max((len(k) for k in found), default=0) < 120, found
    # What the throttle saw, it keyed short (a too-large body never reached it).
    assert found or len(str(username)) + len(str(password)) > 60_000
    await still_served(bystander, "sign-in")
