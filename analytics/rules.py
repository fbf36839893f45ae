"""PTP rule sets: the ``AffinityRule``/``AffinityRules`` types and the metric formulas.

Metrics follow mlxtend's ``association_rules`` float for float: supports are ``count / n``,
confidence ``(s_ab * n) / (s_a * n)``, lift ``confidence / s_b``, leverage ``s_ab - s_a * s_b``,
conviction ``(1 - s_b) / (1 - confidence)`` and ``inf`` when confidence is 1. A rule is kept
when ``s_ab >= min_support`` and ``confidence >= min_confidence``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from analytics.arrays import FloatArray, IntArray
from analytics.errors import require

Metric = Literal["support", "confidence", "lift", "leverage", "conviction", "count"]


@dataclass(frozen=True)
class AffinityRule:
    """One rule 'customers with ``antecedent`` also take ``consequent``' (within
    ``window_days`` after it, for sequence rules); ``count`` customers/baskets show it."""

    antecedent: str
    consequent: str
    antecedent_index: int
    consequent_index: int
    count: int
    support: float
    confidence: float
    lift: float
    leverage: float
    conviction: float
    antecedent_support: float
    consequent_support: float
    window_days: float | None = None
    median_delay_days: float | None = None  # sequence rules: typical time from A to B


@dataclass(frozen=True, eq=False)
class AffinityRules:
    """A rule set as parallel arrays, sorted by (antecedent, consequent); ``n`` is the number
    of baskets or customers the supports are fractions of. Sequence rules also carry, per
    rule, the sorted shortest delays (seconds) of the customers behind it:
    ``delays[delay_offsets[r]:delay_offsets[r + 1]]``."""

    items: tuple[str, ...]
    n: int
    antecedent: IntArray
    consequent: IntArray
    count: IntArray
    antecedent_count: IntArray
    consequent_count: IntArray
    support: FloatArray
    confidence: FloatArray
    lift: FloatArray
    leverage: FloatArray
    conviction: FloatArray
    antecedent_support: FloatArray
    consequent_support: FloatArray
    min_support: float
    min_confidence: float
    window_days: float | None = None
    delays: IntArray | None = None
    delay_offsets: IntArray | None = None
    consequent_items: tuple[str, ...] | None = None  # when consequents are other things

    @property
    def targets(self) -> tuple[str, ...]:
        """The names ``consequent`` indexes: ``consequent_items`` if set, else ``items``."""
        return self.consequent_items if self.consequent_items is not None else self.items

    def __len__(self) -> int:
        return len(self.antecedent)

    def within(self, rule: IntArray, elapsed: npt.NDArray[Any]) -> IntArray:
        """How many of each ``rule``'s customers took the consequent at most ``elapsed``
        seconds after the antecedent (broadcasts; sequence rules only)."""
        if self.delay_offsets is None:
            raise ValueError("only sequence rules carry delays")
        top, key = self._delay_key
        query = rule * top + np.clip(elapsed, -1, top - 1)
        found: IntArray = np.searchsorted(key, query, side="right") - self.delay_offsets[rule]
        return found

    @cached_property
    def _delay_key(self) -> tuple[int, IntArray]:
        """All delays as one sorted key ``rule * top + delay``, for ``within``."""
        delays = self.delays if self.delays is not None else np.zeros(0, np.int64)
        offsets = self.delay_offsets if self.delay_offsets is not None else np.zeros(1, np.int64)
        top = int(delays.max()) + 1 if len(delays) else 1
        return top, np.repeat(np.arange(len(self)), np.diff(offsets)) * top + delays

    def remaining(self, rule: IntArray, elapsed: npt.NDArray[Any]) -> FloatArray:
        """Chance that a customer who took the antecedent ``elapsed`` seconds ago and not yet
        the consequent still takes it within the window: (count - within) / (antecedents -
        within). Sequence rules only."""
        done = self.within(rule, elapsed)
        left = self.antecedent_count[rule] - done
        out: FloatArray = np.where(left > 0, (self.count[rule] - done) / np.maximum(left, 1),
                                   0.0)
        return out

    def median_delay_days(self) -> FloatArray:
        """Per rule, the median shortest delay from antecedent to consequent (NaN: none)."""
        return self._median_delays.copy()

    @cached_property
    def _median_delays(self) -> FloatArray:
        if self.delays is None or self.delay_offsets is None or not len(self.delays):
            return np.full(len(self), np.nan)
        lo, hi = self.delay_offsets[:-1], self.delay_offsets[1:]
        mid_lo = self.delays[np.minimum(lo + (hi - lo - 1) // 2, len(self.delays) - 1)]
        mid_hi = self.delays[np.minimum(lo + (hi - lo) // 2, len(self.delays) - 1)]
        out: FloatArray = np.where(hi > lo, (mid_lo + mid_hi) / 2 / 86_400, np.nan)
        return out

    def __getitem__(self, i: int) -> AffinityRule:
        a, b = int(self.antecedent[i]), int(self.consequent[i])
        return AffinityRule(
            antecedent=self.items[a], consequent=self.targets[b], antecedent_index=a,
            consequent_index=b, count=int(self.count[i]), support=float(self.support[i]),
            confidence=float(self.confidence[i]), lift=float(self.lift[i]),
            leverage=float(self.leverage[i]), conviction=float(self.conviction[i]),
            antecedent_support=float(self.antecedent_support[i]),
            consequent_support=float(self.consequent_support[i]), window_days=self.window_days,
            median_delay_days=float(self._median_delays[i]) if self.delays is not None
            else None)

    def __iter__(self) -> Iterator[AffinityRule]:
        return (self[i] for i in range(len(self)))

    def find(self, antecedent: str, consequent: str) -> AffinityRule | None:
        """The rule ``antecedent -> consequent`` if it passed the thresholds."""
        if antecedent not in self.items or consequent not in self.targets:
            return None
        hit = np.flatnonzero((self.antecedent == self.items.index(antecedent))
                             & (self.consequent == self.targets.index(consequent)))
        return self[int(hit[0])] if len(hit) else None

    def top(self, k: int, by: Metric = "lift") -> list[AffinityRule]:
        """The ``k`` strongest rules by ``by`` (ties: higher confidence, then order)."""
        key = np.asarray(getattr(self, by), dtype=np.float64)
        order = np.lexsort((np.arange(len(self)), -self.confidence, -key))
        return [self[int(i)] for i in order[:k]]

    def matrix(self, metric: Metric = "confidence") -> FloatArray:
        """Items x targets, ``metric`` of the rule row -> column, 0 where there is no rule."""
        out = np.zeros((len(self.items), len(self.targets)), dtype=np.float64)
        out[self.antecedent, self.consequent] = getattr(self, metric)
        return out


def rules_from_counts(a: Any, b: Any, pair_count: Any, antecedent_count: IntArray,
                      consequent_count: IntArray, n: int, items: Sequence[str], *,
                      min_support: float, min_confidence: float,
                      window_days: float | None = None,
                      consequent_items: Sequence[str] | None = None) -> AffinityRules:
    """Rules from pair counts ``a -> b``; ``antecedent_count``/``consequent_count`` per item."""
    require(0 < min_support <= 1, "min_support", "in (0, 1]", min_support)
    require(0 <= min_confidence <= 1, "min_confidence", "in [0, 1]", min_confidence)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    count = np.asarray(pair_count, dtype=np.int64)
    nf = float(n)
    keep = count > 0
    s_ab = count / nf if n else np.zeros(len(count))
    keep &= s_ab >= min_support
    a, b, count, s_ab = a[keep], b[keep], count[keep], s_ab[keep]
    s_a = antecedent_count[a] / nf
    s_b = consequent_count[b] / nf
    confidence = (s_ab * nf) / (s_a * nf)  # mlxtend multiplies both by num_itemsets
    keep = confidence >= min_confidence
    a, b, count, s_ab, s_a, s_b, confidence = (v[keep] for v in (a, b, count, s_ab, s_a, s_b,
                                                                   confidence))
    order = np.lexsort((b, a))
    a, b, count, s_ab, s_a, s_b, confidence = (v[order] for v in (a, b, count, s_ab, s_a, s_b,
                                                                    confidence))
    conviction = np.full(len(a), np.inf)
    below = confidence < 1.0
    conviction[below] = (1.0 - s_b[below]) / (1.0 - confidence[below])
    return AffinityRules(
        items=tuple(items), n=n, antecedent=a, consequent=b, count=count,
        antecedent_count=antecedent_count[a], consequent_count=consequent_count[b], support=s_ab,
        confidence=confidence, lift=confidence / s_b, leverage=s_ab - s_a * s_b,
        conviction=conviction, antecedent_support=s_a, consequent_support=s_b,
        min_support=min_support, min_confidence=min_confidence, window_days=window_days,
        consequent_items=tuple(consequent_items) if consequent_items is not None else None)
