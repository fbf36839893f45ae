"""The CRM's purchase and contact history (transactions, interactions, products): its indexes."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

# Imported from the company's CRM (here: by the demo loader) and only read by engage: the
# ledger and profiles per customer, the analysis in bulk, campaigns by recent contact.
TRANSACTIONS, INTERACTIONS, PRODUCTS = "transactions", "interactions", "products"

async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    """One per query path: each customer's history, the analysis windows, recent contacts."""
    for name, fields in ((TRANSACTIONS, ("customer_id", "at", "sku")),
                         (INTERACTIONS, ("customer_id", "started_at"))):
        for field in fields:
            await db[name].create_index([(field, ASCENDING)])
