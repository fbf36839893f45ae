"""The bulletin board on live nodes: posts over HTTP pushed to staff sockets, roles, expiry."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from pymongo.asynchronous.database import AsyncDatabase

from engage.app import create_app
from engage.desk.bulletin import BulletinService
from engage.errors import Forbidden, InvalidPayload, NotFound
from engage.infra.backends import open_backends
from engage.infra.embedded import EmbeddedRedis
from engage.models import Role, StaffSession
from tests.conftest import PASSWORD, LiveNode, login, node_settings, socket_token
from tests.socket_peers import WAIT, Peer

Document = dict[str, Any]


async def call(http: aiohttp.ClientSession, url: str, method: str, path: str, status: int,
               json: Any = None) -> Document:
    response = await http.request(method, url + path, json=json)
    answer: Document = await response.json()
    assert response.status == status, answer
    return answer


@pytest.fixture
async def sessions(node: LiveNode) -> AsyncIterator[dict[str, aiohttp.ClientSession]]:
    """A signed-in HTTP session per role, plus a second agent."""
    await node.services.staff.add("agent2", PASSWORD, Role.AGENT, display_name="Li Na")
    out: dict[str, aiohttp.ClientSession] = {}
    for username in ("agent", "agent2", "supervisor", "marketer", "admin"):
        out[username] = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        assert (await login(out[username], node.url, username)).status == 200
    yield out
    for http in out.values():
        await http.close()


async def staff_peer(url: str, username: str, namespace: str) -> Peer:
    peer = Peer(f"{username}{namespace}", namespace)
    await peer.client.connect(url, namespaces=[namespace],
                              auth={"token": await socket_token(url, username)},
                              transports=["websocket"], wait_timeout=WAIT)
    return peer


async def test_a_post_is_pushed_to_every_staff_socket(
        node: LiveNode, sessions: dict[str, aiohttp.ClientSession]) -> None:
    colleague = await staff_peer(node.url, "agent2", "/agent")
    wallboard = await staff_peer(node.url, "supervisor", "/supervisor")
    try:
        created = (await call(sessions["agent"], node.url, "POST", "/api/bulletin", 201,
                              {"text": "  Printer on floor 3 is fixed.\nUse it again.  "}))["post"]
        assert created["text"] == "Printer on floor 3 is fixed.\nUse it again."
        assert created["author"] == {"username": "agent", "display_name": "agent"}
        assert (created["pinned"], created["edited"], created["expires_ms"]) == (
            False, False, None)
        for peer in (colleague, wallboard):
            push = await peer.expect("bulletin", action="posted")
            assert push["post"] == created

        pinned = (await call(sessions["supervisor"], node.url, "POST",
                             f"/api/bulletin/{created['post_id']}/pin", 200,
                             {"pinned": True}))["post"]
        assert pinned == created | {"pinned": True}
        assert (await colleague.expect("bulletin", action="pinned"))["post"] == pinned

        await call(sessions["agent"], node.url, "DELETE",
                   f"/api/bulletin/{created['post_id']}", 200)
        for peer in (colleague, wallboard):
            push = await peer.expect("bulletin", action="deleted")
            assert push["post"] == {"post_id": created["post_id"]}
        assert (await call(sessions["marketer"], node.url, "GET", "/api/bulletin", 200))[
            "posts"] == []
    finally:
        for peer in (colleague, wallboard):
            await peer.client.disconnect()


async def test_roles_on_the_board(node: LiveNode,
                                  sessions: dict[str, aiohttp.ClientSession]) -> None:
    url = node.url
    mine = (await call(sessions["agent"], url, "POST", "/api/bulletin", 201,
                       {"text": "Team lunch at 12"}))["post"]
    theirs = (await call(sessions["agent2"], url, "POST", "/api/bulletin", 201,
                         {"text": "Who has the key to room 2?"}))["post"]
    refused = await call(sessions["agent"], url, "POST", f"/api/bulletin/{mine['post_id']}/pin",
                         403, {"pinned": True})
    assert refused["code"] == "forbidden"
    assert (await call(sessions["agent"], url, "POST", "/api/bulletin", 403,
                       {"text": "pin me", "pinned": True}))["code"] == "forbidden"
    assert (await call(sessions["agent"], url, "DELETE", f"/api/bulletin/{theirs['post_id']}",
                       403))["message"] == "you can delete only your own posts"
    assert (await call(sessions["marketer"], url, "POST", "/api/bulletin", 403,
                       {"text": "read only"}))["code"] == "forbidden"
    for bad in ({"text": ""}, {"text": "x" * 2001}, {"text": "bell\x07"}, {},
                {"text": "ok", "pinned": "yes"}, {"text": "ok", "expires_ms": "soon"}):
        await call(sessions["supervisor"], url, "POST", "/api/bulletin", 400, bad)

    announcement = (await call(sessions["supervisor"], url, "POST", "/api/bulletin", 201,
                               {"text": "New rent prices from Monday", "pinned": True}))["post"]
    board = (await call(sessions["agent"], url, "GET", "/api/bulletin", 200))["posts"]
    assert [p["post_id"] for p in board] == [announcement["post_id"], theirs["post_id"],
                                            mine["post_id"]]  # pinned first, then newest
    await call(sessions["admin"], url, "DELETE", f"/api/bulletin/{theirs['post_id']}", 200)
    await call(sessions["supervisor"], url, "DELETE", f"/api/bulletin/{mine['post_id']}", 200)
    await call(sessions["admin"], url, "DELETE", f"/api/bulletin/{mine['post_id']}", 404)
    await call(sessions["admin"], url, "POST", "/api/bulletin/post_nosuchpost/pin", 404,
               {"pinned": False})
    board = (await call(sessions["marketer"], url, "GET", "/api/bulletin?limit=5", 200))["posts"]
    assert [p["post_id"] for p in board] == [announcement["post_id"]]


async def test_expired_posts_are_not_listed(node: LiveNode,
                                            sessions: dict[str, aiohttp.ClientSession]) -> None:
    board = node.services.bulletin
    now_ms = int(time.time() * 1000)
    await call(sessions["agent"], node.url, "POST", "/api/bulletin", 400,
               {"text": "already over", "expires_ms": now_ms - 1})
    short = (await call(sessions["agent"], node.url, "POST", "/api/bulletin", 201,
                        {"text": "Lift maintenance until 3 pm",
                         "expires_ms": now_ms + 3_600_000}))["post"]
    lasting = (await call(sessions["supervisor"], node.url, "POST", "/api/bulletin", 201,
                          {"text": "Quarterly targets", "pinned": True,
                           "expires_ms": now_ms + 7_200_000}))["post"]
    forever = (await call(sessions["agent"], node.url, "POST", "/api/bulletin", 201,
                          {"text": "Welcome Li Na to the rent team"}))["post"]
    listed = (await call(sessions["agent"], node.url, "GET", "/api/bulletin", 200))["posts"]
    assert [p["post_id"] for p in listed] == [lasting["post_id"], forever["post_id"],
                                             short["post_id"]]
    board.clock = lambda: now_ms / 1000 + 3_600  # an hour later
    listed = (await call(sessions["agent"], node.url, "GET", "/api/bulletin", 200))["posts"]
    assert [p["post_id"] for p in listed] == [lasting["post_id"], forever["post_id"]]
    await call(sessions["supervisor"], node.url, "POST",
               f"/api/bulletin/{short['post_id']}/pin", 404, {"pinned": True})
    board.clock = lambda: now_ms / 1000 + 7_200
    listed = (await call(sessions["agent"], node.url, "GET", "/api/bulletin", 200))["posts"]
    assert [p["post_id"] for p in listed] == [forever["post_id"]]


def frozen(at: float) -> Callable[[], float]:
    return lambda: at


async def test_service_rules_and_limit(db: AsyncDatabase[Document],
                                       redis: aioredis.Redis) -> None:
    board = BulletinService(db, redis, clock=lambda: 1_800_000_000.0)
    await board.start()
    agent = StaffSession("s1", "ann", Role.AGENT, "Ann", 0.0, 0.0)
    sup = StaffSession("s2", "sue", Role.SUPERVISOR, "Sue", 0.0, 0.0)
    marketer = StaffSession("s3", "max", Role.MARKETER, "Max", 0.0, 0.0)
    posts = []
    for i in range(5):
        board.clock = frozen(1_800_000_000.0 + i)
        posts.append(await board.post(agent, f"note {i}"))
    assert [p["text"] for p in await board.list(limit=3)] == ["note 4", "note 3", "note 2"]
    pinned = await board.pin(posts[0]["post_id"], True, sup)
    assert [p["text"] for p in await board.list(limit=2)] == ["note 0", "note 4"]
    assert (await board.get(posts[0]["post_id"]))["pinned"] is True
    unpinned = await board.pin(posts[0]["post_id"], False, sup)
    assert unpinned == pinned | {"pinned": False}
    with pytest.raises(Forbidden):
        await board.post(marketer, "hello")
    with pytest.raises(Forbidden):
        await board.pin(posts[1]["post_id"], True, agent)
    with pytest.raises(InvalidPayload):
        await board.post(agent, "later", expires_ms=1_800_000_000_000 + 400 * 86_400_000)
    with pytest.raises(NotFound):
        await board.delete("not-a-post-id", sup)


async def test_every_node_pushes_to_its_own_sockets_once(
        node: LiveNode, redis_server: EmbeddedRedis, mongo_url: str, db_name: str,
        tmp_path: Path, sessions: dict[str, aiohttp.ClientSession],
        aiohttp_server: Any) -> None:
    settings = node_settings(redis_server.url, mongo_url, db_name, tmp_path / "b")
    async with open_backends(settings, own_children=False) as backends:
        server = await aiohttp_server(create_app(settings, backends), port=settings.port)
        here = await staff_peer(node.url, "agent2", "/agent")
        there = await staff_peer(settings.public_url, "supervisor", "/supervisor")
        try:
            first = (await call(sessions["agent"], node.url, "POST", "/api/bulletin", 201,
                                {"text": "first"}))["post"]
            second = (await call(sessions["agent"], node.url, "POST", "/api/bulletin", 201,
                                 {"text": "second"}))["post"]
            for peer in (here, there):
                for post in (first, second):
                    assert (await peer.expect("bulletin", action="posted"))["post"] == post
                assert len(peer.inbox.seen("bulletin")) == 2  # no copy per node
        finally:
            for peer in (here, there):
                await peer.client.disconnect()
            await server.close()
