"""Socket ping latency during a storm of staff sign-ins, against the same sockets without it.

One ``engage serve`` (bench/engage_node.py) behind a pretend proxy (``ENGAGE_TRUSTED_PROXIES``
= loopback, each sign-in carrying its own ``X-Forwarded-For``). Visitor sockets ping the node
at a steady rate; first alone (the baseline), then while concurrent sign-ins arrive at once:
half by the staff with their right passwords from their own addresses, half wrong guesses
from a few attackers' addresses. Reported: ping p99 in both phases and their ratio, and how
many argon2 checks the node ran (its ``engage_password_checks_total``) against what the
sign-in throttle allows for this storm. Goal: ratio <= 2, checks <= allowance.

    python bench/login_storm.py            # 500 sockets, 200 sign-ins
    python bench/login_storm.py --quick    # 100 sockets, 60 sign-ins
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import socketio  # noqa: E402

from bench.engage_node import PASSWORD, SITE_KEY, BenchNode, agent_name, pct  # noqa: E402
from engage.staff.sessions import ThrottlePolicy  # noqa: E402

ORIGIN = "https://www.shanghai-homes.test"
METRICS_TOKEN = "bench-metrics-token-of-24-chars-or-more"  # the node asks for 24+
CONNECT_LANES = 16
CALL_TIMEOUT = 60
ATTACKERS = 2


class Pings:
    """Every visitor socket pings on its own timer; each sample belongs to the phase it
    started in."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.phase = "warm-up"
        self.samples: dict[str, list[float]] = {"warm-up": [], "baseline": [], "storm": []}
        self.storm_at: list[float] = []  # when each storm sample started
        self.lost = 0
        self.stop = asyncio.Event()

    async def socket(self, http: aiohttp.ClientSession, url: str, lanes: asyncio.Semaphore,
                     ready: list[int], rng: random.Random) -> None:
        sio = socketio.AsyncClient(reconnection=False, http_session=http, handle_sigint=False)
        async with lanes:
            async with http.post(f"{url}/api/visitor/token", json={"site_key": SITE_KEY},
                                 headers={"Origin": ORIGIN}) as response:
                token = (await response.json())["token"]
            await sio.connect(url, namespaces=["/visitor"], auth={"token": token},
                              headers={"Origin": ORIGIN}, transports=["websocket"],
                              wait_timeout=CALL_TIMEOUT)
        ready[0] += 1
        try:
            await asyncio.sleep(rng.random() * self.interval)  # sockets not in step
            loop = asyncio.get_running_loop()
            next_at = loop.time()
            while not self.stop.is_set():
                phase, started = self.phase, time.perf_counter()
                try:
                    reply = await sio.call("ping", {"text": "p"}, namespace="/visitor",
                                           timeout=CALL_TIMEOUT)
                except socketio.exceptions.TimeoutError:
                    self.lost += 1
                else:
                    if reply.get("ok"):
                        self.samples[phase].append(time.perf_counter() - started)
                        if phase == "storm":
                            self.storm_at.append(started)
                    else:
                        self.lost += 1
                next_at += self.interval
                await asyncio.sleep(max(0.0, next_at - loop.time()))
        finally:
            await sio.disconnect()


