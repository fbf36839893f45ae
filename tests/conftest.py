"""Shared fixtures: a private redis-server and nx-27017 per test session, clients per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from engage.backends import Document, ensure_indexes, redis_client
from engage.embedded import EmbeddedMongo, EmbeddedRedis


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
