"""The demand x contribution matrix: follow-up tiers A-D and their call order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.arrays import FloatArray, IntArray
from analytics.contribution import rank_score
from analytics.errors import require, require_length

TIER_LABELS = ("A", "B", "C", "D")
TIER_MEANINGS = (
    "high demand, high value: call first, senior agents",
    "high demand, lower value: outbound campaign",
    "lower demand, high value: relationship care, no hard sell",
    "low demand, low value: digital channels only",
)


@dataclass(frozen=True, eq=False)
class Tiers:
    """``tier[c]`` indexes ``TIER_LABELS``; ``demand_score``/``value_score`` are rank scores in
    [0, 1], high when above ``1 - share``. ``order`` lists every customer by tier, then by
    ``demand_score * value_score`` (highest first) - the follow-up order."""

    tier: IntArray
    demand_score: FloatArray
    value_score: FloatArray
    demand_share: float
    value_share: float
    order: IntArray

    @property
    def labels(self) -> tuple[str, ...]:
        return TIER_LABELS

    @property
    def sizes(self) -> IntArray:
        counts: IntArray = np.bincount(self.tier, minlength=len(TIER_LABELS)).astype(np.int64)
        return counts

    def matrix(self) -> IntArray:
        """2 x 2 counts: rows demand high/low, columns value high/low ([[A, B], [C, D]])."""
        out: IntArray = self.sizes.reshape(2, 2)
        return out

    def members(self, label: str) -> IntArray:
        """Customers of one tier in follow-up order."""
        code = TIER_LABELS.index(label)
        out: IntArray = self.order[self.tier[self.order] == code]
        return out


def assign_tiers(demand: FloatArray, value: FloatArray, *, demand_share: float = 0.3,
                 value_share: float = 0.3) -> Tiers:
    """Tier every customer from raw demand (e.g. P(buys anything)) and value (any scale):
    the top ``demand_share`` by demand and the top ``value_share`` by value count as high."""
    require_length("value", len(value), len(demand))
    require(0 < demand_share < 1, "demand_share", "in (0, 1)", demand_share)
    require(0 < value_share < 1, "value_share", "in (0, 1)", value_share)
    everyone = np.ones(len(demand), dtype=np.bool_)
    d = rank_score(np.asarray(demand, dtype=np.float64), everyone)
    v = rank_score(np.asarray(value, dtype=np.float64), everyone)
    # Ties share their average rank, so customers who all look alike land together (low).
    low_demand = d <= 1.0 - demand_share
    low_value = v <= 1.0 - value_share
    tier = (2 * low_demand + low_value).astype(np.int64)
    order = np.lexsort((np.arange(len(tier)), -(d * v), tier)).astype(np.int64)
    return Tiers(tier=tier, demand_score=d, value_score=v, demand_share=demand_share,
                 value_share=value_share, order=order)
