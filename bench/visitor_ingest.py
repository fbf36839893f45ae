"""Visitor trail ingestion and chat round trips of one engage node under 2,000 live widgets,
against a bare python-socketio server in the same run.

Setup: a private redis-server and nx-27017 (children of this bench), seeded with a site, the
``help`` queue and ceil(chatting / 3) + 2 agents (routing.DEFAULT_CAPACITY: 3 chats each);
``engage serve`` runs as its own process with its default limits (20 events/s per socket,
burst 40: the load stays far below them) and ENGAGE_LOG_LEVEL=WARNING. Client processes
(multiprocessing, uvloop, websocket transport) hold the visitors: each takes a visitor token
from an allowed Origin, connects, sends ``visit.hello``, then acts like the widget's loader:
bursts of trail events (page views with leave events, clicks, form steps, a few struggle
signals, errors, heartbeats every 15 s; ``--rate`` 0.3 events per visitor per second by
default: a burst of ~2 events every ~8 s) flushed once a second as one ``visit.events``
batch, the next only after the previous ack (as the widget's TrailForwarder does). Every tenth
visitor asks for a chat (``contact.request``); one more process holds the agents, who accept
offers and answer every visitor message at once. During the ingest phase each chatting
visitor sends a message every 2 s; chat RTT = visitor ``chat.send`` -> agent gets
``chat.message`` -> agent ``chat.send`` -> visitor gets the reply ``chat.message``.

Ingestion: events acknowledged (sum of the acks' ``accepted``) per CPU second of the engage
process only (utime + stime from /proc/<pid>/stat; Redis and nx-27017 are separate processes,
their CPU shares are printed as ``redis_cpu_share`` and ``mongo_cpu_share``). The ingest
phase is cut into windows; the figure is the median of the windows' rates. A second engage
phase with the chats paused gives ``chats_paused_events_per_cpu_s`` (the trail alone), a
third with nothing sent ``idle_engage_cpu_share`` (the open sockets); ``chat_send_ack_*``
is the visitor's ``chat.send`` to its ack, the server's part of the round trip.

Reference (same run, after engage is stopped): a bare python-socketio aiohttp server (separate
process, uvloop like ``engage serve``, default JSON) whose ``visit.events`` handler only
returns an ack with ``accepted`` and whose ``chat.send`` relays to the other side's room. The
same visitors send the same events one per emit (a widget without batching): that is
``reference_events_per_cpu_s`` and ``ratio``. Then the same batches as engage gets:
``reference_batched_events_per_cpu_s``, for transparency; and one event per emit with the
chats paused: ``reference_chats_paused_events_per_cpu_s`` and ``chats_paused_ratio``.
``clients_cpu_share`` is the load generator's CPU (all client processes, in cores).

Run from the repository root: ``.venv/bin/python -m bench.visitor_ingest [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import socketio  # noqa: E402
import uvloop  # noqa: E402

from bench.engage_node import (  # noqa: E402
    PASSWORD,
    SITE_KEY,
    BenchNode,
    agent_name,
    cpu_seconds,
    die_with_parent,
    pct,
    stop_process,
    wait_http,
)
from engage.embedded import free_port  # noqa: E402
from engage.routing import DEFAULT_CAPACITY  # noqa: E402
from signaling.codec import OrjsonCodec  # noqa: E402

ORIGIN = "https://www.shanghai-homes.test"
CONNECT, RUN, STOP = 0, 1, 2
BATCHED, PER_EVENT = 0, 1
CALL_TIMEOUT = 30
CONNECT_LANES = 16  # concurrent connects per client process
CHATS_PER_AGENT = DEFAULT_CAPACITY.limits["chat"]

REFERENCE = """
import asyncio, sys, uvloop, socketio
from aiohttp import web
sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=[sys.argv[2]])
@sio.on("connect", namespace="/visitor")
async def visitor_connect(sid, environ, auth=None):
    if isinstance(auth, dict) and auth.get("interaction"):
        await sio.enter_room(sid, "ix:" + auth["interaction"], namespace="/visitor")
@sio.on("connect", namespace="/agent")
async def agent_connect(sid, environ, auth=None):
    for ix in (auth or {}).get("interactions", []):
        await sio.enter_room(sid, "agent:" + ix, namespace="/agent")
@sio.on("visit.hello", namespace="/visitor")
async def hello(sid, data):
    return {"ok": True, "visitor_id": sid, "visit": "vs_reference"}
