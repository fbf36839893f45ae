"""PTC features: coded attributes, purchase history as of a date, the named design matrix.

Columns, in order: one-hot attributes (``district=Pudong``), products ever bought
(``owns=BS-APT``), products bought in the last ``recent_days`` (``recent=BS-APT``),
``has_purchased``, then the numeric ``NUMERIC`` columns (log1p of days since the last purchase,
of the number of purchases and of the spend, standardised). Every column before the numeric
ones is a 0/1 indicator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from analytics.arrays import BoolArray, FloatArray, IntArray
from analytics.errors import require_index
from analytics.sorting import sort_order

DAY = 86_400
NUMERIC = ("days_since_last_purchase", "purchases", "spend")
RECENT_DAYS = 90.0


@dataclass(frozen=True, eq=False)
class Categorical:
    """One coded customer attribute: ``codes[c]`` indexes ``levels`` (-1: unknown)."""

    name: str
    levels: tuple[str, ...]
    codes: IntArray

    def __post_init__(self) -> None:
        require_index(self.name, self.codes, len(self.levels), allow_missing=True)

    @classmethod
    def from_labels(cls, name: str, labels: Sequence[object],
                    levels: Sequence[str] | None = None) -> Categorical:
        """Code raw labels (None or "" is unknown); ``levels`` fixes the order, else sorted.
        Labels not among the given ``levels`` become unknown."""
        text = [str(v) if v is not None and v != "" else "" for v in labels]
        known = tuple(levels) if levels is not None else tuple(sorted(set(text) - {""}))
        index = {level: i for i, level in enumerate(known)}
        codes = np.fromiter((index.get(v, -1) for v in text), dtype=np.int64, count=len(text))
        return cls(name=name, levels=known, codes=codes)


@dataclass(frozen=True, eq=False)
class History:
    """Purchases strictly before ``as_of``: per (customer, product) pair bought, the last time;
    per customer the count, spend and last time (-1 when nothing was bought)."""

    as_of: int
    n_customers: int
    n_products: int
    pair_customer: IntArray  # sorted by (customer, product), one row per pair bought
    pair_product: IntArray
    pair_last: IntArray
    count: IntArray
    spend: FloatArray
    last: IntArray

    def last_bought(self, rows: IntArray) -> IntArray:
        """Dense rows x products: time of the last purchase of each product (-1: never)."""
        out = np.full((len(rows), self.n_products), -1, dtype=np.int64)
        lo = np.searchsorted(self.pair_customer, rows, side="left")
        hi = np.searchsorted(self.pair_customer, rows, side="right")
        which = np.repeat(np.arange(len(rows)), hi - lo)
        pos = _ranges(lo, hi)
        out[which, self.pair_product[pos]] = self.pair_last[pos]
        return out

    def owned(self, rows: IntArray) -> BoolArray:
        """Dense rows x products: which products each of ``rows`` has bought."""
        owned: BoolArray = self.last_bought(rows) >= 0
        return owned

    def raw(self, rows: IntArray) -> FloatArray:
        """Untransformed numeric features of ``rows`` (days, purchases, spend; 0 if none)."""
        count = self.count[rows]
        days = np.where(count > 0, (self.as_of - self.last[rows]) / DAY, 0.0)
        return np.column_stack([np.maximum(days, 0.0), count.astype(np.float64),
                                self.spend[rows]])


def _ranges(lo: IntArray, hi: IntArray) -> IntArray:
    """Concatenated ``arange(lo[i], hi[i])`` for every i, without a Python loop."""
    width = hi - lo
    total = int(width.sum())
    return np.repeat(lo - np.cumsum(width) + width, width) + np.arange(total)


def build_history(customer: IntArray, product: IntArray, amount: FloatArray, time: IntArray,
                  n_customers: int, n_products: int, as_of: int) -> History:
    before = time < as_of
    c, p, a, t = customer[before], product[before], amount[before], time[before]
    order = sort_order((c, p, t))
    c, p, t = c[order], p[order], t[order]
    last_of_pair = np.ones(len(c), dtype=np.bool_)
    if len(c) > 1:
        last_of_pair[:-1] = (c[1:] != c[:-1]) | (p[1:] != p[:-1])
    last = np.full(n_customers, -1, dtype=np.int64)
    np.maximum.at(last, c[last_of_pair], t[last_of_pair])
    return History(
        as_of=as_of, n_customers=n_customers, n_products=n_products,
        pair_customer=c[last_of_pair], pair_product=p[last_of_pair], pair_last=t[last_of_pair],
        count=np.bincount(c, minlength=n_customers).astype(np.int64),
        spend=np.bincount(customer[before], weights=a, minlength=n_customers).astype(np.float64),
        last=last)


@dataclass(frozen=True, eq=False)
class FeatureSpace:
    """Names and column positions of the design matrix. Columns before ``numeric_offset`` are
    0/1; numeric columns are ``log1p(raw)`` standardised with ``numeric_mean``/``numeric_scale``
    (from the rows the model was fitted on)."""

    names: tuple[str, ...]
    attributes: tuple[Categorical, ...]
    attribute_offsets: tuple[int, ...]
    owned_offset: int
    recent_offset: int
    numeric_offset: int
    recent_days: float
    numeric_mean: FloatArray
    numeric_scale: FloatArray

    @property
    def size(self) -> int:
        return len(self.names)

    def design(self, history: History, rows: IntArray, last: IntArray | None = None,
               dtype: type[np.floating[Any]] = np.float64) -> npt.NDArray[Any]:
        """Dense rows x features for ``rows`` (customer numbers); ``last`` is
        ``history.last_bought(rows)`` when the caller has it already."""
        out = np.zeros((len(rows), self.size), dtype=dtype)
        for attr, offset in zip(self.attributes, self.attribute_offsets, strict=True):
            code = attr.codes[rows]
            known = np.flatnonzero(code >= 0)
            out[known, offset + code[known]] = 1.0
        last = history.last_bought(rows) if last is None else last
        n_products = history.n_products
        out[:, self.owned_offset:self.owned_offset + n_products] = last >= 0
        since = history.as_of - self.recent_days * DAY
        out[:, self.recent_offset:self.recent_offset + n_products] = (last >= 0) & (
            last >= since)
        out[:, self.numeric_offset - 1] = history.count[rows] > 0
        out[:, self.numeric_offset:] = ((np.log1p(history.raw(rows)) - self.numeric_mean)
                                        / self.numeric_scale)
        return out


def feature_space(attributes: Sequence[Categorical], products: Sequence[str],
                  history: History, rows: IntArray, recent_days: float = RECENT_DAYS
                  ) -> FeatureSpace:
    """The feature layout; numeric scaling from ``history`` on ``rows``."""
    names: list[str] = []
    offsets: list[int] = []
    for attr in attributes:
        offsets.append(len(names))
        names.extend(f"{attr.name}={level}" for level in attr.levels)
    owned_offset = len(names)
    names.extend(f"owns={p}" for p in products)
    recent_offset = len(names)
    names.extend(f"recent={p}" for p in products)
    names.append("has_purchased")
    numeric_offset = len(names)
    names.extend(NUMERIC)
    raw = np.log1p(history.raw(rows))
    mean = raw.mean(axis=0) if len(rows) else np.zeros(len(NUMERIC))
    scale = raw.std(axis=0) if len(rows) else np.ones(len(NUMERIC))
    scale = np.where(scale > 1e-12, scale, 1.0)
    return FeatureSpace(names=tuple(names), attributes=tuple(attributes),
                        attribute_offsets=tuple(offsets), owned_offset=owned_offset,
                        recent_offset=recent_offset, numeric_offset=numeric_offset,
                        recent_days=recent_days, numeric_mean=mean, numeric_scale=scale)
