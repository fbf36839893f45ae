"""Files on disk whose MongoDB documents carry `expires_at`: the hourly sweep that deletes them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from engage.infra.dates import utc, whole_seconds
from engage.tasks import TaskSet

log = logging.getLogger("engage.retention")

EXPIRE_EVERY_SECONDS = 3600
BATCH = 500

Document = dict[str, Any]


class RetentionSweep:
    """Deletes the files of documents past `expires_at`, then the documents, every hour."""

    def __init__(self, col: AsyncCollection[Document], what: str, *,
                 projection: Mapping[str, int], path_of: Callable[[Document], Path],
                 tasks: TaskSet) -> None:
        self._col = col
        self._what = what  # "attachments", "recordings": for logs and the task name
        self._projection = {**projection, "expires_at": 1}
        self._path_of = path_of
        self._tasks = tasks
        self._task: asyncio.Task[None] | None = None

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("expires_at", ASCENDING)])
        await self._col.create_index([("interaction", ASCENDING)])

    async def start(self) -> None:
        await self.ensure_indexes()
        if self._task is None:
            self._task = self._tasks.every(EXPIRE_EVERY_SECONDS, self._pass,
                                           name=f"{self._what}-expiry")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await self._tasks.cancel(task)

    async def _pass(self) -> None:
        removed = await self.expire()
        if removed:
            log.info("expired %s", self._what, extra={"removed": removed})

    async def expire(self, now: datetime | None = None) -> int:
        """Delete what is past retention (files first, then their documents)."""
        moment = utc(now or datetime.now(UTC))
        total = 0
        while True:
            cursor = self._col.find({"expires_at": whole_seconds(end=moment)},
                                    projection=self._projection
                                    ).sort("expires_at", ASCENDING).limit(BATCH)
            # The query is widened to whole seconds (nx-27017); cut exactly here.
            due = [doc async for doc in cursor if utc(doc["expires_at"]) <= moment]
            if not due:
                return total
            for doc in due:
                await asyncio.to_thread(remove_file, self._path_of(doc))
            result = await self._col.delete_many({"_id": {"$in": [d["_id"] for d in due]}})
            if result.deleted_count == 0:
                return total  # someone else removed them meanwhile
            total += result.deleted_count


def remove_file(path: Path) -> None:
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()  # the day's folder, once empty
    except OSError:
        pass
