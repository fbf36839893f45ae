"""Token bucket: refill, burst, cost, and invariants under any sequence of calls."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage.infra.ratelimit import TokenBucket


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
