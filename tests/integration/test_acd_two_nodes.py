"""Two ``engage serve`` processes on one Redis and one MongoDB: no contact given twice."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from engage.acd.routing import DEFAULT_CAPACITY
from engage.infra.embedded import EmbeddedRedis, free_port
from engage.keys import ACD
from engage.models import Role
from engage.staff.directory import StaffDirectory
from tests.conftest import PASSWORD, SITE_KEY, SITE_ORIGIN, login, socket_token
from tests.integration.test_serve import start_node, wait_ready
from tests.socket_peers import WAIT, Peer

# Two `engage serve` processes per test: up to ~90 s with their start and stop.
pytestmark = pytest.mark.timeout(300)

NODES = ("node-a", "node-b")
# Agent -> the node its console connects to.
AGENTS = {"ann": "node-a", "amy": "node-a", "ben": "node-b", "bob": "node-b"}
QUEUE_DEFAULTS = {"required_skills": {"sales": 1}, "offer_timeout_seconds": 120,
                  "wrap_up_seconds": 60, "max_wait_seconds": 600, "exit": "callback"}
QUEUES = [{"_id": "ring", "strategy": "ring_all", **QUEUE_DEFAULTS},
          {"_id": "idle", "strategy": "longest_idle", **QUEUE_DEFAULTS}]
CHAT_LIMIT = DEFAULT_CAPACITY.limits["chat"]


@dataclass
class Cluster:
    urls: dict[str, str]
    redis: aioredis.Redis
    supervisors: dict[str, aiohttp.ClientSession] = field(default_factory=dict)
    peers: list[Peer] = field(default_factory=list)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    async def agent(self, username: str) -> Peer:
        """``username``'s console on its node, signed in and available."""
        node = AGENTS[username]
        peer = Peer(username, "/agent")
        self.peers.append(peer)
        await peer.client.connect(self.urls[node], namespaces=["/agent"],
                                  auth={"token": await socket_token(self.urls[node], username)},
                                  transports=["websocket"], wait_timeout=WAIT)
        assert (await peer.ok("whoami"))["node"] == node
        await peer.expect("agent_state", state="away", reason="not_ready")
        await peer.available()
        return peer

    async def create(self, node: str, queue: str, n: int) -> str:
        """An interaction created over HTTP on ``node`` by the supervisor."""
        response = await self.supervisors[node].post(
            f"{self.urls[node]}/api/interactions",
            json={"queue": queue, "channel": "chat", "context": {"n": n}})
        body = await response.json()
        assert response.status == 201, body
        return str(body["interaction"])

    async def load(self, username: str) -> tuple[int, int]:
        """Chats an agent holds by its counter and by its set of interactions (Redis)."""
        counter = await self.redis.hget(ACD.agent(username), "load:chat")
        held = await self.redis.scard(ACD.agent_interactions(username))
        return int(counter or 0), int(held)

    async def within_capacity(self) -> None:
        for username in AGENTS:
            counter, held = await self.load(username)
            assert 0 <= counter <= CHAT_LIMIT and held <= CHAT_LIMIT, (username, counter, held)

    async def state(self, ix: str) -> dict[str, str]:
        raw = await self.redis.hgetall(ACD.interaction(ix))
        return {str(k): str(v) for k, v in raw.items()}  # the client decodes responses


def stop_node(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM; a node that does not stop within the grace time is killed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=20)


