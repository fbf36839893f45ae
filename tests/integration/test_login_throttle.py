"""Sign-in throttling and argon2 over the real HTTP path of a live node: concurrent guesses,
lock-outs by a stranger, the trusted-proxy header, and sockets served during a storm."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from argon2 import PasswordHasher
from pymongo import AsyncMongoClient

from engage.app import SERVICES, create_app
from engage.infra.backends import open_backends
from engage.infra.embedded import EmbeddedRedis
from engage.models import Role
from engage.staff.sessions import ThrottlePolicy
from tests.conftest import PASSWORD, LiveNode, node_settings, socket_token

POLICY = ThrottlePolicy()  # the node's own
PING_WAIT = 30.0  # generous: a ping answered at all during the check is what counts


class CountingHasher(PasswordHasher):
    """The real argon2 hasher, counting the verifications it runs (from any thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.checks = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self._lock:
            self.checks += 1
        return super().verify(hash, password)


class PingingHasher(CountingHasher):
    """Before each verification, asks for a socket ping round trip and waits for it.

    Off the event loop the node answers the ping while the check is under way; on the
    loop's own thread no ping can be answered until the check returns, so that check is
    counted as a missed ping at once (waiting would only confirm it).
    """

    def __init__(self) -> None:
        super().__init__()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ping: Callable[[], Any] | None = None
        self.answered = 0
        self.missed = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        if self.ping is not None and self.loop is not None:
            self._ping_during_check(self.loop, self.ping)
        return super().verify(hash, password)

    def _ping_during_check(self, loop: asyncio.AbstractEventLoop,
                           ping: Callable[[], Any]) -> None:
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        answered = False
        if not on_loop:
            try:
                reply = asyncio.run_coroutine_threadsafe(ping(), loop).result(PING_WAIT)
                answered = reply.get("ok") is True
            except Exception:  # any failure is a ping not answered
                answered = False
        with self._lock:
            if answered:
                self.answered += 1
            else:
                self.missed += 1


class ConcurrencyHasher(CountingHasher):
    """Records the most verifications running at the same time."""

    def __init__(self) -> None:
        super().__init__()
        self.running = 0
        self.most = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.running -= 1


@asynccontextmanager
async def live_node(redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp: Path,
                    aiohttp_server: Any, hasher: PasswordHasher,
                    **env: str) -> AsyncIterator[LiveNode]:
    """One node with ``hasher`` injected and one user per role."""
    settings = node_settings(redis_server.url, mongo_url, db_name, tmp, **env)
    async with open_backends(settings, own_children=False) as backends:
        app = create_app(settings, backends, hasher)
        server = await aiohttp_server(app, port=settings.port)
        for role in Role:
            await app[SERVICES].staff.add(role.value, PASSWORD, role)
        try:
            yield LiveNode(url=settings.public_url, settings=settings, app=app)
        finally:
            await server.close()
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
            await client.drop_database(db_name)
            await client.close()


async def sign_in(http: aiohttp.ClientSession, node: LiveNode, username: str, password: str,
                  forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with http.post(f"{node.url}/login", json={"username": username, "password": password},
                         headers=headers) as response:
        return response.status


async def test_concurrent_wrong_passwords_run_at_most_the_allowed_checks(
        redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
        redis: Any, aiohttp_server: Any) -> None:
    hasher = CountingHasher()
    async with live_node(redis_server, mongo_url, db_name, tmp_path, aiohttp_server,
                         hasher) as node, aiohttp.ClientSession() as http:
        statuses = Counter(await asyncio.gather(*(
            sign_in(http, node, "agent", f"wrong-password-{i}") for i in range(50))))
        assert hasher.checks <= POLICY.pair_failures, (hasher.checks, statuses)
        # Every check that ran answered 401; every other attempt was refused unchecked.
        assert statuses == Counter({401: hasher.checks, 429: 50 - hasher.checks})
        registry = node.app[SERVICES].metrics.registry
        assert registry.get_sample_value("engage_password_checks_total") == hasher.checks


async def test_guessing_from_one_address_does_not_lock_out_others(
        redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
        redis: Any, aiohttp_server: Any) -> None:
    """Behind a proxy (configured as trusted): one stranger guesses every account's password
    and made-up names until the address limit; the staff at their own addresses sign in."""
    hasher = CountingHasher()
    async with live_node(redis_server, mongo_url, db_name, tmp_path, aiohttp_server, hasher,
                         ENGAGE_TRUSTED_PROXIES="127.0.0.1/32, ::1") as node, \
            aiohttp.ClientSession() as http:
        attacker = "203.0.113.9"
        guesses = [(role.value, f"guess-{i}") for role in Role
                   for i in range(POLICY.pair_failures)]
        guesses += [(f"made-up-{i}", "guess") for i in range(POLICY.ip_failures - len(guesses))]
        for username, password in guesses:
            assert await sign_in(http, node, username, password, attacker) == 401
        # The stranger is now locked out, even with the right password...
        assert await sign_in(http, node, "agent", PASSWORD, attacker) == 429
        assert await sign_in(http, node, "newcomer", "guess", attacker) == 429
        # ...and everyone else is not. A client-written hop left of the proxy's is no cover.
        for i, role in enumerate(Role):
            assert await sign_in(http, node, role.value, PASSWORD,
                                 f"{attacker}, 198.51.100.{i + 1}") == 200, role


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
        redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
        redis: Any, aiohttp_server: Any) -> None:
    """Unconfigured (or from a peer outside the trusted networks) the header is the client's
    own words: a fresh made-up address per guess does not escape the lock."""
    for trusted in ("", "10.0.0.0/8"):
        hasher = CountingHasher()
        env = {"ENGAGE_TRUSTED_PROXIES": trusted} if trusted else {}
        await redis.flushdb()
        async with live_node(redis_server, mongo_url, f"{db_name}{len(trusted)}", tmp_path,
                             aiohttp_server, hasher, **env) as node, \
                aiohttp.ClientSession() as http:
            for i in range(POLICY.pair_failures):
                assert await sign_in(http, node, "agent", "wrong-password",
                                     f"192.0.2.{i + 1}") == 401
            assert await sign_in(http, node, "agent", PASSWORD, "192.0.2.200") == 429
            assert hasher.checks == POLICY.pair_failures


async def test_a_login_storm_does_not_stall_socket_pings(
        redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
        redis: Any, aiohttp_server: Any) -> None:
    hasher = PingingHasher()
    async with live_node(redis_server, mongo_url, db_name, tmp_path, aiohttp_server,
                         hasher) as node, aiohttp.ClientSession() as http:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(node.url, namespaces=["/agent"],
                             auth={"token": await socket_token(node.url, "agent")},
                             transports=["websocket"], wait_timeout=PING_WAIT)
        try:
            hasher.loop = asyncio.get_running_loop()
            hasher.ping = lambda: client.call("ping", {"text": "storm"}, namespace="/agent",
                                              timeout=PING_WAIT)
            before = hasher.checks
            storm = [(role.value, PASSWORD) for role in Role]
            storm += [(role.value, "wrong-password") for role in Role]
            statuses = await asyncio.gather(*(sign_in(http, node, u, p) for u, p in storm))
            assert sorted(statuses) == [200] * len(Role) + [401] * len(Role)
        finally:
            hasher.ping = None
            await client.disconnect()
        assert hasher.missed == 0, f"{hasher.missed} of {hasher.checks - before} checks " \
                                   f"stalled the socket's ping"
        assert hasher.answered == hasher.checks - before == len(storm)


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_password_checks_never_exceed_the_pool(
        redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
        redis: Any, aiohttp_server: Any, workers: str) -> None:
    hasher = ConcurrencyHasher()
    async with live_node(redis_server, mongo_url, db_name, tmp_path, aiohttp_server, hasher,
                         ENGAGE_PASSWORD_WORKERS=workers) as node, \
            aiohttp.ClientSession() as http:
        statuses = await asyncio.gather(*(sign_in(http, node, role.value, PASSWORD)
                                          for role in Role for _ in range(3)))
        assert set(statuses) == {200}
    assert 1 <= hasher.most <= int(workers)
