"""Demo data -> the analysis worker (in process and as `engage analyze`) -> suggestions, report,
campaign lists and their CSV, feedback and uplift, versions and pruning, watch mode, the lock."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from analytics.patterns import PHONE
from engage import keys
from engage.analysis.campaigns import CSV_HEADER
from engage.analysis.store import OFFERS, RUNS, AnalysisStore
from engage.analysis.worker import AnalysisBusy, AnalysisWorker, RunReport
from engage.demo.data import load_demo_data
from engage.staff.directory import StaffDirectory
from tests.conftest import LiveNode
from tests.staff_http import as_role

# Loads the demo data and runs the analysis (in-process or as a CLI child): up to ~70 s.
pytestmark = pytest.mark.timeout(300)

Document = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]


async def load_demo(node: LiveNode) -> None:
    db = node.services.backends.db
    await load_demo_data(db, StaffDirectory(db), customers=2_000, transactions=10_000,
                         progress=False)


def worker(node: LiveNode, **store: Any) -> AnalysisWorker:
    backends = node.services.backends
    return AnalysisWorker(backends.db, backends.redis, worker_id="test-worker",
                          store=AnalysisStore(backends.db, backends.redis, **store)
                          if store else None)


async def get_json(http: aiohttp.ClientSession, url: str, status: int = 200) -> Document:
    response = await http.get(url)
    body: Document = await response.json()
    assert response.status == status, body
    return body


async def recent_buyer(node: LiveNode, sku: str) -> str:
    """The customer with the latest purchase of ``sku``: a rule from it should apply."""
    tx = await node.services.backends.db.transactions.find_one(
        {"sku": sku}, {"customer_id": 1}, sort=[("at", DESCENDING)])
    assert tx is not None
    return str(tx["customer_id"])


async def test_no_results_until_a_run(node: LiveNode, http: aiohttp.ClientSession) -> None:
    await load_demo(node)
    await as_role(http, node, "agent")
    body = await get_json(http, f"{node.url}/api/customers/C0000001/suggestions")
    assert body == {"ok": True, "suggestions": [], "status": "no_results",
                    "message": "No analysis has run yet"}
    await as_role(http, node, "marketer")
    report = await get_json(http, f"{node.url}/api/analysis/report")
    assert report["status"] == "no_results" and report["report"] is None
    response = await http.post(f"{node.url}/api/campaigns", json={"name": "early"})
    assert response.status == 409 and (await response.json())["code"] == "no_results"


async def test_worker_run_answers_suggestions_with_reasons(node: LiveNode,
                                                           http: aiohttp.ClientSession) -> None:
    await load_demo(node)
    run = await worker(node).run_once()
    assert run.version == 1 and not run.skipped
    assert run.summary["rules"]["product_sequences"] > 0
    assert sum(run.summary["tiers"].values()) == run.summary["customers"]["kept"]
    assert "analysis version 1 published" in run.describe()

    customer = await recent_buyer(node, "BS-APT")
    await as_role(http, node, "agent")
    body = await get_json(http, f"{node.url}/api/customers/{customer}/suggestions")
    assert body["status"] == "ok" and body["version"] == 1 and body["run_at"]
    assert 1 <= len(body["suggestions"]) <= 3
    scores = [s["score"] for s in body["suggestions"]]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    ruled = [s for s in body["suggestions"] if s["rule"] is not None]
    assert ruled, body
    first = ruled[0]
    assert first["rule"]["antecedent"] == "BS-APT"
    assert first["reason"].startswith("Bought “Apartment purchase” in ")
    assert f"of such buyers order “{first['product_name']}” within a year." in first["reason"]
    assert all(s["reason"] and s["product_name"] for s in body["suggestions"])

    zh = await get_json(http, f"{node.url}/api/customers/{customer}/suggestions?lang=zh")
    assert "公寓购买" in next(s for s in zh["suggestions"] if s["rule"])["reason"]

    # Redis lost the hot part: MongoDB answers the same.
    await node.services.backends.redis.delete(keys.analysis_offers(1))
    again = await get_json(http, f"{node.url}/api/customers/{customer}/suggestions")
    assert [s["reason"] for s in again["suggestions"]] == [
        s["reason"] for s in body["suggestions"]]

    merged = await node.services.backends.db[OFFERS].find_one(
        {"version": 1, "merged_into": {"$exists": True}})
    assert merged is not None
    follow = await get_json(http, f"{node.url}/api/customers/{merged['customer_id']}/suggestions")
    assert follow["merged_into"] == merged["merged_into"]

    await get_json(http, f"{node.url}/api/customers/C9999999/suggestions", status=404)
    await get_json(http, f"{node.url}/api/customers/bad%20id!/suggestions", status=400)
    await as_role(http, node, "marketer")
    await get_json(http, f"{node.url}/api/customers/{customer}/suggestions", status=403)


async def test_cli_analyze_publishes_a_version(node: LiveNode,
                                               http: aiohttp.ClientSession) -> None:
    await load_demo(node)
    settings = node.settings
    env = {**os.environ, "ENGAGE_REDIS_URL": settings.redis_url or "",
           "ENGAGE_MONGO_URL": settings.mongo_url or "", "ENGAGE_MONGO_DB": settings.mongo_db,
           "ENGAGE_DATA_DIR": str(settings.data_dir), "ENGAGE_SECRET_KEY": "test-secret-key"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engage", "analyze", "--no-progress", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    text = out.decode()
    assert "analysis version 1 published" in text
    assert re.search(r"rules: .*product sequences", text) and "tiers:     A=" in text

    await as_role(http, node, "supervisor")
    customer = await recent_buyer(node, "BS-APT")
    body = await get_json(http, f"{node.url}/api/customers/{customer}/suggestions")
    assert body["version"] == 1 and body["suggestions"]


async def test_report_api(node: LiveNode, http: aiohttp.ClientSession) -> None:
    await load_demo(node)
    await worker(node).run_once()
    await as_role(http, node, "supervisor")  # supervisors may read the report
    body = await get_json(http, f"{node.url}/api/analysis/report")
    report = body["report"]
    assert body["status"] == "ok" and report["version"] == 1 and report["run_at"]
    assert report["top_rules"] and all(r["lift"] is not None for r in report["top_rules"])
    lifts = [r["lift"] for r in report["top_rules"]]
    assert lifts == sorted(lifts, reverse=True)
    assert {p["kind"] for p in report["scatter"]} >= {"product", "product_sequence"}
    heatmap = report["heatmap"]
    n = len(heatmap["items"])
    assert n == len(report["products"]) and len(heatmap["values"]) == n
    assert any(v is not None and v > 1 for row in heatmap["values"] for v in row)
    assert [t["tier"] for t in report["tiers"]] == ["A", "B", "C", "D"]
    assert sum(t["size"] for t in report["tiers"]) == report["customers"]["kept"]
    runs = await get_json(http, f"{node.url}/api/analysis/runs")
    assert runs["runs"][0]["status"] == "current" and runs["runs"][0]["input_counts"]


async def test_campaign_list_and_csv(node: LiveNode, http: aiohttp.ClientSession) -> None:
    await load_demo(node)
    db = node.services.backends.db
    await worker(node).run_once()
    criteria = {"name": "Renovation after purchase", "lines": ["decoration"],
                "tiers": ["A", "B", "C", "D"], "size": 150, "contacted_within_days": 30}
    await as_role(http, node, "marketer")
    first = await http.post(f"{node.url}/api/campaigns", json=criteria)
    assert first.status == 201, await first.text()
    preview = (await first.json())["campaign"]
    head = await get_json(http, f"{node.url}/api/campaigns/{preview['id']}")
    top = [m["customer_id"] for m in head["preview"][:4]]
    # Opt two of the best out and contact a third today: the next list must skip them.
    await db.customers.update_many({"_id": {"$in": top[:2]}}, {"$set": {"opt_out": True}})
    await db.interactions.insert_one({"_id": "I-test", "customer_id": top[2],
                                      "started_at": datetime.now(UTC) - timedelta(days=1)})
    response = await http.post(f"{node.url}/api/campaigns", json=criteria)
    assert response.status == 201, await response.text()
    campaign = (await response.json())["campaign"]
    assert campaign["version"] == 1 and 0 < campaign["size"] <= 150
    assert campaign["excluded"]["opted_out"] == 2
    assert campaign["excluded"]["contacted_recently"] >= 1

    csv_response = await http.get(f"{node.url}/api/campaigns/{campaign['id']}/list.csv")
    assert csv_response.status == 200
    assert csv_response.headers["Content-Type"] == "text/csv; charset=utf-8"
    text = await csv_response.text()
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == CSV_HEADER
    members = [dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]]
    assert len(members) == campaign["size"]
    assert all(PHONE.fullmatch(m["phone"]) for m in members)
    assert not {m["customer_id"] for m in members} & set(top[:3])
    products = (await get_json(http, f"{node.url}/api/analysis/report"))["report"]["products"]
    assert all(products[m["product"]]["line"] == "decoration" for m in members)
    assert all(m["tier"] in "ABCD" and m["reason"] for m in members)
    scores = [float(m["score"]) for m in members]
    assert scores == sorted(scores, reverse=True)

    # A customer asks, through an agent's or marketer's ledger edit, not to be contacted:
    # the list already made stops exporting them, and the next list leaves them out.
    quitter = members[0]["customer_id"]
    book = await get_json(http, f"{node.url}/api/customers/{quitter}/ledger")
    edit = await http.patch(f"{node.url}/api/customers/{quitter}",
                            json={"version": book["ledger"]["version"],
                                  "changes": {"contact_opt_out": True}},
                            headers={"Origin": node.settings.public_origin})
    assert edit.status == 200, await edit.text()
    again = await http.get(f"{node.url}/api/campaigns/{campaign['id']}/list.csv")
    exported = [row[CSV_HEADER.index("customer_id")]
                for row in csv.reader(io.StringIO(await again.text(), newline=""))][1:]
    assert quitter not in exported and len(exported) == len(members) - 1
    later = await http.post(f"{node.url}/api/campaigns", json=criteria)
    assert later.status == 201, await later.text()
    later_list = (await later.json())["campaign"]
    assert later_list["excluded"]["opted_out"] == 3
    later_members = await get_json(http, f"{node.url}/api/campaigns/{later_list['id']}")
    assert quitter not in {m["customer_id"] for m in later_members["preview"]}

    listed = await get_json(http, f"{node.url}/api/campaigns")
    assert [c["id"] for c in listed["campaigns"]][:3] == [later_list["id"], campaign["id"],
                                                          preview["id"]]
    await get_json(http, f"{node.url}/api/campaigns/cmp_missing", status=404)
    bad = await http.post(f"{node.url}/api/campaigns", json={**criteria, "products": ["NOPE"]})
    assert bad.status == 400 and "NOPE" in (await bad.json())["message"]
    await as_role(http, node, "agent")
    await get_json(http, f"{node.url}/api/campaigns/{campaign['id']}/list.csv", status=403)


async def test_feedback_feeds_the_uplift_report(node: LiveNode,
                                                http: aiohttp.ClientSession) -> None:
    await load_demo(node)
    await worker(node).run_once()
    customer = await recent_buyer(node, "BS-APT")
    await as_role(http, node, "agent")
    offers = (await get_json(http, f"{node.url}/api/customers/{customer}/suggestions"))
    ruled = next(s for s in offers["suggestions"] if s["rule"])
    product, rule = ruled["product"], f"BS-APT->{ruled['product']}"
    for outcome in ("offered", "accepted", "converted"):
        response = await http.post(f"{node.url}/api/suggestions/feedback",
                                   json={"customer": customer, "product": product,
                                         "outcome": outcome})
        assert response.status == 201, await response.text()
        stored = (await response.json())["feedback"]
        assert stored["rule"] == rule and stored["rule_source"] == "analysis"
    for other, outcome in (("C0000001", "declined"), ("C0000002", "converted")):
        response = await http.post(f"{node.url}/api/suggestions/feedback",
                                   json={"customer": other, "product": product,
                                         "outcome": outcome, "campaign": "cmp_test"})
        assert response.status == 201, await response.text()
    for body, status in (({"outcome": "maybe"}, 400), ({"product": "NOPE"}, 404),
                         ({"customer": "C9999999"}, 404), ({"rule": "not a rule"}, 400)):
        refused = await http.post(f"{node.url}/api/suggestions/feedback", json={
            "customer": customer, "product": product, "outcome": "offered", **body})
        assert refused.status == status, body

    await as_role(http, node, "marketer")
    uplift = await get_json(http, f"{node.url}/api/analysis/uplift")
    entry = next(r for r in uplift["rules"] if r["rule"] == rule)
    assert (entry["offered"], entry["accepted"], entry["converted"]) == (1, 1, 1)
    assert entry["conversion_rate"] == 1.0 and entry["baseline_offered"] == 2
    assert entry["baseline_conversion_rate"] == 0.5 and entry["uplift_points"] == 50.0
    assert 0 < entry["rule_confidence"] <= 1
    assert uplift["baseline"][product]["declined"] == 1


async def test_second_run_flips_the_version_and_prunes(node: LiveNode,
                                                       http: aiohttp.ClientSession) -> None:
    await load_demo(node)
    db, redis = node.services.backends.db, node.services.backends.redis
    runner = worker(node, keep=1)
    await runner.run_once()
    second = await runner.run_once()
    assert second.version == 2 and second.pruned == (1,)
    assert await redis.get(keys.ANALYSIS_CURRENT) == "2"
    assert await db[OFFERS].count_documents({"version": 1}) == 0
    assert await db.analysis_rules.count_documents({"version": 1}) == 0
    assert not await redis.exists(keys.analysis_offers(1), keys.analysis_report(1))
    statuses = {d["version"]: d["status"] async for d in db[RUNS].find({})}
    assert statuses == {1: "pruned", 2: "current"}
    await as_role(http, node, "agent")
    url = f"{node.url}/api/customers/{await recent_buyer(node, 'BS-APT')}/suggestions"
    body = await get_json(http, url)
    assert body["version"] == 2

    # Redis restarted empty: nodes fall back to MongoDB, the worker restores the hot parts.
    await redis.delete(keys.ANALYSIS_CURRENT, keys.analysis_offers(2), keys.analysis_report(2))
    assert (await get_json(http, url))["suggestions"] == body["suggestions"]
    assert await runner.store.rewarm() is True
    assert await redis.get(keys.ANALYSIS_CURRENT) == "2"
    assert await redis.hlen(keys.analysis_offers(2)) == await db[OFFERS].count_documents(
        {"version": 2})
    assert await runner.store.rewarm() is False


async def test_watch_reruns_only_on_change_and_reads_new_purchases_only(
        node: LiveNode) -> None:
    await load_demo(node)
    db = node.services.backends.db
    runner = worker(node)
    stop = asyncio.Event()
    passes: asyncio.Queue[RunReport] = asyncio.Queue()
    task = asyncio.create_task(runner.watch(0.2, stop, on_run=passes.put_nowait))
    try:
        async with asyncio.timeout(60):
            first, second = await passes.get(), await passes.get()
            assert first.version == 1 and second.skipped and second.reason == "no data change"
            newest = await db.transactions.find_one({}, sort=[("at", DESCENDING)])
            assert newest is not None
            await db.transactions.insert_one({
                **{k: v for k, v in newest.items() if k != "_id"}, "_id": "T-new",
                "at": newest["at"] + timedelta(hours=1)})
            rerun = await passes.get()
            while rerun.skipped:  # a pass may have started before the insert
                rerun = await passes.get()
    finally:
        stop.set()
        await task
    assert rerun.version == 2
    assert rerun.incremental and rerun.counts["transactions"] == 10_001


async def test_one_worker_at_a_time(node: LiveNode) -> None:
    await load_demo(node)
    await node.services.backends.redis.set(keys.ANALYSIS_LOCK, "elsewhere:token", ex=30)
    with pytest.raises(AnalysisBusy) as refused:
        await worker(node).run_once()
    assert refused.value.details["holder"] == "elsewhere"
    assert await node.services.backends.db[RUNS].count_documents({}) == 0


async def test_lock_is_renewed_while_held_and_released(db: AsyncDatabase[Document],
                                                      redis: aioredis.Redis) -> None:
    holder = AnalysisWorker(db, redis, worker_id="w1", lock_ttl=1)
    async with holder.lock():
        await asyncio.sleep(1.6)  # past the TTL: only renewal keeps it
        assert str(await redis.get(keys.ANALYSIS_LOCK)).startswith("w1:")
        with pytest.raises(AnalysisBusy):
            async with AnalysisWorker(db, redis, worker_id="w2").lock():
                pass
    assert await redis.get(keys.ANALYSIS_LOCK) is None
