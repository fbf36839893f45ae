"""A bench's own engage node: a private redis-server and nx-27017, seeded with one site, one
queue and agents, and ``engage serve`` as a separate process whose CPU time can be read.

Only ``engage serve`` runs as that process; Redis and nx-27017 are children of the bench, so
``cpu_seconds(node.pid)`` is engage's own work (``redis_pid`` and ``mongo_pid`` the rest).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from engage.config import load
from engage.infra.backends import open_backends
from engage.infra.embedded import EmbeddedMongo, EmbeddedRedis, free_port, stop_process
from engage.models import Role
from engage.services import build_services

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-123"
SITE_KEY = "site_bench"
QUEUE = "help"
SENSITIVE = ["token", "coupon", "session"]
HELP_QUEUE = {"_id": QUEUE, "required_skills": {"help": 1}, "wrap_up_seconds": 30,
              "offer_timeout_seconds": 60, "max_wait_seconds": 3600}
CLK_TCK = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Runs in a child before exec: SIGTERM it when the bench dies, even by SIGKILL."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads) from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


async def wait_http(url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None
                    = None) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{url}: the server exited with {process.returncode}")
            try:
                async with http.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f}s")


def agent_name(i: int) -> str:
    return f"agent{i:03d}"


class BenchNode:
    """Backends, seed data and ``engage serve``; ``stop()`` ends all three (idempotent)."""

    def __init__(self, work_dir: Path, origins: list[str], agents: int = 0,
                 env: Mapping[str, str] | None = None) -> None:
        self.work_dir = work_dir
        self.origins = origins
        self.agents = agents
        self.env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.redis = EmbeddedRedis(work_dir / "redis", persist=False)
        self.mongo = EmbeddedMongo(work_dir / "mongo")
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = work_dir / "engage.log"
        self.site_queues: list[str] = []  # queues the widget may name besides QUEUE

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def redis_pid(self) -> int:
        return self.redis.process.pid if self.redis.process is not None else 0

    @property
    def mongo_pid(self) -> int:
        return self.mongo.process.pid if self.mongo.process is not None else 0

    def _env(self) -> dict[str, str]:
        return {**os.environ, "ENGAGE_REDIS_URL": self.redis.url,
                "ENGAGE_MONGO_URL": self.mongo.url, "ENGAGE_MONGO_DB": "bench",
                "ENGAGE_DATA_DIR": str(self.work_dir / "data"), "ENGAGE_PORT": str(self.port),
                "ENGAGE_SECRET_KEY": "bench-secret-key-" + "x" * 32,
                "ENGAGE_LOG_LEVEL": "WARNING",
                # Thousands of simulated visitors share this machine's one address; the
                # per-visitor limits stay as shipped.
                "ENGAGE_VISITOR_LIMITS": "token_address=1000000/60,contact_address=1000000/60",
                **self.env}

    async def start(self) -> None:
        self.redis.start()
        self.mongo.start()
        settings = load(self._env())
        async with open_backends(settings, own_children=False) as backends:
            services = build_services(settings, backends)
            await services.queues.save(dict(HELP_QUEUE))
            await services.sites.save(SITE_KEY, "Shanghai Homes (bench)", self.origins,
                                      {"queue": QUEUE, "queues": self.site_queues,
                                       "sensitive_params": SENSITIVE})
            for i in range(self.agents):  # argon2 per account: a second or two per 20
                await services.staff.add(agent_name(i), PASSWORD, Role.AGENT,
                                         skills={QUEUE: 1}, queues=[QUEUE])
        self.process = self._spawn()
        try:
            await wait_http(f"{self.url}/readyz", process=self.process)
        except RuntimeError:
            print(self.log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise

    def _spawn(self) -> subprocess.Popen[bytes]:
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "engage", "serve"], env=self._env(), cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent)

    def stop(self) -> None:
        stop_process(self.process)
        self.mongo.stop()
        self.redis.stop()
