"""Socket.IO test peers: an agent console or a visitor widget as a real client, and a floor
of them on one live node."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import socketio
from aiohttp import web
from pymongo import AsyncMongoClient

from engage.acd.store import AcdStore
from engage.app import SERVICES, create_app
from engage.infra.backends import open_backends
from engage.services import Services
from engage.tasks import cancel_and_wait
from signaling.schemas import SERVER_EVENTS
from tests.conftest import SITE_KEY, SITE_ORIGIN, login, node_settings, socket_token

WAIT = 15.0  # generous: nothing waits for a timer, only for the event it causes


class Inbox:
    """Every server event one client received; a test takes the ones it waits for."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.items: list[tuple[str, dict[str, Any]]] = []
        self.history: list[tuple[str, dict[str, Any]]] = []
        self._arrived = asyncio.Event()

    def push(self, event: str, data: Any = None) -> None:
        entry = (event, data if isinstance(data, dict) else {"_": data})
        self.items.append(entry)
        self.history.append(entry)
        self._arrived.set()

    def seen(self, event: str, **fields: Any) -> list[dict[str, Any]]:
        return [d for e, d in self.history if e == event and _matches(d, fields)]

    async def expect(self, event: str, timeout: float = WAIT, **fields: Any) -> dict[str, Any]:
        """The first unconsumed ``event`` whose payload has ``fields``; waits for it."""
        async def find() -> dict[str, Any]:
            while True:
                for i, (name, data) in enumerate(self.items):
                    if name == event and _matches(data, fields):
                        del self.items[i]
                        return data
                self._arrived.clear()
                await self._arrived.wait()
        try:
            return await asyncio.wait_for(find(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.owner}: no {event} {fields} within {timeout}s; "
                                 f"received {self.history}") from None


def _matches(data: dict[str, Any], fields: dict[str, Any]) -> bool:
    return all(data.get(k) == v for k, v in fields.items())


class Peer:
    """One Socket.IO client (an agent console or a visitor widget) and what it received."""

    def __init__(self, name: str, namespace: str) -> None:
        self.name = name
        self.namespace = namespace
        self.client = socketio.AsyncClient(reconnection=False)
        self.inbox = Inbox(name)
        for event in SERVER_EVENTS:
            self.client.on(event, lambda data=None, e=event: self.inbox.push(e, data),
                           namespace=namespace)

    async def call(self, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        reply: dict[str, Any] = await self.client.call(event, data or {},
                                                       namespace=self.namespace, timeout=WAIT)
        return reply

    async def ok(self, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = await self.call(event, data)
        assert reply.get("ok") is True, f"{self.name} {event}: {reply}"
        return reply

    async def refused(self, event: str, data: dict[str, Any], code: str) -> dict[str, Any]:
        reply = await self.call(event, data)
        assert reply.get("ok") is False and reply.get("code") == code, \
            f"{self.name} {event}: expected {code}, got {reply}"
        assert reply.get("message"), reply
        return reply

    async def expect(self, event: str, **fields: Any) -> dict[str, Any]:
        return await self.inbox.expect(event, **fields)

    # Agent conveniences --------------------------------------------------------------------
    async def available(self) -> None:
        assert (await self.ok("acd.state", {"state": "available"}))["state"] == "available"
        await self.expect("agent_state", state="available")

    async def accept(self, ix: str) -> dict[str, Any]:
        return await self.ok("acd.accept", {"interaction": ix})

    async def take(self, ix: str) -> dict[str, Any]:
        """Wait for the offer of ``ix``, accept it."""
        offer = await self.expect("offer", interaction=ix)
        await self.accept(ix)
        return offer

    async def interactions(self) -> list[str]:
        view = await self.ok("acd.status")
        return [item["interaction"] for item in view["interactions"]]


class Floor:
    """A contact-centre floor on one live node: agents, visitors, a supervisor over HTTP."""

    app: web.Application  # set by live_floor

    def __init__(self, url: str, services: Services) -> None:
        self.url = url
        self.services = services
        self.store: AcdStore = services.acd.store
        self.peers: list[Peer] = []
        self.visitor_ids: dict[str, str] = {}

    async def connect(self, username: str) -> Peer:
        peer = Peer(username, "/agent")
        self.peers.append(peer)
        await peer.client.connect(self.url, namespaces=["/agent"],
                                  auth={"token": await socket_token(self.url, username)},
                                  transports=["websocket"], wait_timeout=WAIT)
        return peer

    async def agent(self, username: str, available: bool = True) -> Peer:
        peer = await self.connect(username)
        # Signed in to the ACD by the server, not yet ready.
        await peer.expect("agent_state", state="away", reason="not_ready")
        if available:
            await peer.available()
        return peer

    async def visitor(self, name: str = "visitor") -> Peer:
        async with aiohttp.ClientSession() as http:
            response = await http.post(f"{self.url}/api/visitor/token",
                                       json={"site_key": SITE_KEY},
                                       headers={"Origin": SITE_ORIGIN})
            body = await response.json()
        peer = Peer(name, "/visitor")
        self.peers.append(peer)
        self.visitor_ids[name] = body["visitor_id"]
        await peer.client.connect(self.url, namespaces=["/visitor"],
                                  auth={"token": body["token"]}, headers={"Origin": SITE_ORIGIN},
                                  transports=["websocket"], wait_timeout=WAIT)
        return peer

    async def ask(self, visitor: Peer, queue: str, channel: str = "chat",
                  context: dict[str, Any] | None = None) -> dict[str, Any]:
        """A visitor's contact request; the reply carries the interaction id."""
        return await visitor.ok("contact.request", {"queue": queue, "channel": channel,
                                                    "context": context or {}})

    async def create(self, queue: str, channel: str = "chat", **body: Any) -> str:
        """An interaction created over HTTP by the supervisor (no visitor socket)."""
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            assert (await login(http, self.url, "supervisor")).status == 200
            response = await http.post(f"{self.url}/api/interactions",
                                       json={"queue": queue, "channel": channel, **body})
            created = await response.json()
            assert response.status == 201, created
            return str(created["interaction"])

    async def state_of(self, ix: str) -> str:
        return (await self.store.fields(ix))["state"]

    async def close(self) -> None:
        for peer in self.peers:
            await peer.client.disconnect()


F = TypeVar("F", bound=Floor)


@asynccontextmanager
async def live_floor(redis_url: str, mongo_url: str, db_name: str, tmp_path: Path,
                     aiohttp_server: Any, seed: Callable[[Services], Awaitable[None]] | None,
                     floor_type: Callable[[str, Services], F], **env: str) -> AsyncIterator[F]:
    """One live node on the test's Redis and database, ``seed`` filling it (staff, sites,
    queues); afterwards the node stops and its database is dropped."""
    settings = node_settings(redis_url, mongo_url, db_name, tmp_path,
                             ENGAGE_CONNECT_TIMEOUT="2", **env)
    async with open_backends(settings, own_children=False) as backends:
        app = create_app(settings, backends)
        server = await aiohttp_server(app, port=settings.port)
        if seed is not None:
            await seed(app[SERVICES])
        floor = floor_type(settings.public_url, app[SERVICES])
        floor.app = app
        try:
            yield floor
        finally:
            await floor.close()
            # A cancellation swallowed inside redis-py must not leave the event log running
            # into closed backends.
            await cancel_and_wait(t for t in asyncio.all_tasks()
                                  if t.get_name() == "acd-eventlog")
            await server.close()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    await client.drop_database(db_name)
    await client.close()
