"""Whole-second query bounds and the exact cut that goes with them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from engage.infra.dates import utc, whole_seconds, within

T = datetime(2026, 11, 22, 8, 11, 8, 858000, tzinfo=UTC)


def test_bounds_widen_to_whole_seconds() -> None:
    assert whole_seconds(T, T) == {"$gte": T.replace(microsecond=0),
                                   "$lt": T.replace(microsecond=0) + timedelta(seconds=1)}
    assert whole_seconds(start=T) == {"$gte": T.replace(microsecond=0)}
    assert whole_seconds() == {}


def test_within_cuts_exactly() -> None:
    assert within(T, T, T + timedelta(milliseconds=1))
    assert not within(T, T + timedelta(microseconds=1))
    assert not within(T, start=T, include_start=False)
    assert not within(T, end=T)
    assert within(T.replace(tzinfo=None), start=T - timedelta(seconds=1))


def test_utc_converts_other_zones() -> None:
    shanghai = T.astimezone(timezone(timedelta(hours=8)))
    assert utc(shanghai) == T and utc(shanghai).tzinfo == UTC
