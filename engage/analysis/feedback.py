"""Offer outcomes from agents and campaigns (``offer_feedback``), and the uplift report per rule."""

# Uplift method: feedback is grouped into episodes (customer, product, campaign); an episode
# counts as offered, accepted (accepted or converted), declined (declined and never
# accepted) and converted. A rule's conversion rate is converted / offered over the episodes
# it drove; its baseline is the conversion rate of episodes for the same product offered
# without any rule (the model alone). Uplift is the difference in percentage points; the
# rule's own confidence (how often such buyers take the product unprompted) is shown beside it.

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from engage.analysis.store import AnalysisStore
from engage.analysis.suggestions import SuggestionService, check_customer_id
from engage.errors import InvalidPayload, NotFound

Document = dict[str, Any]
FEEDBACK = "offer_feedback"
OUTCOMES = ("offered", "accepted", "declined", "converted")
RULE = re.compile(r"([A-Za-z0-9_.:\-]{1,64})->([A-Za-z0-9_.:\-]{1,64})")
LABEL = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
BATCH = 5_000
RECORDED_MAX = 500  # feedback rows read for one customer's console view


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Feedback is read by time (uplift windows, recent-contact exclusions)."""
    await db[FEEDBACK].create_index([("at", ASCENDING)])
    await db[FEEDBACK].create_index([("customer_id", ASCENDING)])


def _label(body: Mapping[str, Any], name: str, required: bool) -> str | None:
    raw = body.get(name)
    if raw is None or raw == "":
        if required:
            raise InvalidPayload(f"{name}: required")
        return None
    if not isinstance(raw, str) or not LABEL.fullmatch(raw):
        raise InvalidPayload(f"{name}: 1-64 letters, digits, '_', '.', ':' or '-'")
    return raw


@dataclass
class _Tally:
    offered: int = 0
    accepted: int = 0
    declined: int = 0
    converted: int = 0

    def add(self, outcomes: set[str]) -> None:
        self.offered += 1
        took = bool(outcomes & {"accepted", "converted"})
        self.accepted += took
        self.declined += "declined" in outcomes and not took
        self.converted += "converted" in outcomes

    def as_json(self) -> Document:
        rate = self.converted / self.offered if self.offered else None
        return {"offered": self.offered, "accepted": self.accepted, "declined": self.declined,
                "converted": self.converted,
                "acceptance_rate": self.accepted / self.offered if self.offered else None,
                "conversion_rate": rate}


@dataclass
class _Episode:
    outcomes: set[str] = field(default_factory=set)
    rule: str | None = None


def uplift_table(rows: Iterable[Mapping[str, Any]],
                 confidence: Mapping[str, float] | None = None) -> Document:
    """Per rule and per product baseline, from feedback rows (customer_id, product,
    outcome, campaign, rule). ``confidence`` maps 'A->B' to the rule's confidence."""
    episodes: dict[tuple[str, str, str], _Episode] = {}
    for row in rows:
        key = (str(row["customer_id"]), str(row["product"]), str(row.get("campaign") or ""))
        episode = episodes.setdefault(key, _Episode())
        episode.outcomes.add(str(row["outcome"]))
        episode.rule = episode.rule or row.get("rule")
    by_rule: dict[str, _Tally] = {}
    baseline: dict[str, _Tally] = {}
    for (_, product, _), episode in episodes.items():
        if episode.rule:
            by_rule.setdefault(episode.rule, _Tally()).add(episode.outcomes)
        else:
            baseline.setdefault(product, _Tally()).add(episode.outcomes)
    out: list[Document] = []
    for rule, tally in sorted(by_rule.items()):
        antecedent, _, consequent = rule.partition("->")
        base = baseline.get(consequent)
        entry = {"rule": rule, "antecedent": antecedent, "consequent": consequent,
                 **tally.as_json()}
        base_rate = base.as_json()["conversion_rate"] if base is not None else None
        rate = entry["conversion_rate"]
        entry["baseline_offered"] = base.offered if base is not None else 0
        entry["baseline_conversion_rate"] = base_rate
        entry["uplift_points"] = (None if rate is None or base_rate is None
                                  else round(100 * (rate - base_rate), 2))
        entry["rule_confidence"] = (confidence or {}).get(rule)
        out.append(entry)
    out.sort(key=lambda e: (-e["offered"], e["rule"]))
    return {"episodes": len(episodes), "rules": out,
            "baseline": {p: t.as_json() for p, t in sorted(baseline.items())}}


