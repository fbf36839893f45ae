"""The demo dataset generator: deterministic, well-formed, and carrying the planted patterns."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engage.demo import catalog as cat
from engage.demo.catalog import WINDOW_END, WINDOW_START
from engage.demo.data import DEMO_PASSWORD, DemoDataset, demo_logins, generate_dataset
from engage.models import Role
from engage.sites.registry import SITE_KEY_RE, check_origin
from engage.staff.directory import check_password, check_username

E164_MOBILE = re.compile(r"^\+861[3-9]\d{9}$")
EMAIL = re.compile(r"^[a-z0-9._]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")
DECORATION_BUNDLE = {"DC-FUL", "DC-KB", "DC-SFT", "DC-SMT"}


@pytest.fixture(scope="module")
def data() -> DemoDataset:
    return generate_dataset(seed=7, customers=4_000, transactions=20_000)


def by_customer(data: DemoDataset) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for tx in data.transactions:
        grouped[tx["customer_id"]].append(tx)
    return grouped


def test_same_seed_same_documents(data: DemoDataset) -> None:
    assert generate_dataset(seed=7, customers=4_000, transactions=20_000) == data


def test_other_seed_other_documents(data: DemoDataset) -> None:
    other = generate_dataset(seed=8, customers=4_000, transactions=20_000)
    assert other.customers != data.customers
    assert other.transactions != data.transactions
    assert other.products == data.products  # the catalog does not depend on the seed


def test_counts_and_ids(data: DemoDataset) -> None:
    assert len(data.customers) == 4_000
    assert len(data.transactions) == 20_000
    assert len(data.interactions) == 6_000
    assert len(data.products) == len(cat.PRODUCTS)
    assert [c["_id"] for c in data.customers] == [f"C{i:07d}" for i in range(1, 4_001)]
    assert [t["_id"] for t in data.transactions] == [f"T{i:08d}" for i in range(1, 20_001)]
    assert [i["_id"] for i in data.interactions] == [f"I{i:08d}" for i in range(1, 6_001)]
    ids = {c["_id"] for c in data.customers}
    assert {t["customer_id"] for t in data.transactions} <= ids
    assert {i["customer_id"] for i in data.interactions} <= ids


def test_fewer_transactions_than_the_journeys_make_is_exact() -> None:
    small = generate_dataset(seed=1, customers=2_000, transactions=500)
    assert len(small.transactions) == 500
    assert len(small.interactions) == 150


def test_too_few_customers_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 10 customers"):
        generate_dataset(customers=5, transactions=10)


def test_customer_value_domains(data: DemoDataset) -> None:
    for c in data.customers:
        assert c["age_band"] in cat.AGE_BANDS
        assert c["income_band"] in cat.INCOME_BANDS
        assert c["district"] in {d for d, _ in cat.DISTRICTS}
        assert 1 <= c["household_size"] <= 6
        assert c["origin_channel"] in {o for o, _ in cat.ORIGIN_CHANNELS}
        assert c["membership"] in cat.MEMBERSHIPS
        assert c["name"] and c["name_zh"]
        assert c["created_at"].tzinfo is UTC and c["created_at"] < WINDOW_END
    assert len({c["district"] for c in data.customers}) == 16
    membership = Counter(c["membership"] for c in data.customers)
    assert membership["none"] > membership["silver"] > membership["gold"] > membership["platinum"]


def test_transaction_value_domains(data: DemoDataset) -> None:
    products = {p["_id"]: p for p in data.products}
    previous = WINDOW_START
    for t in data.transactions:
        product = products[t["sku"]]
        assert t["business_line"] == product["business_line"]
        assert t["quantity"] >= 1 and t["amount"] > 0
        assert isinstance(t["amount"], float) and isinstance(t["quantity"], int)
        assert WINDOW_START <= t["at"] < WINDOW_END and t["at"].tzinfo is UTC
        assert t["at"] >= previous  # ids follow time
        previous = t["at"]
        # Inside Shanghai business hours (UTC+8).
        assert 9 <= (t["at"] + timedelta(hours=8)).hour < 21
    lines = Counter(t["business_line"] for t in data.transactions)
    assert set(lines) == set(cat.BUSINESS_LINES)
    assert {t["at"].year for t in data.transactions} == {2023, 2024, 2025, 2026}


def test_prices_are_realistic(data: DemoDataset) -> None:
    median: dict[str, float] = {}
    for sku in ("BS-APT", "DC-FUL", "PM-CLN"):
        amounts = sorted(t["amount"] for t in data.transactions if t["sku"] == sku)
        median[sku] = amounts[len(amounts) // 2]
    assert 3_000_000 < median["BS-APT"] < 12_000_000
    assert 150_000 < median["DC-FUL"] < 900_000
    assert 200 < median["PM-CLN"] < 2_000


def test_interaction_value_domains(data: DemoDataset) -> None:
    agents = {a.username: a for a in cat.agent_accounts()}
    for i in data.interactions:
        assert i["channel"] in {c for c, _ in cat.INTERACTION_CHANNELS}
        assert i["queue"] in cat.BUSINESS_LINES
        assert WINDOW_START <= i["started_at"] <= i["ended_at"] < WINDOW_END
        if i["disposition"] == "abandoned":
            assert i["agent"] is None and i["csat"] is None
        else:
            assert i["queue"] in agents[i["agent"]].queues
        assert i["csat"] is None or 1 <= i["csat"] <= 5
        assert i["summary"]
    surveyed = [i for i in data.interactions if i["csat"] is not None]
    assert 0.2 < len(surveyed) / len(data.interactions) < 0.5


def test_apartment_buyers_renovate_within_a_year(data: DemoDataset) -> None:
    """The headline PTP rule: decoration within 12 months of an apartment purchase is far
    more likely than decoration within 12 months of any other customer's first purchase."""
    last_anchor = WINDOW_END - timedelta(days=365)  # only anchors whose full year is observed
    hits: dict[bool, list[bool]] = {True: [], False: []}
    for txs in by_customer(data).values():
        bought = [t["at"] for t in txs if t["sku"] == "BS-APT"]
        anchor = min(bought or [t["at"] for t in txs])
        if anchor < last_anchor:
            hits[bool(bought)].append(any(
                anchor <= t["at"] <= anchor + timedelta(days=365)
                for t in txs if t["business_line"] == "decoration"))
    rate = sum(hits[True]) / len(hits[True])
    base = sum(hits[False]) / len(hits[False])
    assert len(hits[True]) > 100
    assert 0.3 < rate < 0.6
    assert rate > 4 * base


