"""The team bulletin board: notes agents and supervisors post for everyone, pushed live."""

# MongoDB `bulletin_posts` holds the posts; every change is published as bus.BULLETIN_CHANGED
# with the post (or the deleted id) and the signaling adapter pushes it to every staff socket.
# Times are epoch-ms ints. A post is written whole (insert/replace), never with $set, because
# nx-27017 stores a top-level boolean written by $set as 0/1.

from __future__ import annotations

import re
import secrets
import time
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aioredis
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from engage import bus
from engage.errors import Forbidden, InvalidPayload, NotFound
from engage.models import Role, StaffSession

Document = dict[str, Any]
Posts = list[Document]
COLLECTION = "bulletin_posts"
MAX_TEXT = 2000
MAX_LIFETIME_MS = 366 * 86_400_000  # a post may be set to expire at most a year ahead
MAX_LIMIT = 200
POST_ID_RE = re.compile(r"^post_[A-Za-z0-9_-]{6,40}$")
POSTERS = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
MODERATORS = frozenset({Role.SUPERVISOR, Role.ADMIN})  # pin, and delete anyone's post
POSTED, DELETED, PINNED = "posted", "deleted", "pinned"


def post_text(raw: Any) -> str:
    """A post's text: plain, 1 to MAX_TEXT characters, line breaks kept."""
    if not isinstance(raw, str):
        raise InvalidPayload("text: the text of the post", field="text")
    text = raw.replace("\r\n", "\n").strip()
    if any(unicodedata.category(c)[0] == "C" and c not in "\n\t" for c in text):
        raise InvalidPayload("text: plain text without control characters", field="text")
    if not text or len(text) > MAX_TEXT:
        raise InvalidPayload(f"text: 1 to {MAX_TEXT} characters", field="text")
    return text


def expiry(raw: Any, now_ms: int) -> int | None:
    """When the post stops being listed (epoch ms, in the future), or None for never."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) \
            or not now_ms < raw <= now_ms + MAX_LIFETIME_MS:
        raise InvalidPayload("expires_ms: a time in the next year, in epoch milliseconds, "
                             "or null", field="expires_ms")
    return raw


def _public(doc: Mapping[str, Any]) -> Document:
    out = {k: v for k, v in doc.items() if k != "_id"}
    out["post_id"] = doc["_id"]
    out["pinned"] = bool(doc.get("pinned"))
    out["edited"] = bool(doc.get("edited"))
    return out


def _live(doc: Mapping[str, Any], now_ms: int) -> bool:
    expires = doc.get("expires_ms")
    return expires is None or int(expires) > now_ms


class BulletinService:
    """Posts on the board, for every node; ``clock`` (epoch seconds) is replaceable in tests."""

    def __init__(self, db: AsyncDatabase[Document], redis: aioredis.Redis, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._redis = redis
        self._col = db[COLLECTION]
        self.clock = clock

    async def start(self) -> None:
        await self._col.create_index([("pinned", ASCENDING), ("created_ms", DESCENDING)])

    async def stop(self) -> None:
        return None

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def _announce(self, action: str, post: Document) -> None:
        await bus.publish(self._redis, bus.BULLETIN_CHANGED, action=action, post=post)

    async def list(self, limit: int = 50) -> Posts:
        """Live posts: pinned first, then newest; expired ones are left out."""
        limit = max(1, min(limit, MAX_LIMIT))
        now = self._now_ms()
        pinned = [d async for d in self._col.find({"pinned": True}).sort("created_ms", -1)]
        out = [_public(d) for d in pinned if _live(d, now)][:limit]
        # Expired posts stay on record, so read on until enough live ones are found.
        async for doc in self._col.find({"pinned": False}).sort("created_ms", -1):
            if len(out) >= limit:
                break
            if _live(doc, now):
                out.append(_public(doc))
        return out

    async def get(self, post_id: str) -> Document:
        doc = await self._col.find_one({"_id": post_id}) \
            if POST_ID_RE.fullmatch(post_id) else None
        if doc is None or not _live(doc, self._now_ms()):
            raise NotFound("no such post", post=post_id[:80])
        return _public(doc)

    async def post(self, by: StaffSession, text: Any, *, expires_ms: Any = None,
                   pinned: Any = False) -> Document:
        """A new post by ``by``; only supervisors and admins may pin it at once."""
        if by.role not in POSTERS:
            raise Forbidden("marketers read the board but do not post")
        if not isinstance(pinned, bool):
            raise InvalidPayload("pinned: true or false", field="pinned")
        if pinned and by.role not in MODERATORS:
            raise Forbidden("only supervisors and admins pin posts")
        now = self._now_ms()
        stored: Document = {
            "_id": "post_" + secrets.token_urlsafe(9),
            "author": {"username": by.username, "display_name": by.display_name},
            "text": post_text(text), "pinned": pinned, "created_ms": now,
            "expires_ms": expiry(expires_ms, now), "edited": False}
        await self._col.insert_one(stored)
        post = _public(stored)
        await self._announce(POSTED, post)
        return post

    async def pin(self, post_id: str, pinned: Any, by: StaffSession) -> Document:
        if by.role not in MODERATORS:
            raise Forbidden("only supervisors and admins pin posts")
        if not isinstance(pinned, bool):
            raise InvalidPayload("pinned: true or false", field="pinned")
        current = await self.get(post_id)
        stored = {k: v for k, v in current.items() if k != "post_id"} | {"pinned": pinned}
        result = await self._col.replace_one({"_id": post_id}, stored)
        if result.matched_count == 0:  # deleted meanwhile
            raise NotFound("no such post", post=post_id[:80])
        post = _public({"_id": post_id, **stored})
        await self._announce(PINNED, post)
        return post

    async def delete(self, post_id: str, by: StaffSession) -> None:
        """Authors delete their own posts; supervisors and admins delete any."""
        doc = await self._col.find_one({"_id": post_id}) \
            if POST_ID_RE.fullmatch(post_id) else None
        if doc is None:
            raise NotFound("no such post", post=post_id[:80])
        if by.role not in MODERATORS and doc["author"]["username"] != by.username:
            raise Forbidden("you can delete only your own posts")
        result = await self._col.delete_one({"_id": post_id})
        if result.deleted_count == 0:
            raise NotFound("no such post", post=post_id[:80])
        await self._announce(DELETED, {"post_id": post_id})
