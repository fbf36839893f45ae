"""Errors that escape nothing: hostile JSON bodies get a 400 with a stable code before any
deep structure is built, and an unexpected exception becomes a JSON 500 with a request id and
one log line (a full traceback at most once per kind of error and minute)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from pymongo import AsyncMongoClient

from engage.app import create_app
from engage.infra.backends import open_backends
from engage.infra.embedded import EmbeddedRedis
from engage.infra.json_body import MAX_BODY_BYTES, MAX_DEPTH
from tests.conftest import SITE_KEY, SITE_ORIGIN, LiveNode, node_settings
from tests.integration.test_hostile_input import DEEP_FIELD, NESTED
from tests.staff_http import as_role


async def post_raw(http: aiohttp.ClientSession, node: LiveNode, path: str, body: str | bytes,
                   origin: str) -> tuple[int, str, dict[str, Any] | None]:
    data = body.encode("latin-1") if isinstance(body, str) else body
    response = await http.post(node.url + path, data=data, headers={
        "Origin": origin, "Content-Type": "application/json"})
    is_json = response.content_type == "application/json"
    return response.status, response.content_type, (await response.json()) if is_json else None


STAFF_BODIES = {
    "nested-open": NESTED,
    "nested-objects": '{"a":' * 1100 + "1" + "}" * 1100,
    "deep-username": f'{{"username":{DEEP_FIELD},"password":"x","role":"agent"}}',
    "deep-display-name": '{"username":"abc","password":"abcdefghijkl","role":"agent",'
                         f'"display_name":{DEEP_FIELD}}}',
}


@pytest.mark.parametrize("name", list(STAFF_BODIES))
async def test_a_deeply_nested_body_to_an_admin_route_is_a_400(
        node: LiveNode, http: aiohttp.ClientSession, name: str,
        caplog: pytest.LogCaptureFixture) -> None:
    await as_role(http, node, "admin")
    status, kind, body = await post_raw(http, node, "/api/admin/users", STAFF_BODIES[name],
                                        node.settings.public_origin)
    assert (status, kind) == (400, "application/json")
    assert body is not None and body["code"] == "invalid_payload"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_deeply_nested_sign_in_is_a_400(node: LiveNode, http: aiohttp.ClientSession,
                                                caplog: pytest.LogCaptureFixture) -> None:
    status, kind, body = await post_raw(http, node, "/login",
                                        f'{{"username":{DEEP_FIELD},"password":"x"}}',
                                        node.settings.public_origin)
    assert (status, kind) == (400, "application/json")
    assert body is not None and body["code"] == "invalid_payload"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_body_over_the_json_limit_is_refused_as_too_large(
        node: LiveNode, http: aiohttp.ClientSession) -> None:
    padded = '{"site_key":"' + SITE_KEY + '","pad":"' + "x" * MAX_BODY_BYTES + '"}'
    status, kind, body = await post_raw(http, node, "/api/visitor/token", padded, SITE_ORIGIN)
    assert (status, kind) == (413, "application/json")
    assert body is not None and body["code"] == "too_large"


async def test_a_nested_body_within_the_limits_is_accepted(
        node: LiveNode, http: aiohttp.ClientSession) -> None:
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    status, _, body = await post_raw(http, node, "/api/visitor/token",
                                     f'{{"site_key":"{SITE_KEY}","extra":{nested}}}', SITE_ORIGIN)
    assert status == 200 and body is not None and body["ok"] is True


# -- unexpected exceptions -------------------------------------------------------------------

class Boom(Exception):
    """What a bug looks like from the outside: not an EngageError."""


@pytest.fixture
async def crashing_node(redis_server: EmbeddedRedis, mongo_url: str, db_name: str,
                        tmp_path: Path, redis: aioredis.Redis,
                        aiohttp_server: Any) -> AsyncIterator[LiveNode]:
    """A node with two test-only routes that fail the way a bug would."""
    settings = node_settings(redis_server.url, mongo_url, db_name, tmp_path)
    async with open_backends(settings, own_children=False) as backends:
        app = create_app(settings, backends)

        async def boom(request: web.Request) -> web.StreamResponse:
            raise Boom("line one\nline two")  # a newline must not split the log line

        async def recursion(request: web.Request) -> web.StreamResponse:
            def down(n: int) -> int:
                return down(n + 1) + 1
            return web.json_response(down(0))

        app.router.add_get("/test/boom", boom)
        app.router.add_get("/test/recursion", recursion)
        server = await aiohttp_server(app, port=settings.port)
        yield LiveNode(url=settings.public_url, settings=settings, app=app)
        await server.close()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    await client.drop_database(db_name)
    await client.close()


async def test_an_unexpected_exception_is_a_json_500_with_a_request_id(
        crashing_node: LiveNode, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    seen: set[str] = set()
    async with aiohttp.ClientSession() as http:
        for path in ["/test/boom"] * 5 + ["/test/recursion"] * 3:
            response = await http.get(crashing_node.url + path)
            body = await response.json()
            assert response.status == 500 and response.content_type == "application/json"
            assert body["ok"] is False and body["code"] == "internal"
            assert "Boom" not in body["message"] and "line" not in body["message"]
            request_id = body["request_id"]
            assert response.headers["X-Request-Id"] == request_id and request_id not in seen
            seen.add(request_id)
            # Security headers too: the 500 passed through the same middleware as the rest.
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    # One line per failed request, each naming its request id, nothing from aiohttp itself.
    assert len(errors) == 8 and all(r.name == "engage.app" for r in errors)
    assert sorted(getattr(r, "request_id", "") for r in errors) == sorted(seen)
    assert all("\n" not in r.getMessage() for r in errors)
    # A full traceback only for the first of each kind within the minute.
    with_traceback = [r for r in errors if r.exc_info]
    assert [getattr(r, "error", "") for r in with_traceback] == ["Boom", "RecursionError"]
