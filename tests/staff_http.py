"""Staff HTTP against a live node: a cookie session per role and JSON calls that check status."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.conftest import LiveNode, login

Document = dict[str, Any]


def cookie_session() -> aiohttp.ClientSession:
    # unsafe=True: the node listens on 127.0.0.1, whose cookies aiohttp drops by default.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def as_role(http: aiohttp.ClientSession, node: LiveNode, username: str) -> None:
    http.cookie_jar.clear()
    assert (await login(http, node.url, username)).status == 200


async def session_as(node: LiveNode, username: str) -> aiohttp.ClientSession:
    """A new session signed in as ``username``; the caller closes it."""
    http = cookie_session()
    await as_role(http, node, username)
    return http


async def call(http: aiohttp.ClientSession, node: LiveNode, method: str, path: str,
               status: int, body: Any = None) -> Document:
    """A same-origin JSON call; fails unless the answer has ``status``."""
    response = await http.request(method, node.url + path, json=body,
                                  headers={"Origin": node.settings.public_origin})
    answer: Document = await response.json()
    assert response.status == status, answer
    return answer
