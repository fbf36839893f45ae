"""What visitors leave for staff to follow up: owns visitor_messages and callback_requests."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]

MESSAGES = "visitor_messages"
CALLBACKS = "callback_requests"
# Kept this long, then removed: by MongoDB's TTL monitor, and by purge_expired() where the
# server has none (nx-27017 records TTL indexes but does not act on them).
RETENTION_DAYS = 180
PURGE_EVERY_SECONDS = 3600.0


@dataclass(frozen=True)
class Requester:
    """Who left the request, and the queue it is for."""

    site: str
    visitor: str
    customer: str | None
    queue: str


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Expiry (TTL) and the follow-up list of a queue, newest first."""
    for name in (MESSAGES, CALLBACKS):
        await db[name].create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)
        await db[name].create_index([("queue", ASCENDING), ("created_at", DESCENDING)])


class ContactRequests:
    """Stores what a visitor asked staff to follow up, as it came, for RETENTION_DAYS."""

    def __init__(self, db: AsyncDatabase[Document], retention_days: int = RETENTION_DAYS,
                 clock: Any = time.monotonic) -> None:
        self._messages = db[MESSAGES]
        self._callbacks = db[CALLBACKS]
        self._retention = timedelta(days=retention_days)
        self._clock = clock
        self._purged_at: float | None = None

    async def leave_message(self, who: Requester, *, name: str, email: str | None,
                            phone: str | None, text: str) -> str:
        return await self._keep(self._messages, "msg_", who, {
            "name": name, "email": email, "phone": phone, "text": text, "status": "new"})

    async def request_callback(self, who: Requester, *, name: str, phone: str) -> str:
        return await self._keep(self._callbacks, "cb_", who, {
            "name": name, "phone": phone, "status": "requested"})

    async def purge_expired(self, now: datetime | None = None) -> int:
        """Remove the requests past their retention; how many went."""
        cutoff = {"expires_at": {"$lte": now or datetime.now(UTC)}}
        removed = 0
        for col in (self._messages, self._callbacks):
            removed += (await col.delete_many(cutoff)).deleted_count
        return removed

    async def _keep(self, col: AsyncCollection[Document], prefix: str, who: Requester,
                    fields: dict[str, Any]) -> str:
        now = time.time()
        doc = {"_id": prefix + secrets.token_urlsafe(12), "site": who.site,
               "visitor": who.visitor, "customer": who.customer, "queue": who.queue,
               **fields, "created_at": now,
               "expires_at": datetime.fromtimestamp(now, UTC) + self._retention}
        await col.insert_one(doc)
        await self._purge_now_and_then()
        return str(doc["_id"])

    async def _purge_now_and_then(self) -> None:
        """At most once an hour per process, on a write: no background task to own."""
        tick = self._clock()
        if self._purged_at is None or tick - self._purged_at >= PURGE_EVERY_SECONDS:
            self._purged_at = tick
            await self.purge_expired()
