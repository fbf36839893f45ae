"""Reason sentences from hand-made offers, rules and model factors, in English and Chinese."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from engage.analysis.reasons import (
    factor_phrase,
    language,
    model_reason,
    offer_reason,
    percent,
    rule_reason,
    window_phrase,
)


@dataclass(frozen=True)
class P:
    name: str
    name_zh: str


PRODUCTS = {"BS-APT": P("Apartment purchase", "公寓购买"),
            "DC-FUL": P("Full renovation", "全屋装修"),
            "PM-CLN": P("Home cleaning visit", "家政保洁")}
MARCH_2025 = int(datetime(2025, 3, 14, 9, 30, tzinfo=UTC).timestamp())
RULE = {"kind": "product_sequence", "antecedent": "BS-APT", "consequent": "DC-FUL",
        "confidence": 0.4385, "probability": 0.31, "window_days": 365.0,
        "antecedent_at": MARCH_2025}


def test_rule_reason_names_the_purchase_its_date_and_the_share() -> None:
    assert rule_reason(RULE, PRODUCTS) == (
        "Bought “Apartment purchase” in March 2025; 44% of such buyers order "
        "“Full renovation” within a year.")


def test_rule_reason_in_chinese() -> None:
    assert rule_reason(RULE, PRODUCTS, "zh") == (
        "2025年3月购买了“公寓购买”；此类客户中有44%在一年内购买了“全屋装修”。")  # noqa: RUF001


def test_rule_without_window_reads_as_co_occurrence() -> None:
    rule = {"antecedent": "BS-APT", "consequent": "DC-FUL", "confidence": 0.6}
    assert rule_reason(rule, PRODUCTS) == (
        "60% of customers who bought “Apartment purchase” also bought “Full renovation”.")


def test_unknown_products_fall_back_to_their_codes() -> None:
    rule = {**RULE, "antecedent": "X-1", "consequent": "X-2", "antecedent_at": None}
    assert rule_reason(rule, {}) == (
        "Bought “X-1”; 44% of such buyers order “X-2” within a year.")


def test_offer_with_a_rule_uses_the_rule() -> None:
    offer = {"product": "DC-FUL", "score": 0.52, "rule": RULE,
             "factors": [{"feature": "district=Pudong", "value": 1.0, "contribution": 0.8}]}
    assert offer_reason(offer, PRODUCTS).startswith("Bought “Apartment purchase” in March 2025")


def test_offer_without_a_rule_uses_the_strongest_positive_factors() -> None:
    offer = {"product": "PM-CLN", "score": 0.234, "rule": None, "factors": [
        {"feature": "district=Pudong", "value": 1.0, "contribution": 0.9},
        {"feature": "membership=gold", "value": 1.0, "contribution": 0.5},
        {"feature": "age_band=25-34", "value": 1.0, "contribution": -0.2},
        {"feature": "owns=BS-APT", "value": 1.0, "contribution": 0.3},
        {"feature": "spend", "value": 12000.0, "contribution": 0.1}]}
    assert offer_reason(offer, PRODUCTS) == (
        "Similar customers (in Pudong, with a gold membership, bought “Apartment purchase”) "
        "often take “Home cleaning visit”: 23% estimated chance.")


def test_customers_without_purchases_say_so_once() -> None:
    factors = [{"feature": "purchases", "value": 0.0, "contribution": 0.7},
               {"feature": "spend", "value": 0.0, "contribution": 0.1},
               {"feature": "household_size=1", "value": 1.0, "contribution": 0.05}]
    assert model_reason("PM-CLN", 0.2276, factors, PRODUCTS) == (
        "Similar customers (no purchases yet, single-person households) often take "
        "“Home cleaning visit”: 23% estimated chance.")
    assert model_reason("PM-CLN", 0.2276, factors, PRODUCTS, "zh") == (
        "与该客户相似的客户（尚无购买、1口之家）常购买“家政保洁”：估计概率23%。")  # noqa: RUF001


def test_no_factors_still_gives_a_sentence() -> None:
    assert model_reason("DC-FUL", 0.004, [], PRODUCTS) == (
        "“Full renovation” is among this customer's most likely next purchases: <1% "
        "estimated chance.")


@pytest.mark.parametrize(("feature", "value", "expected"), [
    ("membership=none", 1.0, "without a membership"),
    ("income_band=400k-800k", 1.0, "household income 400k-800k"),
    ("household_size=3", 1.0, "3-person households"),
    ("origin_channel=partner", 1.0, "who came via partner"),
    ("recent=BS-APT", 1.0, "bought “Apartment purchase” recently"),
    ("has_purchased", 1.0, "existing customers"),
    ("purchases", 1.0, "one purchase"),
    ("purchases", 7.0, "7 purchases"),
    ("spend", 1234567.0, "spent ¥1,234,567"),
    ("days_since_last_purchase", 0.3, "bought something today"),
    ("days_since_last_purchase", 1.03, "last purchase yesterday"),
    ("days_since_last_purchase", 41.6, "last purchase 42 days ago"),
    ("segment_code=x", 1.0, "segment code x"),
    ("intercept", 1.0, None),
])
def test_factor_phrases(feature: str, value: float, expected: str | None) -> None:
    assert factor_phrase(feature, value, PRODUCTS) == expected


@pytest.mark.parametrize(("days", "en", "zh"), [
    (365.0, "a year", "一年"), (730.0, "2 years", "2年"), (180.0, "6 months", "6个月"),
    (30.0, "a month", "1个月"), (45.0, "45 days", "45天"), (1.0, "a day", "1天")])
def test_window_phrases(days: float, en: str, zh: str) -> None:
    assert window_phrase(days) == en
    assert window_phrase(days, "zh") == zh


def test_percent_and_language() -> None:
    assert [percent(v) for v in (0.0, 0.001, 0.005, 0.4385, 1.0)] == [
        "0%", "<1%", "<1%", "44%", "100%"]
    assert [language(v) for v in (None, "", "en", "zh", "zh-CN", "ZH_hans", "fr")] == [
        "en", "en", "en", "zh", "zh", "zh", "en"]
