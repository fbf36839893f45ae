"""Agent sockets watching a visitor's trail: who watches through which interaction, and
their leaving the watch room as soon as the access policy stops allowing it."""

from __future__ import annotations

import redis.asyncio as aioredis

from engage import keys
from engage.acd.access import Action, Actor, Verdict, may
from engage.acd.gate import AccessGate
from engage.acd.interaction import Interaction
from engage.infra.redis_text import as_text
from engage.models import Role
from signaling.schemas import AGENT_NS
from signaling.server import EngageSocketServer, SocketState

WATCH_TTL_SECONDS = 86_400  # as the interaction's own live state after its end


def watch_room(visitor_id: str) -> str:
    return f"watch:{visitor_id}"


class TrailWatchers:
    def __init__(self, server: EngageSocketServer, redis: aioredis.Redis,
                 gate: AccessGate) -> None:
        self._server = server
        self._redis = redis
        self._gate = gate

    async def add(self, live: Interaction, state: SocketState) -> None:
        """``state``'s socket watches ``live``'s visitor (the caller checked the policy)."""
        role = state.role.value if state.role else ""
        member = f"{role}\t{state.username or ''}\t{state.sid}\t{live.visitor}"
        key = keys.trail_watchers(live.id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, member)
            pipe.expire(key, WATCH_TTL_SECONDS)
            await pipe.execute()
        await self._server.enter_room(state.sid, watch_room(live.visitor), namespace=AGENT_NS)

    async def recheck(self, ix: str) -> None:
        """Sockets whose part in ``ix`` no longer allows watching leave the room (on any
        node: the fan-out carries the leave to the node holding the socket)."""
        key = keys.trail_watchers(ix)
        members = [as_text(m) for m in await self._redis.smembers(key)]
        if not members:
            return
        # One read for all watchers: being a former agent never grants watching, so the live
        # interaction is all the policy needs (none: its state expired, nobody watches).
        live = await self._gate.interactions.interaction(ix)
        for member in members:
            role, username, sid, visitor = member.split("\t")
            actor = Actor.of_staff(username, Role(role)) if role else Actor()
            if live is not None and may(actor, Action.WATCH_TRAIL, live) is Verdict.ALLOWED:
                continue
            await self._redis.srem(key, member)
            await self._server.leave_room(sid, watch_room(visitor), namespace=AGENT_NS)
