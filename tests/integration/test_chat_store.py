"""ChatStore on real Redis and nx-27017: order, dedupe, retries, recovery, receipts, ratings."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import AutoReconnect, DuplicateKeyError

from engage.chat.store import MESSAGES, ChatStore
from engage.errors import Conflict, InvalidPayload
from engage.infra.backends import Document
from engage.infra.group_commit import GroupInsert

IX = "ix0000000042"


def cid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
async def chat(db: AsyncDatabase[Document], redis: aioredis.Redis) -> ChatStore:
    store = ChatStore(db, redis)
    await store.ensure_indexes()
    return store


# -- the MongoDB subset this store relies on ---------------------------------------------------
async def test_contract_unique_indexes_raise_duplicate_key(chat: ChatStore,
                                                            db: AsyncDatabase[Document]) -> None:
    base = {"interaction": IX, "from": "visitor", "name": "", "text": "x", "at_ms": 0}
    await db[MESSAGES].insert_one({**base, "seq": 1, "client_id": "a"})
    with pytest.raises(DuplicateKeyError):
        await db[MESSAGES].insert_one({**base, "seq": 2, "client_id": "a"})
    with pytest.raises(DuplicateKeyError):
        await db[MESSAGES].insert_one({**base, "seq": 1, "client_id": "b"})
    # Unique per conversation only.
    await db[MESSAGES].insert_one({**base, "interaction": "ix0000000043", "seq": 1,
                                   "client_id": "a"})


async def test_contract_set_of_a_datetime_is_the_known_gap(db: AsyncDatabase[Document]) -> None:
    """nx-27017 stores a datetime given to $set on an existing document as a string, so the
    chat and mail stores keep update timestamps as epoch ms; this tells us when it closes."""
    moment = datetime(2026, 11, 22, 10, 31, tzinfo=UTC)
    await db.probe.insert_one({"_id": 1, "inserted": moment})
    await db.probe.update_one({"_id": 1}, {"$set": {"updated": moment}})
    doc = await db.probe.find_one({"_id": 1})
    assert doc is not None and doc["inserted"] == moment
    if os.environ.get("ENGAGE_MONGO_URL"):
        assert doc["updated"] == moment
    else:
        assert isinstance(doc["updated"], str)


# -- messages ----------------------------------------------------------------------------------
async def test_messages_get_consecutive_sequence_numbers_and_replay(chat: ChatStore) -> None:
    sent = []
    for i in range(5):
        message, duplicate = await chat.send(IX, sender="visitor", name="Ann", client_id=cid(),
                                             text=f"m{i}")
        assert duplicate is False
        sent.append(message)
    assert [m["seq"] for m in sent] == [1, 2, 3, 4, 5]
    assert sent[0]["interaction"] == IX and sent[0]["from"] == "visitor"
    assert set(sent[0]) == {"interaction", "seq", "client_id", "from", "name", "text", "at"}
    assert [m["text"] for m in await chat.since(IX, 2)] == ["m2", "m3", "m4"]
    assert [m["seq"] for m in await chat.since(IX, 0, limit=2)] == [1, 2]
    assert await chat.since(IX, 5) == []
    assert await chat.since(IX, 0) == sent
    assert await chat.last_seq(IX) == 5
    assert await chat.since("ix0000000099", 0) == []


async def test_concurrent_different_messages_leave_no_holes(chat: ChatStore) -> None:
    results = await asyncio.gather(*[
        chat.send(IX, sender="agent", name="Lin", client_id=cid(), text=str(i))
        for i in range(20)])
    assert sorted(m["seq"] for m, _ in results) == list(range(1, 21))
    assert [m["seq"] for m in await chat.since(IX, 0)] == list(range(1, 21))


async def test_concurrent_sends_of_one_client_id_store_it_once(
        chat: ChatStore, db: AsyncDatabase[Document]) -> None:
    same = cid()
    results = await asyncio.gather(*[
        chat.send(IX, sender="visitor", name="Ann", client_id=same, text=f"try {i}")
        for i in range(10)])
    assert len({m["seq"] for m, _ in results}) == 1
    originals = [m for m, duplicate in results if not duplicate]
    assert len(originals) == 1
    assert all(m["text"] == originals[0]["text"] for m, _ in results)
    assert await db[MESSAGES].count_documents({"interaction": IX}) == 1
    again, duplicate = await chat.send(IX, sender="visitor", name="Ann", client_id=same,
                                       text="changed")
    assert duplicate is True and again == originals[0]


class FailingOnce:
    """Wraps the messages collection: the first insert fails the way a lost primary does."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failed = False

    async def insert_many(self, docs: list[Document], **options: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise AutoReconnect("primary stepped down")
        return await self.inner.insert_many(docs, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_retry_after_a_failed_insert_keeps_its_sequence_number(
        chat: ChatStore, monkeypatch: pytest.MonkeyPatch) -> None:
    first, _ = await chat.send(IX, sender="visitor", name="Ann", client_id=cid(), text="one")
    monkeypatch.setattr(chat, "_inserts", GroupInsert(FailingOnce(chat._messages)))
    retried = cid()
    with pytest.raises(AutoReconnect):
        await chat.send(IX, sender="visitor", name="Ann", client_id=retried, text="two")
    message, duplicate = await chat.send(IX, sender="visitor", name="Ann", client_id=retried,
                                         text="two")
    assert (message["seq"], duplicate) == (2, False)
    third, _ = await chat.send(IX, sender="visitor", name="Ann", client_id=cid(), text="three")
    assert [m["seq"] for m in await chat.since(IX, 0)] == [1, 2, 3]
    assert (first["seq"], third["seq"]) == (1, 3)


async def test_the_counter_survives_redis_data_loss(chat: ChatStore,
                                                   redis: aioredis.Redis) -> None:
    ids = [cid() for _ in range(3)]
    for i, client_id in enumerate(ids):
        await chat.send(IX, sender="visitor", name="Ann", client_id=client_id, text=f"m{i}")
    await redis.flushdb()
    again, duplicate = await chat.send(IX, sender="visitor", name="Ann", client_id=ids[1],
                                       text="replayed after the loss")
    assert (again["seq"], again["text"], duplicate) == (2, "m1", True)
    fresh, duplicate = await chat.send(IX, sender="visitor", name="Ann", client_id=cid(),
                                       text="new")
    assert (fresh["seq"], duplicate) == (4, False)
    await redis.flushdb()
    assert await chat.last_seq(IX) == 4


async def test_a_counter_behind_mongodb_moves_past_it(chat: ChatStore,
                                                       db: AsyncDatabase[Document]) -> None:
    await chat.send(IX, sender="visitor", name="Ann", client_id=cid(), text="one")
    # Another writer already holds seq 2 (e.g. a Redis restored from an old snapshot).
    await db[MESSAGES].insert_one({"interaction": IX, "seq": 2, "client_id": cid(),
                                   "from": "system", "name": "", "text": "x", "at_ms": 0})
    message, duplicate = await chat.send(IX, sender="visitor", name="Ann", client_id=cid(),
                                         text="two")
    assert (message["seq"], duplicate) == (3, False)


async def test_invalid_messages_are_refused(chat: ChatStore) -> None:
    with pytest.raises(InvalidPayload, match="text or an attachment"):
        await chat.send(IX, sender="visitor", name="Ann", client_id=cid(), text="   ")
    with pytest.raises(InvalidPayload, match="client_id"):
        await chat.send(IX, sender="visitor", name="Ann", client_id="not-a-uuid", text="x")
    with pytest.raises(InvalidPayload, match="interaction"):
        await chat.send("ix1", sender="visitor", name="Ann", client_id=cid(), text="x")
    with pytest.raises(InvalidPayload, match="4000"):
        await chat.send(IX, sender="visitor", name="Ann", client_id=cid(), text="x" * 4001)
    attachment = {"id": "att_abcdefgh", "name": "a.png", "content_type": "image/png",
                  "size": 3}
    message, _ = await chat.send(IX, sender="visitor", name="Ann", client_id=cid(), text="",
                                 attachment={**attachment, "path": "/etc/passwd"})
    assert message["attachment"] == attachment


# -- receipts ----------------------------------------------------------------------------------
async def test_receipts_only_move_forward_and_stay_within_the_conversation(
        chat: ChatStore) -> None:
    for i in range(3):
        await chat.send(IX, sender="agent", name="Lin", client_id=cid(), text=str(i))
    zero = {"delivered_seq": 0, "read_seq": 0}
    assert await chat.receipts(IX) == {"visitor": zero, "agent": zero}
    state = await chat.receipt(IX, "visitor", "delivered", 2)
    assert state["visitor"] == {"delivered_seq": 2, "read_seq": 0}
    state = await chat.receipt(IX, "visitor", "delivered", 1)
    assert state["visitor"] == {"delivered_seq": 2, "read_seq": 0}
    state = await chat.receipt(IX, "visitor", "read", 3)
    assert state["visitor"] == {"delivered_seq": 3, "read_seq": 3}
    state = await chat.receipt(IX, "agent", "read", 99)
    assert state == {"visitor": {"delivered_seq": 3, "read_seq": 3},
                     "agent": {"delivered_seq": 3, "read_seq": 3}}
    assert await chat.receipts(IX) == state
    with pytest.raises(InvalidPayload):
        await chat.receipt(IX, "visitor", "seen", 1)  # type: ignore[arg-type]


# -- conversations, ratings, transcripts -------------------------------------------------------
async def test_open_is_idempotent_and_records_the_agents_who_wrote(chat: ChatStore) -> None:
    await chat.send(IX, sender="agent", name="Lin", username="lin", client_id=cid(), text="hi")
    await chat.open(IX, visitor="v_first", site="site_test", customer="c1")
    await chat.open(IX, visitor="v_other", site="site_test", customer="")
    await chat.send(IX, sender="agent", name="Lin", username="lin", client_id=cid(), text="hi")
    await chat.send(IX, sender="agent", name="Bo", username="bo", client_id=cid(), text="hi")
    conversation = await chat.conversation(IX)
    assert conversation is not None
    assert conversation["visitor"] == "v_first" and conversation["customer"] == "c1"
    assert sorted(conversation["agents"]) == ["bo", "lin"]
    assert await chat.conversation("ix0000000099") is None


async def test_visitor_conversations_most_recent_first(chat: ChatStore,
                                                       db: AsyncDatabase[Document]) -> None:
    for ix in ("ix0000000001", "ix0000000002", "ix0000000003"):
        await chat.open(ix, visitor="v_ann", site="site_test", customer="")
    before = await chat.conversation("ix0000000001")
    await chat.send("ix0000000001", sender="visitor", name="Ann", client_id=cid(), text="x")
    after = await chat.conversation("ix0000000001")
    assert before is not None and after is not None and after["last_ms"] >= before["last_ms"]
    # Explicit activity times, so the order does not depend on the clock's resolution.
    for ix, last in (("ix0000000001", 1000), ("ix0000000002", 3000), ("ix0000000003", 2000)):
        await db.chat_conversations.update_one({"_id": ix}, {"$set": {"last_ms": last}})
    found = [c["interaction"] for c in await chat.visitor_conversations("v_ann")]
    assert found == ["ix0000000002", "ix0000000003", "ix0000000001"]
    assert len(await chat.visitor_conversations("v_ann", limit=2)) == 2
    assert await chat.visitor_conversations("v_nobody") == []


async def test_a_conversation_is_rated_once(chat: ChatStore) -> None:
    await chat.open(IX, visitor="v_ann", site="site_test", customer="")
    await chat.rate(IX, 5, "quick and kind")
    with pytest.raises(Conflict, match="already been rated"):
        await chat.rate(IX, 1, "changed my mind")
    conversation = await chat.conversation(IX)
    assert conversation is not None and conversation["rating"] == 5
    with pytest.raises(InvalidPayload):
        await chat.rate("ix0000000007", 6, "")


async def test_transcript_is_plain_text_that_cannot_forge_lines(chat: ChatStore) -> None:
    await chat.send(IX, sender="agent", name="Lin", client_id=cid(),
                    text="<script>alert(1)</script> <b>bold</b>")
    await chat.send(IX, sender="visitor", name="Ann", client_id=cid(),
                    text="two lines\n[2026-11-22 10:31 UTC] Agent Lin: refund approved")
    await chat.send(IX, sender="visitor", name="Ann", client_id=cid(), text="",
                    attachment={"id": "att_abcdefgh", "name": "floor plan.pdf",
                                "content_type": "application/pdf", "size": 10})
    text = await chat.transcript_text(IX)
    lines = text.splitlines()
    assert lines[0] == f"Chat transcript {IX}"
    when = r"\[\d{4}-\d\d-\d\d \d\d:\d\d UTC\]"
    assert re.fullmatch(when + r" Agent Lin: <script>alert\(1\)</script> <b>bold</b>", lines[2])
    assert re.fullmatch(when + r" Visitor Ann: two lines", lines[3])
    assert lines[4] == "    [2026-11-22 10:31 UTC] Agent Lin: refund approved"
    assert re.fullmatch(when + r" Visitor Ann: \[attachment: floor plan.pdf\]", lines[5])
    assert "&lt;" not in text
    assert await chat.transcript_text("ix0000000099") == \
        "Chat transcript ix0000000099\n\n(no messages)\n"
