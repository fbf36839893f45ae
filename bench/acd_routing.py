"""ACD routing on the real Redis: enqueue-to-offer latency and routing decisions per second.

One node (one uvloop process, like ``engage serve``) against a private redis-server, five
business-line queues, 1,000 agents (each serves its home line and the next one: 400 per queue,
default capacity 3 chats or 1 call) and 10,000 waiting interactions. Run from the repository
root (``.venv/bin/python -m bench.acd_routing``); the phases, in one run:
1. route-only drain: 10,000 chats preloaded while every agent is away; agents become
   available (no routing yet); then bare ``route(queue, 20)`` calls (1 task, then 4 tasks)
   offer until capacity is full (1,000 x 3 = 3,000 offers). Between the two drains the
   offers are abandoned and the backlog is topped up to 10,000 again.
   The headline ``decisions_per_s`` is the 1-task drain: routing decisions (offers) per
   second of one node.
2. steady state, ``lifecycles_per_s``: agents (32 concurrent tasks) take every
   offer through the service, ``Acd.accept`` -> ``Acd.complete`` -> ``Acd.wrap_up``; each
   of these routes the queues it frees capacity in (``Acd._apply``), which offers the
   backlog. Offers per second of wall time until the 10,000 are offered.
3. latency: 11,000 phone calls are preloaded; 1,000 are offered and accepted, so every
   agent is on a call and 10,000 callers wait (2,000 per queue). A chat with priority 100
   arrives (``Acd.enqueue``: one script enqueues and routes), goes ahead of the callers
   and is offered to the longest-idle agent with chat room; the time is taken when the
   ``offer`` reaches the notifier. Untimed, the agent accepts, completes and wraps it up.
   Interleaved with it, the floor: a bare EVALSHA doing ZRANGE + HGETALL + ZADD on the same
   keys, and engage's script doing nothing (``unknown_operation``: its fixed cost).
4. profile (separate pass, SLOWLOG at 0 us): server-side time of each script operation.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import uvloop

from engage.acd.queues import QueueDirectory
from engage.acd.routing import QueueConfig
from engage.acd.service import ROUTE_BATCH, Acd
from engage.acd.store import AcdStore, Outcome, load_script_text
from engage.infra.backends import redis_client
from engage.infra.embedded import EmbeddedRedis
from engage.staff.directory import StaffDirectory
from engage.tasks import TaskSet

QUEUES = ("buy_sell", "rent", "decoration", "greening", "property_management")
AGENTS = 1000
BACKLOG = 10_000
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "2500"))
ROUNDS = 5
WORKERS = 32
PROFILED = 150  # samples in the SLOWLOG pass (~300 log entries each)
NODE = "bench-node"
FLOOR_LUA = """
local heads = redis.call('ZRANGE', KEYS[1], 0, 9)
local h = redis.call('HGETALL', KEYS[2])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[2])
return #heads + #h
"""


class BenchQueues(QueueDirectory):
    """The queue directory without MongoDB (only ``get`` is on the routing path)."""

    def __init__(self, queues: Iterable[QueueConfig]) -> None:  # no collection to read
        self._queues = {q.queue_id: q for q in queues}


class NoStaff(StaffDirectory):
    """Agents sign in through the store here; the service never asks the directory."""

    def __init__(self) -> None:
        pass


class OfferClock:
    """An ``AcdNotifier`` that notes when each offer decision is handed out, and to whom."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.agent: dict[str, str] = {}
        self.work: asyncio.Queue[tuple[str, str]] | None = None
        self.count, self.target, self.done_at = 0, 0, 0.0
        self.done = asyncio.Event()

    async def to_agent(self, username: str, event: str, data: dict[str, Any]) -> None:
        if event != "offer":
            return
        ix = str(data["interaction"])
        self.at[ix] = time.perf_counter()
        self.agent[ix] = username
        self.count += 1
        if self.work is not None:
            self.work.put_nowait((username, ix))
            if self.count == self.target:
                self.done_at = time.perf_counter()
                self.done.set()

    async def to_interaction(self, ix: str, event: str, data: dict[str, Any]) -> None:
        return None

    async def queue_changed(self, queue: str) -> None:
        return None


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


def ms(samples: list[float]) -> str:
    return (f"p50 {statistics.median(samples) * 1e3:.3f} ms  p99 {pct(samples, 0.99) * 1e3:.3f} ms"
            f"  max {max(samples) * 1e3:.3f} ms  (n={len(samples)})")


