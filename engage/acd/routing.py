"""ACD routing rules Python uses at run time: queue config, channels, capacity, skills, wait."""

# The routing decision itself (queue order with priority and aging, strategies, ring-all,
# capacity) is made atomically by the Lua scripts in engage/acd/lua/, and their tests run the
# scripts (tests/integration/test_acd_routing.py). Here: the config the scripts read, which
# queues an agent's skills serve, the capacity rules the scripts receive (and ``can_take``,
# the roster's copy of their check, held to the scripts' answers by those tests), the wait.

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from engage.errors import InvalidPayload


class Channel(enum.StrEnum):
    CHAT = "chat"
    VOICE = "voice"
    VIDEO = "video"
    COBROWSE = "cobrowse"
    PHONE = "phone"
    OUTBOUND = "outbound"


class AgentState(enum.StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"  # handling something, may still take more within capacity
    AWAY = "away"
    WRAP_UP = "wrap_up"
    OFFLINE = "offline"


ROUTABLE_STATES = frozenset({AgentState.AVAILABLE, AgentState.BUSY})


class Strategy(enum.StrEnum):
    LONGEST_IDLE = "longest_idle"
    LEAST_OCCUPIED = "least_occupied"
    ROUND_ROBIN = "round_robin"
    RING_ALL = "ring_all"


@dataclass(frozen=True)
class CapacityRules:
    """How much one agent may hold at once.

    ``limits`` per channel; ``groups`` share one limit (all calls together: one call);
    ``blocked_by`` says a channel is not offered while another is active (no chat on video).
    """

    limits: Mapping[str, int] = field(default_factory=lambda: {
        "chat": 3, "voice": 1, "video": 1, "cobrowse": 1, "phone": 1, "outbound": 1})
    groups: Mapping[str, tuple[tuple[str, ...], int]] = field(default_factory=lambda: {
        "calls": (("voice", "video", "phone", "outbound"), 1)})
    blocked_by: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {
        "chat": ("video",), "video": ("chat", "cobrowse"), "cobrowse": ("video",)})

    def as_lua(self) -> dict[str, object]:
        return {"limits": dict(self.limits),
                "groups": [{"members": list(m), "limit": n} for m, n in self.groups.values()],
                "blocked_by": {k: list(v) for k, v in self.blocked_by.items()}}


DEFAULT_CAPACITY = CapacityRules()


def can_take(load: Mapping[str, int], channel: str, rules: CapacityRules = DEFAULT_CAPACITY
             ) -> bool:
    """Whether one more ``channel`` interaction fits next to ``load``, as the scripts decide."""
    if load.get(channel, 0) + 1 > rules.limits.get(channel, 0):
        return False
    for members, limit in rules.groups.values():
        if channel in members and sum(load.get(m, 0) for m in members) + 1 > limit:
            return False
    return not any(load.get(b, 0) > 0 for b in rules.blocked_by.get(channel, ()))


def eligible(skills: Mapping[str, int], required: Mapping[str, int]) -> bool:
    """An agent serves a queue when every required skill is at or above its minimum level."""
    return all(skills.get(skill, 0) >= level for skill, level in required.items())


@dataclass(frozen=True)
class BusinessHours:
    tz: str = "Asia/Shanghai"
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)  # Monday = 0
    open: time = time(0, 0)
    close: time = time(23, 59, 59)

    def is_open(self, when: datetime) -> bool:
        local = when.astimezone(ZoneInfo(self.tz))
        if local.weekday() not in self.days:
            return False
        now = local.time()
        if self.open <= self.close:
            return self.open <= now < self.close
        return now >= self.open or now < self.close  # spans midnight


EXITS = ("none", "callback", "message")


@dataclass(frozen=True)
class QueueConfig:
    queue_id: str
    name: str
    required_skills: Mapping[str, int] = field(default_factory=dict)
    priority: int = 0
    strategy: Strategy = Strategy.LONGEST_IDLE
    max_length: int = 1000
    max_wait_seconds: int = 600
    exit: str = "callback"  # none | callback | message | overflow:<queue_id>
    aging_seconds: int = 60
    wrap_up_seconds: int = 30
    offer_timeout_seconds: int = 20
    max_misses: int = 3
    service_level_seconds: int = 20
    sticky_seconds: int = 30
    hours: BusinessHours | None = None
    record_calls: bool = False  # calls of this queue are recorded, with the visitor's consent

    def __post_init__(self) -> None:
        if not self.exit.startswith("overflow:") and self.exit not in EXITS:
            raise InvalidPayload("exit: none, callback, message or overflow:<queue>")
        if self.exit == f"overflow:{self.queue_id}":
            raise InvalidPayload("exit: a queue cannot overflow into itself")
        for name in ("max_length", "max_wait_seconds", "aging_seconds", "offer_timeout_seconds",
                     "max_misses", "service_level_seconds"):
            if getattr(self, name) < 1:
                raise InvalidPayload(f"{name}: must be at least 1")
        if self.wrap_up_seconds < 0 or self.sticky_seconds < 0:
            raise InvalidPayload("wrap_up_seconds and sticky_seconds: must not be negative")


def estimated_wait(position: int, aht_seconds: float, agents_serving: int) -> float:
    """Seconds until a contact at ``position`` (1 = next) is likely answered."""
    if position <= 0:
        return 0.0
    return position * aht_seconds / max(1, agents_serving)