def test_renovation_leads_to_greening(data: DemoDataset) -> None:
    grouped = by_customer(data)
    renovators = [txs for txs in grouped.values()
                  if any(t["sku"] in DECORATION_BUNDLE for t in txs)]
    rest = [txs for txs in grouped.values() if not any(t["sku"] in DECORATION_BUNDLE
                                                      for t in txs)]

    def greening_share(groups: list[list[dict[str, Any]]]) -> float:
        return sum(any(t["sku"] in {"GR-BAL", "GR-ROF", "GR-CRT"} for t in txs)
                   for txs in groups) / len(groups)

    assert greening_share(renovators) > 3 * greening_share(rest)


def test_income_drives_villas_and_small_households_rent(data: DemoDataset) -> None:
    customers = {c["_id"]: c for c in data.customers}
    grouped = by_customer(data)
    villa_income = Counter(customers[cid]["income_band"] for cid, txs in grouped.items()
                           if any(t["sku"] == "BS-VIL" for t in txs))
    assert villa_income["800k+"] + villa_income["400k-800k"] > 0.8 * sum(villa_income.values())

    def rents(size: set[int]) -> float:
        group = [c for c in data.customers if c["household_size"] in size]
        return sum(any(t["business_line"] == "rent" for t in grouped.get(c["_id"], []))
                   for c in group) / len(group)

    assert rents({1, 2}) > 1.5 * rents({5, 6})


