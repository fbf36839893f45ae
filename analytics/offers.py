"""Scoring and next-best offers: PTC model blended with applicable rules, reasons per offer.

Keeps, per customer, the top offers with what an agent can say about them.

A sequence rule A -> B applies to a customer who bought A within the rule window before
``as_of`` (and never B); its ``rule_probability`` is the share of such customers who still
took B after the time already elapsed since their A (``AffinityRules.remaining``). Blend:
``score = (1 - rule_weight) * model + rule_weight * rule_probability`` with the most likely
applicable rule, else ``score = model``. Products already owned score 0 and are never offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from analytics.arrays import FloatArray, IntArray
from analytics.errors import require, require_length
from analytics.features import DAY, History
from analytics.propensity import PropensityModel
from analytics.rules import AffinityRules

OfferRank = Literal["score", "expected_value"]
CHUNK = 32_768


@dataclass(frozen=True)
class Factor:
    """One model reason: a feature ('district=Pudong', 'owns=BS-APT', 'recent=BS-APT',
    'days_since_last_purchase'), this customer's raw value of it (1.0 for yes/no features;
    days, purchases or spend for numeric ones) and its contribution to the offer's logit
    against the average customer."""

    feature: str
    value: float
    contribution: float


@dataclass(frozen=True)
class Offer:
    """A product suggested to one customer, with the rule and model factors behind it."""

    product: str
    product_index: int
    score: float
    model_probability: float
    expected_value: float
    because_of: str | None  # antecedent product of the sequence rule that applies
    rule_confidence: float  # share of such customers who took the product within the window
    rule_probability: float  # share still taking it after the time this customer has waited
    window_days: float
    antecedent_at: int | None  # when this customer last bought the antecedent (epoch s)
    factors: tuple[Factor, ...]  # strongest positive model factors first


@dataclass(frozen=True, eq=False)
class Propensity:
    """customers x products ``score`` (0 where owned), ``demand`` = P(buys at least one),
    ``expected_value`` = sum of score x price."""

    products: tuple[str, ...]
    score: FloatArray
    demand: FloatArray
    expected_value: FloatArray
    model: PropensityModel


@dataclass(frozen=True, eq=False)
class Offers:
    """Per customer the best offers as arrays (customers x offers; product -1 pads);
    ``factor`` (customers x offers x factors) indexes ``feature_names`` (-1 pads).
    ``for_customer`` turns one row into ``Offer`` values."""

    products: tuple[str, ...]
    feature_names: tuple[str, ...]
    window_days: float
    product: IntArray
    score: FloatArray
    model: FloatArray
    expected_value: FloatArray
    antecedent: IntArray
    rule_confidence: FloatArray
    rule_probability: FloatArray
    antecedent_at: IntArray
    factor: IntArray
    factor_value: FloatArray
    factor_contribution: FloatArray

    def for_customer(self, row: int) -> tuple[Offer, ...]:
        out: list[Offer] = []
        for j in range(self.product.shape[1]):
            p = int(self.product[row, j])
            if p < 0:
                break
            ante = int(self.antecedent[row, j])
            factors = tuple(
                Factor(self.feature_names[int(f)], float(v), float(c))
                for f, v, c in zip(self.factor[row, j], self.factor_value[row, j],
                                   self.factor_contribution[row, j], strict=True)
                if f >= 0 and c > 0)
            out.append(Offer(
                product=self.products[p], product_index=p, score=float(self.score[row, j]),
                model_probability=float(self.model[row, j]),
                expected_value=float(self.expected_value[row, j]),
                because_of=self.products[ante] if ante >= 0 else None,
                rule_confidence=float(self.rule_confidence[row, j]),
                rule_probability=float(self.rule_probability[row, j]),
                window_days=self.window_days,
                antecedent_at=int(self.antecedent_at[row, j]) if ante >= 0 else None,
                factors=factors))
        return tuple(out)


def score_customers(model: PropensityModel, history: History, rules: AffinityRules | None,
                    prices: FloatArray, *, top_offers: int = 3, top_factors: int = 3,
                    rule_weight: float = 0.5, rank_by: OfferRank = "score",
                    chunk: int = CHUNK) -> tuple[Propensity, Offers]:
    """Score every customer of ``history`` (as of its date) for every product, in chunks;
    ``rules`` are sequence rules (with delays) or None."""
    n, n_products = history.n_customers, history.n_products
    require_length("prices", len(prices), n_products)
    require(0 <= rule_weight <= 1, "rule_weight", "in [0, 1]", rule_weight)
    require(top_offers >= 1, "top_offers", "at least 1", top_offers)
    require(rank_by in ("score", "expected_value"), "rank_by", "'score' or 'expected_value'",
            rank_by)
    if rules is not None and (not rules.window_days or rules.delays is None or not len(rules)):
        rules = None  # no rule, or plain co-occurrence rules (no window): nothing applies
    window = float(rules.window_days or 0.0) if rules is not None else 0.0
    k = min(top_offers, n_products)
    score = np.zeros((n, n_products), dtype=np.float64)
    offers = Offers(
        products=model.products, feature_names=model.space.names, window_days=window,
        product=np.full((n, k), -1, np.int64), score=np.zeros((n, k)), model=np.zeros((n, k)),
        expected_value=np.zeros((n, k)), antecedent=np.full((n, k), -1, np.int64),
        rule_confidence=np.zeros((n, k)), rule_probability=np.zeros((n, k)),
        antecedent_at=np.full((n, k), -1, np.int64),
        factor=np.full((n, k, top_factors), -1, np.int64),
        factor_value=np.zeros((n, k, top_factors)),
        factor_contribution=np.zeros((n, k, top_factors)))
    for start in range(0, n, chunk):
        here = slice(start, min(start + chunk, n))
        rows = np.arange(here.start, here.stop, dtype=np.int64)
        last = history.last_bought(rows)
        x = model.space.design(history, rows, last=last, dtype=np.float32)
        owned = last >= 0
        p_model = model.probability(x)
        rule, p_rule = _applicable_rules(rules, last, history.as_of, window)
        blended = score[here]
        blended[:] = p_model
        applies = rule >= 0
        blended[applies] = (1 - rule_weight) * p_model[applies] + rule_weight * p_rule[applies]
        blended[owned] = 0.0
        rank = blended * prices if rank_by == "expected_value" else blended.copy()
        line = np.arange(len(rows))[:, None]
        ranked = np.empty((len(rows), k), dtype=np.int64)
        for j in range(k):  # k passes of argmax: cheaper than sorting every row
            ranked[:, j] = np.argmax(rank, axis=1)
            rank[line[:, 0], ranked[:, j]] = -np.inf
        value = blended[line, ranked]
        valid = value > 0
        chosen = np.where(valid, rule[line, ranked], -1)
        offers.product[here] = np.where(valid, ranked, -1)
        offers.score[here] = np.where(valid, value, 0.0)
        offers.model[here] = np.where(valid, p_model[line, ranked], 0.0)
        offers.expected_value[here] = np.where(valid, value * prices[ranked], 0.0)
        if rules is not None:
            ante = np.where(chosen >= 0, rules.antecedent[np.maximum(chosen, 0)], -1)
            offers.antecedent[here] = ante
            offers.rule_confidence[here] = np.where(
                chosen >= 0, rules.confidence[np.maximum(chosen, 0)], 0.0)
            offers.rule_probability[here] = np.where(chosen >= 0, p_rule[line, ranked], 0.0)
            offers.antecedent_at[here] = np.where(ante >= 0, last[line, np.maximum(ante, 0)],
                                                  -1)
        if top_factors:
            feature, raw, contribution = _factors(model, history, rows, x, ranked, top_factors)
            offers.factor[here] = np.where(valid[:, :, None], feature, -1)
            offers.factor_value[here] = np.where(valid[:, :, None], raw, 0.0)
            offers.factor_contribution[here] = np.where(valid[:, :, None], contribution, 0.0)
    demand = -np.expm1(np.log1p(-np.minimum(score, 1.0 - 1e-12)).sum(axis=1))
    propensity = Propensity(products=model.products, score=score, demand=demand,
                            expected_value=score @ prices, model=model)
    return propensity, offers


def _applicable_rules(rules: AffinityRules | None, last: IntArray, as_of: int,
                      window: float) -> tuple[IntArray, FloatArray]:
    """rows x products: the applicable rule (index into ``rules``, -1: none) with the highest
    remaining probability for each product, and that probability."""
    best_rule = np.full(last.shape, -1, dtype=np.int64)
    best = np.zeros(last.shape, dtype=np.float64)
    if rules is None or not len(rules):
        return best_rule, best
    active = (last >= 0) & (last >= as_of - window * DAY)
    for q in np.flatnonzero(active.any(axis=0)):
        mine = np.flatnonzero(rules.antecedent == q)
        if not len(mine):
            continue
        rows = np.flatnonzero(active[:, q])
        elapsed = as_of - last[rows, q]
        chance = rules.remaining(mine[None, :], elapsed[:, None])  # rows x rules of q
        target = rules.consequent[mine]
        better = chance > best[rows[:, None], target[None, :]]
        grid_rows = np.broadcast_to(rows[:, None], better.shape)[better]
        grid_target = np.broadcast_to(target[None, :], better.shape)[better]
        best[grid_rows, grid_target] = chance[better]
        best_rule[grid_rows, grid_target] = np.broadcast_to(mine[None, :], better.shape)[better]
    return best_rule, best


def _factors(model: PropensityModel, history: History, rows: IntArray, x: FloatArray,
             ranked: IntArray, k_factors: int) -> tuple[IntArray, FloatArray, FloatArray]:
    """rows x offers x k: the features that push each offered product's logit up the most.
    Attributes count as one factor each (their level, against the level mix of the fitted
    rows); yes/no features only when present; numeric features either way."""
    space, w, mu = model.space, model.weights, model.feature_mean
    m, k = ranked.shape
    n_num = space.size - space.numeric_offset
    flags = slice(space.owned_offset, space.numeric_offset)
    present = x[:, flags] > 0
    count = present.sum(axis=1)
    width = int(count.max()) if m else 0  # most yes-features any row has
    on_row, on_col = np.nonzero(present)  # row-major: each row's present columns in order
    flag_col = np.zeros((m, width), dtype=np.int64)  # present columns first, then padding
    flag_col[on_row, np.arange(len(on_row)) - np.repeat(np.cumsum(count) - count, count)] = on_col
    flag_on = np.arange(width)[None, :] < count[:, None]
    n_attr = len(space.attributes)
    size = n_attr + width + n_num
    candidates = np.full((m, k, size), -np.inf, dtype=np.float32)
    feature = np.zeros((m, size), dtype=np.int64)  # the same candidates for every offer
    for a, (attr, off) in enumerate(zip(space.attributes, space.attribute_offsets,
                                        strict=True)):
        if not attr.levels:
            continue
        cols = slice(off, off + len(attr.levels))
        centred = w[cols] - mu[cols] @ w[cols]  # levels x products
        code = np.argmax(x[:, cols], axis=1)
        known = x[np.arange(m), off + code] > 0
        candidates[:, :, a] = np.where(known[:, None], centred[code[:, None], ranked], -np.inf)
        feature[:, a] = off + code
    w_flags = (w[flags] * (1.0 - mu[flags])[:, None]).T  # products x yes-features
    candidates[:, :, n_attr:n_attr + width] = np.where(
        flag_on[:, None, :], w_flags[ranked[:, :, None], flag_col[:, None, :]], -np.inf)
    feature[:, n_attr:n_attr + width] = space.owned_offset + flag_col
    num = slice(space.numeric_offset, space.size)
    candidates[:, :, n_attr + width:] = (x[:, num] - mu[num])[:, None, :] * w[num].T[ranked]
    feature[:, n_attr + width:] = space.numeric_offset + np.arange(n_num)
    raw_numeric = history.raw(rows)
    out_feature = np.full((m, k, k_factors), -1, dtype=np.int64)
    out_raw = np.zeros((m, k, k_factors))
    out_value = np.zeros((m, k, k_factors))
    line = np.arange(m)[:, None]
    slot = np.arange(k)[None, :]
    for t in range(min(k_factors, size)):  # k_factors passes of argmax beat a sort
        best = np.argmax(candidates, axis=2)
        value = candidates[line, slot, best].astype(np.float64)
        found = np.isfinite(value)
        chosen = feature[line, best]
        numeric = chosen >= space.numeric_offset
        raw = raw_numeric[line, np.clip(chosen - space.numeric_offset, 0, n_num - 1)]
        out_feature[:, :, t] = np.where(found, chosen, -1)
        out_value[:, :, t] = np.where(found, value, 0.0)
        out_raw[:, :, t] = np.where(found, np.where(numeric, raw, 1.0), 0.0)
        candidates[line, slot, best] = -np.inf
    return out_feature, out_raw, out_value
