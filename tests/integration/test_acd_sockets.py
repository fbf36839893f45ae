"""The ACD end to end over real Socket.IO clients: offers, timers, exits, transfers, capacity."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from engage.acd.routing import estimated_wait
from engage.infra.embedded import EmbeddedRedis
from engage.models import Role
from engage.services import Services
from tests.conftest import PASSWORD, SITE_KEY, SITE_ORIGIN
from tests.socket_peers import Floor, Peer, live_floor

AGENTS = {"alice": {"sales": 2, "support": 1}, "bob": {"sales": 1, "support": 2},
          "carol": {"support": 1}}
BASE = {"wrap_up_seconds": 30, "offer_timeout_seconds": 30, "max_wait_seconds": 600}
QUEUES = [
    {"_id": "sales", "required_skills": {"sales": 1}, **BASE},
    {"_id": "support", "required_skills": {"support": 1}, **BASE},
    # Short timers, each for the test that fires it.
    {"_id": "quick", "required_skills": {"sales": 1}, **BASE, "offer_timeout_seconds": 1,
     "max_misses": 2},
    {"_id": "brief", "required_skills": {"nobody": 1}, **BASE, "max_wait_seconds": 2,
     "exit": "callback"},
    {"_id": "front", "required_skills": {"nobody": 1}, **BASE, "max_wait_seconds": 2,
     "exit": "overflow:support"},
    {"_id": "hasty", "required_skills": {"sales": 1}, **BASE, "max_wait_seconds": 1,
     "wrap_up_seconds": 1},
]


async def seed(services: Services) -> None:
    await services.staff.add("supervisor", PASSWORD, Role.SUPERVISOR)
    for name, skills in AGENTS.items():
        await services.staff.add(name, PASSWORD, Role.AGENT, skills=skills)
    # The widget may name these queues (a visitor asks only its site's own).
    await services.sites.save(SITE_KEY, "Test shop", [SITE_ORIGIN],
                              {"queues": [queue["_id"] for queue in QUEUES]})
    for queue in QUEUES:
        await services.queues.save(queue)


@pytest.fixture
async def floor(redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
                redis: aioredis.Redis, aiohttp_server: Any) -> AsyncIterator[Floor]:
    """One live node (grace period 1 s) with agents, a supervisor, a site and the queues."""
    async with live_floor(redis_server.url, mongo_url, db_name, tmp_path, aiohttp_server, seed,
                          Floor, ENGAGE_AGENT_GRACE="1") as floor:
        yield floor


async def lifecycle(floor: Floor, agent: Peer, visitor: Peer) -> str:
    """Offer -> accept -> complete -> wrap-up -> closed, checking what each side is told."""
    context = {"page": "/pricing", "name": "Li Wei"}
    created = await floor.ask(visitor, "sales", "chat", context)
    ix = created["interaction"]
    assert created["state"] == "offered" and created["queue"] == "sales"
    offer = await agent.expect("offer", interaction=ix)
    assert offer["queue"] == "sales" and offer["channel"] == "chat"
    assert offer["ring_all"] is False and isinstance(offer["deadline_ms"], int)
    # What the visitor said goes under "client"; the server adds what it knows itself.
    assert offer["context"]["client"] == context and offer["context"]["origin"] == "widget"
    assert offer["context"]["visitor"] == floor.visitor_ids[visitor.name]
    assert offer["context"]["site"] == SITE_KEY

    accepted = await agent.accept(ix)
    assert accepted["interaction"] == ix and accepted["context"] == offer["context"]
    await agent.expect("agent_state", state="busy")
    await visitor.expect("connected", interaction=ix, agent=agent.name)
    assert await agent.interactions() == [ix]

    await agent.ok("acd.complete", {"interaction": ix})
    await visitor.expect("ended", interaction=ix, by=agent.name)
    assert (await agent.expect("wrap_up", interaction=ix))["deadline_ms"] > 0
    await agent.expect("agent_state", state="wrap_up")
    refused = await agent.call("acd.state", {"state": "available"})
    assert refused["ok"] is False and refused["code"] == "finish_wrap_up"

    await agent.ok("acd.wrap_up", {"interaction": ix, "disposition": "resolved"})
    assert (await agent.expect("closed", interaction=ix))["disposition"] == "resolved"
    await agent.expect("agent_state", state="available")
    view = await agent.ok("acd.status")
    assert view["state"] == "available" and view["interactions"] == []
    assert await floor.state_of(ix) == "closed"
    return str(ix)


# -- the basic flow --------------------------------------------------------------------------

async def test_offer_accept_complete_wrap_up_close(floor: Floor) -> None:
    alice = await floor.agent("alice")
    visitor = await floor.visitor()
    await lifecycle(floor, alice, visitor)
    agent = await floor.store.agent("alice")
    assert agent["load:chat"] == "0" and agent["misses"] == "0"


async def test_an_agent_may_go_available_right_after_connecting(floor: Floor) -> None:
    """The server signs a new socket in to the ACD in a task; acd.state must not overtake it."""
    for name in AGENTS:
        peer = await floor.connect(name)
        assert await peer.call("acd.state", {"state": "available"}) == {
            "ok": True, "state": "available"}
        await peer.expect("agent_state", state="away", reason="not_ready")
        await peer.expect("agent_state", state="available")


async def test_event_log_has_every_transition_in_order(floor: Floor) -> None:
    alice = await floor.agent("alice")
    ix = await lifecycle(floor, alice, await floor.visitor())
    await floor.services.eventlog.drain()
    events = floor.services.backends.db["acd_events"]
    docs = [d async for d in events.find({"ix": ix})]
    docs.sort(key=lambda d: tuple(int(p) for p in d["_id"].split("-")))
    assert [(d["from"], d["to"], d["reason"]) for d in docs] == [
        ("new", "queued", "enqueued"), ("queued", "offered", "longest_idle"),
        ("offered", "connected", "accepted"), ("connected", "wrap_up", "completed"),
        ("wrap_up", "closed", "disposition")]
    assert docs[-1]["disposition"] == "resolved" and docs[-1]["agent"] == "alice"
    assert all(d["queue"] == "sales" and d["channel"] == "chat" for d in docs)
    assert [d["at"] for d in docs] == sorted(d["at"] for d in docs)
    moves = [d async for d in events.find({"kind": "agent", "agent": "alice"})]
    moves.sort(key=lambda d: tuple(int(p) for p in d["_id"].split("-")))
    assert [(d["from"], d["to"]) for d in moves] == [
        ("offline", "away"), ("away", "available"), ("available", "busy"),
        ("busy", "wrap_up"), ("wrap_up", "available")]


async def test_decline_offers_it_to_the_next_agent(floor: Floor) -> None:
    alice = await floor.agent("alice")
    bob = await floor.agent("bob", available=False)
    ix = (await floor.ask(await floor.visitor(), "sales"))["interaction"]
    await alice.expect("offer", interaction=ix)
    await bob.available()
    await alice.ok("acd.decline", {"interaction": ix})
    await alice.expect("offer_revoked", interaction=ix, reason="declined")
    await bob.take(ix)
    assert await bob.interactions() == [ix] and await alice.interactions() == []
    assert (await floor.store.agent("alice"))["load:chat"] == "0"


async def test_wrap_up_ends_by_itself_when_its_time_is_up(floor: Floor) -> None:
    alice = await floor.agent("alice")
    visitor = await floor.visitor()
    ix = (await floor.ask(visitor, "hasty"))["interaction"]
    await alice.take(ix)
    await alice.ok("acd.complete", {"interaction": ix})
    assert (await alice.expect("closed", interaction=ix))["disposition"] == ""
    await alice.expect("agent_state", state="available")
    assert await floor.state_of(ix) == "closed"


# -- offer timers ----------------------------------------------------------------------------

async def test_unanswered_offer_goes_to_the_next_agent(floor: Floor) -> None:
    alice = await floor.agent("alice")
    bob = await floor.agent("bob", available=False)
    ix = (await floor.ask(await floor.visitor(), "quick"))["interaction"]
    await alice.expect("offer", interaction=ix)
    await bob.available()
    await alice.expect("offer_revoked", interaction=ix, reason="timeout")
    await bob.expect("offer", interaction=ix)  # not accepted: its 1 s could run out under load
    assert len(alice.inbox.seen("offer", interaction=ix)) == 1  # never back to her
    agent = await floor.store.agent("alice")
    assert agent["misses"] == "1" and agent["state"] == "available"
    assert agent["load:chat"] == "0"


async def test_agent_is_paused_after_consecutive_missed_offers(floor: Floor) -> None:
    alice = await floor.agent("alice")
    first = await floor.create("quick")
    second = await floor.create("quick")
    for ix in (first, second):
        await alice.expect("offer", interaction=ix)
        await alice.expect("offer_revoked", interaction=ix, reason="timeout")
    await alice.expect("agent_state", state="away", reason="missed_offers")
    assert await floor.state_of(first) == "queued" and await floor.state_of(second) == "queued"
    agent = await floor.store.agent("alice")
    assert agent["state"] == "away" and agent["load:chat"] == "0"
    assert await floor.services.backends.redis.zscore(
        floor.store.keys.ready("quick", "chat"), "alice") is None


# -- agents vanishing ------------------------------------------------------------------------

async def test_vanished_agent_s_call_is_requeued_at_the_front(floor: Floor) -> None:
    alice = await floor.agent("alice")
    caller, next_caller = await floor.visitor("caller"), await floor.visitor("next")
    ix = (await floor.ask(caller, "sales", "voice"))["interaction"]
    await alice.take(ix)
    await caller.expect("connected", interaction=ix, agent="alice")
    waiting = await floor.ask(next_caller, "sales", "voice")  # one call at a time
    assert waiting["state"] == "queued" and waiting["position"] == 1

    await alice.client.disconnect()
    await caller.expect("agent_lost", interaction=ix)
    await caller.expect("queue_status", interaction=ix, state="queued", reason="agent_gone")
    status = await caller.ok("contact.status", {"interaction": ix})
    assert status["state"] == "queued" and status["position"] == 1
    later = await next_caller.ok("contact.status", {"interaction": waiting["interaction"]})
    assert later["position"] == 2
    assert (await floor.store.agent("alice"))["state"] == "offline"

    bob = await floor.agent("bob")
    await bob.take(ix)
    await caller.expect("connected", interaction=ix, agent="bob")
    assert await floor.state_of(waiting["interaction"]) == "queued"


async def test_requeued_interaction_waits_afresh_after_the_grace_period(floor: Floor) -> None:
    """The grace period (1 s) outlasts the queue's max wait (1 s): the customer was being
    served, so the time since first queueing must not time them out on requeue."""
    alice = await floor.agent("alice")
    caller = await floor.visitor("caller")
    ix = (await floor.ask(caller, "hasty"))["interaction"]
    await alice.take(ix)
    bob = await floor.agent("bob")
    await alice.client.disconnect()
    await caller.expect("agent_lost", interaction=ix)
    await bob.take(ix)
    await caller.expect("connected", interaction=ix, agent="bob")
    assert not caller.inbox.seen("timed_out")


# -- what the visitor sees while waiting ----------------------------------------------------

async def test_visitor_sees_position_and_estimated_wait(floor: Floor) -> None:
    alice = await floor.agent("alice", available=False)  # signed in, staffing the queue
    visitors = [await floor.visitor(f"v{i}") for i in range(3)]
    replies = [await floor.ask(v, "sales", "voice") for v in visitors]
    staffed = await floor.services.backends.redis.scard(floor.store.keys.staffed("sales"))
    assert staffed == 1
    for position, reply in enumerate(replies, start=1):
        assert reply["state"] == "queued" and reply["position"] == position
        assert reply["estimated_wait_seconds"] == round(estimated_wait(position, 180, staffed))
    first, last = replies[0]["interaction"], replies[2]["interaction"]

    await alice.available()  # takes one call: the others move up
    await alice.expect("offer", interaction=first)
    update = await visitors[2].expect("queue_status", interaction=last, position=2)
    assert update["state"] == "queued"
    assert update["estimated_wait_seconds"] == round(estimated_wait(2, 180, staffed))
    earlier = visitors[2].inbox.seen("queue_status", interaction=last)
    assert {u["position"] for u in earlier} <= {2, 3}
    assert earlier[-1]["position"] == 2
    await visitors[1].expect("queue_status", interaction=replies[1]["interaction"], position=1)


async def test_max_wait_ends_with_a_callback(floor: Floor) -> None:
    visitor = await floor.visitor()
    created = await floor.ask(visitor, "brief")
    ix = created["interaction"]
    assert created["state"] == "queued"
    assert (await visitor.expect("timed_out", interaction=ix))["exit"] == "callback"
    status = await visitor.ok("contact.status", {"interaction": ix})
    assert status["state"] == "timed_out"
    assert (await floor.store.fields(ix))["exit"] == "callback"


async def test_max_wait_overflows_to_another_queue(floor: Floor) -> None:
    bob = await floor.agent("bob")  # serves support, not front
    visitor = await floor.visitor()
    created = await floor.ask(visitor, "front", "chat", {"reason": "leak"})
    ix = created["interaction"]
    assert created["state"] == "queued"
    moved = await visitor.expect("queue_status", interaction=ix, reason="overflow")
    assert moved["state"] == "queued" and moved["queue"] == "support"
    offer = await bob.take(ix)
    assert offer["queue"] == "support" and offer["context"]["client"]["reason"] == "leak"
    await visitor.expect("connected", interaction=ix, agent="bob")
    assert not visitor.inbox.seen("timed_out")


# -- transfers -------------------------------------------------------------------------------

async def connected_chat(floor: Floor, agent: Peer, visitor: Peer,
                         context: dict[str, Any]) -> str:
    ix = str((await floor.ask(visitor, "sales", "chat", context))["interaction"])
    await agent.take(ix)
    await visitor.expect("connected", interaction=ix, agent=agent.name)
    return ix


async def test_cold_transfer_to_a_queue(floor: Floor) -> None:
    alice = await floor.agent("alice")
    visitor = await floor.visitor()
    ix = await connected_chat(floor, alice, visitor, {"reason": "order A-17"})
    carol = await floor.agent("carol")  # support only
    await alice.ok("acd.transfer", {"interaction": ix, "to_queue": "support"})
    await alice.expect("transferred", interaction=ix, to_queue="support")
    offer = await carol.take(ix)
    assert offer["queue"] == "support" and offer["context"]["client"]["reason"] == "order A-17"
    await visitor.expect("connected", interaction=ix, agent="carol")
    assert await alice.interactions() == [] and await carol.interactions() == [ix]
    assert (await floor.store.agent("alice"))["load:chat"] == "0"


async def test_cold_transfer_to_an_agent(floor: Floor) -> None:
    alice = await floor.agent("alice")
    visitor = await floor.visitor()
    ix = await connected_chat(floor, alice, visitor, {"reason": "order B-2"})
    bob = await floor.agent("bob")
    await alice.refused("acd.transfer", {"interaction": ix, "to_agent": "alice"}, "same_agent")
    await alice.ok("acd.transfer", {"interaction": ix, "to_agent": "bob"})
    await alice.expect("transferred", interaction=ix, to_agent="bob")
    offer = await bob.take(ix)
    assert offer["context"]["client"]["reason"] == "order B-2"
    await visitor.expect("connected", interaction=ix, agent="bob")
    assert await alice.interactions() == [] and await bob.interactions() == [ix]


async def test_warm_transfer_keeps_the_interaction_and_its_context(floor: Floor) -> None:
    alice = await floor.agent("alice")
    visitor = await floor.visitor()
    ix = await connected_chat(floor, alice, visitor, {"reason": "order C-9"})
    bob = await floor.agent("bob")
    warm = {"interaction": ix, "to_agent": "bob", "mode": "warm"}

    # A consultation that is called off leaves everything as it was.
    await alice.ok("acd.transfer", warm)
    await bob.expect("consult_offer", interaction=ix, from_agent="alice")
    await alice.ok("acd.consult_cancel", {"interaction": ix})
    await bob.expect("consult_cancelled", interaction=ix)
    await alice.expect("consult_cancelled", interaction=ix)
    assert (await floor.store.agent("bob"))["load:chat"] == "0"

    await alice.ok("acd.transfer", warm)
    consult = await bob.expect("consult_offer", interaction=ix, from_agent="alice")
    assert consult["context"]["client"]["reason"] == "order C-9" and consult["channel"] == "chat"
    await alice.refused("acd.transfer", warm, "consult_in_progress")
    # Completing before the consulted agent answered is refused, and changes nothing.
    await alice.refused("acd.consult_complete", {"interaction": ix}, "consult_not_accepted")
    await bob.ok("acd.consult_accept", {"interaction": ix})
    await alice.expect("consult_accepted", interaction=ix, agent="bob")
    await alice.ok("acd.consult_complete", {"interaction": ix})
    await alice.expect("transferred", interaction=ix, to_agent="bob")
    await bob.expect("transfer_completed", interaction=ix, from_agent="alice")
    await visitor.expect("connected", interaction=ix, agent="bob")

    view = await bob.ok("acd.status")
    assert [(i["interaction"], i["state"], i["context"]["client"]["reason"])
            for i in view["interactions"]] == [(ix, "connected", "order C-9")]
    assert await alice.interactions() == []
    assert (await floor.store.agent("bob"))["load:chat"] == "1"
    assert (await floor.store.agent("alice"))["load:chat"] == "0"
    await bob.ok("acd.complete", {"interaction": ix})
    await bob.ok("acd.wrap_up", {"interaction": ix, "disposition": "transferred"})
    await bob.expect("closed", interaction=ix)
    assert (await floor.store.agent("bob"))["load:chat"] == "0"


async def test_ending_a_conversation_under_consultation_lets_the_colleague_go(
        floor: Floor) -> None:
    alice = await floor.agent("alice")
    visitor = await floor.visitor()
    ix = await connected_chat(floor, alice, visitor, {"reason": "order D-4"})
    bob = await floor.agent("bob")
    await alice.ok("acd.transfer", {"interaction": ix, "to_agent": "bob", "mode": "warm"})
    await bob.expect("consult_offer", interaction=ix)
    await bob.ok("acd.consult_accept", {"interaction": ix})
    # A cold transfer on top of a consultation would leave two hand-overs running.
    await alice.refused("acd.transfer", {"interaction": ix, "to_queue": "support"},
                        "consult_in_progress")
    await visitor.ok("contact.cancel", {"interaction": ix})  # the visitor ends the chat
    await bob.expect("consult_cancelled", interaction=ix)
    await alice.expect("consult_cancelled", interaction=ix)
    assert await bob.interactions() == []
    assert (await floor.store.agent("bob"))["load:chat"] == "0"
    assert (await floor.store.fields(ix))["state"] == "wrap_up"


# -- capacity --------------------------------------------------------------------------------

async def test_a_fourth_chat_goes_to_another_agent(floor: Floor) -> None:
    alice = await floor.agent("alice")
    visitors = [await floor.visitor(f"v{i}") for i in range(4)]
    held = [(await floor.ask(v, "sales"))["interaction"] for v in visitors[:3]]
    for ix in held:
        await alice.take(ix)
    assert await floor.store.agent_interactions("alice") == sorted(held)
    # Bob is idle for less time than alice: only her capacity keeps the fourth from her.
    bob = await floor.agent("bob")
    fourth = (await floor.ask(visitors[3], "sales"))["interaction"]
    await bob.take(fourth)
    assert (await floor.store.agent("alice"))["load:chat"] == "3"
    assert not alice.inbox.seen("offer", interaction=fourth)


async def test_no_call_is_offered_to_an_agent_on_video(floor: Floor) -> None:
    alice = await floor.agent("alice")
    video = (await floor.ask(await floor.visitor("v1"), "sales", "video"))["interaction"]
    await alice.take(video)
    bob = await floor.agent("bob")
    call = (await floor.ask(await floor.visitor("v2"), "sales", "voice"))["interaction"]
    await bob.take(call)
    # Alice (idle longer) is on video, which blocks chat too; bob's call does not.
    chat = (await floor.ask(await floor.visitor("v3"), "sales", "chat"))["interaction"]
    await bob.take(chat)
    assert not alice.inbox.seen("offer", interaction=call)
    assert not alice.inbox.seen("offer", interaction=chat)


# -- who may do what ------------------------------------------------------------------------

async def test_a_visitor_cannot_touch_another_visitors_interaction(floor: Floor) -> None:
    owner, other = await floor.visitor("owner"), await floor.visitor("other")
    ix = (await floor.ask(owner, "sales"))["interaction"]
    await other.refused("contact.cancel", {"interaction": ix}, "forbidden")
    await other.refused("contact.status", {"interaction": ix}, "forbidden")
    assert await floor.state_of(ix) == "queued"
    await owner.ok("contact.cancel", {"interaction": ix})
    assert await floor.state_of(ix) == "abandoned"


async def test_an_agent_cannot_take_an_offer_made_to_someone_else(floor: Floor) -> None:
    alice = await floor.agent("alice")
    bob = await floor.agent("bob", available=False)
    ix = (await floor.ask(await floor.visitor(), "sales"))["interaction"]
    await alice.expect("offer", interaction=ix)
    await bob.refused("acd.accept", {"interaction": ix}, "not_offered_to_you")
    await bob.refused("acd.decline", {"interaction": ix}, "not_offered_to_you")
    await alice.accept(ix)
    await bob.refused("acd.accept", {"interaction": ix}, "offer_gone")
    await bob.refused("acd.complete", {"interaction": ix}, "not_your_interaction")
    await bob.refused("acd.transfer", {"interaction": ix, "to_queue": "support"},
                      "not_your_interaction")
    assert await alice.interactions() == [ix] and await bob.interactions() == []

