"""The ACD's state in Redis: loads the Lua scripts and calls them (each call is atomic)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis

from engage.acd.interaction import Interaction
from engage.acd.lifecycle import lua_table
from engage.acd.routing import DEFAULT_CAPACITY, AgentState, CapacityRules, QueueConfig
from engage.errors import EngageError
from engage.infra.clock import now_ms
from engage.infra.redis_text import as_text

PREFIX = "engage:acd:"
_LUA_PARTS = ("acd_core.lua", "acd_flows.lua", "acd_ops.lua", "acd_entry.lua")


class AcdError(EngageError):
    """The ACD refused the operation; ``code`` says why."""

    http_status = 409

    def __init__(self, code: str, message: str | None = None, **details: object) -> None:
        self.code = code
        if code.startswith("unknown_"):
            self.http_status = 404
        super().__init__(message or _MESSAGES.get(code, code.replace("_", " ")), **details)


_MESSAGES = {
    "offer_gone": "This offer is no longer open: taken, withdrawn or expired.",
    "not_offered_to_you": "This interaction was not offered to you.",
    "over_capacity": "Accepting would exceed your capacity for this channel.",
    "not_connected": "The interaction is not connected.",
    "not_your_interaction": "This interaction is handled by another agent.",
    "not_in_wrap_up": "The interaction is not in wrap-up.",
    "not_waiting": "The interaction is no longer waiting.",
    "unknown_queue": "No such queue.",
    "queue_full": "The queue is full.",
    "queue_closed": "The queue is closed now.",
    "agent_unavailable": "That agent cannot take this interaction now.",
    "finish_wrap_up": "Finish wrap-up (choose a disposition) first.",
    "has_active_interactions": "Close or transfer your interactions before going offline.",
    "consult_in_progress": "A consultation is already in progress.",
    "consult_not_accepted": "The consulted agent has not accepted yet.",
    "no_consult": "There is no consultation to end.",
    "same_agent": "You cannot transfer to yourself.",
    "not_signed_in": "The agent is not signed in to the ACD.",
    "unknown_channel": "No such channel.",
}


def load_script_text(rules: CapacityRules = DEFAULT_CAPACITY) -> str:
    folder = Path(__file__).resolve().parent / "lua"
    text = "\n".join((folder / part).read_text() for part in _LUA_PARTS)
    capacity = orjson.dumps(rules.as_lua()).decode()
    return text.replace("__MOVES__", lua_table()).replace(
        "__CAPACITY__", "'" + capacity.replace("'", "\\'") + "'")


@dataclass(frozen=True)
class Outcome:
    """What one script call decided: its fields, whom to tell, which queues to route next."""

    fields: dict[str, Any]
    notify: list[dict[str, Any]] = field(default_factory=list)
    route: list[str] = field(default_factory=list)


class AcdStore:
    def __init__(self, redis: aioredis.Redis, rules: CapacityRules = DEFAULT_CAPACITY,
                 prefix: str = PREFIX) -> None:
        self.redis = redis
        self.prefix = prefix
        self._script = redis.register_script(load_script_text(rules))

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def call(self, op: str, *args: object, at_ms: int | None = None,
                   raise_on_fail: bool = True) -> Outcome:
        raw = await self._script(keys=[], args=[self.prefix, at_ms or now_ms(), op,
                                                *[str(a) for a in args]])
        body: dict[str, Any] = orjson.loads(raw)
        notify = body.pop("notify", None) or []
        route = body.pop("route", None) or []
        outcome = Outcome(fields=body, notify=list(notify) if isinstance(notify, list) else [],
                          route=list(route) if isinstance(route, list) else [])
        if raise_on_fail and body.get("ok") is False:
            code = str(body.pop("code"))
            body.pop("ok", None)
            raise AcdError(code, **body)
        return outcome

    async def next_interaction_id(self) -> str:
        return f"ix{await self.redis.incr(self.key('ixseq')):010d}"

    async def save_queue(self, queue: QueueConfig) -> None:
        mapping: dict[Any, Any] = {
            "strategy": queue.strategy.value, "max_length": queue.max_length,
            "max_wait": queue.max_wait_seconds, "exit": queue.exit,
            "aging": queue.aging_seconds, "wrap_up": queue.wrap_up_seconds,
            "offer_timeout": queue.offer_timeout_seconds, "max_misses": queue.max_misses,
            "sticky_seconds": queue.sticky_seconds, "priority": queue.priority,
            "service_level": queue.service_level_seconds,
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.key("q", queue.queue_id), mapping=mapping)
            pipe.sadd(self.key("queues"), queue.queue_id)
            await pipe.execute()

    async def interaction(self, ix: str) -> Interaction | None:
        """The live interaction, or None (unknown, or expired a day after it ended)."""
        raw = await self.redis.hgetall(self.key("ix", ix))
        if not raw:
            return None
        return Interaction.from_hash(ix, {as_text(k): as_text(v) for k, v in raw.items()})

    async def consult_deadline(self, ix: str) -> int:
        """When the consultation offered on ``ix`` times out (ms), or 0."""
        return int(await self.redis.zscore(self.key("consults"), ix) or 0)

    async def agent(self, username: str) -> dict[str, str]:
        raw = await self.redis.hgetall(self.key("agent", username))
        return {as_text(k): as_text(v) for k, v in raw.items()}

    async def agent_interactions(self, username: str) -> list[str]:
        return sorted(as_text(m) for m in await self.redis.smembers(
            self.key("agent", username, "ix")))

    async def ringing(self, username: str, limit: int) -> list[str]:
        """Ring-all offers ringing this agent now (they live on the interaction only)."""
        members = [as_text(m) for m in await self.redis.zrange(self.key("offers"), 0, limit - 1)
                   if isinstance(m, bytes | str)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for ix in members:
                pipe.hmget(self.key("ix", ix), "state", "ring")
            rows = await pipe.execute()
        return [ix for ix, (state, ring) in zip(members, rows, strict=True)
                if state is not None and as_text(state) == "offered"
                and username in as_text(ring or "").split(",")]

    async def position(self, queue: str, ix: str) -> int | None:
        rank = await self.redis.zrank(self.key("q", queue, "waiting"), ix)
        return None if not isinstance(rank, int) else rank + 1

    async def ready_count(self, queue: str, channel: str) -> int:
        """Agents ready to take one more ``channel`` contact from ``queue`` right now."""
        return int(await self.redis.zcard(self.key("q", queue, "ready", channel)))

    async def queue_snapshot(self, queue: str) -> tuple[int, int | None]:
        """Waiting count and the enqueue time (ms) of the longest waiting interaction."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(self.key("q", queue, "waiting"))
            pipe.zrange(self.key("q", queue, "since"), 0, 0, withscores=True)
            waiting, oldest = await pipe.execute()
        return int(waiting), (int(oldest[0][1]) if oldest else None)

    async def agents_by_state(self) -> dict[str, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for state in AgentState:
                pipe.scard(self.key("state", state.value))
            counts = await pipe.execute()
        return {state.value: int(n) for state, n in zip(AgentState, counts, strict=True)}

    async def queue_ids(self) -> list[str]:
        return sorted(as_text(q) for q in await self.redis.smembers(self.key("queues")))
