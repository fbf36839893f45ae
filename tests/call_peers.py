"""Call test peers: a floor of agents and widgets on a live node, and real aiortc browsers."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc import RTCConfiguration as Config
from aiortc import RTCSessionDescription as Description
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from engage.app import SOCKETS
from engage.models import Role
from engage.services import Services
from signaling.recording.opus import SILENCE
from signaling.server import EngageSocketServer
from tests.conftest import PASSWORD, SITE_KEY, SITE_ORIGIN
from tests.integration.test_widget_sockets import WidgetFloor
from tests.socket_peers import WAIT, Peer, live_floor

HELP = {"_id": "help", "required_skills": {"help": 1}, "wrap_up_seconds": 30,
        "offer_timeout_seconds": 30, "max_wait_seconds": 600}
RECORDED = {**HELP, "_id": "recorded", "name": "Recorded line", "record_calls": True}
NO_ICE_SERVERS = Config(iceServers=[])  # host candidates only: no third party asked
RATE, FRAME_SAMPLES = 48_000, 960
FRAME_S = FRAME_SAMPLES / RATE


class CallFloor(WidgetFloor):
    """Agents and widgets of one node that can call each other."""

    @property
    def sockets(self) -> EngageSocketServer:
        return self.app[SOCKETS]

    async def connected(self, agent: Peer, visitor: Peer, queue: str = "help") -> str:
        ask = {"channel": "chat", "queue": queue}
        ix = str((await visitor.ok("contact.request", ask))["interaction"])
        await agent.take(ix)
        await visitor.expect("connected", interaction=ix)
        return ix

    async def accepted_call(self, agent: Peer, visitor: Peer, ix: str, media: str = "video",
                            record_consent: bool = False) -> str:
        call = str((await agent.ok("call.propose", {"interaction": ix, "media": media}))["call"])
        await visitor.expect("call.proposed", call=call)
        await visitor.ok("call.consent", {"call": call, "accept": True,
                                          "record_consent": record_consent})
        await agent.expect("call.accepted", call=call)
        return call


async def _seed(services: Services) -> None:
    for name in ("alice", "bob"):
        await services.staff.add(name, PASSWORD, Role.AGENT, skills={"help": 1})
    await services.staff.add("supervisor", PASSWORD, Role.SUPERVISOR)
    await services.staff.add("admin", PASSWORD, Role.ADMIN)
    await services.sites.save(SITE_KEY, "Test shop", [SITE_ORIGIN],
                              {"queue": "help", "queues": ["recorded"]})
    await services.queues.save(HELP)
    await services.queues.save(RECORDED)


def open_floor(redis_url: str, mongo_url: str, db_name: str, tmp_path: Path,
               aiohttp_server: Any, seed: bool = True, **env: str
               ) -> AbstractAsyncContextManager[CallFloor]:
    """A node with agents alice and bob, a supervisor, an admin, the help and recorded
    queues (``seed``: a second node of the same floor finds them); its database is dropped
    afterwards."""
    return live_floor(redis_url, mongo_url, db_name, tmp_path, aiohttp_server,
                      _seed if seed else None, CallFloor, **env)


async def call_history(floor: CallFloor, ix: str) -> list[dict[str, Any]]:
    """The interaction's call events, once the event log has drained into MongoDB."""
    await floor.services.eventlog.drain()
    return [doc async for doc in floor.services.backends.db.acd_events.find(
        {"kind": "call", "ix": ix})]


def ice(call: str, line: str) -> dict[str, Any]:
    return {"call": call, "kind": "ice", "candidate": {"candidate": line, "sdpMid": "0"}}


