"""Staff sessions in Redis (idle and absolute expiry), one-use socket tokens, login throttling."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from engage import keys
from engage.errors import LoginThrottled
from engage.infra.redis_text import as_text
from engage.models import Role, StaffSession, StaffUser

SOCKET_TOKEN_TTL = 60


class SessionStore:
    """Server-side sessions: the cookie holds only a random id."""

    def __init__(self, redis: aioredis.Redis, idle_seconds: int, absolute_seconds: int,
                 clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self.idle = idle_seconds
        self.absolute = absolute_seconds
        self._clock = clock

    async def create(self, user: StaffUser) -> StaffSession:
        """A brand-new session id at every sign-in (no fixation)."""
        now = self._clock()
        session = StaffSession(session_id=secrets.token_urlsafe(32), username=user.username,
                               role=user.role, display_name=user.display_name,
                               created_at=now, last_seen=now)
        key = keys.session(session.session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"username": user.username, "role": user.role.value,
                                    "display_name": user.display_name,
                                    "created_at": repr(now), "last_seen": repr(now)})
            pipe.expire(key, self.idle)
            pipe.sadd(keys.user_sessions(user.username), session.session_id)
            pipe.expire(keys.user_sessions(user.username), self.absolute)
            await pipe.execute()
        return session

    async def get(self, session_id: str, *, touch: bool = True) -> StaffSession | None:
        """The live session, refreshing its idle timer; None once idle or absolutely expired."""
        if not session_id or len(session_id) > 128:
            return None
        key = keys.session(session_id)
        raw = {as_text(k): as_text(v) for k, v in (await self._redis.hgetall(key)).items()}
        if not raw:
            return None
        now = self._clock()
        created = float(raw["created_at"])
        remaining = created + self.absolute - now
        if remaining <= 0:
            await self.destroy(session_id)
            return None
        if touch:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, "last_seen", repr(now))
                pipe.expire(key, max(1, int(min(self.idle, remaining))))
                await pipe.execute()
        return StaffSession(session_id=session_id, username=raw["username"],
                            role=Role(raw["role"]), display_name=raw["display_name"],
                            created_at=created, last_seen=now if touch else float(
                                raw["last_seen"]))

    async def destroy(self, session_id: str) -> None:
        key = keys.session(session_id)
        found = await self._redis.hget(key, "username")
        username = as_text(found) if found else None
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if username:
                pipe.srem(keys.user_sessions(username), session_id)
            await pipe.execute()

    async def destroy_user(self, username: str) -> int:
        """End every session of a user (account disabled); returns how many were live."""
        ids = [as_text(i) for i in await self._redis.smembers(keys.user_sessions(username))]
        async with self._redis.pipeline(transaction=True) as pipe:
            for session_id in ids:
                pipe.delete(keys.session(session_id))
            pipe.delete(keys.user_sessions(username))
            results = await pipe.execute()
        return sum(int(r) for r in results[:-1])

    async def issue_socket_token(self, session: StaffSession) -> str:
        """A short-lived, one-use token the console passes in the Socket.IO ``auth``."""
        token = secrets.token_urlsafe(32)
        await self._redis.set(keys.socket_token(token), session.session_id, ex=SOCKET_TOKEN_TTL)
        return token

    async def redeem_socket_token(self, token: str) -> StaffSession | None:
        if not token or len(token) > 128:
            return None
        session_id = await self._redis.getdel(keys.socket_token(token))
        return await self.get(as_text(session_id)) if session_id else None


@dataclass(frozen=True)
class ThrottlePolicy:
    account_failures: int = 5
    ip_failures: int = 30
    window_seconds: int = 15 * 60


# INCR and start the window on the first failure, atomically (EXPIRE NX needs Redis 7).
_COUNT_IN_WINDOW = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class LoginThrottle:
    """Counts failed sign-ins per account and per client address in a fixed window."""

    def __init__(self, redis: aioredis.Redis, policy: ThrottlePolicy | None = None) -> None:
        self._redis = redis
        self.policy = policy or ThrottlePolicy()
        self._count = redis.register_script(_COUNT_IN_WINDOW)

    async def check(self, username: str, ip: str) -> None:
        account_key, ip_key = keys.login_failures_account(username), keys.login_failures_ip(ip)
        account, by_ip = await self._redis.mget(account_key, ip_key)
        over_account = int(account or 0) >= self.policy.account_failures
        over_ip = int(by_ip or 0) >= self.policy.ip_failures
        if over_account or over_ip:
            ttl = await self._redis.ttl(account_key if over_account else ip_key)
            raise LoginThrottled(retry_after=max(1, int(ttl)))

    async def failed(self, username: str, ip: str) -> None:
        for key in (keys.login_failures_account(username), keys.login_failures_ip(ip)):
            await self._count(keys=[key], args=[self.policy.window_seconds])

    async def succeeded(self, username: str) -> None:
        await self._redis.delete(keys.login_failures_account(username))
