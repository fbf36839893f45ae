"""Scoring and next-best offers: blends the PTC model with the sequence rule that applies to
each customer, and keeps, per customer, the top offers with what an agent can say about them.

Blend: where the customer bought a rule's antecedent within the rule window before ``as_of``,
``score = (1 - rule_weight) * model + rule_weight * confidence`` (the strongest such rule);
elsewhere ``score = model``. Products the customer already owns score 0 and are never offered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analytics.affinity import AffinityRules
from analytics.errors import require, require_length
from analytics.features import DAY, History
from analytics.propensity import PropensityModel

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
CHUNK = 32_768


@dataclass(frozen=True)
class Factor:
    """One model reason: a feature ('district=Pudong', 'owns=BS-APT', 'recency') and its
    contribution to the offer's logit against the average customer."""

    feature: str
    contribution: float


@dataclass(frozen=True)
class Offer:
    """A product suggested to one customer, with the rule and model factors behind it."""

    product: str
    product_index: int
    score: float
    model_probability: float
    expected_value: float
    because_of: str | None  # the antecedent product of the sequence rule that applies
    rule_confidence: float  # share of such customers who bought the product in the window
    window_days: float
    antecedent_at: int | None  # when this customer last bought the antecedent
    factors: tuple[Factor, ...]


@dataclass(frozen=True, eq=False)
class Propensity:
    """customers x products ``score`` (0 where owned), ``demand`` = P(buys at least one),
    ``expected_value`` = sum of score x price."""

    products: tuple[str, ...]
    score: FloatArray
    demand: FloatArray
    expected_value: FloatArray
    model: PropensityModel

    def top_customers(self, product: str, k: int) -> IntArray:
        """The ``k`` customers most likely to buy ``product`` (an outbound list)."""
        column = self.score[:, self.products.index(product)]
        k = min(k, len(column))
        head = np.argpartition(-column, k - 1)[:k] if k else np.zeros(0, np.int64)
        out: IntArray = head[np.lexsort((head, -column[head]))].astype(np.int64)
        return out


@dataclass(frozen=True, eq=False)
class Offers:
    """Per customer the best ``n`` offers as arrays (product -1 pads); ``factor`` indexes
    ``feature_names`` (-1 pads). ``for_customer`` turns a row into ``Offer`` values."""

    products: tuple[str, ...]
    feature_names: tuple[str, ...]
    window_days: float
    product: IntArray
    score: FloatArray
    model: FloatArray
    expected_value: FloatArray
    antecedent: IntArray
    rule_confidence: FloatArray
    antecedent_at: IntArray
    factor: IntArray
    factor_contribution: FloatArray

    def for_customer(self, row: int) -> tuple[Offer, ...]:
        out: list[Offer] = []
        for j in range(self.product.shape[1]):
            p = int(self.product[row, j])
            if p < 0:
                break
            ante = int(self.antecedent[row, j])
            factors = tuple(
                Factor(self.feature_names[int(f)], float(v))
                for f, v in zip(self.factor[row, j], self.factor_contribution[row, j],
                                strict=True) if f >= 0 and v > 0)
            out.append(Offer(
                product=self.products[p], product_index=p, score=float(self.score[row, j]),
                model_probability=float(self.model[row, j]),
                expected_value=float(self.expected_value[row, j]),
                because_of=self.products[ante] if ante >= 0 else None,
                rule_confidence=float(self.rule_confidence[row, j]),
                window_days=self.window_days,
                antecedent_at=int(self.antecedent_at[row, j]) if ante >= 0 else None,
                factors=factors))
        return tuple(out)


def score_customers(model: PropensityModel, history: History, rules: AffinityRules | None,
                    prices: FloatArray, *, top_offers: int = 3, top_factors: int = 3,
                    rule_weight: float = 0.5, chunk: int = CHUNK) -> tuple[Propensity, Offers]:
    """Score every customer of ``history`` (as of its date) for every product, in chunks."""
    n, n_products = history.n_customers, history.n_products
    require_length("prices", len(prices), n_products)
    require(0 <= rule_weight <= 1, "rule_weight", "in [0, 1]", rule_weight)
    require(top_offers >= 1, "top_offers", "at least 1", top_offers)
    k = min(top_offers, n_products)
    window = rules.window_days if rules is not None and rules.window_days else 0.0
    confidence = rules.matrix("confidence") if rules is not None else np.zeros(
        (n_products, n_products))
    score = np.zeros((n, n_products), dtype=np.float64)
    offers = _empty_offers(model, n, k, max(top_factors, 0), window)
    for start in range(0, n, chunk):
        rows = np.arange(start, min(start + chunk, n), dtype=np.int64)
        x = model.space.design(history, rows)
        owned = history.owned(rows)
        p_model = model.probability(x)
        last = history.last_bought(rows)
        active = (last >= 0) & (last >= history.as_of - window * DAY) & (window > 0)
        p_rule, ante = _strongest_rule(active, confidence)
        applies = ante >= 0
        blended = np.where(applies, (1 - rule_weight) * p_model + rule_weight * p_rule, p_model)
        blended[owned] = 0.0
        score[rows] = blended
        _fill_offers(offers, rows, blended, p_model, p_rule, ante, last, prices, x, owned,
                     model)
    demand = -np.expm1(np.log1p(-np.minimum(score, 1.0 - 1e-12)).sum(axis=1))
    propensity = Propensity(products=model.products, score=score, demand=demand,
                            expected_value=score @ prices, model=model)
    return propensity, offers


