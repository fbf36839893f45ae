"""The whole analysis as one pure function, from ``AnalysisInputs`` to ``AnalysisResult``.

Stages: cleansing -> needs -> PTP (products, lines; plain and windowed) -> PTC -> contribution
-> tiers.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from analytics.affinity import aggregate, baskets, incidence, pair_rules
from analytics.arrays import BoolArray, FloatArray, IntArray
from analytics.cleansing import (
    UNREACHABLE,
    CustomerReport,
    NameDistrictRule,
    TransactionReport,
    cleanse_customers,
    cleanse_transactions,
)
from analytics.contribution import DEFAULT_WEIGHTS, Contribution, contribution
from analytics.errors import (
    as_float_array,
    as_int_array,
    require,
    require_finite,
    require_index,
    require_length,
    require_nonnegative,
)
from analytics.features import DAY, Categorical, build_history
from analytics.needs import NeedGroups, group_by_need
from analytics.offers import OfferRank, Offers, Propensity, score_customers
from analytics.propensity import fit_propensity
from analytics.rules import AffinityRules
from analytics.sequences import sequence_rules
from analytics.tiers import Tiers, assign_tiers

Progress = Callable[[str, float], None]
# Share of the run each stage takes on a large input: drives the progress fraction.
STAGES: tuple[tuple[str, float], ...] = (
    ("cleansing", 0.17), ("needs", 0.02), ("product rules", 0.09), ("sequence rules", 0.19),
    ("propensity model", 0.13), ("scoring", 0.33), ("contribution", 0.04), ("tiers", 0.03))


@dataclass(frozen=True, eq=False)
class AnalysisInputs:
    """Everything the analysis reads, as plain columns.

    Customers are rows ``0..len(customer_ids)-1``; ``attributes`` code them (age band, income
    band, district, household size, channel, membership ...). Transactions point at customers
    and products by row number; ``tx_time`` is epoch seconds. Products point at
    ``line_names`` by number. Contacts and ``created_at`` are optional: a contact column left
    out is not checked (with neither phones nor e-mails nobody counts as unreachable) and
    ``created_at`` (epoch seconds) decides which duplicate is kept."""

    customer_ids: Sequence[str]
    attributes: tuple[Categorical, ...]
    tx_customer: IntArray
    tx_product: IntArray
    tx_amount: FloatArray
    tx_time: IntArray
    product_ids: Sequence[str]
    product_lines: IntArray
    line_names: Sequence[str]
    product_prices: FloatArray
    phones: Sequence[str] | None = None
    emails: Sequence[str] | None = None
    names: Sequence[str] | None = None
    created_at: IntArray | None = None

    def __post_init__(self) -> None:
        n, n_products = len(self.customer_ids), len(self.product_ids)
        require(n_products >= 1, "product_ids", "at least one product", n_products)
        for name in ("tx_customer", "tx_product", "tx_time", "product_lines"):
            object.__setattr__(self, name, as_int_array(name, getattr(self, name)))
        for name in ("tx_amount", "product_prices"):
            object.__setattr__(self, name, as_float_array(name, getattr(self, name)))
        if self.created_at is not None:
            object.__setattr__(self, "created_at", as_int_array("created_at", self.created_at))
            require_length("created_at", len(self.created_at), n)
        for name in ("tx_product", "tx_amount", "tx_time"):
            require_length(name, len(getattr(self, name)), len(self.tx_customer))
        require_length("product_lines", len(self.product_lines), n_products)
        require_length("product_prices", len(self.product_prices), n_products)
        for column_name in ("phones", "emails", "names"):
            column = getattr(self, column_name)
            if column is not None:
                require_length(column_name, len(column), n)
        for attr in self.attributes:
            require_length(f"attribute {attr.name}", len(attr.codes), n)
        require_index("tx_customer", self.tx_customer, n)
        require_index("tx_product", self.tx_product, n_products)
        require_index("product_lines", self.product_lines, len(self.line_names))
        require_finite("product_prices", self.product_prices)
        require_nonnegative("product_prices", self.product_prices)


@dataclass(frozen=True)
class AnalysisParams:
    """Knobs of one run. Windows are in days; ``as_of`` (epoch seconds, exclusive) defaults to
    one second after the last transaction, and later transactions are left out."""

    as_of: int | None = None
    min_support: float = 0.005
    min_confidence: float = 0.1
    rule_window_days: float = 365.0  # "B within W days after A", and the PTC horizon
    basket_seconds: int = 86_400  # one basket = one customer's purchases in one day
    contribution_window_days: float = 365.0
    name_district: NameDistrictRule = "fallback"
    district_attribute: str = "district"
    default_country: str = "86"
    invalid_amounts: Literal["refuse", "drop"] = "refuse"
    top_offers: int = 3
    rank_offers_by: OfferRank = "score"  # or "expected_value" (score x price)
    recent_days: float = 90.0  # PTC features 'recent=<product>': bought in the last N days
    top_factors: int = 3
    rule_weight: float = 0.5
    l2: float = 1e-3
    fit_rows: int = 100_000
    max_iter: int = 50  # Newton iterations of the PTC fit (typically converges in < 15)
    value_weights: tuple[float, float, float, float] = DEFAULT_WEIGHTS
    demand_share: float = 0.3
    value_share: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
        require(0 < self.min_support <= 1, "min_support", "in (0, 1]", self.min_support)
        require(0 <= self.min_confidence <= 1, "min_confidence", "in [0, 1]",
                self.min_confidence)
        require(self.rule_window_days > 0, "rule_window_days", "positive",
                self.rule_window_days)
        require(self.contribution_window_days > 0, "contribution_window_days", "positive",
                self.contribution_window_days)
        require(self.basket_seconds > 0, "basket_seconds", "positive", self.basket_seconds)
        require(self.name_district in ("off", "fallback", "always"), "name_district",
                "'off', 'fallback' or 'always'", self.name_district)
        require(self.invalid_amounts in ("refuse", "drop"), "invalid_amounts",
                "'refuse' or 'drop'", self.invalid_amounts)
        require(self.top_offers >= 1, "top_offers", "at least 1", self.top_offers)
        require(self.top_factors >= 0, "top_factors", "at least 0", self.top_factors)
        require(self.rank_offers_by in ("score", "expected_value"), "rank_offers_by",
                "'score' or 'expected_value'", self.rank_offers_by)
        require(self.recent_days > 0, "recent_days", "positive", self.recent_days)
        require(0 <= self.rule_weight <= 1, "rule_weight", "in [0, 1]", self.rule_weight)
        require(self.l2 > 0, "l2", "positive", self.l2)
        require(self.fit_rows >= 1, "fit_rows", "at least 1", self.fit_rows)
        require(self.max_iter >= 1, "max_iter", "at least 1", self.max_iter)


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """Everything the worker stores. Per-customer arrays have one row per *kept* customer:
    row ``i`` is input customer ``customer_index[i]`` (merged duplicates have no row; see
    ``customers.canonical``/``customers.merges``)."""

    as_of: int
    customers: CustomerReport
    transactions: TransactionReport
    customer_index: IntArray
    reachable: BoolArray
    needs: NeedGroups
    product_rules: AffinityRules  # customers x products (bought both, ever)
    basket_rules: AffinityRules  # baskets x products (bought together the same day)
    line_rules: AffinityRules  # customers x business lines
    product_sequences: AffinityRules  # consequent within the window after the antecedent
    line_sequences: AffinityRules
    product_line_sequences: AffinityRules  # product, then any product of a line, in window
    propensity: Propensity
    offers: Offers
    contribution: Contribution
    tiers: Tiers
    timings: tuple[tuple[str, float], ...] = field(default=())

    def call_list(self, tiers: Sequence[str] = ("A", "B"), product: str | None = None,
                  limit: int | None = None) -> IntArray:
        """Rows for an outbound campaign: reachable customers of ``tiers``. For a product
        campaign only those with a positive score for it, most likely first; otherwise in
        the tiers' follow-up order (tier, then demand x value)."""
        codes = [self.tiers.labels.index(t) for t in tiers]
        wanted = self.reachable & np.isin(self.tiers.tier, codes)
        if product is None:
            order = self.tiers.order[wanted[self.tiers.order]]
        else:
            column = self.propensity.score[:, self.propensity.products.index(product)]
            rows = np.flatnonzero(wanted & (column > 0))
            order = rows[np.argsort(-column[rows], kind="stable")]
        out: IntArray = order[:limit].astype(np.int64)
        return out

    def summary(self) -> dict[str, Any]:
        """Counts for a dashboard or a log line."""
        model = self.propensity.model
        return {
            "as_of": self.as_of,
            "customers": self.customers.counts(),
            "transactions": self.transactions.counts(),
            "need_groups": dict(zip(self.needs.labels, self.needs.sizes.tolist(),
                                    strict=True)),
            "rules": {"products": len(self.product_rules), "baskets": len(self.basket_rules),
                      "lines": len(self.line_rules),
                      "product_sequences": len(self.product_sequences),
                      "line_sequences": len(self.line_sequences),
                      "product_line_sequences": len(self.product_line_sequences)},
            "model": {"fitted_rows": model.fitted_rows, "iterations": model.iterations,
                      "converged": model.converged},
            "tiers": dict(zip(self.tiers.labels, self.tiers.sizes.tolist(), strict=True)),
            "reachable": int(self.reachable.sum()),
            "seconds": {name: round(s, 3) for name, s in self.timings},
        }


