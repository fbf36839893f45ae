"""What one anonymous visitor may multiply, over real sockets and HTTP: the shared chat rate,
the cap on sockets, token issuance, one open interaction, the site's own queues."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from engage.app import SOCKETS
from engage.infra.embedded import EmbeddedRedis
from engage.models import Role
from engage.services import Services
from signaling.schemas import VISITOR_NS
from signaling.server import SocketState
from tests.conftest import PASSWORD, SITE_KEY, SITE_ORIGIN
from tests.rawsocket import RawSocket
from tests.socket_peers import WAIT, Floor, Peer, live_floor

OTHER_SITE = "site_other"
OTHER_ORIGIN = "http://other.example.test"
QUEUE = {"required_skills": {"help": 1}, "wrap_up_seconds": 30, "offer_timeout_seconds": 30,
         "max_wait_seconds": 600}
# Refill rates of one per hour: nothing refills while a test runs, so counts are exact.
LIMITS = ("chat=5/3600,conversation=50/3600,contact=20/3600,contact_address=4/3600,"
          "sockets=3,token_address=6/3600,token_site=9/3600")


class LimitFloor(Floor):
    async def token(self, site_key: str = SITE_KEY, origin: str = SITE_ORIGIN,
                    source: str | None = None) -> aiohttp.ClientResponse:
        """Asks for a visitor token, from a loopback ``source`` address if given."""
        connector = aiohttp.TCPConnector(local_addr=(source, 0) if source else None)
        async with aiohttp.ClientSession(connector=connector) as http:
            response = await http.post(f"{self.url}/api/visitor/token",
                                       json={"site_key": site_key}, headers={"Origin": origin})
            await response.read()
            return response

    async def issued(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http:
            response = await http.post(f"{self.url}/api/visitor/token",
                                       json={"site_key": SITE_KEY},
                                       headers={"Origin": SITE_ORIGIN})
            body: dict[str, Any] = await response.json()
            assert response.status == 200, body
            return body

    async def socket(self, token: str, name: str = "visitor") -> Peer:
        peer = Peer(name, VISITOR_NS)
        self.peers.append(peer)
        await peer.client.connect(self.url, namespaces=[VISITOR_NS], auth={"token": token},
                                  headers={"Origin": SITE_ORIGIN}, transports=["websocket"],
                                  wait_timeout=WAIT)
        return peer


async def seed(services: Services) -> None:
    await services.staff.add("alice", PASSWORD, Role.AGENT, skills={"help": 1})
    await services.staff.add("supervisor", PASSWORD, Role.SUPERVISOR)
    await services.sites.save(SITE_KEY, "Test shop", [SITE_ORIGIN],
                              {"queue": "help", "queues": ["sales"]})
    await services.sites.save(OTHER_SITE, "Other shop", [OTHER_ORIGIN], {"queue": "other"})
    for name in ("help", "sales", "other"):
        await services.queues.save({"_id": name, **QUEUE})


@pytest.fixture
async def floor(redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
                redis: aioredis.Redis, aiohttp_server: Any) -> AsyncIterator[LimitFloor]:
    async with live_floor(redis_server.url, mongo_url, db_name, tmp_path, aiohttp_server, seed,
                          LimitFloor, ENGAGE_VISITOR_LIMITS=LIMITS) as floor:
        yield floor


def left(floor: LimitFloor) -> asyncio.Queue[str]:
    """The sids of visitor sockets whose leave hooks (the release of their place) have run."""
    gone: asyncio.Queue[str] = asyncio.Queue()

    async def hook(state: SocketState) -> None:
        gone.put_nowait(state.sid)
    floor.app[SOCKETS].on_leave(VISITOR_NS, hook)  # after the node's own hooks
    return gone


# -- item 12: limits one visitor multiplies ------------------------------------------------------
async def test_one_visitor_on_several_sockets_cannot_exceed_the_chat_rate(
        floor: LimitFloor) -> None:
    agent = await floor.agent("alice")
    token = (await floor.issued())["token"]
    sockets = [await floor.socket(token, f"tab{i}") for i in range(3)]
    ix = str((await sockets[0].ok("contact.request", {"channel": "chat"}))["interaction"])
    await agent.take(ix)
    burst = 30  # well inside each socket's own bucket (40): only the visitor's rate refuses
    replies = await asyncio.gather(*(
        sockets[i % 3].call("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                                          "text": f"spam {i}"}) for i in range(burst)))
    accepted = [r for r in replies if r.get("ok") is True]
    refused = [r for r in replies if r.get("ok") is False]
    assert len(accepted) <= 5
    assert len(refused) >= burst - 5
    assert {r["code"] for r in refused} == {"rate_limited"}
    assert all(r["retry_after"] > 0 for r in refused)
    # What reached the conversation is what was accepted, no more.
    synced = await sockets[1].ok("chat.sync", {"interaction": ix})
    assert len([m for m in synced["messages"] if m["from"] == "visitor"]) == len(accepted)


async def test_sockets_per_visitor_are_capped_across_the_node_and_released_on_leave(
        floor: LimitFloor) -> None:
    token = (await floor.issued())["token"]
    gone = left(floor)
    held = [await floor.socket(token, f"tab{i}") for i in range(3)]
    extra = await RawSocket.open(floor.url, origin=SITE_ORIGIN)
    try:
        reply = await extra.join(VISITOR_NS, {"token": token})
        assert reply.startswith("44/visitor,") and '"code":"too_many_sockets"' in reply, reply
        # Another visitor is not affected by this one's sockets.
        other = await floor.socket((await floor.issued())["token"], "other")
        await other.ok("whoami")
        # Closing a tab frees its place.
        await held[0].client.disconnect()
        await asyncio.wait_for(gone.get(), WAIT)
        fourth = await extra.join(VISITOR_NS, {"token": token})
        assert fourth.startswith("40/visitor,"), fourth
    finally:
        await extra.close()


async def test_token_issuance_is_limited_per_address(floor: LimitFloor) -> None:
    statuses = [(await floor.token(source="127.0.0.2")).status for _ in range(8)]
    assert statuses == [200] * 6 + [429] * 2
    # Another address is served.
    assert (await floor.token(source="127.0.0.3")).status == 200
    refused = await floor.token(source="127.0.0.2")
    assert refused.status == 429 and refused.headers.get("Retry-After")


async def test_token_issuance_is_limited_per_site(floor: LimitFloor) -> None:
    sources = [f"127.0.0.{n}" for n in (2, 3)]
    statuses = [(await floor.token(source=s)).status for s in sources for _ in range(5)]
    assert statuses.count(200) == 9 and statuses[-1] == 429  # the site's 9, each address < 6
    # The limit is the site's: another site's visitors still get tokens.
    other = await floor.token(OTHER_SITE, OTHER_ORIGIN, source="127.0.0.4")
    assert other.status == 200


# -- item 5: queue flooding ----------------------------------------------------------------------
async def test_a_second_open_interaction_is_refused_with_the_open_one(floor: LimitFloor) -> None:
    token = (await floor.issued())["token"]
    first, second = await floor.socket(token, "tab1"), await floor.socket(token, "tab2")
    # Two tabs asking at once: one interaction, never two.
    replies = await asyncio.gather(first.call("contact.request", {"channel": "chat"}),
                                   second.call("contact.request", {"channel": "chat"}))
    ok = [r for r in replies if r.get("ok")]
    refused = [r for r in replies if not r.get("ok")]
    assert len(ok) == 1 and len(refused) == 1, replies
    ix = ok[0]["interaction"]
    assert refused[0]["code"] == "interaction_open"
    again = await second.refused("contact.request", {"channel": "video", "queue": "sales"},
                                 "interaction_open")
    assert again["interaction"] == ix
    assert (await floor.store.queue_snapshot("help"))[0] == 1
    # Once it has ended the visitor may ask again.
    await first.ok("contact.cancel", {"interaction": ix})
    assert (await second.ok("contact.request", {"channel": "chat"}))["interaction"] != ix


async def test_contact_requests_are_limited_per_address(floor: LimitFloor) -> None:
    visitors = [await floor.socket((await floor.issued())["token"], f"v{i}") for i in range(5)]
    for visitor in visitors[:4]:
        await visitor.ok("contact.request", {"channel": "chat"})
    refused = await visitors[4].refused("contact.request", {"channel": "chat"}, "rate_limited")
    assert refused["retry_after"] > 0


async def test_a_foreign_sites_queue_is_refused(floor: LimitFloor) -> None:
    visitor = await floor.socket((await floor.issued())["token"])
    refused = await visitor.refused("contact.request", {"channel": "chat", "queue": "other"},
                                    "queue_not_offered")
    assert refused["field"] == "queue"
    await visitor.refused("contact.request", {"channel": "chat", "queue": "nowhere"},
                          "queue_not_offered")
    assert (await floor.store.queue_snapshot("other"))[0] == 0
    # The site's own second queue is offered.
    await visitor.ok("contact.request", {"channel": "chat", "queue": "sales"})


@pytest.mark.parametrize("channel", ["phone", "outbound"])
async def test_phone_channels_are_refused_from_the_widget(floor: LimitFloor,
                                                          channel: str) -> None:
    visitor = await floor.socket((await floor.issued())["token"])
    await visitor.refused("contact.request", {"channel": channel}, "invalid_payload")
    assert (await floor.store.queue_snapshot("help"))[0] == 0


async def test_an_invite_accepted_while_a_conversation_is_open_opens_no_second(
        floor: LimitFloor) -> None:
    await floor.services.invites.create(
        {"site_key": SITE_KEY, "name": "Villas", "enabled": True, "queue": "sales",
         "text": {"en": "Questions?"}, "url_glob": "http://shop.example.test/villas*",
         "require_agent": False},
        by="marketer")
    token = (await floor.issued())["token"]
    browsing, chatting = await floor.socket(token, "tab1"), await floor.socket(token, "tab2")
    page = {"type": "page", "at": 1_790_000_000_000, "url": "http://shop.example.test/villas/7",
            "title": "Villa", "nav": "load"}
    await browsing.ok("visit.events", {"events": [page]})
    invite = await browsing.expect("invite")
    ix = (await chatting.ok("contact.request", {"channel": "chat"}))["interaction"]
    refused = await browsing.refused("invite.respond", {"invite": invite["invite"],
                                                        "action": "accept"}, "interaction_open")
    assert refused["interaction"] == ix
    assert (await floor.store.queue_snapshot("sales"))[0] == 0
