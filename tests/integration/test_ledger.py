"""The customer ledger on real Redis and nx-27017: contents, permissions, versions, search, HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from pymongo.asynchronous.database import AsyncDatabase

from engage.customers.ledger import RECENT_PER_LINE, REVISIONS, LedgerService
from engage.errors import Conflict, Forbidden, InvalidPayload, NotFound
from engage.infra.backends import Document
from engage.models import Role
from engage.tasks import TaskSet
from tests.conftest import LiveNode, login
from tests.staff_http import call

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
WANG, LEI, LI = "C0000001", "C0000002", "C0000003"


def customers() -> list[Document]:
    base = {"age_band": "35-44", "income_band": "200k-400k", "household_size": 3,
            "origin_channel": "web", "created_at": T0 - timedelta(days=400)}
    rows = [(WANG, "Wang Wei", "王伟", "+8613800001234", "wang.wei@qq.com", "Pudong", "gold"),
            (LEI, "wang lei", "王磊", "+8613900005678", "Lei.Wang@163.com", "Xuhui", "none"),
            (LI, "Li Na", "李娜", "+8613700001234", "li.na@126.com", "Minhang", "silver")]
    keys = ("_id", "name", "name_zh", "phone", "email", "district", "membership")
    return [base | dict(zip(keys, row, strict=True)) for row in rows]


def contact(_id: str, customer: str, channel: str, queue: str, agent: str | None,
            start: datetime, minutes: int, disposition: str, summary: str) -> Document:
    return {"_id": _id, "customer_id": customer, "channel": channel, "queue": queue,
            "agent": agent, "started_at": start, "ended_at": start + timedelta(minutes=minutes),
            "wait_seconds": 20, "disposition": disposition, "csat": None, "summary": summary}


async def seed(db: AsyncDatabase[Document]) -> None:
    await db.customers.insert_many(customers())
    await db.products.insert_many([
        {"_id": "BS-APT", "name": "New apartment purchase", "name_zh": "新房购买"},
        {"_id": "DC-PNT", "name": "Wall repaint", "name_zh": "墙面翻新"}])
    txs = [(WANG, "BS-APT", "buy_sell", 3_200_000.0, T0), (LI, "DC-PNT", "decoration", 1.0, T0)]
    txs += [(WANG, "DC-PNT", "decoration", 12_000.0 + k, T0 + timedelta(days=10 + k))
            for k in range(7)]
    await db.transactions.insert_many([
        {"_id": f"T{k:08d}", "customer_id": who, "sku": sku, "business_line": line,
         "amount": amount, "quantity": 1, "at": at}
        for k, (who, sku, line, amount, at) in enumerate(txs)])
    await db.interactions.insert_many([
        contact("I00000001", WANG, "phone", "buy_sell", "agent01", T0 - timedelta(days=3), 6,
                "sale_opportunity", "New apartment: quote"),
        contact("I00000002", WANG, "email", "decoration", "agent03", T0 + timedelta(days=5),
                180, "resolved", "Wall repaint: answered"),
        contact("I00000003", LI, "chat", "rent", None, T0, 0, "abandoned", "x")])
    chat_start = T0 + timedelta(days=30)
    await db.chat_conversations.insert_one({
        "_id": "ix0000000007", "visitor": "v1", "site": "site_test", "customer": WANG,
        "agents": ["agent02"], "started_at": chat_start, "last_ms": 1, "rating": 4})
    chat, voice = ("ix0000000007", "chat"), ("ix0000000008", "voice")
    events = [(*chat, "queued", "", ""), (*chat, "offered", "agent02", ""),
              (*chat, "connected", "agent02", ""), (*chat, "wrap_up", "agent02", ""),
              (*chat, "closed", "agent02", "resolved"),  # minute 4
              (*voice, "queued", "", ""), (*voice, "abandoned", "", "")]  # minutes 65, 66
    await db.acd_events.insert_many([
        {"_id": f"{i}-0", "kind": "ix", "ix": ix, "channel": ch, "to": to, "queue": "decoration",
         "agent": agent, "customer": WANG, "disposition": disp,
         "at": chat_start + timedelta(minutes=i if ch == "chat" else 60 + i)}
        for i, (ix, ch, to, agent, disp) in enumerate(events)])


@pytest.fixture
async def ledger(db: AsyncDatabase[Document], redis: aioredis.Redis, tasks: TaskSet
                 ) -> AsyncIterator[LedgerService]:
    service = LedgerService(db, redis, tasks=tasks)
    await service.start()
    await seed(db)
    await service.backfill_search_keys()
    yield service
    await service.stop()


async def edit(ledger: LedgerService, customer: str, role: Role, version: int,
               **changes: Any) -> Document:
    return await ledger.update(customer, changes, version=version, by=role.value, role=role)


# -- the MongoDB subset the ledger relies on ---------------------------------------------------
async def test_contract_queries_the_ledger_relies_on(db: AsyncDatabase[Document]) -> None:
    # {field: None} matches only a missing field: the version-0 filter and the backfill.
    await db.probe.insert_many([{"_id": "a"}, {"_id": "b", "v": 1}, {"_id": "c", "v": ""}])
    assert [d["_id"] async for d in db.probe.find({"v": None})] == ["a"]
    assert (await db.probe.update_one({"_id": "b", "v": None}, {"$set": {"v": 2}})
            ).matched_count == 0
    # String prefix ranges: the search paths.
    await db.probe.insert_many([{"_id": k, "k": k} for k in
                                ("wan", "wang", "wang lei", "wanh", "wb", "王", "王磊", "玉")])
    assert [d["_id"] async for d in db.probe.find(
        {"k": {"$gte": "wang", "$lt": "wanh"}}).sort("k", 1)] == ["wang", "wang lei"]
    assert [d["_id"] async for d in db.probe.find(
        {"k": {"$gte": "王", "$lt": chr(ord("王") + 1)}}).sort("k", 1)] == ["王", "王磊"]
    # A nested change set written by $set keeps its types (unlike a top-level boolean).
    last = {"version": 1, "by": "agent", "at_ms": 5,
            "changes": [{"field": "sms_opt_out", "old": False, "new": True},
                        {"field": "household_size", "old": None, "new": 4}]}
    await db.probe.update_one({"_id": "a"}, {"$set": {"last": last}})
    assert (await db.probe.find_one({"_id": "a"}) or {})["last"] == last


# -- reading -----------------------------------------------------------------------------------
async def test_the_whole_ledger_for_an_agent(ledger: LedgerService) -> None:
    await ledger.add_note(WANG, "Prefers calls after 18:00.", "agent01")
    await ledger.add_note(WANG, "Asked about balcony plants.", "agent02")
    book = await ledger.ledger(WANG, Role.AGENT)
    assert book["customer_id"] == WANG and book["version"] == 0
    assert book["customer"] == {
        "name": "Wang Wei", "name_zh": "王伟", "phone": "+8613800001234",
        "email": "wang.wei@qq.com", "address": None, "district": "Pudong",
        "preferred_language": None, "contact_opt_out": False, "email_opt_out": False,
        "sms_opt_out": False, "membership": "gold", "segment": None, "age_band": "35-44",
        "income_band": "200k-400k", "household_size": 3, "origin_channel": "web",
        "created_at": (T0 - timedelta(days=400)).isoformat()}
    assert "name" not in book["editable"] and "phone" in book["editable"]

    tx = book["transactions"]
    assert (tx["count"], tx["total"], tx["truncated"]) == (8, 3_284_021.0, False)
    deco, buy = tx["by_line"]
    assert tx["last"] == deco["last"] == (T0 + timedelta(days=16)).isoformat()
    assert (deco["business_line"], deco["count"], deco["total"]) == ("decoration", 7, 84_021.0)
    assert [r["amount"] for r in deco["recent"]] == [12_006.0 - k for k in range(RECENT_PER_LINE)]
    assert (deco["recent"][0]["product"], deco["recent"][0]["product_zh"]) == (
        "Wall repaint", "墙面翻新")
    assert (buy["business_line"], buy["count"], buy["recent"][0]["sku"]) == (
        "buy_sell", 1, "BS-APT")

    contacts = book["interactions"]
    assert [c["id"] for c in contacts] == ["ix0000000008", "ix0000000007", "I00000002", "I00000001"]
    voice, chat, email, phone = contacts
    assert (voice["channel"], voice["queue"], voice["disposition"], voice["transcript"]) == (
        "voice", "decoration", "abandoned", None)
    assert chat.items() >= {"source": "live", "channel": "chat", "queue": "decoration",
                         "agent": "agent02", "agents": ["agent02"], "disposition": "resolved",
                         "rating": 4, "transcript": "/api/interactions/ix0000000007/transcript",
                         "started_at": (T0 + timedelta(days=30)).isoformat(),
                         "ended_at": (T0 + timedelta(days=30, minutes=4)).isoformat()}.items()
    assert (phone["source"], phone["agent"], phone["disposition"], phone["summary"]) == (
        "history", "agent01", "sale_opportunity", "New apartment: quote")
    assert email["ended_at"] == (T0 + timedelta(days=5, hours=3)).isoformat()
    assert [(n["text"], n["by"]) for n in book["notes"]] == [
        ("Asked about balcony plants.", "agent02"), ("Prefers calls after 18:00.", "agent01")]


async def test_marketers_see_a_reduced_ledger(ledger: LedgerService) -> None:
    await edit(ledger, WANG, Role.AGENT, 0, address="88 Century Ave")
    await ledger.add_note(WANG, "private", "agent01")
    book = await ledger.ledger(WANG, Role.MARKETER)
    assert "notes" not in book and "address" not in book["customer"]
    assert (book["customer"]["phone"], book["customer"]["email"]) == ("+86138****1234",
                                                                      "w***@qq.com")
    assert all("summary" not in c and "transcript" not in c for c in book["interactions"])
    assert book["editable"] == ["contact_opt_out", "email_opt_out", "sms_opt_out"]
    assert book["transactions"]["count"] == 8


async def test_unknown_and_malformed_customers(ledger: LedgerService) -> None:
    for attempt in (ledger.ledger("C9999999", Role.AGENT), ledger.add_note("C9999999", "x", "a"),
                    edit(ledger, "C9999999", Role.AGENT, 0, phone="13812345678"),
                    ledger.revisions("C9999999")):
        with pytest.raises(NotFound):
            await attempt
    with pytest.raises(InvalidPayload):
        await ledger.ledger("C1/../x", Role.AGENT)


# -- editing -----------------------------------------------------------------------------------
async def test_field_permissions_and_values_are_enforced(ledger: LedgerService) -> None:
    refusals: list[tuple[Role, dict[str, Any], type[Exception], str]] = [
        (Role.AGENT, {"name": "Wang W."}, Forbidden, "name"),
        (Role.AGENT, {"membership": "platinum"}, Forbidden, "membership"),
        (Role.MARKETER, {"phone": "13812345678"}, Forbidden, "phone"),
        (Role.SUPERVISOR, {"household_size": 4}, Forbidden, "household_size"),
        (Role.AGENT, {"phone": "12345"}, InvalidPayload, "phone"),
        (Role.ADMIN, {"ledger_version": 9}, InvalidPayload, "ledger_version"),
    ]
    for role, changes, error, field in refusals:
        with pytest.raises(error) as refused:
            await edit(ledger, WANG, role, 0, **changes)
        assert refused.value.details["field"] == field, (role, changes)
    assert (await ledger.ledger(WANG, Role.ADMIN))["version"] == 0
    assert await ledger.revisions(WANG) == []

    book = await edit(ledger, WANG, Role.AGENT, 0, phone="139 1111 2222", email="W@Example.com")
    assert (book["version"], book["updated_by"]) == (1, "agent")
    assert (book["customer"]["phone"], book["customer"]["email"]) == ("+8613911112222",
                                                                      "w@example.com")
    book = await edit(ledger, WANG, Role.MARKETER, 1, sms_opt_out=True)
    assert book["customer"]["sms_opt_out"] is True and book["version"] == 2
    book = await edit(ledger, WANG, Role.SUPERVISOR, 2, membership="Platinum", segment="investor")
    book = await edit(ledger, WANG, Role.ADMIN, 3, household_size=5)
    assert (book["customer"]["membership"], book["customer"]["household_size"]) == (
        "platinum", 5)
    # Saving what is already stored changes nothing: no version, no revision.
    same = await edit(ledger, WANG, Role.ADMIN, 4, sms_opt_out=True, household_size=5)
    assert same["version"] == 4


async def test_revision_history_newest_first(ledger: LedgerService) -> None:
    await edit(ledger, LI, Role.AGENT, 0, phone="13712345678", address="1 Nanjing Rd")
    await edit(ledger, LI, Role.MARKETER, 1, contact_opt_out=True)
    await edit(ledger, LI, Role.AGENT, 2, contact_opt_out=False)
    rows = await ledger.revisions(LI)
    assert [(r["version"], r["field"], r["old"], r["new"], r["by"]) for r in rows] == [
        (3, "contact_opt_out", True, False, "agent"),
        (2, "contact_opt_out", False, True, "marketer"),
        (1, "address", None, "1 Nanjing Rd", "agent"),
        (1, "phone", "+8613700001234", "+8613712345678", "agent")]
    assert rows[0]["at_ms"] >= rows[-1]["at_ms"] > 0
    assert [r["version"] for r in await ledger.revisions(LI, limit=1)] == [3]
    assert (await ledger.ledger(LI, Role.AGENT))["customer"]["contact_opt_out"] is False


async def test_a_stale_version_is_told_what_changed(ledger: LedgerService) -> None:
    await edit(ledger, WANG, Role.AGENT, 0, phone="13911112222")
    await edit(ledger, WANG, Role.AGENT, 1, address="9 Bund")
    with pytest.raises(Conflict) as stale:
        await edit(ledger, WANG, Role.SUPERVISOR, 0, email="x@y.com")
    details = stale.value.details
    assert details["current_version"] == 2
    assert [(c["version"], c["field"], c["old"], c["new"], c["by"])
            for c in details["changes_since"]] == [
        (1, "phone", "+8613800001234", "+8613911112222", "agent"),
        (2, "address", None, "9 Bund", "agent")]
    assert all(c["at_ms"] > 0 for c in details["changes_since"])
    with pytest.raises(Conflict) as stale:  # a marketer sees the same, masked or redacted
        await edit(ledger, WANG, Role.MARKETER, 1, sms_opt_out=True)
    assert [(c["field"], c["new"], c.get("redacted", False))
            for c in stale.value.details["changes_since"]] == [("address", None, True)]
    assert (await ledger.ledger(WANG, Role.AGENT))["customer"]["email"] == "wang.wei@qq.com"


class BothReadFirst(LedgerService):
    """Holds the first two customer reads until both happened, so two edits both pass the
    version read and only the filtered update_one can tell them apart."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.barrier = asyncio.Barrier(2)
        self.reads = 0

    async def _customer(self, customer_id: str) -> Document:
        doc = await super()._customer(customer_id)
        self.reads += 1
        if self.reads <= 2:
            await self.barrier.wait()
        return doc


