"""Call recordings: their files under the data dir, their ``recordings`` documents, retention."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from engage.dates import utc, whole_seconds
from engage.errors import NotFound
from engage.tasks import cancel_and_wait

log = logging.getLogger("engage.recordings")

Document = dict[str, Any]

COLLECTION = "recordings"
ID_RE = re.compile(r"^rec_[A-Za-z0-9_-]{8,64}$")
EXPIRE_EVERY_SECONDS = 3600
EXTENSIONS = {"audio/ogg": "ogg", "video/webm": "webm"}
NO_SUCH = "No such recording."


def public(doc: Document) -> dict[str, Any]:
    """What staff see of a recording (never where it lies on disk)."""
    return {"id": doc["_id"], "call": doc["call"], "interaction": doc["interaction"],
            "queue": doc["queue"], "agent": doc["agent"], "visitor": doc["visitor"],
            "media": doc["media"], "content_type": doc["content_type"],
            "state": doc["state"], "started_ms": doc["started_ms"],
            "ended_ms": doc.get("ended_ms"), "duration_ms": int(doc.get("duration_ms") or 0),
            "size": int(doc.get("size") or 0),
            "expires_at": utc(doc["expires_at"]).isoformat()}


def download_headers(doc: Document) -> dict[str, str]:
    """A recording is served as an attachment named after its call, never sniffed."""
    name = f"{doc['_id']}.{EXTENSIONS.get(doc['content_type'], 'bin')}"
    return {"Content-Type": str(doc["content_type"]),
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, no-store"}


class RecordingStore:
    """Files under ``root/<yyyy-mm-dd>/<id>.<ext>``; metadata in MongoDB ``recordings``."""

    def __init__(self, db: AsyncDatabase[Document], root: Path, *, retention_days: int,
                 node_id: str = "") -> None:
        self._col = db[COLLECTION]
        self.root = root
        self.retention_days = retention_days
        self.node_id = node_id
        self._task: asyncio.Task[None] | None = None

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("expires_at", ASCENDING)])
        await self._col.create_index([("interaction", ASCENDING)])

    async def start(self) -> None:
        await self.ensure_indexes()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="recording-expiry")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait([task])

    async def _run(self) -> None:
        while True:
            try:
                removed = await self.expire()
                if removed:
                    log.info("expired recordings", extra={"removed": removed})
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recording expiry failed; trying again next hour")
            await asyncio.sleep(EXPIRE_EVERY_SECONDS)

    async def begin(self, *, call: str, interaction: str, queue: str, agent: str,
                    visitor: str, media: str, content_type: str) -> tuple[str, Path]:
        """A new recording's id and the file to write; its document says "recording" until
        ``complete`` (a node that dies leaves a readable file and that state)."""
        now = datetime.now(UTC)
        rec_id = "rec_" + secrets.token_urlsafe(18)
        day = now.strftime("%Y-%m-%d")
        relative = f"{day}/{rec_id}.{EXTENSIONS[content_type]}"
        path = self.root / relative
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        await self._col.insert_one({
            "_id": rec_id, "call": call, "interaction": interaction, "queue": queue,
            "agent": agent, "visitor": visitor, "media": media, "content_type": content_type,
            "state": "recording", "started_ms": int(now.timestamp() * 1000), "ended_ms": None,
            "duration_ms": 0, "path": relative, "size": 0, "node": self.node_id,
            "created_at": now, "expires_at": now + timedelta(days=self.retention_days)})
        return rec_id, path

    async def complete(self, rec_id: str, *, duration_ms: int, size: int) -> Document | None:
        """Mark the recording finished; None when it is gone (expired meanwhile)."""
        ended = int(datetime.now(UTC).timestamp() * 1000)
        await self._col.update_one({"_id": rec_id}, {"$set": {
            "state": "complete", "ended_ms": ended, "duration_ms": duration_ms, "size": size}})
        return await self._col.find_one({"_id": rec_id})

    async def get(self, rec_id: str) -> tuple[Document, Path]:
        """The recording's document and file; NotFound when unknown, expired or missing."""
        if not isinstance(rec_id, str) or not ID_RE.fullmatch(rec_id):
            raise NotFound(NO_SUCH)
        doc = await self._col.find_one({"_id": rec_id})
        if doc is None or utc(doc["expires_at"]) <= datetime.now(UTC):
            raise NotFound(NO_SUCH)
        path = self._path(str(doc["path"]))
        if not await asyncio.to_thread(path.is_file):
            raise NotFound(NO_SUCH)
        return doc, path

    async def for_interaction(self, ix: str) -> list[dict[str, Any]]:
        cursor = self._col.find({"interaction": ix}).limit(500)
        now = datetime.now(UTC)
        docs = [doc async for doc in cursor if utc(doc["expires_at"]) > now]
        return [public(doc) for doc in sorted(docs, key=lambda d: d["started_ms"])]

    def _path(self, relative: str) -> Path:
        # Only paths we wrote (a date we formatted, an id we generated) reach this.
        return self.root / relative

    async def expire(self, now: datetime | None = None) -> int:
        """Delete recordings past retention (files first, then their documents)."""
        moment = utc(now or datetime.now(UTC))
        total = 0
        while True:
            cursor = self._col.find({"expires_at": whole_seconds(end=moment)},
                                    projection={"path": 1, "expires_at": 1}
                                    ).sort("expires_at", ASCENDING).limit(500)
            # The query is widened to whole seconds (nx-27017); cut exactly here.
            due = [doc async for doc in cursor if utc(doc["expires_at"]) <= moment]
            if not due:
                return total
            for doc in due:
                await asyncio.to_thread(_remove, self._path(str(doc["path"])))
            result = await self._col.delete_many({"_id": {"$in": [d["_id"] for d in due]}})
            if result.deleted_count == 0:
                return total  # someone else removed them meanwhile
            total += result.deleted_count


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()  # the day's folder, once empty
    except OSError:
        pass

