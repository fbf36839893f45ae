"""The widget's server side over real Socket.IO clients: identity, trail, help offers, chat."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
import socketio

from engage.errors import NotAuthenticated
from engage.infra.embedded import EmbeddedRedis
from engage.models import Role
from engage.services import Services
from engage.sites.visitor_tokens import identity_hash
from tests.conftest import PASSWORD, SITE_KEY, SITE_ORIGIN, login
from tests.socket_peers import WAIT, Floor, Peer, live_floor

HELP = {"_id": "help", "required_skills": {"help": 1}, "wrap_up_seconds": 30,
        "offer_timeout_seconds": 30, "max_wait_seconds": 600}
PAGE = {"url": "http://shop.example.test/", "title": "Home", "referrer": ""}


class WidgetFloor(Floor):
    async def token(self, **body: Any) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http:
            response = await http.post(f"{self.url}/api/visitor/token",
                                       json={"site_key": SITE_KEY, **body},
                                       headers={"Origin": SITE_ORIGIN})
            reply: dict[str, Any] = await response.json()
            assert response.status == 200, reply
            return reply

    async def widget(self, name: str = "visitor", token: str | None = None,
                     hello: bool = True) -> Peer:
        """A visitor socket as the widget opens it (token, connect, visit.hello)."""
        if token is None:
            issued = await self.token()
            token, self.visitor_ids[name] = issued["token"], issued["visitor_id"]
        peer = Peer(name, "/visitor")
        self.peers.append(peer)
        await peer.client.connect(self.url, namespaces=["/visitor"], auth={"token": token},
                                  headers={"Origin": SITE_ORIGIN}, transports=["websocket"],
                                  wait_timeout=WAIT)
        peer.token = token  # type: ignore[attr-defined]
        if hello:
            peer.hello = await peer.ok("visit.hello", {"page": PAGE})  # type: ignore[attr-defined]
        return peer

    async def chat_with(self, agent: Peer, visitor: Peer) -> str:
        """The visitor asks for help, the agent takes it; returns the interaction."""
        ix = str((await visitor.ok("contact.request", {"channel": "chat"}))["interaction"])
        await agent.take(ix)
        await visitor.expect("connected", interaction=ix)
        return ix


async def seed(services: Services) -> None:
    for name in ("alice", "bob"):
        await services.staff.add(name, PASSWORD, Role.AGENT, skills={"help": 1})
    await services.staff.add("supervisor", PASSWORD, Role.SUPERVISOR)
    await services.sites.save(SITE_KEY, "Test shop", [SITE_ORIGIN],
                              {"queue": "help", "sensitive_params": ["coupon"]})
    await services.queues.save(HELP)


@pytest.fixture
async def floor(redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
                redis: aioredis.Redis, aiohttp_server: Any) -> AsyncIterator[WidgetFloor]:
    async with live_floor(redis_server.url, mongo_url, db_name, tmp_path, aiohttp_server, seed,
                          WidgetFloor) as floor:
        yield floor


def at() -> int:
    return 1_790_000_000_000


def page(url: str, nav: str = "load", title: str = "Page") -> dict[str, Any]:
    return {"type": "page", "at": at(), "url": url, "title": title, "nav": nav}


def rage(count: int = 5) -> dict[str, Any]:
    return {"type": "signal", "at": at(), "url": PAGE["url"], "kind": "rage_click",
            "count": count, "span_ms": 600, "radius_px": 8, "target": "button#search"}


# -- identity ----------------------------------------------------------------------------------
async def test_identity_hash_proves_a_customer_and_a_forged_one_is_anonymous(
        floor: WidgetFloor) -> None:
    site = await floor.services.sites.require(SITE_KEY)
    good = identity_hash(site.identity_secret, "c000042")
    identified = await floor.token(customer_id="c000042", customer_hash=good)
    assert identified["identified"] is True
    assert floor.services.visitor_tokens.verify(identified["token"]).customer_id == "c000042"

    forged = await floor.token(token=identified["token"], customer_id="c000042",
                               customer_hash="0" * 64)
    assert forged["identified"] is False
    assert floor.services.visitor_tokens.verify(forged["token"]).customer_id == ""
    # The browser that held the customer's token does not keep the customer's visitor id
    # (and with it the conversations) once the proof is missing.
    assert forged["visitor_id"] != identified["visitor_id"]

    # That identity change revoked the customer's token: it neither renews nor connects.
    again = await floor.token(token=identified["token"], customer_id="c000042",
                              customer_hash=good)
    assert again["visitor_id"] not in (identified["visitor_id"], forged["visitor_id"])
    with pytest.raises(NotAuthenticated):
        await floor.services.visitor_auth.verify(identified["token"])
    renewed = await floor.token(token=again["token"], customer_id="c000042", customer_hash=good)
    assert renewed["visitor_id"] == again["visitor_id"]  # unchanged identity: same visitor
    other = await floor.token(token=again["token"], customer_id="c000043",
                              customer_hash=identity_hash(site.identity_secret, "c000043"))
    assert other["visitor_id"] != again["visitor_id"]


async def test_a_copied_anonymous_token_cannot_follow_the_customer(floor: WidgetFloor) -> None:
    """Signing in gives a new visitor id and revokes the anonymous one; the customer's
    conversation is the customer's, on any device, and no one else's."""
    await floor.agent("alice")
    site = await floor.services.sites.require(SITE_KEY)
    proof = {"customer_id": "c000042",
             "customer_hash": identity_hash(site.identity_secret, "c000042")}
    anonymous = await floor.token()
    signed_in = await floor.token(token=anonymous["token"], **proof)
    assert signed_in["visitor_id"] != anonymous["visitor_id"]
    with pytest.raises(socketio.exceptions.ConnectionError):  # the copy is revoked
        await floor.widget("copy", token=anonymous["token"])

    customer = await floor.widget("customer", token=signed_in["token"])
    ix = str((await customer.ok("contact.request", {"channel": "chat"}))["interaction"])
    await customer.ok("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                                    "text": "my account number is 4711"})
    stranger = await floor.widget("stranger")  # a new anonymous visitor
    await stranger.refused("chat.sync", {"interaction": ix, "after_seq": 0}, "forbidden")
    phone = await floor.token(**proof)  # the same customer on another device
    assert phone["visitor_id"] != signed_in["visitor_id"]
    other_device = await floor.widget("phone", token=phone["token"])
    synced = await other_device.ok("chat.sync", {"interaction": ix, "after_seq": 0})
    assert [m["text"] for m in synced["messages"]] == ["my account number is 4711"]


async def test_anonymous_visitor_keeps_its_id_across_reloads(floor: WidgetFloor) -> None:
    first = await floor.token()
    second = await floor.token(token=first["token"])
    assert second["visitor_id"] == first["visitor_id"] and second["identified"] is False


async def test_token_refused_for_an_origin_not_on_the_allow_list(floor: WidgetFloor) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{floor.url}/api/visitor/token",
                                    json={"site_key": SITE_KEY},
                                    headers={"Origin": "http://evil.example.test"})
        body = await response.json()
    assert response.status == 403 and body["code"] == "origin_not_allowed"


async def test_frame_page_only_for_allowed_parents(floor: WidgetFloor) -> None:
    async with aiohttp.ClientSession() as http:
        ok = await http.get(f"{floor.url}/widget/frame",
                            params={"site": SITE_KEY, "origin": SITE_ORIGIN})
        assert ok.status == 200
        assert f"frame-ancestors {SITE_ORIGIN};" in ok.headers["Content-Security-Policy"]
        assert "X-Frame-Options" not in ok.headers
        bad = await http.get(f"{floor.url}/widget/frame",
                             params={"site": SITE_KEY, "origin": "http://evil.example.test"})
        assert bad.status == 403 and (await bad.json())["code"] == "origin_not_allowed"
        console = await http.get(f"{floor.url}/login")
        assert console.headers["X-Frame-Options"] == "DENY"


# -- visits and the trail ---------------------------------------------------------------------
async def test_hello_gives_config_and_events_are_stored_without_secrets(
        floor: WidgetFloor) -> None:
    visitor = await floor.widget()
    hello = visitor.hello  # type: ignore[attr-defined]
    assert hello["config"]["queue"] == "help" and hello["returning"] is False
    assert hello["config"]["sensors"]["rage_click_count"] == 3 and hello["active"] is None
    url = "http://shop.example.test/checkout?step=2&token=abc&coupon=SAVE10#/pay?card=4111"
    reply = await visitor.ok("visit.events", {"events": [page(url), {
        "type": "click", "at": at(), "url": url, "target": "button Pay", "x": 10, "y": 20}]})
    assert reply["accepted"] == 2
    await floor.services.trail.flush()
    stored = await floor.services.trail.recent(hello["visit"])
    assert [e["type"] for e in stored] == ["page", "click"]
    for event in stored:
        assert "abc" not in event["url"] and "SAVE10" not in event["url"]
        assert "4111" not in event["url"] and "step=2" in event["url"]
    visit = await floor.services.trail.visit(hello["visit"])
    assert visit is not None and visit["pages"] == 1


async def test_refused_trail_batch_loses_nothing_already_accepted(floor: WidgetFloor) -> None:
    visitor = await floor.widget()
    await visitor.ok("visit.events", {"events": [page("http://shop.example.test/a")]})
    await visitor.refused("visit.events", {"events": [{"type": "page", "at": -1}]},
                          "invalid_payload")
    await visitor.refused("visit.events", {"events": [page("http://x/")] * 51},
                          "invalid_payload")
    await floor.services.trail.flush()
    stored = await floor.services.trail.recent(visitor.hello["visit"])  # type: ignore[attr-defined]
    assert [e["url"] for e in stored] == ["http://shop.example.test/a"]


async def test_trail_reaches_the_agent_handling_the_visitor_live(floor: WidgetFloor) -> None:
    agent = await floor.agent("alice")
    visitor = await floor.widget()
    await visitor.ok("visit.events", {"events": [page("http://shop.example.test/villas")]})
    ix = await floor.chat_with(agent, visitor)
    watched = await agent.ok("visit.watch", {"interaction": ix})
    assert watched["visitor"] == floor.visitor_ids["visitor"]
    assert watched["page"]["url"] == "http://shop.example.test/villas"
    assert [e["url"] for e in watched["trail"]] == ["http://shop.example.test/villas"]
    assert watched["context"]["origin"] == "widget"

    await visitor.ok("visit.events", {"events": [page("http://shop.example.test/mortgage",
                                                      nav="push")]})
    pushed = await agent.expect("trail", visitor=floor.visitor_ids["visitor"])
    assert [e["url"] for e in pushed["events"]] == ["http://shop.example.test/mortgage"]
    assert pushed["events"][0]["nav"] == "push"

    bob = await floor.agent("bob")
    await bob.refused("visit.watch", {"interaction": ix}, "forbidden")


async def test_the_trail_stops_reaching_an_agent_whose_part_ended(floor: WidgetFloor) -> None:
    agent = await floor.agent("alice")
    visitor = await floor.widget()
    vid = floor.visitor_ids["visitor"]
    ix = await floor.chat_with(agent, visitor)
    await agent.ok("visit.watch", {"interaction": ix})
    await visitor.ok("visit.events", {"events": [page("http://shop.example.test/a")]})
    await agent.expect("trail", visitor=vid)

    await agent.ok("acd.complete", {"interaction": ix})  # the conversation ends: wrap-up
    await visitor.ok("visit.events", {"events": [page("http://shop.example.test/after")]})
    # Typing still reaches the agent (in wrap-up), on the same fan-out channel and after
    # the trail batch: once it is here, a trail push would have been here before it.
    await visitor.ok("chat.typing", {"interaction": ix, "typing": True})
    await agent.expect("chat.typing", interaction=ix)
    after = [e for pushed in agent.inbox.seen("trail") for e in pushed["events"]
             if e["url"].endswith("/after")]
    assert after == []
    await agent.refused("visit.watch", {"interaction": ix}, "forbidden")
    # What was said stays readable to the agent who held it.
    await agent.ok("chat.sync", {"interaction": ix, "after_seq": 0})


async def test_a_consultant_only_offered_reads_nothing_until_accepting(
        floor: WidgetFloor) -> None:
    alice = await floor.agent("alice")
    visitor = await floor.widget()
    ix = await floor.chat_with(alice, visitor)
    await visitor.ok("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                                   "text": "my order number is C-9"})
    bob = await floor.agent("bob")
    await alice.ok("acd.transfer", {"interaction": ix, "to_agent": "bob", "mode": "warm"})
    await bob.expect("consult_offer", interaction=ix)
    await bob.refused("chat.sync", {"interaction": ix, "after_seq": 0}, "forbidden")
    await bob.refused("chat.typing", {"interaction": ix, "typing": True}, "forbidden")
    await bob.refused("visit.watch", {"interaction": ix}, "forbidden")
    # The staff HTTP routes give the same answer (as a 404: the id is not confirmed).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        assert (await login(http, floor.url, "bob")).status == 200
        transcript = f"{floor.url}/api/interactions/{ix}/transcript"
        assert (await http.get(transcript)).status == 404
        await bob.ok("acd.consult_accept", {"interaction": ix})
        synced = await bob.ok("chat.sync", {"interaction": ix, "after_seq": 0})
        assert [m["text"] for m in synced["messages"]] == ["my order number is C-9"]
        response = await http.get(transcript)
        assert response.status == 200 and "my order number is C-9" in await response.text()
    await bob.ok("visit.watch", {"interaction": ix})
    await alice.ok("acd.consult_cancel", {"interaction": ix})  # bob's part ends with it
    await bob.refused("chat.sync", {"interaction": ix, "after_seq": 0}, "forbidden")


# -- help detection ---------------------------------------------------------------------------
async def test_rage_clicks_make_the_server_offer_help_when_an_agent_is_free(
        floor: WidgetFloor) -> None:
    lonely = await floor.widget("lonely")
    reply = await lonely.ok("visit.events", {"events": [rage(), rage(), rage()]})
    assert reply["score"] > 0
    assert lonely.inbox.seen("help.offer") == []  # nobody could help: no offer

    await floor.agent("alice")
    visitor = await floor.widget()
    await visitor.ok("visit.events", {"events": [rage(), rage(), rage()]})
    offer = await visitor.expect("help.offer")
    assert offer["queue"] == "help" and "rage_click" in offer["reasons"]


async def test_raw_signals_below_the_thresholds_do_not_count(floor: WidgetFloor) -> None:
    await floor.agent("alice")
    visitor = await floor.widget()
    weak = [{**rage(2)}, {**rage(), "span_ms": 5000}, {**rage(), "radius_px": 300}] * 3
    reply = await visitor.ok("visit.events", {"events": weak})
    assert reply["score"] == 0 and visitor.inbox.seen("help.offer") == []


# -- chat ---------------------------------------------------------------------------------------
async def test_chat_both_ways_with_receipts_and_typing(floor: WidgetFloor) -> None:
    agent = await floor.agent("alice")
    visitor = await floor.widget()
    ix = await floor.chat_with(agent, visitor)
    cid = str(uuid.uuid4())
    sent = await visitor.ok("chat.send", {"interaction": ix, "client_id": cid,
                                          "text": "<img src=x onerror=alert(1)> hello"})
    assert sent["seq"] == 1 and sent["duplicate"] is False
    got = await agent.expect("chat.message", interaction=ix, seq=1)
    assert got["text"] == "<img src=x onerror=alert(1)> hello" and got["from"] == "visitor"

    await agent.ok("chat.typing", {"interaction": ix, "typing": True})
    assert (await visitor.expect("chat.typing", interaction=ix))["typing"] is True
    await agent.ok("chat.receipt", {"interaction": ix, "seq": 1, "kind": "read"})
    receipt = await visitor.expect("chat.receipt", interaction=ix)
    assert receipt["read_seq"] == 1 and receipt["delivered_seq"] == 1

    reply = await agent.ok("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                                         "text": "Hi, how can I help?"})
    assert reply["seq"] == 2
    assert (await visitor.expect("chat.message", seq=2))["from"] == "agent"


async def test_a_retried_message_is_stored_once_and_a_reconnect_replays_the_gap(
        floor: WidgetFloor) -> None:
    agent = await floor.agent("alice")
    visitor = await floor.widget()
    ix = await floor.chat_with(agent, visitor)
    cid = str(uuid.uuid4())
    first, again = await asyncio.gather(
        visitor.ok("chat.send", {"interaction": ix, "client_id": cid, "text": "one"}),
        visitor.ok("chat.send", {"interaction": ix, "client_id": cid, "text": "one"}))
    assert first["seq"] == again["seq"] == 1 and {first["duplicate"], again["duplicate"]} == {
        False, True}

    token = visitor.token  # type: ignore[attr-defined]
    await visitor.client.disconnect()
    for n in range(3):  # said while the visitor's page was reloading
        await agent.ok("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                                     "text": f"agent {n}"})
    back = await floor.widget("back", token=token)
    active = back.hello  # type: ignore[attr-defined]
    assert active["active"]["interaction"] == ix and active["active"]["last_seq"] == 4
    synced = await back.ok("chat.sync", {"interaction": ix, "after_seq": 1})
    assert [m["text"] for m in synced["messages"]] == ["agent 0", "agent 1", "agent 2"]
    assert [m["seq"] for m in synced["messages"]] == [2, 3, 4]
    # The new socket is in the conversation's room: live messages reach it.
    await agent.ok("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                                 "text": "still there?"})
    assert (await back.expect("chat.message", seq=5))["text"] == "still there?"


async def test_nobody_else_reads_or_writes_a_conversation(floor: WidgetFloor) -> None:
    agent = await floor.agent("alice")
    visitor = await floor.widget()
    ix = await floor.chat_with(agent, visitor)
    stranger = await floor.widget("stranger")
    message = {"interaction": ix, "client_id": str(uuid.uuid4()), "text": "hi"}
    await stranger.refused("chat.send", message, "forbidden")
    await stranger.refused("chat.sync", {"interaction": ix, "after_seq": 0}, "forbidden")
    bob = await floor.agent("bob")
    await bob.refused("chat.send", message, "forbidden")
    await bob.refused("chat.sync", {"interaction": ix, "after_seq": 0}, "forbidden")
    supervisor = await floor.connect("supervisor")
    assert (await supervisor.ok("chat.sync", {"interaction": ix, "after_seq": 0}))[
        "last_seq"] == 0
    await supervisor.refused("chat.send", message, "forbidden")


async def test_rating_once_and_transcript_by_mail(floor: WidgetFloor) -> None:
    agent = await floor.agent("alice")
    visitor = await floor.widget()
    ix = await floor.chat_with(agent, visitor)
    await visitor.ok("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                                   "text": "thanks"})
    await agent.ok("acd.complete", {"interaction": ix})
    await visitor.expect("ended", interaction=ix)
    await visitor.refused("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                                        "text": "late"}, "forbidden")
    await visitor.ok("chat.rate", {"interaction": ix, "score": 5, "comment": "great"})
    await visitor.refused("chat.rate", {"interaction": ix, "score": 1}, "conflict")
    await visitor.ok("chat.transcript", {"interaction": ix, "email": "li@example.com"})
    mail = await floor.services.backends.db.mail_outbox.find_one({"ref": ix})
    assert mail is not None and "thanks" in mail["body"]


# -- queue experience -------------------------------------------------------------------------
async def test_leave_a_message_and_callback_are_validated_and_stored(floor: WidgetFloor) -> None:
    visitor = await floor.widget()
    await visitor.refused("contact.callback", {"name": "Li", "phone": "13800138000"},
                          "invalid_payload")
    done = await visitor.ok("contact.callback", {"name": "Li", "phone": "+8613800138000"})
    stored = await floor.services.backends.db.callback_requests.find_one(
        {"_id": done["callback_id"]})
    assert stored is not None and stored["queue"] == "help"
    await visitor.refused("contact.message", {"name": "Li", "text": "call me"},
                          "invalid_payload")
    left = await visitor.ok("contact.message", {"name": "Li", "text": "<b>call</b> me",
                                                "email": "li@example.com"})
    stored = await floor.services.backends.db.visitor_messages.find_one(
        {"_id": left["message_id"]})
    assert stored is not None and stored["text"] == "<b>call</b> me"


async def test_visitor_socket_refused_from_a_foreign_origin(floor: WidgetFloor) -> None:
    token = (await floor.token())["token"]
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(floor.url, namespaces=["/visitor"], auth={"token": token},
                             headers={"Origin": "http://evil.example.test"},
                             transports=["websocket"], wait_timeout=WAIT)
    await client.disconnect()


# -- proactive invites -------------------------------------------------------------------------
RULE = {"site_key": SITE_KEY, "name": "Villa browsers", "enabled": True, "queue": "help",
        "text": {"en": "Questions about villas? Chat with us.", "zh": "对别墅有疑问?和我们聊聊。"},
        "url_glob": "http://shop.example.test/villas*", "max_per_day": 2}


async def test_invite_fires_on_a_matching_page_and_respects_its_daily_cap(
        floor: WidgetFloor) -> None:
    rule = await floor.services.invites.create(RULE, by="marketer")
    await floor.agent("alice")
    visitor = await floor.widget()
    await visitor.ok("visit.events", {"events": [page("http://shop.example.test/about")]})
    assert visitor.inbox.seen("invite") == []  # the URL does not match

    for n in range(3):
        await visitor.ok("visit.events", {"events": [page(f"http://shop.example.test/villas/{n}")]})
        if n < 2:
            invite = await visitor.expect("invite", rule=rule["rule_id"])
            assert invite["text"]["en"] == RULE["text"]["en"]
            await visitor.ok("invite.respond", {"invite": invite["invite"], "action": "dismiss"})
    assert len(visitor.inbox.seen("invite")) == 2  # the third page view is over the cap
    stats = {s["rule_id"]: s for s in await floor.services.invites.stats(SITE_KEY)}
    assert stats[rule["rule_id"]]["shown"] == 2 and stats[rule["rule_id"]]["accepted"] == 0


async def test_no_invite_without_an_available_agent_or_after_opt_out(floor: WidgetFloor) -> None:
    await floor.services.invites.create(RULE, by="marketer")
    visitor = await floor.widget()
    await visitor.ok("visit.events", {"events": [page("http://shop.example.test/villas/1")]})
    assert visitor.inbox.seen("invite") == []  # nobody in the queue could answer

    await floor.agent("alice")
    await visitor.ok("visitor.opt_out", {"opted_out": True})
    await visitor.ok("visit.events", {"events": [page("http://shop.example.test/villas/2")]})
    assert visitor.inbox.seen("invite") == []
    again = await floor.widget("again", token=visitor.token)  # type: ignore[attr-defined]
    assert again.hello["opted_out"] is True  # type: ignore[attr-defined]


async def test_a_customer_who_opted_out_of_contact_gets_no_invite(floor: WidgetFloor) -> None:
    """The ledger's contact opt-out stops proactive invites to that customer signed in."""
    rule = await floor.services.invites.create(RULE, by="marketer")
    await floor.agent("alice")
    db = floor.services.backends.db
    await db.customers.insert_many([{"_id": "c000050", "name": "Quiet", "contact_opt_out": True},
                                    {"_id": "c000051", "name": "Open"}])
    site = await floor.services.sites.require(SITE_KEY)

    async def shown() -> int:
        stats = {s["rule_id"]: s for s in await floor.services.invites.stats(SITE_KEY)}
        return int(stats[rule["rule_id"]]["shown"])

    for n, customer in enumerate(("c000050", "c000051")):
        issued = await floor.token(customer_id=customer,
                                   customer_hash=identity_hash(site.identity_secret, customer))
        visitor = await floor.widget(customer, token=issued["token"])
        await visitor.ok("visit.events", {"events": [page(f"http://shop.example.test/villas/{n}")]})
        # Counted before the events are acknowledged: the opted-out customer was not invited.
        assert await shown() == n
    await visitor.expect("invite", rule=rule["rule_id"])