@sio.on("visit.events", namespace="/visitor")
async def events(sid, data):
    return {"ok": True, "accepted": len(data["events"]), "score": 0}
@sio.on("chat.send", namespace="/visitor")
async def visitor_send(sid, data):
    await sio.emit("chat.message", {**data, "from": "visitor"}, room="agent:" + data["interaction"],
                   namespace="/agent")
    return {"ok": True}
@sio.on("chat.send", namespace="/agent")
async def agent_send(sid, data):
    await sio.emit("chat.message", {**data, "from": "agent"}, room="ix:" + data["interaction"],
                   namespace="/visitor")
    return {"ok": True}
async def main():
    app = web.Application(); sio.attach(app)
    runner = web.AppRunner(app, access_log=None); await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1])).start()
    await asyncio.Event().wait()
uvloop.run(main())
"""


# -- what a visitor does on the site ------------------------------------------------------
PAGES = (("/", "Shanghai Homes - find your next home"),
         ("/listings?district=pudong&rooms=3&utm_source=baidu&utm_medium=cpc",
          "Apartments in Pudong"),
         ("/listings?district=minhang&type=villa&page=2", "Villas in Minhang"),
         ("/listing/4412?ref=home", "3-room apartment, Lujiazui - 9,800,000 CNY"),
         ("/listing/8821?ref=search&session=8f3a9c2e41", "Villa, Minhang - 19,800,000 CNY"),
         ("/mortgage", "Mortgage application"),
         ("/checkout?step=1&token=s3cr3t9a7f", "Reserve a viewing"),
         ("/checkout?step=2&token=s3cr3t9a7f&coupon=SPRING10#/pay?card=4111111111111111",
          "Reserve a viewing - payment"),
         ("/services/renovation", "Renovation and greening"),
         ("/contact", "Contact us"))
REFERRERS = ("https://www.baidu.com/s?wd=shanghai+3+room+apartment", "https://www.google.com/",
             "https://m.weibo.cn/status/4951", "")
TARGETS = ("a.listing-card 3-room apartment, Lujiazui #listing-4412",
           "button#search Search listings", "button.filter Rooms: 3", "a.nav Mortgage",
           "button#book-viewing Book a viewing", "img.gallery-photo #photo-3",
           "button.next Next photo", "a.tel 400-820-8820", "button#crash-button Compare prices")
FIELDS = ("full_name", "id_number", "income", "term_years")
ERRORS = ("TypeError: Cannot read properties of undefined (reading 'price')",
          "ReferenceError: mapInit is not defined")
BURSTS = ("page", "click", "form", "signal", "error", "http_error", "conversion")
BURST_WEIGHTS = (30, 40, 18, 6, 3, 2, 1)
MEAN_BURST = 2.15  # events per burst for these weights (measured; used to hit --rate)


class Browsing:
    """One visitor's raw sensor output, a second at a time: bursts of activity between
    reading pauses, and a heartbeat every 15 s (web_widget/PROTOCOL.md section 3)."""

    def __init__(self, rng: random.Random, rate: float, origin: str) -> None:
        self.rng, self.origin = rng, origin
        self.p_burst = min(1.0, max(0.0, rate - 1 / 15) / MEAN_BURST)
        self.page = rng.randrange(len(PAGES))
        self.since = self.beat = int(time.time() * 1000)

    def url(self, page: int | None = None) -> str:
        return self.origin + PAGES[self.page if page is None else page][0]

    def page_info(self) -> dict[str, str]:
        return {"url": self.url(), "title": PAGES[self.page][1],
                "referrer": self.rng.choice(REFERRERS)}

    def tick(self, now: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if now - self.beat >= 15_000:
            self.beat = now
            events.append({"type": "heartbeat", "at": now, "url": self.url(),
                           "dwell_ms": max(0, now - self.since)})
        if self.rng.random() < self.p_burst:
            events += self.burst(now - self.rng.randrange(900))
        return events

    def clicks(self, at: int, n: int) -> list[dict[str, Any]]:
        rng = self.rng
        return [{"type": "click", "at": at + 150 * k, "url": self.url(),
                 "target": rng.choice(TARGETS), "x": rng.randrange(1280),
                 "y": rng.randrange(2400)} for k in range(n)]

    def burst(self, at: int) -> list[dict[str, Any]]:
        rng, url = self.rng, self.url()
        kind = rng.choices(BURSTS, BURST_WEIGHTS)[0]
        if kind == "page":
            left, self.page = url, rng.randrange(len(PAGES))
            events = [{"type": "leave", "at": at, "url": left,
                       "dwell_ms": max(0, at - self.since)},
                      {"type": "page", "at": at + 5, "url": self.url(),
                       "title": PAGES[self.page][1], "referrer": left,
                       "nav": rng.choice(("load", "push", "push", "pop"))}]
            self.since = at
            return events + self.clicks(at + 300, rng.randrange(2))
        if kind == "click":
            return self.clicks(at, rng.randint(1, 3))
        if kind == "form":
            steps = rng.sample(FIELDS, rng.randint(1, 3))
            events = [{"type": "form", "at": at + 200 * k, "url": url, "form": "mortgage",
                       "step": step, "action": "focus"} for k, step in enumerate(steps)]
            if rng.random() < 0.3:
                events.append({"type": "form", "at": at + 800, "url": url, "form": "mortgage",
                               "step": "submit", "action": rng.choice(("submit", "invalid"))})
            return events
        if kind == "signal":
            target = rng.choice(TARGETS)
            signal_kind = rng.choice(("rage_click", "dead_click", "form_idle", "form_thrash"))
            detail: dict[str, Any] = {
                "rage_click": {"count": rng.randint(3, 7), "span_ms": rng.randint(400, 900),
                               "radius_px": rng.randint(3, 20), "target": target},
                "dead_click": {"target": target, "wait_ms": rng.randint(2600, 5000)},
                "form_idle": {"form": "mortgage", "step": rng.choice(FIELDS),
                              "idle_ms": rng.randint(30_000, 90_000)},
                "form_thrash": {"form": "mortgage", "field": rng.choice(FIELDS), "cycles": 3},
            }[signal_kind]
            return [*self.clicks(at, 1), {"type": "signal", "at": at + 600, "url": url,
                                          "kind": signal_kind, **detail}]
        if kind == "error":
            return [{"type": "error", "at": at, "url": url, "message": rng.choice(ERRORS),
                     "source": self.origin + "/static/app.3f9a1c.js"}]
        if kind == "http_error":
            return [{"type": "http_error", "at": at, "url": self.origin + "/listing/9999",
                     "status": 404}]
        return [{"type": "conversion", "at": at, "url": url, "value": 500.0}]


@dataclass(frozen=True)
class Plan:
    """What one client process does (picklable: it crosses into a spawned process)."""

    kind: str  # "engage" or "reference"
    url: str
    visitors: int
    chatting: int
    agents: int
    rate: float  # trail events per visitor per second, on average
    chat_period: float

    def chat_index(self, g: int) -> int | None:
        stride = max(1, self.visitors // max(1, self.chatting))
        return g // stride if g % stride == 0 and g // stride < self.chatting else None


class Shared:
    """Counters the client processes write (one slot each) and the bench reads."""

    def __init__(self, ctx: Any, workers: int) -> None:
        self.phase = ctx.RawValue("i", CONNECT)
        self.mode = ctx.RawValue("i", BATCHED)
        self.chat_on = ctx.RawValue("i", 1)
        self.trail_on = ctx.RawValue("i", 1)
        self.ready = ctx.RawArray("q", workers + 1)  # last slot: the agents
        self.lost = ctx.RawArray("q", workers + 1)  # could not connect or start a chat
        self.accepted = ctx.RawArray("q", workers)
        self.batches = ctx.RawArray("q", workers)
        self.errors = ctx.RawArray("q", workers + 1)
        self.results = ctx.Queue()


def ix_of(chat: int) -> str:
    return f"ix{chat:010d}"  # the reference's interaction ids (engage makes its own)


def chat_text(cid: str, n: int) -> str:
    questions = ("Is the 3-room apartment in Lujiazui still available?",
                 "Can I book a viewing on Saturday morning?",
                 "What would the monthly payment be over 25 years?",
                 "Does the price include the parking space?")
    return f"{questions[n % len(questions)]} [{cid}]"


def client(http: aiohttp.ClientSession) -> socketio.AsyncClient:
    return socketio.AsyncClient(reconnection=False, http_session=http, json=OrjsonCodec,
                                handle_sigint=False)


def worker_start() -> None:
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the bench stops us


async def watch_phase(shared: Shared, running: asyncio.Event, stop: asyncio.Event) -> None:
    while shared.phase.value != STOP:
        if shared.phase.value == RUN:
            running.set()
        await asyncio.sleep(0.1)
    running.set()
    stop.set()


# -- visitors (one client process) --------------------------------------------------------
class VisitorLoad:
    def __init__(self, plan: Plan, shared: Shared, wid: int, indices: list[int]) -> None:
        self.plan, self.shared, self.wid, self.indices = plan, shared, wid, indices
        self.running, self.stop = asyncio.Event(), asyncio.Event()
        self.lanes = asyncio.Semaphore(CONNECT_LANES)
        self.rtts: list[tuple[float, float]] = []
        self.acks: list[tuple[float, float]] = []  # chat.send to its ack: the server's part
        self.refusals: list[str] = []
        self.chat_sent = 0

    async def run(self) -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            watcher = asyncio.create_task(watch_phase(self.shared, self.running, self.stop))
            outcomes = await asyncio.gather(*(self.visitor(http, g) for g in self.indices),
                                            return_exceptions=True)
            watcher.cancel()
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        self.shared.results.put({"worker": self.wid, "rtts": self.rtts, "acks": self.acks,
                                 "sent": self.chat_sent,
                                 "failed": len(errors), "why": [repr(e) for e in errors[:3]],
                                 "refusals": self.refusals})

    async def visitor(self, http: aiohttp.ClientSession, g: int) -> None:
        plan, rng = self.plan, random.Random(g)
        chat = plan.chat_index(g)
        sio = client(http)
        pending: dict[str, float] = {}
        connected = asyncio.Event()
        ix = ix_of(chat) if chat is not None else ""

        def on_message(data: dict[str, Any]) -> None:
            text = str(data.get("text", ""))
            if data.get("from") == "agent" and text.endswith("]"):
                sent = pending.pop(text[text.rfind("[") + 1:-1], None)
                if sent is not None:
                    self.rtts.append((sent, time.monotonic() - sent))

        sio.on("chat.message", on_message, namespace="/visitor")
        sio.on("connected", lambda data=None: connected.set(), namespace="/visitor")
        browsing = Browsing(rng, plan.rate, ORIGIN)
        try:
            async with self.lanes:
                auth: dict[str, str] = {}
                if plan.kind == "engage":
                    async with http.post(f"{plan.url}/api/visitor/token",
                                         json={"site_key": SITE_KEY},
                                         headers={"Origin": ORIGIN}) as response:
                        auth = {"token": (await response.json())["token"]}
                elif chat is not None:
                    auth = {"interaction": ix}
                await sio.connect(plan.url, namespaces=["/visitor"], auth=auth,
                                  headers={"Origin": ORIGIN}, transports=["websocket"],
                                  wait_timeout=CALL_TIMEOUT)
                await self.call(sio, "visit.hello", {"page": browsing.page_info(), "lang": "en"})
                if chat is not None and plan.kind == "engage":
                    reply = await self.call(sio, "contact.request", {
                        "channel": "chat", "context": {"reason": "question about a listing"}})
                    ix = reply["interaction"]
            if chat is not None and plan.kind == "engage":
                await asyncio.wait_for(connected.wait(), 120)
        except BaseException:
            self.shared.lost[self.wid] += 1
            await sio.disconnect()
            raise
        self.shared.ready[self.wid] += 1
        try:
            await self.running.wait()
            tasks = [self.ingest(sio, browsing, rng)]
            if chat is not None:
                tasks.append(self.chat(sio, ix, pending, rng))
            await asyncio.gather(*tasks)
        finally:
            await sio.disconnect()

    def refused(self, event: str, reply: dict[str, Any]) -> None:
        self.shared.errors[self.wid] += 1
        if len(self.refusals) < 3:
            self.refusals.append(f"{event}: {reply.get('code', 'timeout')}")

    async def call(self, sio: socketio.AsyncClient, event: str, data: dict[str, Any]
                   ) -> dict[str, Any]:
        reply: dict[str, Any] = await sio.call(event, data, namespace="/visitor",
                                               timeout=CALL_TIMEOUT)
        if not reply.get("ok"):
            raise RuntimeError(f"{event}: {reply}")
        return reply

    async def ingest(self, sio: socketio.AsyncClient, browsing: Browsing,
                     rng: random.Random) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(rng.random())  # visitors' flush timers are not in step
        next_at = loop.time()
        while not self.stop.is_set():
            events = browsing.tick(int(time.time() * 1000)) if self.shared.trail_on.value else []
            if events:
                if self.shared.mode.value == BATCHED:
                    payloads = [events[i:i + 50] for i in range(0, len(events), 50)]
                else:
                    payloads = [[event] for event in events]
                for chunk in payloads:
                    try:
                        reply = await sio.call("visit.events", {"events": chunk},
                                               namespace="/visitor", timeout=CALL_TIMEOUT)
                    except socketio.exceptions.SocketIOError:
                        reply = {}
                    if reply.get("ok"):
                        self.shared.accepted[self.wid] += int(reply["accepted"])
                        self.shared.batches[self.wid] += 1
                    else:
                        self.refused("visit.events", reply)
            next_at += 1.0
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                next_at = loop.time()  # fell behind: do not catch up in a burst

    async def chat(self, sio: socketio.AsyncClient, ix: str, pending: dict[str, float],
                   rng: random.Random) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(rng.uniform(0, self.plan.chat_period))
        next_at, n = loop.time(), 0
        while not self.stop.is_set():
            if not self.shared.chat_on.value:
                await asyncio.sleep(0.2)
                next_at = loop.time()
                continue
            cid = str(uuid.uuid4())
            pending[cid] = sent = time.monotonic()
            try:
                reply = await sio.call("chat.send", {"interaction": ix, "client_id": cid,
                                                     "text": chat_text(cid, n)},
                                       namespace="/visitor", timeout=CALL_TIMEOUT)
            except socketio.exceptions.SocketIOError:
                reply = {}
            if reply.get("ok"):
                self.acks.append((sent, time.monotonic() - sent))
            else:
                self.refused("chat.send", reply)
            n += 1
            self.chat_sent += 1
            next_at = max(next_at + self.plan.chat_period, loop.time())
            await asyncio.sleep(next_at - loop.time())


def visitor_process(plan: Plan, shared: Shared, wid: int, indices: list[int]) -> None:
    worker_start()
    uvloop.run(VisitorLoad(plan, shared, wid, indices).run())


# -- agents (one client process) ----------------------------------------------------------
async def agent_socket(plan: Plan, shared: Shared, http: aiohttp.ClientSession, i: int,
                       stop: asyncio.Event, counts: dict[str, int]) -> None:
    slot = len(shared.ready) - 1
    sio = client(http)
    tasks: set[asyncio.Task[None]] = set()

    async def act(event: str, data: dict[str, Any]) -> None:
        try:
            reply = await sio.call(event, data, namespace="/agent", timeout=CALL_TIMEOUT)
        except socketio.exceptions.SocketIOError:
            reply = {}
        if not reply.get("ok"):
            shared.errors[slot] += 1
        counts[event] = counts.get(event, 0) + 1

    def spawn(event: str, data: dict[str, Any]) -> None:
        task = asyncio.create_task(act(event, data))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def on_message(data: dict[str, Any]) -> None:
        text = str(data.get("text", ""))
        if data.get("from") == "visitor" and text.endswith("]"):
            spawn("chat.send", {"interaction": data["interaction"],
                                "client_id": str(uuid.uuid4()),
                                "text": "Yes, viewings are open this week. "
                                        + text[text.rfind("["):]})

    sio.on("chat.message", on_message, namespace="/agent")
    sio.on("offer", lambda data: spawn("acd.accept", {"interaction": data["interaction"]}),
           namespace="/agent")
    try:
        auth: dict[str, Any] = {
            "interactions": [ix_of(c) for c in range(i, plan.chatting, plan.agents)]}
        if plan.kind == "engage":
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as web:
                response = await web.post(f"{plan.url}/login", json={
                    "username": agent_name(i), "password": PASSWORD})
                response.raise_for_status()
                response = await web.post(f"{plan.url}/api/socket-token")
                auth = {"token": (await response.json())["token"]}
        await sio.connect(plan.url, namespaces=["/agent"], auth=auth, transports=["websocket"],
                          wait_timeout=CALL_TIMEOUT)
        if plan.kind == "engage":
            reply = await sio.call("acd.state", {"state": "available"}, namespace="/agent",
                                   timeout=CALL_TIMEOUT)
            if not reply.get("ok"):
                raise RuntimeError(f"{agent_name(i)} acd.state: {reply}")
    except BaseException:
        shared.lost[slot] += 1
        await sio.disconnect()
        raise
    shared.ready[slot] += 1
    try:
        await stop.wait()
    finally:
        await sio.disconnect()


async def agents_main(plan: Plan, shared: Shared) -> None:
    running, stop = asyncio.Event(), asyncio.Event()
    counts: dict[str, int] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        watcher = asyncio.create_task(watch_phase(shared, running, stop))
        outcomes = await asyncio.gather(
            *(agent_socket(plan, shared, http, i, stop, counts) for i in range(plan.agents)),
            return_exceptions=True)
        watcher.cancel()
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    shared.results.put({"worker": "agents", "counts": counts, "failed": len(errors),
                        "why": [repr(e) for e in errors[:3]]})


def agent_process(plan: Plan, shared: Shared) -> None:
    worker_start()
    uvloop.run(agents_main(plan, shared))


# -- the bench ----------------------------------------------------------------------------
@dataclass
class Mark:
    at: float
    cpu: float
    redis_cpu: float
    mongo_cpu: float
    clients_cpu: float
    accepted: int
    batches: int
    errors: int


@dataclass
class Phase:
    windows: list[tuple[Mark, Mark]]
    rtts: list[float]
    acks: list[float]

    def rates(self) -> list[float]:
        if not self.total("accepted"):
            return [0.0]
        return [(b.accepted - a.accepted) / max(b.cpu - a.cpu, 1e-9) for a, b in self.windows]

    def total(self, field: str) -> float:
        return float(sum(getattr(b, field) - getattr(a, field) for a, b in self.windows))

    def seconds(self) -> float:
        return sum(b.at - a.at for a, b in self.windows)


async def until(done: Callable[[], bool], what: str, timeout: float,
                procs: list[Any], shared: Shared) -> None:
    deadline = time.monotonic() + timeout
    last = 0.0
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        if any(not p.is_alive() for p in procs):
            why = shared.results.get(timeout=5) if not shared.results.empty() else "crashed"
            raise RuntimeError(f"a client process ended while waiting for {what}: {why}")
        if time.monotonic() - last > 5:
            print(f"  waiting for {what}", flush=True)
            last = time.monotonic()
        await asyncio.sleep(0.2)


@dataclass(frozen=True)
class Step:
    """One measured phase: how visitors send the trail, whether chats run, how many windows."""

    name: str
    mode: int
    chat: bool
    windows: int
    trail: bool = True


async def drive(plan: Plan, workers: int, server: subprocess.Popen[bytes],
                backend_pids: tuple[int, int],
                steps: list[Step], window_s: float) -> dict[str, Phase]:
    """Clients against one server: connect everyone, then measure each step's windows."""
    ctx = mp.get_context("spawn")
    shared = Shared(ctx, workers)
    procs: list[Any] = []
    try:
        if plan.chatting:
            procs.append(ctx.Process(target=agent_process, args=(plan, shared), daemon=True))
            procs[-1].start()
            await until(lambda: shared.ready[workers] + shared.lost[workers] == plan.agents,
                        f"{plan.agents} agents", 120, procs, shared)
            if shared.lost[workers]:
                shared.phase.value = STOP
                why = await asyncio.to_thread(shared.results.get, True, 60)
                raise RuntimeError(f"{shared.lost[workers]} agents failed to start: {why}")
        for wid in range(workers):
            indices = list(range(wid, plan.visitors, workers))
            procs.append(ctx.Process(target=visitor_process, args=(plan, shared, wid, indices),
                                     daemon=True))
            procs[-1].start()
        started = time.monotonic()
        await until(lambda: sum(shared.ready[:workers]) + sum(shared.lost[:workers])
                    == plan.visitors, f"{plan.visitors} visitors ({plan.chatting} in a chat)",
                    240, procs, shared)
        if sum(shared.lost):
            shared.phase.value = STOP
            why = [await asyncio.to_thread(shared.results.get, True, 60) for _ in procs]
            raise RuntimeError(f"{sum(shared.lost)} visitors or agents failed to start: {why}")
        print(f"  {plan.visitors} visitors ready in {time.monotonic() - started:.1f} s",
              flush=True)

        def mark() -> Mark:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with {server.returncode}")
            redis, mongo = (cpu_seconds(p) if p else 0.0 for p in backend_pids)
            return Mark(time.monotonic(), cpu_seconds(server.pid), redis, mongo,
                        sum(cpu_seconds(p.pid) for p in procs), sum(shared.accepted),
                        sum(shared.batches), sum(shared.errors))

        shared.phase.value = RUN
        phases: dict[str, Phase] = {}
        for step in steps:
            shared.mode.value, shared.chat_on.value = step.mode, int(step.chat)
            shared.trail_on.value = int(step.trail)
            await asyncio.sleep(3.0)  # warm-up: every visitor in its loop, chats flowing
            phase = Phase([], [], [])
            for _ in range(step.windows):
                first = mark()
                await asyncio.sleep(window_s)
                phase.windows.append((first, mark()))
                print(f"  {step.name}: {phase.rates()[-1]:,.0f} events per CPU-s (server cpu "
                      f"{phase.windows[-1][1].cpu - first.cpu:.2f} s)", flush=True)
            phases[step.name] = phase
        shared.phase.value = STOP
        results = [await asyncio.to_thread(shared.results.get, True, 60) for _ in procs]
        sent_at: list[tuple[float, float]] = []
        acked: list[tuple[float, float]] = []
        for result in results:
            sent_at += result.get("rtts", [])
            acked += result.get("acks", [])
            if result.get("refusals"):
                print(f"  client {result['worker']} was refused: {result['refusals']}",
                      flush=True)
            if result["failed"]:
                print(f"  client {result['worker']}: {result['failed']} failed: "
                      f"{result['why']}", flush=True)
        for phase in phases.values():
            start, end = phase.windows[0][0].at, phase.windows[-1][1].at
            phase.rtts = [rtt for at, rtt in sent_at if start <= at < end]
            phase.acks = [ack for at, ack in acked if start <= at < end]
        for proc in procs:
            await asyncio.to_thread(proc.join, 30)
        return phases
    finally:
        shared.phase.value = STOP
        deadline = time.monotonic() + 5  # a client blocked on an unread result: terminated
        for proc in procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join(5)


