"""The routing decision as the Lua scripts make it, on a real Redis: strategies, ring-all,
queue order with priority and aging, channels, capacity (the Python capacity check the
roster uses is held to the same answers)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from engage.acd.routing import DEFAULT_CAPACITY, QueueConfig, Strategy, can_take
from engage.acd.store import AcdStore
from tests.unit.test_routing import CAPACITY_CASES

T0 = 1_000_000_000  # ms; every call names its own time, so nothing depends on the clock
MINUTE = 60_000


class Desk:
    """One ACD under a prefix of its own, driven op by op at chosen times."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.store = AcdStore(redis, prefix=f"t{uuid.uuid4().hex[:8]}:")
        self.offers: list[dict[str, Any]] = []

    async def call(self, op: str, *args: object, at: int) -> dict[str, Any]:
        outcome = await self.store.call(op, *args, at_ms=at)
        self.offers += [n for n in outcome.notify if n["event"] == "offer"]
        return outcome.fields

    async def queue(self, queue: str, strategy: Strategy, **rules: Any) -> None:
        await self.store.save_queue(QueueConfig(queue, queue, strategy=strategy, **rules))

    async def ready(self, agent: str, queues: str, at: int) -> None:
        await self.call("agent_online", agent, queues, "n1", at=at)
        await self.call("agent_state", agent, "available", "", at=at)

    async def enqueue(self, ix: str, queue: str, at: int, channel: str = "chat",
                      priority: int = 0, front: bool = False) -> str:
        """Queue ``ix``; the state it is in afterwards (the script routes in the same call)."""
        fields = await self.call("enqueue", ix, queue, channel, priority, "", "v", "s", "{}",
                                 "1" if front else "0", at=at)
        return str(fields["state"])

    async def route(self, queue: str, at: int, limit: int = 20) -> list[str]:
        return [str(ix) for ix in (await self.call("route", queue, limit, at=at))["offered"]]

    async def agent_of(self, ix: str) -> str:
        return (await self.store.fields(ix)).get("agent", "")

    async def ringing(self, ix: str) -> set[str]:
        return set(filter(None, (await self.store.fields(ix)).get("ring", "").split(",")))

    async def in_ready_set(self, agent: str, queue: str, channel: str) -> bool:
        score = await self.redis.zscore(self.store.keys.ready(queue, channel), agent)
        return score is not None


@pytest.fixture
async def desk(redis: aioredis.Redis) -> AsyncIterator[Desk]:
    yield Desk(redis)


# -- strategies ------------------------------------------------------------------------------

async def test_longest_idle_offers_the_agent_idle_longest(desk: Desk) -> None:
    await desk.queue("sales", Strategy.LONGEST_IDLE)
    await desk.ready("a1", "sales", at=T0)
    await desk.ready("a2", "sales", at=T0 + 1000)
    await desk.enqueue("ix1", "sales", at=T0 + 2000)
    assert await desk.agent_of("ix1") == "a1"
    # An offer ends a1's idle time: the next one goes to a2, though a1 could take more chats.
    await desk.enqueue("ix2", "sales", at=T0 + 3000)
    assert await desk.agent_of("ix2") == "a2"
    await desk.enqueue("ix3", "sales", at=T0 + 4000)
    assert await desk.agent_of("ix3") == "a1"


async def test_least_occupied_offers_the_agent_with_least_work(desk: Desk) -> None:
    await desk.queue("rent", Strategy.LEAST_OCCUPIED)
    await desk.ready("a1", "rent", at=T0)
    await desk.enqueue("ix1", "rent", at=T0 + 1000)
    assert await desk.agent_of("ix1") == "a1"
    # a2 has been idle for less time than a1, but holds nothing: it gets the next one.
    await desk.ready("a2", "rent", at=T0 + 5000)
    await desk.enqueue("ix2", "rent", at=T0 + 6000)
    assert await desk.agent_of("ix2") == "a2"
    # Equal work: the longer idle of the two.
    await desk.enqueue("ix3", "rent", at=T0 + 7000)
    assert await desk.agent_of("ix3") == "a1"


