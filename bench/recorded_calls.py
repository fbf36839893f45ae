"""Recorded audio calls relayed and recorded by engage's server-side peer: CPU per call and the
latency the relay adds, against peer-to-peer pairs and bare aiortc loopback pairs measured in
the same run.

Setup: ``engage serve`` as its own process (private redis-server and nx-27017, one queue with
``record_calls`` per client process, agents with its skill). Client processes
(``bench.recorded_call_clients``, spawned, one asyncio loop each) hold both sides of their
calls: a visitor socket and an agent socket go through the real flow (token,
``contact.request``, offer accepted, ``call.propose``, ``call.consent`` with
``record_consent``), then each side's aiortc peer offers to the server (``call.signal``) and
sets the server's answer. Client tracks send pre-encoded Opus packets (aiortc packs
``av.Packet`` items without encoding; receivers are read before the jitter buffer and
decoder), so the clients stay cheap and nothing encodes or decodes - the server neither: its
relay forwards Opus packets as they come and the recording pairs them into a stereo Ogg.
Every packet is a valid 20 ms Opus frame whose padding carries its send time
(``time.monotonic_ns``: one clock for both sides of a call).

Measured, in windows after a warm-up: the server process's CPU (utime + stime from /proc);
``calls_per_core`` = calls / server cores busy (median of windows, the node's own idle work
included; ``marginal_calls_per_core`` leaves out what the node burns with no call, measured
in a window before the calls start). Latency = receive time - send time of each marked
packet through the server (``relay_latency_*``) and, at the same time in the same client
processes, between as many peer-to-peer pairs that skip the server (``direct_latency_*``).
``added_latency_p99_ms`` is the median over windows of (relay p99 - direct p99): a stall of a
client process lands in both paths; a stall of the server process, or its waiting for a CPU
(two more process wake-ups per packet than the direct path), only in the relayed one, and
that is the server's part. ``relay_p99_minus_direct_p50_ms`` is the pessimistic reading
(every client stall blamed on the server). After the hang-ups the bench checks that every
call left a complete recording.

Reference (``reference_calls_per_core``), after engage is stopped: per call a bare aiortc
loopback pair in one process, both directions sending a 440 Hz tone through aiortc's own Opus
encoder and decoder - what a server peer that decodes and re-encodes would pay (a few pairs:
their cost per pair is what counts, and more would only measure a saturated machine).

This machine has 2 CPUs shared with other work: the load average before and after is printed,
and latency percentiles under contention mostly measure the scheduler.

Run from the repository root: ``.venv/bin/python -m bench.recorded_calls [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pymongo import AsyncMongoClient  # noqa: E402

from bench.engage_node import (  # noqa: E402
    HELP_QUEUE,
    PASSWORD,
    BenchNode,
    cpu_seconds,
    pct,
    wait_http,
)
from bench.recorded_call_clients import (  # noqa: E402
    ORIGIN,
    TIMEOUT,
    Plan,
    reference_main,
    worker_main,
)
from engage.config import load  # noqa: E402
from engage.infra.backends import open_backends  # noqa: E402
from engage.models import Role  # noqa: E402
from engage.services import build_services  # noqa: E402


# -- the bench ------------------------------------------------------------------------------
class RecordingNode(BenchNode):
    """The bench node with one recorded queue and its agents per client process."""

    def __init__(self, work: Path, plans: list[Plan]) -> None:
        super().__init__(work, [ORIGIN])
        self.plans = plans
        self.site_queues = [plan.queue for plan in plans]

    async def start(self) -> None:
        self.redis.start()
        self.mongo.start()
        async with open_backends(load(self._env()), own_children=False) as backends:
            services = build_services(load(self._env()), backends)
            for plan in self.plans:
                await services.queues.save({**HELP_QUEUE, "_id": plan.queue,
                                            "required_skills": {plan.queue: 1},
                                            "record_calls": True})
                for name in plan.agents:
                    await services.staff.add(name, PASSWORD, Role.AGENT,
                                             skills={plan.queue: 1}, queues=[plan.queue])
        await super().start()  # seeds the site, starts engage serve


class Clients:
    """The client processes and their pipes."""

    def __init__(self, plans: list[Plan]) -> None:
        ctx = mp.get_context("spawn")
        self.pipes, self.procs = [], []
        for plan in plans:
            mine, theirs = ctx.Pipe()
            self.pipes.append(mine)
            self.procs.append(ctx.Process(target=worker_main, args=(plan, theirs), daemon=True))
            self.procs[-1].start()

    async def each(self, command: str) -> list[Any]:
        for pipe in self.pipes:
            pipe.send(command)
        replies = [await asyncio.to_thread(pipe.recv) for pipe in self.pipes]
        failed = [r for r in replies if isinstance(r, str) and r.startswith("error")]
        if failed:
            raise RuntimeError(f"{command}: {failed}")
        return replies

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs)

    def stop(self) -> None:
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            if proc.is_alive():
                try:
                    pipe.send("stop")
                except OSError:
                    pass
            proc.join(10)
            if proc.is_alive():
                proc.terminate()


async def windows(pid: int, n: int, seconds: float, warmup: float,
                  clients: Clients | None = None
                  ) -> tuple[list[float], float, list[tuple[float, float]]]:
    """Cores the process kept busy in each window; the clients' cores; the windows."""
    await asyncio.sleep(warmup)  # every stream flowing, every peer past its first packets
    busy, client_cpu, spans, start = [], 0.0, [], time.monotonic()
    for _ in range(n):
        t0, c0, k0 = time.monotonic(), cpu_seconds(pid), clients.cpu() if clients else 0.0
        await asyncio.sleep(seconds)
        t1, c1, k1 = time.monotonic(), cpu_seconds(pid), clients.cpu() if clients else 0.0
        busy.append((c1 - c0) / (t1 - t0))
        client_cpu += k1 - k0
        spans.append((t0, t1))
        print(f"  window: {busy[-1] * 100:.1f}% of a core", flush=True)
    return busy, client_cpu / (time.monotonic() - start), spans


