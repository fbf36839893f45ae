"""What the agent console rebuilds itself from: `acd.status` with deadlines on the server's
clock, consultations, wrap-ups and disposition codes; the wrap-up note in the interaction's
history; the agent roster (`GET /api/agents`) a transfer picks from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from engage.infra.embedded import EmbeddedRedis
from engage.models import Role
from engage.services import Services
from signaling.schemas import DISPOSITIONS
from tests.conftest import PASSWORD, SITE_KEY, SITE_ORIGIN, login
from tests.socket_peers import Floor, live_floor

AGENTS = ("alice", "bob", "carol")
QUEUE = {"_id": "sales", "required_skills": {}, "wrap_up_seconds": 30,
         "offer_timeout_seconds": 30, "max_wait_seconds": 600}


async def seed(services: Services) -> None:
    await services.staff.add("supervisor", PASSWORD, Role.SUPERVISOR)
    await services.staff.add("marketer", PASSWORD, Role.MARKETER)
    for name in AGENTS:
        await services.staff.add(name, PASSWORD, Role.AGENT, display_name=name.title())
    await services.staff.add("gone", PASSWORD, Role.AGENT)
    await services.staff.set_disabled("gone", True)
    await services.sites.save(SITE_KEY, "Test shop", [SITE_ORIGIN],
                              {"queues": [QUEUE["_id"], "ring"]})
    await services.queues.save(QUEUE)


@pytest.fixture
async def floor(redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
                redis: aioredis.Redis, aiohttp_server: Any) -> AsyncIterator[Floor]:
    async with live_floor(redis_server.url, mongo_url, db_name, tmp_path, aiohttp_server, seed,
                          Floor) as floor:
        yield floor


def only(view: dict[str, Any]) -> dict[str, Any]:
    assert len(view["interactions"]) == 1, view
    item: dict[str, Any] = view["interactions"][0]
    return item


async def test_status_carries_offer_and_wrap_up_deadlines_on_server_time(floor: Floor) -> None:
    alice = await floor.agent("alice")
    visitor = await floor.visitor()
    ix = (await floor.ask(visitor, "sales", context={"name": "Li Wei"}))["interaction"]
    offer = await alice.expect("offer", interaction=ix)
    assert offer["server_ms"] <= offer["deadline_ms"]
    assert offer["deadline_ms"] - offer["server_ms"] <= 30_000

    view = await alice.ok("acd.status")
    assert view["dispositions"] == list(DISPOSITIONS)
    assert view["server_ms"] >= offer["server_ms"]
    item = only(view)
    assert item["state"] == "offered" and item["deadline_ms"] == offer["deadline_ms"]
    assert item["visitor"] == floor.visitor_ids["visitor"] == item["context"]["visitor"]
    assert item["agent"] == "alice" and item["context"]["client"]["name"] == "Li Wei"
    assert item["profile"] is None  # an anonymous visitor

    await alice.accept(ix)
    item = only(await alice.ok("acd.status"))
    assert item["state"] == "connected" and "deadline_ms" not in item

    await alice.ok("acd.complete", {"interaction": ix})
    wrap = await alice.expect("wrap_up", interaction=ix)
    assert wrap["server_ms"] <= wrap["deadline_ms"]
    item = only(await alice.ok("acd.status"))
    assert item["state"] == "wrap_up" and item["deadline_ms"] == wrap["deadline_ms"]
    assert 0 < item["ended_ms"] <= wrap["server_ms"]


async def test_status_shows_a_consultation_to_the_consulted_agent(floor: Floor) -> None:
    alice = await floor.agent("alice")
    visitor = await floor.visitor()
    ix = (await floor.ask(visitor, "sales"))["interaction"]
    await alice.take(ix)
    bob = await floor.agent("bob")
    await alice.ok("acd.transfer", {"interaction": ix, "to_agent": "bob", "mode": "warm"})
    consult = await bob.expect("consult_offer", interaction=ix)
    assert consult["server_ms"] <= consult["deadline_ms"]

    item = only(await bob.ok("acd.status"))
    assert (item["consult"], item["consult_state"], item["agent"]) == ("bob", "offered", "alice")
    assert item["deadline_ms"] == consult["deadline_ms"]
    owner = only(await alice.ok("acd.status"))
    assert (owner["consult"], owner["consult_state"]) == ("bob", "offered")
    assert "deadline_ms" not in owner  # the owner's conversation has no deadline

    await bob.ok("acd.consult_accept", {"interaction": ix})
    item = only(await bob.ok("acd.status"))
    assert item["consult_state"] == "accepted" and "deadline_ms" not in item


async def test_status_lists_a_ring_all_offer_to_every_ringing_agent(floor: Floor) -> None:
    await floor.services.queues.save({**QUEUE, "_id": "ring", "strategy": "ring_all"})
    alice, bob = await floor.agent("alice"), await floor.agent("bob")
    visitor = await floor.visitor()
    ix = (await floor.ask(visitor, "ring"))["interaction"]
    offers = [await agent.expect("offer", interaction=ix) for agent in (alice, bob)]
    assert all(o["ring_all"] is True for o in offers)

    # A reloaded console finds the offer ringing it, with its deadline.
    for agent in (alice, bob):
        item = only(await agent.ok("acd.status"))
        assert (item["interaction"], item["state"]) == (ix, "offered")
        assert item["deadline_ms"] == offers[0]["deadline_ms"]
    await alice.accept(ix)
    await bob.expect("offer_revoked", interaction=ix)
    assert (await bob.ok("acd.status"))["interactions"] == []
    assert only(await alice.ok("acd.status"))["state"] == "connected"


async def test_status_offer_of_a_known_customer_has_the_profile(floor: Floor) -> None:
    db = floor.services.backends.db
    await db.customers.insert_one({"_id": "C0000042", "name": "Zhang San", "membership": "gold",
                                   "district": "Pudong"})
    alice = await floor.agent("alice")
    ix = await floor.create("sales", customer="C0000042")
    pushed = await alice.expect("offer", interaction=ix)
    item = only(await alice.ok("acd.status"))
    assert item["profile"] == pushed["profile"]
    assert item["profile"]["name"] == "Zhang San" and item["profile"]["membership"] == "gold"


async def test_wrap_up_note_is_kept_in_the_interaction_history(floor: Floor) -> None:
    alice = await floor.agent("alice")
    noted, silent = await floor.create("sales"), await floor.create("sales")
    for ix in (noted, silent):
        await alice.take(ix)
        await alice.ok("acd.complete", {"interaction": ix})
        await alice.expect("wrap_up", interaction=ix)
    await alice.ok("acd.wrap_up", {"interaction": noted, "disposition": "follow_up",
                                   "note": "Call back on Monday"})
    await alice.ok("acd.wrap_up", {"interaction": silent, "disposition": "resolved"})
    # A refused wrap-up (already closed) stores no note.
    await alice.refused("acd.wrap_up", {"interaction": noted, "disposition": "spam",
                                        "note": "second try"}, "not_in_wrap_up")
    await floor.services.eventlog.drain()
    events = floor.services.backends.db["acd_events"]
    notes = [d async for d in events.find({"kind": "note"})]
    assert [(n["ix"], n["agent"], n["note"], n["disposition"]) for n in notes] == [
        (noted, "alice", "Call back on Monday", "follow_up")]
    closed = [d async for d in events.find({"kind": "ix", "ix": noted, "to": "closed"})]
    assert [d["disposition"] for d in closed] == ["follow_up"]


async def test_roster_lists_working_staff_with_what_each_could_take(floor: Floor) -> None:
    await floor.agent("alice")
    await floor.agent("bob", available=False)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        assert (await login(http, floor.url, "carol")).status == 200
        response = await http.get(f"{floor.url}/api/agents")
        assert response.status == 200
        body = await response.json()
    roster = {a["username"]: a for a in body["agents"]}
    assert set(roster) == {"alice", "bob", "carol", "supervisor"}  # no marketer, no disabled
    assert roster["alice"]["state"] == "available" and roster["alice"]["connected"] is True
    assert {"chat", "voice", "video"} <= set(roster["alice"]["takes"])
    assert roster["alice"]["display_name"] == "Alice"
    assert (roster["bob"]["state"], roster["bob"]["reason"], roster["bob"]["takes"]) == (
        "away", "not_ready", [])
    assert (roster["carol"]["state"], roster["carol"]["connected"]) == ("offline", False)

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        assert (await login(http, floor.url, "marketer")).status == 200
        assert (await http.get(f"{floor.url}/api/agents")).status == 403
        http.cookie_jar.clear()
        assert (await http.get(f"{floor.url}/api/agents")).status == 401


async def test_roster_agent_at_capacity_takes_no_more_chats(floor: Floor) -> None:
    alice = await floor.agent("alice")
    for _ in range(3):
        await alice.take(await floor.create("sales"))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        assert (await login(http, floor.url, "bob")).status == 200
        body = await (await http.get(f"{floor.url}/api/agents")).json()
    alice_row = next(a for a in body["agents"] if a["username"] == "alice")
    assert alice_row["state"] == "busy" and "chat" not in alice_row["takes"]
