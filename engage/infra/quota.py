"""Usage quotas as Redis counters in fixed windows: reserve before doing, release on failure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis.asyncio as aioredis

from engage.infra.redis_text import as_text

# One key per call (Redis Cluster: no cross-slot script). Checks every field first, then
# adds them all, so a refused reservation changes nothing. The window starts with the first
# reservation (PEXPIRE only when the key has no TTL yet): a fixed window, not a rolling one.
# KEYS[1] the quota hash; ARGV[1] window ms; ARGV[2], ARGV[3] pin field and value ("" none);
# then (field, amount, limit) triples. Returns "" or the refused field (the pin's name when
# the pinned value differs).
_RESERVE = """
local pin_field, pin_value = ARGV[2], ARGV[3]
if pin_field ~= '' then
  local pinned = redis.call('HGET', KEYS[1], pin_field)
  if pinned and pinned ~= pin_value then return pin_field end
end
for i = 4, #ARGV, 3 do
  local have = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if have + tonumber(ARGV[i + 1]) > tonumber(ARGV[i + 2]) then return ARGV[i] end
end
for i = 4, #ARGV, 3 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
if pin_field ~= '' then redis.call('HSET', KEYS[1], pin_field, pin_value) end
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return ''
"""

# Gives amounts back; a pin goes with the last of what was reserved under it (nothing was
# done for that value). KEYS[1] the hash; ARGV[1] pin field or ""; then (field, amount) pairs.
_RELEASE = """
local left = 0
for i = 2, #ARGV, 2 do
  left = left + math.max(0, redis.call('HINCRBY', KEYS[1], ARGV[i], -tonumber(ARGV[i + 1])))
end
if ARGV[1] ~= '' and left == 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return left
"""


def rest_of_day(now: datetime) -> int:
    """Seconds left in ``now``'s (UTC) day: the window of a counter named after its day, so
    it ends, and ``retry_after`` points, at midnight."""
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()))


@dataclass(frozen=True)
class Claim:
    """Take ``amounts`` from the quota at ``key`` (one window of ``window_s``), each field
    staying at or under its limit; ``pin`` fixes a field to one value for the window."""

    key: str
    amounts: Mapping[str, int]
    limits: Mapping[str, int]
    window_s: int
    pin: tuple[str, str] | None = None
    scope: str = field(default="", compare=False)


@dataclass(frozen=True)
class Refusal:
    """Which claim was refused, and on which field."""

    claim: Claim
    field: str
    retry_after: int


class Quotas:
    """Atomic per-key reservations; several keys are reserved in turn and the earlier ones
    given back when a later one is refused."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._reserve = redis.register_script(_RESERVE)
        self._release = redis.register_script(_RELEASE)

    async def reserve(self, claims: Sequence[Claim]) -> Refusal | None:
        """None when every claim was reserved; else the first refusal (nothing is kept)."""
        done: list[Claim] = []
        for claim in claims:
            pin_field, pin_value = claim.pin or ("", "")
            args: list[str | int] = [claim.window_s * 1000, pin_field, pin_value]
            for name, amount in claim.amounts.items():
                args += [name, amount, claim.limits[name]]
            refused = as_text(await self._reserve(keys=[claim.key], args=args))
            if refused:
                await self.release(done)
                ttl = int(await self._redis.ttl(claim.key))
                return Refusal(claim, refused, max(1, ttl))
            done.append(claim)
        return None

    async def release(self, claims: Sequence[Claim]) -> None:
        """Give reserved amounts back (the work they were for did not happen)."""
        for claim in claims:
            args: list[str | int] = [claim.pin[0] if claim.pin else ""]
            for name, amount in claim.amounts.items():
                args += [name, amount]
            await self._release(keys=[claim.key], args=args)

    async def used(self, key: str) -> dict[str, str]:
        """The quota's counters as they are now (for status pages and tests)."""
        raw = await self._redis.hgetall(key)
        return {as_text(k): as_text(v) for k, v in raw.items()}
