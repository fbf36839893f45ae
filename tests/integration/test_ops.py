"""Health, readiness and metrics endpoints."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from engage.app import create_app
from engage.infra.backends import open_backends
from engage.infra.embedded import EmbeddedRedis
from tests.conftest import LiveNode, node_settings, socket_token
from tests.rawsocket import RawSocket


async def test_health_and_readiness(node: LiveNode) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{node.url}/healthz") as response:
            assert (await response.json())["ok"] is True
        async with http.get(f"{node.url}/readyz") as response:
            assert response.status == 200
            assert (await response.json())["checks"] == {"redis": "ok", "mongo": "ok"}


async def test_readiness_fails_when_redis_goes_away(mongo_url: str, db_name: str,
                                                    tmp_path: Path, aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    redis = EmbeddedRedis(tmp_path / "own-redis", persist=False)
    redis.start()
    try:
        settings = node_settings(redis.url, mongo_url, db_name, tmp_path)
        async with open_backends(settings, own_children=False) as backends:
            app = create_app(settings, backends)
            server = await aiohttp_server(app, port=settings.port)
            redis.stop()
            async with aiohttp.ClientSession() as http:
                async with http.get(server.make_url("/readyz")) as response:
                    body = await response.json()
            assert response.status == 503
            assert body["ok"] is False and body["checks"]["mongo"] == "ok"
            assert body["checks"]["redis"].startswith("error")
            redis.start()  # let the app's clean-up talk to Redis again
    finally:
        redis.stop()


async def test_metrics_count_connections_events_and_errors(node: LiveNode) -> None:
    sock = await RawSocket.open(node.url)
    await sock.join("/agent", {"token": await socket_token(node.url, "agent")})
    await sock.event("/agent", 1, "ping", {})
    await sock.ack("/agent", 1)
    await sock.event("/agent", 2, "nope", {})
    await sock.ack("/agent", 2)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{node.url}/metrics") as response:
            text = await response.text()
    await sock.close()
    assert response.headers["Content-Type"].startswith("text/plain")
    assert 'engage_socket_connections{namespace="/agent"} 1.0' in text
    assert 'engage_socket_events_total{event="ping",namespace="/agent"} 1.0' in text
    assert 'engage_socket_event_errors_total{code="unknown_event",namespace="/agent"} 1.0' in text
    assert 'engage_http_request_seconds_count{method="POST",route="/login",status="200"}' in text
    assert 'engage_logins_total{outcome="ok"} 1.0' in text
