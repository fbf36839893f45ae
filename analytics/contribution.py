"""Customer value within a time window: RFM and PTC expected value as rank scores, combined.

Recency, frequency, monetary value and expected value (PTC score x price) each become a rank
score in [0, 1]; a weighted mean of them is the customer's value score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analytics.arrays import FloatArray, IntArray
from analytics.errors import require, require_index, require_length

DAY = 86_400
DEFAULT_WEIGHTS = (0.2, 0.2, 0.3, 0.3)  # recency, frequency, monetary, expected value


@dataclass(frozen=True, eq=False)
class Contribution:
    """Per customer, for purchases in ``[window_start, window_end)``. Scores are the share of
    customers (with a purchase, or with expected value) ranked at or below; 0 without one.
    ``rfm`` is the classic three-digit cell of quintiles (e.g. 545), 0 without a purchase."""

    window_start: int
    window_end: int
    recency_days: FloatArray  # days from the last purchase to window_end; NaN: none
    frequency: IntArray
    monetary: FloatArray
    expected_value: FloatArray
    recency_score: FloatArray
    frequency_score: FloatArray
    monetary_score: FloatArray
    expected_score: FloatArray
    rfm: IntArray
    value: FloatArray
    weights: tuple[float, float, float, float]


def rank_score(values: FloatArray, present: npt.NDArray[np.bool_]) -> FloatArray:
    """Share of ``present`` entries ranked at or below each one (ties share their average
    rank), in (0, 1]; 0 where not present."""
    out = np.zeros(len(values), dtype=np.float64)
    idx = np.flatnonzero(present)
    if not len(idx):
        return out
    order = np.argsort(values[idx], kind="stable")
    ordered = values[idx][order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(ordered)]
    average = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1 .. ends
    run = np.cumsum(np.r_[True, ordered[1:] != ordered[:-1]]) - 1
    out[idx[order]] = average[run] / len(idx)
    return out


def contribution(customer: IntArray, amount: FloatArray, time: IntArray, n_customers: int, *,
                 window_start: int, window_end: int, expected_value: FloatArray | None = None,
                 weights: tuple[float, float, float, float] = DEFAULT_WEIGHTS) -> Contribution:
    """Score every customer's value in the window; ``expected_value`` (e.g. PTC score x price,
    summed over products) adds the forward-looking part."""
    require(window_end > window_start, "window_end", "after window_start", window_end)
    require(all(w >= 0 for w in weights) and sum(weights) > 0, "weights",
            "non-negative with a positive sum", weights)
    require_length("amount", len(amount), len(customer))
    require_length("time", len(time), len(customer))
    require_index("customer", customer, n_customers)
    ev = np.zeros(n_customers) if expected_value is None else np.asarray(expected_value,
                                                                         dtype=np.float64)
    require_length("expected_value", len(ev), n_customers)
    inside = (time >= window_start) & (time < window_end)
    c, a, t = customer[inside], amount[inside], time[inside]
    frequency = np.bincount(c, minlength=n_customers).astype(np.int64)
    monetary = np.bincount(c, weights=a, minlength=n_customers).astype(np.float64)
    last = np.full(n_customers, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, c, t)
    bought = frequency > 0
    recency = np.where(bought, (window_end - np.where(bought, last, window_end)) / DAY, np.nan)
    r = rank_score(-np.nan_to_num(recency), bought)
    f = rank_score(frequency.astype(np.float64), bought)
    m = rank_score(monetary, bought)
    e = rank_score(ev, ev > 0)
    total = float(sum(weights))
    value = (weights[0] * r + weights[1] * f + weights[2] * m + weights[3] * e) / total
    quintile = [np.where(bought, np.clip(np.ceil(s * 5), 1, 5), 0).astype(np.int64)
                for s in (r, f, m)]
    return Contribution(
        window_start=window_start, window_end=window_end, recency_days=recency,
        frequency=frequency, monetary=monetary, expected_value=ev, recency_score=r,
        frequency_score=f, monetary_score=m, expected_score=e,
        rfm=100 * quintile[0] + 10 * quintile[1] + quintile[2], value=value,
        weights=weights)
