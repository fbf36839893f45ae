"""Chat over Socket.IO for both sides of an interaction, and the agent's live view of a visit."""

from __future__ import annotations

from typing import Any

from engage.acd.access import Action
from engage.acd.gate import AccessGate
from engage.acd.interaction import Interaction
from engage.chat.attachments import AttachmentStore
from engage.chat.store import ChatStore
from engage.chat.transcript_mail import TranscriptMailer
from engage.errors import Forbidden
from engage.staff.directory import StaffDirectory
from engage.visits.service import VisitService
from engage.visits.visitor_limits import VisitorQuota
from signaling.handlers.base import Namespace, on
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
)
from signaling.server import EngageSocketServer, SocketState


class ChatHandlers(Namespace):
    """Both sides write, sync, type and acknowledge; the access policy says who may when."""

    def __init__(self, server: EngageSocketServer, *, chat: ChatStore, staff: StaffDirectory,
                 attachments: AttachmentStore, transcripts: TranscriptMailer,
                 visits: VisitService,
                 gate: AccessGate, watchers: TrailWatchers, quota: VisitorQuota) -> None:
        self._server = server
        self._quota = quota
        self._chat = chat
        self._staff = staff
        self._attachments = attachments
        self._transcripts = transcripts
        self._visits = visits
        self._gate = gate
        self._watchers = watchers
        self._names: dict[str, str] = {}

    # -- delivery ------------------------------------------------------------------------
    async def _display_name(self, username: str) -> str:
        if username not in self._names:
            user = await self._staff.get(username)
            self._names[username] = user.display_name if user is not None else username
        return self._names[username]

    async def _to_agents(self, live: Interaction, event: str, data: dict[str, Any]) -> None:
        for username in live.staff:
            await self._server.emit(event, data, room=f"user:{username}", namespace=AGENT_NS)

    async def _to_visitor(self, ix: str, event: str, data: dict[str, Any]) -> None:
        await self._server.emit(event, data, room=f"ix:{ix}", namespace=VISITOR_NS)

    async def _deliver(self, live: Interaction, message: dict[str, Any]) -> None:
        await self._to_visitor(message["interaction"], "chat.message", message)
        await self._to_agents(live, "chat.message", message)

    async def _own_attachment(self, payload: ChatSend, owner: str) -> dict[str, Any] | None:
        if payload.attachment is None:
            return None
        meta, _ = await self._attachments.get(payload.attachment)
        if meta.get("interaction") != payload.interaction or meta.get("owner") != owner:
            raise Forbidden("attach files uploaded to this conversation by you")
        return {k: meta[k] for k in ("id", "name", "content_type", "size")}

    # -- messages ------------------------------------------------------------------------
    @on("chat.send", VISITOR_NS)
    async def visitor_send(self, state: SocketState, payload: ChatSend) -> dict[str, Any]:
        live = await self._gate.require(state.actor, Action.SEND, payload.interaction)
        # Per visitor and per conversation, on every socket and node: tabs do not multiply it.
        await self._quota.chat(state.actor.visitor, payload.interaction)
        attachment = await self._own_attachment(payload, state.actor.visitor)
        message, duplicate = await self._chat.send(
            payload.interaction, sender="visitor", name=live.visitor_name() or "Visitor",
            client_id=payload.client_id, text=payload.text, attachment=attachment)
        await self._deliver(live, message)
        return {"seq": message["seq"], "at": message["at"], "duplicate": duplicate}

    @on("chat.send", AGENT_NS)
    async def agent_send(self, state: SocketState, payload: ChatSend) -> dict[str, Any]:
        live = await self._gate.require(state.actor, Action.SEND, payload.interaction)
        username = state.actor.username
        attachment = await self._own_attachment(payload, username)
        message, duplicate = await self._chat.send(
            payload.interaction, sender="agent", name=await self._display_name(username),
            client_id=payload.client_id, text=payload.text, attachment=attachment,
            username=username)
        await self._deliver(live, message)
        return {"seq": message["seq"], "at": message["at"], "duplicate": duplicate}

    @on("chat.sync", VISITOR_NS, AGENT_NS)
    async def sync(self, state: SocketState, payload: ChatSync) -> dict[str, Any]:
        ix = payload.interaction
        await self._gate.require(state.actor, Action.READ, ix)
        return {"messages": await self._chat.since(ix, payload.after_seq),
                "last_seq": await self._chat.last_seq(ix),
                "receipts": await self._chat.receipts(ix)}

    # -- typing and receipts -------------------------------------------------------------
    @on("chat.typing", VISITOR_NS)
    async def visitor_typing(self, state: SocketState, payload: ChatTyping) -> dict[str, Any]:
        live = await self._gate.require(state.actor, Action.SIGNAL, payload.interaction)
        await self._to_agents(live, "chat.typing", {"interaction": payload.interaction,
                                                    "from": "visitor", "typing": payload.typing})
        return {}

    @on("chat.typing", AGENT_NS)
    async def agent_typing(self, state: SocketState, payload: ChatTyping) -> dict[str, Any]:
        await self._gate.require(state.actor, Action.SIGNAL, payload.interaction)
        await self._to_visitor(payload.interaction, "chat.typing", {
            "interaction": payload.interaction, "from": "agent", "typing": payload.typing,
            "name": await self._display_name(state.actor.username)})
        return {}

    @on("chat.receipt", VISITOR_NS)
    async def visitor_receipt(self, state: SocketState, payload: ChatReceipt
                              ) -> dict[str, Any]:
        ix = payload.interaction
        live = await self._gate.require(state.actor, Action.SIGNAL, ix)
        receipts = await self._chat.receipt(ix, "visitor", payload.kind, payload.seq)
        await self._to_agents(live, "chat.receipt", {"interaction": ix, "by": "visitor",
                                                     **receipts["visitor"]})
        return {}

    @on("chat.receipt", AGENT_NS)
    async def agent_receipt(self, state: SocketState, payload: ChatReceipt) -> dict[str, Any]:
        ix = payload.interaction
        await self._gate.require(state.actor, Action.SIGNAL, ix)
        receipts = await self._chat.receipt(ix, "agent", payload.kind, payload.seq)
        await self._to_visitor(ix, "chat.receipt", {"interaction": ix, "by": "agent",
                                                    **receipts["agent"]})
        return {}

    # -- the visitor's tools -------------------------------------------------------------
    @on("chat.rate", VISITOR_NS)
    async def rate(self, state: SocketState, payload: ChatRate) -> dict[str, Any]:
        await self._gate.require(state.actor, Action.VISITOR_TOOLS, payload.interaction)
        await self._chat.rate(payload.interaction, payload.score, payload.comment)
        return {}

    @on("chat.transcript", VISITOR_NS)
    async def transcript(self, state: SocketState, payload: ChatTranscript) -> dict[str, Any]:
        live = await self._gate.require(state.actor, Action.VISITOR_TOOLS, payload.interaction)
        await self._transcripts.send(live, state.actor.visitor, payload.email)
        return {"queued": True}

    # -- the agent's view of the visit ---------------------------------------------------
    @on("visit.watch", AGENT_NS)
    async def watch(self, state: SocketState, payload: InteractionRef) -> dict[str, Any]:
        live = await self._gate.require(state.actor, Action.WATCH_TRAIL, payload.interaction)
        if not live.visitor:
            raise Forbidden("this interaction has no web visitor")
        await self._watchers.add(live, state)
        snapshot = await self._visits.watch(live.visitor)
        return {**snapshot, "context": dict(live.context)}
