"""The whole analysis on small synthetic data with planted patterns, degenerate and refused
inputs, and the PTC model's explanations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from analytics.errors import (
    IndexRangeError,
    LengthMismatchError,
    NegativeValueError,
    NonFiniteError,
    ParameterError,
)
from analytics.features import Categorical
from analytics.pipeline import AnalysisInputs, AnalysisParams, AnalysisResult, analyse

DAY = 86_400
START = 1_700_000_000
END = START + 3 * 365 * DAY
PRODUCTS = ("HOME", "RENO", "PLANT", "CLEAN", "PARK")


def synthetic(n: int = 900, seed: int = 1) -> AnalysisInputs:
    """Homes bought mostly by the 'high' segment; 60% of home buyers renovate 20-120 days
    later; cleaning and plants at random; two customers registered twice, one bad phone."""
    rng = np.random.default_rng(seed)
    segment = rng.integers(0, 2, n)  # 0 = high
    district = rng.integers(0, 3, n)
    rows: list[tuple[int, int, int]] = []
    home = rng.random(n) < np.where(segment == 0, 0.45, 0.08)
    for c in np.flatnonzero(home).tolist():
        t0 = START + int(rng.integers(0, 3 * 365)) * DAY
        rows.append((c, 0, t0))
        if rng.random() < 0.6:
            rows.append((c, 1, t0 + int(rng.integers(20, 120)) * DAY))
    for c in np.flatnonzero(rng.random(n) < 0.4).tolist():
        for _ in range(int(rng.integers(1, 4))):
            rows.append((c, 3, START + int(rng.integers(0, 3 * 365)) * DAY))
    for c in np.flatnonzero(rng.random(n) < 0.1).tolist():
        rows.append((c, 2, START + int(rng.integers(0, 3 * 365)) * DAY))
    customer, product, time = (np.array(v, dtype=np.int64) for v in zip(*rows, strict=True))
    keep = time < END
    customer, product, time = customer[keep], product[keep], time[keep]
    prices = np.array([1e6, 5e4, 500.0, 100.0, 3000.0])
    phones = [f"+86138{i:08d}" for i in range(n)]
    phones[5], phones[7] = phones[4], phones[6]  # two second registrations
    phones[9] = "12345"
    return AnalysisInputs(
        customer_ids=[f"C{i:05d}" for i in range(n)],
        attributes=(Categorical("segment", ("high", "low"), segment),
                    Categorical("district", ("north", "south", "east"), district)),
        tx_customer=customer, tx_product=product,
        tx_amount=prices[product] * rng.lognormal(0, 0.2, len(product)), tx_time=time,
        product_ids=PRODUCTS, product_lines=np.array([0, 1, 2, 2, 2]),
        line_names=("buy", "deco", "care"), product_prices=prices, phones=phones,
        emails=[f"c{i}@example.com" for i in range(n)],
        names=[f"Name {i}" for i in range(n)], created_at=np.arange(n) * 1000)


@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    return analyse(synthetic(), AnalysisParams(min_support=0.01, min_confidence=0.1))


def test_planted_rules_are_found(result: AnalysisResult) -> None:
    reno = result.product_sequences.find("HOME", "RENO")
    assert reno is not None and 0.5 < reno.confidence < 0.7 and reno.lift > 2
    assert reno.window_days == 365.0 and reno.median_delay_days is not None
    assert 20 <= reno.median_delay_days <= 120
    assert result.product_sequences.find("RENO", "HOME") is None  # RENO never comes first
    assert result.product_rules.find("RENO", "HOME") is not None  # but they go together
    deco = result.line_sequences.find("buy", "deco")
    assert deco is not None and deco.confidence == pytest.approx(reno.confidence, abs=0.05)
    home_deco = result.product_line_sequences.find("HOME", "deco")
    assert home_deco is not None and home_deco.confidence == pytest.approx(reno.confidence)


def test_duplicates_merged_and_reported(result: AnalysisResult) -> None:
    assert result.customers.merges == (("C00005", "C00004"), ("C00007", "C00006"))
    assert len(result.customer_index) == 898 and 5 not in result.customer_index.tolist()
    assert result.customers.phone_invalid == 1 and result.reachable.all()
    assert result.propensity.score.shape == (898, 5)


def test_model_explains_itself(result: AnalysisResult) -> None:
    model = result.propensity.model
    weights = dict(model.coefficients("HOME"))
    assert weights["segment=high"] > weights["segment=low"] + 1.0
    assert model.converged and model.positives.sum() > 0


def test_recent_home_buyer_is_offered_a_renovation(result: AnalysisResult) -> None:
    inputs = synthetic()
    recent = np.flatnonzero((inputs.tx_product == 0) & (inputs.tx_time > END - 60 * DAY))
    owners_of_reno = set(inputs.tx_customer[inputs.tx_product == 1].tolist())
    row_of = {c: r for r, c in enumerate(result.customer_index.tolist())}
    buyers = [int(inputs.tx_customer[i]) for i in recent
              if int(inputs.tx_customer[i]) not in owners_of_reno]
    assert buyers
    offer = result.offers.for_customer(row_of[buyers[0]])[0]
    assert (offer.product, offer.because_of) == ("RENO", "HOME")
    assert offer.antecedent_at is not None and offer.antecedent_at > END - 60 * DAY
    assert 0 < offer.rule_probability <= 1 and offer.rule_confidence > 0.5
    assert offer.score >= offer.model_probability * 0.5
    assert offer.expected_value == pytest.approx(offer.score * 5e4)
    assert all(f.contribution > 0 for f in offer.factors)


def test_offers_never_repeat_owned_products(result: AnalysisResult) -> None:
    owned = result.propensity.score == 0
    for row in range(0, 898, 37):
        for offer in result.offers.for_customer(row):
            assert not owned[row, offer.product_index]


def test_tiers_and_summary(result: AnalysisResult) -> None:
    assert result.tiers.sizes.sum() == 898
    assert result.tiers.sizes[:2].sum() == pytest.approx(0.3 * 898, abs=2)
    summary = result.summary()
    assert summary["customers"]["merged"] == 2 and summary["rules"]["product_sequences"] >= 1
    assert set(summary["seconds"]) == {"cleansing", "needs", "product rules", "sequence rules",
                                       "propensity model", "scoring", "contribution", "tiers"}
    assert "buy+deco+care" in summary["need_groups"] or "buy+deco" in summary["need_groups"]


def test_call_lists(result: AnalysisResult) -> None:
    everyone = result.call_list(("A", "B", "C", "D"))
    assert sorted(everyone.tolist()) == list(range(898))
    first = result.call_list(("A",), limit=10)
    assert len(first) == 10 and (result.tiers.tier[first] == 0).all()
    reno = result.call_list(("A", "B"), product="RENO")
    scores = result.propensity.score[reno, 1]
    assert (scores > 0).all() and (np.diff(scores) <= 0).all()
    assert set(reno.tolist()) <= set(np.flatnonzero(result.tiers.tier <= 1).tolist())


def test_progress_and_determinism() -> None:
    seen: list[tuple[str, float]] = []
    inputs = synthetic(300, seed=4)
    first = analyse(inputs, AnalysisParams(min_support=0.01), progress=lambda s, f:
                    seen.append((s, f)))
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and seen[0] == ("cleansing", 0.0)
    assert seen[-1] == ("done", 1.0)
    second = analyse(inputs, AnalysisParams(min_support=0.01))
    assert np.array_equal(first.propensity.score, second.propensity.score)
    assert np.array_equal(first.offers.factor, second.offers.factor)


def test_degenerate_inputs_run() -> None:
    inputs = synthetic(60, seed=2)
    nothing = replace(inputs, tx_customer=np.zeros(0, np.int64),
                      tx_product=np.zeros(0, np.int64), tx_amount=np.zeros(0),
                      tx_time=np.zeros(0, np.int64))
    empty = analyse(nothing)
    assert len(empty.product_rules) == len(empty.product_sequences) == 0
    assert empty.tiers.sizes.sum() == 58 and empty.contribution.frequency.sum() == 0
    assert (empty.propensity.score < 0.05).all()  # nothing bought: only the weak prior
    one = replace(inputs, product_ids=("HOME",), product_lines=np.array([0]),
                  product_prices=np.array([1.0]), tx_product=np.zeros_like(inputs.tx_product))
    assert len(analyse(one).product_rules) == 0
    n = 40
    same = AnalysisInputs(
        customer_ids=[f"S{i}" for i in range(n)],
        attributes=(Categorical("segment", ("a",), np.zeros(n, np.int64)),),
        tx_customer=np.arange(n), tx_product=np.zeros(n, np.int64), tx_amount=np.ones(n),
        tx_time=np.full(n, START), product_ids=("A", "B"), product_lines=np.array([0, 0]),
        line_names=("only",), product_prices=np.array([1.0, 2.0]))
    alike = analyse(same)
    assert np.allclose(alike.propensity.score[:, 1], alike.propensity.score[0, 1])
    assert alike.tiers.sizes.tolist() == [0, 0, 0, n]


def test_refused_inputs() -> None:
    inputs = synthetic(60, seed=2)
    bad = inputs.tx_amount.copy()
    bad[3] = np.nan
    with pytest.raises(NonFiniteError,
                       match=r"^tx_amount has 1 NaN or infinite values \(first at index 3\)$"):
        analyse(replace(inputs, tx_amount=bad))
    dropped = analyse(replace(inputs, tx_amount=bad), AnalysisParams(invalid_amounts="drop"))
    assert dropped.transactions.non_finite == 1
    bad[3] = -5.0
    with pytest.raises(NegativeValueError, match=r"^tx_amount has 1 negative values"):
        analyse(replace(inputs, tx_amount=bad))
    with pytest.raises(LengthMismatchError, match=r"^tx_time has 3 entries, expected \d+$"):
        replace(inputs, tx_time=inputs.tx_time[:3])
    with pytest.raises(IndexRangeError, match=r"^tx_product has 1 values outside 0\.\.4"):
        replace(inputs, tx_product=np.where(np.arange(len(inputs.tx_product)) == 0, 9,
                                            inputs.tx_product))
    with pytest.raises(ParameterError, match=r"^top_offers must be at least 1, got 0$"):
        AnalysisParams(top_offers=0)
    with pytest.raises(ParameterError, match=r"^tx_time must be whole numbers"):
        replace(inputs, tx_time=inputs.tx_time + 0.5)  # type: ignore[arg-type]
