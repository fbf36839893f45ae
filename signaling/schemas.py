"""Payload schemas and limits of every client event, per namespace (the wire contract)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from analytics.patterns import EMAIL_PATTERN, PHONE_PATTERN
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
# What a visitor may ask for from a web page: phone and outbound are the telephony side's.
WebChannel = Literal["chat", "voice", "video", "cobrowse"]
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


# -- visitor widget (web_widget/PROTOCOL.md) ------------------------------------------------
Url = Annotated[str, msgspec.Meta(max_length=2048)]
Short = Annotated[str, msgspec.Meta(max_length=300)]
Label = Annotated[str, msgspec.Meta(max_length=120)]
Ms = Annotated[int, msgspec.Meta(ge=0, le=10**13)]
Uuid = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F-]{32,36}$")]
InviteId = Annotated[str, msgspec.Meta(pattern=r"^inv_[A-Za-z0-9_-]{8,64}$")]
AttachmentId = Annotated[str, msgspec.Meta(pattern=r"^att_[A-Za-z0-9_-]{8,64}$")]
# Contacts a visitor leaves follow the one rule campaigns and the mailer use (analytics.patterns);
# the Maybe* forms also take "" for "not given".
Phone = Annotated[str, msgspec.Meta(max_length=32, pattern=PHONE_PATTERN)]
Email = Annotated[str, msgspec.Meta(max_length=254, pattern=EMAIL_PATTERN)]
MaybePhone = Annotated[str, msgspec.Meta(max_length=32, pattern=rf"^$(?!\n)|{PHONE_PATTERN}")]
MaybeEmail = Annotated[str, msgspec.Meta(max_length=254, pattern=rf"^$(?!\n)|{EMAIL_PATTERN}")]
Lang = Literal["en", "zh"]
CHAT_TEXT_MAX = 4000
MAX_TRAIL_BATCH = 50


class PageInfo(Payload):
    url: Url
    title: Short = ""
    referrer: Url = ""


class TrailBase(msgspec.Struct, forbid_unknown_fields=True, tag_field="type", kw_only=True):
    at: Ms
    url: Url = ""


class PageView(TrailBase, tag="page"):
    title: Short = ""
    referrer: Url = ""
    nav: Literal["load", "push", "pop", "replace"] = "load"


class PageLeave(TrailBase, tag="leave"):
    dwell_ms: Ms = 0


class Click(TrailBase, tag="click"):
    target: Label = ""
    x: Annotated[int, msgspec.Meta(ge=-100_000, le=100_000)] = 0
    y: Annotated[int, msgspec.Meta(ge=-100_000, le=10_000_000)] = 0


class FormStep(TrailBase, tag="form"):
    form: Label = ""
    step: Label = ""
    action: Literal["focus", "submit", "invalid"] = "focus"


class JsError(TrailBase, tag="error"):
    message: Short = ""
    source: Url = ""


class HttpError(TrailBase, tag="http_error"):
    status: Annotated[int, msgspec.Meta(ge=400, le=599)]


SignalKind = Literal["rage_click", "dead_click", "error_click", "form_thrash", "form_idle",
                     "help_click"]


class Signal(TrailBase, tag="signal"):
    """A raw struggle measurement; the server's policy decides what it means."""

    kind: SignalKind
    count: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 0
    span_ms: Ms = 0
    radius_px: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 0
    wait_ms: Ms = 0
    idle_ms: Ms = 0
    cycles: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 0
    target: Label = ""
    form: Label = ""
    field: Label = ""
    step: Label = ""
    message: Short = ""


class Heartbeat(TrailBase, tag="heartbeat"):
    dwell_ms: Ms = 0


class ConversionEvent(TrailBase, tag="conversion"):
    value: Annotated[float, msgspec.Meta(ge=0, le=1e12)] = 0.0


TrailEvent = (PageView | PageLeave | Click | FormStep | JsError | HttpError | Signal
              | Heartbeat | ConversionEvent)


class VisitHello(Payload):
    page: PageInfo
    lang: Lang = "en"


class VisitEvents(Payload):
    events: Annotated[list[TrailEvent], msgspec.Meta(max_length=MAX_TRAIL_BATCH)]


class ContactRequest(Payload):
    channel: WebChannel = "chat"
    queue: QueueId | None = None
    context: dict[str, Any] = {}
    invite: InviteId | None = None


class LeaveMessage(Payload):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=CHAT_TEXT_MAX)]
    email: MaybeEmail = ""
    phone: MaybePhone = ""
    queue: QueueId | None = None


class CallbackRequest(Payload):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    phone: Phone
    queue: QueueId | None = None


class ChatSend(Payload):
    interaction: IxId
    client_id: Uuid
    text: Annotated[str, msgspec.Meta(max_length=CHAT_TEXT_MAX)] = ""
    attachment: AttachmentId | None = None


class ChatSync(Payload):
    interaction: IxId
    after_seq: Annotated[int, msgspec.Meta(ge=0)] = 0


class ChatTyping(Payload):
    interaction: IxId
    typing: bool


class ChatReceipt(Payload):
    interaction: IxId
    seq: Annotated[int, msgspec.Meta(ge=0)]
    kind: Literal["delivered", "read"]


class ChatRate(Payload):
    interaction: IxId
    score: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class ChatTranscript(Payload):
    interaction: IxId
    email: Email


class InviteRespond(Payload):
    invite: InviteId
    action: Literal["accept", "dismiss"]


class OptOut(Payload):
    opted_out: bool


