"""Calls between a visitor and an agent: real aiortc peers negotiating only through engage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import pytest
import redis.asyncio as aioredis
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc import RTCSessionDescription as Description
from aiortc.sdp import candidate_from_sdp

from engage.acd.queues import from_document, to_document
from engage.calls.ice import turn_credentials
from engage.calls.service import ANSWER_LIMIT_MS, AWAY_LIMIT_MS, CallService
from engage.errors import InvalidPayload
from engage.infra.embedded import EmbeddedRedis
from engage.keys import CallKeys
from signaling.schemas import VISITOR_NS
from signaling.server import SocketState
from tests.call_peers import (
    NO_ICE_SERVERS,
    RECORDED,
    CallFloor,
    Tone,
    call_history,
    ice,
    open_floor,
    settled,
    split_candidates,
)
from tests.socket_peers import WAIT, Peer

TURN = {"ENGAGE_STUN_URLS": "stun:stun.example.test:3478",
        "ENGAGE_TURN_URLS": "turn:turn.example.test:3478?transport=udp",
        "ENGAGE_TURN_SECRET": "turn-test-secret"}


@pytest.fixture
async def floor(redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
                redis: aioredis.Redis, aiohttp_server: Any) -> AsyncIterator[CallFloor]:
    async with open_floor(redis_server.url, mongo_url, db_name, tmp_path, aiohttp_server,
                          **TURN) as floor:
        yield floor


async def answer_offers(visitor: Peer, pc: RTCPeerConnection, call: str) -> None:
    """The visitor's widget: applies the agent's signals in arrival order, answers offers."""
    while True:
        signal = await visitor.expect("call.signal", call=call)
        assert signal["from"] == "agent"
        if signal["kind"] == "offer":
            await pc.setRemoteDescription(Description(signal["sdp"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            answer = {"call": call, "kind": "answer", "sdp": pc.localDescription.sdp}
            await visitor.ok("call.signal", answer)
        elif signal["kind"] == "ice":
            init = signal["candidate"]
            if not init["candidate"]:
                await pc.addIceCandidate(None)
                return
            candidate = candidate_from_sdp(init["candidate"].split(":", 1)[1])
            candidate.sdpMid = init["sdpMid"]
            await pc.addIceCandidate(candidate)


async def test_video_call_negotiated_through_engage_carries_the_agents_audio(
        floor: CallFloor) -> None:
    agent, visitor = await floor.agent("alice"), await floor.widget()
    ix = await floor.connected(agent, visitor)
    proposed = await agent.ok("call.propose", {"interaction": ix, "media": "video"})
    call = proposed["call"]
    assert call.startswith("call_") and proposed["record"] is False
    ring = await visitor.expect("call.proposed", call=call)
    assert ring == {"call": call, "interaction": ix, "media": "video", "by": "agent",
                    "record": False}
    consent = await visitor.ok("call.consent", {"call": call, "accept": True})
    assert consent["state"] == "accepted" and consent["record"] is False
    assert (await agent.expect("call.accepted", call=call))["by"] == "visitor"

    agent_pc, visitor_pc = RTCPeerConnection(NO_ICE_SERVERS), RTCPeerConnection(NO_ICE_SERVERS)
    heard: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    visitor_pc.on("track", lambda track: track.kind == "audio" and not heard.done()
                  and heard.set_result(track))
    both = asyncio.gather(settled(agent_pc), settled(visitor_pc))
    answering = asyncio.create_task(answer_offers(visitor, visitor_pc, call))
    try:
        agent_pc.addTrack(Tone())
        agent_pc.addTransceiver("video", direction="recvonly")
        await agent_pc.setLocalDescription(await agent_pc.createOffer())
        sdp, candidates = split_candidates(agent_pc.localDescription.sdp)
        assert candidates
        await agent.ok("call.signal", {"call": call, "kind": "offer", "sdp": sdp})
        for init in candidates:
            await agent.ok("call.signal", {"call": call, "kind": "ice", "candidate": init})
        await agent.ok("call.signal", ice(call, ""))  # end of candidates
        answer = await agent.expect("call.signal", call=call, kind="answer")
        assert answer["from"] == "visitor" and "a=fingerprint:" in answer["sdp"]
        await agent_pc.setRemoteDescription(Description(answer["sdp"], "answer"))
        await asyncio.wait_for(answering, WAIT)
        assert await asyncio.wait_for(both, WAIT) == ["connected", "connected"]
        track = await asyncio.wait_for(heard, WAIT)
        for _ in range(200):  # the decoder's first frames may be silence
            frame = await asyncio.wait_for(track.recv(), WAIT)
            if np.abs(frame.to_ndarray()).max() > 0:
                break
        assert isinstance(frame, av.AudioFrame) and np.abs(frame.to_ndarray()).max() > 0
    finally:
        answering.cancel()
        both.cancel()
        await agent_pc.close()
        await visitor_pc.close()

    await agent.ok("call.media", {"call": call, "media": "audio"})
    assert (await visitor.expect("call.media", call=call))["media"] == "audio"
    await visitor.ok("call.hangup", {"call": call})
    for peer in (agent, visitor):
        ended = await peer.expect("call.ended", call=call)
        assert ended == {"call": call, "interaction": ix, "by": "visitor", "reason": "hangup"}
    await agent.refused("call.signal", {"call": call, "kind": "restart"}, "call_ended")
    await visitor.refused("call.hangup", {"call": call}, "call_ended")

    history = await call_history(floor, ix)
    assert {"proposed", "accepted", "signal.offer", "signal.ice", "signal.answer", "media",
            "ended"} <= {doc["event"] for doc in history}
    assert all(doc["call"] == call and doc["outcome"] == "ok" for doc in history)


async def test_only_the_interactions_visitor_and_agent_take_part(floor: CallFloor) -> None:
    agent, visitor = await floor.agent("alice"), await floor.widget()
    ix = await floor.connected(agent, visitor)
    bob = await floor.agent("bob", available=False)
    supervisor = await floor.connect("supervisor")
    stranger = await floor.widget("stranger")

    for outsider in (bob, supervisor, stranger):
        await outsider.refused("call.propose", {"interaction": ix, "media": "audio"}, "forbidden")
    call = (await visitor.ok("call.propose", {"interaction": ix, "media": "audio"}))["call"]
    ring = await agent.expect("call.proposed", call=call)
    assert ring["by"] == "visitor" and ring["media"] == "audio"
    proposed = await CallService(floor.services.backends.redis).get(call)
    assert proposed.stale(proposed.created_ms + ANSWER_LIMIT_MS) == "no_answer"
    await agent.refused("call.propose", {"interaction": ix, "media": "video"}, "call_in_progress")
    await visitor.refused("call.consent", {"call": call, "accept": True}, "forbidden")
    await visitor.refused("call.signal", {"call": call, "kind": "restart"}, "call_not_accepted")
    await refused_to_all((bob, supervisor, stranger), call, "forbidden")
    await agent.refused("call.consent", {"call": call, "accept": True, "record_consent": True},
                        "invalid_payload")
    await agent.ok("call.consent", {"call": call, "accept": True})
    await visitor.refused("call.consent", {"call": call, "accept": False}, "forbidden")
    await agent.refused("call.consent", {"call": call, "accept": False}, "not_pending")
    await refused_to_all((bob, supervisor, stranger), call, "forbidden")
    await agent.refused("call.hangup", {"call": "call_" + "x" * 22}, "not_found")
    await visitor.refused("call.propose", {"interaction": ix, "media": "audio", "extra": 1},
                          "invalid_payload")
    queued = str((await stranger.ok("contact.request", {"channel": "chat"}))["interaction"])
    await stranger.refused("call.propose", {"interaction": queued, "media": "audio"},
                           "not_connected")


async def refused_to_all(peers: tuple[Peer, ...], call: str, code: str) -> None:
    for peer in peers:
        for event, data in (("call.consent", {"accept": True}), ("call.media", {"media": "video"}),
                            ("call.signal", {"kind": "restart"}), ("call.hangup", {})):
            await peer.refused(event, {"call": call, **data}, code)


async def test_bad_signals_are_refused_and_the_call_stays_usable(floor: CallFloor) -> None:
    agent, visitor = await floor.agent("alice"), await floor.widget()
    ix = await floor.connected(agent, visitor)
    call = await floor.accepted_call(agent, visitor, ix)
    pc = RTCPeerConnection(NO_ICE_SERVERS)
    try:
        pc.addTrack(Tone())
        await pc.setLocalDescription(await pc.createOffer())
        good = pc.localDescription.sdp
    finally:
        await pc.close()
    unsigned = "\r\n".join(line for line in good.split("\r\n")
                           if not line.startswith("a=fingerprint:"))
    absurd = good.replace("UDP/TLS/RTP/SAVPF 96", "UDP/TLS/RTP/SAVPF 960")
    for sdp, reason in (("", "empty"), ("v=0\r\ns=-\r\n", "no_media"),
                        (unsigned, "no_fingerprint"), (absurd, "bad_payload_type")):
        offer = {"call": call, "kind": "offer", "sdp": sdp}
        assert (await agent.refused("call.signal", offer, "invalid_sdp"))["reason"] == reason
    await agent.refused("call.signal", {"call": call, "kind": "offer"}, "invalid_payload")
    await agent.refused("call.signal", ice(call, "candidate:1 1 udp 1 192.0.2.1 5000 typ no"),
                        "invalid_candidate")
    await agent.ok("call.signal", {"call": call, "kind": "offer", "sdp": good})
    relayed = await visitor.expect("call.signal", call=call)
    assert relayed["kind"] == "offer" and relayed["sdp"] == good  # the first one through

    # Loopback candidates pass on a peer-to-peer call; then the side's allowance runs out,
    # counting the candidates that came inside descriptions too.
    for n in range(3):
        await agent.ok("call.signal", ice(call, f"candidate:{n} 1 udp 9 127.0.0.1 {5000 + n} "
                                                "typ host"))
    remaining = 200 - 3 - good.count("a=candidate:")
    while remaining:
        batch, remaining = min(50, remaining), remaining - min(50, remaining)
        offer = {"call": call, "kind": "offer", "sdp": with_candidates(good, batch)}
        await agent.ok("call.signal", offer)
    await agent.refused("call.signal", ice(call, "candidate:z 1 udp 1 192.0.2.9 6000 typ host"),
                        "too_many_candidates")
    await visitor.ok("call.signal", ice(call, "candidate:v 1 udp 1 fd00::2 6000 typ host"))
    assert {"ok", "invalid_sdp", "invalid_candidate", "too_many_candidates"} <= {
        doc["outcome"] for doc in await call_history(floor, ix)}


def with_candidates(sdp: str, count: int) -> str:
    """``sdp`` with its candidates replaced by ``count`` others."""
    lines = [line for line in sdp.split("\r\n") if not line.startswith("a=candidate:")]
    at = next(i for i, line in enumerate(lines) if line.startswith("a=mid:")) + 1
    extra = [f"a=candidate:c{n} 1 udp 9 192.0.2.{n + 1} {7000 + n} typ host" for n in range(count)]
    return "\r\n".join(lines[:at] + extra + lines[at:])


async def test_a_declined_call_relays_nothing_and_calls_end_with_the_conversation(
        floor: CallFloor) -> None:
    agent, visitor = await floor.agent("alice"), await floor.widget()
    ix = await floor.connected(agent, visitor)
    call = (await agent.ok("call.propose", {"interaction": ix, "media": "video"}))["call"]
    await visitor.expect("call.proposed", call=call)
    declined = await visitor.ok("call.consent", {"call": call, "accept": False})
    assert declined["state"] == "declined"
    assert (await agent.expect("call.declined", call=call))["by"] == "visitor"
    await agent.refused("call.signal", {"call": call, "kind": "restart"}, "call_not_accepted")
    await agent.refused("call.media", {"call": call, "media": "audio"}, "call_not_accepted")
    assert not visitor.inbox.seen("call.signal")
    again = await floor.accepted_call(agent, visitor, ix, media="audio")
    assert again != call
    await agent.ok("acd.complete", {"interaction": ix})
    for peer in (agent, visitor):
        ended = await peer.expect("call.ended", call=again)
        assert ended["by"] == "system" and ended["reason"] == "interaction_ended"
    await visitor.refused("call.propose", {"interaction": ix, "media": "audio"}, "not_connected")


async def test_recording_needs_the_queue_and_the_visitors_consent(floor: CallFloor) -> None:
    queue = floor.services.queues.get("recorded")
    assert queue.record_calls and from_document(to_document(queue)) == queue
    assert not floor.services.queues.get("help").record_calls
    with pytest.raises(InvalidPayload):
        from_document({**RECORDED, "record_calls": "yes"})

    agent, visitor = await floor.agent("alice"), await floor.widget()
    ix = await floor.connected(agent, visitor, queue="recorded")
    await agent.refused("call.propose", {"interaction": ix, "media": "audio",
                                         "record_consent": True}, "invalid_payload")
    call = (await agent.ok("call.propose", {"interaction": ix, "media": "audio"}))["call"]
    assert (await visitor.expect("call.proposed", call=call))["record"] is True
    consent = {"call": call, "accept": True}  # the queue records, the visitor says no
    assert (await visitor.ok("call.consent", consent))["record"] is False
    assert (await agent.expect("call.accepted", call=call))["record"] is False
    loopback = "candidate:1 1 udp 1 127.0.0.1 5000 typ host"
    await agent.ok("call.signal", ice(call, loopback))
    await agent.ok("call.hangup", {"call": call})

    call = await floor.accepted_call(agent, visitor, ix, media="audio", record_consent=True)
    assert (await visitor.expect("call.accepted", call=call))["record"] is True
    # Recorded media ends at the server's peer, which cannot reach the visitor's loopback.
    assert (await visitor.refused("call.signal", ice(call, loopback),
                                  "invalid_candidate"))["reason"] == "address"


async def test_a_call_outlives_a_reconnect_but_not_a_side_gone_for_good(
        floor: CallFloor, redis: aioredis.Redis) -> None:
    agent, visitor = await floor.agent("alice"), await floor.widget()
    ix = await floor.connected(agent, visitor)
    call = await floor.accepted_call(agent, visitor, ix)
    calls, left = CallService(redis), asyncio.Event()

    async def seen_leaving(state: SocketState) -> None:  # runs after the call's own hook
        left.set()
    floor.sockets.on_leave(VISITOR_NS, seen_leaving)
    assert await calls.left("visitor", floor.visitor_ids["visitor"], "another-tab") == []
    await visitor.client.disconnect()
    await asyncio.wait_for(left.wait(), WAIT)
    away = await calls.get(call)
    since = away.away["visitor"]  # only the socket that carried the call counts
    assert away.stale(since + AWAY_LIMIT_MS - 1) == "" and away.stale(since + AWAY_LIMIT_MS)

    back = await floor.widget("back", token=visitor.token)  # type: ignore[attr-defined]
    assert back.hello["active"]["interaction"] == ix  # type: ignore[attr-defined]
    await back.ok("call.signal", {"call": call, "kind": "restart"})
    await agent.expect("call.signal", call=call, kind="restart")
    assert (await calls.get(call)).away == {}

    # The agent's console went away a minute ago and never came back.
    await redis.hset(CallKeys().call(call), "away_agent", str(calls.now_ms() - AWAY_LIMIT_MS))
    restart = {"call": call, "kind": "restart"}
    assert (await back.refused("call.signal", restart, "call_ended"))["reason"] == "timeout"
    for peer in (agent, back):
        assert (await peer.expect("call.ended", call=call))["reason"] == "timeout"


async def test_visitor_ice_servers_carry_turn_credentials_for_the_visitor(
        floor: CallFloor) -> None:
    issued = await floor.token()
    async with aiohttp.ClientSession() as http:
        response = await http.get(f"{floor.url}/api/visitor/ice-servers",
                                  headers={"Authorization": f"Bearer {issued['token']}"})
        assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
        stun, turn = (await response.json())["ice_servers"]
        assert stun == {"urls": ["stun:stun.example.test:3478"]}
        assert turn["urls"] == ["turn:turn.example.test:3478?transport=udp"]
        expiry = int(turn["username"].split(":", 1)[0])  # the visitor is the TURN user
        assert [turn["username"], turn["credential"]] == list(turn_credentials(
            "turn-test-secret", issued["visitor_id"], now=expiry - 3600, ttl=3600))
        for headers in ({}, {"Authorization": "Bearer nonsense"}):
            response = await http.get(f"{floor.url}/api/visitor/ice-servers", headers=headers)
            assert response.status == 401 and (await response.json())["code"] == "unauthenticated"


async def test_the_visitor_knows_before_proposing_whether_the_queue_records(
        floor: CallFloor) -> None:
    agent = await floor.agent("alice")
    plain, recorded = await floor.widget("plain"), await floor.widget("recorded")
    ix_plain = await floor.connected(agent, plain)
    ix = await floor.connected(agent, recorded, queue="recorded")
    for peer, asked, records in ((plain, ix_plain, False), (recorded, ix, True)):
        status = await peer.ok("contact.status", {"interaction": asked})
        assert (status["state"], status["record_calls"]) == ("connected", records)
    back = await floor.widget("back", token=recorded.token)  # type: ignore[attr-defined]
    assert back.hello["active"]["record_calls"] is True  # type: ignore[attr-defined]

    # Knowing it, the widget offers the consent box with the visitor's own proposal.
    proposed = await back.ok("call.propose", {"interaction": ix, "media": "audio",
                                              "record_consent": True})
    assert proposed["record"] is True
    assert (await agent.expect("call.proposed", call=proposed["call"]))["record"] is True
    accepted = await agent.ok("call.consent", {"call": proposed["call"], "accept": True})
    assert (accepted["state"], accepted["record"]) == ("accepted", True)
    await back.ok("call.hangup", {"call": proposed["call"]})
    await agent.expect("call.ended", call=proposed["call"])
