"""Business-need grouping: which business lines (and combinations) each customer has bought."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analytics.arrays import FloatArray, IntArray
from analytics.errors import require, require_index, require_length

MAX_LINES = 62  # a combination is a bitmask in one int64


@dataclass(frozen=True, eq=False)
class NeedGroups:
    """``mask[c]`` has bit ``l`` set when customer ``c`` bought from line ``l``; ``primary[c]``
    is the line with the largest spend (-1: no purchase). ``groups``/``sizes`` list every
    combination present, largest first (mask 0 = no purchase yet)."""

    line_names: tuple[str, ...]
    mask: IntArray
    primary: IntArray
    line_spend: FloatArray  # customers x lines
    groups: IntArray
    sizes: IntArray

    def label(self, mask: int) -> str:
        """'buy_sell+decoration' for a combination, 'none' for customers without purchases."""
        names = [name for bit, name in enumerate(self.line_names) if mask >> bit & 1]
        return "+".join(names) if names else "none"

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.label(int(m)) for m in self.groups)

    def line_customers(self) -> IntArray:
        """How many customers bought from each line."""
        bits = (self.mask[:, None] >> np.arange(len(self.line_names))) & 1
        counts: IntArray = bits.sum(axis=0).astype(np.int64)
        return counts

    def members(self, mask: int) -> IntArray:
        """The customers whose combination is exactly ``mask``."""
        return np.flatnonzero(self.mask == mask)


def group_by_need(customer: IntArray, line: IntArray, amount: FloatArray, n_customers: int,
                  line_names: Sequence[str]) -> NeedGroups:
    """Group customers by the set of business lines in their purchases."""
    n_lines = len(line_names)
    require(1 <= n_lines <= MAX_LINES, "line_names", f"1 to {MAX_LINES} lines", n_lines)
    require_length("line", len(line), len(customer))
    require_length("amount", len(amount), len(customer))
    require_index("customer", customer, n_customers)
    require_index("line", line, n_lines)
    spend = np.zeros((n_customers, n_lines), dtype=np.float64)
    spend += np.bincount(customer * n_lines + line, weights=amount,
                         minlength=spend.size).reshape(spend.shape)
    bought = np.zeros((n_customers, n_lines), dtype=np.bool_)
    bought[customer, line] = True
    mask = (bought.astype(np.int64) << np.arange(n_lines, dtype=np.int64)).sum(axis=1)
    primary = np.where(bought.any(axis=1), np.argmax(np.where(bought, spend, -1.0), axis=1), -1)
    groups, sizes = np.unique(mask, return_counts=True)
    order = np.lexsort((groups, -sizes))
    return NeedGroups(line_names=tuple(line_names), mask=mask.astype(np.int64),
                      primary=primary.astype(np.int64), line_spend=spend,
                      groups=groups[order].astype(np.int64), sizes=sizes[order].astype(np.int64))