async def pooled(jobs: Iterable[Awaitable[object]], width: int = 32) -> None:
    """Run the awaitables with ``width`` in flight (they are created lazily by the iterable)."""
    it = iter(jobs)

    async def lane() -> None:
        for job in it:
            await job

    await asyncio.gather(*(lane() for _ in range(width)))


def offers_of(outcome: Outcome) -> list[tuple[str, str]]:
    return [(str(n["id"]), str(n["data"]["interaction"])) for n in outcome.notify
            if n.get("event") == "offer"]


async def preload(store: AcdStore, count: int, channel: str, start: int = 0
                  ) -> list[tuple[str, str]]:
    """Enqueue ``count`` interactions; returns the offers the enqueue calls made themselves
    (an enqueue routes its queue in the same script when an agent is free)."""
    offers: list[tuple[str, str]] = []

    async def one(i: int) -> None:
        outcome = await store.call("enqueue", "", QUEUES[i % len(QUEUES)], channel, "",
                                   f"backlog{i}", "", "bench", '{"page": "/listings"}', "0")
        offers.extend(offers_of(outcome))

    await pooled(one(i) for i in range(start, start + count))
    return offers


async def waiting(store: AcdStore) -> int:
    return sum([(await store.queue_snapshot(q))[0] for q in QUEUES])


async def drain(store: AcdStore, tasks: int) -> tuple[list[tuple[str, str]], float, list[float]]:
    """Bare ``route(queue, 20)`` calls until a full round over the queues offers nothing."""
    offered: list[tuple[str, str]] = []
    calls: list[float] = []

    async def router(k: int) -> None:
        idle, i = 0, k
        while idle < len(QUEUES):
            queue = QUEUES[i % len(QUEUES)]
            i += 1
            started = time.perf_counter()
            outcome = await store.call("route", queue, ROUTE_BATCH)
            calls.append(time.perf_counter() - started)
            got = offers_of(outcome)
            offered.extend(got)
            idle = 0 if got else idle + 1

    started = time.perf_counter()
    await asyncio.gather(*(router(k) for k in range(tasks)))
    return offered, time.perf_counter() - started, calls


async def handle(acd: Acd, agent: str, ix: str) -> None:
    """What an agent's console does with an offer, through the service (which routes)."""
    await acd.accept(agent, ix)
    await acd.complete(ix, agent, agent)
    await acd.wrap_up(agent, ix, "resolved")


async def steady_state(acd: Acd, clock: OfferClock, outstanding: list[tuple[str, str]],
                       target: int) -> float:
    work: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for offer in outstanding:
        work.put_nowait(offer)
    clock.work, clock.count, clock.target = work, 0, target
    clock.done.clear()

    async def agent_lane() -> None:
        while True:
            agent, ix = await work.get()
            try:
                await handle(acd, agent, ix)
            finally:
                work.task_done()

    started = time.perf_counter()
    lanes = [asyncio.create_task(agent_lane()) for _ in range(WORKERS)]
    try:
        await asyncio.wait_for(clock.done.wait(), 150)
        elapsed = clock.done_at - started
        await asyncio.wait_for(work.join(), 60)
    finally:
        for lane in lanes:
            lane.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        clock.work = None
    return elapsed


async def sample(acd: Acd, clock: OfferClock, i: int) -> tuple[float, float]:
    """One enqueue timed to its offer (and to the return of ``Acd.enqueue``)."""
    started = time.perf_counter()
    reply = await acd.enqueue(QUEUES[i % len(QUEUES)], "chat", customer=f"cust{i}",
                              visitor=f"v{i}", site="bench", context={"page": "/listing/42"},
                              priority=100)
    returned = time.perf_counter() - started
    ix = str(reply["interaction"])
    if reply["state"] != "offered":
        raise RuntimeError(f"{ix} not offered: {reply}")
    offered_at, agent = clock.at.pop(ix), clock.agent.pop(ix)
    await handle(acd, agent, ix)
    return offered_at - started, returned


async def timed(call: Awaitable[object]) -> float:
    started = time.perf_counter()
    await call
    return time.perf_counter() - started


