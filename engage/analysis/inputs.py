"""Reads the analysis inputs from MongoDB in projected batches; owns the worker's input cache."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from analytics.features import Categorical
from analytics.pipeline import AnalysisInputs
from engage.infra.dates import whole_seconds, within

log = logging.getLogger("engage.analysis")

Document = dict[str, Any]
BATCH = 5_000
# Customer fields the propensity model codes as attributes (one-hot, unknown when missing).
ATTRIBUTES = ("age_band", "income_band", "district", "household_size", "origin_channel",
              "membership")
CUSTOMER_FIELDS = ("name", "phone", "email", "created_at", *ATTRIBUTES)
TX_FIELDS = ("customer_id", "sku", "amount", "at")


def epoch(value: Any) -> int:
    """Epoch seconds of a BSON date (naive means UTC); -1 when it is not a date."""
    if not isinstance(value, datetime):
        return -1
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return int(aware.timestamp())


@dataclass(frozen=True)
class ProductInfo:
    """What the reasons and the report say about a product."""

    sku: str
    name: str
    name_zh: str
    line: str
    price: float


@dataclass(frozen=True)
class Fingerprint:
    """What decides whether the data changed since a run: counts, the newest purchase and
    the data-version counter writers may bump (``keys.analysis_data_version``)."""

    customers: int
    transactions: int
    products: int
    last_transaction_at: int
    data_version: int

    def as_dict(self) -> dict[str, int]:
        return {"customers": self.customers, "transactions": self.transactions,
                "products": self.products, "last_transaction_at": self.last_transaction_at,
                "data_version": self.data_version}


async def fingerprint(db: AsyncDatabase[Document], data_version: int) -> Fingerprint:
    """Cheap: collection metadata counts and one indexed read of the newest purchase."""
    newest = await db.transactions.find_one({}, {"at": 1}, sort=[("at", DESCENDING)])
    return Fingerprint(
        customers=await db.customers.estimated_document_count(),
        transactions=await db.transactions.estimated_document_count(),
        products=await db.products.estimated_document_count(),
        last_transaction_at=epoch(newest.get("at")) if newest else -1,
        data_version=data_version)


@dataclass
class _Ledger:
    """Raw purchase columns as read, before they are mapped to row numbers."""

    customer: list[str] = field(default_factory=list)
    sku: list[str] = field(default_factory=list)
    amount: list[float] = field(default_factory=list)
    at: list[int] = field(default_factory=list)

    def extend(self, docs: list[Document]) -> None:
        for d in docs:
            self.customer.append(str(d.get("customer_id", "")))
            self.sku.append(str(d.get("sku", "")))
            raw = d.get("amount")
            self.amount.append(float(raw) if isinstance(raw, int | float) else float("nan"))
            self.at.append(epoch(d.get("at")))

    def __len__(self) -> int:
        return len(self.at)


@dataclass(frozen=True)
class LoadedInputs:
    """The analysis input, the catalogue behind it and what was read (and left out)."""

    inputs: AnalysisInputs
    products: dict[str, ProductInfo]
    counts: dict[str, int]
    fingerprint: Fingerprint
    incremental: bool


async def _read(db: AsyncDatabase[Document], collection: str, query: Document,
                fields: tuple[str, ...]) -> list[Document]:
    cursor = db[collection].find(query, dict.fromkeys(fields, 1), batch_size=BATCH)
    return [doc async for doc in cursor]


class InputReader:
    """Reads customers, products and purchases. Keeps the last purchases it read, so a later
    read whose only change is newer purchases fetches just those (``at`` is indexed);
    anything else (fewer rows, an older insert, the data-version counter) reads everything."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._ledger: _Ledger | None = None
        self._seen: Fingerprint | None = None

    async def read(self, seen: Fingerprint) -> LoadedInputs:
        """Everything the analysis needs, as of ``seen`` (taken just before)."""
        products = await self._products()
        customers = await _read(self._db, "customers", {}, CUSTOMER_FIELDS)
        customers.sort(key=lambda d: str(d["_id"]))
        ledger, incremental = await self._purchases(seen)
        inputs, counts = _build(customers, products, ledger)
        self._ledger, self._seen = ledger, seen
        return LoadedInputs(inputs=inputs, products=products, counts=counts, fingerprint=seen,
                            incremental=incremental)

    async def prime(self, seen: Fingerprint) -> None:
        """Read the purchases behind ``seen`` (once), so the next change reads only newer
        ones: a watching worker calls this when it skips a run at start-up."""
        if self._ledger is None:
            self._ledger, _ = await self._purchases(seen)
            self._seen = seen

    async def _products(self) -> dict[str, ProductInfo]:
        docs = await _read(self._db, "products", {},
                           ("name", "name_zh", "business_line", "price"))
        out: dict[str, ProductInfo] = {}
        for d in sorted(docs, key=lambda d: str(d["_id"])):
            price = d.get("price")
            out[str(d["_id"])] = ProductInfo(
                sku=str(d["_id"]), name=str(d.get("name") or d["_id"]),
                name_zh=str(d.get("name_zh") or d.get("name") or d["_id"]),
                line=str(d.get("business_line") or "other"),
                price=float(price) if isinstance(price, int | float) and price >= 0 else 0.0)
        return out

    async def _purchases(self, seen: Fingerprint) -> tuple[_Ledger, bool]:
        before, ledger = self._seen, self._ledger
        if (before is not None and ledger is not None
                and before.data_version == seen.data_version
                and before.customers == seen.customers and before.products == seen.products
                and seen.transactions > before.transactions
                and seen.last_transaction_at > before.last_transaction_at):
            after = datetime.fromtimestamp(before.last_transaction_at, UTC)
            newer = [d for d in await _read(self._db, "transactions",
                                            {"at": whole_seconds(start=after)}, TX_FIELDS)
                     if isinstance(d.get("at"), datetime)
                     and within(d["at"], start=after, include_start=False)]
            if len(ledger) + len(newer) == seen.transactions:
                grown = _Ledger(list(ledger.customer), list(ledger.sku), list(ledger.amount),
                                list(ledger.at))
                grown.extend(newer)
                return grown, True
            log.info("purchases changed before the newest one: reading them all",
                     extra={"expected": seen.transactions,
                            "incremental": len(ledger) + len(newer)})
        fresh = _Ledger()
        fresh.extend(await _read(self._db, "transactions", {}, TX_FIELDS))
        return fresh, False


