"""The trail's write-behind store on nx-27017: batches merged per visit, nothing lost."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from engage.tasks import TaskSet
from engage.visits.trail_store import TrailStore


def event(visit: str, seq: int, url: str) -> dict[str, Any]:
    return {"visit": visit, "seq": seq, "type": "page", "url": url, "at": seq}


async def test_batches_between_flushes_add_up(db: AsyncDatabase[dict[str, Any]],
                                              tasks: TaskSet) -> None:
    store = TrailStore(db, tasks=tasks)
    await store.ensure_indexes()
    await store.open_visit({"_id": "vs_test0001", "visitor": "v_x", "pages": 0,
                            "started_at": datetime.now(UTC)})
    store.add("vs_test0001", [event("vs_test0001", 1, "/a")], {"$pages": 1, "last_url": "/a"})
    store.add("vs_test0001", [event("vs_test0001", 2, "/b")], {"$pages": 1, "last_url": "/b"})
    # Not flushed yet: an agent opening the visit still sees both.
    assert [e["url"] for e in await store.recent("vs_test0001")] == ["/a", "/b"]
    await store.flush()
    visit = await store.visit("vs_test0001")
    assert visit is not None and visit["pages"] == 2 and visit["last_url"] == "/b"
    store.add("vs_test0001", [event("vs_test0001", 3, "/c")], {"$pages": 1})
    await store.flush()
    assert (await store.visit("vs_test0001"))["pages"] == 3  # type: ignore[index]
    assert [e["seq"] for e in await store.recent("vs_test0001", limit=2)] == [2, 3]


async def test_a_failed_flush_keeps_everything_for_the_next(
        db: AsyncDatabase[dict[str, Any]], tasks: TaskSet) -> None:
    store = TrailStore(db, tasks=tasks)
    await store.open_visit({"_id": "vs_test0002", "visitor": "v_y", "pages": 0})
    store.add("vs_test0002", [event("vs_test0002", 1, "/a")], {"$pages": 1})
    # A duplicate _id makes the insert fail the way an outage would, once.
    await db.visit_events.insert_one({"_id": "dup", "visit": "other", "seq": 0})
    store._buffer.append({"_id": "dup", "visit": "other", "seq": 0})
    try:
        await store.flush()
    except Exception:
        pass
    store._buffer = [e for e in store._buffer if e.get("_id") != "dup"]
    await store.flush()
    visit = await store.visit("vs_test0002")
    assert visit is not None and visit["pages"] == 1
    assert [e["url"] for e in await store.recent("vs_test0002")] == ["/a"]
