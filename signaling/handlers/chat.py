"""Chat over Socket.IO for both sides of an interaction, and the agent's live view of a visit."""

from __future__ import annotations

from typing import Any

import orjson

from engage.errors import Forbidden
from engage.models import Role
from engage.services import Services
from engage.visits.service import VisitService
from signaling.handlers.acd import visitor_owns
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

# Who may write while an interaction is in each state; anyone who may read can sync.
VISITOR_WRITES = frozenset({"new", "queued", "offered", "connected", "transferred"})
AGENT_WRITES = frozenset({"connected"})


def _visitor_name(h: dict[str, str]) -> str:
    try:
        context = orjson.loads(h.get("context") or "{}")
    except orjson.JSONDecodeError:
        return ""
    client = context.get("client") if isinstance(context, dict) else None
    name = client.get("name") if isinstance(client, dict) else None
    return name if isinstance(name, str) else ""


def register_chat(server: EngageSocketServer, services: Services, visits: VisitService) -> None:
    chat = services.chat
    acd = services.acd
    names: dict[str, str] = {}

    async def display_name(username: str) -> str:
        if username not in names:
            user = await services.staff.get(username)
            names[username] = user.display_name if user is not None else username
        return names[username]

    # -- who is asking -----------------------------------------------------------------------
    async def as_visitor(state: SocketState, ix: str) -> dict[str, str]:
        try:
            return await visitor_owns(acd, state, ix)
        except Forbidden:
            # After the interaction's live state expired, the stored conversation decides.
            conversation = await chat.conversation(ix)
            if state.visitor is None or not conversation \
                    or conversation.get("visitor") != state.visitor.visitor_id:
                raise
            return {"state": "closed", "visitor": state.visitor.visitor_id}

    async def as_agent(state: SocketState, ix: str, *, reading: bool = False) -> dict[str, str]:
        h = await acd.store.interaction(ix)
        username = state.username or ""
        if h and username in (h.get("agent"), h.get("consult")):
            return h
        if reading:
            conversation = await chat.conversation(ix) or {}
            if state.role is Role.SUPERVISOR or username in (conversation.get("agents") or ()):
                return h or {"state": "closed"}
        raise Forbidden("this interaction is not yours")

    async def to_agents(h: dict[str, str], event: str, data: dict[str, Any]) -> None:
        for username in {h.get("agent"), h.get("consult")} - {None, ""}:
            await server.emit(event, data, room=f"user:{username}", namespace=AGENT_NS)

    async def to_visitor(ix: str, event: str, data: dict[str, Any]) -> None:
        await server.emit(event, data, room=f"ix:{ix}", namespace=VISITOR_NS)

    # -- both sides --------------------------------------------------------------------------
    async def deliver(h: dict[str, str], message: dict[str, Any]) -> None:
        await to_visitor(message["interaction"], "chat.message", message)
        await to_agents(h, "chat.message", message)

    @server.handle(VISITOR_NS, "chat.send")
    async def visitor_send(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatSend)
        h = await as_visitor(state, payload.interaction)
        if h.get("state") not in VISITOR_WRITES:
            raise Forbidden("this conversation has ended")
        attachment = await own_attachment(payload, state.visitor.visitor_id
                                          if state.visitor else "")
        message, duplicate = await chat.send(
            payload.interaction, sender="visitor", name=_visitor_name(h) or "Visitor",
            client_id=payload.client_id, text=payload.text, attachment=attachment)
        await deliver(h, message)
        return {"seq": message["seq"], "at": message["at"], "duplicate": duplicate}

    @server.handle(AGENT_NS, "chat.send")
    async def agent_send(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatSend)
        h = await as_agent(state, payload.interaction)
        if h.get("state") not in AGENT_WRITES or h.get("agent") != state.username:
            raise Forbidden("only the agent connected to this conversation can write in it")
        assert state.username is not None
        attachment = await own_attachment(payload, state.username)
        message, duplicate = await chat.send(
            payload.interaction, sender="agent", name=await display_name(state.username),
            client_id=payload.client_id, text=payload.text, attachment=attachment,
            username=state.username)
        await deliver(h, message)
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
        await as_visitor(state, payload.interaction)
        return await sync(payload.interaction, payload.after_seq)

    @server.handle(AGENT_NS, "chat.sync")
    async def agent_sync(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatSync)
        await as_agent(state, payload.interaction, reading=True)
        return await sync(payload.interaction, payload.after_seq)

    @server.handle(VISITOR_NS, "chat.typing")
    async def visitor_typing(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatTyping)
        h = await as_visitor(state, payload.interaction)
        await to_agents(h, "chat.typing", {"interaction": payload.interaction,
                                           "from": "visitor", "typing": payload.typing})
        return {}

    @server.handle(AGENT_NS, "chat.typing")
    async def agent_typing(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatTyping)
        await as_agent(state, payload.interaction)
        await to_visitor(payload.interaction, "chat.typing", {
            "interaction": payload.interaction, "from": "agent", "typing": payload.typing,
            "name": await display_name(state.username or "")})
        return {}

    @server.handle(VISITOR_NS, "chat.receipt")
    async def visitor_receipt(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatReceipt)
        h = await as_visitor(state, payload.interaction)
        receipts = await chat.receipt(payload.interaction, "visitor", payload.kind, payload.seq)
        await to_agents(h, "chat.receipt", {"interaction": payload.interaction, "by": "visitor",
                                            **receipts["visitor"]})
        return {}

    @server.handle(AGENT_NS, "chat.receipt")
    async def agent_receipt(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatReceipt)
        await as_agent(state, payload.interaction)
        receipts = await chat.receipt(payload.interaction, "agent", payload.kind, payload.seq)
        await to_visitor(payload.interaction, "chat.receipt", {
            "interaction": payload.interaction, "by": "agent", **receipts["agent"]})
        return {}

    @server.handle(VISITOR_NS, "chat.rate")
    async def rate(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatRate)
        await as_visitor(state, payload.interaction)
        await chat.rate(payload.interaction, payload.score, payload.comment)
        return {}

    @server.handle(VISITOR_NS, "chat.transcript")
    async def transcript(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ChatTranscript)
        await as_visitor(state, payload.interaction)
        body = await chat.transcript_text(payload.interaction)
        await services.outbox.enqueue(payload.email, "Your chat transcript", body,
                                      kind="transcript", ref=payload.interaction)
        return {"queued": True}

    # -- the agent's view of the visit -------------------------------------------------------
    @server.handle(AGENT_NS, "visit.watch")
    async def watch(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, InteractionRef)
        h = await as_agent(state, payload.interaction, reading=True)
        visitor = h.get("visitor", "")
        if not visitor:
            raise Forbidden("this interaction has no web visitor")
        await server.enter_room(state.sid, f"watch:{visitor}", namespace=AGENT_NS)
        snapshot = await visits.watch(visitor)
        try:
            context = orjson.loads(h.get("context") or "{}")
        except orjson.JSONDecodeError:
            context = {}
        return {**snapshot, "context": context}
