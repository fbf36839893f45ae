"""The embedded backends answer and persist, as the server will use them."""

from __future__ import annotations

from engage.models import Role
from engage.staff.directory import StaffDirectory


async def test_staff_round_trip(db) -> None:  # type: ignore[no-untyped-def]
    staff = StaffDirectory(db)
    await staff.add("alice", "correct horse battery", Role.AGENT)
    user = await staff.authenticate("alice", "correct horse battery")
    assert user.role is Role.AGENT


async def test_redis_flushes_between_tests(redis) -> None:  # type: ignore[no-untyped-def]
    assert await redis.dbsize() == 0
    await redis.set("k", "v")
