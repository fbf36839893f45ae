"""Group commit: inserts that arrive together go to MongoDB as one batch, each caller still
waiting for its own document to be stored (and getting its own duplicate-key error)."""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

Document = dict[str, Any]
DUPLICATE_KEY = 11000
MAX_BATCH = 200


class GroupInsert:
    """``await insert(doc)`` returns once ``doc`` is stored. While one batch is being written
    the next one gathers: under load a message costs a share of one commit instead of a
    commit of its own (the embedded nx-27017 commits each write to SQLite)."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        self._pending: list[tuple[Document, asyncio.Future[None]]] = []
        self._writing = False
        # Not an app background task: each batch is awaited by the callers whose documents
        # it holds (and must finish for them), so it lives exactly as long as they wait. The
        # reference only keeps the event loop from dropping it.
        self._drainer: asyncio.Task[None] | None = None

    async def insert(self, doc: Document) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((doc, future))
        if not self._writing:
            self._writing = True
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._write(batch)
        finally:
            self._writing = False

    async def _write(self, batch: list[tuple[Document, asyncio.Future[None]]]) -> None:
        failed: dict[int, BaseException] = {}
        try:
            await self._collection.insert_many([doc for doc, _ in batch], ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors") or []:
                index = int(error.get("index", -1))
                if error.get("code") == DUPLICATE_KEY:
                    failed[index] = DuplicateKeyError(str(error.get("errmsg")), DUPLICATE_KEY)
                else:
                    failed[index] = exc
            if exc.details.get("writeConcernErrors"):
                failed = dict.fromkeys(range(len(batch)), exc)
        except Exception as exc:  # the whole batch failed: every caller hears it
            failed = dict.fromkeys(range(len(batch)), exc)
        for index, (_, future) in enumerate(batch):
            if future.done():
                continue
            if index in failed:
                future.set_exception(failed[index])
            else:
                future.set_result(None)
