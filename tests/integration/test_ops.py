"""Health, readiness and metrics endpoints; who may read metrics; transport headers and
what the static route serves."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from engage.app import create_app
from engage.infra.backends import open_backends
from engage.infra.embedded import EmbeddedRedis
from tests.conftest import SITE_KEY, SITE_ORIGIN, LiveNode, node_settings, node_with, socket_token
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


METRICS_TOKEN = "metrics-token-for-the-test-0123456789"
DIST = Path(__file__).resolve().parents[2] / "static" / "dist"


async def test_metrics_are_not_served_to_a_proxied_request(node: LiveNode) -> None:
    """A proxy on the same host connects from loopback for every visitor: a request that
    came through one is not trusted by its address."""
    async with aiohttp.ClientSession() as http:
        for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
            async with http.get(f"{node.url}/metrics", headers={header: "203.0.113.9"}) as r:
                assert r.status == 404, header
                body = await r.json()
                assert body["ok"] is False and "engage_" not in await r.text()
        async with http.get(f"{node.url}/metrics") as response:  # direct, from loopback
            assert response.status == 200


async def test_metrics_outside_the_allowed_networks_need_the_token(
        redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
        aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    """With loopback not on the allow-list the test client is any remote peer: only the
    bearer token opens /metrics, and a wrong one is refused even from an allowed peer."""
    async with node_with(redis_server.url, mongo_url, db_name, tmp_path, aiohttp_server,
                         ENGAGE_METRICS_ALLOW="192.0.2.0/24",
                         ENGAGE_METRICS_TOKEN=METRICS_TOKEN) as node:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{node.url}/metrics") as response:
                assert response.status == 401
                assert response.headers["WWW-Authenticate"] == "Bearer"
                assert (await response.json())["code"] == "unauthenticated"
            for wrong in ("Bearer nope", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x"):
                async with http.get(f"{node.url}/metrics",
                                    headers={"Authorization": wrong}) as response:
                    assert response.status == 401, wrong
            async with http.get(f"{node.url}/metrics",
                                headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as r:
                assert r.status == 200 and "engage_socket_connections" in await r.text()


async def test_metrics_without_a_token_are_hidden_from_other_networks(
        redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
        aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    async with node_with(redis_server.url, mongo_url, db_name, tmp_path, aiohttp_server,
                         ENGAGE_METRICS_ALLOW="none") as node:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{node.url}/metrics") as response:
                assert response.status == 404 and (await response.json())["ok"] is False


async def test_unknown_http_methods_are_not_metric_labels(node: LiveNode) -> None:
    async with aiohttp.ClientSession() as http:
        # Methods the C parser knows (it answers 400 to made-up ones; the pure-Python parser,
        # with AIOHTTP_NO_EXTENSIONS, accepts any token): labels only for the standard ones.
        for method in ("PROPFIND", "MKCOL", "PURGE", "SUBSCRIBE", "UNLOCK"):
            async with http.request(method, f"{node.url}/healthz") as response:
                assert response.status == 405
        async with http.get(f"{node.url}/metrics") as response:
            text = await response.text()
    assert not any(f'method="{m}"' in text for m in ("PROPFIND", "MKCOL", "PURGE", "UNLOCK"))
    assert 'method="other",route="unmatched",status="405"} 5.0' in text


async def test_pages_send_a_strict_csp(node: LiveNode) -> None:
    own = node.settings.public_origin.removeprefix("http://")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{node.url}/login") as page:
            csp = page.headers["Content-Security-Policy"]
        async with http.get(f"{node.url}/widget/frame",
                            params={"site": SITE_KEY, "origin": SITE_ORIGIN}) as frame:
            frame_csp = frame.headers["Content-Security-Policy"]
    for policy in (csp, frame_csp):
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["connect-src"] == f"'self' ws://{own}", policy
        assert directives["object-src"] == "'none'", policy
    assert "Strict-Transport-Security" not in page.headers  # plain http: HSTS means nothing


async def test_https_deployment_sends_hsts_and_wss_only(
        redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
        aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    async with node_with(redis_server.url, mongo_url, db_name, tmp_path, aiohttp_server,
                         ENGAGE_PUBLIC_URL="https://engage.example.test") as node:
        async with aiohttp.ClientSession() as http:
            for path in ("/login", "/healthz", "/no-such-page"):
                async with http.get(f"{node.url}{path}") as response:
                    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
            csp = response.headers["Content-Security-Policy"]
    assert "connect-src 'self' wss://engage.example.test;" in csp


def built(name: str) -> Path:
    path = DIST / name
    if not path.exists():
        pytest.fail(f"static/dist has no {name}: run `npm ci && npm run build`")
    return path


@pytest.mark.parametrize("path", [
    "/static/dist/console.js.map", "/static/dist/console.js.map/", "/static/dist/console.js.map/.",
    "/static/dist/console.js%2Emap", "/static/dist/console.js%2emap", "/static//dist/widget.js.map",
])
async def test_source_maps_are_not_served_by_default(node: LiveNode, path: str) -> None:
    built("console.js.map")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{node.url}/static/dist/console.js") as bundle:
            assert bundle.status == 200  # the bundles themselves are served
        # As typed: the client must not normalise the path before the server sees it.
        async with http.get(URL(f"{node.url}{path}", encoded=True)) as response:
            assert response.status == 404, path
            assert "mappings" not in await response.text()


async def test_source_maps_are_served_when_the_setting_asks(
        redis_server: EmbeddedRedis, mongo_url: str, db_name: str, tmp_path: Path,
        aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    built("console.js.map")
    async with node_with(redis_server.url, mongo_url, db_name, tmp_path, aiohttp_server,
                         ENGAGE_SERVE_SOURCE_MAPS="1") as node:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{node.url}/static/dist/console.js.map") as response:
                assert response.status == 200 and "mappings" in await response.text()
