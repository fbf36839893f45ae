"""The shared GCRA buckets and a visitor's socket places on a real Redis: exact counts,
all-or-none, separate subjects, places counted across nodes."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from engage import keys
from engage.errors import RateLimited, TooManySockets
from engage.infra.shared_rate import Rate, SharedRates
from engage.tasks import TaskSet
from engage.visits.visitor_limits import VisitorLimits, VisitorQuota

SLOW = Rate(3, 3600)  # nothing refills while the test runs


async def outcomes(rates: SharedRates, *buckets: tuple[str, str, Rate], n: int) -> list[bool]:
    async def one() -> bool:
        try:
            await rates.take(*buckets)
        except RateLimited:
            return False
        return True
    return list(await asyncio.gather(*(one() for _ in range(n))))


async def test_a_burst_of_concurrent_takes_gets_exactly_the_allowance(
        redis: aioredis.Redis) -> None:
    got = await outcomes(SharedRates(redis), ("chat", "v1", SLOW), n=20)
    assert got.count(True) == 3
    # Another subject has its own bucket.
    assert (await outcomes(SharedRates(redis), ("chat", "v2", SLOW), n=1)) == [True]


async def test_a_refusal_by_one_bucket_charges_none(redis: aioredis.Redis) -> None:
    rates = SharedRates(redis)
    await outcomes(rates, ("chat", "v1", SLOW), n=3)  # v1's own bucket is empty now
    before = await redis.get(keys.rate("conversation", "ix1"))
    with pytest.raises(RateLimited) as refused:
        await rates.take(("chat", "v1", SLOW), ("conversation", "ix1", Rate(100, 60)))
    assert refused.value.details["retry_after"] > 0
    assert await redis.get(keys.rate("conversation", "ix1")) == before is None


async def test_buckets_expire_once_refilled(redis: aioredis.Redis) -> None:
    await SharedRates(redis).take(("token-site", "s1", Rate(10, 60)))
    ttl_ms = await redis.pttl(keys.rate("token-site", "s1"))
    assert 0 < ttl_ms <= 6001  # one interval: then the bucket is full again and not kept


async def test_a_visitors_sockets_are_counted_across_nodes(redis: aioredis.Redis,
                                                           tasks: TaskSet) -> None:
    limits = VisitorLimits(sockets=2)
    node_a = VisitorQuota(redis, limits, "node-a", tasks=tasks)
    node_b = VisitorQuota(redis, limits, "node-b", tasks=tasks)
    await node_a.open_socket("v1", "s1")
    await node_b.open_socket("v1", "s1")  # the same sid on another node is another socket
    with pytest.raises(TooManySockets):
        await node_a.open_socket("v1", "s2")
    await node_a.open_socket("v2", "s2")  # another visitor has its own places
    leases = dict(await redis.zrange(keys.visitor_sockets("v1"), 0, -1, withscores=True))
    await node_b.renew()  # a renewal moves leases on, never drops a live one
    renewed = dict(await redis.zrange(keys.visitor_sockets("v1"), 0, -1, withscores=True))
    assert renewed.keys() == leases.keys()
    assert all(renewed[m] >= leases[m] for m in leases)
    await node_b.close_socket("s1")
    await node_a.open_socket("v1", "s3")
    assert await redis.zcard(keys.visitor_sockets("v1")) == 2
