"""Next-best offers for one customer from the served analysis version, each with its reason."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from engage.analysis.export import iso
from engage.analysis.reasons import Catalogue, Lang, factor_phrase, offer_reason, product_name
from engage.analysis.store import AnalysisStore, RunInfo
from engage.errors import InvalidPayload, NotFound

Document = dict[str, Any]
CUSTOMER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")
NO_RESULTS = {"ok": True, "suggestions": [], "status": "no_results",
              "message": "No analysis has run yet"}


def check_customer_id(raw: str) -> str:
    """Customer ids are short printable keys; anything else is refused before a query."""
    if not CUSTOMER_ID.fullmatch(raw):
        raise InvalidPayload("customer: 1-64 letters, digits, '_', '.', ':' or '-'")
    return raw


def rule_json(rule: Mapping[str, Any], products: Catalogue, lang: Lang) -> Document:
    """A stored offer rule with product names and the antecedent date spelled out."""
    at = rule.get("antecedent_at")
    return {**rule, "antecedent_name": product_name(str(rule["antecedent"]), products, lang),
            "consequent_name": product_name(str(rule["consequent"]), products, lang),
            "antecedent_at": iso(int(at)) if isinstance(at, int) and at >= 0 else None}


def suggestion_json(offer: Mapping[str, Any], products: Catalogue, lang: Lang) -> Document:
    """One stored offer as the agent console shows it."""
    rule = offer.get("rule")
    return {
        "product": offer["product"],
        "product_name": product_name(str(offer["product"]), products, lang),
        "score": offer.get("score", 0.0),
        "model_probability": offer.get("model", 0.0),
        "expected_value": offer.get("expected_value", 0.0),
        "reason": offer_reason(offer, products, lang),
        "rule": rule_json(rule, products, lang) if isinstance(rule, Mapping) else None,
        "factors": [{**f, "label": factor_phrase(str(f["feature"]), float(f["value"]),
                                                 products, lang)}
                    for f in offer.get("factors") or ()],
    }


class SuggestionService:
    """Reads a customer's offers (Redis hot part, MongoDB fallback) and words the reasons."""

    def __init__(self, store: AnalysisStore, db: AsyncDatabase[Document]) -> None:
        self.store = store
        self._customers = db.customers

    async def exists(self, customer_id: str) -> bool:
        """Whether ``customers`` has this id (an indexed ``_id`` read)."""
        return await self._customers.find_one({"_id": customer_id}, {"_id": 1}) is not None

    async def offers(self, customer_id: str) -> tuple[RunInfo, Document] | None:
        """The served run and the customer's stored document, when both exist."""
        run = await self.store.current()
        if run is None:
            return None
        doc = await self.store.customer(run.version, customer_id)
        return None if doc is None else (run, doc)

    async def for_customer(self, customer_id: str, lang: Lang = "en") -> Document:
        """The API answer: suggestions with reasons, or a status saying why there are none.
        Raises ``NotFound`` for a customer id nobody knows."""
        customer_id = check_customer_id(customer_id)
        run = await self.store.current()
        if run is None:
            return dict(NO_RESULTS)
        base: Document = {"ok": True, "version": run.version, "run_at": run.run_at,
                          "as_of": run.as_of, "customer": customer_id}
        doc = await self.store.customer(run.version, customer_id)
        if doc is None:
            if not await self.exists(customer_id):
                raise NotFound("no such customer", customer=customer_id)
            return {**base, "suggestions": [], "status": "not_analysed",
                    "message": "This customer joined after the current analysis ran"}
        suggestions = [suggestion_json(o, run.products, lang) for o in doc.get("offers", ())]
        out: Document = {**base, "status": "ok" if suggestions else "no_offers",
                         "tier": doc.get("tier"), "suggestions": suggestions}
        if "merged_from" in doc:
            out["merged_into"] = doc.get("customer_id")
        if not suggestions:
            out["message"] = "Nothing to suggest to this customer"
        return out