class FeedbackService:
    """Stores outcomes (filling in the rule behind the offer) and reports uplift."""

    def __init__(self, db: AsyncDatabase[Document], store: AnalysisStore,
                 suggestions: SuggestionService) -> None:
        self._feedback = db[FEEDBACK]
        self._products = db.products
        self.store = store
        self.suggestions = suggestions

    async def record(self, body: Mapping[str, Any], actor: str, role: str) -> Document:
        """Validate and store one outcome. The rule defaults to the one behind the
        customer's current offer of the product (none: the model's own offer)."""
        customer = check_customer_id(str(_label(body, "customer", True)))
        product = str(_label(body, "product", True))
        outcome = body.get("outcome")
        if outcome not in OUTCOMES:
            raise InvalidPayload(f"outcome: one of {', '.join(OUTCOMES)}")
        campaign = _label(body, "campaign", False)
        rule = body.get("rule")
        if rule is not None and (not isinstance(rule, str) or not RULE.fullmatch(rule)):
            raise InvalidPayload("rule: 'ANTECEDENT->CONSEQUENT' product codes")
        if await self._products.find_one({"_id": product}, {"_id": 1}) is None:
            raise NotFound("no such product", product=product)
        if not await self.suggestions.exists(customer):
            raise NotFound("no such customer", customer=customer)
        version, source = None, "client" if rule else None
        found = await self.suggestions.offers(customer)
        if found is not None:
            run, doc = found
            version = run.version
            offer = next((o for o in doc.get("offers", ()) if o.get("product") == product), None)
            if rule is None and offer is not None and offer.get("rule"):
                rule = f"{offer['rule']['antecedent']}->{offer['rule']['consequent']}"
                source = "analysis"
        entry: Document = {"customer_id": customer, "product": product, "outcome": outcome,
                           "campaign": campaign, "rule": rule, "rule_source": source,
                           "version": version, "actor": actor, "role": role,
                           "at": datetime.now(UTC)}
        await self._feedback.insert_one(entry)
        entry.pop("_id", None)
        entry["at"] = entry["at"].isoformat()
        return entry

    async def recorded(self, customer_id: str, limit: int = RECORDED_MAX) -> dict[str, Document]:
        """What staff recorded for this customer's offers outside campaigns, per product:
        every outcome seen and the latest entry (who, when) - so a console shows an offer as
        already made, accepted or declined."""
        customer = check_customer_id(customer_id)
        cursor = self._feedback.find(
            {"customer_id": customer},
            {"product": 1, "outcome": 1, "actor": 1, "at": 1, "campaign": 1}).sort(
            [("at", DESCENDING), ("_id", DESCENDING)]).limit(max(1, min(limit, RECORDED_MAX)))
        out: dict[str, Document] = {}
        async for row in cursor:
            if row.get("campaign"):  # a campaign's outcome belongs to its list, not the console
                continue
            at = row.get("at")
            entry = out.setdefault(str(row.get("product")), {
                "outcomes": [], "last": row.get("outcome"), "by": row.get("actor"),
                "at": at.isoformat() if isinstance(at, datetime) else at})
            if row.get("outcome") not in entry["outcomes"]:
                entry["outcomes"].append(row.get("outcome"))
        return out

    async def uplift(self, since: datetime | None = None) -> Document:
        """The uplift table over feedback since ``since`` (all when None)."""
        query: Document = {"at": {"$gte": since}} if since is not None else {}
        cursor = self._feedback.find(query, {"customer_id": 1, "product": 1, "outcome": 1,
                                             "campaign": 1, "rule": 1}, batch_size=BATCH)
        rows = [doc async for doc in cursor]
        confidence: dict[str, float] = {}
        run = await self.store.current()
        if run is not None:
            for r in await self.store.rules(run.version, "product_sequence"):
                confidence[f"{r['antecedent']}->{r['consequent']}"] = r["confidence"]
        table = uplift_table(rows, confidence)
        return {"since": since.isoformat() if since else None,
                "version": run.version if run else None,
                "method": "conversion of offers driven by the rule minus the conversion of "
                          "the same product offered without a rule (percentage points)",
                **table}