async def test_longest_idle_would_have_chosen_otherwise(desk: Desk) -> None:
    """The same moves as the least-occupied test under longest idle: a1 again."""
    await desk.queue("sales", Strategy.LONGEST_IDLE)
    await desk.ready("a1", "sales", at=T0)
    await desk.enqueue("ix1", "sales", at=T0 + 1000)
    await desk.ready("a2", "sales", at=T0 + 5000)
    await desk.enqueue("ix2", "sales", at=T0 + 6000)
    assert await desk.agent_of("ix2") == "a1"


async def test_round_robin_takes_turns_whoever_is_idle_longest(desk: Desk) -> None:
    await desk.queue("care", Strategy.ROUND_ROBIN)
    for i, agent in enumerate(("a3", "a2", "a1")):
        await desk.ready(agent, "care", at=T0 + i * 1000)
    chosen = []
    for i in range(6):
        await desk.enqueue(f"ix{i}", "care", at=T0 + 10_000 + i * 1000)
        chosen.append(await desk.agent_of(f"ix{i}"))
    assert len(set(chosen[:3])) == 3
    assert chosen[3:] == chosen[:3]  # the same turn order again


async def test_ring_all_rings_every_ready_agent_and_the_first_to_accept_takes_it(
        desk: Desk) -> None:
    await desk.queue("care", Strategy.RING_ALL)
    for agent in ("a1", "a2", "a3"):
        await desk.ready(agent, "care", at=T0)
    await desk.ready("other", "sales", at=T0)  # not in the queue: not rung
    assert await desk.enqueue("ix1", "care", at=T0 + 1000) == "offered"
    assert await desk.ringing("ix1") == {"a1", "a2", "a3"}
    assert {o["id"] for o in desk.offers} == {"a1", "a2", "a3"}
    outcome = await desk.store.call("accept", "ix1", "a2", at_ms=T0 + 2000)
    revoked = {n["id"] for n in outcome.notify if n["event"] == "offer_revoked"}
    assert revoked == {"a1", "a3"}
    assert await desk.agent_of("ix1") == "a2" and await desk.ringing("ix1") == set()


async def test_ring_all_does_not_ring_again_who_declined(desk: Desk) -> None:
    await desk.queue("care", Strategy.RING_ALL)
    for agent in ("a1", "a2"):
        await desk.ready(agent, "care", at=T0)
    await desk.enqueue("ix1", "care", at=T0 + 1000)
    await desk.call("decline", "ix1", "a1", at=T0 + 2000)
    assert await desk.ringing("ix1") == {"a2"}
    await desk.call("decline", "ix1", "a2", at=T0 + 3000)
    assert (await desk.store.fields("ix1"))["state"] == "queued"
    assert await desk.route("care", at=T0 + 4000) == []  # everyone ready declined it


async def test_an_agent_gets_work_only_from_queues_it_serves(desk: Desk) -> None:
    await desk.queue("sales", Strategy.LONGEST_IDLE)
    await desk.queue("rent", Strategy.LONGEST_IDLE)
    await desk.ready("a1", "rent", at=T0)
    assert await desk.enqueue("ix1", "sales", at=T0 + 1000) == "queued"
    await desk.ready("a2", "sales,rent", at=T0 + 2000)
    assert await desk.route("sales", at=T0 + 3000) == ["ix1"]
    assert await desk.agent_of("ix1") == "a2"


# -- queue order -------------------------------------------------------------------------------

async def test_fifo_within_a_priority(desk: Desk) -> None:
    await desk.queue("sales", Strategy.LONGEST_IDLE)
    for i in range(3):
        await desk.enqueue(f"ix{i}", "sales", at=T0 + i)
    await desk.ready("a1", "sales", at=T0 + 10)
    assert await desk.route("sales", at=T0 + 20, limit=1) == ["ix0"]
    assert await desk.route("sales", at=T0 + 30) == ["ix1", "ix2"]