def test_invalid_contacts_are_planted_at_a_small_rate(data: DemoDataset) -> None:
    n = len(data.customers)
    bad_phones = [c["phone"] for c in data.customers if not E164_MOBILE.fullmatch(c["phone"])]
    bad_emails = [c["email"] for c in data.customers if not EMAIL.fullmatch(c["email"])]
    assert 0.004 * n < len(bad_phones) < 0.02 * n
    assert 0.004 * n < len(bad_emails) < 0.02 * n
    assert "" in bad_phones and "" in bad_emails


def test_duplicates_share_a_contact_and_nothing_else_collides(data: DemoDataset) -> None:
    customers = {c["_id"]: c for c in data.customers}
    assert len(data.duplicates) == 20  # 0.5% of 4,000
    pairs = set()
    for dup_id, orig_id in data.duplicates:
        dup, orig = customers[dup_id], customers[orig_id]
        assert dup["created_at"] > orig["created_at"]
        assert dup["phone"] == orig["phone"] or dup["email"] == orig["email"]
        assert dup["name"] != orig["name"] and dup["name_zh"] == orig["name_zh"]
        assert (dup["district"], dup["age_band"]) == (orig["district"], orig["age_band"])
        pairs.add(frozenset((dup_id, orig_id)))
    for field in ("phone", "email"):
        owners: dict[str, list[str]] = defaultdict(list)
        for c in data.customers:
            if E164_MOBILE.fullmatch(c["phone"]) if field == "phone" else EMAIL.fullmatch(
                    c["email"]):
                owners[c[field]].append(c["_id"])
        shared = [frozenset(ids) for ids in owners.values() if len(ids) > 1]
        assert shared and all(ids in pairs for ids in shared)


def test_demo_accounts() -> None:
    logins = demo_logins()
    assert check_password(DEMO_PASSWORD) == DEMO_PASSWORD
    assert all(check_username(name) == name for name, _ in logins)
    roles = Counter(role for _, role in logins)
    assert roles == {Role.AGENT.value: 20, Role.SUPERVISOR.value: 2, Role.MARKETER.value: 1,
                     Role.ADMIN.value: 1}
    agents = cat.agent_accounts()
    assert [a.username for a in agents] == [f"agent{i:02d}" for i in range(1, 21)]
    for agent in agents:
        lines = [k for k in agent.skills if k in cat.BUSINESS_LINES]
        assert 1 <= len(lines) <= 3 and sorted(lines) == sorted(agent.queues)
        assert all(1 <= level <= 5 for level in agent.skills.values())
        assert agent.skills["zh"] == 5
    for line in cat.BUSINESS_LINES:
        assert sum(line in a.queues for a in agents) >= 3


def test_sites_and_queues() -> None:
    sites = cat.site_documents(1)
    assert [s["site_key"] for s in sites] == ["site_homes_demo", "site_living_demo"]
    for site in sites:
        assert SITE_KEY_RE.fullmatch(site["site_key"])
        assert all(check_origin(o) == o for o in site["allowed_origins"])
        assert len(site["identity_secret"]) == 64
    assert cat.site_documents(1) == sites
    assert cat.site_documents(2)[0]["identity_secret"] != sites[0]["identity_secret"]
    queues = cat.queue_documents()
    assert [q["_id"] for q in queues] == list(cat.BUSINESS_LINES)
    for q in queues:
        assert q["required_skills"] == {q["_id"]: 1}
        assert q["business_hours"]["tz"] == "Asia/Shanghai"
        assert q["business_hours"]["days"] == list(range(7))
        datetime.strptime(q["business_hours"]["open"], "%H:%M")
