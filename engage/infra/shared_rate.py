"""Rates shared by every socket and node: GCRA buckets in Redis (``keys.rate``), one Lua check."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import redis.asyncio as aioredis

from engage import keys
from engage.errors import RateLimited

_RATE_RE = re.compile(r"^(\d{1,7})/(\d{1,7})$")

# GCRA over several buckets at once: each key holds its "theoretical arrival time" (ms).
# Every bucket is checked before any is charged, so a refusal by one (say the visitor's)
# does not use up another (the conversation's). The clock is Redis's own, one for all nodes.
# ARGV: per key, the emission interval (ms) and the burst. Returns 0, or the ms to wait.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
local tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local allow_at = tat + interval - interval * burst
  if allow_at > now and allow_at - now > wait then wait = allow_at - now end
  tats[i] = tat + interval
end
if wait > 0 then return math.ceil(wait) end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil(tats[i] - now) + 1)
end
return 0
"""


@dataclass(frozen=True)
class Rate:
    """``count`` events at once, refilled evenly over ``seconds`` (written ``count/seconds``)."""

    count: int
    seconds: int

    def __post_init__(self) -> None:
        if self.count < 1 or self.seconds < 1:
            raise ValueError("a rate needs a count and a period of at least 1")

    @classmethod
    def parse(cls, text: str) -> Rate:
        match = _RATE_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r}: write a rate as count/seconds, e.g. 30/60")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def interval_ms(self) -> float:
        return self.seconds * 1000 / self.count

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds}"


class SharedRates:
    """Takes one event from each named bucket, all or none, or raises ``RateLimited``."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._check = redis.register_script(_GCRA)

    async def take(self, *buckets: tuple[str, str, Rate]) -> None:
        """``buckets``: (scope, subject, rate), e.g. ("chat", visitor_id, Rate(20, 30))."""
        names = [keys.rate(scope, subject) for scope, subject, _ in buckets]
        args: list[float | int] = []
        for _, _, rate in buckets:
            args += [rate.interval_ms, rate.count]
        wait_ms = int(await self._check(keys=names, args=args))
        if wait_ms > 0:
            raise RateLimited(retry_after=math.ceil(wait_ms / 100) / 10)