class _Stages:
    """Reports progress per stage and keeps each stage's wall time."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.done = 0.0
        self.timings: list[tuple[str, float]] = []
        self.started = clock.perf_counter()
        self.name = ""

    def begin(self, name: str) -> None:
        if self.name:
            self.end()
        self.name = name
        self.started = clock.perf_counter()
        if self.progress is not None:
            self.progress(name, round(self.done, 4))

    def end(self) -> None:
        self.timings.append((self.name, clock.perf_counter() - self.started))
        self.done += dict(STAGES).get(self.name, 0.0)
        self.name = ""
        if self.progress is not None and self.done >= 0.999:
            self.progress("done", 1.0)


def analyse(inputs: AnalysisInputs, params: AnalysisParams | None = None,
            progress: Progress | None = None) -> AnalysisResult:
    """Run the whole analysis. Raises ``AnalysisInputError`` subclasses for refused input."""
    params = params or AnalysisParams()
    stages = _Stages(progress)
    products, lines = tuple(inputs.product_ids), tuple(inputs.line_names)
    as_of = params.as_of if params.as_of is not None else (
        int(inputs.tx_time.max()) + 1 if len(inputs.tx_time) else 0)

    stages.begin("cleansing")
    district = next((a.codes for a in inputs.attributes
                     if a.name == params.district_attribute), None)
    customers = cleanse_customers(
        inputs.customer_ids, inputs.phones, inputs.emails, inputs.names, district,
        inputs.created_at, name_district=params.name_district,
        default_country=params.default_country)
    ledger = cleanse_transactions(
        inputs.tx_customer, inputs.tx_product, inputs.tx_amount, inputs.tx_time,
        customers.canonical, as_of=as_of, drop_invalid=params.invalid_amounts == "drop")
    kept = customers.kept
    n = len(kept)
    position = np.full(len(inputs.customer_ids), -1, dtype=np.int64)
    position[kept] = np.arange(n)
    rows = ledger.rows
    c = position[customers.canonical[inputs.tx_customer[rows]]]
    p, a, t = inputs.tx_product[rows], inputs.tx_amount[rows], inputs.tx_time[rows]
    attributes = tuple(Categorical(x.name, x.levels, x.codes[kept]) for x in inputs.attributes)
    reachable = (customers.flags[kept] & UNREACHABLE) == 0

    stages.begin("needs")
    line_of = inputs.product_lines
    needs = group_by_need(c, line_of[p], a, n, lines)

    stages.begin("product rules")
    support, confidence = params.min_support, params.min_confidence
    owners = incidence(c, p, n, len(products))
    product_rules = pair_rules(owners, products, min_support=support, min_confidence=confidence)
    basket, n_baskets = baskets(c, t, params.basket_seconds)
    basket_rules = pair_rules(incidence(basket, p, n_baskets, len(products)), products,
                              min_support=support, min_confidence=confidence)
    line_rules = pair_rules(aggregate(owners, line_of, len(lines)), lines,
                            min_support=support, min_confidence=confidence)

    stages.begin("sequence rules")
    window = params.rule_window_days
    product_sequences = sequence_rules(c, p, t, n, products, window_days=window, censor_at=as_of,
                                       min_support=support, min_confidence=confidence)
    line_sequences = sequence_rules(c, line_of[p], t, n, lines, window_days=window,
                                    censor_at=as_of, min_support=support,
                                    min_confidence=confidence)
    product_line_sequences = sequence_rules(
        c, p, t, n, products, window_days=window, censor_at=as_of, min_support=support,
        min_confidence=confidence, consequent_of=line_of, consequent_items=lines)

    stages.begin("propensity model")
    model = fit_propensity(attributes, products, c, p, a, t, n, as_of=as_of,
                           horizon_days=params.rule_window_days, l2=params.l2,
                           fit_rows=params.fit_rows, max_iter=params.max_iter, seed=params.seed,
                           recent_days=params.recent_days)

    stages.begin("scoring")
    history = build_history(c, p, a, t, n, len(products), as_of)
    propensity, offers = score_customers(
        model, history, product_sequences, inputs.product_prices, top_offers=params.top_offers,
        top_factors=params.top_factors, rule_weight=params.rule_weight,
        rank_by=params.rank_offers_by)

    stages.begin("contribution")
    start = as_of - round(params.contribution_window_days * DAY)
    value = contribution(c, a, t, n, window_start=start, window_end=as_of,
                         expected_value=propensity.expected_value, weights=params.value_weights)

    stages.begin("tiers")
    tiers = assign_tiers(propensity.demand, value.value, demand_share=params.demand_share,
                         value_share=params.value_share)
    stages.end()
    return AnalysisResult(
        as_of=as_of, customers=customers, transactions=ledger, customer_index=kept,
        reachable=reachable, needs=needs, product_rules=product_rules, basket_rules=basket_rules,
        line_rules=line_rules, product_sequences=product_sequences,
        line_sequences=line_sequences, product_line_sequences=product_line_sequences,
        propensity=propensity, offers=offers,
        contribution=value, tiers=tiers, timings=tuple(stages.timings))
