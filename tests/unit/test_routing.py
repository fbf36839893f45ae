"""Routing rules Python uses at run time: capacity, eligibility, hours, queue rules, wait."""

# The routing decision (order, aging, strategies) is the Lua's: test_acd_routing.py.

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage.acd.routing import (
    BusinessHours,
    CapacityRules,
    QueueConfig,
    can_take,
    eligible,
    estimated_wait,
)
from engage.errors import InvalidPayload

CHANNELS = ["chat", "voice", "video", "cobrowse", "phone", "outbound"]


# The capacity rules as the Lua must apply them too (tests/integration/test_acd_routing.py).
CAPACITY_CASES: list[tuple[dict[str, int], str, bool]] = [
    ({}, "chat", True),
    ({"chat": 2}, "chat", True),
    ({"chat": 3}, "chat", False),
    ({"chat": 3}, "voice", True),          # chats do not stop a call
    ({"voice": 1}, "phone", False),        # one call at a time, whatever its channel
    ({"phone": 1}, "video", False),
    ({"video": 1}, "chat", False),         # no chat while on video
    ({"chat": 1}, "video", False),
    ({"cobrowse": 1}, "video", False),
    ({"voice": 1}, "chat", True),
    ({"cobrowse": 1}, "cobrowse", False),
    ({}, "fax", False),                     # unknown channel: no capacity at all
]


@pytest.mark.parametrize("load, channel, ok", CAPACITY_CASES)
def test_capacity(load: dict[str, int], channel: str, ok: bool) -> None:
    assert can_take(load, channel) is ok


@given(st.lists(st.sampled_from(CHANNELS), max_size=30))
def test_capacity_never_exceeded_when_respected(requests: list[str]) -> None:
    rules = CapacityRules()
    load: dict[str, int] = {}
    for channel in requests:
        if can_take(load, channel, rules):
            load[channel] = load.get(channel, 0) + 1
        for ch, n in load.items():
            assert n <= rules.limits[ch]
        for members, limit in rules.groups.values():
            assert sum(load.get(m, 0) for m in members) <= limit
        assert not (load.get("video") and load.get("chat"))


def test_eligibility_needs_every_skill_at_level() -> None:
    assert eligible({"rent": 3, "en": 1}, {"rent": 2})
    assert not eligible({"rent": 1}, {"rent": 2})
    assert not eligible({"rent": 3}, {"rent": 1, "en": 1})
    assert eligible({}, {})


def test_business_hours_in_shanghai() -> None:
    hours = BusinessHours(tz="Asia/Shanghai", days=(0, 1, 2, 3, 4), open=time(9),
                          close=time(21))
    monday_10_local = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)   # 10:00 in Shanghai
    monday_22_local = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 22:00
    sunday_10_local = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
    assert hours.is_open(monday_10_local)
    assert not hours.is_open(monday_22_local)
    assert not hours.is_open(sunday_10_local)
    night = BusinessHours(open=time(22), close=time(6))
    assert night.is_open(monday_22_local)
    assert not night.is_open(monday_10_local)


@pytest.mark.parametrize("kwargs, message", [
    ({"exit": "voicemail"}, "exit"),
    ({"exit": "overflow:rent"}, "overflow into itself"),
    ({"max_wait_seconds": 0}, "max_wait_seconds"),
    ({"offer_timeout_seconds": 0}, "offer_timeout_seconds"),
    ({"wrap_up_seconds": -1}, "must not be negative"),
])
def test_queue_config_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        QueueConfig("rent", "Rent", **kwargs)  # type: ignore[arg-type]


def test_estimated_wait() -> None:
    assert estimated_wait(0, 180, 3) == 0
    assert estimated_wait(3, 180, 3) == 180
    assert estimated_wait(2, 120, 0) == 240  # nobody staffed: as if one agent
