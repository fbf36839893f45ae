"""The deterministic demo dataset of the Shanghai real-estate group, and its idempotent loader."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pymongo.asynchronous.database import AsyncDatabase
from tqdm import tqdm

from engage.customers import history, ledger
from engage.demo import catalog as cat
from engage.demo.catalog import DAY, N_DAYS
from engage.demo.knowledge import load_demo_answers
from engage.staff.directory import StaffDirectory

Document = dict[str, Any]
IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

DEMO_VERSION = 1
DEMO_PASSWORD = "engage-demo-2026"
META_ID = "demo_data"
BATCH = 5_000
INTERACTIONS_PER_TRANSACTION = 0.3
DUPLICATE_RATE = 0.005
LEAD_RATE = 0.10  # customers known only as prospects: no purchase yet, the PTC targets
BULK_COLLECTIONS = ("customers", "transactions", "interactions", "products")

_PRICE = np.array([p.price for p in cat.PRODUCTS], dtype=np.float64)
_SPREAD = np.array([p.spread for p in cat.PRODUCTS], dtype=np.float64)
_LINE_OF = np.array([cat.BUSINESS_LINES.index(p.business_line) for p in cat.PRODUCTS])
_SKU = cat.SKU_INDEX


@dataclass(frozen=True)
class DemoSummary:
    customers: int
    transactions: int
    interactions: int
    products: int
    queues: int
    sites: int
    staff: int
    skipped: bool  # the dataset was already complete; only staff/sites/queues were re-asserted


@dataclass(frozen=True)
class DemoDataset:
    products: list[Document]
    customers: list[Document]
    transactions: list[Document]
    interactions: list[Document]
    duplicates: list[tuple[str, str]]  # (duplicate id, original id): the dedupe step's answer key


def demo_logins() -> list[tuple[str, str]]:
    return [(a.username, a.role.value) for a in cat.staff_accounts()]


@dataclass
class _Ledger:
    """Transactions under construction as parallel arrays, in days since WINDOW_START."""

    rng: np.random.Generator
    parts: list[tuple[IntArray, IntArray, FloatArray, IntArray, FloatArray]] = field(
        default_factory=list)

    def add(self, cust: IntArray, prod: IntArray | str, day: Any, qty: Any = 1,
            scale: Any = 1.0, every: float = 0.0, times: Any = 1) -> None:
        """One purchase per customer, or with ``every`` days a chain of ``times`` payments at
        the same amount (a lease or a yearly fee keeps its price)."""
        n = len(cust)
        prods = np.full(n, _SKU[prod]) if isinstance(prod, str) else prod
        qtys = np.broadcast_to(np.asarray(qty, dtype=np.int64), (n,))
        amount = np.round(_PRICE[prods] * qtys * scale
                          * np.exp(_SPREAD[prods] * self.rng.standard_normal(n)))
        count = np.broadcast_to(np.asarray(times, dtype=np.int64), (n,))
        idx = np.repeat(np.arange(n), count)
        step = np.arange(len(idx)) - np.repeat(np.cumsum(count) - count, count)
        days = np.asarray(np.broadcast_to(day, (n,)), dtype=np.float64)[idx] + step * every
        self.parts.append((cust[idx], prods[idx], days, qtys[idx], amount[idx]))

    def arrays(self) -> tuple[IntArray, IntArray, FloatArray, IntArray, FloatArray]:
        cust, prod, day, qty, amount = (np.concatenate(col) for col in zip(*self.parts,
                                                                           strict=True))
        keep = (day >= 0) & (day < N_DAYS)  # chains run past either end of the window
        return cust[keep], prod[keep], np.floor(day[keep]), qty[keep], amount[keep]


def _purchases(rng: np.random.Generator, age: IntArray, income: IntArray, hh: IntArray,
               district: IntArray, origin: IntArray, target: int) -> _Ledger:
    """Plant the journeys the analysis should find: buyers renovate, then green and use
    property services; small households rent; income drives villas and parking."""
    n, led = len(age), _Ledger(rng)
    years = int(np.ceil(N_DAYS / 365)) + 1
    lead = rng.random(n) < LEAD_RATE
    p_buy = (np.array([0.04, 0.10, 0.22, 0.36, 0.50])[income]
             * np.array([0.3, 1.0, 1.2, 1.0, 0.7, 0.4])[age])
    buyer = ~lead & (rng.random(n) < p_buy)
    p_rent = (np.array([0.75, 0.55, 0.3, 0.2, 0.15, 0.1])[age]
              * np.array([1.2, 1.0, 0.8, 0.6, 0.5, 0.45])[hh - 1]
              * np.array([1.1, 1.0, 0.9, 0.7, 0.6])[income])
    renter = ~lead & ~buyer & (rng.random(n) < p_rent)
    owner = ~lead & ~buyer & ~renter
    start = np.zeros(n)  # when each customer's relationship begins inside the window

    b = np.flatnonzero(buyer)
    t0 = rng.integers(0, N_DAYS, len(b)).astype(np.float64)
    start[b] = t0
    villa = rng.random(len(b)) < np.array([0.0, 0.01, 0.03, 0.12, 0.35])[income[b]]
    central = np.isin(district[b], [i for i, (d, _) in enumerate(cat.DISTRICTS)
                                    if d in ("Huangpu", "Jing'an", "Xuhui", "Changning")])
    home_scale = np.array([0.55, 0.7, 0.9, 1.3, 1.9])[income[b]] * np.where(central, 1.5, 1.0)
    led.add(b, np.where(villa, _SKU["BS-VIL"], _SKU["BS-APT"]), t0, scale=home_scale)
    m = rng.random(len(b)) < 0.3
    led.add(b[m], "BS-VAL", t0[m] - rng.integers(10, 60, m.sum()))
    m = (rng.random(len(b)) < 0.15) & (age[b] >= 2)
    led.add(b[m], "BS-RES", t0[m] - rng.integers(0, 90, m.sum()), scale=home_scale[m])
    m = rng.random(len(b)) < np.array([0.7, 0.7, 0.6, 0.5, 0.3])[income[b]]
    led.add(b[m], "BS-MTG", t0[m] + rng.integers(0, 14, m.sum()))
    m = rng.random(len(b)) < 0.4
    led.add(b[m], "BS-TTL", t0[m] + rng.integers(7, 30, m.sum()))

    # The headline rule: ~40% of apartment buyers renovate within a year of buying.
    deco = rng.random(len(b)) < np.where(villa, 0.65, 0.38)
    d, dv = b[deco], villa[deco]
    d_day = t0[deco] + np.minimum(14 + rng.gamma(2.0, 45.0, len(d)), 350)
    kind = np.array([_SKU[s] for s in ("DC-FUL", "DC-KB", "DC-SFT", "DC-SMT")])
    led.add(d, np.where(dv, _SKU["DC-FUL"], kind[cat.pick(rng, [45, 25, 20, 10], len(d))]), d_day,
            scale=np.where(dv, 2.5, 1.0))
    m = rng.random(len(d)) < 0.3
    led.add(d[m], np.where(rng.random(m.sum()) < 0.6, _SKU["DC-SFT"], _SKU["DC-SMT"]),
            d_day[m] + rng.integers(20, 75, m.sum()))
    g = rng.random(len(d)) < 0.35  # a renovated home gets plants more often than any other
    g_day = d_day[g] + rng.integers(20, 180, g.sum())
    outdoor = np.where(rng.random(g.sum()) < 0.5, _SKU["GR-CRT"], _SKU["GR-ROF"])
    indoor = np.where(rng.random(g.sum()) < 0.6, _SKU["GR-BAL"], _SKU["GR-IND"])
    led.add(d[g], np.where(dv[g], outdoor, indoor), g_day)
    m = rng.random(g.sum()) < 0.45
    led.add(d[g][m], "GR-CARE", g_day[m] + rng.integers(0, 30, m.sum()), every=365, times=years)

    pm_day = t0 + rng.integers(20, 90, len(b))
    for sku, p in (("PM-BAS", 0.65), ("PM-RPR", 0.2)):
        m = rng.random(len(b)) < p
        led.add(b[m], sku, pm_day[m], every=365, times=years)
    m = rng.random(len(b)) < np.where(villa, 0.6, 0.1)
    led.add(b[m], "PM-PRM", pm_day[m], every=365, times=years)
    m = rng.random(len(b)) < np.array([0.1, 0.2, 0.35, 0.5, 0.7])[income[b]]
    led.add(b[m], "PM-PRK", pm_day[m], every=365, times=years)

    # Tenants pay three months at a time, the Shanghai norm; bigger households rent bigger.
    r = np.flatnonzero(renter)
    lease_start = rng.integers(-180, N_DAYS, len(r)).astype(np.float64)
    start[r] = np.maximum(lease_start, 0)
    lease = np.full(len(r), _SKU["RN-LTL"])
    small = (hh[r] <= 2) & ((age[r] == 0) | (income[r] <= 1))
    lease[small & (rng.random(len(r)) < 0.6)] = _SKU["RN-SHR"]
    lease[(hh[r] <= 3) & (income[r] >= 3) & (rng.random(len(r)) < 0.4)] = _SKU["RN-SVC"]
    biz = (origin[r] == [c for c, _ in cat.ORIGIN_CHANNELS].index("partner"))
    biz &= rng.random(len(r)) < 0.5
    lease[biz] = np.where(rng.random(biz.sum()) < 0.5, _SKU["RN-OFF"], _SKU["RN-SHP"])
    months = np.array([6, 12, 12, 24, 36])[rng.integers(0, 5, len(r))]
    led.add(r, lease, lease_start, qty=3, scale=1 + 0.15 * (hh[r] - 2) * (lease == _SKU["RN-LTL"]),
            every=91, times=months // 3)
    m = rng.random(len(r)) < 0.5
    led.add(r[m], "RN-AGT", lease_start[m])

    o = np.flatnonzero(owner)
    o_day = rng.integers(0, 365, len(o)).astype(np.float64)
    m = rng.random(len(o)) < 0.45
    led.add(o[m], "PM-BAS", o_day[m], every=365, times=years)
    m = rng.random(len(o)) < np.array([0.05, 0.1, 0.15, 0.25, 0.35])[income[o]]
    led.add(o[m], "PM-PRK", o_day[m], every=365, times=years)
    for choice in (("DC-PNT", "DC-FLR", "DC-KB"), ("GR-IND", "GR-BAL")):
        rows = np.flatnonzero(rng.random(len(o)) < 0.06)
        led.add(o[rows], np.array([_SKU[s] for s in choice])[
            rng.integers(0, len(choice), len(rows))], rng.integers(0, N_DAYS, len(rows)))

    # Small repeat services fill up to the requested size, mostly for active households.
    planted = len(led.arrays()[0])
    fill = max(target - planted, 0)
    weight = np.where(lead, 0.0, 1.0 + 2.0 * renter + 3.0 * buyer + 1.5 * owner)
    cust = rng.choice(n, fill, p=weight / weight.sum())
    repeat = np.array([_SKU[s] for s in ("PM-CLN", "PM-FIX", "GR-IND", "BS-VAL", "DC-PNT")])
    prod = repeat[cat.pick(rng, [50, 30, 10, 6, 4], fill)]
    fill_day = start[cust] + rng.random(fill) * (N_DAYS - start[cust])
    led.add(cust, prod, fill_day, qty=np.where(prod == _SKU["PM-CLN"],
                                               rng.integers(1, 5, fill), 1))
    return led


def generate_dataset(seed: int = 20261122, customers: int = 20_000,
                     transactions: int = 100_000) -> DemoDataset:
    """Every demo document, a pure function of its arguments."""
    if customers < 10 or transactions < 0:
        raise ValueError("demo data needs at least 10 customers and no negative sizes")
    rng = np.random.default_rng(seed)
    n_dup = round(customers * DUPLICATE_RATE)
    n_p = customers - n_dup
    age = cat.pick(rng, cat.AGE_WEIGHTS, n_p)
    # Income peaks mid-career; the bands are annual household income in CNY.
    income_z = rng.standard_normal(n_p) + np.array([-0.9, -0.1, 0.35, 0.4, 0.1, -0.4])[age]
    income = np.searchsorted([-1.0, -0.1, 0.75, 1.6], income_z).astype(np.int64)
    hh = np.clip(1 + rng.poisson(np.array([0.6, 1.3, 2.3, 2.2, 1.6, 1.0])[age]), 1, 6)
    district = cat.pick(rng, [w for _, w in cat.DISTRICTS], n_p)
    origin = cat.pick(rng, [w for _, w in cat.ORIGIN_CHANNELS], customers)
    names, names_zh, locals_ = cat.person_names(rng, customers)
    phones, emails = cat.contact_details(rng, locals_)

    cust, prod, day, qty, amount = _purchases(rng, age, income, hh, district, origin[:n_p],
                                              transactions).arrays()
    keep = np.arange(min(len(cust), transactions))
    if len(cust) > transactions:  # only when asked for fewer purchases than the journeys make
        keep = np.sort(rng.choice(len(cust), transactions, replace=False))
    cust, prod, qty, day, amount = cust[keep], prod[keep], qty[keep], day[keep], amount[keep]
    at = cat.office_seconds(rng, day)

    first = np.full(customers, np.inf)
    np.minimum.at(first, cust, at)
    created = np.floor(np.where(np.isfinite(first), first - rng.exponential(45 * DAY, customers),
                                rng.uniform(-730 * DAY, N_DAYS * DAY, customers)))
    orig = cat.plant_duplicates(rng, names, names_zh, phones, emails, n_dup)
    dup = np.arange(n_p, customers)
    created[dup] = np.minimum(created[orig] + rng.integers(30, 540, n_dup) * DAY,
                              N_DAYS * DAY - 1)  # the second registration comes later
    owner_of = np.concatenate([np.arange(n_p), orig])  # attributes follow the person
    dup_of = np.full(n_p, -1)
    dup_of[orig] = dup
    # Some later purchases are made under the second account, as happens in real CRMs.
    moved = (dup_of[cust] >= 0) & (rng.random(len(cust)) < 0.3)
    moved &= at >= created[np.maximum(dup_of[cust], 0)]
    cust = np.where(moved, dup_of[cust], cust)

    spend = np.bincount(cust, weights=amount, minlength=customers)
    score = np.log1p(spend) + rng.normal(0, 0.5, customers)
    rank = np.empty(customers, dtype=np.int64)
    rank[np.argsort(-score, kind="stable")] = np.arange(customers)
    tier = np.searchsorted([0.05, 0.17, 0.40], rank / customers, side="right")
    tier = np.where((spend > 0) & (np.arange(customers) < n_p), 3 - tier, 0).clip(0, 3)

    order = np.argsort(created, kind="stable")  # customer numbers follow registration order
    cid = np.empty(customers, dtype=object)
    cid[order] = [f"C{i + 1:07d}" for i in range(customers)]
    created_at = cat.when(np.minimum(created, N_DAYS * DAY - 1))
    cust_docs = [
        {"_id": cid[i], "name": names[i], "name_zh": names_zh[i], "phone": phones[i],
         "email": emails[i], "age_band": cat.AGE_BANDS[age[p]],
         "income_band": cat.INCOME_BANDS[income[p]], "district": cat.DISTRICTS[district[p]][0],
         "household_size": int(hh[p]), "origin_channel": cat.ORIGIN_CHANNELS[origin[i]][0],
         "membership": cat.MEMBERSHIPS[tier[i]], "created_at": created_at[i]}
        for i, p in enumerate(owner_of.tolist())]
    cust_docs.sort(key=lambda doc: str(doc["_id"]))

    t_order = np.lexsort((cust, at))
    cust, prod, qty, at, amount = cust[t_order], prod[t_order], qty[t_order], at[t_order], \
        amount[t_order]
    t_when = cat.when(at)
    tx_docs = [{"_id": f"T{k + 1:08d}", "customer_id": cid[c], "sku": cat.PRODUCTS[p].sku,
                "business_line": cat.PRODUCTS[p].business_line, "amount": a, "quantity": q,
                "at": t_when[k]}
               for k, (c, p, q, a) in enumerate(zip(cust.tolist(), prod.tolist(), qty.tolist(),
                                                    amount.tolist(), strict=True))]
    leads = np.flatnonzero(~np.isfinite(first[:n_p]))
    return DemoDataset(
        products=[p.document() for p in cat.PRODUCTS], customers=cust_docs,
        transactions=tx_docs,
        interactions=_interactions(rng, cust, prod, at, leads, cid),
        duplicates=[(cid[d], cid[o]) for d, o in zip(dup.tolist(), orig.tolist(), strict=True)])


def _interactions(rng: np.random.Generator, cust: IntArray, prod: IntArray, at: IntArray,
                  leads: IntArray, cid: NDArray[np.object_]) -> list[Document]:
    """Contacts around purchases: mostly pre-sale questions, some after-sales service, and a
    tenth from prospects who have not bought yet."""
    n = round(len(cust) * INTERACTIONS_PER_TRANSACTION)
    if n == 0:
        return []
    n_lead = n // 10 if len(leads) else 0
    weight = np.array([3.0, 2.0, 2.0, 1.0, 0.6])[_LINE_OF[prod]]
    k = rng.choice(len(cust), n - n_lead, p=weight / weight.sum())
    near = np.where(rng.random(len(k)) < 0.8, -rng.integers(0, 22, len(k)),
                    rng.integers(1, 61, len(k)))
    day = np.concatenate([at[k] // DAY + near, rng.integers(0, N_DAYS, n_lead)])
    start = cat.office_seconds(rng, np.clip(day, 0, N_DAYS - 1))
    order = np.argsort(start, kind="stable")  # ids follow time, like a real contact log
    start = start[order]
    who = np.concatenate([cust[k], rng.choice(leads, n_lead)])[order]
    what = np.concatenate([prod[k], rng.integers(0, len(cat.PRODUCTS), n_lead)])[order]
    channel = cat.pick(rng, [w for _, w in cat.INTERACTION_CHANNELS], n)
    disp = cat.pick(rng, [w for _, w, _ in cat.DISPOSITIONS], n)
    email = channel == [c for c, _ in cat.INTERACTION_CHANNELS].index("email")
    abandoned = [d for d, *_ in cat.DISPOSITIONS].index("abandoned")
    disp[email & (disp == abandoned)] = 0  # an e-mail is never abandoned in a queue
    gone = disp == abandoned
    wait = np.round(rng.exponential(np.where(email, 3 * 3600, np.where(gone, 75, 25))))
    talk = np.where(gone, 0, np.round(np.array([540, 420, 900, 360, 600])[channel]
                                      * rng.lognormal(0, 0.5, n)))
    end = np.minimum(start + wait + talk, N_DAYS * DAY - 1)
    line = _LINE_OF[what]
    pools = [[a.username for a in cat.agent_accounts() if q in a.queues]
             for q in cat.BUSINESS_LINES]
    slot = rng.integers(0, 1_000_000, n)
    surveyed = ~gone & (rng.random(n) < 0.35)
    # Resolved contacts score higher: the KPI pages should show that link.
    csat = np.where(disp == 0, cat.pick(rng, [2, 4, 10, 34, 50], n),
                    cat.pick(rng, [6, 10, 24, 35, 25], n)) + 1
    starts, ends = cat.when(start), cat.when(end)
    return [{"_id": f"I{i + 1:08d}", "customer_id": cid[c], "channel": cat.INTERACTION_CHANNELS[
                ch][0], "queue": cat.BUSINESS_LINES[ln],
             "agent": None if g else pools[ln][pk % len(pools[ln])],
             "started_at": starts[i], "ended_at": ends[i], "wait_seconds": int(w),
             "disposition": cat.DISPOSITIONS[d][0], "csat": cs if sv else None,
             "summary": f"{cat.PRODUCTS[p].name}: {cat.DISPOSITIONS[d][2]}"}
            for i, (c, p, ch, ln, g, pk, w, d, cs, sv) in enumerate(zip(
                who.tolist(), what.tolist(), channel.tolist(), line.tolist(), gone.tolist(),
                slot.tolist(), wait.tolist(), disp.tolist(), csat.tolist(), surveyed.tolist(),
                strict=True))]


async def _assert_reference_data(db: AsyncDatabase[Document], staff: StaffDirectory,
                                 seed: int) -> tuple[int, int, int]:
    """Staff, sites, queues and products: cheap upserts, redone on every run so a demo can
    always be signed into and points at the demo websites."""
    accounts = cat.staff_accounts()
    for a in accounts:  # ~24 argon2 hashes: the bulk of a skipped run's time
        await staff.add(a.username, DEMO_PASSWORD, a.role, display_name=a.display_name,
                        skills=a.skills, queues=a.queues, replace=True)
    sites = cat.site_documents(seed)
    for site in sites:  # keyed like SiteRegistry.save, which owns this collection
        await db.sites.replace_one({"site_key": site["site_key"]}, site, upsert=True)
    queues = cat.queue_documents()
    for col, docs in (("queues", queues), ("products", [p.document() for p in cat.PRODUCTS])):
        for doc in docs:
            await db[col].replace_one({"_id": doc["_id"]}, doc, upsert=True)
    await load_demo_answers(db)
    return len(accounts), len(sites), len(queues)


async def _ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """The owners' indexes of what was just loaded."""
    await ledger.ensure_indexes(db)
    await history.ensure_indexes(db)


