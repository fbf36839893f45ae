"""Customer profile summaries for offers and the console: who is this, what did they buy."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]


class ProfileDirectory:
    """Reads customers and their transactions (indexed by customer id) from MongoDB."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._customers = db.customers
        self._transactions = db.transactions

    async def summary(self, customer_id: str) -> Document | None:
        """A short profile an agent can take in at a glance; None for unknown customers."""
        if not customer_id:
            return None
        customer = await self._customers.find_one(
            {"_id": customer_id},
            {"name": 1, "name_zh": 1, "membership": 1, "district": 1, "age_band": 1,
             "income_band": 1, "household_size": 1, "origin_channel": 1})
        if customer is None:
            return None
        lines: dict[str, int] = {}
        spent = 0.0
        last = None
        cursor = self._transactions.find({"customer_id": customer_id},
                                         {"business_line": 1, "amount": 1, "at": 1})
        async for tx in cursor:
            line = str(tx.get("business_line", ""))
            lines[line] = lines.get(line, 0) + 1
            spent += float(tx.get("amount") or 0)
            at = tx.get("at")
            if at is not None and (last is None or at > last):
                last = at
        return {"customer": customer_id, "name": customer.get("name", ""),
                "name_zh": customer.get("name_zh", ""),
                "membership": customer.get("membership", "none"),
                "district": customer.get("district", ""),
                "age_band": customer.get("age_band", ""),
                "income_band": customer.get("income_band", ""),
                "household_size": customer.get("household_size"),
                "transactions_by_line": lines, "lifetime_value": round(spent, 2),
                "last_purchase": last.isoformat() if last is not None else None}
