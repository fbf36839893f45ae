"""Pairwise association rules (analytics.affinity) against mlxtend fpgrowth + association_rules.

In one run: a generated 200,000-basket x 2,000-product dataset with planted associations is
mined by both (the rule sets must be identical: same pairs, every metric equal to 1e-9), the
incremental accumulator takes the same baskets in batches, and a child process runs the whole
analysis (analytics.pipeline.analyse) on 1,000,000 generated customers and reports its wall
time and peak memory. mlxtend is pip-installed into this interpreter's environment if missing.

Environment: BENCH_BASKETS, BENCH_PRODUCTS, BENCH_FULL_CUSTOMERS override the sizes.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics.affinity import AffinityCounts, AffinityRules, pair_rules  # noqa: E402

BASKETS = int(os.environ.get("BENCH_BASKETS", "200000"))
PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "2000"))
FULL_CUSTOMERS = int(os.environ.get("BENCH_FULL_CUSTOMERS", "1000000"))
MIN_SUPPORT = 0.0002  # 40 baskets: thousands of ordinary pairs pass, not just planted ones
MIN_CONFIDENCE = 0.01
PLANTED = 60  # a -> b with b in 60% of a's baskets
CERTAIN = 5  # a -> b with b in all of a's baskets: confidence 1, conviction inf
BATCH = 1000
METRICS = ("antecedent_support", "consequent_support", "support", "confidence", "lift",
           "leverage", "conviction")
MLXTEND_COLUMNS = {"antecedent_support": "antecedent support",
                   "consequent_support": "consequent support"}


def baskets(seed: int = 42) -> tuple[Any, list[tuple[int, int]]]:
    """Zipf-like product popularity, 1 + Poisson(3) items per basket, PLANTED pairs a -> b
    where 60% of the baskets holding a also hold b, and CERTAIN pairs where all do."""
    rng = np.random.default_rng(seed)
    size = 1 + rng.poisson(3.0, BASKETS)
    popularity = 1.0 / (np.arange(PRODUCTS) + 20.0) ** 1.1
    rows = np.repeat(np.arange(BASKETS), size)
    cols = rng.choice(PRODUCTS, size=len(rows), p=popularity / popularity.sum())
    ante = rng.choice(np.arange(50, 400), PLANTED + CERTAIN, replace=False)
    cons = rng.choice(np.arange(400, PRODUCTS), PLANTED + CERTAIN, replace=False)
    share = np.r_[np.full(PLANTED, 0.6), np.ones(CERTAIN)]
    by_item = sparse.csc_array((np.ones(len(rows)), (rows, cols)), shape=(BASKETS, PRODUCTS))
    extra_rows, extra_cols = [rows], [cols]
    for a, b, p in zip(ante.tolist(), cons.tolist(), share.tolist(), strict=True):
        holders = by_item.indices[by_item.indptr[a]:by_item.indptr[a + 1]]
        take = holders[rng.random(len(holders)) < p]
        extra_rows.append(take)
        extra_cols.append(np.full(len(take), b))
    r, c = np.concatenate(extra_rows), np.concatenate(extra_cols)
    matrix = sparse.csr_array((np.ones(len(r), dtype=np.int32), (r, c)),
                              shape=(BASKETS, PRODUCTS))
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix, list(zip(ante.tolist(), cons.tolist(), strict=True))


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    samples, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), out


def ensure_mlxtend() -> None:
    try:
        import mlxtend  # noqa: F401
    except ImportError:
        print("mlxtend missing: pip install mlxtend (reference only)", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "mlxtend"],
                       check=True)


def mlxtend_rules(matrix: Any) -> tuple[float, float, Any]:
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    started = time.perf_counter()
    frame = pd.DataFrame.sparse.from_spmatrix(matrix.astype(bool))
    build = time.perf_counter() - started

    def run() -> Any:
        frequent = fpgrowth(frame, min_support=MIN_SUPPORT, max_len=2)
        return association_rules(frequent, num_itemsets=len(frame), metric="confidence",
                                 min_threshold=MIN_CONFIDENCE)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seconds, rules = timed(run, 3)
    return seconds, build, rules


def identical(ours: AffinityRules, theirs: Any) -> tuple[bool, str]:
    """Same (antecedent, consequent) pairs and every metric equal to 1e-9 (inf == inf)."""
    a = np.array([next(iter(s)) for s in theirs["antecedents"]], dtype=np.int64)
    b = np.array([next(iter(s)) for s in theirs["consequents"]], dtype=np.int64)
    order = np.lexsort((b, a))
    if len(a) != len(ours) or not (np.array_equal(a[order], ours.antecedent)
                                   and np.array_equal(b[order], ours.consequent)):
        return False, f"pairs differ: {len(ours)} ours vs {len(a)} mlxtend"
    for metric in METRICS:
        mine = np.asarray(getattr(ours, metric), dtype=np.float64)
        ref = theirs[MLXTEND_COLUMNS.get(metric, metric)].to_numpy(dtype=np.float64)[order]
        same_inf = np.isinf(mine) == np.isinf(ref)
        finite = ~np.isinf(mine)
        if not (same_inf.all() and np.allclose(mine[finite], ref[finite], rtol=1e-9,
                                               atol=1e-12)):
            return False, f"{metric} differs"
    return True, f"{len(ours)} rules, all metrics within 1e-9"


def incremental(matrix: Any, reference: AffinityRules) -> tuple[float, bool]:
    counts = AffinityCounts([str(i) for i in range(PRODUCTS)])
    started = time.perf_counter()
    for start in range(0, matrix.shape[0], BATCH):
        counts.add(matrix[start:start + BATCH])
    per_second = -(-matrix.shape[0] // BATCH) / (time.perf_counter() - started)
    rules = counts.rules(min_support=MIN_SUPPORT, min_confidence=MIN_CONFIDENCE)
    same = (np.array_equal(rules.antecedent, reference.antecedent)
            and np.array_equal(rules.consequent, reference.consequent)
            and np.array_equal(rules.lift, reference.lift))
    return per_second, same


def synthetic_inputs(n: int, seed: int) -> Any:
    """Customers shaped like the demo's (six coded attributes, phone, e-mail, name, about 1%
    spoiled contacts and 0.5% second registrations) with ~4.5 purchases each over three
    years of the demo catalogue, and the planted 'apartment, then renovation within a
    year' journey."""
    from analytics.features import Categorical
    from analytics.pipeline import AnalysisInputs
    from engage.demo import catalog as cat

    rng = np.random.default_rng(seed)
    day, years = 86_400, 3
    start = int(cat.WINDOW_START.timestamp())
    skus = [p.sku for p in cat.PRODUCTS]
    prices = np.array([p.price for p in cat.PRODUCTS], dtype=np.float64)
    levels = {"age_band": cat.AGE_BANDS, "income_band": cat.INCOME_BANDS,
              "district": tuple(d for d, _ in cat.DISTRICTS),
              "household_size": tuple(str(h) for h in range(1, 7)),
              "origin_channel": tuple(c for c, _ in cat.ORIGIN_CHANNELS),
              "membership": cat.MEMBERSHIPS}
    codes = {name: rng.integers(0, len(values), n) for name, values in levels.items()}
    attributes = tuple(Categorical(name, tuple(levels[name]), codes[name]) for name in levels)
    count = rng.poisson(4.5, n)
    customer = np.repeat(np.arange(n), count)
    weight = np.array([1 if p.price > 1e6 else 3 if p.price > 20_000 else 12
                       for p in cat.PRODUCTS], dtype=np.float64)
    product = rng.choice(len(skus), len(customer), p=weight / weight.sum())
    time = start + rng.integers(0, years * 365 * day, len(customer))
    buyers = np.flatnonzero(rng.random(n) < 0.12)
    bought_at = start + rng.integers(0, years * 365 * day, len(buyers))
    renovators = rng.random(len(buyers)) < 0.4
    later = bought_at[renovators] + (14 + np.minimum(rng.gamma(2.0, 45.0, renovators.sum()),
                                                     350)).astype(np.int64) * day
    customer = np.concatenate([customer, buyers, buyers[renovators]])
    product = np.concatenate([product, np.full(len(buyers), skus.index("BS-APT")),
                              np.full(renovators.sum(), skus.index("DC-FUL"))])
    time = np.concatenate([time, bought_at, later])
    keep = time < start + years * 365 * day
    customer, product, time = customer[keep], product[keep], time[keep]
    amount = np.round(prices[product] * rng.lognormal(0.0, 0.3, len(product)), 2)
    phones = [f"+861{p:010d}" for p in rng.choice(3 * 10**9, n, replace=False) + 3 * 10**9]
    emails = [f"customer{i}@example.com" for i in range(n)]
    names = [f"Name {i % 250_000}" for i in range(n)]
    for row in np.flatnonzero(rng.random(n) < 0.01).tolist():
        phones[row] = phones[row][:-4]
    for row in np.flatnonzero(rng.random(n) < 0.01).tolist():
        emails[row] = emails[row].replace("@", "")
    twins = rng.choice(n, n // 200, replace=False)
    for second, first in zip(twins[: len(twins) // 2].tolist(),
                             twins[len(twins) // 2:].tolist(), strict=True):
        phones[second] = phones[first]
    return AnalysisInputs(
        customer_ids=[f"C{i:07d}" for i in range(n)], attributes=attributes,
        tx_customer=customer, tx_product=product, tx_amount=amount, tx_time=time,
        product_ids=skus, product_lines=np.array([cat.BUSINESS_LINES.index(p.business_line)
                                                  for p in cat.PRODUCTS]),
        line_names=cat.BUSINESS_LINES, product_prices=prices, phones=phones, emails=emails,
        names=names, created_at=start - rng.integers(0, 365 * day, n))


def full_run() -> dict[str, Any]:
    """Child process: generate FULL_CUSTOMERS customers and run the whole analysis once."""
    from analytics.pipeline import AnalysisParams, analyse

    started = time.perf_counter()
    inputs = synthetic_inputs(FULL_CUSTOMERS, seed=7)
    generated = time.perf_counter() - started
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    result = analyse(inputs, AnalysisParams())
    seconds = time.perf_counter() - started
    summary = result.summary()
    return {"seconds": seconds, "generate_s": generated, "rss_before_mb": before,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "transactions": len(inputs.tx_time), "stages": summary["seconds"],
            "customers": summary["customers"], "rules": summary["rules"],
            "tiers": summary["tiers"], "model": summary["model"]}


def main() -> None:
    matrix, planted = baskets()
    print(f"dataset: {BASKETS:,} baskets x {PRODUCTS:,} products, {matrix.nnz:,} items, "
          f"{len(planted)} planted pairs; min_support={MIN_SUPPORT} "
          f"min_confidence={MIN_CONFIDENCE}", flush=True)
    items = [str(i) for i in range(PRODUCTS)]
    pair_rules(matrix, items, min_support=MIN_SUPPORT, min_confidence=MIN_CONFIDENCE)  # warm
    ours_s, ours = timed(lambda: pair_rules(matrix, items, min_support=MIN_SUPPORT,
                                            min_confidence=MIN_CONFIDENCE), 7)
    found = sum(ours.find(str(a), str(b)) is not None for a, b in planted)
    certain = int(np.isinf(ours.conviction).sum())
    print(f"ours (analytics.affinity.pair_rules, median of 7): {ours_s:.4f} s, "
          f"{len(ours)} rules ({certain} with confidence 1), planted pairs found "
          f"{found}/{len(planted)}", flush=True)

    ensure_mlxtend()
    mlxtend_s, build_s, theirs = mlxtend_rules(matrix)
    print(f"mlxtend fpgrowth(max_len=2) + association_rules (median of 3): {mlxtend_s:.3f} s "
          f"(+ {build_s:.3f} s to build its sparse DataFrame, not counted)", flush=True)
    same, detail = identical(ours, theirs)
    print(f"rule sets identical: {same} ({detail})", flush=True)

    per_second, incremental_same = incremental(matrix, ours)
    print(f"incremental: {per_second:,.0f} batches of {BATCH} baskets per second; "
          f"final rules equal to the one-shot run: {incremental_same}", flush=True)

    child = subprocess.run([sys.executable, __file__, "--full-run"], capture_output=True,
                           text=True, check=True, cwd=ROOT)
    full = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"full analysis, {FULL_CUSTOMERS:,} customers / {full['transactions']:,} "
          f"transactions (generated in {full['generate_s']:.1f} s, not counted): "
          f"{full['seconds']:.1f} s, peak RSS {full['peak_mb']:.0f} MB "
          f"({full['rss_before_mb']:.0f} MB holding the inputs before the run)")
    print(f"  stages (s): {full['stages']}")
    print(f"  customers: {full['customers']}")
    print(f"  rules: {full['rules']}  model: {full['model']}  tiers: {full['tiers']}")
    print(f"RESULT rules_identical={int(same)} "
          f"speedup_vs_mlxtend={mlxtend_s / ours_s:.1f} ours_s={ours_s:.4f} "
          f"mlxtend_s={mlxtend_s:.3f} full_run_1m_s={full['seconds']:.2f} "
          f"peak_mb={full['peak_mb']:.0f} incremental_batches_per_s={per_second:.0f} "
          f"incremental_identical={int(incremental_same)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--full-run"]:
        print(json.dumps(full_run()))
    else:
        main()
