"""Ack round trip of engage's guarded ``ping`` against a bare python-socketio handler.

Both servers run as separate processes on loopback in the same run; the client makes
sequential calls over one websocket and reports the median and p99 latency of each, and
their ratio (engage's guard: schema, role, size, rate limit, Redis session check per event).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import socketio

from engage.infra.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
CALLS = int(os.environ.get("BENCH_CALLS", "2000"))
ROUNDS = 3
PASSWORD = "bench-password-123"

REFERENCE = """
import socketio, time
from aiohttp import web
sio = socketio.AsyncServer(async_mode="aiohttp")
@sio.on("ping", namespace="/agent")
async def ping(sid, data):
    return {"ok": True, "text": data.get("text", ""), "server_time": time.time(), "node": "ref"}
app = web.Application(); sio.attach(app)
web.run_app(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), print=None)
"""


async def wait_http(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            try:
                async with http.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def engage_token(url: str) -> str:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await http.post(f"{url}/login", json={"username": "bench", "password": PASSWORD})
        async with http.post(f"{url}/api/socket-token") as response:
            return str((await response.json())["token"])


async def measure(url: str, auth: dict[str, str] | None) -> list[float]:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, namespaces=["/agent"], auth=auth, transports=["websocket"])
    samples = []
    try:
        for _ in range(50):
            await client.call("ping", {"text": "warm"}, namespace="/agent")
        for i in range(CALLS):
            started = time.perf_counter()
            reply = await client.call("ping", {"text": str(i)}, namespace="/agent")
            samples.append(time.perf_counter() - started)
            assert reply["ok"] is True, reply
    finally:
        await client.disconnect()
    return samples


def p99(samples: list[float]) -> float:
    return sorted(samples)[int(len(samples) * 0.99) - 1]


async def main() -> None:
    data_dir = tempfile.mkdtemp(prefix="engage-bench-")
    # The per-socket rate limit would (rightly) refuse a tight loop; lift it for the bench.
    env = {**os.environ, "ENGAGE_DATA_DIR": data_dir, "ENGAGE_LOG_LEVEL": "WARNING",
           "ENGAGE_SOCKET_RATE": "100000", "ENGAGE_SOCKET_BURST": "100000"}
    subprocess.run([sys.executable, "-m", "engage", "users", "add", "bench", "--role", "agent",
                    "--password-stdin"], input=PASSWORD + "\n", text=True, env=env, cwd=ROOT,
                   check=True, capture_output=True)
    engage_port, ref_port = free_port(), free_port()
    engage = subprocess.Popen([sys.executable, "-m", "engage", "serve", "--port",
                               str(engage_port)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reference = subprocess.Popen([sys.executable, "-c", REFERENCE, str(ref_port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engage_url, ref_url = f"http://127.0.0.1:{engage_port}", f"http://127.0.0.1:{ref_port}"
    try:
        await wait_http(f"{engage_url}/readyz")
        await wait_http(f"{ref_url}/socket.io/?EIO=4&transport=polling")
        ours: list[float] = []
        ref: list[float] = []
        for round_no in range(ROUNDS):  # interleaved, so machine noise hits both alike
            ours += await measure(engage_url, {"token": await engage_token(engage_url)})
            ref += await measure(ref_url, None)
            print(f"round {round_no + 1}/{ROUNDS}: engage p50 "
                  f"{statistics.median(ours) * 1e3:.3f} ms, bare python-socketio p50 "
                  f"{statistics.median(ref) * 1e3:.3f} ms", flush=True)
    finally:
        for process in (engage, reference):
            process.terminate()
            process.wait(30)
    p50_ours, p50_ref = statistics.median(ours), statistics.median(ref)
    print(f"engage guarded ping:      p50 {p50_ours * 1e3:.3f} ms  p99 {p99(ours) * 1e3:.3f} ms")
    print(f"bare python-socketio ping: p50 {p50_ref * 1e3:.3f} ms  p99 {p99(ref) * 1e3:.3f} ms")
    print(f"RESULT calls={len(ours)} engage_p50_ms={p50_ours * 1e3:.4f} "
          f"engage_p99_ms={p99(ours) * 1e3:.4f} reference_p50_ms={p50_ref * 1e3:.4f} "
          f"reference_p99_ms={p99(ref) * 1e3:.4f} ratio_p50={p50_ours / p50_ref:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
