"""Time-window PTP: rules 'B within W days after A' from (customer, item, time) events.

A customer supports ``A -> B`` when some purchase of B falls in ``(t, t + W]`` after some
purchase of A at ``t``. With ``censor_at`` (the analysis date), only purchases of A made at
least W before it count, so every antecedent had its whole window observed: confidence is then
'share of A-customers who took B within W', not diluted by recent A-customers.
Supports are fractions of ``n_customers``; the consequent support counts every customer with B.
Each rule also keeps, per supporting customer, the shortest delay from A to B, so the chance
that a customer who bought A ``e`` seconds ago (and no B yet) still takes B is known
(``AffinityRules.remaining``), as is the typical delay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from analytics.affinity import AffinityRules, rules_from_counts
from analytics.errors import require, require_index, require_length

IntArray = npt.NDArray[np.int64]
DAY = 86_400
CHUNK_PAIRS = 4_000_000  # candidate (A-event, B-event) pairs expanded at a time


def sequence_rules(customer: IntArray, item: IntArray, time: IntArray, n_customers: int,
                   items: Sequence[str], *, window_days: float, min_support: float,
                   min_confidence: float, censor_at: int | None = None,
                   chunk_pairs: int = CHUNK_PAIRS) -> AffinityRules:
    """Rules 'consequent within ``window_days`` after antecedent' (A != B), vectorised: the
    candidate event pairs of each customer are expanded in chunks, never per customer."""
    n_items = len(items)
    require(window_days > 0, "window_days", "positive", window_days)
    require(chunk_pairs > 0, "chunk_pairs", "positive", chunk_pairs)
    require_length("item", len(item), len(customer))
    require_length("time", len(time), len(customer))
    require_index("customer", customer, n_customers)
    require_index("item", item, n_items)
    window = round(window_days * DAY)
    c, it, t = _sorted_events(customer, item, time)
    eligible = np.ones(len(c), dtype=np.bool_)
    if censor_at is not None:
        eligible = t + window <= censor_at
    cells, delays = _first_delays(c, it, t, eligible, n_items, window, chunk_pairs)
    pair_counts = np.bincount(cells, minlength=n_items * n_items).reshape(n_items, n_items)
    ante = _customers_per_item(c[eligible], it[eligible], n_items)
    cons = _customers_per_item(c, it, n_items)
    a, b = np.nonzero(pair_counts)
    rules = rules_from_counts(a, b, pair_counts[a, b], ante, cons, n_customers, items,
                              min_support=min_support, min_confidence=min_confidence,
                              window_days=float(window_days))
    # The delays of the rules that passed, grouped by rule (rules are sorted by cell).
    rule_of_cell = np.full(n_items * n_items, -1, dtype=np.int64)
    rule_of_cell[rules.antecedent * n_items + rules.consequent] = np.arange(len(rules))
    rule = rule_of_cell[cells]
    mine = rule >= 0
    order = np.lexsort((delays[mine], rule[mine]))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rule[mine], minlength=len(rules)))])
    return replace(rules, delays=delays[mine][order], delay_offsets=offsets.astype(np.int64))


def _sorted_events(customer: IntArray, item: IntArray, time: IntArray
                   ) -> tuple[IntArray, IntArray, IntArray]:
    """Distinct events ordered by (customer, time, item)."""
    order = np.lexsort((item, time, customer))
    c, it, t = customer[order], item[order], time[order]
    if len(c) > 1:
        new = np.ones(len(c), dtype=np.bool_)
        new[1:] = (c[1:] != c[:-1]) | (t[1:] != t[:-1]) | (it[1:] != it[:-1])
        c, it, t = c[new], it[new], t[new]
    return c, it, t


def _first_delays(c: IntArray, it: IntArray, t: IntArray, eligible: npt.NDArray[np.bool_],
                  n_items: int, window: int, chunk_pairs: int) -> tuple[IntArray, IntArray]:
    """One entry per (customer, A, B) with an eligible A then B in (t_A, t_A + window]:
    the cell ``A * n_items + B`` and the shortest such delay in seconds."""
    cells: list[IntArray] = []
    delays: list[IntArray] = []
    if not len(c):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # One sortable key per event: customer-major, then seconds since the first event.
    t0 = int(t.min())
    span = int(t.max()) - t0 + window + 1
    require(int(c.max()) + 1 <= (2**62) // span, "time span x customers",
            "below 2**62 seconds", span)
    key = c * span + (t - t0)
    lo = np.searchsorted(key, key, side="right")  # strictly later, same customer
    hi = np.searchsorted(key, key + window, side="right")
    width = np.where(eligible, hi - lo, 0)
    # Chunks end on customer boundaries so a (customer, A, B) triple is never split.
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    cum = np.cumsum(width)
    begin = 0
    while begin < len(c):
        done = int(cum[begin - 1]) if begin else 0
        stop = int(np.searchsorted(cum, done + chunk_pairs, side="right"))
        nxt = int(np.searchsorted(starts, max(stop, begin + 1), side="left"))
        end = int(starts[nxt]) if nxt < len(starts) else len(c)
        cell, delay = _chunk_delays(c, it, t, lo[begin:end], width[begin:end], begin, n_items)
        cells.append(cell)
        delays.append(delay)
        begin = end
    return np.concatenate(cells), np.concatenate(delays)


def _chunk_delays(c: IntArray, it: IntArray, t: IntArray, lo: IntArray, width: IntArray,
                  begin: int, n_items: int) -> tuple[IntArray, IntArray]:
    total = int(width.sum())
    if not total:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    first = np.repeat(np.arange(begin, begin + len(lo)), width)
    offset = np.arange(total) - np.repeat(np.cumsum(width) - width, width)
    second = np.repeat(lo, width) + offset
    a, b = it[first], it[second]
    differ = a != b
    first, second = first[differ], second[differ]
    cells = n_items * n_items
    triple = c[first] * cells + a[differ] * n_items + b[differ]
    delay = t[second] - t[first]
    order = np.lexsort((delay, triple))
    triple, delay = triple[order], delay[order]
    head = np.ones(len(triple), dtype=np.bool_)
    head[1:] = triple[1:] != triple[:-1]
    return triple[head] % cells, delay[head]


def _customers_per_item(c: IntArray, it: IntArray, n_items: int) -> IntArray:
    """How many distinct customers have an event of each item."""
    if not len(c):
        return np.zeros(n_items, dtype=np.int64)
    pairs = np.unique(c * n_items + it)
    return np.bincount(pairs % n_items, minlength=n_items).astype(np.int64)
