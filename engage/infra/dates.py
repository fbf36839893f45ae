"""Date ranges that mean the same on MongoDB and on nx-27017."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def utc(value: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken as UTC (what PyMongo returns without tz_aware)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def whole_seconds(start: datetime | None = None, end: datetime | None = None) -> dict[str, Any]:
    """A query condition covering [start, end) widened to whole seconds.

    nx-27017 compares date bounds at whole-second resolution (pinned by
    tests/integration/test_mongo_contract.py), so callers ask for the whole seconds around
    a range and cut it exactly with ``within``.
    """
    condition: dict[str, Any] = {}
    if start is not None:
        condition["$gte"] = start.replace(microsecond=0)
    if end is not None:
        condition["$lt"] = end.replace(microsecond=0) + timedelta(seconds=1)
    return condition


def within(value: datetime, start: datetime | None = None, end: datetime | None = None,
           *, include_start: bool = True) -> bool:
    moment = utc(value)
    if start is not None and (moment < start or (moment == start and not include_start)):
        return False
    return end is None or moment < end
