"""Plain-language reasons for next-best offers, from the rule or the model factors behind them."""

# Pure: an offer as stored by the worker (``product``, ``score``, ``rule``, ``factors``) and the
# product names in, one sentence an agent can say out loud. English and Chinese.

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
MAX_FACTORS = 3
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


class Named(Protocol):
    """A product as the reasons name it."""

    @property
    def name(self) -> str: ...

    @property
    def name_zh(self) -> str: ...


Catalogue = Mapping[str, Named]


def product_name(sku: str, products: Catalogue, lang: Lang = "en") -> str:
    """The product's display name in ``lang`` (the SKU when the catalogue lacks it)."""
    known = products.get(sku)
    if known is None:
        return sku
    return known.name_zh if lang == "zh" else known.name


def percent(share: float) -> str:
    """0.4385 -> '44%'; positive shares that round to 0 read '<1%'."""
    whole = round(share * 100)
    return "<1%" if share > 0 and whole == 0 else f"{whole:d}%"


def window_phrase(days: float, lang: Lang = "en") -> str:
    """365 -> 'a year', 730 -> '2 years', 180 -> '6 months', 30 -> 'a month', else days."""
    years, months = days / 365, days / 30
    if lang == "zh":
        if abs(years - round(years)) < 0.01 and round(years) >= 1:
            return "一年" if round(years) == 1 else f"{round(years)}年"
        if abs(months - round(months)) < 0.05 and round(months) >= 1:
            return f"{round(months)}个月"
        return f"{round(days)}天"
    if abs(years - round(years)) < 0.01 and round(years) >= 1:
        return "a year" if round(years) == 1 else f"{round(years)} years"
    if abs(months - round(months)) < 0.05 and round(months) >= 1:
        return "a month" if round(months) == 1 else f"{round(months)} months"
    return "a day" if round(days) == 1 else f"{round(days)} days"


def month_phrase(epoch_seconds: int, lang: Lang = "en") -> str:
    """'March 2025' (or '2025年3月') in UTC."""
    when = datetime.fromtimestamp(epoch_seconds, UTC)
    if lang == "zh":
        return f"{when.year}年{when.month}月"
    return f"{MONTHS[when.month - 1]} {when.year}"


def rule_reason(rule: Mapping[str, Any], products: Catalogue, lang: Lang = "en") -> str:
    """'Bought “A” in March 2025; 44% of such buyers order “B” within a year.' Rules
    without a window (bought both, ever) read '44% of customers who bought “A” also bought
    “B”.'"""
    before = product_name(str(rule["antecedent"]), products, lang)
    target = product_name(str(rule["consequent"]), products, lang)
    share = percent(float(rule.get("confidence") or 0.0))
    window = rule.get("window_days")
    at = rule.get("antecedent_at")
    if not window and not at:
        if lang == "zh":
            return f"购买过“{before}”的客户中有{share}也购买了“{target}”。"
        return f"{share} of customers who bought “{before}” also bought “{target}”."
    if lang == "zh":
        when = f"{month_phrase(int(at), lang)}购买了“{before}”" if at else f"购买过“{before}”"
        within = f"在{window_phrase(float(window), lang)}内" if window else ""
        return f"{when}；此类客户中有{share}{within}购买了“{target}”。"  # noqa: RUF001
    when = f"Bought “{before}” in {month_phrase(int(at))}" if at else f"Bought “{before}”"
    within = f" within {window_phrase(float(window))}" if window else ""
    return f"{when}; {share} of such buyers order “{target}”{within}."


def factor_phrase(feature: str, value: float, products: Catalogue,
                  lang: Lang = "en") -> str | None:
    """One model factor as a short description of the customer ('in Pudong', 'gold
    members'); None for factors that say nothing to a customer-facing agent."""
    zh = lang == "zh"
    if feature in ("purchases", "spend", "days_since_last_purchase") and value <= 0:
        return "尚无购买" if zh else "no purchases yet"
    if feature == "purchases":
        return f"已购买{round(value)}次" if zh else (
            "one purchase" if round(value) == 1 else f"{round(value)} purchases")
    if feature == "spend":
        return f"累计消费¥{value:,.0f}" if zh else f"spent ¥{value:,.0f}"
    if feature == "days_since_last_purchase":
        days = round(value)
        if zh:
            return "今天刚购买过" if days == 0 else f"上次购买在{days}天前"
        return {0: "bought something today", 1: "last purchase yesterday"}.get(
            days, f"last purchase {days} days ago")
    if feature == "has_purchased":
        return "老客户" if zh else "existing customers"
    name, _, level = feature.partition("=")
    if not level:
        return None
    if name in ("owns", "recent"):
        item = product_name(level, products, lang)
        if zh:
            return f"近期购买过“{item}”" if name == "recent" else f"购买过“{item}”"
        return f"bought “{item}” recently" if name == "recent" else f"bought “{item}”"
    return _attribute_phrase(name, level, zh)


def _attribute_phrase(name: str, level: str, zh: bool) -> str:
    if zh:
        labels = {"district": f"{level}区", "membership": "非会员" if level == "none"
                  else f"{level}会员", "age_band": f"年龄{level}",
                  "income_band": f"家庭年收入{level}", "household_size": f"{level}口之家",
                  "origin_channel": f"来自{level}渠道"}
        return labels.get(name, f"{name}为{level}")
    if name == "household_size":
        return "single-person households" if level == "1" else f"{level}-person households"
    labels = {"district": f"in {level}",
              "membership": "without a membership" if level == "none"
              else f"with a {level} membership",
              "age_band": f"aged {level}", "income_band": f"household income {level}",
              "origin_channel": f"who came via {level}"}
    return labels.get(name, f"{name.replace('_', ' ')} {level}")


def model_reason(product: str, score: float, factors: Sequence[Mapping[str, Any]],
                 products: Catalogue, lang: Lang = "en") -> str:
    """'Similar customers (in Pudong, with a gold membership) often take “B”: 23% estimated
    chance.' from the strongest positive factors."""
    phrases: list[str] = []
    for factor in factors:
        if float(factor.get("contribution", 0.0)) <= 0:
            continue
        phrase = factor_phrase(str(factor["feature"]), float(factor.get("value", 0.0)),
                               products, lang)
        if phrase is not None and phrase not in phrases:
            phrases.append(phrase)
        if len(phrases) == MAX_FACTORS:
            break
    target = product_name(product, products, lang)
    share = percent(score)
    if lang == "zh":
        if not phrases:
            return f"“{target}”是该客户最可能的下一次购买之一：估计概率{share}。"  # noqa: RUF001
        joined = "、".join(phrases)
        return f"与该客户相似的客户（{joined}）常购买“{target}”：估计概率{share}。"  # noqa: RUF001
    if not phrases:
        return f"“{target}” is among this customer's most likely next purchases: {share} " \
               f"estimated chance."
    return f"Similar customers ({', '.join(phrases)}) often take “{target}”: {share} " \
           f"estimated chance."


def offer_reason(offer: Mapping[str, Any], products: Catalogue, lang: Lang = "en") -> str:
    """The reason for one stored offer: its rule when one applies, else its model factors."""
    rule = offer.get("rule")
    if isinstance(rule, Mapping):
        return rule_reason(rule, products, lang)
    return model_reason(str(offer["product"]), float(offer.get("score", 0.0)),
                        offer.get("factors") or (), products, lang)


def language(raw: str | None) -> Lang:
    """'zh', 'zh-CN', 'zh_Hans' -> 'zh'; anything else -> 'en'."""
    return "zh" if raw and raw.lower().startswith("zh") else "en"