async def test_accepted_invite_queues_the_visitor_with_the_rule_as_context(
        floor: WidgetFloor) -> None:
    rule = await floor.services.invites.create(RULE, by="marketer")
    agent = await floor.agent("alice")
    visitor = await floor.widget()
    await visitor.ok("visit.events", {"events": [page("http://shop.example.test/villas/7")]})
    invite = await visitor.expect("invite")
    created = await visitor.ok("invite.respond", {"invite": invite["invite"], "action": "accept"})
    offer = await agent.expect("offer", interaction=created["interaction"])
    assert offer["context"]["origin"] == "invite"
    assert offer["context"]["invite"]["rule"] == rule["rule_id"]
    assert offer["context"]["page"]["url"] == "http://shop.example.test/villas/7"
    await visitor.refused("invite.respond", {"invite": invite["invite"], "action": "accept"},
                          "conflict")
    await agent.accept(created["interaction"])
    await visitor.ok("visit.events", {"events": [{"type": "conversion", "at": at(),
                                                  "url": "http://shop.example.test/thanks"}]})
    stats = {s["rule_id"]: s for s in await floor.services.invites.stats(SITE_KEY)}
    assert stats[rule["rule_id"]]["accepted"] == 1 and stats[rule["rule_id"]]["converted"] == 1