def latencies(replies: list[Any], path: str, start: float, end: float) -> list[float]:
    return [ms for reply in replies for at, ms in reply[path] if start <= at <= end]


def added_per_window(replies: list[Any], spans: list[tuple[float, float]]) -> list[float]:
    """Per window: relay p99 - direct p99, both paths measured at once in the same client
    processes, so a stall of a client (or the machine) shows in both and cancels out."""
    return [pct(latencies(replies, "relay", *span), 0.99)
            - pct(latencies(replies, "direct", *span), 0.99) for span in spans]


async def recordings(node: RecordingNode, calls: int) -> list[dict[str, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(node.mongo.url)
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:  # the nodes finish recordings after the hang-up's ack
            docs = [d async for d in client.bench.recordings.find({"state": "complete"})]
            if len(docs) >= calls or time.monotonic() > deadline:
                return docs
            await asyncio.sleep(0.2)
    finally:
        await client.close()


async def main(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="engage-bench-recorded-"))
    per = [args.calls // args.workers + (w < args.calls % args.workers)
           for w in range(args.workers)]
    node = RecordingNode(work, [Plan("", w, n) for w, n in enumerate(per)])
    clients: Clients | None = None
    try:
        print(f"starting engage; load average {load_before[0]:.2f} on {os.cpu_count()} CPUs",
              flush=True)
        await node.start()
        await wait_http(f"{node.url}/readyz")
        idle, _, _ = await windows(node.pid, 1, args.window_s, 0.0)  # the node, no calls
        clients = Clients([Plan(node.url, w, n) for w, n in enumerate(per)])
        print(f"{args.calls} recorded calls through the server and {args.calls} "
              "peer-to-peer pairs beside them", flush=True)
        await clients.each("relay")
        busy, clients_share, spans = await windows(node.pid, args.windows, args.window_s,
                                                    args.warmup, clients)
        replies = await clients.each("samples")
        relayed = latencies(replies, "relay", spans[0][0], spans[-1][1])
        direct = latencies(replies, "direct", spans[0][0], spans[-1][1])
        added_windows = added_per_window(replies, spans)
        await clients.each("hangup")
        docs = await recordings(node, args.calls)
        clients.stop()
        node.stop()  # the reference gets the machine to itself, as engage did
        print(f"reference: {args.reference_pairs} bare aiortc loopback pairs with Opus both "
              "ways", flush=True)
        ctx = mp.get_context("spawn")
        mine, theirs = ctx.Pipe()
        reference = ctx.Process(target=reference_main, args=(args.reference_pairs, theirs),
                                daemon=True)
        reference.start()
        await asyncio.to_thread(mine.recv)
        ref_busy, _, _ = await windows(reference.pid, args.windows, args.window_s,
                                       args.warmup)
        mine.send("stop")
        reference.join(30)
    finally:
        if clients is not None:
            clients.stop()
        node.stop()
        shutil.rmtree(work, ignore_errors=True)
    server_share = statistics.median(busy)
    ref_share = statistics.median(ref_busy)
    calls_per_core = args.calls / server_share
    marginal = args.calls / max(server_share - idle[0], 1e-9)
    reference_per_core = args.reference_pairs / ref_share
    added = statistics.median(added_windows)
    conservative = pct(relayed, 0.99) - pct(direct, 0.5)
    durations = [d["duration_ms"] / 1000 for d in docs]
    print(f"engage relay + recording: {server_share * 100:.1f}% of a core for {args.calls} "
          f"calls (median of windows {[round(b * 100, 1) for b in busy]}), "
          f"{server_share / args.calls * 100:.2f}% per call; clients "
          f"{clients_share * 100:.0f}% of a core; the idle node {idle[0] * 100:.1f}%, so "
          f"{marginal:.0f} calls per core at the margin", flush=True)
    print(f"latency through the server: p50 {pct(relayed, 0.5):.2f} ms p99 "
          f"{pct(relayed, 0.99):.2f} ms (n={len(relayed)}); peer to peer: p50 "
          f"{pct(direct, 0.5):.2f} ms p99 {pct(direct, 0.99):.2f} ms (n={len(direct)})",
          flush=True)
    spread = " ".join(f"p{q * 100:g} {pct(relayed, q):.1f}" for q in (0.9, 0.95, 0.98, 0.999))
    print(f"  through the server: {spread}, max {max(relayed, default=0):.1f} ms; "
          f"{sum(ms > 30 for ms in relayed)} of {len(relayed)} over 30 ms", flush=True)
    print(f"server-added p99 per window: {[round(a, 2) for a in added_windows]} ms, median "
          f"{added:.2f} ms; relay p99 - direct p50 over all windows: {conservative:.2f} ms",
          flush=True)
    per_stream = ref_share / (2 * args.reference_pairs) * 100
    print(f"reference: {ref_share * 100:.1f}% of a core for {args.reference_pairs} loopback "
          f"pairs, {per_stream:.2f}% per one-way Opus stream", flush=True)
    print(f"recordings: {len(docs)} complete of {args.calls}, durations "
          f"{min(durations, default=0):.1f}-{max(durations, default=0):.1f} s; load average "
          f"before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}", flush=True)
    print(f"RESULT calls_per_core={calls_per_core:.1f} added_latency_p99_ms={added:.2f} "
          f"reference_calls_per_core={reference_per_core:.1f} calls={args.calls} "
          f"server_cpu_share={server_share:.3f} per_call_core_pct="
          f"{server_share / args.calls * 100:.3f} relay_latency_p50_ms={pct(relayed, 0.5):.2f} "
          f"relay_latency_p99_ms={pct(relayed, 0.99):.2f} direct_latency_p50_ms="
          f"{pct(direct, 0.5):.2f} direct_latency_p99_ms={pct(direct, 0.99):.2f} "
          f"reference_stream_core_pct={per_stream:.2f} "
          f"clients_cpu_share={clients_share:.3f} recordings_complete={len(docs)} "
          f"relay_p99_minus_direct_p50_ms={conservative:.2f} "
          f"idle_server_cpu_share={idle[0]:.3f} marginal_calls_per_core={marginal:.1f} "
          f"load_before={load_before[0]:.2f} load_after={os.getloadavg()[0]:.2f}", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="4 calls, short windows")
    parser.add_argument("--calls", type=int)
    parser.add_argument("--workers", type=int, help="client processes")
    parser.add_argument("--windows", type=int)
    parser.add_argument("--window-s", type=float)
    parser.add_argument("--warmup", type=float, help="seconds before the first window")
    parser.add_argument("--reference-pairs", type=int,
                        help="loopback pairs of the reference (its codecs cost ~10%% of a "
                             "core each: more than a few would only measure a saturated box)")
    args = parser.parse_args()
    defaults = ({"calls": 4, "workers": 1, "windows": 2, "window_s": 1.5, "warmup": 1.0}
                if args.quick else
                {"calls": 20, "workers": 2, "windows": 5, "window_s": 4.0, "warmup": 2.0})
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.reference_pairs is None:
        args.reference_pairs = min(args.calls, 6)
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
