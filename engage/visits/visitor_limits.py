"""What one visitor, address or site may do however many sockets and nodes it uses: shared
rates for costly events and token issuance, and the cap on a visitor's open sockets."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

import redis.asyncio as aioredis

from engage import keys
from engage.errors import TooManySockets
from engage.infra.shared_rate import Rate, SharedRates
from engage.tasks import TaskSet

# A socket's place is a lease its node renews; a node that dies frees its places this late.
SOCKET_LEASE_SECONDS = 120
SOCKET_RENEW_SECONDS = 40
RENEW_BATCH = 500  # keys per script call: short scripts keep Redis responsive

# Admit one more socket if the visitor holds fewer than the cap, dropping expired leases.
_ADMIT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""

# Renew the leases this node still holds (only those still present: a released one stays so).
_RENEW = """
local now = redis.call('TIME')
local until_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[1])
for i = 1, #KEYS do
  if redis.call('ZADD', KEYS[i], 'XX', 'CH', until_ms, ARGV[i + 1]) == 1 then
    redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[1]))
  end
end
return 0
"""


_CHAT, _CONVERSATION = Rate(20, 30), Rate(30, 30)
_CONTACT, _CONTACT_ADDRESS = Rate(10, 600), Rate(30, 600)
_TRAIL = Rate(120, 60)
_UPLOAD = Rate(10, 60)
# Every page load renews the token: an office behind one address loads many pages.
_TOKEN_ADDRESS, _TOKEN_SITE = Rate(120, 60), Rate(30000, 60)


@dataclass(frozen=True)
class VisitorLimits:
    """Defaults sized for people: a visitor types far slower than these, a script does not.
    ``ENGAGE_VISITOR_LIMITS`` overrides any of them, e.g. ``chat=10/30,sockets=4``."""

    chat: Rate = _CHAT  # chat messages per visitor, over all sockets and nodes
    conversation: Rate = _CONVERSATION  # visitor messages per conversation
    contact: Rate = _CONTACT  # help requests, accepted invites, messages, callbacks
    contact_address: Rate = _CONTACT_ADDRESS  # the same per client address (offices share one)
    trail: Rate = _TRAIL  # trail batches (visit.events) per visitor
    upload: Rate = _UPLOAD  # attachment upload attempts per visitor, refused ones too
    token_address: Rate = _TOKEN_ADDRESS  # visitor tokens issued per client address
    token_site: Rate = _TOKEN_SITE  # visitor tokens issued per site
    sockets: int = 8  # open sockets per visitor (tabs), over all nodes

    @classmethod
    def parse(cls, spec: str) -> VisitorLimits:
        """``name=count/seconds`` pairs separated by commas (``sockets=N``); the rest default."""
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, _, value = item.partition("=")
            name = name.strip()
            if name not in names:
                raise ValueError(f"visitor limits: unknown limit {name!r}")
            if name == "sockets":
                if not value.strip().isdigit() or not 1 <= int(value) <= 1000:
                    raise ValueError("visitor limits: sockets=N with N from 1 to 1000")
                values[name] = int(value)
            else:
                values[name] = Rate.parse(value)
        return replace(cls(), **values)


class VisitorQuota:
    """The checks adapters make before a costly visitor action; each raises ``RateLimited``
    (or ``TooManySockets``) with a stable code, or returns."""

    def __init__(self, redis: aioredis.Redis, limits: VisitorLimits, node_id: str, *,
                 tasks: TaskSet) -> None:
        self.limits = limits
        self._rates = SharedRates(redis)
        self._admit = redis.register_script(_ADMIT)
        self._renew = redis.register_script(_RENEW)
        self._redis = redis
        self._node = f"{node_id}-{secrets.token_hex(4)}"  # one per process, even same node id
        self._held: dict[str, tuple[str, float]] = {}  # sid -> visitor, admitted (monotonic)
        # Set by the socket adapter: whether a sid is still connected here. A socket that
        # vanished while it was being admitted never runs its leave hook; renew() frees it.
        self.alive: Callable[[str], bool] = lambda sid: True
        self._tasks = tasks
        self._renewing: asyncio.Task[None] | None = None

    # -- rates ---------------------------------------------------------------------------
    async def chat(self, visitor_id: str, ix: str) -> None:
        await self._rates.take(("chat", visitor_id, self.limits.chat),
                               ("conversation", ix, self.limits.conversation))

    async def contact(self, visitor_id: str, address: str) -> None:
        await self._rates.take(("contact", visitor_id, self.limits.contact),
                               ("contact-address", address, self.limits.contact_address))

    async def trail(self, visitor_id: str) -> None:
        await self._rates.take(("trail", visitor_id, self.limits.trail))

    async def upload(self, visitor_id: str) -> None:
        await self._rates.take(("upload", visitor_id, self.limits.upload))

    async def token(self, address: str, site_key: str) -> None:
        await self._rates.take(("token-address", address, self.limits.token_address),
                               ("token-site", site_key, self.limits.token_site))

    # -- sockets -------------------------------------------------------------------------
    async def open_socket(self, visitor_id: str, sid: str) -> None:
        admitted = await self._admit(
            keys=[keys.visitor_sockets(visitor_id)],
            args=[self._member(sid), self.limits.sockets, SOCKET_LEASE_SECONDS * 1000])
        if not int(admitted):
            raise TooManySockets(limit=self.limits.sockets)
        self._held[sid] = (visitor_id, time.monotonic())
        if self._renewing is None:  # from the first visitor socket on, while the node runs
            self._renewing = self._tasks.every(SOCKET_RENEW_SECONDS, self.renew,
                                               name="visitor-socket-leases")

    async def close_socket(self, sid: str) -> None:
        held = self._held.pop(sid, None)
        if held is not None:
            await self._redis.zrem(keys.visitor_sockets(held[0]), self._member(sid))

    async def renew(self) -> None:
        """Keep this node's places (run every ``SOCKET_RENEW_SECONDS``)."""
        settled = time.monotonic() - SOCKET_RENEW_SECONDS
        for sid, (_, admitted) in list(self._held.items()):
            if admitted < settled and not self.alive(sid):
                await self.close_socket(sid)
        held = [(sid, visitor) for sid, (visitor, _) in self._held.items()]
        for start in range(0, len(held), RENEW_BATCH):
            batch = held[start:start + RENEW_BATCH]
            await self._renew(keys=[keys.visitor_sockets(v) for _, v in batch],
                              args=[SOCKET_LEASE_SECONDS * 1000,
                                    *(self._member(sid) for sid, _ in batch)])

    def _member(self, sid: str) -> str:
        return f"{self._node}:{sid}"
