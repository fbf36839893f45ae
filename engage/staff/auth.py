"""Staff sign-in and sign-out, account disabling, socket tokens: the auth use cases."""

from __future__ import annotations

import logging

import redis.asyncio as aioredis

from engage import bus
from engage.errors import BadCredentials, Conflict
from engage.models import Role, StaffSession, StaffUser
from engage.staff.directory import StaffDirectory
from engage.staff.sessions import LoginThrottle, SessionStore

log = logging.getLogger("engage.staff.auth")


class AuthService:
    def __init__(self, staff: StaffDirectory, sessions: SessionStore, throttle: LoginThrottle,
                 redis: aioredis.Redis) -> None:
        self.staff = staff
        self.sessions = sessions
        self.throttle = throttle
        self._redis = redis

    async def login(self, username: str, password: str, ip: str) -> StaffSession:
        """A new session, or BadCredentials / LoginThrottled (an attempt is reserved before
        the password is checked, and kept as a failure unless it succeeds)."""
        username = username.strip().lower()
        attempt = await self.throttle.reserve(username, ip)
        try:
            user = await self.staff.authenticate(username, password)
        except BadCredentials:
            log.info("sign-in refused", extra={"username": username[:64], "ip": ip})
            raise
        except Exception:
            await self.throttle.release(attempt)  # no verdict, so no guess to count
            raise
        await self.throttle.succeeded(attempt)
        session = await self.sessions.create(user)
        log.info("signed in", extra={"username": username, "role": user.role.value, "ip": ip})
        return session

    async def logout(self, session_id: str) -> None:
        """End one session; its sockets on every node are closed too."""
        session = await self.sessions.get(session_id, touch=False)
        await self.sessions.destroy(session_id)
        if session is not None:
            await bus.publish(self._redis, bus.STAFF_SESSION_ENDED, username=session.username,
                              session_id=session_id)

    async def disable(self, username: str, *, actor: str | None = None) -> tuple[StaffUser, int]:
        """Disable an account, end its sessions, and tell every node to drop its sockets.

        Nobody locks themselves out through the web, and the last active admin stays.
        """
        if actor is not None and actor == username:
            raise Conflict("you cannot disable your own account")
        target = await self.staff.get(username)
        if target is not None and target.role is Role.ADMIN and not target.disabled:
            admins = [u for u in await self.staff.list()
                      if u.role is Role.ADMIN and not u.disabled]
            if len(admins) <= 1:
                raise Conflict("this is the last active admin; add another admin first")
        user = await self.staff.set_disabled(username, True)
        ended = await self.sessions.destroy_user(username)
        await bus.publish(self._redis, bus.STAFF_SESSIONS_REVOKED, username=username)
        log.info("account disabled", extra={"username": username, "sessions_ended": ended})
        return user, ended

    async def enable(self, username: str) -> StaffUser:
        return await self.staff.set_disabled(username, False)
