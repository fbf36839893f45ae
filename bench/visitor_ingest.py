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
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


from bench.engage_node import (  # noqa: E402
    BenchNode,
    cpu_seconds,
    die_with_parent,
    pct,
    wait_http,
)
from bench.ingest_load import (  # noqa: E402
    BATCHED,
    CHATS_PER_AGENT,
    ORIGIN,
    PER_EVENT,
    RUN,
    STOP,
    Plan,
    Shared,
    agent_process,
    visitor_process,
)
from engage.infra.embedded import free_port, stop_process  # noqa: E402

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
