"""``engage serve`` as a process: embedded children, no orphans, persistence, two nodes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
import socketio
from pymongo import AsyncMongoClient

from engage.infra.embedded import EmbeddedRedis, free_port, pid_alive
from engage.models import Role
from engage.staff.directory import StaffDirectory
from tests.conftest import PASSWORD, socket_token

# Starts `engage serve` processes with their own backends: up to ~100 s on a loaded box.
pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]


def start_node(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    full = {**os.environ, **env, "ENGAGE_PORT": str(port), "ENGAGE_LOG_JSON": "true",
            "ENGAGE_SECRET_KEY": "two-node-secret"}
    return subprocess.Popen([sys.executable, "-m", "engage", "serve"], cwd=ROOT, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll /readyz until it answers 200; fail at once if the process died."""
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if process.poll() is not None:
                raise AssertionError(f"node exited: {process.stdout.read().decode()[-3000:]}"
                                     if process.stdout else "node exited")
            try:
                async with http.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)  # polling a readiness probe, not synchronising a test
    raise AssertionError("node not ready")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> str:
    if process.poll() is None:
        process.send_signal(sig)
    out, _ = process.communicate(timeout=30)
    return out.decode()



def child_pids(parent: int) -> list[int]:
    result = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True)
    return [int(p) for p in result.stdout.split()]


@asynccontextmanager
async def node(env: dict[str, str]) -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = start_node(env, port)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url, process)
        yield url, process
    finally:
        stop(process)


