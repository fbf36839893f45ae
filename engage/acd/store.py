"""The ACD's state in Redis, every engage:acd:* key: the Lua scripts, events, heartbeats, reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
from engage.keys import ACD_EVENTS, ACD_PREFIX, AcdKeys

_LUA_PARTS = ("acd_core.lua", "acd_flows.lua", "acd_ops.lua", "acd_entry.lua")
EVENT_STREAM_MAXLEN = 1_000_000  # approximate, as the Lua scripts' own entries


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
                 prefix: str = ACD_PREFIX) -> None:
        self._redis = redis
        self.prefix = prefix
        self.keys = AcdKeys(prefix)
        self._script = redis.register_script(load_script_text(rules))

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
        return f"ix{await self._redis.incr(self.keys.interaction_seq):010d}"

    async def save_queue(self, queue: QueueConfig) -> None:
        mapping: dict[Any, Any] = {
            "strategy": queue.strategy.value, "max_length": queue.max_length,
            "max_wait": queue.max_wait_seconds, "exit": queue.exit,
            "aging": queue.aging_seconds, "wrap_up": queue.wrap_up_seconds,
            "offer_timeout": queue.offer_timeout_seconds, "max_misses": queue.max_misses,
            "sticky_seconds": queue.sticky_seconds, "priority": queue.priority,
            "service_level": queue.service_level_seconds,
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.queue(queue.queue_id), mapping=mapping)
            pipe.sadd(self.keys.queues, queue.queue_id)
            await pipe.execute()

    async def interaction(self, ix: str) -> Interaction | None:
        """The live interaction, or None (unknown, or expired a day after it ended)."""
        raw = await self.fields(ix)
        return Interaction.from_hash(ix, raw) if raw else None

    async def fields(self, ix: str) -> dict[str, str]:
        """The interaction's hash as stored: for the store's own tests and diagnostics;
        everything else takes the typed ``interaction``."""
        raw = await self._redis.hgetall(self.keys.interaction(ix))
        return {as_text(k): as_text(v) for k, v in raw.items()}

    async def agent(self, username: str) -> dict[str, str]:
        raw = await self._redis.hgetall(self.keys.agent(username))
        return {as_text(k): as_text(v) for k, v in raw.items()}

    async def agent_interactions(self, username: str) -> list[str]:
        return sorted(as_text(m) for m in await self._redis.smembers(
            self.keys.agent_interactions(username)))

    async def ringing(self, username: str, limit: int) -> list[str]:
        """Ring-all offers ringing this agent now (they live on the interaction only)."""
        members = [as_text(m) for m in await self._redis.zrange(self.keys.offers, 0, limit - 1)
                   if isinstance(m, bytes | str)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for ix in members:
                pipe.hmget(self.keys.interaction(ix), "state", "ring")
            rows = await pipe.execute()
        return [ix for ix, (state, ring) in zip(members, rows, strict=True)
                if state is not None and as_text(state) == "offered"
                and username in as_text(ring or "").split(",")]

    async def position(self, queue: str, ix: str) -> int | None:
        rank = await self._redis.zrank(self.keys.waiting(queue), ix)
        return None if not isinstance(rank, int) else rank + 1

    async def ready_count(self, queue: str, channel: str) -> int:
        """Agents ready to take one more ``channel`` contact from ``queue`` right now."""
        return int(await self._redis.zcard(self.keys.ready(queue, channel)))

    async def queue_snapshot(self, queue: str) -> tuple[int, int | None]:
        """Waiting count and the enqueue time (ms) of the longest waiting interaction."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zcard(self.keys.waiting(queue))
            pipe.zrange(self.keys.waiting_since(queue), 0, 0, withscores=True)
            waiting, oldest = await pipe.execute()
        return int(waiting), (int(oldest[0][1]) if oldest else None)

    async def agents_by_state(self) -> dict[str, int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for state in AgentState:
                pipe.scard(self.keys.agents_in_state(state.value))
            counts = await pipe.execute()
        return {state.value: int(n) for state, n in zip(AgentState, counts, strict=True)}

    async def agents(self, usernames: Sequence[str]) -> list[dict[str, str]]:
        """The agent hashes of ``usernames``, in one round trip ({} for one never signed in)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for username in usernames:
                pipe.hgetall(self.keys.agent(username))
            hashes = await pipe.execute()
        return [{as_text(k): as_text(v) for k, v in raw.items()} for raw in hashes]

    async def wait_inputs(self, queue: str) -> tuple[float | None, int]:
        """What an estimated wait is made of: the queue's recent handle time (seconds, None
        before anything was handled) and how many agents staff it."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(self.keys.queue(queue), "aht")
            pipe.scard(self.keys.staffed(queue))
            aht, staffed = await pipe.execute()
        return (float(aht) if aht else None), int(staffed)

    async def consult_deadline(self, ix: str) -> int:
        """When the open consultation offer on ``ix`` expires (ms; 0 when there is none)."""
        score = await self._redis.zscore(self.keys.consults, ix)
        return int(score or 0)

    async def heartbeat(self, usernames: Iterable[str], at_ms: int) -> None:
        """This node still holds these agents' sockets; agents signed out are not re-added."""
        beats = dict.fromkeys(usernames, at_ms)
        if beats:
            await self._redis.zadd(self.keys.heartbeat, beats, xx=True)

    async def append_event(self, fields: Mapping[str, str]) -> None:
        """One entry in the ACD event stream beside the scripts' own (a note, a call event)."""
        await append_event(self._redis, fields, self.keys.events)

    async def queue_ids(self) -> list[str]:
        return sorted(as_text(q) for q in await self._redis.smembers(self.keys.queues))


async def append_event(redis: aioredis.Redis, fields: Mapping[str, str],
                       stream: str = ACD_EVENTS) -> None:
    """Append to the ACD event stream (for services that hold no AcdStore: calls)."""
    await redis.xadd(stream, dict(fields), maxlen=EVENT_STREAM_MAXLEN,  # type: ignore[arg-type]
                     approximate=True)

