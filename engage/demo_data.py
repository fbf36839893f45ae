"""The deterministic demo dataset of the Shanghai real-estate group, and its idempotent loader."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from tqdm import tqdm

from engage import demo_catalog as cat
from engage.staff import StaffDirectory

Document = dict[str, Any]
IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

DEMO_VERSION = 1
DEMO_PASSWORD = "engage-demo-2026"
META_ID = "demo_data"
WINDOW_START = datetime(2023, 11, 1, tzinfo=UTC)
WINDOW_END = datetime(2026, 11, 1, tzinfo=UTC)  # exclusive: the last day is 2026-10-31
N_DAYS = (WINDOW_END - WINDOW_START).days
DAY = 86_400
BATCH = 5_000
INTERACTIONS_PER_TRANSACTION = 0.3
DUPLICATE_RATE = 0.005
INVALID_CONTACT_RATE = 0.01
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


def _pick(rng: np.random.Generator, weights: Any, size: int) -> IntArray:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=size, p=p / p.sum()).astype(np.int64)


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
    led.add(d, np.where(dv, _SKU["DC-FUL"], kind[_pick(rng, [45, 25, 20, 10], len(d))]), d_day,
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
    for skus, p in ((("DC-PNT", "DC-FLR", "DC-KB"), 0.06), (("GR-IND", "GR-BAL"), 0.06)):
        m = np.flatnonzero(rng.random(len(o)) < p)
        led.add(o[m], np.array([_SKU[s] for s in skus])[rng.integers(0, len(skus), len(m))],
                rng.integers(0, N_DAYS, len(m)))

    # Small repeat services fill up to the requested size, mostly for active households.
    planted = sum(len(part[0]) for part in led.parts)
    fill = max(target - planted, 0)
    weight = np.where(lead, 0.0, 1.0 + 2.0 * renter + 3.0 * buyer + 1.5 * owner)
    cust = rng.choice(n, fill, p=weight / weight.sum())
    skus = np.array([_SKU[s] for s in ("PM-CLN", "PM-FIX", "GR-IND", "BS-VAL", "DC-PNT")])
    prod = skus[_pick(rng, [50, 30, 10, 6, 4], fill)]
    fill_day = start[cust] + rng.random(fill) * (N_DAYS - start[cust])
    led.add(cust, prod, fill_day, qty=np.where(prod == _SKU["PM-CLN"],
                                               rng.integers(1, 5, fill), 1))
    return led
