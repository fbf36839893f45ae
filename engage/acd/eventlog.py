"""Drains the ACD's event stream (Redis) into the event log (MongoDB), at least once."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from engage.infra.redis_text import as_text
from engage.keys import ACD_EVENTS
from engage.tasks import Backoff, TaskSet

log = logging.getLogger("engage.acd.eventlog")

STREAM = ACD_EVENTS  # appended to by engage.acd.store only; this module drains it
GROUP = "eventlog"
COLLECTION = "acd_events"
# Entries another consumer read but did not acknowledge for this long are taken over.
CLAIM_IDLE_MS = 30_000


def to_document(entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """One stream entry as an event document; the entry id is the document id (dedupe)."""
    doc: dict[str, Any] = {"_id": entry_id, **fields}
    doc["at"] = datetime.fromtimestamp(int(fields.get("at", "0")) / 1000, UTC)
    return doc


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    """The index of every query path: the KPI window (``at``), earlier events of the
    interactions it continues (``ix``), per-agent reads (``agent``), a customer's contacts
    (``customer``: KPIs and the ledger)."""
    for key in ("at", "ix", "agent", "customer"):
        await db[COLLECTION].create_index([(key, ASCENDING)])


class EventLogWriter:
    """A consumer in the ``eventlog`` group: every node runs one, each entry lands once."""

    def __init__(self, redis: aioredis.Redis, db: AsyncDatabase[dict[str, Any]],
                 consumer: str, *, tasks: TaskSet, batch: int = 500) -> None:
        self._redis = redis
        self._col = db[COLLECTION]
        self.consumer = consumer
        self.batch = batch
        self._tasks = tasks
        self._task: asyncio.Task[None] | None = None
        # One batch at a time: drain() waits for the background batch in flight.
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        try:
            await self._redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except aioredis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        if self._task is None:
            # No pause between passes: each one blocks up to a second on the stream itself.
            self._task = self._tasks.every(0, self._pass, name="acd-eventlog",
                                           backoff=Backoff(0.1, 5.0))

    async def stop(self) -> None:
        task, self._task = self._task, None
        await self._tasks.cancel(task)
        try:
            await self.drain()
        except Exception:
            log.warning("event log not fully drained at shutdown; entries stay pending")

    async def drain(self) -> int:
        """Write everything available now (also used by tests to wait for the log)."""
        total = 0
        while True:
            written = await self._step(block_ms=None)
            total += written
            if written == 0:
                return total

    async def _pass(self) -> None:
        await self._step(block_ms=1000)

    async def _step(self, block_ms: int | None) -> int:
        async with self._lock:
            return await self._step_locked(block_ms)

    async def _step_locked(self, block_ms: int | None) -> int:
        claimed = await self._redis.xautoclaim(STREAM, GROUP, self.consumer, CLAIM_IDLE_MS,
                                               start_id="0-0", count=self.batch)
        entries = list(claimed[1]) if claimed and len(claimed) > 1 else []
        if not entries:
            response: Any = await self._redis.xreadgroup(
                GROUP, self.consumer, {STREAM: ">"}, count=self.batch, block=block_ms)
            for _stream, items in response or []:
                entries.extend(items)
        if not entries:
            return 0
        docs = [to_document(as_text(entry_id), {as_text(k): as_text(v) for k, v in fields.items()})
                for entry_id, fields in entries if fields]
        if docs:
            try:
                await self._col.insert_many(docs, ordered=False)
            except BulkWriteError as exc:
                # Already written by an earlier attempt (duplicate ids) is fine; anything
                # else is not, and the entries stay pending for another try.
                if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                    raise
        await self._redis.xack(STREAM, GROUP, *[entry_id for entry_id, _ in entries])
        return len(entries)