def summary(phase: Phase) -> dict[str, float]:
    events, batches = phase.total("accepted"), phase.total("batches")
    return {"events_per_cpu_s": statistics.median(phase.rates()), "events": events,
            "mean_batch": events / max(batches, 1), "errors": phase.total("errors"),
            "cpu_share": phase.total("cpu") / phase.seconds(),
            "clients_cpu_share": phase.total("clients_cpu") / phase.seconds(),
            "events_per_s": events / phase.seconds(),
            "redis_cpu_share": phase.total("redis_cpu") / phase.seconds(),
            "mongo_cpu_share": phase.total("mongo_cpu") / phase.seconds(),
            "rtt_p50_ms": pct(phase.rtts, 0.5) * 1e3, "rtt_p99_ms": pct(phase.rtts, 0.99) * 1e3,
            "rtt_n": len(phase.rtts), "ack_p50_ms": pct(phase.acks, 0.5) * 1e3,
            "ack_p99_ms": pct(phase.acks, 0.99) * 1e3}


def report(name: str, s: dict[str, float]) -> None:
    print(f"{name}: {s['events_per_cpu_s']:,.0f} events/CPU-s (median of windows), "
          f"{s['events_per_s']:,.0f} events/s, mean batch {s['mean_batch']:.2f}, "
          f"server CPU {s['cpu_share'] * 100:.0f}%, clients' CPU "
          f"{s['clients_cpu_share'] * 100:.0f}%, errors {s['errors']:.0f}; chat RTT p50 "
          f"{s['rtt_p50_ms']:.1f} ms p99 {s['rtt_p99_ms']:.1f} ms (n={s['rtt_n']}), chat.send "
          f"ack p50 {s['ack_p50_ms']:.1f} ms p99 {s['ack_p99_ms']:.1f} ms", flush=True)


