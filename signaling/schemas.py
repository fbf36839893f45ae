"""Payload schemas and limits of every client event, per namespace (the wire contract)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from engage.models import Role

AGENT_NS = "/agent"
SUPERVISOR_NS = "/supervisor"
VISITOR_NS = "/visitor"
NAMESPACES = (AGENT_NS, SUPERVISOR_NS, VISITOR_NS)

# Who may connect to each namespace at all; events can narrow it further.
NAMESPACE_ROLES: dict[str, frozenset[Role]] = {
    AGENT_NS: frozenset({Role.AGENT, Role.SUPERVISOR}),
    SUPERVISOR_NS: frozenset({Role.SUPERVISOR, Role.ADMIN}),
}

# Names python-socketio (or an EventEmitter client) gives a meaning; a client may not send them.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "disconnecting",
                             "newListener", "removeListener", "message"})

DEFAULT_MAX_BYTES = 4 * 1024
MAX_PACKET_BYTES = 1024 * 1024  # the Engine.IO buffer cap; per-event caps sit below it


class Payload(msgspec.Struct, forbid_unknown_fields=True):
    """Base of event payloads: unknown fields are an error, not silently dropped."""


class Empty(Payload):
    pass


class Announce(Payload):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    level: Annotated[str, msgspec.Meta(pattern="^(info|warning|urgent)$")] = "info"


class Echo(Payload):
    """A round trip to measure latency and prove the channel; the text comes back."""

    text: Annotated[str, msgspec.Meta(max_length=1000)] = ""


IxId = Annotated[str, msgspec.Meta(pattern=r"^ix[0-9]{10}$")]
Username = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]{1,39}$")]
QueueId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_-]{1,40}$")]
ChannelName = Literal["chat", "voice", "video", "cobrowse", "phone", "outbound"]
# Wrap-up disposition codes; "resolved" also feeds first-contact resolution.
DISPOSITIONS = ("resolved", "sale_opportunity", "follow_up", "callback_requested",
                "not_resolved", "transferred", "spam")


class SetState(Payload):
    state: Literal["available", "away", "offline"]
    reason: Annotated[str, msgspec.Meta(max_length=64)] = ""


class InteractionRef(Payload):
    interaction: IxId


class WrapUp(Payload):
    interaction: IxId
    disposition: Literal[DISPOSITIONS]  # type: ignore[valid-type]
    note: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class Transfer(Payload):
    interaction: IxId
    to_queue: QueueId | None = None
    to_agent: Username | None = None
    mode: Literal["cold", "warm"] = "cold"


class ContactRequest(Payload):
    queue: QueueId
    channel: ChannelName = "chat"
    context: dict[str, Any] = {}


@dataclass(frozen=True)
class EventSpec:
    """One client event: its schema, the roles allowed, its size cap and rate-limit cost."""

    name: str
    schema: type[Payload]
    roles: frozenset[Role] | None = None  # None: anyone connected to the namespace
    max_bytes: int = DEFAULT_MAX_BYTES
    cost: float = 1.0


SUPERVISING = frozenset({Role.SUPERVISOR, Role.ADMIN})

EVENTS: dict[str, dict[str, EventSpec]] = {
    AGENT_NS: {
        "ping": EventSpec("ping", Echo),
        "whoami": EventSpec("whoami", Empty),
        "acd.status": EventSpec("acd.status", Empty),
        "acd.state": EventSpec("acd.state", SetState),
        "acd.accept": EventSpec("acd.accept", InteractionRef),
        "acd.decline": EventSpec("acd.decline", InteractionRef),
        "acd.complete": EventSpec("acd.complete", InteractionRef),
        "acd.wrap_up": EventSpec("acd.wrap_up", WrapUp),
        "acd.transfer": EventSpec("acd.transfer", Transfer),
        "acd.consult_accept": EventSpec("acd.consult_accept", InteractionRef),
        "acd.consult_complete": EventSpec("acd.consult_complete", InteractionRef),
        "acd.consult_cancel": EventSpec("acd.consult_cancel", InteractionRef),
    },
    SUPERVISOR_NS: {
        "ping": EventSpec("ping", Echo),
        "whoami": EventSpec("whoami", Empty),
        "announce": EventSpec("announce", Announce, roles=SUPERVISING, cost=5.0),
    },
    VISITOR_NS: {
        "ping": EventSpec("ping", Echo),
        "whoami": EventSpec("whoami", Empty),
        "contact.request": EventSpec("contact.request", ContactRequest, cost=5.0),
        "contact.status": EventSpec("contact.status", InteractionRef),
        "contact.cancel": EventSpec("contact.cancel", InteractionRef),
    },
}

# Events the server sends (clients listen for these).
SERVER_EVENTS = ("announcement", "session_ended", "engage:error",
                 # ACD, to agents:
                 "offer", "offer_revoked", "agent_state", "wrap_up", "closed", "transferred",
                 "consult_offer", "consult_accepted", "consult_cancelled", "transfer_completed",
                 # ACD, to visitors:
                 "queue_status", "connected", "ended", "agent_lost", "timed_out")


def decode(spec: EventSpec, args: list[Any]) -> Payload:
    """The typed payload of one event's arguments; raises msgspec.ValidationError."""
    if len(args) > 1:
        raise msgspec.ValidationError("expected at most one payload argument")
    raw = args[0] if args else {}
    if raw is None:
        raw = {}
    return msgspec.convert(raw, type=spec.schema, strict=True)
