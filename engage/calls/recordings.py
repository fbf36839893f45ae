"""Call recordings: their files under the data dir, their ``recordings`` documents, retention."""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from engage.errors import NotFound
from engage.infra.dates import utc
from engage.infra.file_retention import RetentionSweep
from engage.tasks import TaskSet

Document = dict[str, Any]

COLLECTION = "recordings"
ID_RE = re.compile(r"^rec_[A-Za-z0-9_-]{8,64}$")
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
                 tasks: TaskSet, node_id: str = "") -> None:
        self._col = db[COLLECTION]
        self.root = root
        self.retention_days = retention_days
        self.node_id = node_id
        self._sweep = RetentionSweep(self._col, "recordings", projection={"path": 1},
                                     path_of=lambda doc: self._path(str(doc["path"])),
                                     tasks=tasks)

    async def ensure_indexes(self) -> None:
        await self._sweep.ensure_indexes()

    async def start(self) -> None:
        """Indexes, then the hourly expiry sweep."""
        await self._sweep.start()

    async def stop(self) -> None:
        await self._sweep.stop()

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
        return await self._sweep.expire(now)


