"""InviteService on real Redis + nx-27017: CRUD and versions, caps, opt-out, answers, counts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from pymongo.asynchronous.database import AsyncDatabase

from engage import bus, keys
from engage.errors import Conflict, Forbidden, InvalidPayload, NotFound
from engage.visits.invite_rules import VisitContext
from engage.visits.invites import InviteService

Document = dict[str, Any]
SITE = "site_homes"
NOW = datetime(2025, 3, 5, 2, 0, tzinfo=UTC)


@pytest.fixture
async def invites(db: AsyncDatabase[Document], redis: aioredis.Redis
                  ) -> AsyncIterator[InviteService]:
    await db.sites.insert_one({"site_key": SITE, "name": "Homes", "allowed_origins": []})
    service = InviteService(db, redis)
    await service.start()
    yield service
    await service.stop()


def body(**fields: Any) -> Document:
    return {"site_key": SITE, "name": "Rent help", "queue": "rent",
            "text": {"en": "Looking for a flat?", "zh": "在找房子吗"},
            "url_glob": "/rent/*", "require_agent": True} | fields


def visit(**fields: Any) -> VisitContext:
    base: Document = {"url": "https://homes.test/rent/flat-1", "time_on_page_s": 40,
                      "pages_this_visit": 2, "returning": False, "now": NOW,
                      "agents_available": {"rent": 1}}
    return VisitContext(**(base | fields))


async def test_crud_with_versions(invites: InviteService) -> None:
    created = await invites.create(body(rule_id="rule_mine", queue="not_yet_a_queue"), "mk")
    rule_id = created["rule_id"]
    assert rule_id.startswith("rule_") and rule_id != "rule_mine"
    assert created["version"] == 1 and created["created_by"] == "mk"
    assert await invites.get(rule_id) == created
    assert [r["rule_id"] for r in await invites.list_rules(SITE)] == [rule_id]
    assert await invites.list_rules("site_other") == []

    updated = await invites.update(rule_id, body(name="Rent help 2", enabled=False), "admin", 1)
    assert (updated["version"], updated["name"], updated["enabled"]) == (2, "Rent help 2", False)
    assert updated["created_by"] == "mk" and updated["updated_by"] == "admin"
    with pytest.raises(Conflict) as stale:
        await invites.update(rule_id, body(name="lost update"), "mk", 1)
    assert stale.value.details["current_version"] == 2
    assert (await invites.get(rule_id))["name"] == "Rent help 2"
    assert (await invites.get(rule_id))["enabled"] is False  # a real boolean, read back

    await invites.delete(rule_id)
    for call in (invites.get(rule_id), invites.delete(rule_id),
                 invites.update(rule_id, body(), "mk", 2)):
        with pytest.raises(NotFound):
            await call


@pytest.mark.parametrize(("fields", "name"), [
    ({"site_key": "site_nowhere"}, "site_key"), ({"queue": "Rent Queue"}, "queue"),
    ({"url_regex": "(?<=x)"}, "url_regex"), ({"max_per_day": 0}, "max_per_day")])
async def test_create_refuses_bad_rules(invites: InviteService, fields: Document,
                                        name: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        await invites.create(body(**fields), "mk")
    assert caught.value.details["field"] == name
    assert await invites.list_rules() == []


async def test_changes_are_published_and_other_nodes_refresh(
        invites: InviteService, db: AsyncDatabase[Document], redis: aioredis.Redis) -> None:
    other = InviteService(db, redis)
    assert await other.rules_for(SITE) == []
    async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
        await pubsub.subscribe(keys.EVENTS_CHANNEL)
        created = await invites.create(body(), "mk")
        async with asyncio.timeout(10):
            message = await anext(pubsub.listen())
        assert orjson.loads(message["data"]) == {"event": bus.INVITES_CHANGED,
                                                 "rule": created["rule_id"]}
    assert await other.rules_for(SITE) == []  # cached until the event says otherwise
    await other.refresh()
    assert [r.rule_id for r in await other.rules_for(SITE)] == [created["rule_id"]]
    await invites.update(created["rule_id"], body(enabled=False), "mk", 1)
    assert await invites.rules_for(SITE) == []  # the changing node is current at once


async def test_cap_per_visitor_per_day(invites: InviteService) -> None:
    rule_id = (await invites.create(body(max_per_day=2), "mk"))["rule_id"]
    for expected in (1, 2):
        invite = await invites.consider(SITE, "v1", visit())
        assert invite is not None and invite.rule_id == rule_id
        assert await invites.shown_today("v1", [rule_id], NOW) == {rule_id: expected}
        await invites.respond(invite.invite_id, "v1", "dismiss")
    assert await invites.consider(SITE, "v1", visit()) is None
    assert await invites.consider(SITE, "v2", visit()) is not None  # per visitor
    tomorrow = await invites.consider(SITE, "v1", visit(now=NOW + timedelta(days=1)))
    assert tomorrow is not None


async def test_one_pending_invite_at_a_time(invites: InviteService) -> None:
    await invites.create(body(max_per_day=5), "mk")
    shown = await asyncio.gather(*[invites.consider(SITE, "v1", visit()) for _ in range(5)])
    made = [i for i in shown if i is not None]
    assert len(made) == 1
    assert await invites.pending("v1") == made[0]
    assert await invites.consider(SITE, "v1", visit()) is None
    await invites.respond(made[0].invite_id, "v1", "dismiss")
    assert await invites.pending("v1") is None
    assert await invites.consider(SITE, "v1", visit()) is not None


async def test_invite_carries_the_rule(invites: InviteService) -> None:
    rule = await invites.create(body(channel="video", queue="rent_vip"), "mk")
    invite = await invites.consider(SITE, "v1", visit(agents_available={"rent_vip": 2}))
    assert invite is not None
    assert (invite.rule_id, invite.queue, invite.channel, invite.name) == (
        rule["rule_id"], "rent_vip", "video", "Rent help")
    assert invite.text == {"en": "Looking for a flat?", "zh": "在找房子吗"}
    assert invite.invite_id.startswith("inv_")
    assert await invites.consider(SITE, "v2", visit()) is None  # no agent in rent_vip


async def test_opt_out_blocks_and_survives_losing_redis(invites: InviteService,
                                                        redis: aioredis.Redis) -> None:
    await invites.create(body(max_per_day=5), "mk")
    assert await invites.opted_out("v1") is False
    pending = await invites.consider(SITE, "v1", visit())
    assert pending is not None
    await invites.set_opt_out(SITE, "v1", True)
    assert await invites.pending("v1") is None  # the shown invite is withdrawn
    assert await invites.consider(SITE, "v1", visit()) is None
    await redis.flushdb()
    assert await invites.opted_out("v1") is True  # MongoDB is the record
    await invites.set_opt_out(SITE, "v1", False)
    await redis.flushdb()
    assert await invites.opted_out("v1") is False
    assert await invites.consider(SITE, "v1", visit()) is not None


async def test_respond_rules(invites: InviteService, redis: aioredis.Redis) -> None:
    await invites.create(body(max_per_day=5), "mk")
    invite = await invites.consider(SITE, "v1", visit())
    assert invite is not None
    with pytest.raises(NotFound):
        await invites.respond("inv_doesnotexist", "v1", "accept")
    with pytest.raises(Forbidden):
        await invites.respond(invite.invite_id, "v2", "accept")
    with pytest.raises(InvalidPayload):
        await invites.respond(invite.invite_id, "v1", "maybe")
    assert await invites.respond(invite.invite_id, "v1", "accept") == invite
    for action in ("accept", "dismiss"):
        with pytest.raises(Conflict):
            await invites.respond(invite.invite_id, "v1", action)
    expiring = await invites.consider(SITE, "v1", visit())
    assert expiring is not None
    await redis.delete(keys.invite(expiring.invite_id))  # its hour is up
    with pytest.raises(NotFound):
        await invites.respond(expiring.invite_id, "v1", "accept")
    assert not await redis.exists(keys.invite(expiring.invite_id))


async def test_stats_and_conversion_once_per_visit(invites: InviteService) -> None:
    a = (await invites.create(body(name="A", max_per_day=10, priority=2), "mk"))["rule_id"]
    b = (await invites.create(body(name="B", url_glob="/buy/*"), "mk"))["rule_id"]
    assert await invites.record_conversion("v1", "vs_visit0001") is False  # nothing accepted

    first = await invites.consider(SITE, "v1", visit())
    assert first is not None
    await invites.respond(first.invite_id, "v1", "accept")
    assert await invites.record_conversion("v1", "vs_visit0001") is True
    assert await invites.record_conversion("v1", "vs_visit0001") is False
    assert await invites.record_conversion("v1", "vs_visit0002") is False  # needs a new accept

    second = await invites.consider(SITE, "v1", visit())
    assert second is not None
    await invites.respond(second.invite_id, "v1", "accept")
    assert await invites.record_conversion("v1", "vs_visit0001") is False  # once per visit
    assert await invites.record_conversion("v1", "vs_visit0002") is True

    third = await invites.consider(SITE, "v2", visit())
    assert third is not None
    await invites.respond(third.invite_id, "v2", "dismiss")

    stats = {s["rule_id"]: s for s in await invites.stats(SITE)}
    assert stats[a] == {
        "rule_id": a, "site_key": SITE, "name": "A", "enabled": True, "shown": 3,
        "accepted": 2, "converted": 2, "acceptance_rate": 0.6667, "conversion_rate": 1.0}
    assert (stats[b]["shown"], stats[b]["acceptance_rate"], stats[b]["conversion_rate"]) == (
        0, None, None)
    assert [s["rule_id"] for s in await invites.stats(None)] == [a, b]
    assert await invites.stats("site_other") == []
    await invites.delete(a)
    assert [s["rule_id"] for s in await invites.stats(SITE)] == [b]