def _empty_offers(model: PropensityModel, n: int, k: int, k_factors: int,
                  window: float) -> Offers:
    return Offers(
        products=model.products, feature_names=model.space.names, window_days=window,
        product=np.full((n, k), -1, np.int64), score=np.zeros((n, k)), model=np.zeros((n, k)),
        expected_value=np.zeros((n, k)), antecedent=np.full((n, k), -1, np.int64),
        rule_confidence=np.zeros((n, k)), antecedent_at=np.full((n, k), -1, np.int64),
        factor=np.full((n, k, k_factors), -1, np.int64),
        factor_contribution=np.zeros((n, k, k_factors)))


def _strongest_rule(active: npt.NDArray[np.bool_], confidence: FloatArray
                    ) -> tuple[FloatArray, IntArray]:
    """rows x products: the highest confidence among rules whose antecedent is active, and
    that antecedent (-1: none applies)."""
    best = np.zeros(active.shape, dtype=np.float64)
    ante = np.full(active.shape, -1, dtype=np.int64)
    for q in np.flatnonzero(active.any(axis=0) & (confidence > 0).any(axis=1)):
        rows = np.flatnonzero(active[:, q])
        better = confidence[q] > best[rows]
        best[rows] = np.where(better, confidence[q], best[rows])
        ante[rows] = np.where(better, q, ante[rows])
    return best, ante


def _fill_offers(offers: Offers, rows: IntArray, blended: FloatArray, p_model: FloatArray,
                 p_rule: FloatArray, ante: IntArray, last: IntArray, prices: FloatArray,
                 x: FloatArray, owned: npt.NDArray[np.bool_], model: PropensityModel) -> None:
    k = offers.product.shape[1]
    ranked = np.argsort(-blended, axis=1, kind="stable")[:, :k]
    value = np.take_along_axis(blended, ranked, axis=1)
    valid = value > 0
    line = np.arange(len(rows))[:, None]
    offers.product[rows] = np.where(valid, ranked, -1)
    offers.score[rows] = np.where(valid, value, 0.0)
    offers.model[rows] = np.where(valid, p_model[line, ranked], 0.0)
    offers.expected_value[rows] = np.where(valid, value * prices[ranked], 0.0)
    a = np.where(valid, ante[line, ranked], -1)
    offers.antecedent[rows] = a
    offers.rule_confidence[rows] = np.where(a >= 0, p_rule[line, ranked], 0.0)
    offers.antecedent_at[rows] = np.where(a >= 0, last[line, np.maximum(a, 0)], -1)
    if offers.factor.shape[2]:
        feature, contribution = _factors(model, x, owned, ranked, offers.factor.shape[2])
        offers.factor[rows] = np.where(valid[:, :, None], feature, -1)
        offers.factor_contribution[rows] = np.where(valid[:, :, None], contribution, 0.0)


def _factors(model: PropensityModel, x: FloatArray, owned: npt.NDArray[np.bool_],
             ranked: IntArray, k_factors: int) -> tuple[IntArray, FloatArray]:
    """rows x offers x k: the features that push each offered product's logit up the most,
    one per attribute (its level), per product owned, per numeric feature."""
    space, w, mu = model.space, model.weights, model.feature_mean
    m, k = ranked.shape
    parts: list[FloatArray] = []
    names: list[IntArray] = []
    for attr, off in zip(space.attributes, space.attribute_offsets, strict=True):
        cols = slice(off, off + len(attr.levels))
        centred = w[cols] - mu[cols] @ w[cols]  # levels x products
        code = np.argmax(x[:, cols], axis=1) if len(attr.levels) else np.zeros(m, np.int64)
        known: npt.NDArray[np.bool_] = np.asarray(x[:, cols].any(axis=1), dtype=np.bool_)
        value = centred[code[:, None], ranked] if len(attr.levels) else np.zeros((m, k))
        parts.append(np.where(known[:, None], value, -np.inf)[:, :, None])
        names.append(np.broadcast_to((off + code)[:, None, None], (m, k, 1)))
    n_products = owned.shape[1]
    own = slice(space.owned_offset, space.owned_offset + n_products)
    w_own = (w[own] * (1.0 - mu[own])[:, None]).T  # offered product x owned product
    parts.append(np.where(owned[:, None, :], w_own[ranked], -np.inf))
    names.append(np.broadcast_to(space.owned_offset + np.arange(n_products), (m, k, n_products)))
    num = slice(space.numeric_offset, space.size)
    centred_x = x[:, num] - mu[num]  # rows x numeric
    parts.append(centred_x[:, None, :] * w[num].T[ranked])
    n_num = space.size - space.numeric_offset
    names.append(np.broadcast_to(space.numeric_offset + np.arange(n_num), (m, k, n_num)))
    candidates = np.concatenate(parts, axis=2)
    feature_index = np.concatenate(names, axis=2)
    top = min(k_factors, candidates.shape[2])
    order = np.argsort(-candidates, axis=2, kind="stable")[:, :, :top]
    contribution = np.take_along_axis(candidates, order, axis=2)
    feature = np.take_along_axis(feature_index, order, axis=2)
    feature = np.where(np.isfinite(contribution), feature, -1)
    contribution = np.where(np.isfinite(contribution), contribution, 0.0)
    if top < k_factors:
        pad = ((0, 0), (0, 0), (0, k_factors - top))
        feature = np.pad(feature, pad, constant_values=-1)
        contribution = np.pad(contribution, pad)
    return feature.astype(np.int64), contribution
