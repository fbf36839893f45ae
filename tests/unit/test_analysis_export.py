"""What the worker stores, built from a real analysis of small synthetic data: rule documents,
customer documents (offers with rules and factors, merged pointers) and the report."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from analytics.pipeline import AnalysisParams, AnalysisResult, analyse
from engage.analysis.export import customer_documents, report, rule_documents
from engage.analysis.inputs import Fingerprint, LoadedInputs, ProductInfo
from tests.unit.test_analytics_pipeline import PRODUCTS, synthetic


@pytest.fixture(scope="module")
def loaded() -> LoadedInputs:
    inputs = synthetic()
    lines = list(inputs.line_names)
    products = {sku: ProductInfo(sku, sku.title(), sku, lines[int(line)], float(price))
                for sku, line, price in zip(PRODUCTS, inputs.product_lines,
                                            inputs.product_prices, strict=True)}
    return LoadedInputs(inputs=inputs, products=products, counts={"customers": 900},
                        fingerprint=Fingerprint(900, len(inputs.tx_time), 5, 0, 0),
                        incremental=False)


@pytest.fixture(scope="module")
def result(loaded: LoadedInputs) -> AnalysisResult:
    return analyse(loaded.inputs, AnalysisParams(min_support=0.01, min_confidence=0.1))


def test_rule_documents_cover_every_kind(result: AnalysisResult) -> None:
    docs = rule_documents(result, 7)
    counts = result.summary()["rules"]
    assert len(docs) == sum(counts.values())
    assert {d["kind"] for d in docs} >= {"product", "product_sequence", "line"}
    assert all(d["version"] == 7 for d in docs)
    orjson.dumps(docs)  # no NaN or infinity (conviction of confidence-1 rules is None)


def test_customer_documents(result: AnalysisResult, loaded: LoadedInputs) -> None:
    docs = list(customer_documents(result, loaded, 7))
    kept = [d for d in docs if "merged_into" not in d]
    merged = [d for d in docs if "merged_into" in d]
    assert len(kept) == len(result.customer_index)
    assert [(d["customer_id"], d["merged_into"]) for d in merged] == list(
        result.customers.merges)
    assert [d["rank"] for d in kept] == list(range(len(kept)))  # follow-up order
    assert {d["tier"] for d in kept} <= set("ABCD")
    assert all(d["phone"].startswith("+86") for d in kept if d["reachable"] and d["phone"])
    assert {"segment", "district"} <= set(kept[0])  # the synthetic data's attributes
    ruled = [o for d in kept for o in d["offers"] if o["rule"] and o["product"] == "RENO"]
    assert ruled and all(o["rule"]["antecedent"] == "HOME" for o in ruled)
    first = ruled[0]["rule"]
    assert 0.5 < first["confidence"] < 0.7 and first["window_days"] == 365.0
    assert first["antecedent_at"] > 0 and first["lift"] > 2
    for d in kept:
        scores = [o["score"] for o in d["offers"]]
        assert scores == sorted(scores, reverse=True)
        assert all(f["contribution"] > 0 for o in d["offers"] for f in o["factors"])
    orjson.dumps(docs)


def test_report(result: AnalysisResult, loaded: LoadedInputs) -> None:
    body = report(result, loaded, 7, datetime(2026, 11, 22, tzinfo=UTC))
    assert body["version"] == 7 and body["run_at"].startswith("2026-11-22")
    lifts = [r["lift"] for r in body["top_rules"]]
    assert lifts == sorted(lifts, reverse=True)
    assert any(r["sentence"].startswith("Bought “Home”;") for r in body["top_rules"]
               if r["kind"] == "product_sequence")
    assert {p["kind"] for p in body["scatter"]} >= {"product", "product_sequence"}
    values = body["heatmap"]["values"]
    assert body["heatmap"]["items"] == list(PRODUCTS) and len(values) == len(PRODUCTS)
    assert all(len(row) == len(PRODUCTS) for row in values)
    assert [t["size"] for t in body["tiers"]] == result.tiers.sizes.tolist()
    assert body["segments"]["district"] == ["north", "south", "east"]
    orjson.dumps(body)
