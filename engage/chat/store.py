"""Chat conversations: ordered, deduplicated, persisted messages, receipts, ratings, transcripts."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any, Literal

import redis.asyncio as aioredis
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from engage import keys
from engage.acd.interaction import IX_RE
from engage.errors import Conflict, EngageError, InvalidPayload
from engage.infra.clock import now_ms
from engage.infra.group_commit import GroupInsert

Document = dict[str, Any]
Sender = Literal["visitor", "agent", "system"]
Side = Literal["visitor", "agent"]
ReceiptKind = Literal["delivered", "read"]

MESSAGES = "chat_messages"
CONVERSATIONS = "chat_conversations"
RATINGS = "chat_ratings"

CLIENT_ID_RE = re.compile(r"^[0-9a-fA-F-]{32,36}$")  # the UUID pattern of signaling.schemas
TEXT_MAX = 4000
COMMENT_MAX = 2000
NAME_MAX = 120
SYNC_MAX = 500
# The Redis side of a conversation (sequence, client ids, receipts) outlives the
# interaction hash (24 h); once gone it is rebuilt from MongoDB on first use.
STATE_TTL = 7 * 24 * 3600
ATTACHMENT_KEYS = ("id", "name", "content_type", "size")


def state_key(ix: str) -> str:
    """Hash: ``seq`` (last allocated), ``c:<client_id>`` -> seq, ``r:<side>:<kind>``."""
    return keys.chat_state(ix)


# One hash per conversation keeps the counter and the client ids together, so a Redis data
# loss takes both and the rebuild from MongoDB sees a consistent picture.
_SCRIPT = """
local h, op, ttl = KEYS[1], ARGV[1], ARGV[2]
local function raise_to(floor)
  if floor ~= '' and tonumber(floor) > tonumber(redis.call('HGET', h, 'seq') or '0') then
    redis.call('HSET', h, 'seq', floor)
  end
end
local function allocate(cid)
  local seq = redis.call('HINCRBY', h, 'seq', 1)
  redis.call('HSET', h, 'c:' .. cid, seq)
  redis.call('EXPIRE', h, ttl)
  return {seq, 1}
end
if op == 'alloc' then
  -- ARGV[5]: the seq MongoDB already holds for this client id (rebuilding after a loss).
  local cid, floor, stored = ARGV[3], ARGV[4], ARGV[5]
  local known = redis.call('HGET', h, 'c:' .. cid)
  if known then return {tonumber(known), 0} end
  if floor == '' and redis.call('HEXISTS', h, 'seq') == 0 then return {-1, 0} end
  raise_to(floor)
  if stored ~= '' then
    redis.call('HSET', h, 'c:' .. cid, stored)
    redis.call('EXPIRE', h, ttl)
    return {tonumber(stored), 0}
  end
  return allocate(cid)
elseif op == 'realloc' then
  -- The seq handed out is taken in MongoDB by another message: move past MongoDB's max.
  local cid, floor, stale = ARGV[3], ARGV[4], ARGV[5]
  local known = redis.call('HGET', h, 'c:' .. cid)
  if known and known ~= stale then return {tonumber(known), 0} end
  raise_to(floor)
  return allocate(cid)
elseif op == 'floor' then
  raise_to(ARGV[3])
  redis.call('EXPIRE', h, ttl)
  return {tonumber(redis.call('HGET', h, 'seq') or '0'), 0}
elseif op == 'receipt' then
  local side, kind, seq = ARGV[3], ARGV[4], tonumber(ARGV[5])
  local last = tonumber(redis.call('HGET', h, 'seq') or '0')
  if seq > last then seq = last end
  local kinds = {kind}
  if kind == 'read' then kinds = {'read', 'delivered'} end
  for _, k in ipairs(kinds) do
    local f = 'r:' .. side .. ':' .. k
    if seq > tonumber(redis.call('HGET', h, f) or '0') then redis.call('HSET', h, f, seq) end
  end
  redis.call('EXPIRE', h, ttl)
end
return redis.call('HMGET', h, 'r:visitor:delivered', 'r:visitor:read', 'r:agent:delivered',
                  'r:agent:read')
