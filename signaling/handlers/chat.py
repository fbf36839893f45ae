"""Chat over Socket.IO for both sides of an interaction, and the agent's live view of a visit."""

from __future__ import annotations

from typing import Any

from engage.acd.access import Action
from engage.acd.gate import AccessGate
from engage.acd.interaction import Interaction
from engage.errors import Forbidden
from engage.services import Services
from engage.visits.service import VisitService
from signaling.handlers.watch import TrailWatchers
from signaling.schemas import (
    AGENT_NS,
    VISITOR_NS,
    ChatRate,
    ChatReceipt,
    ChatSend,
    ChatSync,
    ChatTranscript,
    ChatTyping,
    InteractionRef,
    Payload,
)
from signaling.server import EngageSocketServer, SocketState


def register_chat(server: EngageSocketServer, services: Services, visits: VisitService,
                  gate: AccessGate, watchers: TrailWatchers) -> None:
    chat = services.chat
    names: dict[str, str] = {}

    async def display_name(username: str) -> str:
        if username not in names:
            user = await services.staff.get(username)
            names[username] = user.display_name if user is not None else username
        return names[username]

    async def to_agents(live: Interaction, event: str, data: dict[str, Any]) -> None:
        for username in live.staff:
            await server.emit(event, data, room=f"user:{username}", namespace=AGENT_NS)

    async def to_visitor(ix: str, event: str, data: dict[str, Any]) -> None:
        await server.emit(event, data, room=f"ix:{ix}", namespace=VISITOR_NS)

    # -- both sides --------------------------------------------------------------------------
    async def deliver(live: Interaction, message: dict[str, Any]) -> None:
        await to_visitor(message["interaction"], "chat.message", message)
        await to_agents(live, "chat.message", message)

    @server.handle(VISITOR_NS, "chat.send")
    async def visitor_send(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatSend)
        live = await gate.require(state.actor, Action.SEND, payload.interaction)
        attachment = await own_attachment(payload, state.visitor.visitor_id
                                          if state.visitor else "")
        message, duplicate = await chat.send(
            payload.interaction, sender="visitor", name=live.visitor_name() or "Visitor",
            client_id=payload.client_id, text=payload.text, attachment=attachment)
        await deliver(live, message)
        return {"seq": message["seq"], "at": message["at"], "duplicate": duplicate}

    @server.handle(AGENT_NS, "chat.send")
    async def agent_send(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatSend)
        live = await gate.require(state.actor, Action.SEND, payload.interaction)
        assert state.username is not None
        attachment = await own_attachment(payload, state.username)
        message, duplicate = await chat.send(
            payload.interaction, sender="agent", name=await display_name(state.username),
            client_id=payload.client_id, text=payload.text, attachment=attachment,
            username=state.username)
        await deliver(live, message)
        return {"seq": message["seq"], "at": message["at"], "duplicate": duplicate}

    async def own_attachment(payload: ChatSend, owner: str) -> dict[str, Any] | None:
        if payload.attachment is None:
            return None
        meta, _ = await services.attachments.get(payload.attachment)
        if meta.get("interaction") != payload.interaction or meta.get("owner") != owner:
            raise Forbidden("attach files uploaded to this conversation by you")
        return {k: meta[k] for k in ("id", "name", "content_type", "size")}

    async def sync(ix: str, after_seq: int) -> dict[str, Any]:
        messages = await chat.since(ix, after_seq)
        return {"messages": messages, "last_seq": await chat.last_seq(ix),
                "receipts": await chat.receipts(ix)}

    @server.handle(VISITOR_NS, "chat.sync")
    async def visitor_sync(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatSync)
        await gate.require(state.actor, Action.READ, payload.interaction)
        return await sync(payload.interaction, payload.after_seq)

    @server.handle(AGENT_NS, "chat.sync")
    async def agent_sync(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatSync)
        await gate.require(state.actor, Action.READ, payload.interaction)
        return await sync(payload.interaction, payload.after_seq)

    @server.handle(VISITOR_NS, "chat.typing")
    async def visitor_typing(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatTyping)
        live = await gate.require(state.actor, Action.SIGNAL, payload.interaction)
        await to_agents(live, "chat.typing", {"interaction": payload.interaction,
                                           "from": "visitor", "typing": payload.typing})
        return {}

    @server.handle(AGENT_NS, "chat.typing")
    async def agent_typing(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatTyping)
        await gate.require(state.actor, Action.SIGNAL, payload.interaction)
        await to_visitor(payload.interaction, "chat.typing", {
            "interaction": payload.interaction, "from": "agent", "typing": payload.typing,
            "name": await display_name(state.username or "")})
        return {}

    @server.handle(VISITOR_NS, "chat.receipt")
    async def visitor_receipt(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatReceipt)
        live = await gate.require(state.actor, Action.SIGNAL, payload.interaction)
        receipts = await chat.receipt(payload.interaction, "visitor", payload.kind, payload.seq)
        await to_agents(live, "chat.receipt", {"interaction": payload.interaction, "by": "visitor",
                                            **receipts["visitor"]})
        return {}

    @server.handle(AGENT_NS, "chat.receipt")
    async def agent_receipt(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatReceipt)
        await gate.require(state.actor, Action.SIGNAL, payload.interaction)
        receipts = await chat.receipt(payload.interaction, "agent", payload.kind, payload.seq)
        await to_visitor(payload.interaction, "chat.receipt", {
            "interaction": payload.interaction, "by": "agent", **receipts["agent"]})
        return {}

    @server.handle(VISITOR_NS, "chat.rate")
    async def rate(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatRate)
        await gate.require(state.actor, Action.VISITOR_TOOLS, payload.interaction)
        await chat.rate(payload.interaction, payload.score, payload.comment)
        return {}

    @server.handle(VISITOR_NS, "chat.transcript")
    async def transcript(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatTranscript)
        await gate.require(state.actor, Action.VISITOR_TOOLS, payload.interaction)
        body = await chat.transcript_text(payload.interaction)
        await services.outbox.enqueue(payload.email, "Your chat transcript", body,
                                      kind="transcript", ref=payload.interaction)
        return {"queued": True}

    # -- the agent's view of the visit -------------------------------------------------------
    @server.handle(AGENT_NS, "visit.watch")
    async def watch(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, InteractionRef)
        live = await gate.require(state.actor, Action.WATCH_TRAIL, payload.interaction)
        if not live.visitor:
            raise Forbidden("this interaction has no web visitor")
        await watchers.add(live, state)
        snapshot = await visits.watch(live.visitor)
        return {**snapshot, "context": dict(live.context)}