def storm_plan(sign_ins: int, agents: int) -> list[tuple[str, str, str]]:
    """(user name, password, client address): half right from each user's own address,
    half wrong from ATTACKERS addresses, guessing the agents' passwords in turn."""
    right = [(agent_name(i % agents), PASSWORD, f"198.51.{100 + i // 250}.{i % 250 + 1}")
             for i in range(sign_ins - sign_ins // 2)]
    wrong = [(agent_name(i % agents), f"guess-{i}", f"203.0.113.{i % ATTACKERS + 1}")
             for i in range(sign_ins // 2)]
    plan = right + wrong
    random.Random(7).shuffle(plan)
    return plan


def allowance(plan: list[tuple[str, str, str]], policy: ThrottlePolicy) -> int:
    """The most password checks the throttle lets this storm run: every right sign-in, and
    wrong ones while none of their three counters is at its limit (successes never count)."""
    pair: Counter[tuple[str, str]] = Counter()
    by_ip: Counter[str] = Counter()
    account: Counter[str] = Counter()
    allowed = 0
    for user, password, ip in plan:
        if password == PASSWORD:
            allowed += 1
            continue
        if pair[user, ip] < policy.pair_failures and by_ip[ip] < policy.ip_failures \
                and account[user] < policy.account_failures:
            pair[user, ip] += 1
            by_ip[ip] += 1
            account[user] += 1
            allowed += 1
    return allowed


async def password_checks(http: aiohttp.ClientSession, url: str) -> float:
    async with http.get(f"{url}/metrics",
                        headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith("engage_password_checks_total "):
            return float(line.split()[1])
    raise RuntimeError("engage_password_checks_total is not in /metrics")


async def sign_in(http: aiohttp.ClientSession, url: str, user: str, password: str,
                  ip: str) -> int:
    async with http.post(f"{url}/login", json={"username": user, "password": password},
                         headers={"X-Forwarded-For": ip}) as response:
        await response.read()
        return response.status


async def run(args: argparse.Namespace, node: BenchNode) -> None:
    pings = Pings(args.interval)
    lanes, ready = asyncio.Semaphore(CONNECT_LANES), [0]
    rng = random.Random(1)
    plan = storm_plan(args.sign_ins, args.agents)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        sockets = [asyncio.create_task(pings.socket(http, node.url, lanes, ready, rng))
                   for _ in range(args.visitors)]
        while ready[0] < args.visitors:
            failed = [t for t in sockets if t.done() and t.exception() is not None]
            if failed:
                raise RuntimeError(f"a visitor socket failed: {failed[0].exception()!r}")
            await asyncio.sleep(0.1)
        print(f"{args.visitors} visitor sockets connected, pinging every "
              f"{args.interval:g} s", flush=True)
        await asyncio.sleep(2 * args.interval)
        pings.phase = "baseline"
        await asyncio.sleep(args.baseline_seconds)
        checks_before = await password_checks(http, node.url)
        pings.phase = "storm"
        started = time.perf_counter()
        statuses = Counter(await asyncio.gather(*(sign_in(http, node.url, *attempt)
                                                  for attempt in plan)))
        storm_seconds = time.perf_counter() - started
        pings.phase = "warm-up"  # what follows the storm is neither phase
        checks = await password_checks(http, node.url) - checks_before
        pings.stop.set()
        await asyncio.gather(*sockets, return_exceptions=True)
    baseline, storm = pings.samples["baseline"], pings.samples["storm"]
    allowed = allowance(plan, ThrottlePolicy())
    base_p99, storm_p99 = pct(baseline, 0.99) * 1e3, pct(storm, 0.99) * 1e3
    print(f"baseline: {len(baseline)} pings over {args.baseline_seconds:g} s, "
          f"p50 {pct(baseline, 0.5) * 1e3:.2f} ms, p99 {base_p99:.2f} ms")
    print(f"storm:    {len(storm)} pings over {storm_seconds:.1f} s, "
          f"p50 {pct(storm, 0.5) * 1e3:.2f} ms, p99 {storm_p99:.2f} ms; lost pings {pings.lost}")
    # Where the storm's tail comes from: the arrival of every request at once (HTTP and
    # Redis work on the loop), or the password checks that follow it.
    later = [rtt for rtt, at in zip(storm, pings.storm_at, strict=True) if at >= started + 1]
    print(f"storm after its first second: {len(later)} pings, "
          f"p99 {pct(later, 0.99) * 1e3:.2f} ms")
    print(f"sign-ins: {len(plan)} ({dict(sorted(statuses.items()))} by status); password "
          f"checks {checks:.0f}, the throttle's allowance {allowed}")
    print(f"RESULT ping_p99_ms={storm_p99:.3f} baseline_ping_p99_ms={base_p99:.3f} "
          f"ratio={storm_p99 / base_p99:.3f} password_checks={checks:.0f}")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="engage-login-storm-") as work:
        node = BenchNode(Path(work), [ORIGIN], agents=args.agents,
                         env={"ENGAGE_TRUSTED_PROXIES": "127.0.0.1,::1",
                              "ENGAGE_METRICS_TOKEN": METRICS_TOKEN})
        try:
            await node.start()
            await run(args, node)
        finally:
            node.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--visitors", type=int, default=500)
    parser.add_argument("--sign-ins", type=int, default=200)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between pings "
                        "of one socket")
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true",
                        help="100 sockets, 60 sign-ins, a 5 s baseline (a shared machine)")
    args = parser.parse_args()
    if args.quick:
        args.visitors, args.sign_ins, args.agents, args.baseline_seconds = 100, 60, 10, 5.0
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
