"""Queue configuration: kept in MongoDB, mirrored into Redis for the routing scripts."""

from __future__ import annotations

from datetime import time
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from engage.acd.routing import BusinessHours, QueueConfig, Strategy
from engage.acd.store import AcdStore
from engage.errors import InvalidPayload, NotFound

Document = dict[str, Any]


def _hours(raw: Any) -> BusinessHours | None:
    if not isinstance(raw, dict):
        return None
    try:
        return BusinessHours(tz=str(raw.get("tz", "Asia/Shanghai")),
                             days=tuple(int(d) for d in raw.get("days", range(7))),
                             open=time.fromisoformat(str(raw.get("open", "00:00"))),
                             close=time.fromisoformat(str(raw.get("close", "23:59:59"))))
    except (TypeError, ValueError) as exc:
        raise InvalidPayload(f"business_hours: {exc}") from None


def from_document(doc: Document) -> QueueConfig:
    """A queue from its stored (or submitted) document; defaults fill what is missing."""
    try:
        strategy = Strategy(str(doc.get("strategy", Strategy.LONGEST_IDLE.value)))
    except ValueError:
        raise InvalidPayload("strategy: longest_idle, least_occupied, round_robin or "
                             "ring_all") from None
    skills = doc.get("required_skills") or {}
    if not isinstance(skills, dict) or not all(isinstance(v, int) for v in skills.values()):
        raise InvalidPayload("required_skills: an object of skill -> minimum level")

    def number(name: str, default: int) -> int:
        value = doc.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidPayload(f"{name}: a whole number")
        return value

    def flag(name: str) -> bool:
        value = doc.get(name, False)
        if not isinstance(value, bool):
            raise InvalidPayload(f"{name}: true or false")
        return value

    return QueueConfig(
        queue_id=str(doc["_id"]), name=str(doc.get("name") or doc["_id"]),
        required_skills=dict(skills), priority=number("priority", 0), strategy=strategy,
        max_length=number("max_length", 1000), max_wait_seconds=number("max_wait_seconds", 600),
        exit=str(doc.get("exit", "callback")), aging_seconds=number("aging_seconds", 60),
        wrap_up_seconds=number("wrap_up_seconds", 30),
        offer_timeout_seconds=number("offer_timeout_seconds", 20),
        max_misses=number("max_misses", 3),
        service_level_seconds=number("service_level_seconds", 20),
        sticky_seconds=number("sticky_seconds", 30), hours=_hours(doc.get("business_hours")),
        record_calls=flag("record_calls"))


def to_document(queue: QueueConfig) -> Document:
    doc: Document = {
        "_id": queue.queue_id, "name": queue.name, "required_skills": dict(queue.required_skills),
        "priority": queue.priority, "strategy": queue.strategy.value,
        "max_length": queue.max_length, "max_wait_seconds": queue.max_wait_seconds,
        "exit": queue.exit, "aging_seconds": queue.aging_seconds,
        "wrap_up_seconds": queue.wrap_up_seconds,
        "offer_timeout_seconds": queue.offer_timeout_seconds, "max_misses": queue.max_misses,
        "service_level_seconds": queue.service_level_seconds,
        "sticky_seconds": queue.sticky_seconds, "record_calls": queue.record_calls,
    }
    if queue.hours is not None:
        doc["business_hours"] = {"tz": queue.hours.tz, "days": list(queue.hours.days),
                                 "open": queue.hours.open.isoformat(),
                                 "close": queue.hours.close.isoformat()}
    return doc


class QueueDirectory:
    """All queues; the in-memory copy is what routing decisions on this node consult."""

    def __init__(self, db: AsyncDatabase[Document], store: AcdStore) -> None:
        self._col = db.queues
        self._store = store
        self._queues: dict[str, QueueConfig] = {}

    async def refresh(self) -> None:
        """Read every queue and push its routing parameters to Redis."""
        queues = {}
        async for doc in self._col.find({}):
            queue = from_document(doc)
            queues[queue.queue_id] = queue
            await self._store.save_queue(queue)
        self._queues = queues

    def get(self, queue_id: str) -> QueueConfig:
        queue = self._queues.get(queue_id)
        if queue is None:
            raise NotFound(f"no queue {queue_id!r}")
        return queue

    def records_calls(self, queue_id: str) -> bool:
        """Whether calls in this queue are recorded (with the visitor's consent)."""
        queue = self._queues.get(queue_id)
        return queue is not None and queue.record_calls

    def all(self) -> list[QueueConfig]:
        return sorted(self._queues.values(), key=lambda q: q.queue_id)

    async def save(self, doc: Document) -> QueueConfig:
        queue = from_document(doc)
        if queue.exit.startswith("overflow:") and queue.exit[9:] not in self._queues:
            raise InvalidPayload(f"exit: no queue {queue.exit[9:]!r} to overflow into")
        stored = to_document(queue)
        existing = await self._col.find_one({"_id": queue.queue_id}) or {}
        # Keep fields other tools own (e.g. business_line from the demo data).
        merged = {**existing, **stored}
        await self._col.replace_one({"_id": queue.queue_id}, merged, upsert=True)
        await self._store.save_queue(queue)
        self._queues[queue.queue_id] = queue
        return queue