async def main(args: argparse.Namespace) -> None:
    agents = math.ceil(args.chatting / CHATS_PER_AGENT) + 2
    plan = Plan("engage", "", args.visitors, args.chatting, agents, args.rate, args.chat_period)
    work = Path(tempfile.mkdtemp(prefix="engage-bench-ingest-"))
    node = BenchNode(work, [ORIGIN], agents=agents)
    reference: subprocess.Popen[bytes] | None = None
    n, quiet = args.windows, max(2, args.windows // 2)
    try:
        print(f"starting engage (private redis-server + nx-27017, {agents} agents)", flush=True)
        await node.start()
        print("engage: the trail batched as the widget sends it", flush=True)
        assert node.process is not None
        ours = await drive(Plan(**{**plan.__dict__, "url": node.url}), args.workers,
                           node.process, (node.redis_pid, node.mongo_pid), [
                               Step("engage", BATCHED, True, n),
                               Step("engage, chats paused", BATCHED, False, quiet),
                               Step("engage, idle", BATCHED, False, quiet, trail=False)],
                           args.window_s)
        node.stop()  # the reference gets the machine to itself, as engage did
        port = free_port()
        reference = subprocess.Popen([sys.executable, "-c", REFERENCE, str(port), ORIGIN],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=die_with_parent)
        ref_url = f"http://127.0.0.1:{port}"
        await wait_http(f"{ref_url}/socket.io/?EIO=4&transport=polling", process=reference)
        print("bare python-socketio: one event per emit, then the same batches", flush=True)
        ref = await drive(Plan(**{**plan.__dict__, "kind": "reference", "url": ref_url}),
                          args.workers, reference, (0, 0), [
                              Step("bare, per event", PER_EVENT, True, n),
                              Step("bare, batched", BATCHED, True, n),
                              Step("bare, per event, chats paused", PER_EVENT, False, quiet)],
                          args.window_s)
    finally:
        stop_process(reference)
        node.stop()
        shutil.rmtree(work, ignore_errors=True)
    e, eq = summary(ours["engage"]), summary(ours["engage, chats paused"])
    idle = summary(ours["engage, idle"])
    r, rb = summary(ref["bare, per event"]), summary(ref["bare, batched"])
    rq = summary(ref["bare, per event, chats paused"])
    report("engage, batched", e)
    report("engage, batched, chats paused", eq)
    print(f"engage, idle ({args.visitors:,} sockets, no trail, no chats): server CPU "
          f"{idle['cpu_share'] * 100:.0f}%", flush=True)
    report("bare python-socketio, one event per emit", r)
    report("bare python-socketio, same batches", rb)
    report("bare python-socketio, one event per emit, chats paused", rq)
    errors = sum(x["errors"] for x in (e, eq, r, rb, rq))
    print(f"RESULT visitors={args.visitors} chatting={args.chatting} agents={agents} "
          f"events={e['events']:.0f} mean_batch={e['mean_batch']:.2f} "
          f"events_per_s={e['events_per_s']:.0f} engage_cpu_share={e['cpu_share']:.3f} "
          f"clients_cpu_share={e['clients_cpu_share']:.3f} "
          f"redis_cpu_share={e['redis_cpu_share']:.3f} mongo_cpu_share={e['mongo_cpu_share']:.3f} "
          f"errors={errors:.0f} idle_engage_cpu_share={idle['cpu_share']:.3f} "
          f"chats_paused_events_per_cpu_s={eq['events_per_cpu_s']:.0f} "
          f"reference_chats_paused_events_per_cpu_s={rq['events_per_cpu_s']:.0f} "
          f"chats_paused_ratio={eq['events_per_cpu_s'] / rq['events_per_cpu_s']:.3f} "
          f"reference_batched_events_per_cpu_s={rb['events_per_cpu_s']:.0f} "
          f"chat_send_ack_p50_ms={e['ack_p50_ms']:.2f} chat_send_ack_p99_ms={e['ack_p99_ms']:.2f} "
          f"chat_rtt_p50_ms={e['rtt_p50_ms']:.2f} chat_messages={e['rtt_n']} "
          f"reference_chat_rtt_p50_ms={r['rtt_p50_ms']:.2f} "
          f"reference_chat_rtt_p99_ms={r['rtt_p99_ms']:.2f} "
          f"events_per_cpu_s={e['events_per_cpu_s']:.0f} "
          f"reference_events_per_cpu_s={r['events_per_cpu_s']:.0f} "
          f"ratio={e['events_per_cpu_s'] / r['events_per_cpu_s']:.3f} "
          f"chat_rtt_p99_ms={e['rtt_p99_ms']:.2f}", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="200 visitors, 20 chatting")
    parser.add_argument("--visitors", type=int)
    parser.add_argument("--chatting", type=int)
    parser.add_argument("--workers", type=int, help="visitor client processes")
    parser.add_argument("--rate", type=float, default=0.3,
                        help="trail events per visitor per second, on average")
    parser.add_argument("--chat-period", type=float, default=2.0)
    parser.add_argument("--windows", type=int)
    parser.add_argument("--window-s", type=float)
    args = parser.parse_args()
    defaults = ({"visitors": 200, "chatting": 20, "workers": 2, "windows": 3, "window_s": 3.0}
                if args.quick else
                {"visitors": 2000, "chatting": 200, "workers": 4, "windows": 4, "window_s": 4.0})
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def run() -> None:
    args = parse_args()

    async def guarded() -> None:
        task = asyncio.current_task()
        assert task is not None
        for signum in (signal.SIGINT, signal.SIGTERM):  # clean up the children either way
            asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
        await main(args)

    try:
        asyncio.run(guarded())
    except asyncio.CancelledError:
        print("interrupted: servers and clients stopped", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    run()