@pytest.mark.parametrize("customer", [WANG, LEI, LI])
async def test_concurrent_edits_from_one_version(ledger: LedgerService, customer: str,
                                                 db: AsyncDatabase[Document],
                                                 redis: aioredis.Redis,
                                                 tasks: TaskSet) -> None:
    racing = BothReadFirst(db, redis, tasks=tasks)
    outcomes = await asyncio.gather(
        edit(racing, customer, Role.AGENT, 0, phone="13811112222", district="Jing'an"),
        edit(racing, customer, Role.SUPERVISOR, 0, name="Someone Else"),
        return_exceptions=True)
    assert racing.reads >= 3  # both read version 0; the loser re-read after its update missed
    wins = [o for o in outcomes if isinstance(o, dict)]
    losses = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(wins), len(losses)) == (1, 1), outcomes
    winner = wins[0]
    assert losses[0].details["current_version"] == winner["version"] == 1
    fields = ["district", "phone"] if winner["updated_by"] == "agent" else ["name"]
    assert [c["field"] for c in losses[0].details["changes_since"]] == fields
    assert all(c["by"] == winner["updated_by"] for c in losses[0].details["changes_since"])
    assert sorted(r["field"] for r in await ledger.revisions(customer)) == fields


async def test_a_change_set_without_revisions_is_still_reported(
        ledger: LedgerService, db: AsyncDatabase[Document]) -> None:
    """The race where the winner has bumped the version but not yet written revisions."""
    await edit(ledger, LEI, Role.AGENT, 0, address="3 Huaihai Rd")
    await db[REVISIONS].delete_many({})
    with pytest.raises(Conflict) as stale:
        await edit(ledger, LEI, Role.AGENT, 0, email="a@b.cn")
    assert [(c["version"], c["field"], c["new"]) for c in
            stale.value.details["changes_since"]] == [(1, "address", "3 Huaihai Rd")]


