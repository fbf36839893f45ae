"""The client processes of ``bench.recorded_calls``: both sides of recorded calls (real sockets,
real aiortc peers sending marked Opus packets), peer-to-peer pairs alongside, and the bare
aiortc reference."""

from __future__ import annotations

import asyncio
import fractions
import math
import struct
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import av
import numpy as np
import socketio
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection
from aiortc import RTCSessionDescription as Description
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from bench.engage_node import PASSWORD, SITE_KEY, die_with_parent

ORIGIN = "https://www.shanghai-homes.test"
PAGE = {"url": ORIGIN + "/", "title": "Shanghai Homes", "referrer": ""}
NO_ICE = RTCConfiguration(iceServers=[])
TIMEOUT = 30.0
MARK = b"\xfb\x41\x0c\xff\xfe"  # code 3, 1 frame, 12 bytes padding; frame = CELT silence
MARKED_SIZE = len(MARK) + 12
RATE = 48_000
TIME_BASE = fractions.Fraction(1, RATE)
Samples = list[tuple[float, float]]  # (received at, one-way latency ms)


class Marked(MediaStreamTrack):
    """20 ms Opus packets, paced in real time, each carrying its send time."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.seq = 0
        self.started: float | None = None

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]
        now = time.monotonic()
        if self.started is None:
            self.started = now
        elif (wait := self.started + self.seq * 0.02 - now) > 0:
            await asyncio.sleep(wait)
        packet = av.Packet(MARK + struct.pack("<qI", time.monotonic_ns(), self.seq))
        packet.pts, packet.time_base = self.seq * 960, TIME_BASE
        self.seq += 1
        return packet


def listen(pc: RTCPeerConnection, samples: Samples) -> None:
    """Read marked packets where they arrive, before aiortc's jitter buffer and decoder."""
    async def arrived(packet: RtpPacket, arrival_time_ms: int) -> None:
        payload = packet.payload
        if len(payload) == MARKED_SIZE and payload.startswith(MARK):
            now = time.monotonic_ns()
            samples.append((now / 1e9, (now - struct.unpack_from("<q", payload, 5)[0]) / 1e6))
    setattr(pc.getTransceivers()[0].receiver, "_handle_rtp_packet", arrived)  # noqa: B010


def peer(samples: Samples) -> RTCPeerConnection:
    pc = RTCPeerConnection(NO_ICE)
    pc.addTrack(Marked())
    listen(pc, samples)
    return pc


async def connected(pc: RTCPeerConnection) -> None:
    while pc.connectionState != "connected":
        if pc.connectionState in ("failed", "closed"):
            raise RuntimeError(f"peer connection {pc.connectionState}")
        changed = asyncio.Event()
        pc.once("connectionstatechange", changed.set)
        await asyncio.wait_for(changed.wait(), TIMEOUT)


# -- client processes ------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    url: str
    worker: int
    calls: int

    @property
    def queue(self) -> str:
        return f"rec{self.worker}"

    @property
    def agents(self) -> list[str]:
        return [f"rec{self.worker}a{i}" for i in range(math.ceil(self.calls / 3))]


