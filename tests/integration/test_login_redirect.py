"""After sign-in the node redirects only to its own paths: the ``next`` of a crafted link
cannot send a freshly signed-in member of staff to a look-alike page."""

from __future__ import annotations

import aiohttp
import pytest

from tests.conftest import PASSWORD, LiveNode

HOSTILE_NEXT = ["/\t/evil.example", "/\\evil.example", "//evil.example", "https:evil.example",
                "/%2F%2Fevil.example", "\x00//evil.example", "javascript:alert(1)"]


@pytest.mark.parametrize("raw", HOSTILE_NEXT)
async def test_form_sign_in_never_redirects_off_this_origin(
        node: LiveNode, http: aiohttp.ClientSession, raw: str) -> None:
    page = await http.get(f"{node.url}/login", params={"next": raw})
    assert page.status == 200 and "evil.example" not in await page.text()
    response = await http.post(f"{node.url}/login", allow_redirects=False,
                               data={"username": "agent", "password": PASSWORD, "next": raw})
    assert response.status == 303 and response.headers["Location"] == "/console"


@pytest.mark.parametrize("raw", HOSTILE_NEXT)
async def test_json_sign_in_never_sends_home_off_this_origin(
        node: LiveNode, http: aiohttp.ClientSession, raw: str) -> None:
    response = await http.post(f"{node.url}/login", json={
        "username": "supervisor", "password": PASSWORD, "next": raw})
    assert response.status == 200 and (await response.json())["home"] == "/wallboard"


async def test_a_local_next_is_followed(node: LiveNode, http: aiohttp.ClientSession) -> None:
    response = await http.post(f"{node.url}/login", allow_redirects=False, data={
        "username": "agent", "password": PASSWORD, "next": "/console?tab=queue"})
    assert response.status == 303 and response.headers["Location"] == "/console?tab=queue"
