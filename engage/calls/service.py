"""Voice/video calls of a connected interaction: call state in Redis, one active call each."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from engage.acd.store import append_event
from engage.calls.sdp_policy import MAX_CANDIDATES_PER_SIDE, TooManyCandidates
from engage.errors import EngageError, NotFound
from engage.infra import clock
from engage.infra.redis_text import as_text
from engage.keys import CALL_PREFIX, CallKeys

CALL_TTL_SECONDS = 24 * 3600  # state of a call nobody ends (both nodes gone) is dropped
# A side whose socket left must send a call event again within this long, or the call ends;
# a proposal nobody answers ends as well.
AWAY_LIMIT_MS = 60_000
ANSWER_LIMIT_MS = 60_000
ACTIVE = frozenset({"proposed", "accepted"})
SIDES = ("agent", "visitor")

_MESSAGES = {
    "call_in_progress": "This conversation already has a call.",
    "call_not_accepted": "The call has not been accepted; no media may be negotiated.",
    "call_ended": "The call has ended.",
    "not_pending": "The call has already been answered.",
}

# Creates a call unless the interaction has an active one (whose id it returns instead).
# ARGV: prefix, ix, call id, ttl, visitor, agent, field/value pairs...
_CREATE = """
local p, ix, id, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local pointer = p .. 'ix:' .. ix
local current = redis.call('GET', pointer)
if current then
  local state = redis.call('HGET', p .. 'c:' .. current, 'state')
  if state == 'proposed' or state == 'accepted' then return current end
end
local key = p .. 'c:' .. id
redis.call('HSET', key, unpack(ARGV, 7))
redis.call('EXPIRE', key, ttl)
redis.call('SET', pointer, id, 'EX', ttl)
for _, party in ipairs({'visitor:' .. ARGV[5], 'agent:' .. ARGV[6]}) do
  redis.call('SADD', p .. 'party:' .. party, id)
  redis.call('EXPIRE', p .. 'party:' .. party, ttl)
end
return id
"""

# Moves a call from one of the allowed states (comma list) to a new one; a call that ends
# leaves its interaction and parties. ARGV: prefix, id, allowed, new state, ttl, pairs...
# Returns 'ok', or the state it found ('missing' when gone).
_MOVE = """
local p, id = ARGV[1], ARGV[2]
local key = p .. 'c:' .. id
local state = redis.call('HGET', key, 'state')
if not state then return 'missing' end
if not string.find(',' .. ARGV[3] .. ',', ',' .. state .. ',', 1, true) then return state end
redis.call('HSET', key, 'state', ARGV[4], unpack(ARGV, 6))
if ARGV[4] == 'declined' or ARGV[4] == 'ended' then
  local h = redis.call('HMGET', key, 'interaction', 'visitor', 'agent')
  local pointer = p .. 'ix:' .. h[1]
  if redis.call('GET', pointer) == id then redis.call('DEL', pointer) end
  redis.call('SREM', p .. 'party:visitor:' .. h[2], id)
  redis.call('SREM', p .. 'party:agent:' .. h[3], id)
end
redis.call('EXPIRE', key, tonumber(ARGV[5]))
return 'ok'
"""


class CallRefused(EngageError):
    """The call cannot do that now; ``code`` says why."""

    http_status = 409

    def __init__(self, code: str, message: str | None = None, **details: object) -> None:
        self.code = code
        super().__init__(message or _MESSAGES.get(code, code.replace("_", " ")), **details)


@dataclass(frozen=True)
class Call:
    """One call as stored: who is in it, its state, and whether it is recorded."""

    call_id: str
    interaction: str
    media: str
    proposer: str  # "agent" | "visitor"
    agent: str
    visitor: str
    state: str
    created_ms: int
    queue_records: bool  # the queue asks for recording
    record_consent: bool  # the visitor agreed to recording
    away: dict[str, int]  # side -> when its call socket left (ms)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def recording(self) -> bool:
        return self.queue_records and self.record_consent

    @property
    def relayed(self) -> bool:
        """Recorded media goes through the server's peer, so candidates must reach it."""
        return self.recording

    def party(self, side: str) -> str:
        return self.agent if side == "agent" else self.visitor

    def stale(self, now_ms: int) -> str:
        """Why the call should end by now ("" if it should not)."""
        if self.state == "proposed" and now_ms - self.created_ms >= ANSWER_LIMIT_MS:
            return "no_answer"
        if self.active and any(now_ms - at >= AWAY_LIMIT_MS for at in self.away.values()):
            return "timeout"
        return ""


def other(side: str) -> str:
    return "visitor" if side == "agent" else "agent"


def _flag(value: str | None) -> bool:
    return value == "1"


