"""PTP pair rules from sparse incidence, and running pair counts that take new baskets.

Every pair of items sharing a row is counted once (a < b) and both directions become rules
(``analytics.rules`` holds the rule types and metric formulas, as mlxtend computes them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

from analytics.arrays import IntArray
from analytics.errors import require, require_index, require_length
from analytics.rules import AffinityRule, AffinityRules, rules_from_counts

__all__ = ["AffinityCounts", "AffinityRule", "AffinityRules", "aggregate", "baskets", "binary",
           "incidence", "pair_rules"]
DENSE_PAIRS_LIMIT = 4096  # up to this many items, running pair counts are a dense matrix
PAIR_CHUNK = 8_000_000  # within-basket pairs expanded at a time


def incidence(rows: IntArray, cols: IntArray, n_rows: int, n_cols: int) -> Any:
    """A binary CSR matrix (int32) with a 1 wherever some (row, col) pair occurs."""
    require_length("cols", len(cols), len(rows))
    require_index("rows", rows, n_rows)
    require_index("cols", cols, n_cols)
    matrix = sparse.csr_array((np.ones(len(rows), dtype=np.int32), (rows, cols)),
                              shape=(n_rows, n_cols))
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def binary(matrix: Any) -> Any:
    """``matrix`` (dense or any sparse format) as a binary CSR matrix (int32)."""
    out = sparse.csr_array(matrix, dtype=np.int32, copy=True)
    out.sum_duplicates()
    out.data = (out.data != 0).astype(np.int32)
    out.eliminate_zeros()
    return out


def baskets(customer: IntArray, time: IntArray, basket_seconds: int = 86_400
            ) -> tuple[IntArray, int]:
    """Basket number of every row (one basket = one customer's purchases in the same
    ``basket_seconds`` slot, a calendar day by default) and the number of baskets."""
    require(basket_seconds > 0, "basket_seconds", "positive", basket_seconds)
    if not len(customer):
        return np.zeros(0, dtype=np.int64), 0
    slot = time // basket_seconds
    slot = slot - slot.min()
    key = customer * (int(slot.max()) + 1) + slot
    _, basket = np.unique(key, return_inverse=True)
    basket = basket.reshape(-1).astype(np.int64)
    return basket, int(basket.max()) + 1


def aggregate(matrix: Any, group: IntArray, n_groups: int) -> Any:
    """Columns folded into groups (products into business lines), binary."""
    require_length("group", len(group), matrix.shape[1])
    require_index("group", group, n_groups)
    fold = sparse.csr_array((np.ones(len(group), dtype=np.int32),
                             (np.arange(len(group)), group)), shape=(len(group), n_groups))
    return binary(sparse.csr_array(matrix) @ fold)


def pair_rules(matrix: Any, items: Sequence[str], *, min_support: float,
               min_confidence: float) -> AffinityRules:
    """All pairwise rules of a binary basket x item (or customer x item) matrix. Items below
    ``min_support`` cannot be in a rule, so their columns are dropped before pairs are
    counted."""
    indptr, indices, n_rows, n_cols = _pattern(matrix)
    require_length("items", len(items), n_cols)
    item_count = np.bincount(indices, minlength=n_cols).astype(np.int64)
    least = _min_count(min_support, n_rows)
    frequent = np.flatnonzero(item_count >= least)
    if len(frequent) < n_cols:  # renumber the frequent items 0..k-1, drop the rest
        compact = np.full(n_cols, -1, dtype=np.int64)
        compact[frequent] = np.arange(len(frequent))
        mapped = compact[indices]
        kept = mapped >= 0
        indptr = np.concatenate([[0], np.cumsum(kept)])[indptr]
        indices = mapped[kept]
    size = len(frequent)
    pairs = _count_pairs(indptr, indices, size)
    if sparse.issparse(pairs):
        coo = pairs.tocoo()
        hit = coo.data >= least
        cell, count = coo.col[hit].astype(np.int64), coo.data[hit].astype(np.int64)
    else:
        cell = np.flatnonzero(pairs >= least)
        count = pairs[cell]
    a, b = frequent[cell // max(size, 1)], frequent[cell % max(size, 1)]
    return rules_from_counts(np.concatenate([a, b]), np.concatenate([b, a]),
                             np.concatenate([count, count]), item_count, item_count, n_rows,
                             items, min_support=min_support, min_confidence=min_confidence)


def _pattern(matrix: Any) -> tuple[IntArray, Any, int, int]:
    """Row pointers and sorted distinct column indices of the nonzeros of ``matrix``."""
    x = matrix
    if not (sparse.issparse(x) and x.format == "csr" and x.has_canonical_format
            and bool((x.data != 0).all())):
        x = binary(x)
    return np.asarray(x.indptr, dtype=np.int64), x.indices, int(x.shape[0]), int(x.shape[1])


def _min_count(min_support: float, n: int) -> int:
    """The smallest count whose support ``count / n`` passes ``min_support`` (float for
    float as the rules compare it), at least 1."""
    require(0 < min_support <= 1, "min_support", "in (0, 1]", min_support)
    if n == 0:
        return 1
    count = max(int(np.ceil(min_support * n)) - 2, 1)
    while count / float(n) < min_support:
        count += 1
    return count


def _count_pairs(indptr: IntArray, indices: Any, size: int, into: Any = None) -> Any:
    """Counts of every unordered pair a < b of columns sharing a row, as a flat ``size**2``
    array (cell ``a * size + b``) up to ``DENSE_PAIRS_LIMIT`` columns, else a sparse
    1 x size**2 row. Adds to ``into`` when given. Rows go in chunks of about
    ``PAIR_CHUNK`` pairs so memory stays flat."""
    dense = size <= DENSE_PAIRS_LIMIT
    out: Any = into
    if out is None:
        out = (np.zeros(size * size, dtype=np.int64) if dense
               else sparse.csr_array((1, size * size), dtype=np.int64))
    length = np.diff(indptr)
    load = np.cumsum(length * (length - 1) // 2)
    n_rows, start = len(length), 0
    while start < n_rows:
        done = int(load[start - 1]) if start else 0
        stop = min(max(int(np.searchsorted(load, done + PAIR_CHUNK, side="right")),
                       start + 1), n_rows)
        cells = _pair_cells(indptr[start:stop + 1], indices, size)
        start = stop
        if not len(cells):
            continue
        if dense and len(cells) * 8 >= size * size:
            out += np.bincount(cells, minlength=size * size)
            continue
        cell, count = np.unique(cells, return_counts=True)
        if dense:
            out[cell] += count
        else:
            out = out + sparse.csr_array((count.astype(np.int64), (np.zeros_like(cell), cell)),
                                         shape=(1, size * size))
    return out


def _pair_cells(indptr: IntArray, indices: Any, size: int) -> IntArray:
    """``a * size + b`` for every pair a < b within each row of ``indptr`` (indices sorted
    per row): rows of equal length are stacked and paired as one block, so the only Python
    loop is over the distinct row lengths."""
    length = np.diff(indptr)
    if not len(length) or int(length.max()) < 2:
        return np.zeros(0, dtype=np.int64)
    small = int(length.max()) < 2**15  # a 16-bit key sorts by radix
    order = np.argsort(length.astype(np.int16) if small else length, kind="stable")
    ordered = length[order]
    width = np.int32 if size * size < 2**31 else np.int64
    blocks: list[IntArray] = []
    for span in np.flatnonzero(np.bincount(length))[::-1]:
        if span < 2:
            break
        lo, hi = np.searchsorted(ordered, [span, span + 1])
        block: Any = np.asarray(indices[indptr[order[lo:hi]][:, None] + np.arange(span)],
                                dtype=width)
        first, second = np.triu_indices(span, 1)
        blocks.append((block[:, first] * width(size) + block[:, second]).ravel())
    cells: IntArray = np.concatenate(blocks)
    return cells


class AffinityCounts:
    """Running basket, item and pair counts: ``add`` new baskets (or ``merge`` another
    worker's counts) without recounting, ask for ``rules`` at any time. Pair counts are kept
    once per unordered pair, dense up to ``DENSE_PAIRS_LIMIT`` items, sparse beyond."""

    def __init__(self, items: Sequence[str]) -> None:
        self.items = tuple(items)
        size = len(self.items)
        self.n = 0
        self._items = np.zeros(size, dtype=np.int64)
        self._pairs: Any = (np.zeros(size * size, dtype=np.int64) if size <= DENSE_PAIRS_LIMIT
                            else sparse.csr_array((1, size * size), dtype=np.int64))

    @property
    def item_counts(self) -> IntArray:
        return self._items.copy()

    def add(self, matrix: Any) -> AffinityCounts:
        """Count a batch of baskets (rows of a basket x item matrix); returns ``self``."""
        indptr, indices, n_rows, n_cols = _pattern(matrix)
        require_length("batch columns", n_cols, len(self.items))
        self.n += n_rows
        self._items += np.bincount(indices, minlength=n_cols).astype(np.int64)
        self._pairs = _count_pairs(indptr, indices, n_cols, into=self._pairs)
        return self

    def state(self) -> tuple[int, IntArray, IntArray, IntArray]:
        """Everything to store between runs: (baskets, item counts, pair cells
        ``a * len(items) + b`` with a < b, their counts)."""
        if sparse.issparse(self._pairs):
            coo = self._pairs.tocoo()
            cells, counts = coo.col.astype(np.int64), coo.data.astype(np.int64)
        else:
            cells = np.flatnonzero(self._pairs)
            counts = self._pairs[cells]
        return self.n, self._items.copy(), cells, counts

    @classmethod
    def restore(cls, items: Sequence[str], n: int, item_counts: IntArray, cells: IntArray,
                counts: IntArray) -> AffinityCounts:
        """The accumulator ``state()`` described, ready for more ``add`` calls."""
        out = cls(items)
        require_length("item_counts", len(item_counts), len(out.items))
        require_length("counts", len(counts), len(cells))
        require_index("cells", np.asarray(cells, dtype=np.int64), len(out.items) ** 2)
        out.n = int(n)
        out._items = np.asarray(item_counts, dtype=np.int64).copy()
        if sparse.issparse(out._pairs):
            out._pairs = sparse.csr_array(
                (np.asarray(counts, dtype=np.int64), (np.zeros(len(cells), np.int64), cells)),
                shape=out._pairs.shape)
        else:
            out._pairs[np.asarray(cells, dtype=np.int64)] = counts
        return out

    def merge(self, other: AffinityCounts) -> AffinityCounts:
        """Add another accumulator's counts (same items), e.g. from a parallel worker."""
        require(other.items == self.items, "other.items", "the same items", len(other.items))
        self.n += other.n
        self._items += other._items
        self._pairs = self._pairs + other._pairs
        return self

    def rules(self, *, min_support: float, min_confidence: float) -> AffinityRules:
        size = len(self.items)
        least = _min_count(min_support, self.n)
        if sparse.issparse(self._pairs):
            coo = self._pairs.tocoo()
            hit = coo.data >= least
            cell, count = coo.col[hit].astype(np.int64), coo.data[hit].astype(np.int64)
        else:
            cell = np.flatnonzero(self._pairs >= least)
            count = self._pairs[cell]
        a, b = cell // size, cell % size
        return rules_from_counts(np.concatenate([a, b]), np.concatenate([b, a]),
                                 np.concatenate([count, count]), self._items, self._items,
                                 self.n, self.items, min_support=min_support,
                                 min_confidence=min_confidence)