async def profile(redis: aioredis.Redis, body: Callable[[], Awaitable[None]],
                  names: dict[str, str]) -> None:
    """Server-side time of every command ``body`` runs (SLOWLOG at 0 us). Commands a script
    runs are logged just before the script (nothing interleaves), so each is charged to it."""
    await redis.config_set("slowlog-log-slower-than", 0)
    await redis.config_set("slowlog-max-len", 60_000)
    await redis.slowlog_reset()  # left on: the private server goes away after this pass
    await body()
    entries = await redis.slowlog_get(60_000)
    tops: dict[str, list[int]] = defaultdict(list)
    inner: dict[str, Counter[str]] = defaultdict(Counter)
    pending: Counter[str] = Counter()
    for entry in reversed(entries):
        raw = entry["command"]
        parts = (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)).split(" ")
        cmd, took = parts[0].upper(), int(entry["duration"])
        if "?:0" in str(entry.get("client_address")):  # run by a script
            pending[cmd] += took
            continue
        label = cmd
        if cmd == "EVALSHA" and parts[1] in names:
            label = names[parts[1]] + (f" {parts[5]}" if names[parts[1]] == "engage" else "")
        if cmd not in ("CONFIG", "SLOWLOG"):
            tops[label].append(took)
            inner[label].update(pending)
        pending.clear()
    total = sum(sum(d) for d in tops.values()) or 1
    print("server-side time per top-level command (profile pass; 'in cmds' = Redis commands "
          "the script ran, 'lua' = the rest: interpreter, prelude, cjson):")
    for label, times in sorted(tops.items(), key=lambda kv: -sum(kv[1])):
        n, mean = len(times), sum(times) / len(times)
        cmds = sum(inner[label].values()) / n
        top = ", ".join(f"{c} {u / n:.0f}" for c, u in inner[label].most_common(4))
        print(f"  {label:<17} n {n:>5}  p50 {statistics.median(times):5.0f} us  p99 "
              f"{pct([float(t) for t in times], 0.99):5.0f} us  mean {mean:5.0f} us  share "
              f"{100 * sum(times) / total:4.1f} %" + (f"  | in cmds {cmds:4.0f} us ({top})  lua "
                                                      f"{mean - cmds:4.0f} us" if cmds else ""))