class CallService:
    """Call state transitions (atomic, in Redis) and the call history in the ACD stream."""

    def __init__(self, redis: aioredis.Redis, prefix: str = CALL_PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix  # the scripts build their keys from it, as CallKeys does
        self._keys = CallKeys(prefix)
        self._create = redis.register_script(_CREATE)
        self._move = redis.register_script(_MOVE)

    def now_ms(self) -> int:
        """The clock the call timestamps use (callers compare ``Call.stale`` against it)."""
        return clock.now_ms()

    def _key(self, call_id: str) -> str:
        return self._keys.call(call_id)

    async def propose(self, ix: str, media: str, proposer: str, *, agent: str, visitor: str,
                      queue_records: bool, record_consent: bool) -> Call:
        """A new proposed call, or CallRefused("call_in_progress")."""
        call_id = "call_" + secrets.token_urlsafe(16)
        fields: dict[str, str] = {
            "interaction": ix, "media": media, "proposer": proposer, "agent": agent,
            "visitor": visitor, "state": "proposed", "created": str(self.now_ms()),
            "queue_records": "1" if queue_records else "0",
            "record_consent": "1" if record_consent else "0",
            "cand_agent": "0", "cand_visitor": "0"}
        pairs = [item for pair in fields.items() for item in pair]
        created = await self._create(keys=[], args=[self._prefix, ix, call_id, CALL_TTL_SECONDS,
                                                    visitor, agent, *pairs])
        if created != call_id:
            raise CallRefused("call_in_progress", call=str(created))
        return await self.get(call_id)

    async def get(self, call_id: str) -> Call:
        raw = await self._redis.hgetall(self._key(call_id))
        h = {as_text(k): as_text(v) for k, v in raw.items()}
        if not h:
            raise NotFound("no such call")
        away = {side: int(h[f"away_{side}"]) for side in SIDES if h.get(f"away_{side}")}
        return Call(call_id=call_id, interaction=h["interaction"], media=h["media"],
                    proposer=h["proposer"], agent=h["agent"], visitor=h["visitor"],
                    state=h["state"], created_ms=int(h["created"]),
                    queue_records=_flag(h.get("queue_records")),
                    record_consent=_flag(h.get("record_consent")), away=away)

    async def active(self, ix: str) -> Call | None:
        call_id = await self._redis.get(self._keys.active(ix))
        if not call_id:
            return None
        try:
            call = await self.get(as_text(call_id))
        except NotFound:
            return None
        return call if call.active else None

    async def _transition(self, call: Call, allowed: str, to: str, **fields: str) -> Call:
        pairs = [item for pair in fields.items() for item in pair]
        found = await self._move(keys=[], args=[self._prefix, call.call_id, allowed, to,
                                                CALL_TTL_SECONDS, *pairs])
        if found == "missing":
            raise NotFound("no such call")
        if found != "ok":
            raise CallRefused("not_pending" if found in ACTIVE else "call_ended")
        return await self.get(call.call_id)

    async def answer(self, call: Call, accept: bool, record_consent: bool) -> Call:
        """The other side's answer to a proposed call (only one answer counts)."""
        return await self._transition(
            call, "proposed", "accepted" if accept else "declined",
            record_consent="1" if record_consent else "0", answered=str(self.now_ms()))

    async def change_media(self, call: Call, media: str) -> Call:
        return await self._transition(call, "accepted", "accepted", media=media)

    async def end(self, call: Call, by: str, reason: str) -> Call | None:
        """The ended call, or None when it had already ended (someone else ended it)."""
        try:
            return await self._transition(call, "proposed,accepted", "ended", ended_by=by,
                                          reason=reason, ended=str(self.now_ms()))
        except (CallRefused, NotFound):
            return None

    async def count_candidates(self, call: Call, side: str, count: int) -> None:
        """Take ``count`` of the side's candidate allowance, or TooManyCandidates."""
        if count <= 0:
            return
        key, name = self._key(call.call_id), f"cand_{side}"
        total = int(await self._redis.hincrby(key, name, count))
        if total > MAX_CANDIDATES_PER_SIDE:
            await self._redis.hincrby(key, name, -count)
            raise TooManyCandidates(f"at most {MAX_CANDIDATES_PER_SIDE} ICE candidates per "
                                    "call and side", limit=MAX_CANDIDATES_PER_SIDE)

    async def seen(self, call: Call, side: str, sid: str) -> None:
        """The side's call now runs on socket ``sid``; it is not away any more."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(call.call_id), f"sid_{side}", sid)
            pipe.hdel(self._key(call.call_id), f"away_{side}")
            await pipe.execute()

    async def left(self, side: str, party: str, sid: str) -> list[str]:
        """Mark away the active calls this socket carried; the ids of those calls."""
        marked = []
        for member in await self._redis.smembers(self._keys.party(side, party)):
            call_id = as_text(member)
            key = self._key(call_id)
            state, carrier = await self._redis.hmget(key, ["state", f"sid_{side}"])
            if state is not None and as_text(state) in ACTIVE \
                    and carrier is not None and as_text(carrier) == sid:
                await self._redis.hsetnx(key, f"away_{side}", str(self.now_ms()))
                marked.append(call_id)
        return marked

    async def log(self, call: Call, event: str, actor: str, outcome: str = "ok",
                  **fields: Any) -> None:
        """Append one call event to the interaction's history (the ACD event stream, which
        the event-log writer drains into ``acd_events``)."""
        entry = {"kind": "call", "ix": call.interaction, "call": call.call_id, "event": event,
                 "actor": actor, "agent": call.agent, "media": call.media, "outcome": outcome,
                 **{k: str(v) for k, v in fields.items()}, "at": str(self.now_ms())}
        await append_event(self._redis, entry)
