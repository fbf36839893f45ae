"""Recorded calls: real aiortc browsers offer to engage's own peer, which relays and records."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import pytest
import redis.asyncio as aioredis
from aiortc import MediaStreamTrack, RTCPeerConnection, VideoStreamTrack
from aiortc import RTCSessionDescription as Description

from engage.app import RECORDERS
from engage.calls.service import AWAY_LIMIT_MS, CallService
from engage.infra.embedded import EmbeddedRedis
from engage.keys import CallKeys
from tests.call_peers import (
    NO_ICE_SERVERS,
    CallFloor,
    ServerLeg,
    Tone,
    call_history,
    open_floor,
    settled,
)
from tests.conftest import login
from tests.socket_peers import WAIT

AGENT_HZ, VISITOR_HZ = 440.0, 660.0
BLOCK = 960  # one 20 ms Opus frame at 48 kHz


@pytest.fixture
async def floor(redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
                redis: aioredis.Redis, aiohttp_server: Any) -> AsyncIterator[CallFloor]:
    async with open_floor(redis_server.url, mongo_url, db_name, tmp_path,
                          aiohttp_server) as floor:
        yield floor


async def recorded_call(floor: CallFloor, frames: int, trickle: bool = False,
                        visitor_floor: CallFloor | None = None, together: bool = False
                        ) -> tuple[str, str, dict[str, Any]]:
    """A recorded call in which each side sends ``frames`` tone frames through the server,
    hung up by the visitor once each side got all of the other's; (interaction, call,
    recording). The agent offers first, so the agent's node records; ``together``: both
    sides offer at once, as browsers do."""
    agent, visitor = await floor.agent("alice"), await (visitor_floor or floor).widget()
    ix = await floor.connected(agent, visitor, queue="recorded")
    call = await floor.accepted_call(agent, visitor, ix, media="audio", record_consent=True)
    start = asyncio.Event()
    legs = [ServerLeg(agent, call, Tone(AGENT_HZ, frames, start)),
            ServerLeg(visitor, call, Tone(VISITOR_HZ, frames, start))]
    try:
        both = asyncio.gather(*(settled(leg.pc) for leg in legs))
        if together:
            await asyncio.gather(legs[0].offer(), legs[1].offer(trickle=trickle))
        else:
            await legs[0].offer()
            await legs[1].offer(trickle=trickle)
        assert await asyncio.wait_for(both, WAIT) == ["connected", "connected"]
        # The server's silence reaching a side means its peer for that side is wired up.
        for leg in legs:
            await leg.until(lambda leg=leg: leg.packets > 0)  # type: ignore[misc]
        start.set()
        for leg in legs:
            await leg.until(lambda leg=leg: leg.relayed >= frames)  # type: ignore[misc]
            assert await leg.audible()
        assert [leg.relayed for leg in legs] == [frames, frames]
    finally:
        for leg in legs:
            await leg.pc.close()
    await visitor.ok("call.hangup", {"call": call})
    for peer in (agent, visitor):
        assert (await peer.expect("call.ended", call=call))["reason"] == "hangup"
    await asyncio.wait_for(floor.app[RECORDERS].wait_finished(call), WAIT)
    docs = [doc async for doc in floor.services.backends.db.recordings.find({"call": call})]
    assert len(docs) == 1
    return ix, call, docs[0]


def blocks(channel: np.ndarray) -> np.ndarray:
    """Which 20 ms blocks of a channel carry sound."""
    return np.abs(channel[: len(channel) // BLOCK * BLOCK].reshape(-1, BLOCK)).max(axis=1) > 0.02


def dominant_hz(channel: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(channel))
    return float(np.fft.rfftfreq(len(channel), 1 / 48_000)[spectrum.argmax()])


async def test_a_recorded_call_goes_through_the_server_and_both_sides_are_recorded(
        floor: CallFloor) -> None:
    frames = 100  # 2 s of tone from each side
    ix, _, doc = await recorded_call(floor, frames, trickle=True)
    assert doc["state"] == "complete" and doc["interaction"] == ix
    assert (doc["queue"], doc["agent"], doc["media"]) == ("recorded", "alice", "audio")
    assert doc["visitor"] == floor.visitor_ids["visitor"]
    assert doc["content_type"] == "audio/ogg" and doc["path"].endswith(".ogg")
    assert doc["ended_ms"] >= doc["started_ms"] and doc["expires_at"] > datetime.now(UTC)
    path = floor.services.recordings.root / doc["path"]
    assert doc["size"] == path.stat().st_size > 0

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus" and stream.codec_context.channels == 2
        pcm = np.concatenate([f.to_ndarray() for f in container.decode(stream)], axis=1)
    left, right = blocks(pcm[0]), blocks(pcm[1])
    # Each channel holds one side's frames, give or take the codec's edge (one frame each
    # side of a burst); the file lasts until the later side's last frame.
    assert abs(int(left.sum()) - frames) <= 2 and abs(int(right.sum()) - frames) <= 2
    onsets = [int(np.argmax(left)), int(np.argmax(right))]
    assert min(onsets) <= 1
    assert abs(pcm.shape[1] // BLOCK - (max(onsets) + frames)) <= 1
    assert doc["duration_ms"] == pcm.shape[1] // 48
    assert abs(dominant_hz(pcm[0]) - AGENT_HZ) < 5 and abs(dominant_hz(pcm[1]) - VISITOR_HZ) < 5

    history = await call_history(floor, ix)
    recorded = [d for d in history if d["event"] == "recorded"]
    assert len(recorded) == 1 and recorded[0]["recording"] == doc["_id"]
    assert recorded[0]["duration_ms"] == str(doc["duration_ms"])
    assert {"signal.offer", "signal.ice", "ended"} <= {d["event"] for d in history}


async def test_recordings_reach_supervisors_and_the_calls_agent_and_expire(
        floor: CallFloor) -> None:
    ix, _, doc = await recorded_call(floor, frames=25, together=True)
    assert doc["state"] == "complete" and doc["size"] > 0
    rec = doc["_id"]
    url = floor.url

    async def get(username: str | None, path: str) -> aiohttp.ClientResponse:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            if username:
                assert (await login(http, url, username)).status == 200
            response = await http.get(url + path)
            await response.read()
            return response

    for reader in ("supervisor", "admin", "alice"):
        response = await get(reader, f"/api/recordings/{rec}")
        assert response.status == 200, reader
        assert response.headers["Content-Type"] == "audio/ogg"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert int(response.headers["Content-Length"]) == doc["size"]
    for path in (f"/api/recordings/{rec}", "/api/recordings/rec_unknown0001",
                 "/api/recordings/..%2Fsecret_key"):
        response = await get("bob", path)  # another agent: as if it did not exist
        assert response.status == 404 and response.content_type == "application/json"
    assert (await get(None, f"/api/recordings/{rec}")).status == 401

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, url, "supervisor")
        listed = await (await http.get(f"{url}/api/interactions/{ix}/recordings")).json()
    assert [item["id"] for item in listed["recordings"]] == [rec]
    assert listed["recordings"][0]["duration_ms"] == doc["duration_ms"]
    assert "path" not in listed["recordings"][0]
    assert (await get("alice", f"/api/interactions/{ix}/recordings")).status == 403

    store = floor.services.recordings
    path = store.root / doc["path"]
    assert await store.expire() == 0 and path.is_file()
    # A whole document: nx-27017 stores a datetime given to $set as text.
    expired = {**doc, "expires_at": datetime.now(UTC) - timedelta(seconds=5)}
    await floor.services.backends.db.recordings.replace_one({"_id": rec}, expired)
    assert (await get("supervisor", f"/api/recordings/{rec}")).status == 404
    assert await store.expire() == 1
    assert not path.exists() and await store.for_interaction(ix) == []


async def test_without_the_visitors_consent_the_call_stays_peer_to_peer(
        floor: CallFloor) -> None:
    agent, visitor = await floor.agent("alice"), await floor.widget()
    ix = await floor.connected(agent, visitor, queue="recorded")
    call = await floor.accepted_call(agent, visitor, ix, media="audio")
    pc = RTCPeerConnection(NO_ICE_SERVERS)
    try:
        pc.addTrack(Tone())
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"call": call, "kind": "offer", "sdp": pc.localDescription.sdp}
    finally:
        await pc.close()
    await agent.ok("call.signal", offer)
    relayed = await visitor.expect("call.signal", call=call, kind="offer")
    assert relayed["from"] == "agent" and relayed["sdp"] == offer["sdp"]
    await agent.ok("call.hangup", {"call": call})
    await visitor.expect("call.ended", call=call)
    assert floor.app[RECORDERS].local(call) is None
    assert await floor.services.backends.db.recordings.count_documents({"interaction": ix}) == 0
    assert not (floor.services.recordings.root).exists()
    assert not agent.inbox.seen("call.signal")


async def test_offers_the_server_cannot_take_are_refused_and_a_retry_connects(
        floor: CallFloor) -> None:
    agent, visitor = await floor.agent("alice"), await floor.widget()
    ix = await floor.connected(agent, visitor, queue="recorded")
    call = await floor.accepted_call(agent, visitor, ix, media="audio", record_consent=True)
    leg = ServerLeg(agent, call, Tone())
    try:
        await leg.pc.setLocalDescription(await leg.pc.createOffer())
        good = leg.pc.localDescription.sdp
        host = next(line for line in good.split("\r\n") if line.startswith("a=candidate:"))
        fields = host.split(" ")
        loopback = good.replace(host, " ".join([*fields[:4], "127.0.0.1", *fields[5:]]))
        no_opus = good.replace("opus/48000/2", "speex/48000")
        keep = [line for line in good.split("\r\n")
                if line.startswith(("a=fingerprint:", "a=ice-ufrag:", "a=ice-pwd:"))]
        data = good + "\r\n".join(["m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
                                    "a=mid:9", "a=sctp-port:5000", *keep, ""])
        for sdp, reason in (("", "empty"), (loopback, "bad_candidate"),
                            (no_opus, "unsupported_codec"), (data, "unsupported_media")):
            refused = await agent.refused("call.signal", {"call": call, "kind": "offer",
                                                          "sdp": sdp}, "invalid_sdp")
            assert refused["reason"] == reason, refused
        await agent.refused("call.signal", {"call": call, "kind": "answer", "sdp": good},
                            "invalid_payload")
        assert floor.app[RECORDERS].local(call) is None  # nothing started for them
        await agent.ok("call.signal", {"call": call, "kind": "offer", "sdp": good})
        answer = await agent.expect("call.signal", call=call, kind="answer")
        assert answer["from"] == "server" and not visitor.inbox.seen("call.signal")
        connected = settled(leg.pc)
        await leg.pc.setRemoteDescription(Description(answer["sdp"], "answer"))
        assert await asyncio.wait_for(connected, WAIT) == "connected"
        await leg.until(lambda: leg.packets > 0)  # the server's silence: no one else yet
        assert leg.relayed == 0
    finally:
        await leg.pc.close()
    await visitor.ok("call.hangup", {"call": call})
    await agent.expect("call.ended", call=call)
    outcomes = {doc["outcome"] for doc in await call_history(floor, ix)}
    assert {"ok", "invalid_sdp", "invalid_payload"} <= outcomes


async def test_with_two_nodes_the_node_of_the_first_offer_records_the_call(
        floor: CallFloor, redis_server: EmbeddedRedis, mongo_url: str, db_name: str,
        tmp_path: Path, aiohttp_server: Any) -> None:
    # Node B shares Redis, MongoDB and the data dir; the visitor's socket is there, the
    # agent's on node A: the visitor's signals go to A's peer over the event bus.
    async with open_floor(redis_server.url, mongo_url, db_name, tmp_path, aiohttp_server,
                          seed=False, ENGAGE_NODE_ID="node-b") as node_b:
        ix, call, doc = await recorded_call(floor, frames=25, visitor_floor=node_b)
        assert node_b.app[RECORDERS].local(call) is None
        assert doc["node"] == floor.services.settings.node_id != "node-b"
        assert doc["state"] == "complete" and doc["duration_ms"] >= 25 * 20
        history = await call_history(floor, ix)
        assert [d["actor"] for d in history if d["event"] == "signal.offer"] == [
            "agent", "visitor"]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await login(http, node_b.url, "supervisor")
            response = await http.get(f"{node_b.url}/api/recordings/{doc['_id']}")
            assert response.status == 200 and len(await response.read()) == doc["size"]


async def test_a_recorded_video_call_relays_both_pictures_and_records_them_in_webm(
        floor: CallFloor) -> None:
    agent, visitor = await floor.agent("alice"), await floor.widget()
    ix = await floor.connected(agent, visitor, queue="recorded")
    call = await floor.accepted_call(agent, visitor, ix, media="video", record_consent=True)
    legs = [ServerLeg(agent, call, Tone(AGENT_HZ)), ServerLeg(visitor, call, Tone(VISITOR_HZ))]
    pictures: list[asyncio.Future[MediaStreamTrack]] = []
    try:
        for leg in legs:
            leg.pc.addTrack(VideoStreamTrack())
            seen: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
            leg.pc.on("track", lambda track, seen=seen: track.kind == "video"
                      and not seen.done() and seen.set_result(track))
            pictures.append(seen)
            await leg.offer()
        for seen in pictures:
            track = await asyncio.wait_for(seen, WAIT)
            # The other side's green test picture, not the server's black (Y=16): relayed.
            for _ in range(100):
                frame = await asyncio.wait_for(track.recv(), WAIT)
                assert isinstance(frame, av.VideoFrame)
                if frame.to_ndarray(format="rgb24")[..., 1].mean() > 100:
                    break
            assert frame.to_ndarray(format="rgb24")[..., 1].mean() > 100
            assert (frame.width, frame.height) == (640, 480)
    finally:
        for leg in legs:
            await leg.pc.close()
    await agent.ok("call.hangup", {"call": call})
    await visitor.expect("call.ended", call=call)
    doc = await floor.services.backends.db.recordings.find_one({"call": call})
    assert doc is not None and doc["content_type"] == "video/webm"
    with av.open(str(floor.services.recordings.root / doc["path"])) as container:
        kinds = [(s.type, s.codec_context.name) for s in container.streams]
        assert kinds == [("audio", "opus"), ("video", "vp8"), ("video", "vp8")]
        video = container.streams.video
        assert [s.metadata.get("title") for s in video] == ["agent", "visitor"]
        assert [(s.codec_context.width, s.codec_context.height) for s in video] == [
            (640, 480), (640, 480)]
        counts = {1: 0, 2: 0}
        for packet in container.demux(*container.streams.video):
            counts[packet.stream.index] += len(packet.decode())
        assert counts[1] > 0 and counts[2] > 0


async def test_recordings_stop_on_the_calls_timeout_and_when_the_conversation_ends(
        floor: CallFloor, redis: aioredis.Redis) -> None:
    agent, visitor = await floor.agent("alice"), await floor.widget()
    ix = await floor.connected(agent, visitor, queue="recorded")
    recorders = floor.app[RECORDERS]
    for ending in ("timeout", "interaction_ended"):
        call = await floor.accepted_call(agent, visitor, ix, media="audio", record_consent=True)
        leg = ServerLeg(agent, call, Tone())
        try:
            await leg.offer()
            await leg.until(lambda leg=leg: leg.packets > 0)  # type: ignore[misc]
            assert recorders.local(call) is not None
            if ending == "timeout":  # the visitor's widget left a minute ago, never back
                await redis.hset(CallKeys().call(call), "away_visitor",
                                 str(CallService(redis).now_ms() - AWAY_LIMIT_MS))
                await agent.refused("call.signal", {"call": call, "kind": "restart"},
                                    "call_ended")
            else:
                await agent.ok("acd.complete", {"interaction": ix})
            for peer in (agent, visitor):
                assert (await peer.expect("call.ended", call=call))["reason"] == ending
            await asyncio.wait_for(recorders.wait_finished(call), WAIT)
            assert recorders.local(call) is None
            doc = await floor.services.backends.db.recordings.find_one({"call": call})
            assert doc is not None and doc["state"] == "complete"
        finally:
            await leg.pc.close()


@pytest.mark.timeout(360)  # its own guard is 300 s
async def test_the_benchs_quick_mode_runs_and_ends_with_its_result_line(
        project_root: Path) -> None:
    bench = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.recorded_calls", "--quick", cwd=project_root,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(bench.communicate(), 300)  # a hang guard, not a limit
    lines = out.decode().strip().splitlines()
    assert bench.returncode == 0, lines[-20:]
    keys, values = zip(*(item.split("=") for item in lines[-1].split()[1:]), strict=True)
    assert lines[-1].startswith("RESULT ") and keys[:3] == (
        "calls_per_core", "added_latency_p99_ms", "reference_calls_per_core")
    result = dict(zip(keys, map(float, values), strict=True))
    assert result["calls"] == result["recordings_complete"] == 4


async def test_renegotiation_and_a_fresh_peer_connection_keep_the_call_going(
        floor: CallFloor) -> None:
    agent, visitor = await floor.agent("alice"), await floor.widget()
    ix = await floor.connected(agent, visitor, queue="recorded")
    call = await floor.accepted_call(agent, visitor, ix, media="audio", record_consent=True)
    legs = [ServerLeg(agent, call, Tone(AGENT_HZ)), ServerLeg(visitor, call, Tone(VISITOR_HZ))]
    fresh = ServerLeg(visitor, call, Tone(VISITOR_HZ))
    try:
        for leg in legs:
            await leg.offer()
        for leg in legs:
            await leg.until(lambda leg=leg: leg.relayed > 0)  # type: ignore[misc]
        # Audio to video on the same connection: a new offer, answered with video at once
        # (the server's black frames: the visitor sends none).
        await agent.ok("call.media", {"call": call, "media": "video"})
        picture: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
        legs[0].pc.on("track", lambda t: t.kind == "video" and not picture.done()
                      and picture.set_result(t))
        legs[0].pc.addTrack(VideoStreamTrack())
        await legs[0].offer()
        assert "m=video" in legs[0].pc.remoteDescription.sdp
        frame = await asyncio.wait_for((await asyncio.wait_for(picture, WAIT)).recv(), WAIT)
        assert isinstance(frame, av.VideoFrame)
        # The visitor's widget starts over with a new RTCPeerConnection (new ICE session):
        # the server answers from a new peer and relays to it.
        await legs[1].pc.close()
        await fresh.offer()
        before = fresh.relayed
        await fresh.until(lambda: fresh.relayed > before + 5)
    finally:
        for leg in [*legs, fresh]:
            await leg.pc.close()
    await agent.ok("call.hangup", {"call": call})
    doc = await floor.services.backends.db.recordings.find_one({"call": call})
    assert doc is not None and doc["content_type"] == "audio/ogg"  # video came later