async def test_higher_priority_first_and_a_minute_of_waiting_is_one_level(desk: Desk) -> None:
    await desk.queue("sales", Strategy.LONGEST_IDLE, aging_seconds=60)
    await desk.enqueue("old", "sales", at=T0, priority=0)
    await desk.enqueue("vip", "sales", at=T0 + MINUTE // 2, priority=1)  # ahead of "old"
    # Two minutes later, one level up is still a minute behind "old".
    await desk.enqueue("late_vip", "sales", at=T0 + 2 * MINUTE, priority=1)
    await desk.ready("a1", "sales", at=T0 + 3 * MINUTE)
    order = []
    for i in range(3):
        order += await desk.route("sales", at=T0 + 3 * MINUTE + i, limit=1)
    assert order == ["vip", "old", "late_vip"]


async def test_aging_follows_the_queue_setting(desk: Desk) -> None:
    await desk.queue("slow", Strategy.LONGEST_IDLE, aging_seconds=600)
    await desk.enqueue("old", "slow", at=T0, priority=0)
    await desk.enqueue("vip", "slow", at=T0 + 5 * MINUTE, priority=1)  # 10 minutes a level
    await desk.ready("a1", "slow", at=T0 + 6 * MINUTE)
    assert await desk.route("slow", at=T0 + 6 * MINUTE, limit=1) == ["vip"]


async def test_requeued_at_the_front_goes_ahead_of_everything(desk: Desk) -> None:
    await desk.queue("sales", Strategy.LONGEST_IDLE)
    await desk.enqueue("vip", "sales", at=T0, priority=9)
    await desk.enqueue("back", "sales", at=T0 + 10 * MINUTE, front=True)
    await desk.ready("a1", "sales", at=T0 + 11 * MINUTE)
    assert await desk.route("sales", at=T0 + 11 * MINUTE, limit=1) == ["back"]


async def test_a_contact_nobody_can_take_does_not_block_the_next(desk: Desk) -> None:
    await desk.queue("sales", Strategy.LONGEST_IDLE)
    await desk.ready("a1", "sales", at=T0)
    await desk.enqueue("chat1", "sales", at=T0 + 1)
    await desk.call("accept", "chat1", "a1", at=T0 + 2)
    # a1 is on video now: no chat and no second call for it.
    await desk.enqueue("video1", "sales", at=T0 + 3, channel="video")
    assert await desk.agent_of("video1") == ""
    await desk.enqueue("chat2", "sales", at=T0 + 4)
    assert await desk.agent_of("chat2") == "a1"


# -- capacity ----------------------------------------------------------------------------------



async def takes(desk: Desk, load: dict[str, int], at: int) -> set[str]:
    """The channels an available agent with ``load`` is ready for, as the script decides."""
    agent = f"a{at}"
    await desk.ready(agent, "q", at=at)
    await desk.redis.hset(desk.store.keys.agent(agent),
                          mapping={f"load:{c}": load.get(c, 0) for c in DEFAULT_CAPACITY.limits})
    await desk.call("agent_state", agent, "available", "", at=at)  # re-files its ready sets
    return {c for c in DEFAULT_CAPACITY.limits if await desk.in_ready_set(agent, "q", c)}


@pytest.mark.parametrize("load, channel, ok", CAPACITY_CASES)
async def test_capacity(desk: Desk, load: dict[str, int], channel: str, ok: bool) -> None:
    await desk.queue("q", Strategy.LONGEST_IDLE)
    assert (channel in await takes(desk, load, T0)) is ok


async def test_the_roster_s_capacity_check_agrees_with_the_script(desk: Desk) -> None:
    """Every load up to one past each limit: the script and ``can_take`` give one answer."""
    await desk.queue("q", Strategy.LONGEST_IDLE)
    channels = list(DEFAULT_CAPACITY.limits)
    ranges = [range(DEFAULT_CAPACITY.limits[c] + 2) for c in channels]
    for i, counts in enumerate(itertools.product(*ranges)):
        load = dict(zip(channels, counts, strict=True))
        expected = {c for c in channels if can_take(load, c)}
        assert await takes(desk, load, T0 + i) == expected, load


async def test_an_offer_counts_against_capacity(desk: Desk) -> None:
    await desk.queue("q", Strategy.LONGEST_IDLE)
    await desk.ready("a1", "q", at=T0)
    for i in range(4):
        await desk.enqueue(f"ix{i}", "q", at=T0 + 1 + i)
    held = [await desk.agent_of(f"ix{i}") for i in range(4)]
    assert held == ["a1", "a1", "a1", ""]  # three chats, offered or not yet accepted
    assert not await desk.in_ready_set("a1", "q", "chat")