# -- calls (voice/video of a connected interaction; engage.calls.service, .sdp_policy) --
CallId = Annotated[str, msgspec.Meta(pattern=r"^call_[A-Za-z0-9_-]{16,64}$")]
CallMedia = Literal["audio", "video"]
# Room for a 64 KB description as JSON (escaped line breaks): the SDP policy, not the
# size guard, refuses descriptions over its limit, with its own code.
CALL_SIGNAL_BYTES = 2 * 64 * 1024 + 4096


class CallPropose(Payload):
    interaction: IxId
    media: CallMedia
    record_consent: bool = False  # the visitor's consent to recording, with their proposal


class CallConsent(Payload):
    call: CallId
    accept: bool
    record_consent: bool = False


class IceCandidateInit(Payload, rename="camel"):
    """The browser's RTCIceCandidateInit; "" as candidate means end of candidates."""

    candidate: Annotated[str, msgspec.Meta(max_length=1024)]
    sdp_mid: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    sdp_m_line_index: Annotated[int, msgspec.Meta(ge=0, le=63)] | None = None
    username_fragment: Annotated[str, msgspec.Meta(max_length=256)] | None = None


class CallSignal(Payload):
    call: CallId
    kind: Literal["offer", "answer", "ice", "restart"]
    sdp: Annotated[str, msgspec.Meta(max_length=CALL_SIGNAL_BYTES)] | None = None
    candidate: IceCandidateInit | None = None


class CallMediaChange(Payload):
    call: CallId
    media: CallMedia


class CallRef(Payload):
    call: CallId


@dataclass(frozen=True)
class EventSpec:
    """One client event: its schema, the roles allowed, its size cap and rate-limit cost."""

    name: str
    schema: type[Payload]
    roles: frozenset[Role] | None = None  # None: anyone connected to the namespace
    max_bytes: int = DEFAULT_MAX_BYTES
    cost: float = 1.0


SUPERVISING = frozenset({Role.SUPERVISOR, Role.ADMIN})
CHAT_BYTES = 4 * CHAT_TEXT_MAX + 1024  # worst case UTF-8 plus the envelope

# The same chat events on both sides of a conversation.
CHAT_EVENTS: dict[str, EventSpec] = {
    "chat.send": EventSpec("chat.send", ChatSend, max_bytes=CHAT_BYTES),
    "chat.sync": EventSpec("chat.sync", ChatSync),
    "chat.typing": EventSpec("chat.typing", ChatTyping),
    "chat.receipt": EventSpec("chat.receipt", ChatReceipt),
}

# The same call events on both sides of a conversation.
CALL_EVENTS: dict[str, EventSpec] = {
    "call.propose": EventSpec("call.propose", CallPropose, cost=5.0),
    "call.consent": EventSpec("call.consent", CallConsent),
    "call.signal": EventSpec("call.signal", CallSignal, max_bytes=CALL_SIGNAL_BYTES),
    "call.media": EventSpec("call.media", CallMediaChange),
    "call.hangup": EventSpec("call.hangup", CallRef),
}

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
        **CHAT_EVENTS,
        "visit.watch": EventSpec("visit.watch", InteractionRef),
        **CALL_EVENTS,
    },
    SUPERVISOR_NS: {
        "ping": EventSpec("ping", Echo),
        "whoami": EventSpec("whoami", Empty),
        "announce": EventSpec("announce", Announce, roles=SUPERVISING, cost=5.0),
    },
    VISITOR_NS: {
        "ping": EventSpec("ping", Echo),
        "whoami": EventSpec("whoami", Empty),
        "visit.hello": EventSpec("visit.hello", VisitHello, cost=2.0),
        "visit.events": EventSpec("visit.events", VisitEvents, max_bytes=48 * 1024),
        "contact.request": EventSpec("contact.request", ContactRequest, cost=5.0),
        "contact.status": EventSpec("contact.status", InteractionRef),
        "contact.cancel": EventSpec("contact.cancel", InteractionRef),
        "contact.message": EventSpec("contact.message", LeaveMessage, max_bytes=CHAT_BYTES,
                                     cost=5.0),
        "contact.callback": EventSpec("contact.callback", CallbackRequest, cost=5.0),
        **CHAT_EVENTS,
        "chat.rate": EventSpec("chat.rate", ChatRate),
        "chat.transcript": EventSpec("chat.transcript", ChatTranscript, cost=10.0),
        "invite.respond": EventSpec("invite.respond", InviteRespond, cost=2.0),
        "visitor.opt_out": EventSpec("visitor.opt_out", OptOut),
        **CALL_EVENTS,
    },
}

# Events the server sends (clients listen for these).
SERVER_EVENTS = ("announcement", "session_ended", "engage:error",
                 # ACD, to agents:
                 "offer", "offer_revoked", "agent_state", "wrap_up", "closed", "transferred",
                 "consult_offer", "consult_accepted", "consult_cancelled", "transfer_completed",
                 # ACD, to visitors:
                 "queue_status", "connected", "ended", "agent_lost", "timed_out",
                 # chat, both sides; trail to agents; help offers and invites to visitors:
                 "chat.message", "chat.typing", "chat.receipt", "trail", "help.offer",
                 "invite", "bulletin",
                 # calls, both sides:
                 "call.proposed", "call.accepted", "call.declined", "call.signal",
                 "call.media", "call.ended")


def decode(spec: EventSpec, args: list[Any]) -> Payload:
    """The typed payload of one event's arguments; raises msgspec.ValidationError."""
    if len(args) > 1:
        raise msgspec.ValidationError("expected at most one payload argument")
    raw = args[0] if args else {}
    if raw is None:
        raw = {}
    return msgspec.convert(raw, type=spec.schema, strict=True)
