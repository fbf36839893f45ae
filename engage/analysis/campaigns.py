"""Outbound call lists per campaign, built from the served analysis version, and their CSV."""

# A list takes the customers of the chosen tiers whose next-best offers include a chosen
# product or business line (the best such offer; any offer when none is chosen), within the
# chosen segments, and leaves out opted-out customers, unreachable ones (flagged by cleansing,
# or without an E.164 phone) and those contacted in the last N days (interactions, ACD
# arrivals, offer feedback). Members are stored with the run version they came from.

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from analytics.patterns import PHONE
from analytics.tiers import TIER_LABELS
from engage.analysis.inputs import ATTRIBUTES
from engage.analysis.reasons import LANGS, Lang, offer_reason, product_name
from engage.analysis.store import AnalysisStore, RunInfo
from engage.customers.ledger import opted_out_ids
from engage.errors import Conflict, InvalidPayload, NotFound

Document = dict[str, Any]
LISTS, MEMBERS = "campaign_lists", "campaign_members"
MAX_SIZE = 50_000
MAX_NAME = 100
BATCH = 5_000
CSV_HEADER = ("customer_id", "name", "phone", "product", "product_name", "score", "tier",
              "reason")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # spreadsheet formula injection


class NoAnalysisResults(Conflict):
    """No analysis has run yet: run `python -m engage analyze` first."""

    code = "no_results"


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Lists by creation, members by list (the exclusion reads, opt-outs and recent contacts,
    use the ledger's and the history's indexes)."""
    await db[LISTS].create_index([("created_at", ASCENDING)])
    await db[MEMBERS].create_index([("campaign_id", ASCENDING)])


def _strings(body: Mapping[str, Any], name: str, allowed: Iterable[str] | None = None,
             limit: int = 200) -> tuple[str, ...]:
    raw = body.get(name, [])
    if not isinstance(raw, list) or len(raw) > limit or not all(
            isinstance(v, str) and 0 < len(v) <= 100 for v in raw):
        raise InvalidPayload(f"{name}: a list of up to {limit} names")
    if allowed is not None:
        known = set(allowed)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InvalidPayload(f"{name}: unknown {', '.join(unknown[:5])}")
    return tuple(dict.fromkeys(raw))


def _number(body: Mapping[str, Any], name: str, default: float, low: float, high: float,
            whole: bool = True) -> float:
    raw = body.get(name, default)
    kinds = (int,) if whole else (int, float)
    if isinstance(raw, bool) or not isinstance(raw, kinds) or not low <= raw <= high:
        kind = "a whole number" if whole else "a number"
        raise InvalidPayload(f"{name}: {kind} from {low:g} to {high:g}")
    return float(raw)


@dataclass(frozen=True)
class CampaignCriteria:
    """What a marketer asks for; ``segments`` maps a customer attribute to allowed values."""

    name: str
    products: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ("A", "B")
    segments: dict[str, tuple[str, ...]] = field(default_factory=dict)
    size: int = 1_000
    contacted_within_days: int = 30
    min_score: float = 0.0
    lang: Lang = "en"

    @classmethod
    def from_json(cls, body: Mapping[str, Any], run: RunInfo) -> CampaignCriteria:
        """Validated criteria; products and lines must exist in the served version."""
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise InvalidPayload(f"name: 1-{MAX_NAME} characters")
        segments_raw = body.get("segments", {})
        if not isinstance(segments_raw, dict) or not set(segments_raw) <= set(ATTRIBUTES):
            raise InvalidPayload(f"segments: an object with keys from {', '.join(ATTRIBUTES)}")
        segments = {k: _strings(segments_raw, k) for k in ATTRIBUTES if segments_raw.get(k)}
        tiers = _strings(body, "tiers", TIER_LABELS) if "tiers" in body else ("A", "B")
        if not tiers:
            raise InvalidPayload("tiers: at least one of A, B, C, D")
        lang = body.get("lang", "en")
        if lang not in LANGS:
            raise InvalidPayload("lang: 'en' or 'zh'")
        return cls(name=name.strip(), products=_strings(body, "products", run.products),
                   lines=_strings(body, "lines", {p.line for p in run.products.values()}),
                   tiers=tiers, segments=segments,
                   size=int(_number(body, "size", 1_000, 1, MAX_SIZE)),
                   contacted_within_days=int(_number(body, "contacted_within_days", 30, 0,
                                                     3_650)),
                   min_score=_number(body, "min_score", 0.0, 0.0, 1.0, whole=False),
                   lang=lang)

    def pick(self, doc: Mapping[str, Any], run: RunInfo) -> Document | None:
        """The customer's best offer this campaign is about, if any and if in segment."""
        if any(doc.get(k) not in allowed for k, allowed in self.segments.items()):
            return None
        for offer in doc.get("offers", ()):
            sku = str(offer.get("product"))
            info = run.products.get(sku)
            wanted = (not self.products and not self.lines) or sku in self.products or (
                info is not None and info.line in self.lines)
            if wanted and float(offer.get("score", 0.0)) >= self.min_score:
                return dict(offer)
        return None