class Tone(MediaStreamTrack):
    """A sine tone in 20 ms frames at 48 kHz (one Opus packet each), paced in real time.

    With ``frames`` it sends that many and ends (the sender stops); with ``start`` it sends
    nothing before that event is set."""

    kind = "audio"

    def __init__(self, hz: float = 440.0, frames: int | None = None,
                 start: asyncio.Event | None = None) -> None:
        super().__init__()
        self.hz, self.frames, self.start = hz, frames, start
        self.sent = 0
        self._started_at: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.start is not None:
            await self.start.wait()
        if self.readyState != "live" or (self.frames is not None and self.sent >= self.frames):
            self.stop()
            raise MediaStreamError
        now = time.monotonic()
        if self._started_at is None:
            self._started_at = now
        elif (wait := self._started_at + self.sent * FRAME_S - now) > 0:
            await asyncio.sleep(wait)  # real-time pacing, as a microphone delivers
        pts = self.sent * FRAME_SAMPLES
        t = (np.arange(FRAME_SAMPLES) + pts) / RATE
        tone = (np.sin(2 * np.pi * self.hz * t) * 8000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        frame.pts, frame.sample_rate = pts, RATE
        frame.time_base = fractions.Fraction(1, RATE)
        self.sent += 1
        return frame


class ServerLeg:
    """One side's browser on a recorded call: it offers to the server, plays ``tone`` and
    counts the RTP packets the server sends it (relayed ones apart from the server's own
    silence)."""

    def __init__(self, peer: Peer, call: str, tone: Tone) -> None:
        self.peer, self.call, self.tone = peer, call, tone
        self.pc = RTCPeerConnection(NO_ICE_SERVERS)
        self.pc.addTrack(tone)
        self.packets = self.relayed = 0
        self.changed = asyncio.Event()
        self.heard: asyncio.Future[MediaStreamTrack] = \
            asyncio.get_running_loop().create_future()
        self.pc.on("track", lambda track: self.heard.done() or self.heard.set_result(track))
        receiver = self.pc.getTransceivers()[0].receiver
        decode = receiver._handle_rtp_packet

        async def counting(packet: RtpPacket, arrival_time_ms: int) -> None:
            self.packets += 1
            self.relayed += packet.payload != SILENCE
            self.changed.set()
            await decode(packet, arrival_time_ms)
        setattr(receiver, "_handle_rtp_packet", counting)  # noqa: B010

    async def until(self, condition: Callable[[], bool]) -> None:
        async def wait() -> None:
            while not condition():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(wait(), WAIT)

    async def offer(self, trickle: bool = False) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sdp, candidates = self.pc.localDescription.sdp, []
        if trickle:
            sdp, candidates = split_candidates(sdp)
        await self.peer.ok("call.signal", {"call": self.call, "kind": "offer", "sdp": sdp})
        for init in candidates:
            await self.peer.ok("call.signal", {"call": self.call, "kind": "ice",
                                               "candidate": init})
        if trickle:
            await self.peer.ok("call.signal", ice(self.call, ""))
        answer = await self.peer.expect("call.signal", call=self.call, kind="answer")
        assert answer["from"] == "server" and answer["interaction"]
        await self.pc.setRemoteDescription(Description(answer["sdp"], "answer"))

    async def audible(self) -> bool:
        """Whether the other side's tone decodes here (the first frames may be silence)."""
        track = await asyncio.wait_for(self.heard, WAIT)
        for _ in range(200):
            frame = await asyncio.wait_for(track.recv(), WAIT)
            assert isinstance(frame, av.AudioFrame)
            if np.abs(frame.to_ndarray()).max() > 0:
                return True
        return False


def split_candidates(sdp: str) -> tuple[str, list[dict[str, Any]]]:
    """The description without candidates, and its candidates as a browser trickles them."""
    kept, found, mid = [], [], ""
    for line in sdp.splitlines():
        mid = line[len("a=mid:"):] if line.startswith("a=mid:") else mid
        if line.startswith("a=candidate:"):
            found.append({"candidate": line[2:], "sdpMid": mid})
        elif line != "a=end-of-candidates":
            kept.append(line)
    return "\r\n".join(kept) + "\r\n", found


def settled(pc: RTCPeerConnection) -> asyncio.Future[str]:
    """The connection state once it is "connected" or "failed"."""
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def changed() -> None:
        if pc.connectionState in ("connected", "failed") and not done.done():
            done.set_result(pc.connectionState)
    pc.on("connectionstatechange", changed)
    return done
