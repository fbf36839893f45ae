"""Needs grouping, contribution (RFM + expected value) and the demand x value tiers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analytics.contribution import contribution, rank_score
from analytics.errors import IndexRangeError, ParameterError
from analytics.needs import group_by_need
from analytics.tiers import TIER_LABELS, assign_tiers

DAY = 86_400
LINES = ("buy_sell", "rent", "decoration")


def test_need_groups_by_hand() -> None:
    customer = np.array([0, 0, 1, 2, 2, 2])
    line = np.array([0, 2, 1, 0, 0, 1])
    amount = np.array([100.0, 900.0, 5.0, 1.0, 1.0, 3.0])
    needs = group_by_need(customer, line, amount, 4, LINES)
    assert needs.mask.tolist() == [0b101, 0b010, 0b011, 0]
    assert needs.primary.tolist() == [2, 1, 1, -1]  # the line with the largest spend
    assert needs.label(0b101) == "buy_sell+decoration" and needs.label(0) == "none"
    assert sorted(needs.labels) == ["buy_sell+decoration", "buy_sell+rent", "none", "rent"]
    assert needs.sizes.sum() == 4 and needs.line_customers().tolist() == [2, 2, 1]
    assert needs.members(0b010).tolist() == [1]
    assert needs.line_spend[0].tolist() == [100.0, 0.0, 900.0]


def test_need_groups_refuse_bad_lines() -> None:
    with pytest.raises(IndexRangeError, match=r"^line has 1 values outside 0\.\.2"):
        group_by_need(np.array([0]), np.array([3]), np.array([1.0]), 1, LINES)
    empty = group_by_need(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), 2, LINES)
    assert empty.labels == ("none",) and empty.sizes.tolist() == [2]


def test_rank_score() -> None:
    values = np.array([3.0, 1.0, 3.0, 7.0, 0.0])
    present = np.array([True, True, True, True, False])
    assert rank_score(values, present).tolist() == [0.625, 0.25, 0.625, 1.0, 0.0]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=1, max_size=30))
def test_rank_score_matches_scipy(values: list[int]) -> None:
    array = np.array(values, dtype=np.float64)
    expected = stats.rankdata(array, method="average") / len(array)
    assert rank_score(array, np.ones(len(array), dtype=np.bool_)) == pytest.approx(expected)


def test_contribution_by_hand() -> None:
    end = 100 * DAY
    customer = np.array([0, 0, 1, 2, 2])
    amount = np.array([10.0, 20.0, 500.0, 5.0, 1.0])
    time = np.array([90, 95, 50, 10, 99]) * DAY  # customer 2's day-10 purchase is outside
    value = contribution(customer, amount, time, 4, window_start=20 * DAY, window_end=end,
                         expected_value=np.array([0.0, 10.0, 30.0, 20.0]))
    assert value.frequency.tolist() == [2, 1, 1, 0]
    assert value.monetary.tolist() == [30.0, 500.0, 1.0, 0.0]
    assert value.recency_days[:3].tolist() == [5.0, 50.0, 1.0] and np.isnan(
        value.recency_days[3])
    assert value.recency_score.tolist() == pytest.approx([2 / 3, 1 / 3, 1.0, 0.0])
    assert value.frequency_score.tolist() == pytest.approx([1.0, 0.5, 0.5, 0.0])
    assert value.monetary_score.tolist() == pytest.approx([2 / 3, 1.0, 1 / 3, 0.0])
    assert value.expected_score.tolist() == pytest.approx([0.0, 1 / 3, 1.0, 2 / 3])
    assert value.rfm.tolist() == [454, 235, 532, 0]
    expected = (0.2 * value.recency_score + 0.2 * value.frequency_score
                + 0.3 * value.monetary_score + 0.3 * value.expected_score)
    assert value.value == pytest.approx(expected)


def test_contribution_degenerate_and_refused() -> None:
    none = contribution(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64), 3,
                        window_start=0, window_end=DAY)
    assert none.value.tolist() == [0.0, 0.0, 0.0] and none.rfm.tolist() == [0, 0, 0]
    same = contribution(np.arange(3), np.ones(3), np.full(3, 5), 3, window_start=0,
                        window_end=DAY)
    assert same.value.tolist() == pytest.approx([0.7 * 2 / 3] * 3)  # identical: all tie
    with pytest.raises(ParameterError, match=r"^window_end must be after window_start"):
        contribution(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64), 1,
                     window_start=5, window_end=5)


def test_tiers_matrix() -> None:
    demand = np.array([0.9, 0.8, 0.1, 0.2, 0.95, 0.05, 0.5, 0.4, 0.3, 0.6])
    value = np.array([0.9, 0.1, 0.95, 0.2, 0.3, 0.1, 0.5, 0.8, 0.0, 0.7])
    tiers = assign_tiers(demand, value, demand_share=0.3, value_share=0.3)
    assert tiers.labels == TIER_LABELS
    assert tiers.tier.tolist() == [0, 1, 2, 3, 1, 3, 3, 2, 3, 3]
    assert tiers.matrix().tolist() == [[1, 2], [2, 5]]
    assert tiers.members("A").tolist() == [0]
    assert tiers.members("B").tolist() == [4, 1]  # by demand score x value score
    assert tiers.order[:1].tolist() == [0] and sorted(tiers.order.tolist()) == list(range(10))


def test_identical_customers_all_low() -> None:
    tiers = assign_tiers(np.full(5, 0.3), np.full(5, 0.3))
    assert tiers.sizes.tolist() == [0, 0, 0, 5]
    empty = assign_tiers(np.zeros(0), np.zeros(0))
    assert empty.sizes.tolist() == [0, 0, 0, 0]
