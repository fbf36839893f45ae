"""PTP pair rules: hand-computed metrics, thresholds, degenerate inputs, incremental counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from analytics.affinity import AffinityCounts, aggregate, baskets, incidence, pair_rules
from analytics.errors import IndexRangeError, LengthMismatchError, ParameterError

ITEMS = ("A", "B", "C")
# Five baskets: {A,B} {A,B,C} {A,C} {B} {A,B}. Counts: A 4, B 4, C 2, AB 3, AC 2, BC 1.
BASKETS = [[0, 1], [0, 1, 2], [0, 2], [1], [0, 1]]


def matrix(rows: list[list[int]], n_items: int = 3) -> sparse.csr_array:
    r = np.array([i for i, row in enumerate(rows) for _ in row], dtype=np.int64)
    c = np.array([item for row in rows for item in row], dtype=np.int64)
    return incidence(r, c, len(rows), n_items)


def test_metrics_by_hand() -> None:
    rules = pair_rules(matrix(BASKETS), ITEMS, min_support=0.2, min_confidence=0.0)
    assert len(rules) == 6  # every ordered pair of the three items
    ab = rules.find("A", "B")
    assert ab is not None
    assert (ab.count, ab.support, ab.confidence) == (3, 0.6, 0.75)
    assert ab.lift == pytest.approx(0.75 / 0.8)
    assert ab.leverage == pytest.approx(0.6 - 0.8 * 0.8)
    assert ab.conviction == pytest.approx((1 - 0.8) / (1 - 0.75))
    assert (ab.antecedent_support, ab.consequent_support) == (0.8, 0.8)
    ca = rules.find("C", "A")
    assert ca is not None and ca.confidence == 1.0 and math.isinf(ca.conviction)
    assert ca.lift == pytest.approx(1.25) and ca.leverage == pytest.approx(0.4 - 0.4 * 0.8)
    ac = rules.find("A", "C")
    assert ac is not None and ac.confidence == 0.5 and ac.conviction == pytest.approx(1.2)
    cb = rules.find("C", "B")
    assert cb is not None and cb.lift == pytest.approx(0.625) and cb.window_days is None


def test_thresholds_keep_strong_rules_only() -> None:
    rules = pair_rules(matrix(BASKETS), ITEMS, min_support=0.4, min_confidence=0.6)
    pairs = {(r.antecedent, r.consequent) for r in rules}
    assert pairs == {("A", "B"), ("B", "A"), ("C", "A")}
    assert [r.antecedent for r in rules.top(1, by="confidence")] == ["C"]


def test_rules_are_sorted_and_matrix_view() -> None:
    rules = pair_rules(matrix(BASKETS), ITEMS, min_support=0.2, min_confidence=0.0)
    keys = list(zip(rules.antecedent.tolist(), rules.consequent.tolist(), strict=True))
    assert keys == sorted(keys)
    grid = rules.matrix("confidence")
    assert grid[0, 1] == 0.75 and grid[2, 0] == 1.0 and grid[0, 0] == 0.0


def test_dense_and_duplicate_entries_are_binarised() -> None:
    dense = np.array([[2, 1, 0], [1, 1, 1], [3, 0, 1], [0, 5, 0], [1, 1, 0]])
    from_dense = pair_rules(dense, ITEMS, min_support=0.2, min_confidence=0.0)
    from_sparse = pair_rules(matrix(BASKETS), ITEMS, min_support=0.2, min_confidence=0.0)
    assert np.array_equal(from_dense.lift, from_sparse.lift)
    assert np.array_equal(from_dense.count, from_sparse.count)


@pytest.mark.parametrize("rows", [[], [[0]] * 4, [[0, 1, 2]] * 3])
def test_degenerate_inputs(rows: list[list[int]]) -> None:
    rules = pair_rules(matrix(rows), ITEMS, min_support=0.1, min_confidence=0.0)
    if rows and len(rows[0]) == 3:  # all baskets identical: every rule certain, lift 1
        assert len(rules) == 6
        assert set(rules.confidence.tolist()) == {1.0}
        assert set(rules.lift.tolist()) == {1.0} and np.isinf(rules.conviction).all()
        assert np.allclose(rules.leverage, 0.0)
    else:  # no baskets, or one product only: no pairs
        assert len(rules) == 0


def test_one_product_catalogue() -> None:
    rules = pair_rules(matrix([[0], [0]], n_items=1), ("A",), min_support=0.5,
                       min_confidence=0.0)
    assert len(rules) == 0 and rules.items == ("A",)


def test_refused_parameters_and_inputs() -> None:
    with pytest.raises(ParameterError, match=r"^min_support must be in \(0, 1\], got 0$"):
        pair_rules(matrix(BASKETS), ITEMS, min_support=0, min_confidence=0.1)
    with pytest.raises(ParameterError, match=r"^min_confidence must be in \[0, 1\], got 1.5$"):
        pair_rules(matrix(BASKETS), ITEMS, min_support=0.1, min_confidence=1.5)
    with pytest.raises(LengthMismatchError, match=r"^items has 2 entries, expected 3$"):
        pair_rules(matrix(BASKETS), ("A", "B"), min_support=0.1, min_confidence=0.1)
    with pytest.raises(IndexRangeError,
                       match=r"^cols has 1 values outside 0\.\.2 \(first at index 1\)$"):
        incidence(np.array([0, 0]), np.array([1, 3]), 1, 3)


def test_incremental_counts_equal_one_shot() -> None:
    counts = AffinityCounts(ITEMS)
    for row in BASKETS:
        counts.add(matrix([row]))
    one_shot = pair_rules(matrix(BASKETS), ITEMS, min_support=0.2, min_confidence=0.0)
    running = counts.rules(min_support=0.2, min_confidence=0.0)
    assert counts.n == 5 and counts.item_counts.tolist() == [4, 4, 2]
    for field in ("antecedent", "consequent", "count", "support", "confidence", "lift"):
        assert np.array_equal(getattr(running, field), getattr(one_shot, field)), field
    saved = AffinityCounts.restore(ITEMS, *counts.state())
    again = saved.add(matrix([[0, 2]])).rules(min_support=0.2, min_confidence=0.0)
    assert again.n == 6 and again.find("A", "C") is not None
    other = AffinityCounts(ITEMS).add(matrix(BASKETS))
    merged = counts.merge(other).rules(min_support=0.2, min_confidence=0.0)
    assert merged.n == 10 and np.array_equal(merged.confidence, one_shot.confidence)


def test_baskets_and_business_lines() -> None:
    customer = np.array([0, 0, 0, 1, 1])
    day = 86_400
    time = np.array([0, 100, day + 5, 0, 7])
    basket, n = baskets(customer, time)
    assert n == 3 and basket[0] == basket[1] != basket[2] and basket[3] == basket[4]
    lines = aggregate(matrix(BASKETS), np.array([0, 0, 1]), 2)  # A, B -> line 0; C -> 1
    assert lines.toarray().tolist() == [[1, 0], [1, 1], [1, 1], [1, 0], [1, 0]]


baskets_strategy = st.lists(st.sets(st.integers(0, 4), max_size=5).map(sorted), max_size=30)


@settings(max_examples=60, deadline=None)
@given(baskets_strategy, st.floats(0.01, 1.0), st.floats(0.0, 1.0))
def test_properties(rows: list[list[int]], min_support: float, min_confidence: float) -> None:
    names = tuple("VWXYZ")
    rules = pair_rules(matrix(rows, 5), names, min_support=min_support,
                       min_confidence=min_confidence)
    assert (rules.confidence <= 1.0).all() and (rules.confidence >= min_confidence).all()
    assert (rules.support >= min_support).all()
    assert (rules.support <= np.minimum(rules.antecedent_support,
                                        rules.consequent_support)).all()
    both = {(int(a), int(b)): float(lift) for a, b, lift in
            zip(rules.antecedent, rules.consequent, rules.lift, strict=True)}
    everything = pair_rules(matrix(rows, 5), names, min_support=min_support,
                            min_confidence=0.0)
    for a, b, lift in zip(everything.antecedent, everything.consequent, everything.lift,
                          strict=True):  # lift(a -> b) == lift(b -> a)
        twin = everything.find(names[b], names[a])
        assert twin is not None and twin.lift == pytest.approx(float(lift), rel=1e-12)
        if (int(a), int(b)) in both:
            assert both[int(a), int(b)] == float(lift)


@settings(max_examples=60, deadline=None)
@given(baskets_strategy, baskets_strategy)
def test_support_counts_never_fall_when_baskets_are_added(
        rows: list[list[int]], more: list[list[int]]) -> None:
    before = AffinityCounts(tuple("VWXYZ")).add(matrix(rows, 5))
    after = AffinityCounts(tuple("VWXYZ")).add(matrix(rows, 5)).add(matrix(more, 5))
    assert (after.item_counts >= before.item_counts).all()
    small = before.rules(min_support=1e-9, min_confidence=0.0)
    large = after.rules(min_support=1e-9, min_confidence=0.0)
    for rule in small:
        grown = large.find(rule.antecedent, rule.consequent)
        assert grown is not None and grown.count >= rule.count
    # Adding copies of a basket holding a pair never lowers that pair's support.
    for rule in small:
        pair = sorted({rule.antecedent_index, rule.consequent_index})
        boosted = AffinityCounts(tuple("VWXYZ")).add(matrix(rows + [pair] * 3, 5))
        found = boosted.rules(min_support=1e-9, min_confidence=0.0).find(
            rule.antecedent, rule.consequent)
        assert found is not None and found.support >= rule.support
