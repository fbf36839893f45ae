"""Visits and their browsing trails in MongoDB, written behind in batches."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from engage.tasks import TaskSet

log = logging.getLogger("engage.trail")

Document = dict[str, Any]
FLUSH_INTERVAL = 0.5
FLUSH_AT = 500  # events buffered before a flush is started early
MAX_BUFFER = 50_000  # a MongoDB outage drops the oldest trail events beyond this, not memory
DUPLICATE_KEY = 11000


class TrailStore:
    """Trail events are buffered and inserted in batches: a page view is not worth a MongoDB
    round trip of its own, and a crash loses at most the last half second of trail."""

    def __init__(self, db: AsyncDatabase[Document], *, tasks: TaskSet) -> None:
        self._visits = db.visits
        self._events = db.visit_events
        self._buffer: list[Document] = []
        self._in_flight: list[Document] = []  # taken from the buffer, not yet stored
        self._touched: dict[str, Document] = {}  # visit id -> fields to set on the visit doc
        self._tasks = tasks
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.dropped = 0

    async def ensure_indexes(self) -> None:
        await self._events.create_index([("visit", ASCENDING), ("seq", ASCENDING)])
        await self._visits.create_index([("visitor", ASCENDING), ("started_at", DESCENDING)])

    async def start(self) -> None:
        await self.ensure_indexes()
        if self._task is None:
            # A full buffer sets _wake: the flush starts early instead of after the interval.
            self._task = self._tasks.every(FLUSH_INTERVAL, self.flush, name="trail-flush",
                                           wake=self._wake)

    async def stop(self) -> None:
        task, self._task = self._task, None
        await self._tasks.cancel(task)
        await self.flush()

    async def open_visit(self, visit: Document) -> None:
        await self._visits.insert_one(visit)

    def add(self, visit_id: str, events: list[Document], visit_fields: Document) -> None:
        self._buffer.extend(events)
        if len(self._buffer) > MAX_BUFFER:
            over = len(self._buffer) - MAX_BUFFER
            del self._buffer[:over]
            self.dropped += over
        touched = self._touched.setdefault(visit_id, {})
        pages = touched.get("$pages", 0) + visit_fields.get("$pages", 0)
        touched.update(visit_fields)
        touched["$pages"] = pages  # counted, not replaced: several batches per flush
        if len(self._buffer) >= FLUSH_AT:
            self._wake.set()

    async def flush(self) -> None:
        events, self._buffer = self._buffer, []
        touched, self._touched = self._touched, {}
        self._in_flight = events
        try:
            if events:
                await self._insert(events)
            for visit_id, fields in touched.items():
                pages = fields.get("$pages", 0)
                update: Document = {"$set": {k: v for k, v in fields.items() if k != "$pages"}}
                if pages:
                    update["$inc"] = {"pages": pages}
                await self._visits.update_one({"_id": visit_id}, update)
        except Exception:
            self._buffer[:0] = events  # keep them for the next attempt
            for visit_id, fields in touched.items():
                self.add(visit_id, [], fields)
            raise
        finally:
            self._in_flight = []

    async def _insert(self, events: list[Document]) -> None:
        """Insert a batch; events a failed earlier attempt already stored (pymongo gave them
        their _id then) are refused as duplicates, which is what a retry should do."""
        try:
            await self._events.insert_many(events, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or []
            if exc.details.get("writeConcernErrors") or any(
                    e.get("code") != DUPLICATE_KEY for e in errors):
                raise

    async def recent(self, visit_id: str, limit: int = 200) -> list[Document]:
        """The visit's last events, oldest first (stored ones, then any still buffered)."""
        # The unstored ones are taken before reading the stored: an event moves buffer ->
        # in flight -> stored, so one that a flush stores meanwhile is still in this copy.
        pending = [e for e in (*self._in_flight, *self._buffer) if e.get("visit") == visit_id]
        stored = [doc async for doc in self._events.find(
            {"visit": visit_id}, {"_id": 0}).sort("seq", DESCENDING).limit(limit)]
        stored.reverse()
        seen = {e["seq"] for e in stored}
        out = stored + [{k: v for k, v in e.items() if k != "_id"} for e in pending
                        if e["seq"] not in seen]
        return out[-limit:]

    async def visit(self, visit_id: str) -> Document | None:
        return await self._visits.find_one({"_id": visit_id})
