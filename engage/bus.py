"""Domain events: names in one place, published on Redis so adapters on every node deliver them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis.asyncio as aioredis

from engage import keys
from engage.tasks import cancel_and_wait

log = logging.getLogger("engage.bus")

# Event names. Services publish them; adapters decide who is told.
STAFF_SESSIONS_REVOKED = "staff.sessions_revoked"
STAFF_SESSION_ENDED = "staff.session_ended"
SITES_CHANGED = "sites.changed"
ACD_QUEUE_CHANGED = "acd.queue_changed"
INVITES_CHANGED = "invites.changed"
BULLETIN_CHANGED = "bulletin.changed"
KNOWLEDGE_CHANGED = "knowledge.changed"

Handler = Callable[[dict[str, Any]], Awaitable[None]]


async def publish(redis: aioredis.Redis, event: str, **payload: Any) -> None:
    await redis.publish(keys.EVENTS_CHANNEL, orjson.dumps({"event": event, **payload}))


class EventListener:
    """Subscribes to the events channel and hands each event to the registered handlers.

    Reconnects with capped exponential backoff; a failing handler never stops the loop.
    """

    def __init__(self, redis_url: str) -> None:
        self._redis_url = redis_url
        self._handlers: dict[str, list[Handler]] = {}
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    def on(self, event: str, handler: Handler) -> None:
        self._handlers.setdefault(event, []).append(handler)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="engage-event-listener")
            await asyncio.wait_for(self.ready.wait(), timeout=10)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait([task])

    async def _run(self) -> None:
        delay = 0.1
        while True:
            client = aioredis.Redis.from_url(self._redis_url, socket_timeout=None,
                                             socket_connect_timeout=5)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(keys.EVENTS_CHANNEL)
                    self.ready.set()
                    delay = 0.1
                    async for message in pubsub.listen():
                        await self._dispatch(message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event listener lost Redis; retrying", extra={
                    "error": repr(exc), "retry_in": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                await client.aclose()

    async def _dispatch(self, data: Any) -> None:
        try:
            event = orjson.loads(data)
        except (TypeError, orjson.JSONDecodeError):
            return
        for handler in self._handlers.get(event.get("event", ""), []):
            try:
                await handler(event)
            except Exception:
                log.exception("event handler failed", extra={"event": event.get("event")})