"""


def check_ix(ix: object) -> str:
    if not isinstance(ix, str) or not IX_RE.fullmatch(ix):
        raise InvalidPayload("interaction: an interaction id like ix0000000001")
    return ix


def to_message(doc: Document) -> dict[str, Any]:
    """A stored message as the wire's ChatMessage (PROTOCOL.md)."""
    message: dict[str, Any] = {
        "interaction": doc["interaction"], "seq": int(doc["seq"]), "client_id": doc["client_id"],
        "from": doc["from"], "name": doc.get("name", ""), "text": doc.get("text", ""),
        "at": int(doc["at_ms"])}
    if doc.get("attachment"):
        message["attachment"] = doc["attachment"]
    if doc.get("meta"):
        message["meta"] = doc["meta"]
    return message


def _receipts(raw: list[Any]) -> dict[str, dict[str, int]]:
    values = [int(v) if v is not None else 0 for v in raw]
    return {"visitor": {"delivered_seq": values[0], "read_seq": values[1]},
            "agent": {"delivered_seq": values[2], "read_seq": values[3]}}


def _attachment(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(k in value for k in ATTACHMENT_KEYS):
        raise InvalidPayload("attachment: {id, name, content_type, size}")
    return {k: value[k] for k in ATTACHMENT_KEYS}


TOUCH_EVERY_MS = 60_000
TOUCH_CACHE_MAX = 50_000


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Messages by client id (duplicates stored once) and by sequence (replay); a visitor's
    and a customer's conversations (the ledger's contact history)."""
    await db[MESSAGES].create_index(
        [("interaction", ASCENDING), ("client_id", ASCENDING)], unique=True)
    await db[MESSAGES].create_index([("interaction", ASCENDING), ("seq", ASCENDING)],
                                    unique=True)
    await db[CONVERSATIONS].create_index([("visitor", ASCENDING), ("last_ms", DESCENDING)])
    await db[CONVERSATIONS].create_index([("customer", ASCENDING)])


class ChatStore:
    """Messages in MongoDB (``chat_messages``), sequence and receipts in Redis."""

    def __init__(self, db: AsyncDatabase[Document], redis: aioredis.Redis) -> None:
        self._db = db
        self._redis = redis
        self._messages = db[MESSAGES]
        self._conversations = db[CONVERSATIONS]
        self._script = redis.register_script(_SCRIPT)
        self._indexed = False
        self._touched: dict[tuple[str, str], int] = {}  # (ix, writer) -> last refresh, ms
        self._inserts = GroupInsert(self._messages)
        self._index_lock = asyncio.Lock()

    async def ensure_indexes(self) -> None:
        """Created on first use: the store is built before anything else runs."""
        if self._indexed:
            return
        async with self._index_lock:
            if not self._indexed:
                await ensure_indexes(self._messages.database)
                self._indexed = True

    # -- messages ----------------------------------------------------------------------------
    async def send(self, ix: str, *, sender: Sender, name: str, client_id: str, text: str,
                   attachment: dict[str, Any] | None = None, meta: dict[str, Any] | None = None,
                   username: str = "") -> tuple[dict[str, Any], bool]:
        """Store one message (before returning) and give it its sequence number.

        Returns the ChatMessage and whether it was a duplicate of a stored message (same
        ``client_id``; the stored one is returned unchanged). ``username`` names the staff
        member behind an agent message (``name`` is what the visitor sees); it is recorded
        in the conversation's ``agents`` and defaults to ``name``.
        """
        check_ix(ix)
        if sender not in ("visitor", "agent", "system"):
            raise InvalidPayload("from: visitor, agent or system")
        if not isinstance(client_id, str) or not CLIENT_ID_RE.fullmatch(client_id):
            raise InvalidPayload("client_id: a UUID")
        if not isinstance(name, str) or len(name) > NAME_MAX:
            raise InvalidPayload(f"name: at most {NAME_MAX} characters")
        if not isinstance(text, str) or len(text) > TEXT_MAX:
            raise InvalidPayload(f"text: at most {TEXT_MAX} characters")
        stored_attachment = _attachment(attachment)
        if not text.strip() and stored_attachment is None:
            raise InvalidPayload("a message needs text or an attachment")
        client_id = client_id.lower()
        await self.ensure_indexes()

        seq, fresh = await self._allocate(ix, client_id)
        if not fresh and (stored := await self._stored(ix, client_id)) is not None:
            return to_message(stored), True
        at = now_ms()
        writer = (username or name) if sender == "agent" else ""
        # The conversation record (last activity, agents who wrote) is refreshed once a
        # minute per writer, not per message: one MongoDB write per message is enough.
        last = self._touched.get((ix, writer))
        if last is None or at - last >= TOUCH_EVERY_MS:
            await self._touch(ix, at, writer)
            if len(self._touched) >= TOUCH_CACHE_MAX:
                self._touched.clear()
            self._touched[(ix, writer)] = at
        doc: Document = {"interaction": ix, "seq": seq, "client_id": client_id, "from": sender,
                         "name": name, "text": text, "at_ms": at,
                         "at": datetime.fromtimestamp(at / 1000, UTC)}
        if stored_attachment is not None:
            doc["attachment"] = stored_attachment
        if meta:
            doc["meta"] = dict(meta)
        if sender == "agent":
            doc["username"] = username or name
        for _ in range(5):
            try:
                await self._inserts.insert(dict(doc))
                return to_message(doc), False
            except DuplicateKeyError:
                if (stored := await self._stored(ix, client_id)) is not None:
                    return to_message(stored), True
                # Another message holds this seq: the counter fell behind MongoDB.
                doc["seq"] = await self._reallocate(ix, client_id, int(doc["seq"]))
        raise EngageError("could not allocate a message sequence number")

    async def _allocate(self, ix: str, client_id: str) -> tuple[int, bool]:
        """(seq, newly allocated) for ``client_id``; the same seq on every retry."""
        seq, fresh = await self._script(keys=[state_key(ix)],
                                        args=["alloc", STATE_TTL, client_id, "", ""])
        if int(seq) >= 0:
            return int(seq), bool(fresh)
        # No Redis state (first use, expiry or data loss): MongoDB is the truth.
        stored = await self._stored(ix, client_id)
        seq, fresh = await self._script(keys=[state_key(ix)], args=[
            "alloc", STATE_TTL, client_id, await self._max_seq(ix),
            "" if stored is None else int(stored["seq"])])
        return int(seq), bool(fresh)

    async def _reallocate(self, ix: str, client_id: str, stale: int) -> int:
        seq, _ = await self._script(keys=[state_key(ix)], args=[
            "realloc", STATE_TTL, client_id, await self._max_seq(ix), stale])
        return int(seq)

    async def _stored(self, ix: str, client_id: str) -> Document | None:
        return await self._messages.find_one({"interaction": ix, "client_id": client_id})

    async def _max_seq(self, ix: str) -> int:
        top = await self._messages.find_one({"interaction": ix}, sort=[("seq", DESCENDING)],
                                            projection={"seq": 1})
        return int(top["seq"]) if top else 0

    async def since(self, ix: str, after_seq: int, limit: int = SYNC_MAX) -> list[dict[str, Any]]:
        """Messages after ``after_seq`` in sequence order (the gap a reconnecting client missed)."""
        check_ix(ix)
        if not isinstance(after_seq, int) or after_seq < 0:
            raise InvalidPayload("after_seq: a whole number >= 0")
        await self.ensure_indexes()
        cursor = self._messages.find({"interaction": ix, "seq": {"$gt": after_seq}}).sort(
            "seq", ASCENDING).limit(max(1, min(limit, SYNC_MAX)))
        return [to_message(doc) async for doc in cursor]

    async def last_seq(self, ix: str) -> int:
        check_ix(ix)
        raw = await self._redis.hget(state_key(ix), "seq")
        if raw is not None:
            return int(raw)
        seq, _ = await self._script(keys=[state_key(ix)],
                                    args=["floor", STATE_TTL, await self._max_seq(ix)])
        return int(seq)

    # -- receipts ----------------------------------------------------------------------------
    async def receipt(self, ix: str, side: Side, kind: ReceiptKind, seq: int
                      ) -> dict[str, dict[str, int]]:
        """Raise ``side``'s delivered/read mark to ``seq`` (never lowers; read implies
        delivered; clamped to the last sequence number)."""
        check_ix(ix)
        if side not in ("visitor", "agent") or kind not in ("delivered", "read"):
            raise InvalidPayload("side: visitor or agent; kind: delivered or read")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise InvalidPayload("seq: a whole number >= 0")
        await self.last_seq(ix)  # rebuilds the counter first if Redis lost it
        raw = await self._script(keys=[state_key(ix)],
                                 args=["receipt", STATE_TTL, side, kind, seq])
        return _receipts(list(raw))

    async def receipts(self, ix: str) -> dict[str, dict[str, int]]:
        check_ix(ix)
        return _receipts(await self._redis.hmget(
            state_key(ix), ["r:visitor:delivered", "r:visitor:read", "r:agent:delivered",
                            "r:agent:read"]))

    # -- conversations -----------------------------------------------------------------------
    async def open(self, ix: str, *, visitor: str, site: str, customer: str = "") -> None:
        """Record who the conversation is with (idempotent; the first visitor stays)."""
        check_ix(ix)
        await self.ensure_indexes()
        at = now_ms()
        await self._upsert(ix, {"$setOnInsert": {
            "visitor": visitor, "site": site, "customer": customer, "agents": [],
            "started_at": datetime.fromtimestamp(at / 1000, UTC), "last_ms": at}})
        # A message may have created the document first, without the visitor.
        await self._conversations.update_one(
            {"_id": ix, "visitor": None},
            {"$set": {"visitor": visitor, "site": site, "customer": customer}})

    async def _touch(self, ix: str, at: int, agent: str) -> None:
        # Timestamps of updates are epoch ms: nx-27017 stores a datetime given to $set on an
        # existing document as a string (pinned in tests/integration/test_chat_store.py).
        update: Document = {
            "$setOnInsert": {"started_at": datetime.fromtimestamp(at / 1000, UTC)},
            "$set": {"last_ms": at}}
        if agent:
            update["$addToSet"] = {"agents": agent}
        await self._upsert(ix, update)

    async def _upsert(self, ix: str, update: Document) -> None:
        try:
            await self._conversations.update_one({"_id": ix}, update, upsert=True)
        except DuplicateKeyError:
            # Two first writers raced on the upsert; the document exists now.
            await self._conversations.update_one({"_id": ix}, update, upsert=True)

    async def conversation(self, ix: str) -> dict[str, Any] | None:
        """The conversation's record (kept after the interaction's Redis hash expired)."""
        check_ix(ix)
        doc = await self._conversations.find_one({"_id": ix})
        if doc is None:
            return None
        doc["interaction"] = doc.pop("_id")
        doc.setdefault("agents", [])
        doc.setdefault("visitor", "")
        return doc

    async def visitor_conversations(self, visitor_id: str, limit: int = 20
                                    ) -> list[dict[str, Any]]:
        """The visitor's conversations, most recent first."""
        await self.ensure_indexes()
        cursor = self._conversations.find({"visitor": visitor_id}).sort(
            "last_ms", DESCENDING).limit(max(1, min(limit, 100)))
        out = []
        async for doc in cursor:
            doc["interaction"] = doc.pop("_id")
            out.append(doc)
        return out

    async def rate(self, ix: str, score: int, comment: str = "") -> None:
        """The visitor's rating; once per conversation (Conflict the second time)."""
        check_ix(ix)
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise InvalidPayload("score: a whole number from 1 to 5")
        if not isinstance(comment, str) or len(comment) > COMMENT_MAX:
            raise InvalidPayload(f"comment: at most {COMMENT_MAX} characters")
        at = now_ms()
        try:
            # The rating's _id is the interaction: MongoDB itself refuses a second one.
            await self._db[RATINGS].insert_one({
                "_id": ix, "score": score, "comment": comment, "at_ms": at,
                "at": datetime.fromtimestamp(at / 1000, UTC)})
        except DuplicateKeyError:
            raise Conflict("This conversation has already been rated.") from None
        await self._upsert(ix, {"$set": {"rating": score, "rated_ms": at}})

    async def transcript_text(self, ix: str) -> str:
        """Plain text, one line per message; continuation lines are indented so message text
        cannot pass for a message of its own."""
        check_ix(ix)
        lines = [f"Chat transcript {ix}", ""]
        after = 0
        while batch := await self.since(ix, after):
            for message in batch:
                lines.append(_transcript_line(message))
            after = batch[-1]["seq"]
        if len(lines) == 2:
            lines.append("(no messages)")
        return "\n".join(lines) + "\n"


def _transcript_line(message: dict[str, Any]) -> str:
    when = datetime.fromtimestamp(message["at"] / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    who = {"visitor": "Visitor", "agent": "Agent", "system": "System"}[message["from"]]
    if message["from"] != "system" and message["name"]:
        who = f"{who} {_one_line(message['name'])}"
    parts = [message["text"]] if message["text"] else []
    if message.get("attachment"):
        parts.append(f"[attachment: {_one_line(str(message['attachment']['name']))}]")
    body = "\n".join(parts).replace("\r\n", "\n").replace("\r", "\n")
    return f"[{when}] {who}: " + body.replace("\n", "\n    ")


def _one_line(value: str) -> str:
    return " ".join(value.split())
