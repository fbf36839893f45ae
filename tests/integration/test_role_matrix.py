"""Every staff route and every Socket.IO namespace/event, tried with each role and anonymously."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import socketio

from agent_console.web_auth import RouteRule
from engage.app import ROUTE_RULES
from engage.models import Role
from signaling.schemas import EVENTS, NAMESPACE_ROLES
from tests.conftest import LiveNode, login, socket_token

ROLES: list[Role | None] = [None, *Role]


def concrete(path: str) -> str:
    return (path.replace("{username}", "nobody").replace("{site_key}", "site_matrix")
            .replace("{queue_id}", "matrix").replace("{ix}", "ix0000000000")
            .replace("{customer_id}", "C0000001").replace("{campaign_id}", "cmp_matrix")
            .replace("{att_id}", "att_matrix0001").replace("{rule_id}", "rule_matrix0001")
            .replace("{answer_id}", "kb_matrix0001").replace("{post_id}", "post_matrix0001")
            .replace("{recording_id}", "rec_matrix0001"))


async def request_as(node: LiveNode, role: Role | None, rule: RouteRule) -> aiohttp.ClientResponse:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        if role is not None:
            assert (await login(http, node.url, role.value)).status == 200
        body: dict[str, Any] = {}
        response = await http.request(rule.method, node.url + concrete(rule.path), json=body,
                                      allow_redirects=False)
        await response.read()
        return response


@pytest.mark.timeout(300)  # every route x every role: ~110 s on a loaded box
async def test_every_staff_route_enforces_its_roles(node: LiveNode) -> None:
    rules: list[RouteRule] = node.app[ROUTE_RULES]
    assert len(rules) >= 10
    for rule in rules:
        for role in ROLES:
            response = await request_as(node, role, rule)
            where = f"{rule.method} {rule.path} as {role}"
            if role is None:
                if rule.page:
                    assert response.status == 303, where
                    assert response.headers["Location"].startswith("/login"), where
                else:
                    assert response.status == 401, where
            elif role in rule.roles:
                assert response.status not in (401, 403), where
                assert not response.headers.get("Location", "").startswith("/login"), where
            else:
                assert response.status == 403, where


async def test_cross_site_post_is_refused_even_with_a_session(node: LiveNode) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, node.url, "admin")
        response = await http.post(f"{node.url}/api/admin/users", json={},
                                   headers={"Origin": "http://evil.example.test"})
        assert response.status == 403
        assert (await response.json())["code"] == "origin_not_allowed"


@pytest.mark.parametrize("namespace", sorted(NAMESPACE_ROLES))
async def test_namespace_admits_only_its_roles(node: LiveNode, namespace: str) -> None:
    for role in ROLES:
        client = socketio.AsyncClient(reconnection=False)
        errors: list[Any] = []
        client.on("connect_error", errors.append, namespace=namespace)
        auth = {"token": await socket_token(node.url, role.value)} if role else {}
        try:
            await client.connect(node.url, namespaces=[namespace], auth=auth,
                                 transports=["websocket"], wait_timeout=5)
            admitted = True
        except socketio.exceptions.ConnectionError:
            admitted = False
        finally:
            await client.disconnect()
        expected = role is not None and role in NAMESPACE_ROLES[namespace]
        assert admitted is expected, f"{namespace} as {role}"
        if not admitted:
            assert errors[0]["data"]["code"] == ("unauthenticated" if role is None
                                                 else "forbidden")


@pytest.mark.parametrize("namespace", sorted(NAMESPACE_ROLES))
async def test_every_event_enforces_its_roles(node: LiveNode, namespace: str) -> None:
    for role in NAMESPACE_ROLES[namespace]:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(node.url, namespaces=[namespace],
                             auth={"token": await socket_token(node.url, role.value)},
                             transports=["websocket"], wait_timeout=5)
        try:
            for name, spec in EVENTS[namespace].items():
                reply = await client.call(name, {"__probe__": 1}, namespace=namespace,
                                          timeout=5)
                if spec.roles is not None and role not in spec.roles:
                    assert reply["code"] == "forbidden", f"{name} as {role}"
                else:
                    # Allowed: the role passes, so the probe payload is what gets refused.
                    assert reply["code"] == "invalid_payload", f"{name} as {role}"
        finally:
            await client.disconnect()