async def load_demo_data(db: AsyncDatabase[Document], staff: StaffDirectory, *,
                         customers: int = 20_000, transactions: int = 100_000,
                         seed: int = 20261122, progress: bool = True) -> DemoSummary:
    """Load the demo dataset once; a rerun with the same version, seed and sizes only
    re-asserts staff, sites, queues and products."""
    n_staff, n_sites, n_queues = await _assert_reference_data(db, staff, seed)
    meta = await db.meta.find_one({"_id": META_ID}) or {}
    counts: dict[str, int] = meta.get("counts") or {}
    if (meta.get("complete") and meta.get("version") == DEMO_VERSION and meta.get("seed") == seed
            and counts.get("customers") == customers
            and counts.get("transactions") == transactions
            # cheap (collection metadata), and catches a collection emptied by hand
            and all([await db[c].estimated_document_count() == counts.get(c)
                     for c in BULK_COLLECTIONS])):
        await _ensure_indexes(db)
        return DemoSummary(**counts, queues=n_queues, sites=n_sites, staff=n_staff, skipped=True)

    data = await asyncio.to_thread(generate_dataset, seed, customers, transactions)
    # The marker goes first and comes back last, so an interrupted load is never "complete".
    await db.meta.delete_one({"_id": META_ID})
    for name in BULK_COLLECTIONS:
        await db[name].delete_many({})
    bulk: dict[str, list[Document]] = {name: getattr(data, name) for name in BULK_COLLECTIONS}
    with tqdm(total=sum(map(len, bulk.values())), desc="demo data", unit="doc",
              file=sys.stderr, disable=not progress) as bar:
        for name, docs in bulk.items():
            bar.set_postfix_str(name)
            for i in range(0, len(docs), BATCH):
                await db[name].insert_many(docs[i:i + BATCH], ordered=False)
                bar.update(len(docs[i:i + BATCH]))
    await _ensure_indexes(db)  # after the bulk insert: building once beats updating per row
    counts = {name: len(docs) for name, docs in bulk.items()}
    await db.meta.replace_one({"_id": META_ID}, {
        "_id": META_ID, "version": DEMO_VERSION, "seed": seed, "counts": counts,
        "complete": True}, upsert=True)
    return DemoSummary(**counts, queues=n_queues, sites=n_sites, staff=n_staff, skipped=False)
