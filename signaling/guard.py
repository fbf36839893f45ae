"""The checks every client event passes before a handler runs (pure: no I/O, no clock)."""

from __future__ import annotations

from typing import Any

import msgspec

from engage.errors import Forbidden, InvalidPayload, PayloadTooLarge, ReservedEvent, UnknownEvent
from engage.models import Role
from signaling.schemas import EVENTS, RESERVED_EVENTS, EventSpec, Payload, decode


class MalformedPacket(ValueError):
    """The packet is not a Socket.IO event at all; the connection is closed."""


def split_event(data: Any) -> tuple[str, list[Any]]:
    """``["name", *args]`` -> (name, args); anything else is a protocol violation."""
    if not isinstance(data, list) or not data:
        raise MalformedPacket("an event packet must be a non-empty array")
    name = data[0]
    if not isinstance(name, str) or not name or len(name) > 64:
        raise MalformedPacket("an event name must be a string of 1-64 characters")
    return name, data[1:]


def check_event(namespace: str, name: str, args: list[Any], raw_size: int,
                role: Role | None) -> tuple[EventSpec, Payload]:
    """The spec and typed payload of an event, or the domain error to send back.

    Order matters: name first (reserved, unknown), then authority, then size, then shape,
    so a client learns nothing about payload rules of events it may not send.
    """
    if name in RESERVED_EVENTS:
        raise ReservedEvent(f"{name!r} is reserved and cannot be sent by a client")
    spec = EVENTS.get(namespace, {}).get(name)
    if spec is None:
        raise UnknownEvent(f"no event {name!r} in {namespace}")
    if spec.roles is not None and role not in spec.roles:
        raise Forbidden(f"{name!r} needs one of: {', '.join(sorted(spec.roles))}")
    if raw_size > spec.max_bytes:
        raise PayloadTooLarge(f"{name!r} payload is {raw_size} bytes; the limit is "
                              f"{spec.max_bytes}", limit=spec.max_bytes)
    try:
        payload = decode(spec, args)
    except msgspec.ValidationError as exc:
        raise InvalidPayload(f"{name!r}: {exc}") from None
    return spec, payload
