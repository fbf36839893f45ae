"""Staff sessions in Redis (idle and absolute expiry), one-use socket tokens, login throttling."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from engage import keys
from engage.errors import LoginThrottled
from engage.infra.redis_text import as_text
from engage.models import Role, StaffSession, StaffUser
from engage.staff.directory import USERNAME_RE

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
    """Failed sign-ins allowed per window.

    ``pair_failures`` per account from one address is the lock a guesser runs into;
    ``account_failures`` over all addresses is higher, so one attacker cannot lock an
    account (let alone every account) out for its owner signing in from elsewhere.
    """

    pair_failures: int = 5
    ip_failures: int = 30
    window_seconds: int = 15 * 60
    account_failures: int = 100


# Reserve one attempt on every counter, or on none: refused (the TTL to wait) if any is
# at its limit, else INCR each (starting its window). KEYS share a hash tag (one account's).
# ARGV[1] = window seconds, ARGV[1 + i] = the limit of KEYS[i].
_RESERVE = """
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i + 1]) then
    return math.max(1, redis.call('TTL', key))
  end
end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[1]) end
end
return 0
"""

# Give reservations back (the attempt was no guess); DECR only a live counter, as DECR on
# an expired one would create a key without a window. ARGV[1] = '1': DEL KEYS[1] instead.
_RELEASE = """
for i, key in ipairs(KEYS) do
  if i == 1 and ARGV[1] == '1' then
    redis.call('DEL', key)
  elseif redis.call('EXISTS', key) == 1 then
    redis.call('DECR', key)
  end
end
return 0
"""


@dataclass(frozen=True)
class LoginAttempt:
    """One reserved sign-in attempt: it counts as a failure unless released."""

    account: str
    ip: str


def _account_tag(username: str) -> str:
    """The key part for a user name: as typed if it could be one, else a short digest
    (a made-up name of any length or character must not become a long or odd key)."""
    if USERNAME_RE.fullmatch(username):
        return username
    return "~" + hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:24]


class LoginThrottle:
    """Failed sign-ins per (account, address), per account and per address, in a window.

    An attempt is reserved before the password is checked (check-then-act would let N
    concurrent guesses all pass); a failure keeps its reservation, a success or an error
    that was no guess gives it back.
    """

    def __init__(self, redis: aioredis.Redis, policy: ThrottlePolicy | None = None) -> None:
        self._redis = redis
        self.policy = policy or ThrottlePolicy()
        self._reserve = redis.register_script(_RESERVE)
        self._release = redis.register_script(_RELEASE)

    async def reserve(self, username: str, ip: str) -> LoginAttempt:
        """The attempt, or LoginThrottled with the seconds to wait."""
        attempt = LoginAttempt(_account_tag(username), ip)
        policy = self.policy
        window = policy.window_seconds
        account_keys = [keys.login_failures_pair(attempt.account, ip),
                        keys.login_failures_account(attempt.account)]
        wait = int(await self._reserve(
            keys=account_keys, args=[window, policy.pair_failures, policy.account_failures]))
        if wait:
            raise LoginThrottled(retry_after=wait)
        # The address's counter has another hash tag: a second script, undone on refusal.
        wait = int(await self._reserve(keys=[keys.login_failures_ip(ip)],
                                       args=[window, policy.ip_failures]))
        if wait:
            await self._release(keys=account_keys, args=["0"])
            raise LoginThrottled(retry_after=wait)
        return attempt

    async def succeeded(self, attempt: LoginAttempt) -> None:
        """A right password: this address's count for the account starts over."""
        await self._release(keys=[keys.login_failures_pair(attempt.account, attempt.ip),
                                  keys.login_failures_account(attempt.account)], args=["1"])
        await self._release(keys=[keys.login_failures_ip(attempt.ip)], args=["0"])

    async def release(self, attempt: LoginAttempt) -> None:
        """No verdict (a backend failed): the attempt does not count."""
        await self._release(keys=[keys.login_failures_pair(attempt.account, attempt.ip),
                                  keys.login_failures_account(attempt.account)], args=["0"])
        await self._release(keys=[keys.login_failures_ip(attempt.ip)], args=["0"])
