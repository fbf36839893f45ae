"""Shared fixtures: a private redis-server and nx-27017 per test session, clients per test.

Under pytest-xdist every worker is its own session, so each worker has its own servers (on
ports the kernel hands out, under its own temporary directory) and nothing is shared between
workers; inside a worker each test gets an emptied Redis and a fresh database, as serially.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from engage.infra.backends import Document, ensure_indexes, redis_client
from engage.infra.embedded import EmbeddedMongo, EmbeddedRedis
from engage.tasks import TaskSet


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False)
    with server:
        yield server


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MongoDB when ENGAGE_MONGO_URL is set (contract runs), else nx-27017."""
    external = os.environ.get("ENGAGE_MONGO_URL")
    if external:
        yield external
        return
    server = EmbeddedMongo(tmp_path_factory.mktemp("mongo"))
    with server:
        yield server.url


@pytest.fixture
async def redis(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    client = redis_client(redis_server.url, max_connections=16)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def db_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def db(mongo_url: str, db_name: str) -> AsyncIterator[AsyncDatabase[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongo_url, tz_aware=True)
    database = client[db_name]
    await ensure_indexes(database)
    yield database
    await client.drop_database(db_name)
    await client.close()


@pytest.fixture(scope="session")
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
async def tasks() -> AsyncIterator[TaskSet]:
    """A task set for services built outside an app; closed (every task stopped) after."""
    task_set = TaskSet()
    yield task_set
    await task_set.close()


# -- a live engage node on real Redis and nx-27017 ----------------------------------------

from contextlib import asynccontextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from engage.app import SERVICES, create_app  # noqa: E402
from engage.config import Settings, load  # noqa: E402
from engage.infra.backends import open_backends  # noqa: E402
from engage.infra.embedded import free_port  # noqa: E402
from engage.models import Role  # noqa: E402
from engage.services import Services  # noqa: E402

PASSWORD = "test-password-123"
SITE_ORIGIN = "http://shop.example.test"
SITE_KEY = "site_test"


@dataclass
class LiveNode:
    url: str
    settings: Settings
    app: web.Application

    @property
    def services(self) -> Services:
        return self.app[SERVICES]


def node_settings(redis_url: str, mongo_url: str, db_name: str, tmp: Path,
                  **env: str) -> Settings:
    port = free_port()
    return load({"ENGAGE_REDIS_URL": redis_url, "ENGAGE_MONGO_URL": mongo_url,
                 "ENGAGE_MONGO_DB": db_name, "ENGAGE_PORT": str(port),
                 "ENGAGE_DATA_DIR": str(tmp), "ENGAGE_SECRET_KEY": "test-secret-key",
                 "ENGAGE_LOG_JSON": "false", **env})


@asynccontextmanager
async def node_with(redis_url: str, mongo_url: str, db_name: str, tmp_path: Path,
                    aiohttp_server: Any, **env: str) -> AsyncIterator[LiveNode]:
    """One node with ``env`` on top of the test defaults, one user per role and the test
    site; afterwards the node stops and its database is dropped."""
    settings = node_settings(redis_url, mongo_url, db_name, tmp_path,
                             ENGAGE_CONNECT_TIMEOUT="2", **env)
    async with open_backends(settings, own_children=False) as backends:
        app = create_app(settings, backends)
        server = await aiohttp_server(app, port=settings.port)
        services = app[SERVICES]
        for role in Role:
            await services.staff.add(role.value, PASSWORD, role)
        await services.sites.save(SITE_KEY, "Test shop", [SITE_ORIGIN])
        try:
            # The listening URL, not the public one: a test may pose as an https deployment.
            yield LiveNode(url=str(server.make_url("")).rstrip("/"), settings=settings, app=app)
        finally:
            # The app's clean-up (event log drain, ACD stop) needs Redis: close it first.
            await server.close()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    await client.drop_database(db_name)
    await client.close()


@pytest.fixture
async def node(redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
               redis: aioredis.Redis, aiohttp_server) -> AsyncIterator[LiveNode]:  # type: ignore[no-untyped-def]
    """One engage node on a loopback port, with a site and one user per role."""
    async with node_with(redis_server.url, mongo_url, db_name, tmp_path,
                         aiohttp_server) as live:
        yield live


async def login(http: aiohttp.ClientSession, url: str, username: str,
                password: str = PASSWORD) -> aiohttp.ClientResponse:
    return await http.post(f"{url}/login", json={"username": username, "password": password})


async def socket_token(url: str, username: str) -> str:
    """Sign in as ``username`` and get a one-use Socket.IO token."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        response = await login(http, url, username)
        assert response.status == 200, await response.text()
        response = await http.post(f"{url}/api/socket-token")
        assert response.status == 200, await response.text()
        return str((await response.json())["token"])