def _build(customers: list[Document], products: dict[str, ProductInfo],
           ledger: _Ledger) -> tuple[AnalysisInputs, dict[str, int]]:
    """Columns for ``AnalysisInputs``; purchases of unknown customers or products, or
    without a date, are left out and counted."""
    ids = [str(d["_id"]) for d in customers]
    row = {cid: i for i, cid in enumerate(ids)}
    skus = list(products)
    sku_row = {sku: i for i, sku in enumerate(skus)}
    lines = sorted({p.line for p in products.values()})
    tx_customer = np.fromiter((row.get(c, -1) for c in ledger.customer), np.int64, len(ledger))
    tx_product = np.fromiter((sku_row.get(s, -1) for s in ledger.sku), np.int64, len(ledger))
    tx_time = np.asarray(ledger.at, dtype=np.int64)
    keep = (tx_customer >= 0) & (tx_product >= 0) & (tx_time >= 0)
    created = np.fromiter((epoch(d.get("created_at")) for d in customers), np.int64, len(ids))
    created = np.where(created >= 0, created, np.iinfo(np.int64).max // 2)
    amount: npt.NDArray[np.float64] = np.asarray(ledger.amount, dtype=np.float64)[keep]
    inputs = AnalysisInputs(
        customer_ids=ids,
        attributes=tuple(Categorical.from_labels(a, [d.get(a) for d in customers])
                         for a in ATTRIBUTES),
        tx_customer=tx_customer[keep], tx_product=tx_product[keep], tx_amount=amount,
        tx_time=tx_time[keep], product_ids=skus,
        product_lines=np.array([lines.index(p.line) for p in products.values()], np.int64),
        line_names=lines,
        product_prices=np.array([p.price for p in products.values()], np.float64),
        phones=[str(d.get("phone") or "") for d in customers],
        emails=[str(d.get("email") or "") for d in customers],
        names=[str(d.get("name") or "") for d in customers], created_at=created)
    counts = {"customers": len(ids), "products": len(skus), "transactions": len(ledger),
              "transactions_used": int(keep.sum()),
              "transactions_unknown_customer": int((tx_customer < 0).sum()),
              "transactions_unknown_product": int((tx_product < 0).sum()),
              "transactions_undated": int((tx_time < 0).sum())}
    return inputs, counts
