"""Loading the demo dataset into a real nx-27017: counts, sign-in, idempotence, rebuilds."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from engage.demo import catalog as cat
from engage.demo.data import DEMO_PASSWORD, DemoSummary, demo_logins, load_demo_data
from engage.errors import BadCredentials
from engage.models import Role
from engage.staff.directory import StaffDirectory

# Loads tens of thousands of documents into nx-27017: up to ~130 s on a loaded 2-core box.
pytestmark = pytest.mark.timeout(600)

Document = dict[str, Any]


async def load_small(db: AsyncDatabase[Document], staff: StaffDirectory, customers: int = 2_000,
                     transactions: int = 10_000) -> DemoSummary:
    return await load_demo_data(db, staff, customers=customers, transactions=transactions,
                                seed=11, progress=False)


async def counts(db: AsyncDatabase[Document]) -> dict[str, int]:
    return {name: await db[name].count_documents({})
            for name in ("customers", "transactions", "interactions", "products", "queues",
                         "sites", "staff")}


async def test_small_load_counts_and_sign_in(db: AsyncDatabase[Document],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    staff = StaffDirectory(db)
    summary = await load_demo_data(db, staff, customers=2_000, transactions=10_000, seed=11)
    assert "demo data" in capsys.readouterr().err  # the progress bar, on stderr
    assert summary == DemoSummary(customers=2_000, transactions=10_000, interactions=3_000,
                                  products=len(cat.PRODUCTS), queues=5, sites=2, staff=24,
                                  skipped=False)
    assert await counts(db) == {"customers": 2_000, "transactions": 10_000,
                                "interactions": 3_000, "products": len(cat.PRODUCTS),
                                "queues": 5, "sites": 2, "staff": 24}
    for username, role in demo_logins():
        if username in ("agent01", "supervisor1", "marketer1", "admin"):
            user = await staff.authenticate(username, DEMO_PASSWORD)
            assert user.role is Role(role)
    agent = await staff.get("agent01")
    assert agent is not None and agent.queues and agent.skills["zh"] == 5
    meta = await db.meta.find_one({"_id": "demo_data"})
    assert meta is not None and meta["complete"] is True and meta["seed"] == 11


async def test_documents_round_trip_and_are_indexed(db: AsyncDatabase[Document]) -> None:
    await load_small(db, StaffDirectory(db))
    customer = await db.customers.find_one({"_id": "C0000001"})
    assert customer is not None and customer["created_at"].utcoffset().total_seconds() == 0
    tx = await db.transactions.find_one({"customer_id": {"$exists": True}})
    assert tx is not None and await db.customers.find_one({"_id": tx["customer_id"]})
    queue = await db.queues.find_one({"_id": "buy_sell"})
    assert queue is not None and queue["required_skills"] == {"buy_sell": 1}
    site = await db.sites.find_one({"site_key": "site_homes_demo"})
    assert site is not None and "http://localhost:8080" in site["allowed_origins"]
    product = await db.products.find_one({"_id": "BS-APT"})
    assert product is not None and product["price"] > 1_000_000
    for name, keys in (("customers", ("phone", "email", "name", "district")),
                       ("transactions", ("customer_id", "at", "sku")),
                       ("interactions", ("customer_id", "started_at"))):
        indexed = {key for info in (await db[name].index_information()).values()
                   for key, _ in info["key"]}
        assert set(keys) <= indexed, name


async def test_second_run_is_skipped_and_reasserts_reference_data(
        db: AsyncDatabase[Document]) -> None:
    staff = StaffDirectory(db)
    first = await load_small(db, staff)
    before = await counts(db)
    sample = await db.transactions.find_one({"_id": "T00005000"})
    await staff.set_disabled("agent02", True)
    await db.queues.delete_one({"_id": "rent"})

    second = await load_small(db, staff)
    assert second.skipped and not first.skipped
    assert (second.customers, second.transactions) == (first.customers, first.transactions)
    assert await counts(db) == before
    assert await db.transactions.find_one({"_id": "T00005000"}) == sample
    assert (await staff.authenticate("agent02", DEMO_PASSWORD)).username == "agent02"
    assert await db.queues.find_one({"_id": "rent"}) is not None


async def test_demo_data_never_resets_an_existing_accounts_password(
        db: AsyncDatabase[Document]) -> None:
    staff = StaffDirectory(db)
    await staff.add("admin", "the operator's own secret", Role.ADMIN)
    await load_small(db, staff)
    assert (await staff.authenticate("admin", "the operator's own secret")).role is Role.ADMIN
    with pytest.raises(BadCredentials):
        await staff.authenticate("admin", DEMO_PASSWORD)
    # Accounts that did not exist get the demo password.
    assert (await staff.authenticate("agent01", DEMO_PASSWORD)).username == "agent01"


async def test_changed_size_or_lost_data_rebuilds(db: AsyncDatabase[Document]) -> None:
    staff = StaffDirectory(db)
    await load_small(db, staff)
    bigger = await load_small(db, staff, customers=2_500, transactions=12_000)
    assert not bigger.skipped
    assert (await counts(db))["customers"] == 2_500
    assert (await counts(db))["transactions"] == 12_000

    await db.interactions.delete_many({})  # e.g. someone emptied a collection by hand
    again = await load_small(db, staff, customers=2_500, transactions=12_000)
    assert not again.skipped
    assert (await counts(db))["interactions"] == again.interactions == 3_600


async def test_full_size_load(db: AsyncDatabase[Document]) -> None:
    started = time.perf_counter()
    summary = await load_demo_data(db, StaffDirectory(db), progress=False)
    elapsed = time.perf_counter() - started
    assert summary.customers >= 20_000 and summary.transactions >= 100_000
    assert await db.customers.estimated_document_count() == summary.customers
    assert await db.transactions.estimated_document_count() == summary.transactions
    assert elapsed < 90, f"full demo load took {elapsed:.1f}s"
