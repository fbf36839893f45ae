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

from analytics.arrays import IntArray
from analytics.errors import require, require_index, require_length
from analytics.rules import AffinityRules, rules_from_counts
from analytics.sorting import sort_order

DAY = 86_400
CHUNK_PAIRS = 4_000_000  # candidate (A-event, B-event) pairs expanded at a time


def sequence_rules(customer: IntArray, item: IntArray, time: IntArray, n_customers: int,
                   items: Sequence[str], *, window_days: float, min_support: float,
                   min_confidence: float, censor_at: int | None = None,
                   consequent_of: IntArray | None = None,
                   consequent_items: Sequence[str] | None = None,
                   chunk_pairs: int = CHUNK_PAIRS) -> AffinityRules:
    """Rules 'consequent within ``window_days`` after antecedent' (A != B), vectorised: the
    candidate event pairs of each customer are expanded in chunks, never per customer.
    With ``consequent_of`` (item -> group, e.g. product -> business line) and
    ``consequent_items`` (the group names), consequents are groups: 'apartment, then any
    decoration product within a year'."""
    n_items = len(items)
    require(window_days > 0, "window_days", "positive", window_days)
    require(chunk_pairs > 0, "chunk_pairs", "positive", chunk_pairs)
    require_length("item", len(item), len(customer))
    require_length("time", len(time), len(customer))
    require_index("customer", customer, n_customers)
    require_index("item", item, n_items)
    grouped = consequent_of is not None and consequent_items is not None
    n_targets = len(consequent_items) if grouped and consequent_items is not None else n_items
    target_of = np.arange(n_items, dtype=np.int64)
    if grouped and consequent_of is not None:
        require_length("consequent_of", len(consequent_of), n_items)
        require_index("consequent_of", consequent_of, n_targets)
        target_of = consequent_of
    window = round(window_days * DAY)
    c, it, t = _sorted_events(customer, item, time)
    eligible = np.ones(len(c), dtype=np.bool_)
    if censor_at is not None:
        eligible = t + window <= censor_at
    cells, delays = _first_delays(c, it, target_of[it], t, eligible,
                                  (n_items, n_targets, window, chunk_pairs), grouped)
    pair_counts = np.bincount(cells, minlength=n_items * n_targets).reshape(n_items, n_targets)
    ante = _customers_per_item(c[eligible], it[eligible], n_items)
    cons = _customers_per_item(c, target_of[it], n_targets)
    a, b = np.nonzero(pair_counts)
    rules = rules_from_counts(a, b, pair_counts[a, b], ante, cons, n_customers, items,
                              min_support=min_support, min_confidence=min_confidence,
                              window_days=float(window_days),
                              consequent_items=consequent_items if grouped else None)
    # The delays of the rules that passed, grouped by rule (rules are sorted by cell).
    rule_of_cell = np.full(n_items * n_targets, -1, dtype=np.int64)
    rule_of_cell[rules.antecedent * n_targets + rules.consequent] = np.arange(len(rules))
    rule = rule_of_cell[cells]
    mine = rule >= 0
    order = np.lexsort((delays[mine], rule[mine]))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rule[mine], minlength=len(rules)))])
    return replace(rules, delays=delays[mine][order], delay_offsets=offsets.astype(np.int64))


def _sorted_events(customer: IntArray, item: IntArray, time: IntArray
                   ) -> tuple[IntArray, IntArray, IntArray]:
    """Distinct events ordered by (customer, time, item)."""
    order = sort_order((customer, time, item))
    c, it, t = customer[order], item[order], time[order]
    if len(c) > 1:
        new = np.ones(len(c), dtype=np.bool_)
        new[1:] = (c[1:] != c[:-1]) | (t[1:] != t[:-1]) | (it[1:] != it[:-1])
        c, it, t = c[new], it[new], t[new]
    return c, it, t


def _first_delays(c: IntArray, it: IntArray, target: IntArray, t: IntArray,
                  eligible: npt.NDArray[np.bool_], sizes: tuple[int, int, int, int],
                  grouped: bool) -> tuple[IntArray, IntArray]:
    """One entry per (customer, A, B) with an eligible A then B in (t_A, t_A + window]:
    the cell ``A * n_targets + B`` (B indexes ``target``, the consequent of each event) and
    the shortest such delay in seconds. Unless ``grouped``, A == B is no rule. ``sizes`` is
    (n_items, n_targets, window seconds, chunk_pairs)."""
    n_items, n_targets, window, chunk_pairs = sizes
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
        cell, delay = _chunk_delays(c, it, target, t, lo[begin:end], width[begin:end], begin,
                                    n_items * n_targets, n_targets, grouped)
        cells.append(cell)
        delays.append(delay)
        begin = end
    return np.concatenate(cells), np.concatenate(delays)


def _chunk_delays(c: IntArray, it: IntArray, target: IntArray, t: IntArray, lo: IntArray,
                  width: IntArray, begin: int, cells: int, n_targets: int, grouped: bool
                  ) -> tuple[IntArray, IntArray]:
    total = int(width.sum())
    if not total:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    first = np.repeat(np.arange(begin, begin + len(lo)), width)
    offset = np.arange(total) - np.repeat(np.cumsum(width) - width, width)
    second = np.repeat(lo, width) + offset
    a, b = it[first], target[second]
    if not grouped:
        differ = a != b
        first, second, a, b = first[differ], second[differ], a[differ], b[differ]
    triple = c[first] * cells + a * n_targets + b
    delay = t[second] - t[first]
    order = sort_order((triple, delay))
    triple, delay = triple[order], delay[order]
    head = np.ones(len(triple), dtype=np.bool_)
    head[1:] = triple[1:] != triple[:-1]
    return triple[head] % cells, delay[head]


def _customers_per_item(c: IntArray, it: IntArray, n_items: int) -> IntArray:
    """How many distinct customers have an event of each item."""
    if not len(c):
        return np.zeros(n_items, dtype=np.int64)
    key = c * n_items + it
    space = (int(c.max()) + 1) * n_items
    if space <= 64 * len(c) + 2**20:  # a bitmap beats sorting when it is small
        seen = np.zeros(space, dtype=np.bool_)
        seen[key] = True
        counts: IntArray = seen.reshape(-1, n_items).sum(axis=0).astype(np.int64)
        return counts
    pairs = np.unique(key)
    return np.bincount(pairs % n_items, minlength=n_items).astype(np.int64)

