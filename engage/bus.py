"""Domain events: names in one place, published on Redis so adapters on every node deliver them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis.asyncio as aioredis

from engage import keys
from engage.tasks import Backoff, TaskSet

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

    def __init__(self, redis_url: str, *, tasks: TaskSet) -> None:
        self._redis_url = redis_url
        self._handlers: dict[str, list[Handler]] = {}
        self._tasks = tasks
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    def on(self, event: str, handler: Handler) -> None:
        self._handlers.setdefault(event, []).append(handler)

    async def start(self) -> None:
        if self._task is None:
            # A pass ends when the connection is lost; a failed (re)connect backs off.
            self._task = self._tasks.every(0, self._listen, name="engage-event-listener",
                                           backoff=Backoff(0.1, 5.0))
            await asyncio.wait_for(self.ready.wait(), timeout=10)

    async def stop(self) -> None:
        task, self._task = self._task, None
        await self._tasks.cancel(task)

    async def _listen(self) -> None:
        """Subscribe, then deliver until the connection is lost."""
        client = aioredis.Redis.from_url(self._redis_url, socket_timeout=None,
                                         socket_connect_timeout=5)
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(keys.EVENTS_CHANNEL)
                self.ready.set()
                try:
                    async for message in pubsub.listen():
                        await self._dispatch(message.get("data"))
                except Exception as exc:
                    # Lost after a good subscription: reconnect at once (the backoff is
                    # for connections that fail), as a fresh start.
                    log.warning("event listener lost Redis; reconnecting",
                                extra={"error": repr(exc)})
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
