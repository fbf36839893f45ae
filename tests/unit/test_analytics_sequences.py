"""Time-window rules 'B within W days after A': hand cases, censoring, delays, chunking."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.errors import ParameterError
from analytics.sequences import sequence_rules
from analytics.sorting import sort_order

DAY = 86_400
ITEMS = ("A", "B", "C")
# (customer, item, day): c0 A then B after 10 days; c1 B too late (40 days); c2 B before A;
# c3 A, A again on day 50, B on day 60 (10 days after the second A); c4 only C; c5 nothing.
EVENTS = [(0, 0, 0), (0, 1, 10), (1, 0, 0), (1, 1, 40), (2, 1, 0), (2, 0, 5),
          (3, 0, 0), (3, 0, 50), (3, 1, 60), (4, 2, 0)]


def columns(events: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c, i, d = (np.array(v, dtype=np.int64) for v in zip(*events, strict=True)) if events \
        else (np.zeros(0, np.int64),) * 3
    return c, i, d * DAY


def test_hand_computed_rules() -> None:
    rules = sequence_rules(*columns(EVENTS), 6, ITEMS, window_days=30, min_support=0.01,
                           min_confidence=0.0)
    ab = rules.find("A", "B")
    assert ab is not None
    assert (ab.count, ab.confidence, ab.window_days) == (2, 0.5, 30.0)
    assert ab.support == pytest.approx(2 / 6) and ab.consequent_support == pytest.approx(4 / 6)
    assert ab.lift == pytest.approx(0.5 / (4 / 6))
    assert ab.median_delay_days == 10.0
    ba = rules.find("B", "A")
    assert ba is not None and (ba.count, ba.confidence) == (1, 0.25)
    assert rules.find("A", "C") is None and rules.find("A", "A") is None


def test_consequents_can_be_groups() -> None:
    rules = sequence_rules(*columns(EVENTS), 6, ITEMS, window_days=30, min_support=0.01,
                           min_confidence=0.0, consequent_of=np.array([0, 1, 1]),
                           consequent_items=("first", "later"))
    assert rules.targets == ("first", "later") and rules.items == ITEMS
    later = rules.find("A", "later")
    assert later is not None and (later.count, later.confidence) == (2, 0.5)
    assert later.consequent_support == pytest.approx(5 / 6)  # B or C customers
    assert rules.find("A", "first") is None  # c3's second A came 50 days later
    assert rules.matrix().shape == (3, 2)


def test_censoring_counts_only_fully_observed_windows() -> None:
    rules = sequence_rules(*columns(EVENTS), 6, ITEMS, window_days=30, min_support=0.01,
                           min_confidence=0.0, censor_at=35 * DAY)
    ab = rules.find("A", "B")
    # Only A purchases on or before day 5 had 30 days to watch: c3's day-50 A is left out.
    assert ab is not None and (ab.count, ab.confidence) == (1, 0.25)


def test_remaining_chance_after_waiting() -> None:
    rules = sequence_rules(*columns(EVENTS), 6, ITEMS, window_days=30, min_support=0.01,
                           min_confidence=0.0)
    rule = np.flatnonzero((rules.antecedent == 0) & (rules.consequent == 1))
    assert rules.within(rule, np.array([9 * DAY, 10 * DAY])).tolist() == [0, 2]
    chance = rules.remaining(np.repeat(rule, 2), np.array([5 * DAY, 15 * DAY]))
    assert chance.tolist() == [0.5, 0.0]  # both takers took B after 10 days


def test_chunking_does_not_change_the_counts() -> None:
    rng = np.random.default_rng(3)
    c = rng.integers(0, 40, 400)
    i = rng.integers(0, 4, 400)
    t = rng.integers(0, 200, 400) * DAY
    items = tuple("PQRS")
    whole = sequence_rules(c, i, t, 40, items, window_days=60, min_support=0.01,
                           min_confidence=0.0)
    tiny = sequence_rules(c, i, t, 40, items, window_days=60, min_support=0.01,
                          min_confidence=0.0, chunk_pairs=3)
    assert whole.delays is not None and tiny.delays is not None
    assert np.array_equal(whole.count, tiny.count) and np.array_equal(whole.delays, tiny.delays)


def test_degenerate_inputs() -> None:
    empty = sequence_rules(*columns([]), 3, ITEMS, window_days=30, min_support=0.1,
                           min_confidence=0.0)
    assert len(empty) == 0
    one = sequence_rules(*columns([(0, 0, 0), (0, 0, 5)]), 1, ("A",), window_days=30,
                         min_support=0.1, min_confidence=0.0)
    assert len(one) == 0 and np.isnan(one.median_delay_days()).all()
    with pytest.raises(ParameterError, match=r"^window_days must be positive, got 0$"):
        sequence_rules(*columns(EVENTS), 6, ITEMS, window_days=0, min_support=0.1,
                       min_confidence=0.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2), st.integers(0, 90)),
                max_size=40), st.integers(1, 60))
def test_wider_windows_never_lose_sequences(events: list[tuple[int, int, int]],
                                            window: int) -> None:
    narrow = sequence_rules(*columns(events), 6, ITEMS, window_days=window,
                            min_support=1e-9, min_confidence=0.0)
    wide = sequence_rules(*columns(events), 6, ITEMS, window_days=window + 30,
                          min_support=1e-9, min_confidence=0.0)
    assert (narrow.confidence <= 1.0).all()
    for rule in narrow:
        grown = wide.find(rule.antecedent, rule.consequent)
        assert grown is not None and grown.count >= rule.count


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(0, 10**12), st.integers(0, 2)),
                max_size=30))
def test_sort_order_matches_lexsort(rows: list[tuple[int, int, int]]) -> None:
    if not rows:
        return
    a, b, c = (np.array(v, dtype=np.int64) for v in zip(*rows, strict=True))
    assert np.array_equal(sort_order((a, b, c)), np.lexsort((c, b, a)))


def test_sort_order_falls_back_when_keys_do_not_pack() -> None:
    a = np.array([2**61, 0, 2**61, 5], dtype=np.int64)
    b = np.array([3, 2**40, 1, 0], dtype=np.int64)
    assert np.array_equal(sort_order((a, b)), np.lexsort((b, a)))
