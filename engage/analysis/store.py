"""Versioned analysis results: all kept versions in MongoDB, the current one hot in Redis."""

# Collections: ``analysis_runs`` (one per version: status, params, fingerprint, input counts,
# summary, report), ``analysis_rules`` and ``analysis_offers`` (one per customer, or a
# ``merged_into`` pointer for a merged duplicate). Redis: ``engage:analysis:current`` and, per
# version, the offers hash and the report. A version becomes current only after everything
# of it is written; the last ``keep`` versions stay, older ones are deleted.

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import orjson
import redis.asyncio as aioredis
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from engage import keys
from engage.analysis.inputs import ProductInfo

log = logging.getLogger("engage.analysis")

Document = dict[str, Any]
RUNS, RULES, OFFERS = "analysis_runs", "analysis_rules", "analysis_offers"
VERSION_COUNTER = "analysis_version"  # in ``meta``: the last version handed out
BATCH = 5_000
KEEP_VERSIONS = 3
HOT_CUSTOMERS = 200_000  # customers (in follow-up order) whose offers Redis caches
LIVE = ("current", "complete")  # statuses of versions whose results are kept


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Every query path here: runs by version and status, results by version and key."""
    await db[RUNS].create_index([("version", ASCENDING)], unique=True)
    await db[RUNS].create_index([("status", ASCENDING)])
    await db[RULES].create_index([("version", ASCENDING), ("kind", ASCENDING)])
    await db[OFFERS].create_index([("version", ASCENDING), ("customer_id", ASCENDING)])
    await db[OFFERS].create_index([("version", ASCENDING), ("tier", ASCENDING)])


def _now() -> datetime:
    return datetime.now(UTC)


def _products(raw: Any) -> dict[str, ProductInfo]:
    if not isinstance(raw, dict):
        return {}
    return {sku: ProductInfo(sku=sku, name=str(p.get("name", sku)),
                             name_zh=str(p.get("name_zh", p.get("name", sku))),
                             line=str(p.get("line", "")), price=float(p.get("price", 0.0)))
            for sku, p in raw.items() if isinstance(p, dict)}


@dataclass(frozen=True)
class RunInfo:
    """The served version: when it finished, its data date and product names."""

    version: int
    run_at: str
    as_of: str
    products: dict[str, ProductInfo]


def _hot(doc: Document) -> bytes:
    return orjson.dumps({k: v for k, v in doc.items() if k not in ("_id", "version")})


def _stored(doc: Document) -> Document:
    """The MongoDB form: ``offers`` as JSON text. nx-27017 inserts nested documents about
    twice as slowly as flat ones, and nothing queries inside offers."""
    return {**doc, "offers": orjson.dumps(doc["offers"]).decode()} if "offers" in doc else doc


def _loaded(doc: Document | None) -> Document | None:
    if doc is not None and isinstance(doc.get("offers"), str):
        doc["offers"] = orjson.loads(doc["offers"])
    return doc


class AnalysisStore:
    """Writes versions (worker side) and reads the current one (node side)."""

    def __init__(self, db: AsyncDatabase[Document], redis: aioredis.Redis, *,
                 keep: int = KEEP_VERSIONS, hot_customers: int = HOT_CUSTOMERS) -> None:
        self.db = db
        self.redis = redis
        self.keep = keep
        self.hot_customers = hot_customers
        self._runs: dict[int, RunInfo] = {}

    # -- worker side ----------------------------------------------------------------

    async def begin(self, params: Document, fingerprint: Document, worker: str) -> int:
        """Hand out the next version and record its run as running."""
        counter = await self.db.meta.find_one_and_update(
            {"_id": VERSION_COUNTER}, {"$inc": {"value": 1}}, upsert=True,
            return_document=ReturnDocument.AFTER)
        version = int((counter or {}).get("value", 1))
        await self.db[RUNS].insert_one({
            "_id": f"run-{version:08d}", "version": version, "status": "running",
            "started_at": _now(), "worker": worker, "params": params,
            "fingerprint": fingerprint})
        return version

    async def write_rules(self, version: int, docs: list[Document]) -> None:
        for i in range(0, len(docs), BATCH):
            await self.db[RULES].insert_many(docs[i:i + BATCH], ordered=False)

    async def write_customers(self, version: int, docs: Iterator[Document], total: int,
                              progress: Callable[[float], None] | None = None) -> int:
        """Insert the customer documents in batches and cache the first ``hot_customers``
        in the version's Redis hash. The next batch is built (in a thread) while the current
        one is written. Returns how many were written."""
        written = hot = 0
        key = keys.analysis_offers(version)

        def take() -> list[Document]:
            return list(islice(docs, BATCH))

        upcoming = asyncio.ensure_future(asyncio.to_thread(take))
        try:
            while chunk := await upcoming:
                upcoming = asyncio.ensure_future(asyncio.to_thread(take))
                room = max(self.hot_customers - hot, 0)
                cached = {d["customer_id"]: _hot(d) for d in chunk[:room]
                          if "merged_into" not in d}
                cached.update({d["customer_id"]: _hot(d) for d in chunk if "merged_into" in d})
                if cached:
                    await self.redis.hset(key, mapping=cached)
                    hot += len(cached)
                await self.db[OFFERS].insert_many([_stored(d) for d in chunk], ordered=False)
                written += len(chunk)
                if progress is not None:
                    progress(min(written / max(total, 1), 1.0))
        finally:
            with suppress(Exception):
                await upcoming  # a thread cannot be cancelled: let the batch finish
        return written

    async def publish(self, version: int, *, report: Document, summary: Document,
                      counts: Document, seconds: Document) -> list[int]:
        """Make ``version`` the one every node serves, then prune old versions (returned)."""
        await self.redis.set(keys.analysis_report(version), orjson.dumps(report))
        await self.db[RUNS].update_one({"version": version}, {"$set": {
            "status": "current", "finished_at": _now(), "summary": summary,
            "input_counts": counts, "products": report["products"], "report": report,
            "as_of": report["as_of"], "run_at": report["run_at"], "seconds": seconds}})
        await self.redis.set(keys.ANALYSIS_CURRENT, str(version))
        async for doc in self.db[RUNS].find({"status": "current"}, {"version": 1}):
            if doc["version"] != version:
                await self.db[RUNS].update_one({"_id": doc["_id"]},
                                               {"$set": {"status": "complete"}})
        return await self.prune()

    async def fail(self, version: int, error: str) -> None:
        """Drop what a failed run wrote; its run document says why."""
        await self._drop(version)
        await self.db[RUNS].update_one({"version": version}, {"$set": {
            "status": "failed", "finished_at": _now(), "error": error[:2000]}})

    async def prune(self) -> list[int]:
        """Delete every version but the newest ``keep`` live ones; runs left "running" by a
        dead worker (older than the current version) are failed. Returns pruned versions."""
        runs = [d async for d in self.db[RUNS].find({}, {"version": 1, "status": 1})]
        live = sorted((d["version"] for d in runs if d["status"] in LIVE), reverse=True)
        newest = live[0] if live else 0
        pruned = live[self.keep:]
        for version in pruned:
            await self._drop(version)
            await self.db[RUNS].update_one({"version": version}, {
                "$set": {"status": "pruned", "pruned_at": _now()}, "$unset": {"report": ""}})
            self._runs.pop(version, None)
        for d in runs:
            if d["status"] == "running" and d["version"] < newest:
                await self.fail(d["version"], "abandoned: a later version completed first")
        if pruned:
            log.info("pruned analysis versions", extra={"versions": pruned})
        return pruned

    async def _drop(self, version: int) -> None:
        await self.db[RULES].delete_many({"version": version})
        await self.db[OFFERS].delete_many({"version": version})
        await self.redis.delete(keys.analysis_offers(version), keys.analysis_report(version))

    async def served_fingerprint(self) -> Document | None:
        """The input fingerprint of the current version (None before any run)."""
        version = await self.current_version()
        if version is None:
            return None
        doc = await self.db[RUNS].find_one({"version": version}, {"fingerprint": 1})
        return doc.get("fingerprint") if doc else None

    async def rewarm(self) -> bool:
        """Put the current version's hot parts back when Redis lost them (a restart or a
        flush). Returns whether it had to."""
        if await self.redis.get(keys.ANALYSIS_CURRENT) is not None:
            return False
        version = await self._mongo_current()
        if version is None:
            return False
        run = await self.db[RUNS].find_one({"version": version}, {"report": 1})
        key = keys.analysis_offers(version)
        cursor = self.db[OFFERS].find({"version": version}, batch_size=BATCH)
        batch: dict[str, bytes] = {}
        async for doc in cursor:
            if "merged_into" in doc or doc.get("rank", 0) < self.hot_customers:
                batch[doc["customer_id"]] = _hot(_loaded(doc) or doc)
            if len(batch) >= BATCH:
                await self.redis.hset(key, mapping=batch)  # type: ignore[arg-type]
                batch = {}
        if batch:
            await self.redis.hset(key, mapping=batch)  # type: ignore[arg-type]
        if run and run.get("report"):
            await self.redis.set(keys.analysis_report(version), orjson.dumps(run["report"]))
        await self.redis.set(keys.ANALYSIS_CURRENT, str(version))
        log.info("analysis hot parts restored to redis", extra={"version": version})
        return True

    # -- node side ------------------------------------------------------------------

    async def _mongo_current(self) -> int | None:
        versions = [d["version"] async for d in self.db[RUNS].find({"status": "current"},
                                                                    {"version": 1})]
        return max(versions) if versions else None

    async def current_version(self) -> int | None:
        raw = await self.redis.get(keys.ANALYSIS_CURRENT)
        return int(raw) if raw else await self._mongo_current()

    async def current(self) -> RunInfo | None:
        """The served version, or None before the first complete run."""
        version = await self.current_version()
        if version is None:
            return None
        if version not in self._runs:
            doc = await self.db[RUNS].find_one(
                {"version": version}, {"run_at": 1, "as_of": 1, "products": 1})
            if doc is None:
                return None
            self._runs[version] = RunInfo(version=version, run_at=str(doc.get("run_at", "")),
                                          as_of=str(doc.get("as_of", "")),
                                          products=_products(doc.get("products")))
        return self._runs[version]

    async def customer(self, version: int, customer_id: str) -> Document | None:
        """A customer's tier and offers in ``version`` (Redis first, then MongoDB),
        following a merged duplicate to the record it was merged into."""
        doc = await self._customer(version, customer_id)
        if doc is not None and "merged_into" in doc:
            kept = await self._customer(version, str(doc["merged_into"]))
            return None if kept is None else {**kept, "merged_from": customer_id}
        return doc

    async def _customer(self, version: int, customer_id: str) -> Document | None:
        raw = await self.redis.hget(keys.analysis_offers(version), customer_id)
        if raw is not None:
            doc: Document = orjson.loads(raw)
            return doc
        return _loaded(await self.db[OFFERS].find_one(
            {"version": version, "customer_id": customer_id}, {"_id": 0, "version": 0}))

    async def report(self, version: int) -> Document | None:
        raw = await self.redis.get(keys.analysis_report(version))
        if raw is not None:
            doc: Document = orjson.loads(raw)
            return doc
        run = await self.db[RUNS].find_one({"version": version}, {"report": 1})
        return run.get("report") if run else None

    async def tier_members(self, version: int, tier: str) -> list[Document]:
        """Every customer document of one tier (indexed on version and tier)."""
        cursor = self.db[OFFERS].find({"version": version, "tier": tier},
                                      {"_id": 0, "version": 0}, batch_size=BATCH)
        return [_loaded(doc) or doc async for doc in cursor]

    async def rules(self, version: int, kind: str) -> list[Document]:
        cursor = self.db[RULES].find({"version": version, "kind": kind}, {"_id": 0},
                                     batch_size=BATCH)
        return [doc async for doc in cursor]

    async def runs(self, limit: int = 10) -> list[Document]:
        """The latest runs' metadata, newest first, JSON-ready (no report bodies)."""
        docs = [d async for d in self.db[RUNS].find(
            {}, {"_id": 0, "report": 0, "products": 0})]
        docs.sort(key=lambda d: d["version"], reverse=True)
        return [{k: v.isoformat() if isinstance(v, datetime) else v for k, v in d.items()}
                for d in docs[:limit]]
