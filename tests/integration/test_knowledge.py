"""Canned answers on real Redis + nx-27017: CRUD with versions, shortcuts, bus refresh, HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from pymongo.asynchronous.database import AsyncDatabase

from engage import bus, keys
from engage.demo.knowledge import load_demo_answers
from engage.desk.knowledge import COLLECTION, KnowledgeService
from engage.errors import Conflict, InvalidPayload, NotFound
from tests.conftest import LiveNode
from tests.staff_http import call, session_as

Document = dict[str, Any]


@pytest.fixture
async def kb(db: AsyncDatabase[Document], redis: aioredis.Redis
             ) -> AsyncIterator[KnowledgeService]:
    service = KnowledgeService(db, redis)
    await service.start()
    yield service
    await service.stop()


def body(**fields: Any) -> Document:
    return {"category": "Renting", "title": "Rental deposit", "shortcut": "/rentdeposit",
            "tags": ["deposit", "押金"],
            "text": {"en": "Hello {visitor_name}, it is pay one, deposit one.",
                     "zh": "{visitor_name}您好，租房一般押一付一。"}} | fields  # noqa: RUF001


async def test_crud_with_versions(kb: KnowledgeService) -> None:
    created = await kb.create(body(), "sup")
    answer_id = created["answer_id"]
    assert answer_id.startswith("kb_")
    assert (created["version"], created["updated_by"], created["shortcut"]) == (
        1, "sup", "/rentdeposit")
    assert await kb.get(answer_id) == created
    assert await kb.list_answers("Renting") == [created]
    assert await kb.list_answers("Buying") == []

    saved = await kb.update(answer_id, body(title="Deposit for renting"), "admin", 1)
    assert (saved["version"], saved["updated_by"], saved["created_by"]) == (2, "admin", "sup")
    assert saved["updated_at_ms"] >= created["updated_at_ms"]
    assert await kb.get(answer_id) == saved
    with pytest.raises(Conflict) as stale:
        await kb.update(answer_id, body(title="Lost edit"), "sup", 1)
    assert stale.value.details["current_version"] == 2
    assert (await kb.get(answer_id))["title"] == "Deposit for renting"
    with pytest.raises(InvalidPayload):
        await kb.update(answer_id, body(), "sup", "2")

    await kb.delete(answer_id)
    for gone in (kb.get(answer_id), kb.delete(answer_id),
                 kb.update(answer_id, body(), "sup", 2)):
        with pytest.raises(NotFound):
            await gone
    assert await kb.search("deposit") == []


async def test_shortcuts_are_unique(kb: KnowledgeService) -> None:
    first = await kb.create(body(), "sup")
    with pytest.raises(Conflict) as taken:
        await kb.create(body(title="Another", shortcut="/RentDeposit"), "sup")
    assert "already used by 'Rental deposit'" in taken.value.message
    second = await kb.create(body(title="Another", shortcut="/other"), "sup")
    with pytest.raises(Conflict):
        await kb.update(second["answer_id"], body(title="Another"), "sup", 1)
    assert (await kb.get(second["answer_id"]))["version"] == 1
    assert (await kb.search("/rentdeposit"))[0]["answer_id"] == first["answer_id"]


async def test_save_refuses_unknown_variables(kb: KnowledgeService) -> None:
    with pytest.raises(InvalidPayload) as caught:
        await kb.create(body(text={"en": "Hi {name}, see {visitor_name"}), "sup")
    assert "{name}" in caught.value.message and "unbalanced" in caught.value.message
    assert await kb.list_answers() == []


async def test_search_ranks_and_finds_chinese(kb: KnowledgeService) -> None:
    await load_demo_answers(kb._db)
    await kb.refresh()
    found = [a["shortcut"] for a in await kb.search("deposit")]
    assert found[:2] == ["/deposit", "/rentdeposit"]  # shortcut exact, then title
    assert [a["shortcut"] for a in await kb.search("押金", lang="zh")] == ["/rentdeposit"]
    assert [a["shortcut"] for a in await kb.search("报修")] == ["/repair"]
    assert [a["shortcut"] for a in await kb.search("", category="Greening")] == ["/greening"]
    assert len(await kb.search("", limit=3)) == 3
    with pytest.raises(InvalidPayload):
        await kb.search("x", lang="fr")


async def test_render_fills_variables(kb: KnowledgeService) -> None:
    answer_id = (await kb.create(body(text={"en": "Hi {visitor_name}, I am {agent_name}."}),
                                 "sup"))["answer_id"]
    assert await kb.render(answer_id, "en", {"visitor_name": "Ms Li", "agent_name": "Wang"}) \
        == {"text": "Hi Ms Li, I am Wang.", "lang": "en"}
    # No Chinese text: the English one is offered, and says so.
    assert await kb.render(answer_id, "zh", {}) == {"text": "Hi, I am.", "lang": "en"}
    for values in ({"foo": "x"}, {"visitor_name": 3}, ["visitor_name"]):
        with pytest.raises(InvalidPayload):
            await kb.render(answer_id, "en", values)


async def test_changes_are_published_and_other_nodes_refresh(
        kb: KnowledgeService, db: AsyncDatabase[Document], redis: aioredis.Redis) -> None:
    other = KnowledgeService(db, redis)
    assert await other.search("deposit") == []
    async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
        await pubsub.subscribe(keys.EVENTS_CHANNEL)
        created = await kb.create(body(), "sup")
        async with asyncio.timeout(10):
            message = await anext(pubsub.listen())
    event = orjson.loads(message["data"])
    assert event == {"event": bus.KNOWLEDGE_CHANGED, "answer": created["answer_id"]}
    assert await other.search("deposit") == []  # cached until the event says otherwise
    await other.on_changed(event)
    assert [a["answer_id"] for a in await other.search("deposit")] == [created["answer_id"]]
    await kb.delete(created["answer_id"])
    assert await kb.search("deposit") == []  # the changing node is current at once


async def test_demo_answers_load_once_and_keep_edits(kb: KnowledgeService,
                                                     db: AsyncDatabase[Document]) -> None:
    assert await load_demo_answers(db) == 15
    await kb.refresh()
    deposit = (await kb.search("/deposit"))[0]
    await kb.update(deposit["answer_id"], {**deposit, "title": "Edited"}, "sup", 1)
    assert await load_demo_answers(db) == 0
    assert await db[COLLECTION].count_documents({}) == 15
    assert (await kb.get(deposit["answer_id"]))["title"] == "Edited"


# -- over HTTP on a live node ------------------------------------------------------------------




async def test_http_roles_versions_and_render(node: LiveNode) -> None:
    sup, agent, marketer = [await session_as(node, r) for r in ("supervisor", "agent",
                                                                "marketer")]
    try:
        created = (await call(sup, node, "POST", "/api/knowledge", 201, body()))["answer"]
        path = f"/api/knowledge/{created['answer_id']}"
        for http in (agent, marketer):
            listed = await call(http, node, "GET", "/api/knowledge?q=押金&lang=zh", 200)
            assert [a["answer_id"] for a in listed["answers"]] == [created["answer_id"]]
            assert "Renting" in listed["categories"]
            assert (await call(http, node, "GET", path, 200))["answer"] == created
        assert (await call(agent, node, "GET", "/api/knowledge?category=Buying", 200))[
            "answers"] == []
        for method, url in (("POST", "/api/knowledge"), ("PUT", path), ("DELETE", path)):
            refused = await call(agent, node, method, url, 403, body())
            assert refused["code"] == "forbidden"

        rendered = await call(agent, node, "POST", f"{path}/render", 200,
                              {"lang": "en", "values": {"visitor_name": "Ms Li"}})
        assert rendered == {"ok": True, "text": "Hello Ms Li, it is pay one, deposit one.",
                            "lang": "en"}
        unknown = await call(agent, node, "POST", f"{path}/render", 400,
                             {"lang": "en", "values": {"foo": "x"}})
        assert unknown["code"] == "invalid_payload" and "foo" in unknown["message"]

        edit = {**body(title="Deposit (renting)"), "version": 1}
        saved = (await call(sup, node, "PUT", path, 200, edit))["answer"]
        assert saved["version"] == 2
        stale = await call(sup, node, "PUT", path, 409, edit)
        assert (stale["code"], stale["current_version"]) == ("conflict", 2)
        bad = await call(sup, node, "POST", "/api/knowledge", 400,
                         body(shortcut="/x", text={"en": "Hi {visitor}"}))
        assert bad["field"] == "text.en" and "{visitor}" in bad["message"]
        await call(sup, node, "GET", "/api/knowledge/kb_nosuchanswer", 404)
        await call(sup, node, "DELETE", path, 200)
        await call(agent, node, "GET", path, 404)
    finally:
        for http in (sup, agent, marketer):
            await http.close()


async def test_an_http_change_reaches_other_nodes_over_the_bus(
        node: LiveNode, redis: aioredis.Redis) -> None:
    other = KnowledgeService(node.services.backends.db, redis)
    assert await other.search("deposit") == []
    refreshed = asyncio.Event()

    async def done(event: dict[str, Any]) -> None:
        refreshed.set()

    listener = bus.EventListener(node.services.backends.redis_url, tasks=node.services.tasks)
    listener.on(bus.KNOWLEDGE_CHANGED, other.on_changed)  # what engage.app wires on each node
    listener.on(bus.KNOWLEDGE_CHANGED, done)  # handlers run in order: set once other is current
    await listener.start()
    sup = await session_as(node, "supervisor")
    try:
        created = (await call(sup, node, "POST", "/api/knowledge", 201, body()))["answer"]
        async with asyncio.timeout(10):
            await refreshed.wait()
        assert [a["answer_id"] for a in await other.search("deposit")] == [created["answer_id"]]
    finally:
        await sup.close()
        await listener.stop()