@pytest.fixture
async def cluster(redis_server: EmbeddedRedis, redis: aioredis.Redis, mongo_url: str,
                  db_name: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    """Staff and queues stored first, then two nodes started on the shared backends."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    staff = StaffDirectory(mongo[db_name])
    await staff.add("supervisor", PASSWORD, Role.SUPERVISOR)
    for username in AGENTS:
        await staff.add(username, PASSWORD, Role.AGENT, skills={"sales": 1})
    await mongo[db_name].queues.insert_many(QUEUES)
    await mongo[db_name].sites.insert_one({"site_key": SITE_KEY, "name": "Shop",
                                           "allowed_origins": [SITE_ORIGIN],
                                           "identity_secret": "unused",
                                           "widget": {"queues": [q["_id"] for q in QUEUES]}})
    env = {"ENGAGE_REDIS_URL": redis_server.url, "ENGAGE_MONGO_URL": mongo_url,
           "ENGAGE_MONGO_DB": db_name, "ENGAGE_LOG_LEVEL": "WARNING",
           "ENGAGE_SOCKET_RATE": "1000", "ENGAGE_SOCKET_BURST": "1000"}
    processes: list[subprocess.Popen[bytes]] = []
    cluster = Cluster(urls={}, redis=redis)
    try:
        for node in NODES:
            port = free_port()
            processes.append(start_node({**env, "ENGAGE_NODE_ID": node,
                                         "ENGAGE_DATA_DIR": str(tmp_path / node)}, port))
            cluster.urls[node] = f"http://127.0.0.1:{port}"
            cluster.processes[node] = processes[-1]
        for node, process in zip(NODES, processes, strict=True):
            await wait_ready(cluster.urls[node], process)
            http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            cluster.supervisors[node] = http
            assert (await login(http, cluster.urls[node], "supervisor")).status == 200
        yield cluster
    finally:
        for peer in cluster.peers:
            await peer.client.disconnect()
        for http in cluster.supervisors.values():
            await http.close()
        for process in processes:
            stop_node(process)
        await mongo.drop_database(db_name)
        await mongo.close()


async def finish(agent: Peer, ix: str) -> None:
    await agent.ok("acd.complete", {"interaction": ix})
    await agent.ok("acd.wrap_up", {"interaction": ix, "disposition": "resolved"})
    await agent.expect("closed", interaction=ix)


async def test_ring_all_offer_is_won_by_exactly_one_agent(cluster: Cluster) -> None:
    agents = [await cluster.agent("ann"), await cluster.agent("ben")]  # node A, node B
    wins: Counter[str] = Counter()
    for n in range(20):
        ix = await cluster.create(NODES[n % 2], "ring", n)
        offers = await asyncio.gather(*(a.expect("offer", interaction=ix) for a in agents))
        assert all(o["ring_all"] is True and o["context"] == {"n": n} for o in offers)

        replies = await asyncio.gather(*(a.call("acd.accept", {"interaction": ix})
                                         for a in agents))
        won = [a for a, r in zip(agents, replies, strict=True) if r["ok"] is True]
        refused = [r for r in replies if r["ok"] is not True]
        assert len(won) == 1 and len(refused) == 1, replies
        assert refused[0]["code"] == "offer_gone" and refused[0]["message"], refused
        winner = won[0]
        loser = agents[1 - agents.index(winner)]
        await loser.expect("offer_revoked", interaction=ix, reason="taken")
        assert await winner.interactions() == [ix]
        assert await loser.interactions() == []
        assert await cluster.load(winner.name) == (1, 1)
        assert await cluster.load(loser.name) == (0, 0)
        assert (await cluster.state(ix))["agent"] == winner.name
        await cluster.within_capacity()

        await finish(winner, ix)
        assert await cluster.load(winner.name) == (0, 0)
        wins[winner.name] += 1
    assert sum(wins.values()) == 20


async def test_concurrent_arrivals_each_reach_exactly_one_agent(cluster: Cluster) -> None:
    agents = [await cluster.agent(name) for name in AGENTS]
    offered: defaultdict[str, list[str]] = defaultdict(list)
    accepted: dict[str, str] = {}
    closed: set[str] = set()
    problems: list[BaseException] = []
    all_closed = asyncio.Event()
    expected = 30

    async def handle(agent: Peer, ix: str) -> None:
        try:
            assert (await agent.accept(ix))["interaction"] == ix
            accepted[ix] = agent.name
            assert (await cluster.state(ix))["state"] == "connected"
            await cluster.within_capacity()
            await finish(agent, ix)
            closed.add(ix)
        except Exception as exc:
            problems.append(exc)
        if problems or len(closed) == expected:
            all_closed.set()

    async def console(agent: Peer) -> None:
        """Accepts every offer as it arrives; each is handled in its own task."""
        handling: set[asyncio.Task[None]] = set()
        try:
            while True:
                offer = await agent.inbox.expect("offer", timeout=3600)
                offered[offer["interaction"]].append(agent.name)
                await cluster.within_capacity()
                handling.add(asyncio.create_task(handle(agent, offer["interaction"])))
        finally:
            for task in handling:
                task.cancel()

    consoles = [asyncio.create_task(console(agent)) for agent in agents]
    try:
        created = await asyncio.gather(*(cluster.create(NODES[n % 2], "idle", n)
                                         for n in range(expected)))
        assert len(set(created)) == expected
        waiter = asyncio.create_task(all_closed.wait())
        done, _ = await asyncio.wait([waiter, *consoles], timeout=60,
                                     return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        problems.extend(e for t in consoles if t.done() and (e := t.exception()) is not None)
        assert not problems, problems
        assert waiter in done, f"closed {len(closed)} of {expected}; offered {dict(offered)}"
    finally:
        for task in consoles:
            task.cancel()
        await asyncio.gather(*consoles, return_exceptions=True)

    assert sorted(offered) == sorted(created) == sorted(accepted) == sorted(closed)
    assert all(len(names) == 1 for names in offered.values()), offered
    assert all(accepted[ix] == offered[ix][0] for ix in created)
    assert {accepted[ix] for ix in created} == set(AGENTS)  # both nodes' agents served
    for ix in created:
        state = await cluster.state(ix)
        assert state["state"] == "closed" and state["agent"] == accepted[ix]
    for name in AGENTS:
        assert await cluster.load(name) == (0, 0)


async def test_positions_reach_visitors_on_the_other_node(cluster: Cluster) -> None:
    """A visitor waits on node B; a higher-priority arrival created on node A moves it back
    one place, and node B tells its visitor (queue changes are shared through Redis)."""
    url_b = cluster.urls["node-b"]
    async with aiohttp.ClientSession() as http:
        token = await (await http.post(f"{url_b}/api/visitor/token",
                                       json={"site_key": SITE_KEY},
                                       headers={"Origin": SITE_ORIGIN})).json()
    visitor = Peer("visitor", "/visitor")
    cluster.peers.append(visitor)
    await visitor.client.connect(url_b, namespaces=["/visitor"], auth={"token": token["token"]},
                                 headers={"Origin": SITE_ORIGIN}, transports=["websocket"],
                                 wait_timeout=WAIT)
    mine = await visitor.ok("contact.request", {"queue": "idle", "channel": "chat"})
    assert (mine["state"], mine["position"]) == ("queued", 1)

    response = await cluster.supervisors["node-a"].post(
        f"{cluster.urls['node-a']}/api/interactions",
        json={"queue": "idle", "channel": "chat", "priority": 5})
    assert response.status == 201
    update = await visitor.expect("queue_status", interaction=mine["interaction"], position=2)
    assert update["state"] == "queued" and update["estimated_wait_seconds"] >= 0


async def test_chat_across_nodes_survives_the_visitors_node_dying(cluster: Cluster) -> None:
    """Visitor on node B, agent on node A; node B is killed mid-conversation; the visitor
    reconnects to node A and gets what was said meanwhile, nothing lost or doubled."""
    ann = await cluster.agent("ann")
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{cluster.urls['node-b']}/api/visitor/token",
                                   json={"site_key": SITE_KEY}, headers={"Origin": SITE_ORIGIN})
        token = (await response.json())["token"]

    async def visitor_on(node: str) -> Peer:
        peer = Peer(f"visitor@{node}", "/visitor")
        cluster.peers.append(peer)
        await peer.client.connect(cluster.urls[node], namespaces=["/visitor"],
                                  auth={"token": token}, headers={"Origin": SITE_ORIGIN},
                                  transports=["websocket"], wait_timeout=WAIT)
        return peer

    visitor = await visitor_on("node-b")
    await visitor.ok("visit.hello", {"page": {"url": "http://shop.example.test/"}})
    ix = (await visitor.ok("contact.request", {"queue": "idle"}))["interaction"]
    await ann.expect("offer", interaction=ix)
    await ann.accept(ix)
    await visitor.expect("connected", interaction=ix)

    said = str(uuid.uuid4())
    await visitor.ok("chat.send", {"interaction": ix, "client_id": said, "text": "from B"})
    assert (await ann.expect("chat.message", interaction=ix, seq=1))["text"] == "from B"
    await ann.ok("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                               "text": "hello from A"})
    await visitor.expect("chat.message", interaction=ix, seq=2)

    cluster.processes["node-b"].kill()
    cluster.processes["node-b"].wait(timeout=30)
    for n in range(2):
        await ann.ok("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                                   "text": f"while B was down {n}"})

    back = await visitor_on("node-a")
    hello = await back.ok("visit.hello", {"page": {"url": "http://shop.example.test/"}})
    assert hello["active"]["interaction"] == ix and hello["active"]["last_seq"] == 4
    gap = await back.ok("chat.sync", {"interaction": ix, "after_seq": 2})
    assert [m["text"] for m in gap["messages"]] == ["while B was down 0", "while B was down 1"]
    # A message whose ack was lost with node B is sent again: stored once.
    again = await back.ok("chat.send", {"interaction": ix, "client_id": said, "text": "from B"})
    assert again == {"ok": True, "seq": 1, "at": again["at"], "duplicate": True}
    await ann.ok("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                               "text": "welcome back"})
    assert (await back.expect("chat.message", interaction=ix, seq=5))["text"] == "welcome back"
    history = await ann.ok("chat.sync", {"interaction": ix, "after_seq": 0})
    assert [m["seq"] for m in history["messages"]] == [1, 2, 3, 4, 5]


async def test_the_trail_stops_across_nodes_when_the_agents_part_ends(cluster: Cluster) -> None:
    """Agent on node A watches a visitor on node B; the visitor ends the conversation on node
    B, and node B takes the agent's socket on node A out of the watch room."""
    ann = await cluster.agent("ann")
    url_b = cluster.urls["node-b"]
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{url_b}/api/visitor/token", json={"site_key": SITE_KEY},
                                   headers={"Origin": SITE_ORIGIN})
        token = (await response.json())["token"]
    visitor = Peer("visitor@node-b", "/visitor")
    cluster.peers.append(visitor)
    await visitor.client.connect(url_b, namespaces=["/visitor"], auth={"token": token},
                                 headers={"Origin": SITE_ORIGIN}, transports=["websocket"],
                                 wait_timeout=WAIT)
    await visitor.ok("visit.hello", {"page": {"url": "http://shop.example.test/"}})
    ix = (await visitor.ok("contact.request", {"queue": "idle"}))["interaction"]
    await ann.expect("offer", interaction=ix)
    await ann.accept(ix)
    await visitor.expect("connected", interaction=ix)
    await ann.ok("visit.watch", {"interaction": ix})

    def page(path: str) -> dict[str, Any]:
        return {"events": [{"type": "page", "at": 1_790_000_000_000, "nav": "push",
                            "url": f"http://shop.example.test/{path}", "title": path}]}

    await visitor.ok("visit.events", page("during"))
    await ann.expect("trail")
    await visitor.ok("contact.cancel", {"interaction": ix})  # ended on node B
    await ann.expect("wrap_up", interaction=ix)
    await visitor.ok("visit.events", page("after"))
    # Typing reaches the agent (in wrap-up) on the same fan-out channel, after the trail.
    await visitor.ok("chat.typing", {"interaction": ix, "typing": True})
    await ann.expect("chat.typing", interaction=ix)
    urls = [e["url"] for pushed in ann.inbox.seen("trail") for e in pushed["events"]]
    assert urls == ["http://shop.example.test/during"]
