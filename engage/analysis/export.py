"""Turns an ``AnalysisResult`` into what the worker stores: rule, customer and report documents."""

# Pure (no I/O). Offers keep their rule and model factors as data; reasons are worded when
# read (``engage.analysis.reasons``), so the language can be chosen per request.

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np

from analytics.contacts import normalise_phone
from analytics.pipeline import AnalysisResult
from analytics.rules import AffinityRule, AffinityRules
from analytics.tiers import TIER_LABELS, TIER_MEANINGS
from engage.analysis.inputs import LoadedInputs, ProductInfo
from engage.analysis.reasons import rule_reason

Document = dict[str, Any]
# Rule sets of a result, as (kind, attribute of AnalysisResult).
RULE_KINDS: tuple[tuple[str, str], ...] = (
    ("product", "product_rules"), ("basket", "basket_rules"), ("line", "line_rules"),
    ("product_sequence", "product_sequences"), ("line_sequence", "line_sequences"),
    ("product_line_sequence", "product_line_sequences"))
OFFER_RULE_KIND = "product_sequence"  # offers are blended with the product sequence rules
TOP_RULES = {"product_sequence": 20, "product": 10, "basket": 5, "line": 5}
SCATTER_KINDS = ("product", "product_sequence", "basket")
SCATTER_MAX = 600  # points per kind, strongest lift first


def _num(value: float, digits: int = 6) -> float | None:
    """A JSON/BSON-safe number: None for NaN and infinity (confidence 1 -> conviction inf)."""
    return round(value, digits) if math.isfinite(value) else None