class Usage:
    """Redis time inside scripts (INFO commandstats) and this process's CPU over a phase."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.cpu = self.wall = 0.0

    async def start(self) -> None:
        await self.redis.config_resetstat()
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    async def report(self, decisions: int) -> str:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        stat = (await self.redis.info("commandstats")).get("cmdstat_evalsha", {})
        calls, usec = int(stat.get("calls", 0)), int(stat.get("usec", 0))
        return (f"{calls / decisions:.1f} script calls and {usec / decisions:.0f} us of Redis "
                f"script time per decision (Redis busy in scripts {usec / 1e4 / wall:.0f} % "
                f"of wall), Python CPU {100 * cpu / wall:.0f} % of wall")


async def run(url: str) -> None:
    redis = redis_client(url, 64)
    store = AcdStore(redis)  # the Lua is read now: hash the same text for the profile's labels
    engage_sha = hashlib.sha1(load_script_text().encode()).hexdigest()
    configs = [QueueConfig(q, q.replace("_", " ").title(), max_length=50_000) for q in QUEUES]
    clock = OfferClock()
    acd = Acd(store, BenchQueues(configs), NoStaff(), clock, node_id=NODE,
              tasks=TaskSet())  # never started: the bench drives the service itself
    floor = redis.register_script(FLOOR_LUA)
    try:
        info = await redis.info("server")
        print(f"redis-server {info['redis_version']}, {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.2f}, {AGENTS} agents, {len(QUEUES)} queues, backlog {BACKLOG}")
        for config in configs:
            await store.save_queue(config)
        agents = [f"agent{i:04d}" for i in range(AGENTS)]
        await pooled(store.call("agent_online", a, f"{QUEUES[i % 5]},{QUEUES[(i + 1) % 5]}",
                                NODE) for i, a in enumerate(agents))

        # 1. route-only drain, 1 task then 4 tasks --------------------------------------------
        await preload(store, BACKLOG, "chat")
        await pooled(store.call("agent_state", a, "available", "") for a in agents)
        drained: list[tuple[str, str]] = []
        usage = Usage(redis)
        decisions_per_s = 0.0
        for tasks in (1, 4):
            before = await waiting(store)
            await usage.start()
            drained, elapsed, calls = await drain(store, tasks)
            print(f"route-only drain, {tasks} task(s): {len(drained)} offers from {before} "
                  f"waiting in {elapsed:.3f} s = {len(drained) / elapsed:,.0f} decisions/s; "
                  f"route(q, 20) call {ms(calls)}\n  {await usage.report(len(drained))}")
            if tasks == 1:
                decisions_per_s = len(drained) / elapsed
                # Reset: the offers go, agents step away while the backlog is topped up.
                await pooled(store.call("abandon", ix, "bench_reset") for _, ix in drained)
                await pooled(store.call("agent_state", a, "away", "") for a in agents)
                await preload(store, len(drained), "chat", BACKLOG)
                await pooled(store.call("agent_state", a, "available", "") for a in agents)

        # 2. steady state through the service -------------------------------------------------
        left = await waiting(store)
        await usage.start()
        elapsed = await steady_state(acd, clock, drained, left)
        lifecycles_per_s = left / elapsed
        print(f"steady state ({WORKERS} agent tasks: accept, complete, wrap-up; the service "
              f"routes): {left} offers in {elapsed:.3f} s = {lifecycles_per_s:,.0f} "
              f"offer+accept+complete+wrap cycles/s"
              f"\n  {await usage.report(left)}")

        # 3. latency: every agent on a call, 10,000 callers waiting, priority chats arrive ----
        calls_offered = await preload(store, BACKLOG + AGENTS, "phone")
        calls_offered += (await drain(store, 1))[0]
        await pooled(store.call("accept", ix, a) for a, ix in calls_offered)
        clock.at.clear()
        clock.agent.clear()
        print(f"latency setup: {len(calls_offered)} agents on a call, {await waiting(store)} "
              f"callers waiting; chats enqueued with priority 100 ahead of them")

        def floor_call(i: int) -> Awaitable[object]:
            return floor(keys=[store.keys.waiting(QUEUES[i % 5]),
                               store.keys.agent(agents[i % AGENTS]),
                               store.prefix + "bench:floor"], args=[i, f"m{i % 100}"])

        for i in range(100):  # warm-up (other customers: no stickiness with the samples)
            await sample(acd, clock, -1 - i)
            await floor_call(i)
        to_offer, returned, floors, noops = [], [], [], []
        per_round = SAMPLES // ROUNDS
        for round_no in range(ROUNDS):  # interleaved, so machine noise hits all alike
            for i in range(round_no * per_round, (round_no + 1) * per_round):
                offer, back = await sample(acd, clock, i)
                to_offer.append(offer)
                returned.append(back)
            for i in range(per_round):
                floors.append(await timed(floor_call(i)))
                noops.append(await timed(store.call("noop", raise_on_fail=False)))
            print(f"round {round_no + 1}/{ROUNDS}: enqueue-to-offer p50 "
                  f"{statistics.median(to_offer) * 1e3:.3f} ms, floor p50 "
                  f"{statistics.median(floors) * 1e3:.3f} ms", flush=True)
        print(f"enqueue-to-offer (Acd.enqueue -> offer notified): {ms(to_offer)}")
        print(f"Acd.enqueue returned (+ status read):            {ms(returned)}")
        print(f"floor, bare EVALSHA ZRANGE+HGETALL+ZADD:         {ms(floors)}")
        print(f"engage script, no-op op (fixed cost per call):   {ms(noops)}")

        # 4. where the time goes -----------------------------------------------------------------
        async def profiled() -> None:
            for i in range(PROFILED):
                await sample(acd, clock, SAMPLES + 100 + i)
                await floor_call(i)
                await store.call("noop", raise_on_fail=False)

        await profile(redis, profiled, {engage_sha: "engage", floor.sha: "floor"})

        print(f"goal: enqueue-to-offer p99 <= 5 ms, >= 5,000 decisions/s per node -> p99 "
              f"{pct(to_offer, 0.99) * 1e3:.3f} ms, {decisions_per_s:,.0f}/s (load average "
              f"{os.getloadavg()[0]:.2f})")
        print(f"RESULT enqueue_to_offer_p50_ms={statistics.median(to_offer) * 1e3:.4f} "
              f"enqueue_to_offer_p99_ms={pct(to_offer, 0.99) * 1e3:.4f} "
              f"decisions_per_s={decisions_per_s:.1f} lifecycles_per_s={lifecycles_per_s:.1f} "
              f"floor_p50_ms={statistics.median(floors) * 1e3:.4f} "
              f"floor_p99_ms={pct(floors, 0.99) * 1e3:.4f}")
    finally:
        await redis.aclose()


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="engage-bench-acd-"))
    server = EmbeddedRedis(data_dir, persist=False)
    try:
        server.start()
        uvloop.run(run(server.url))
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
