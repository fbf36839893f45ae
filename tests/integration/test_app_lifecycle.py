"""The app's cleanup contexts: one per resource, a failed start unwinds what started before it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from engage.app import RECORDERS, SERVICES, create_app
from engage.infra.backends import open_backends
from engage.infra.embedded import EmbeddedRedis
from tests.conftest import node_settings

# The periodic loops and listeners a started node runs, all in its task set.
NODE_LOOPS = {"engage-event-listener", "socketio-_thread", "acd-eventlog", "acd-sweep",
              "acd-heartbeat", "acd-gauges", "attachments-expiry", "recordings-expiry",
              "trail-flush", "ledger-search", "recorder-heartbeat"}


def watch_stops(app: web.Application, monkeypatch: pytest.MonkeyPatch
                ) -> tuple[list[str], list[list[str]]]:
    """Record which resources are stopped, in order, and what the task set still held when
    it was closed (the safety net: empty when every resource stopped its own tasks)."""
    services = app[SERVICES]
    stopped: list[str] = []
    left_at_close: list[list[str]] = []

    def recorded(name: str, stop: Callable[[], Awaitable[None]]
                 ) -> Callable[[], Awaitable[None]]:
        async def wrapper() -> None:
            stopped.append(name)
            await stop()
        return wrapper

    for name in ("eventlog", "acd", "invites", "attachments", "recordings", "outbox", "trail",
                 "ledger", "knowledge", "bulletin"):
        service = getattr(services, name)
        monkeypatch.setattr(service, "stop", recorded(name, service.stop))
    monkeypatch.setattr(app[RECORDERS], "stop", recorded("recorders", app[RECORDERS].stop))
    close = services.tasks.close

    async def closing() -> None:
        left_at_close.append(services.tasks.names())
        await close()

    monkeypatch.setattr(services.tasks, "close", closing)
    return stopped, left_at_close


async def test_a_failed_start_stops_exactly_what_started_before_it(
        redis_server: EmbeddedRedis, redis: aioredis.Redis, mongo_url: str, db_name: str,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = node_settings(redis_server.url, mongo_url, db_name, tmp_path)
    async with open_backends(settings, own_children=False) as backends:
        app = create_app(settings, backends)
        services = app[SERVICES]
        stopped, left_at_close = watch_stops(app, monkeypatch)
        running_then: list[str] = []

        async def refuse() -> None:
            running_then.extend(services.tasks.names())
            raise RuntimeError("the ledger refuses to start")

        monkeypatch.setattr(services.ledger, "start", refuse)
        runner = web.AppRunner(app)
        with pytest.raises(RuntimeError, match="refuses to start"):
            await runner.setup()
        # Everything before the ledger was running when it failed; nothing after it was.
        assert set(running_then) == NODE_LOOPS - {"ledger-search", "recorder-heartbeat"}
        await runner.cleanup()  # what `engage serve` does when setup fails
        assert stopped == ["trail", "outbox", "recordings", "attachments", "invites", "acd",
                           "eventlog"]
        assert left_at_close == [[]]  # each resource stopped its own tasks
        assert len(services.tasks) == 0


async def test_shutdown_stops_every_resource_and_task(
        redis_server: EmbeddedRedis, redis: aioredis.Redis, mongo_url: str, db_name: str,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = node_settings(redis_server.url, mongo_url, db_name, tmp_path)
    async with open_backends(settings, own_children=False) as backends:
        app = create_app(settings, backends)
        services = app[SERVICES]
        stopped, left_at_close = watch_stops(app, monkeypatch)
        runner = web.AppRunner(app)
        await runner.setup()
        assert set(services.tasks.names()) == NODE_LOOPS
        await runner.cleanup()
        assert stopped == ["recorders", "bulletin", "knowledge", "ledger", "trail", "outbox",
                           "recordings", "attachments", "invites", "acd", "eventlog"]
        assert left_at_close == [[]]
        assert len(services.tasks) == 0
        with pytest.raises(RuntimeError, match="closed"):
            services.tasks.spawn(services.acd.sweep(), name="late")