async def test_notes_are_append_only_and_checked(ledger: LedgerService) -> None:
    first = await ledger.add_note(LEI, "  line one\r\nline two ", "agent01")
    assert first["text"] == "line one\nline two"
    for k in range(3):  # several in one millisecond still come back newest first
        await ledger.add_note(LEI, f"n{k}", "agent02")
    notes = [n["text"] for n in await ledger.notes(LEI)]
    assert notes == ["n2", "n1", "n0", "line one\nline two"]
    for bad in ("x" * 4001, "", " \n "):
        with pytest.raises(InvalidPayload):
            await ledger.add_note(LEI, bad, "agent01")


# -- search ------------------------------------------------------------------------------------
async def test_search_by_each_path(ledger: LedgerService, db: AsyncDatabase[Document]) -> None:
    async def ids(query: str, **kw: Any) -> list[str]:
        return [r["customer_id"] for r in await ledger.search(query, **kw)]

    assert await ids("wang") == await ids("WANG") == await ids("Wa") == [LEI, WANG]
    assert await ids("wang w") == [WANG]
    assert await ids("王伟") == [WANG] and await ids("李娜") == [LI]
    assert await ids("138 0000 1234") == [WANG]  # exact (normalised) first, then suffixes
    assert await ids("1234") == [LI, WANG]  # in reversed-digit order
    assert await ids("+86 139-0000-5678") == [LEI]
    assert await ids("lei.wang@163.COM") == [LEI] and await ids("WANG.WEI@qq.com") == [WANG]
    assert await ids("nobody@qq.com") == []
    assert await ids("wang", limit=1) == [LEI]
    row = (await ledger.search("li n"))[0]
    assert row == {"customer_id": LI, "matched": "name", "name": "Li Na", "name_zh": "李娜",
                   "phone": "+8613700001234", "email": "li.na@126.com",
                   "district": "Minhang", "membership": "silver"}
    masked = (await ledger.search("li n", role=Role.MARKETER))[0]
    assert masked["phone"] == "+86137****1234"
    # Marketers see phones and e-mails masked, so they may not search by them either: a
    # suffix search per guessed digit would unmask a phone, an exact search confirm an e-mail.
    for contact in ("1234", "+86 137 0000 1234", "li.na@126.com"):
        with pytest.raises(Forbidden):
            await ledger.search(contact, role=Role.MARKETER)
    assert await ids("1234") == [LI, WANG]  # agents still do

    await edit(ledger, WANG, Role.AGENT, 0, phone="13912340000", email="new@qq.com")
    assert await ids("1234") == [LI]
    assert await ids("2340000") == [WANG] and await ids("new@qq.com") == [WANG]
    await db.customers.insert_one({"_id": "C0000004", "name": "Wangxiu Ying",
                                   "phone": "+8618800009999", "email": "wx@qq.com"})
    assert await ids("9999") == []  # loaded by another writer: no keys until the backfill
    assert await ledger.backfill_search_keys() == 1
    assert await ids("9999") == await ids("wangx") == ["C0000004"]
    for bad, limit in (("w", 20), ("王", 20), ("123", 20), ("", 20), ("wang", 0)):
        with pytest.raises(InvalidPayload):
            await ledger.search(bad, limit)


