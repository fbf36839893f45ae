"""Event checks in order: reserved, unknown, role, size, schema."""

from __future__ import annotations

from typing import Any

import pytest

from engage.errors import (
    EngageError,
    Forbidden,
    InvalidPayload,
    PayloadTooLarge,
    ReservedEvent,
    UnknownEvent,
)
from engage.models import Role
from signaling.guard import MalformedPacket, check_event, split_event
from signaling.schemas import EVENTS, RESERVED_EVENTS, Announce, Echo


@pytest.mark.parametrize("data", [None, [], [1], [""], ["x" * 65], {"a": 1}, "ping"])
def test_split_event_rejects_non_events(data: Any) -> None:
    with pytest.raises(MalformedPacket):
        split_event(data)


def test_split_event() -> None:
    assert split_event(["ping", {"text": "a"}]) == ("ping", [{"text": "a"}])


@pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
def test_reserved_names(name: str) -> None:
    with pytest.raises(ReservedEvent):
        check_event("/agent", name, [], 10, Role.AGENT)


def test_unknown_event_and_namespace() -> None:
    with pytest.raises(UnknownEvent):
        check_event("/agent", "nope", [], 10, Role.AGENT)
    with pytest.raises(UnknownEvent):
        check_event("/elsewhere", "ping", [], 10, Role.AGENT)


def test_role_is_checked_before_size_and_shape() -> None:
    with pytest.raises(Forbidden):
        check_event("/supervisor", "announce", ["not even a dict"], 10**6, Role.AGENT)


def test_size_cap() -> None:
    with pytest.raises(PayloadTooLarge) as info:
        check_event("/agent", "ping", [{"text": "x"}], 4097, Role.AGENT)
    assert info.value.to_ack()["limit"] == 4096


@pytest.mark.parametrize("args", [
    [{"text": 1}], ["text"], [[1]], [{"text": "a", "more": 1}], [{}, {}], [{"text": "x" * 1001}],
])
def test_schema(args: list[Any]) -> None:
    with pytest.raises(InvalidPayload):
        check_event("/agent", "ping", args, 10, Role.AGENT)


def test_valid_payloads_decode_to_structs() -> None:
    _, payload = check_event("/agent", "ping", [], 10, Role.AGENT)
    assert payload == Echo(text="")
    _, payload = check_event("/supervisor", "announce", [{"text": "hi", "level": "urgent"}], 40,
                             Role.SUPERVISOR)
    assert payload == Announce(text="hi", level="urgent")
    with pytest.raises(InvalidPayload):
        check_event("/supervisor", "announce", [{"text": "hi", "level": "loud"}], 40,
                    Role.ADMIN)


def test_every_spec_is_consistent() -> None:
    for namespace, specs in EVENTS.items():
        for name, spec in specs.items():
            assert spec.name == name and name not in RESERVED_EVENTS, namespace
            assert 0 < spec.max_bytes <= 1024 * 1024 and spec.cost >= 1


def test_error_acks_have_stable_shape() -> None:
    ack = EngageError("boom").to_ack()
    assert ack == {"ok": False, "code": "internal", "message": "boom"}
    assert ReservedEvent().to_ack()["message"]
