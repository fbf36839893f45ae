"""The load of bench/visitor_ingest.py: visitor and agent client processes (trail bursts,
chats) and what they share with the driver."""

from __future__ import annotations

import asyncio
import random
import signal
import sys
import time
import uuid
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
    agent_name,
    die_with_parent,
)
from engage.acd.routing import DEFAULT_CAPACITY  # noqa: E402
from signaling.codec import OrjsonCodec  # noqa: E402

ORIGIN = "https://www.shanghai-homes.test"
CONNECT, RUN, STOP = 0, 1, 2
BATCHED, PER_EVENT = 0, 1
CALL_TIMEOUT = 30
CONNECT_LANES = 16  # concurrent connects per client process
CHATS_PER_AGENT = DEFAULT_CAPACITY.limits["chat"]

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