# -- HTTP --------------------------------------------------------------------------------------


async def test_http_routes(node: LiveNode) -> None:
    ledger = node.services.ledger
    await seed(node.services.backends.db)
    await ledger.backfill_search_keys()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        assert (await login(http, node.url, "agent")).status == 200
        found = await call(http, node, "GET", "/api/customers?q=wang", 200)
        assert [r["customer_id"] for r in found["customers"]] == [LEI, WANG]
        assert (await login(http, node.url, "marketer")).status == 200
        for q in ("5678", "wang.wei%40qq.com"):
            refused = await call(http, node, "GET", f"/api/customers?q={q}", 403)
            assert refused["code"] == "forbidden"
        assert (await call(http, node, "GET", "/api/customers?q=wang", 200))["customers"]
        http.cookie_jar.clear()
        assert (await login(http, node.url, "agent")).status == 200
        assert (await call(http, node, "GET", "/api/customers?q=w", 400))["field"] == "q"
        await call(http, node, "GET", "/api/customers", 400)
        await call(http, node, "GET", "/api/customers?q=wang&limit=x", 400)
        book = (await call(http, node, "GET", f"/api/customers/{WANG}/ledger", 200))["ledger"]
        assert book["version"] == 0 and book["transactions"]["count"] == 8
        assert (await call(http, node, "GET", "/api/customers/C9999999/ledger", 404))[
            "code"] == "not_found"

        path = f"/api/customers/{WANG}"

        async def patch(status: int, version: int | None, **changes: Any) -> Document:
            body = {"changes": changes} | ({} if version is None else {"version": version})
            return await call(http, node, "PATCH", path, status, body)

        saved = (await patch(200, 0, phone="13911112222"))["ledger"]
        assert (saved["version"], saved["customer"]["phone"]) == (1, "+8613911112222")
        stale = await patch(409, 0, email="a@b.cn")
        assert (stale["ok"], stale["code"], stale["current_version"]) == (False, "conflict", 1)
        assert [(c["field"], c["old"], c["new"], c["by"]) for c in stale["changes_since"]] == [
            ("phone", "+8613800001234", "+8613911112222", "agent")]
        refused = await patch(403, 1, name="X")
        assert (refused["code"], refused["field"]) == ("forbidden", "name")
        bad = await patch(400, 1, email="not-an-address")
        assert (bad["code"], bad["field"]) == ("invalid_payload", "email")
        assert (await patch(400, None, email="a@b.cn"))["field"] == "version"
        assert (await call(http, node, "PATCH", path, 400, {"version": 1, "changes": []}))[
            "field"] == "changes"
        note = await call(http, node, "POST", f"{path}/notes", 201, {"text": "Call at 6pm"})
        assert (note["note"]["text"], note["note"]["by"]) == ("Call at 6pm", "agent")
        assert (await call(http, node, "POST", f"{path}/notes", 400, {"text": 5}))[
            "field"] == "text"
        revisions = (await call(http, node, "GET", f"{path}/revisions", 200))["revisions"]
        assert [(r["version"], r["field"]) for r in revisions] == [(1, "phone")]

        http.cookie_jar.clear()
        assert (await login(http, node.url, "marketer")).status == 200
        book = (await call(http, node, "GET", f"{path}/ledger", 200))["ledger"]
        assert "notes" not in book and book["customer"]["phone"] == "+86139****2222"
        await call(http, node, "GET", f"{path}/revisions", 403)
        await call(http, node, "POST", f"{path}/notes", 403, {"text": "x"})
        await patch(403, 1, phone="1")
        opted = await patch(200, 1, contact_opt_out=True)
        assert opted["ledger"]["customer"]["contact_opt_out"] is True
