"""Token bucket and refusal window: refill, burst, cost, windows, and invariants under any
sequence of calls."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage.infra.ratelimit import RefusalWindow, TokenBucket


def test_burst_then_refill() -> None:
    bucket = TokenBucket(rate=2.0, burst=4.0, updated=0.0)
    assert [bucket.take(0.0) for _ in range(5)] == [True, True, True, True, False]
    assert bucket.retry_after() == pytest.approx(0.5)
    assert bucket.take(0.5) is True
    assert bucket.take(0.5) is False


def test_cost_and_cap() -> None:
    bucket = TokenBucket(rate=1.0, burst=5.0, updated=0.0)
    assert bucket.take(0.0, cost=5.0) is True
    assert bucket.take(100.0, cost=6.0) is False  # refill never exceeds the burst
    assert bucket.tokens == 5.0


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)


@given(st.lists(st.tuples(st.floats(0, 10), st.floats(0.1, 3)), max_size=200))
def test_tokens_stay_within_bounds_and_grants_never_exceed_budget(
        steps: list[tuple[float, float]]) -> None:
    bucket = TokenBucket(rate=3.0, burst=6.0, updated=0.0)
    now, granted = 0.0, 0.0
    for dt, cost in steps:
        now += dt
        if bucket.take(now, cost):
            granted += cost
        assert 0.0 <= bucket.tokens <= 6.0
    assert granted <= 6.0 + 3.0 * now + 1e-9


def test_refusals_over_the_limit_within_the_window_are_a_flood() -> None:
    window = RefusalWindow(limit=3, window=10.0)
    assert [window.refuse(t) for t in (0.0, 1.0, 2.0)] == [False, False, False]
    assert window.refuse(9.9) is True  # four refusals within ten seconds


def test_refusals_spread_wider_than_the_window_are_not_a_flood() -> None:
    window = RefusalWindow(limit=3, window=10.0)
    # A steady trickle of one refusal every 4 s never has more than 3 in any 10 s.
    assert not any(window.refuse(t * 4.0) for t in range(1000))
    assert len(window.times) <= 4


def test_invalid_window_parameters() -> None:
    with pytest.raises(ValueError):
        RefusalWindow(limit=0, window=1.0)
    with pytest.raises(ValueError):
        RefusalWindow(limit=1, window=0.0)


@given(st.lists(st.floats(0, 5), max_size=300), st.integers(1, 20), st.floats(0.5, 30))
def test_window_says_flood_exactly_when_more_than_limit_fall_in_the_window(
        gaps: list[float], limit: int, span: float) -> None:
    window = RefusalWindow(limit=limit, window=span)
    now, seen = 0.0, []
    for gap in gaps:
        now += gap
        seen.append(now)
        recent = [t for t in seen if t > now - span]
        assert window.refuse(now) is (len(recent) > limit)
        assert len(window.times) <= limit + 1