class Worker:
    """Both sides of ``plan.calls`` calls; commands from the bench over a pipe."""

    def __init__(self, plan: Plan, conn: Any) -> None:
        self.plan, self.conn = plan, conn
        self.samples: dict[str, Samples] = {"relay": [], "direct": []}
        self.pcs: list[RTCPeerConnection] = []
        self.sockets: list[socketio.AsyncClient] = []
        self.waiting: dict[tuple[str, ...], asyncio.Future[dict[str, Any]]] = {}
        self.agents: list[socketio.AsyncClient] = []
        self.calls: list[tuple[socketio.AsyncClient, str]] = []
        self.http: aiohttp.ClientSession | None = None
        self.taken: dict[str, socketio.AsyncClient] = {}
        self.tasks: set[asyncio.Future[Any]] = set()

    def future(self, *key: str) -> asyncio.Future[dict[str, Any]]:
        return self.waiting.setdefault(key, asyncio.get_running_loop().create_future())

    def arrived(self, key: tuple[str, ...], data: dict[str, Any]) -> None:
        self.future(*key).done() or self.future(*key).set_result(data)

    async def call(self, sio: socketio.AsyncClient, ns: str, event: str,
                   data: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = await sio.call(event, data, namespace=ns, timeout=TIMEOUT)
        if not reply.get("ok"):
            raise RuntimeError(f"{event}: {reply}")
        return reply

    async def agent(self, http: aiohttp.ClientSession, name: str) -> socketio.AsyncClient:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as web:
            (await web.post(f"{self.plan.url}/login", json={
                "username": name, "password": PASSWORD})).raise_for_status()
            token = (await (await web.post(f"{self.plan.url}/api/socket-token")).json())["token"]
        sio = socketio.AsyncClient(reconnection=False, http_session=http, handle_sigint=False)
        def offered(data: dict[str, Any]) -> None:
            self.taken[data["interaction"]] = sio
            task = asyncio.ensure_future(self.call(sio, "/agent", "acd.accept",
                                                   {"interaction": data["interaction"]}))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        sio.on("offer", offered, namespace="/agent")
        sio.on("call.signal", lambda d: self.arrived((d["call"], "agent", d["kind"]), d),
               namespace="/agent")
        await sio.connect(self.plan.url, namespaces=["/agent"], auth={"token": token},
                          transports=["websocket"], wait_timeout=TIMEOUT)
        await self.call(sio, "/agent", "acd.state", {"state": "available"})
        return sio

    async def relayed_call(self, http: aiohttp.ClientSession, n: int) -> None:
        url = self.plan.url
        async with http.post(f"{url}/api/visitor/token", json={"site_key": SITE_KEY},
                             headers={"Origin": ORIGIN}) as response:
            token = (await response.json())["token"]
        visitor = socketio.AsyncClient(reconnection=False, http_session=http,
                                       handle_sigint=False)
        for event in ("connected", "call.proposed", "call.signal"):
            visitor.on(event, lambda d, e=event: self.arrived(
                (e, d.get("call") or d["interaction"], d.get("kind", "")), d),
                namespace="/visitor")
        self.sockets.append(visitor)
        await visitor.connect(url, namespaces=["/visitor"], auth={"token": token},
                              headers={"Origin": ORIGIN}, transports=["websocket"],
                              wait_timeout=TIMEOUT)
        await self.call(visitor, "/visitor", "visit.hello", {"page": PAGE})
        ix = (await self.call(visitor, "/visitor", "contact.request",
                              {"channel": "chat", "queue": self.plan.queue}))["interaction"]
        await asyncio.wait_for(self.future("connected", ix, ""), TIMEOUT)
        agent = self.taken[ix]  # the agent the ACD gave it to
        call = (await self.call(agent, "/agent", "call.propose",
                                {"interaction": ix, "media": "audio"}))["call"]
        await asyncio.wait_for(self.future("call.proposed", call, ""), TIMEOUT)
        await self.call(visitor, "/visitor", "call.consent",
                        {"call": call, "accept": True, "record_consent": True})
        for sio, ns, side in ((agent, "/agent", "agent"), (visitor, "/visitor", "visitor")):
            pc = peer(self.samples["relay"])
            self.pcs.append(pc)
            await pc.setLocalDescription(await pc.createOffer())
            await self.call(sio, ns, "call.signal", {"call": call, "kind": "offer",
                                                     "sdp": pc.localDescription.sdp})
            key = (call, "agent", "answer") if side == "agent" else \
                ("call.signal", call, "answer")
            answer = await asyncio.wait_for(self.future(*key), TIMEOUT)
            await pc.setRemoteDescription(Description(answer["sdp"], "answer"))
            await connected(pc)
        self.calls.append((agent, call))

    async def relay(self) -> None:
        """Set up the recorded calls, and as many peer-to-peer pairs to compare with: both
        kinds then run at once, under the same load."""
        await self.direct()
        # The sockets' session lives as long as they do (closed in close()).
        self.http = http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.agents = list(await asyncio.gather(*(self.agent(http, name)
                                                  for name in self.plan.agents)))
        self.sockets += self.agents
        gate = asyncio.Semaphore(4)

        async def one(n: int) -> None:
            async with gate:
                await self.relayed_call(http, n)
        await asyncio.gather(*(one(n) for n in range(self.plan.calls)))

    async def hangup(self) -> None:
        for agent, call in self.calls:
            await self.call(agent, "/agent", "call.hangup", {"call": call})
        await self.close()

    async def direct(self) -> None:
        for _ in range(self.plan.calls):
            a, b = peer(self.samples["direct"]), peer(self.samples["direct"])
            self.pcs += [a, b]
            await a.setLocalDescription(await a.createOffer())
            await b.setRemoteDescription(a.localDescription)
            await b.setLocalDescription(await b.createAnswer())
            await a.setRemoteDescription(b.localDescription)
            await connected(a)

    async def close(self) -> None:
        for pc in self.pcs:
            await pc.close()
        for sio in self.sockets:
            await sio.disconnect()
        if self.http is not None:
            await self.http.close()
        self.pcs, self.sockets, self.http = [], [], None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, self.conn.recv)
            try:
                reply: Any = "ok"
                if command == "samples":
                    reply = {path: list(got) for path, got in self.samples.items()}
                    for got in self.samples.values():
                        got.clear()
                elif command == "stop":
                    await self.close()
                    self.conn.send("ok")
                    return
                else:
                    await getattr(self, command)()
            except Exception as exc:
                reply = f"error: {exc!r}"
            self.conn.send(reply)


def worker_main(plan: Plan, conn: Any) -> None:
    die_with_parent()
    asyncio.run(Worker(plan, conn).run())


def reference_main(pairs: int, conn: Any) -> None:
    """Bare aiortc loopback pairs, a tone each way through aiortc's Opus codec."""
    die_with_parent()

    async def run() -> None:
        pcs, drains = [], set()
        for _ in range(pairs):
            a, b = RTCPeerConnection(NO_ICE), RTCPeerConnection(NO_ICE)
            for pc in (a, b):
                pc.addTrack(Tone())
                pc.on("track", lambda track: drains.add(asyncio.ensure_future(drain(track))))
            pcs += [a, b]
            await a.setLocalDescription(await a.createOffer())
            await b.setRemoteDescription(a.localDescription)
            await b.setLocalDescription(await b.createAnswer())
            await a.setRemoteDescription(b.localDescription)
            await connected(a)
        conn.send("ready")
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        for pc in pcs:
            await pc.close()

    async def drain(track: MediaStreamTrack) -> None:
        try:
            while True:
                await track.recv()  # decoded, as a server peer that mixes would need
        except MediaStreamError:
            pass  # closed
    asyncio.run(run())




class Tone(MediaStreamTrack):
    """A 440 Hz tone in 20 ms frames at 48 kHz, paced in real time (aiortc encodes it)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self.started: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self.started is None:
            self.started = now
        elif (wait := self.started + self.sent * 0.02 - now) > 0:
            await asyncio.sleep(wait)
        pts = self.sent * 960
        t = (np.arange(960) + pts) / RATE
        pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.pts, frame.sample_rate, frame.time_base = pts, RATE, TIME_BASE
        self.sent += 1
        return frame
