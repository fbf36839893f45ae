"""Socket.IO namespaces over a real loopback server: auth, acks, announcements, revocation."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import socketio

from tests.conftest import PASSWORD, SITE_KEY, SITE_ORIGIN, LiveNode, socket_token


async def connect_staff(node: LiveNode, username: str, namespace: str) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    token = await socket_token(node.url, username)
    await client.connect(node.url, namespaces=[namespace], auth={"token": token},
                         transports=["websocket"], wait_timeout=5)
    return client


async def visitor_token(node: LiveNode, origin: str = SITE_ORIGIN) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{node.url}/api/visitor/token", json={"site_key": SITE_KEY},
                                   headers={"Origin": origin})
        body: dict[str, Any] = await response.json()
        body["status"] = response.status
        return body


async def test_agent_ping_is_acked(node: LiveNode) -> None:
    client = await connect_staff(node, "agent", "/agent")
    try:
        reply = await client.call("ping", {"text": "hi"}, namespace="/agent", timeout=5)
        assert reply["ok"] is True and reply["text"] == "hi"
        who = await client.call("whoami", {}, namespace="/agent", timeout=5)
        assert who == {"ok": True, "username": "agent", "role": "agent",
                       "node": node.settings.node_id}
    finally:
        await client.disconnect()


async def test_socket_token_is_single_use(node: LiveNode) -> None:
    token = await socket_token(node.url, "agent")
    first = socketio.AsyncClient(reconnection=False)
    await first.connect(node.url, namespaces=["/agent"], auth={"token": token},
                        transports=["websocket"])
    second = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await second.connect(node.url, namespaces=["/agent"], auth={"token": token},
                             transports=["websocket"])
    await first.disconnect()
    await second.disconnect()


async def test_agent_cannot_join_supervisor_namespace(node: LiveNode) -> None:
    client = socketio.AsyncClient(reconnection=False)
    token = await socket_token(node.url, "agent")
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace="/supervisor")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(node.url, namespaces=["/supervisor"], auth={"token": token},
                             transports=["websocket"], wait_timeout=5)
    assert errors and errors[0]["data"]["code"] == "forbidden"
    await client.disconnect()


async def test_announcement_reaches_agents(node: LiveNode) -> None:
    agent = await connect_staff(node, "agent", "/agent")
    supervisor = await connect_staff(node, "supervisor", "/supervisor")
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    agent.on("announcement", received.put_nowait, namespace="/agent")
    try:
        reply = await supervisor.call("announce", {"text": "Queue is long, all hands"},
                                      namespace="/supervisor", timeout=5)
        assert reply == {"ok": True, "delivered": True}
        message = await asyncio.wait_for(received.get(), 5)
        assert message["text"] == "Queue is long, all hands"
        assert message["from"] == "supervisor"
    finally:
        await agent.disconnect()
        await supervisor.disconnect()


async def test_disabling_an_account_closes_its_sockets(node: LiveNode) -> None:
    agent = await connect_staff(node, "agent", "/agent")
    ended: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    agent.on("session_ended", ended.put_nowait, namespace="/agent")
    try:
        await node.services.auth.disable("agent")
        assert (await asyncio.wait_for(ended.get(), 5))["reason"] == "account disabled"
        await asyncio.wait_for(agent.wait(), 5)
        assert not agent.connected
    finally:
        await agent.disconnect()


async def test_visitor_connects_from_an_allowed_origin(node: LiveNode) -> None:
    body = await visitor_token(node)
    assert body["status"] == 200 and body["visitor_id"].startswith("v_")
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(node.url, namespaces=["/visitor"], auth={"token": body["token"]},
                         headers={"Origin": SITE_ORIGIN}, transports=["websocket"])
    try:
        who = await client.call("whoami", {}, namespace="/visitor", timeout=5)
        assert who == {"ok": True, "visitor_id": body["visitor_id"], "site_key": SITE_KEY}
    finally:
        await client.disconnect()


async def test_visitor_token_refused_for_a_foreign_origin(node: LiveNode) -> None:
    body = await visitor_token(node, origin="http://evil.example.test")
    assert body["status"] == 403 and body["code"] == "origin_not_allowed"


async def test_signing_out_closes_that_sessions_sockets_only(node: LiveNode) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await http.post(f"{node.url}/login", json={"username": "agent", "password": PASSWORD})
        token = (await (await http.post(f"{node.url}/api/socket-token")).json())["token"]
        leaving = socketio.AsyncClient(reconnection=False)
        await leaving.connect(node.url, namespaces=["/agent"], auth={"token": token},
                              transports=["websocket"])
        staying = await connect_staff(node, "agent", "/agent")  # another sign-in
        ended: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        leaving.on("session_ended", ended.put_nowait, namespace="/agent")
        try:
            await http.post(f"{node.url}/logout", allow_redirects=False)
            assert (await asyncio.wait_for(ended.get(), 5))["reason"] == "signed out"
            await asyncio.wait_for(leaving.wait(), 5)
            reply = await staying.call("ping", {"text": "still"}, namespace="/agent", timeout=5)
            assert reply["ok"] is True
        finally:
            await leaving.disconnect()
            await staying.disconnect()
