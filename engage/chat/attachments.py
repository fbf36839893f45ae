"""Chat attachments on disk: content checks, size cap and quotas, access metadata, retention."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pymongo.asynchronous.database import AsyncDatabase

from engage import keys
from engage.chat.file_checks import check_content, sniff
from engage.chat.store import check_ix
from engage.errors import EngageError, NotFound, PayloadTooLarge, UnsupportedType
from engage.infra.dates import utc
from engage.infra.file_retention import RetentionSweep
from engage.infra.quota import Claim, Quotas, rest_of_day
from engage.tasks import TaskSet

Document = dict[str, Any]

COLLECTION = "attachments"
ID_RE = re.compile(r"^att_[A-Za-z0-9_-]{8,64}$")
NAME_MAX = 100
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# What browsers send when they don't know the type: the content decides then.
UNDECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "application/x-pdf":
           "application/pdf"}
MB = 1024 * 1024
DAY_S = 24 * 3600

__all__ = ["AttachmentQuota", "AttachmentStore", "QuotaExceeded", "safe_name", "sniff"]


class QuotaExceeded(EngageError):
    """No more files for now."""

    code = "quota_exceeded"
    http_status = 413


@dataclass(frozen=True)
class AttachmentQuota:
    """What one conversation, and one visitor per day, may upload (the rate of upload
    attempts is one of the visitor's limits: engage.visits.visitor_limits)."""

    conversation_files: int = 20
    conversation_bytes: int = 50 * MB
    visitor_day_files: int = 50
    visitor_day_bytes: int = 100 * MB


_QUOTA_MESSAGES = {
    ("conversation", "files"): "This conversation has as many files as it may hold.",
    ("conversation", "bytes"): "This conversation's files have reached their total size.",
    ("visitor", "files"): "You have sent as many files as allowed today.",
    ("visitor", "bytes"): "You have sent as much data as allowed today.",
}


def safe_name(filename: str, content_type: str) -> str:
    """The file's base name without path parts or control characters, at most 100 chars."""
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", filename or ""))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = " ".join(base.split()).strip(" .")
    if not base:
        base = "attachment" + {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif",
                               "image/webp": ".webp"}.get(content_type, ".pdf")
    if len(base) > NAME_MAX:
        stem, dot, ext = base.rpartition(".")
        ext = dot + ext if dot and 0 < len(ext) <= 10 else ""
        base = (stem if ext else base)[:NAME_MAX - len(ext)] + ext
    return base


def download_headers(meta: dict[str, Any]) -> dict[str, str]:
    """Headers for serving an attachment: never sniffed, never active, images inline."""
    kind = "inline" if meta["content_type"] in IMAGE_TYPES else "attachment"
    name = str(meta["name"])
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    return {
        "Content-Type": str(meta["content_type"]),
        "Content-Disposition": f"{kind}; filename=\"{fallback}\"; "
                               f"filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, max-age=300",
    }


def public(meta: Document) -> dict[str, Any]:
    """What a chat message carries about an attachment."""
    return {"id": meta["_id"], "name": meta["name"], "content_type": meta["content_type"],
            "size": int(meta["size"])}


class AttachmentStore:
    """Files under ``root/<yyyy-mm-dd>/<id>``, metadata in MongoDB ``attachments``."""

    def __init__(self, db: AsyncDatabase[Document], root: Path, *, max_bytes: int,
                 retention_days: int, tasks: TaskSet, quotas: Quotas,
                 quota: AttachmentQuota | None = None) -> None:
        self._db = db
        self._quotas = quotas
        self.quota = quota or AttachmentQuota()
        self._col = db[COLLECTION]
        self.root = root
        self.max_bytes = max_bytes
        self.retention_days = retention_days
        self._sweep = RetentionSweep(
            self._col, "attachments", projection={"day": 1},
            path_of=lambda doc: self._path(str(doc["day"]), str(doc["_id"])), tasks=tasks)

    @property
    def limit_text(self) -> str:
        megabytes = self.max_bytes / (1024 * 1024)
        return f"{megabytes:g} MB" if megabytes >= 1 else f"{self.max_bytes // 1024} KB"

    def too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The file is larger than the {self.limit_text} limit.",
                               limit_bytes=self.max_bytes)

    async def ensure_indexes(self) -> None:
        await self._sweep.ensure_indexes()

    async def start(self) -> None:
        """Indexes, then the hourly expiry sweep."""
        await self._sweep.start()

    async def stop(self) -> None:
        await self._sweep.stop()

    async def save(self, ix: str, *, owner: str, filename: str, declared_type: str,
                   data: bytes) -> dict[str, Any]:
        """Check, store and describe one upload: ``{id, name, content_type, size}``. The
        content must decode as its type; the conversation's and the owner's daily quotas
        are reserved before the file is written and given back if it is not."""
        check_ix(ix)
        if len(data) > self.max_bytes:
            raise self.too_large()
        content_type = sniff(data)
        if content_type is None:
            raise UnsupportedType("Only PNG, JPEG, GIF, WebP images and PDF files are accepted.")
        declared = (declared_type or "").split(";")[0].strip().lower()
        declared = ALIASES.get(declared, declared)
        if declared not in UNDECLARED and declared != content_type:
            raise UnsupportedType(
                f"The file says it is {declared[:60]} but its content is {content_type}.")
        # Decoding is CPU work on up to max_bytes: off the event loop.
        await asyncio.to_thread(check_content, data, content_type)
        now = datetime.now(UTC)
        day = now.strftime("%Y-%m-%d")
        claims = self._claims(ix, owner, day, rest_of_day(now), len(data))
        refusal = await self._quotas.reserve(claims)
        if refusal is not None:
            scope = refusal.claim.scope
            message = _QUOTA_MESSAGES[scope, refusal.field]
            if scope == "visitor":
                raise QuotaExceeded(message, scope=scope, retry_after=refusal.retry_after)
            raise QuotaExceeded(message, scope=scope)
        att_id = "att_" + secrets.token_urlsafe(18)
        meta: Document = {
            "_id": att_id, "interaction": ix, "owner": owner,
            "name": safe_name(filename, content_type), "content_type": content_type,
            "size": len(data), "day": day, "created_at": now,
            "expires_at": now + timedelta(days=self.retention_days)}
        path = self._path(day, att_id)
        try:
            await asyncio.to_thread(_write, path, data)
            await self._col.insert_one(meta)
        except BaseException:
            await asyncio.to_thread(path.unlink, True)
            await self._quotas.release(claims)
            raise
        return public(meta)

    def _claims(self, ix: str, owner: str, day: str, day_left: int, size: int
                ) -> list[Claim]:
        quota, used = self.quota, {"files": 1, "bytes": size}
        return [
            # The conversation's files stay for the retention period: so does its count.
            Claim(keys.quota_attachments_conversation(ix), used,
                  {"files": quota.conversation_files, "bytes": quota.conversation_bytes},
                  self.retention_days * DAY_S, scope="conversation"),
            Claim(keys.quota_attachments_visitor(day, owner), used,
                  {"files": quota.visitor_day_files, "bytes": quota.visitor_day_bytes},
                  day_left, scope="visitor"),
        ]

    def _path(self, day: str, att_id: str) -> Path:
        # Both parts are ours (a date we formatted, an id we generated), never the client's.
        return self.root / day / att_id

    async def get(self, att_id: str) -> tuple[dict[str, Any], Path]:
        """The attachment's metadata (``id, name, content_type, size, interaction, owner``)
        and its file; NotFound when unknown or past retention."""
        if not isinstance(att_id, str) or not ID_RE.fullmatch(att_id):
            raise NotFound("No such attachment.")
        meta = await self._col.find_one({"_id": att_id})
        if meta is None or utc(meta["expires_at"]) <= datetime.now(UTC):
            raise NotFound("No such attachment.")
        path = self._path(str(meta["day"]), att_id)
        if not await asyncio.to_thread(path.is_file):
            raise NotFound("No such attachment.")
        return {**public(meta), "interaction": meta["interaction"], "owner": meta["owner"]}, path

    async def expire(self, now: datetime | None = None) -> int:
        """Delete attachments past retention (files first, then their records)."""
        return await self._sweep.expire(now)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    with open(partial, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)


