"""Sessions, throttling and account disabling against a real Redis and nx-27017."""

from __future__ import annotations

import aiohttp
import pytest
import redis.asyncio as aioredis
from pymongo.asynchronous.database import AsyncDatabase

from engage import keys
from engage.errors import BadCredentials, Conflict, InvalidPayload, LoginThrottled
from engage.infra.backends import Document
from engage.models import Role
from engage.staff.auth import AuthService
from engage.staff.directory import StaffDirectory
from engage.staff.sessions import LoginThrottle, SessionStore, ThrottlePolicy
from tests.conftest import PASSWORD, LiveNode, login


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def auth(db: AsyncDatabase[Document], redis: aioredis.Redis) -> AuthService:
    staff = StaffDirectory(db)
    await staff.add("ann", PASSWORD, Role.AGENT)
    sessions = SessionStore(redis, idle_seconds=600, absolute_seconds=3600, clock=Clock())
    policy = ThrottlePolicy(pair_failures=3, ip_failures=5, window_seconds=900,
                            account_failures=6)
    return AuthService(staff, sessions, LoginThrottle(redis, policy), redis)


async def test_login_creates_a_fresh_session_each_time(auth: AuthService,
                                                       redis: aioredis.Redis) -> None:
    first = await auth.login("ann", PASSWORD, "10.0.0.1")
    second = await auth.login("ANN ", PASSWORD, "10.0.0.1")
    assert first.session_id != second.session_id
    assert 0 < await redis.ttl(keys.session(first.session_id)) <= 600


async def test_absolute_expiry_ends_an_active_session(auth: AuthService) -> None:
    clock = auth.sessions._clock
    assert isinstance(clock, Clock)
    session = await auth.login("ann", PASSWORD, "10.0.0.1")
    clock.now += 3000
    assert await auth.sessions.get(session.session_id) is not None
    clock.now += 601
    assert await auth.sessions.get(session.session_id) is None


async def test_wrong_password_unknown_and_disabled_look_the_same(auth: AuthService) -> None:
    for username, password in [("ann", "wrong-password"), ("nobody", PASSWORD)]:
        with pytest.raises(BadCredentials):
            await auth.login(username, password, "10.0.0.2")
    await auth.disable("ann")
    with pytest.raises(BadCredentials) as info:
        await auth.staff.authenticate("ann", PASSWORD)
    assert info.value.message == "Wrong username or password."


async def test_throttle_per_account_applies_even_to_the_right_password(
        auth: AuthService) -> None:
    for _ in range(3):
        with pytest.raises(BadCredentials):
            await auth.login("ann", "wrong-password", "10.0.0.3")
    with pytest.raises(LoginThrottled) as info:
        await auth.login("ann", PASSWORD, "10.0.0.3")
    assert info.value.to_ack()["retry_after"] > 0
    # The lock is the guesser's (account, address): the owner elsewhere still signs in.
    assert (await auth.login("ann", PASSWORD, "10.0.0.4")).username == "ann"


async def test_throttle_per_account_over_all_addresses_is_softer(auth: AuthService) -> None:
    for address in ("10.0.1.1", "10.0.1.2", "10.0.1.3"):
        for _ in range(2):
            with pytest.raises(BadCredentials):
                await auth.login("ann", "wrong-password", address)
    with pytest.raises(LoginThrottled):
        await auth.login("ann", PASSWORD, "10.0.1.4")


async def test_throttle_per_address(auth: AuthService) -> None:
    for i in range(5):
        with pytest.raises(BadCredentials):
            await auth.login(f"user{i}", "wrong-password", "10.0.0.5")
    with pytest.raises(LoginThrottled):
        await auth.login("ann", PASSWORD, "10.0.0.5")
    assert (await auth.login("ann", PASSWORD, "10.0.0.6")).username == "ann"


async def test_disable_ends_every_session(auth: AuthService) -> None:
    a = await auth.login("ann", PASSWORD, "10.0.0.7")
    b = await auth.login("ann", PASSWORD, "10.0.0.8")
    token = await auth.sessions.issue_socket_token(a)
    _, ended = await auth.disable("ann")
    assert ended == 2
    assert await auth.sessions.get(a.session_id) is None
    assert await auth.sessions.get(b.session_id) is None
    assert await auth.sessions.redeem_socket_token(token) is None


async def test_account_rules(auth: AuthService) -> None:
    with pytest.raises(Conflict):
        await auth.staff.add("ann", PASSWORD, Role.AGENT)
    with pytest.raises(InvalidPayload):
        await auth.staff.add("Bad Name", PASSWORD, Role.AGENT)
    with pytest.raises(InvalidPayload):
        await auth.staff.add("bob", "short", Role.AGENT)


async def test_login_page_flow_sets_a_strict_httponly_cookie(node: LiveNode) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        page = await http.get(f"{node.url}/login")
        assert page.status == 200 and 'name="password"' in await page.text()
        response = await http.post(f"{node.url}/login", allow_redirects=False,
                                   data={"username": "agent", "password": PASSWORD,
                                         "next": "//evil.example.test"})
        assert response.status == 303 and response.headers["Location"] == "/console"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        me = await http.get(f"{node.url}/api/me")
        assert (await me.json())["role"] == "agent"
        await http.post(f"{node.url}/logout", allow_redirects=False)
        assert (await http.get(f"{node.url}/api/me")).status == 401


async def test_login_errors_are_json_for_api_clients(node: LiveNode) -> None:
    async with aiohttp.ClientSession() as http:
        response = await login(http, node.url, "agent", "wrong-password")
        assert response.status == 401
        assert await response.json() == {"ok": False, "code": "bad_credentials",
                                         "message": "Wrong username or password."}
        bad = await http.post(f"{node.url}/login", data=b"{not json",
                              headers={"Content-Type": "application/json"})
        assert bad.status == 400 and (await bad.json())["ok"] is False


async def test_admins_cannot_lock_themselves_or_everyone_out(auth: AuthService) -> None:
    await auth.staff.add("root", PASSWORD, Role.ADMIN)
    with pytest.raises(Conflict, match="your own account"):
        await auth.disable("ann", actor="ann")
    with pytest.raises(Conflict, match="last active admin"):
        await auth.disable("root", actor="someone-else")
    await auth.staff.add("root2", PASSWORD, Role.ADMIN)
    user, _ = await auth.disable("root", actor="root2")
    assert user.disabled