def is_e164(phone: object) -> bool:
    """A number a campaign may dial: the one phone rule (``analytics.patterns.PHONE``)."""
    return isinstance(phone, str) and PHONE.fullmatch(phone) is not None


def _cell(text: str) -> str:
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_text(members: Sequence[Mapping[str, Any]], bom: bool = False) -> str:
    """RFC 4180 CSV (CRLF, quoted where needed) of list members; phones stay E.164."""
    out = io.StringIO()
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for m in members:
        writer.writerow([m["customer_id"], _cell(str(m.get("name", ""))), m["phone"],
                         m["product"], _cell(str(m.get("product_name", ""))),
                         f"{float(m['score']):.4f}", m["tier"], _cell(str(m.get("reason", "")))])
    return out.getvalue()


def _public(doc: Mapping[str, Any]) -> Document:
    out = {k: v for k, v in doc.items() if k != "_id"}
    out["id"] = doc["_id"]
    for key in ("created_at",):
        if isinstance(out.get(key), datetime):
            out[key] = out[key].isoformat()
    return out


class CampaignService:
    """Creates, lists and exports campaign call lists."""

    def __init__(self, db: AsyncDatabase[Document], store: AnalysisStore) -> None:
        self.db = db
        self.store = store

    async def create(self, body: Mapping[str, Any], created_by: str) -> Document:
        run = await self.store.current()
        if run is None:
            raise NoAnalysisResults()
        criteria = CampaignCriteria.from_json(body, run)
        opted_out = await opted_out_ids(self.db, "call")
        contacted = await self.recently_contacted(criteria.contacted_within_days)
        excluded = {"opted_out": 0, "unreachable": 0, "contacted_recently": 0}
        found: list[tuple[float, str, Document, Document]] = []
        for tier in criteria.tiers:
            for doc in await self.store.tier_members(run.version, tier):
                offer = criteria.pick(doc, run)
                if offer is None:
                    continue
                cid = str(doc["customer_id"])
                if cid in opted_out:
                    excluded["opted_out"] += 1
                elif not doc.get("reachable") or not is_e164(doc.get("phone")):
                    excluded["unreachable"] += 1
                elif cid in contacted:
                    excluded["contacted_recently"] += 1
                else:
                    found.append((-float(offer["score"]), cid, doc, offer))
        found.sort(key=lambda t: (t[0], t[1]))
        campaign_id = f"cmp_{secrets.token_hex(6)}"
        members = [{"campaign_id": campaign_id, "rank": i, "customer_id": cid,
                    "name": doc.get("name", ""), "phone": doc["phone"],
                    "product": offer["product"],
                    "product_name": product_name(offer["product"], run.products, criteria.lang),
                    "score": offer["score"], "tier": doc["tier"],
                    "reason": offer_reason(offer, run.products, criteria.lang)}
                   for i, (_, cid, doc, offer) in enumerate(found[:criteria.size])]
        for i in range(0, len(members), BATCH):
            await self.db[MEMBERS].insert_many(members[i:i + BATCH], ordered=False)
        asked = asdict(criteria)
        del asked["name"]
        campaign: Document = {
            "_id": campaign_id, "name": criteria.name, "criteria": asked, "version": run.version,
            "run_at": run.run_at, "created_by": created_by, "created_at": datetime.now(UTC),
            "size": len(members), "candidates": len(found), "excluded": excluded}
        await self.db[LISTS].insert_one(campaign)
        return _public(campaign)

    async def recently_contacted(self, days: int) -> set[str]:
        """Customers with an interaction, an ACD arrival or offer feedback in the last
        ``days`` days (none when 0). Each source is one indexed range read."""
        if days <= 0:
            return set()
        since = datetime.now(UTC) - timedelta(days=days)
        return (await self._ids("interactions", {"started_at": {"$gte": since}}, "customer_id")
                | await self._ids("acd_events", {"at": {"$gte": since}}, "customer")
                | await self._ids("offer_feedback", {"at": {"$gte": since}}, "customer_id"))

    async def _ids(self, collection: str, query: Document, key: str) -> set[str]:
        cursor = self.db[collection].find(query, {key: 1}, batch_size=BATCH)
        return {str(doc[key]) async for doc in cursor if doc.get(key)}

    async def recent(self, limit: int = 100) -> list[Document]:
        docs = [d async for d in self.db[LISTS].find({})]
        docs.sort(key=lambda d: d["created_at"], reverse=True)
        return [_public(d) for d in docs[:limit]]

    async def get(self, campaign_id: str) -> Document:
        doc = await self.db[LISTS].find_one({"_id": campaign_id})
        if doc is None:
            raise NotFound("no such campaign", campaign=campaign_id[:64])
        return _public(doc)

    async def members(self, campaign_id: str) -> list[Document]:
        """The list's members, less those who opted out since it was made."""
        await self.get(campaign_id)
        cursor = self.db[MEMBERS].find({"campaign_id": campaign_id}, {"_id": 0},
                                       batch_size=BATCH)
        opted_out = await opted_out_ids(self.db, "call")
        rows = [doc async for doc in cursor if doc["customer_id"] not in opted_out]
        rows.sort(key=lambda m: m["rank"])
        return rows
