"""Internal actors are a flag, never a name: reserved user names are refused when an account
is created (admin API, CLI), and an old account that already holds one gains nothing by it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from argon2 import PasswordHasher

from engage.infra.embedded import EmbeddedRedis
from engage.models import Role
from engage.services import Services
from engage.staff.directory import RESERVED_USERNAMES
from tests.conftest import PASSWORD, SITE_KEY, SITE_ORIGIN, LiveNode
from tests.socket_peers import Floor, live_floor
from tests.staff_http import as_role, call

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("username", sorted(RESERVED_USERNAMES))
async def test_admin_cannot_create_an_account_with_a_reserved_name(
        node: LiveNode, http: aiohttp.ClientSession, username: str) -> None:
    await as_role(http, node, "admin")
    refused = await call(http, node, "POST", "/api/admin/users", 400,
                         {"username": username, "password": PASSWORD, "role": "agent"})
    assert refused["code"] == "invalid_payload" and "reserved" in refused["message"]
    users = await call(http, node, "GET", "/api/admin/users", 200)
    assert username not in [u["username"] for u in users["users"]]


def test_cli_refuses_a_reserved_user_name(redis_server: EmbeddedRedis, mongo_url: str,
                                          db_name: str, tmp_path: Path) -> None:
    env = {**os.environ, "ENGAGE_REDIS_URL": redis_server.url, "ENGAGE_MONGO_URL": mongo_url,
           "ENGAGE_MONGO_DB": db_name, "ENGAGE_DATA_DIR": str(tmp_path),
           "ENGAGE_SECRET_KEY": "test-secret-key"}
    done = subprocess.run(
        [sys.executable, "-m", "engage", "users", "add", "system", "--role", "admin",
         "--password-stdin"], input=PASSWORD + "\n", env=env, capture_output=True, text=True,
        cwd=ROOT, timeout=60)
    assert done.returncode == 1 and "reserved" in done.stderr, done.stderr


async def seed(services: Services) -> None:
    for name in ("alice", "bob"):
        await services.staff.add(name, PASSWORD, Role.AGENT, skills={"sales": 1})
    # As a database from before the reserved names might hold it: written directly.
    now = datetime.now(UTC)
    await services.backends.db.staff.insert_one({
        "username": "system", "role": Role.AGENT.value, "display_name": "system",
        "password_hash": PasswordHasher().hash(PASSWORD), "disabled": False,
        "skills": {"sales": 1}, "queues": [], "created_at": now, "updated_at": now})
    # The widget may name the sales queue (a visitor asks only its site's own).
    await services.sites.save(SITE_KEY, "Test shop", [SITE_ORIGIN], {"queues": ["sales"]})
    await services.queues.save({"_id": "sales", "required_skills": {"sales": 1},
                                "wrap_up_seconds": 30, "offer_timeout_seconds": 30,
                                "max_wait_seconds": 600})


@pytest.fixture
async def floor(redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
                redis: aioredis.Redis, aiohttp_server: Any) -> AsyncIterator[Floor]:
    async with live_floor(redis_server.url, mongo_url, db_name, tmp_path, aiohttp_server, seed,
                          Floor) as floor:
        yield floor


async def test_an_account_named_system_cannot_end_a_colleagues_consultation(
        floor: Floor) -> None:
    # Not available: the chat must reach alice, not the account named "system".
    intruder = await floor.agent("system", available=False)
    alice = await floor.agent("alice")
    visitor = await floor.visitor()
    ix = str((await floor.ask(visitor, "sales", "chat", {}))["interaction"])
    await alice.take(ix)
    bob = await floor.agent("bob")  # after alice took the chat, so it was hers
    warm = {"interaction": ix, "to_agent": "bob", "mode": "warm"}
    await alice.ok("acd.transfer", warm)
    await bob.expect("consult_offer", interaction=ix, from_agent="alice")

    await intruder.refused("acd.consult_cancel", {"interaction": ix}, "not_your_interaction")
    assert (await floor.store.fields(ix))["consult_state"] == "offered"
    await bob.ok("acd.consult_accept", {"interaction": ix})
    await intruder.refused("acd.consult_complete", {"interaction": ix}, "not_your_interaction")
    fields = await floor.store.fields(ix)
    assert (fields["agent"], fields["consult"], fields["consult_state"]) == (
        "alice", "bob", "accepted")
    # The owner still can: the refusal is about who asks, not about the consultation.
    await alice.ok("acd.consult_complete", {"interaction": ix})
    await bob.expect("transfer_completed", interaction=ix, from_agent="alice")