def iso(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat()


def rule_json(kind: str, rule: AffinityRule) -> Document:
    """One rule with its metrics, JSON-ready."""
    return {"kind": kind, "antecedent": rule.antecedent, "consequent": rule.consequent,
            "count": rule.count, "support": _num(rule.support),
            "confidence": _num(rule.confidence), "lift": _num(rule.lift),
            "leverage": _num(rule.leverage), "conviction": _num(rule.conviction),
            "antecedent_support": _num(rule.antecedent_support),
            "consequent_support": _num(rule.consequent_support),
            "window_days": rule.window_days,
            "median_delay_days": None if rule.median_delay_days is None
            else _num(rule.median_delay_days, 1)}


def rule_documents(result: AnalysisResult, version: int) -> list[Document]:
    """Every rule of every kind, tagged with the run version."""
    return [{"version": version, **rule_json(kind, rule)}
            for kind, name in RULE_KINDS for rule in getattr(result, name)]


def _rule_lookup(rules: AffinityRules) -> dict[tuple[int, int], int]:
    return {(a, b): i for i, (a, b) in enumerate(zip(rules.antecedent.tolist(),
                                                     rules.consequent.tolist(), strict=True))}


def customer_documents(result: AnalysisResult, loaded: LoadedInputs,
                       version: int) -> Iterator[Document]:
    """One document per kept customer (tier, contact, segment attributes, offers), in
    follow-up order (``rank``), then one pointer per merged duplicate (``merged_into``)."""
    inputs, offers = loaded.inputs, result.offers
    products, features = offers.products, offers.feature_names
    seq = result.product_sequences
    lookup = _rule_lookup(seq)
    delays = seq.median_delay_days().tolist()
    columns = [(a.name, a.levels, a.codes.tolist()) for a in inputs.attributes]
    phones, names = inputs.phones or (), inputs.names or ()
    product = offers.product.tolist()
    score, model = np.round(offers.score, 4).tolist(), np.round(offers.model, 4).tolist()
    value, ante = np.round(offers.expected_value, 2).tolist(), offers.antecedent.tolist()
    confidence = np.round(offers.rule_confidence, 4).tolist()
    chance = np.round(offers.rule_probability, 4).tolist()
    ante_at = offers.antecedent_at.tolist()
    useful = (offers.factor >= 0) & (offers.factor_contribution > 0)
    factor = np.where(useful, offers.factor, -1).tolist()
    raw = np.round(offers.factor_value, 2).tolist()
    contribution = np.round(offers.factor_contribution, 4).tolist()
    tier = result.tiers.tier.tolist()
    demand = np.round(result.propensity.demand, 4).tolist()
    worth = np.round(result.contribution.value, 4).tolist()
    reachable = result.reachable.tolist()
    rank = np.empty(len(result.tiers.order), dtype=np.int64)
    rank[result.tiers.order] = np.arange(len(rank))
    ranks = rank.tolist()
    kept = result.customer_index.tolist()
    for i in result.tiers.order.tolist():
        row = kept[i]
        out: list[Document] = []
        for j, p in enumerate(product[i]):
            if p < 0:
                break
            a = ante[i][j]
            rule: Document | None = None
            if a >= 0:
                r = lookup.get((a, p))
                rule = {"kind": OFFER_RULE_KIND, "antecedent": products[a],
                        "consequent": products[p], "confidence": confidence[i][j],
                        "probability": chance[i][j],
                        "lift": None if r is None else _num(float(seq.lift[r]), 3),
                        "support": None if r is None else _num(float(seq.support[r]), 5),
                        "window_days": offers.window_days, "antecedent_at": ante_at[i][j],
                        "median_delay_days": None if r is None else _num(delays[r], 1)}
            out.append({
                "product": products[p], "score": score[i][j], "model": model[i][j],
                "expected_value": value[i][j], "rule": rule,
                "factors": [{"feature": features[f], "value": v, "contribution": c}
                            for f, v, c in zip(factor[i][j], raw[i][j], contribution[i][j],
                                               strict=True) if f >= 0]})
        doc = {"version": version, "customer_id": inputs.customer_ids[row],
               "rank": ranks[i], "tier": TIER_LABELS[tier[i]], "demand": demand[i],
               "value": worth[i], "reachable": reachable[i],
               "name": names[row] if row < len(names) else "",
               "phone": normalise_phone(phones[row]) if row < len(phones) and phones[row]
               else ""}
        for name, levels, codes in columns:
            doc[name] = levels[codes[row]] if codes[row] >= 0 else None
        doc["offers"] = out
        yield doc
    for old, into in result.customers.merges:
        yield {"version": version, "customer_id": old, "merged_into": into}


def catalogue_json(products: Mapping[str, ProductInfo]) -> dict[str, Document]:
    return {sku: {"name": p.name, "name_zh": p.name_zh, "line": p.line, "price": p.price}
            for sku, p in products.items()}


def report(result: AnalysisResult, loaded: LoadedInputs, version: int,
           finished_at: datetime) -> Document:
    """What the marketing report shows: top rules (with a sentence), lift-vs-support points,
    the product x product lift matrix, tier sizes, and the run's counts."""
    products = loaded.products
    top: list[Document] = []
    for kind, name in RULE_KINDS:
        rules: AffinityRules = getattr(result, name)
        for rule in rules.top(TOP_RULES.get(kind, 0), by="lift") if kind in TOP_RULES else []:
            entry = rule_json(kind, rule)
            if kind in ("product", "product_sequence"):
                entry["sentence"] = rule_reason(
                    {"antecedent": rule.antecedent, "consequent": rule.consequent,
                     "confidence": rule.confidence, "window_days": rule.window_days},
                    products)
            top.append(entry)
    top.sort(key=lambda r: -(r["lift"] or 0.0))
    scatter = [{"kind": kind, "antecedent": r.antecedent, "consequent": r.consequent,
                "support": _num(r.support), "lift": _num(r.lift),
                "confidence": _num(r.confidence)}
               for kind, name in RULE_KINDS if kind in SCATTER_KINDS
               for r in getattr(result, name).top(SCATTER_MAX, by="lift")]
    pairs = result.product_rules
    lift = pairs.matrix("lift")
    has_rule = np.zeros(lift.shape, dtype=np.bool_)
    has_rule[pairs.antecedent, pairs.consequent] = True
    summary = result.summary()
    return {
        "version": version, "run_at": finished_at.isoformat(), "as_of": iso(result.as_of),
        "products": catalogue_json(products),
        "tiers": [{"tier": label, "size": int(size), "meaning": meaning}
                  for label, size, meaning in zip(TIER_LABELS, result.tiers.sizes.tolist(),
                                                  TIER_MEANINGS, strict=True)],
        "top_rules": top, "scatter": scatter,
        "heatmap": {"metric": "lift", "kind": "product", "items": list(pairs.items),
                    "values": [[_num(float(v), 3) if h else None for v, h in zip(r, m,
                                                                                strict=True)]
                               for r, m in zip(lift.tolist(), has_rule.tolist(), strict=True)]},
        "segments": {a.name: list(a.levels) for a in loaded.inputs.attributes},
        "lines": sorted({p.line for p in products.values()}),
        "need_groups": [{"group": g, "customers": n} for g, n in
                        list(summary["need_groups"].items())[:12]],
        "rule_counts": summary["rules"], "customers": summary["customers"],
        "transactions": summary["transactions"], "reachable": summary["reachable"],
        "input_counts": loaded.counts, "stage_seconds": summary["seconds"],
    }
