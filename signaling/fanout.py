"""Cross-node Socket.IO fan-out on the shared Redis, with an explicitly sized, blocking pool."""

from __future__ import annotations

import redis.asyncio as aioredis
import socketio

from engage import keys
from engage.tasks import TaskSet


class RedisFanout(socketio.AsyncRedisManager):  # type: ignore[misc]
    """AsyncRedisManager whose client waits for a free connection instead of failing fast,
    and whose pub/sub connection has no read timeout (a quiet channel is not an error)."""

    def __init__(self, url: str, max_connections: int, *, tasks: TaskSet,
                 write_only: bool = False) -> None:
        super().__init__(url, channel=keys.SOCKETIO_CHANNEL, write_only=write_only)
        self.max_connections = max_connections
        self._tasks = tasks
        self.redis: aioredis.Redis | None = None

    def _redis_connect(self) -> None:
        old: aioredis.Redis | None = self.redis
        pool = aioredis.BlockingConnectionPool.from_url(
            self.redis_url, max_connections=self.max_connections, timeout=10,
            socket_timeout=None, socket_connect_timeout=5, health_check_interval=30)
        self.redis = aioredis.Redis.from_pool(pool)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True
        if old is not None:  # a reconnect: close the broken client instead of leaking it
            self._tasks.spawn(old.aclose(), name="fanout-retire")

    async def close(self) -> None:
        if self.pubsub is not None:
            await self.pubsub.aclose()
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None
