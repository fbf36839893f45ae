"""Opens Redis and MongoDB: the configured URLs, or embedded children under the data dir."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from engage.acd import eventlog
from engage.analysis import campaigns, feedback
from engage.analysis import store as analysis_store
from engage.chat import store as chat_store
from engage.config import Settings
from engage.customers import history, ledger
from engage.infra.embedded import EmbeddedMongo, EmbeddedRedis, EmbeddedServer, pid_alive
from engage.sites import registry
from engage.staff import directory
from engage.visits import contact_requests

log = logging.getLogger("engage.infra.backends")

Document = dict[str, Any]


class DataDirBusy(RuntimeError):
    """Another engage process owns the embedded backends of this data dir."""


@dataclass
class Backends:
    """The open connections a node works with, and the children it owns (if any)."""

    redis: aioredis.Redis
    mongo: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    redis_url: str
    mongo_url: str
    embedded: list[EmbeddedServer] = field(default_factory=list)

    @property
    def kind(self) -> str:
        names = {s.name for s in self.embedded}
        redis_kind = "embedded redis-server" if "redis" in names else "redis"
        mongo_kind = "embedded nx-27017" if "mongo" in names else "mongodb"
        return f"{redis_kind} + {mongo_kind}"


def redis_client(url: str, max_connections: int) -> aioredis.Redis:
    """A pool sized explicitly that waits for a free connection rather than failing fast.

    Reads time out after redis-py's default; blocking reads here (the event-log writer's
    XREADGROUP) block for one second at most, well inside it."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=10,
        socket_connect_timeout=5, health_check_interval=30, decode_responses=True)
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes both


def _state_path(settings: Settings) -> Any:
    return settings.data_dir / "embedded.json"


def running_embedded(settings: Settings) -> dict[str, Any] | None:
    """The embedded backends of a live ``engage serve`` on this data dir, if any."""
    path = _state_path(settings)
    try:
        state: dict[str, Any] = orjson.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not pid_alive(int(state.get("owner_pid", 0))):
        return None
    return state


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """An index for every query path, each created by the module that owns the collection
    (engage.owners); the rest create theirs when they start or on first use."""
    await directory.ensure_indexes(db)
    await registry.ensure_indexes(db)
    await history.ensure_indexes(db)
    await ledger.ensure_indexes(db)
    await chat_store.ensure_indexes(db)
    await contact_requests.ensure_indexes(db)
    await eventlog.ensure_indexes(db)
    await analysis_store.ensure_indexes(db)
    await campaigns.ensure_indexes(db)
    await feedback.ensure_indexes(db)


@asynccontextmanager
async def open_backends(settings: Settings, *,
                        own_children: bool = True) -> AsyncIterator[Backends]:
    """Yield connected backends; embedded children are stopped on exit.

    ``own_children`` is true for ``engage serve``: it records the children so CLI commands
    on the same data dir use them instead of starting a second set.
    """
    async with AsyncExitStack() as stack:
        embedded: list[EmbeddedServer] = []
        redis_url, mongo_url = settings.redis_url, settings.mongo_url
        shared = None if (redis_url and mongo_url) else running_embedded(settings)
        if shared is not None and own_children:
            raise DataDirBusy(
                f"another engage process (pid {shared['owner_pid']}) uses the embedded "
                f"backends in {settings.data_dir}; stop it or choose another ENGAGE_DATA_DIR")
        if shared is not None:
            redis_url = redis_url or shared["redis_url"]
            mongo_url = mongo_url or shared["mongo_url"]
        if not redis_url:
            child: EmbeddedServer = EmbeddedRedis(settings.data_dir / "redis")
            child.start()
            stack.callback(child.stop)
            embedded.append(child)
            redis_url = child.url
        if not mongo_url:
            child = EmbeddedMongo(settings.data_dir / "mongo")
            child.start()
            stack.callback(child.stop)
            embedded.append(child)
            mongo_url = child.url
        if embedded and own_children:
            path = _state_path(settings)
            # It carries the embedded Redis password: readable by this user only.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(orjson.dumps({"owner_pid": os.getpid(), "redis_url": redis_url,
                                        "mongo_url": mongo_url}))
            stack.callback(path.unlink, missing_ok=True)

        redis = redis_client(redis_url, settings.redis_max_connections)
        stack.push_async_callback(redis.aclose)
        mongo: AsyncMongoClient[Document] = AsyncMongoClient(
            mongo_url, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000, tz_aware=True)
        stack.push_async_callback(mongo.close)
        await redis.ping()
        await mongo.admin.command("ping")
        db = mongo[settings.mongo_db]
        await ensure_indexes(db)
        backends = Backends(redis=redis, mongo=mongo, db=db, redis_url=redis_url,
                            mongo_url=mongo_url, embedded=embedded)
        log.info("backends ready: %s", backends.kind, extra={"backends": backends.kind})
        yield backends