async def test_embedded_backends_start_persist_and_stop_without_orphans(tmp_path: Path) -> None:
    env = {"ENGAGE_DATA_DIR": str(tmp_path)}
    async with node(env) as (url, process):
        children = child_pids(process.pid)
        assert len(children) == 2  # redis-server and nx-27017
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/readyz") as response:
                assert (await response.json())["checks"] == {"redis": "ok", "mongo": "ok"}
        # The CLI reuses the running node's embedded backends.
        added = subprocess.run(
            [sys.executable, "-m", "engage", "users", "add", "keeper", "--role", "agent",
             "--password-stdin", "--data-dir", str(tmp_path)],
            input=PASSWORD + "\n", capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert added.returncode == 0, added.stderr
    assert process.returncode == 0
    assert not any(pid_alive(p) for p in children), "embedded children outlived the node"
    assert not (tmp_path / "embedded.json").exists()

    # Restart on the same data dir: the account is still there.
    async with node(env) as (url, process):
        async with aiohttp.ClientSession() as http:
            response = await http.post(f"{url}/login",
                                       json={"username": "keeper", "password": PASSWORD})
            assert response.status == 200


async def test_children_die_with_a_crashed_parent(tmp_path: Path) -> None:
    port = free_port()
    process = start_node({"ENGAGE_DATA_DIR": str(tmp_path)}, port)
    try:
        await wait_ready(f"http://127.0.0.1:{port}", process)
        children = child_pids(process.pid)
        assert len(children) == 2
    finally:
        stop(process, signal.SIGKILL)
    for pid in children:
        for _ in range(200):
            if not pid_alive(pid) or _is_zombie(pid):
                break
            await asyncio.sleep(0.05)  # polling the OS for the child's exit
        assert not pid_alive(pid) or _is_zombie(pid), f"orphan {pid}"


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@pytest.fixture
async def shared(redis_server: EmbeddedRedis, redis: aioredis.Redis, mongo_url: str,
                 db_name: str) -> AsyncIterator[dict[str, str]]:
    """Node environment on the test session's Redis (flushed) and a fresh database with an
    agent and a supervisor."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    staff = StaffDirectory(mongo[db_name])
    await staff.add("agent", PASSWORD, Role.AGENT)
    await staff.add("supervisor", PASSWORD, Role.SUPERVISOR)
    try:
        yield {"ENGAGE_REDIS_URL": redis_server.url, "ENGAGE_MONGO_URL": mongo_url,
               "ENGAGE_MONGO_DB": db_name}
    finally:
        await mongo.drop_database(db_name)
        await mongo.close()


async def test_two_nodes_share_one_redis(shared: dict[str, str], tmp_path: Path) -> None:
    """A client on node A receives an event emitted for it by node B."""
    async with node({**shared, "ENGAGE_DATA_DIR": str(tmp_path / "a"),
                     "ENGAGE_NODE_ID": "node-a"}) as (url_a, proc_a), \
            node({**shared, "ENGAGE_DATA_DIR": str(tmp_path / "b"),
                  "ENGAGE_NODE_ID": "node-b"}) as (url_b, proc_b):
        assert child_pids(proc_a.pid) == [] and child_pids(proc_b.pid) == []
        agent = socketio.AsyncClient(reconnection=False)
        supervisor = socketio.AsyncClient(reconnection=False)
        got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        agent.on("announcement", got.put_nowait, namespace="/agent")
        await agent.connect(url_a, namespaces=["/agent"],
                            auth={"token": await socket_token(url_a, "agent")},
                            transports=["websocket"])
        # A token issued by node A is honoured by node B: sessions live in Redis.
        await supervisor.connect(url_b, namespaces=["/supervisor"],
                                 auth={"token": await socket_token(url_a, "supervisor")},
                                 transports=["websocket"])
        try:
            who_a = await agent.call("whoami", {}, namespace="/agent")
            who_b = await supervisor.call("whoami", {}, namespace="/supervisor")
            assert (who_a["node"], who_b["node"]) == ("node-a", "node-b")
            reply = await supervisor.call("announce", {"text": "from B"},
                                          namespace="/supervisor")
            assert reply["ok"] is True
            message = await asyncio.wait_for(got.get(), 10)
            assert message["text"] == "from B" and message["from"] == "supervisor"
        finally:
            await agent.disconnect()
            await supervisor.disconnect()




async def test_cli_disable_ends_live_sockets_on_a_running_node(
        shared: dict[str, str], tmp_path: Path) -> None:
    env = {**shared, "ENGAGE_DATA_DIR": str(tmp_path)}
    async with node(env) as (url, _):
        agent = socketio.AsyncClient(reconnection=False)
        ended: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        agent.on("session_ended", ended.put_nowait, namespace="/agent")
        await agent.connect(url, namespaces=["/agent"],
                            auth={"token": await socket_token(url, "agent")},
                            transports=["websocket"])
        cli = {**os.environ, **env}
        done = subprocess.run([sys.executable, "-m", "engage", "users", "disable", "agent"],
                              env=cli, capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "ended 1 session(s)" in done.stdout
        assert (await asyncio.wait_for(ended.get(), 10))["reason"] == "account disabled"
        await asyncio.wait_for(agent.wait(), 10)
        listed = subprocess.run([sys.executable, "-m", "engage", "users", "list"], env=cli,
                                capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert any(line.split()[:3] == ["agent", "agent", "disabled"]
                   for line in listed.stdout.splitlines())
        missing = subprocess.run([sys.executable, "-m", "engage", "users", "disable", "ghost"],
                                 env=cli, capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert missing.returncode == 1 and "no user 'ghost'" in missing.stderr


def test_cli_reports_bad_configuration() -> None:
    done = subprocess.run([sys.executable, "-m", "engage", "serve", "--port", "eighty"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert "ENGAGE_PORT: expected a whole number" in done.stderr


async def test_a_relative_data_dir_works(tmp_path: Path) -> None:
    """``make run`` uses the default ``var``: relative to where engage is started."""
    port = free_port()
    full = {**os.environ, "ENGAGE_PORT": str(port), "ENGAGE_DATA_DIR": "var",
            "ENGAGE_SECRET_KEY": "relative-dir-secret"}
    process = subprocess.Popen([sys.executable, "-m", "engage", "serve"], cwd=tmp_path,
                               env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        await wait_ready(f"http://127.0.0.1:{port}", process)
        assert (tmp_path / "var" / "redis").is_dir() and (tmp_path / "var" / "mongo").is_dir()
    finally:
        stop(process)
