"""The widget's visitor events: visits and trail, help requests, invites, messages, callbacks."""

from __future__ import annotations

from typing import Any

import msgspec

from engage.acd.service import Acd
from engage.errors import InvalidPayload
from engage.services import Services
from engage.visits.contact_requests import Requester
from engage.visits.invites import Invite
from engage.visits.service import Ingested, VisitService
from signaling.handlers.acd import SocketNotifier, rejoin, start_contact
from signaling.schemas import (
    AGENT_NS,
    VISITOR_NS,
    CallbackRequest,
    ContactRequest,
    InviteRespond,
    LeaveMessage,
    OptOut,
    Payload,
    VisitEvents,
    VisitHello,
)
from signaling.server import EngageSocketServer, SocketState

CLIENT_CONTEXT_KEYS = ("name", "page", "reason", "offer", "lang")


def invite_json(invite: Invite) -> dict[str, Any]:
    return {"invite": invite.invite_id, "rule": invite.rule_id, "queue": invite.queue,
            "channel": invite.channel, "text": dict(invite.text)}


def client_context(raw: dict[str, Any]) -> dict[str, Any]:
    """What a visitor may say about their own request: a few short strings, nothing else."""
    out: dict[str, Any] = {}
    for key in CLIENT_CONTEXT_KEYS:
        value = raw.get(key)
        if isinstance(value, str) and value:
            out[key] = value[:300]
    return out


def register_visitor(server: EngageSocketServer, services: Services, visits: VisitService,
                     notifier: SocketNotifier) -> None:
    acd: Acd = services.acd

    def visitor(state: SocketState) -> Any:
        assert state.visitor is not None
        return state.visitor

    async def push(state: SocketState, result: Ingested) -> None:
        who = visitor(state)
        if result.watched:
            await server.emit("trail", {
                "visitor": who.visitor_id, "visit": result.visit, "score": round(result.score, 2),
                "events": msgspec.to_builtins(result.events)}, room=f"watch:{who.visitor_id}",
                namespace=AGENT_NS)
        room = f"visitor:{who.visitor_id}"
        if result.offer is not None:
            await server.emit("help.offer", result.offer, room=room, namespace=VISITOR_NS)
        if result.invite is not None:
            await server.emit("invite", invite_json(result.invite), room=room,
                              namespace=VISITOR_NS)

    async def join(state: SocketState) -> None:
        await server.enter_room(state.sid, f"visitor:{visitor(state).visitor_id}",
                                namespace=VISITOR_NS)

    server.on_join(VISITOR_NS, join)

    @server.handle(VISITOR_NS, "visit.hello")
    async def hello(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, VisitHello)
        who = visitor(state)
        # The join hook may still be running: make sure this socket hears its own pushes.
        await join(state)
        result = await visits.hello(who, msgspec.to_builtins(payload.page))
        active = result.active
        if active is not None:
            await rejoin(server, notifier, state, active["interaction"], active["queue"])
            active["last_seq"] = await services.chat.last_seq(active["interaction"])
        return {"visitor_id": who.visitor_id, "visit": result.visit,
                "returning": result.returning, "identified": bool(who.customer_id),
                "opted_out": result.opted_out,
                "config": {"queue": result.settings.queue,
                           "sensors": result.settings.thresholds.sensor_config()},
                "active": active,
                "invite": invite_json(result.invite) if result.invite else None}

    @server.handle(VISITOR_NS, "visit.events")
    async def events(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, VisitEvents)
        result = await visits.ingest(visitor(state), msgspec.to_builtins(payload.events))
        await push(state, result)
        return {"accepted": result.accepted, "score": round(result.score, 2)}

    async def queue_for(state: SocketState, named: str | None) -> str:
        if named:
            return named
        queue = (await visits.settings(visitor(state).site_key)).queue
        if not queue:
            raise InvalidPayload("this site has no default queue: name one", field="queue")
        return queue

    async def contact(state: SocketState, queue: str, channel: str,
                      context: dict[str, Any]) -> dict[str, Any]:
        who = visitor(state)
        watch = await visits.snapshot(who.visitor_id)
        context = {**context, "visit": watch["visit"], "page": watch["page"],
                   "score": watch["score"], "signals": watch["signals"],
                   "visitor": who.visitor_id, "site": who.site_key}
        reply = await start_contact(server, acd, notifier, state, queue, channel, context)
        await visits.set_active(who.visitor_id, reply["interaction"])
        await services.chat.open(reply["interaction"], visitor=who.visitor_id,
                                 site=who.site_key, customer=who.customer_id)
        return reply

    @server.handle(VISITOR_NS, "contact.request")
    async def contact_request(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ContactRequest)
        context = {"client": client_context(payload.context), "origin": "widget"}
        return await contact(state, await queue_for(state, payload.queue), payload.channel,
                             context)

    @server.handle(VISITOR_NS, "invite.respond")
    async def invite_respond(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, InviteRespond)
        who = visitor(state)
        invite = await services.invites.respond(payload.invite, who.visitor_id, payload.action)
        if payload.action == "dismiss":
            return {}
        # The rule travels with the interaction: the agent sees what brought the visitor.
        context = {"origin": "invite", "invite": {"id": invite.invite_id,
                                                  "rule": invite.rule_id, "name": invite.name}}
        return await contact(state, invite.queue, invite.channel, context)

    @server.handle(VISITOR_NS, "visitor.opt_out")
    async def opt_out(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, OptOut)
        who = visitor(state)
        await services.invites.set_opt_out(who.site_key, who.visitor_id, payload.opted_out)
        return {"opted_out": payload.opted_out}

    async def requester(state: SocketState, queue: str | None) -> Requester:
        who = visitor(state)
        return Requester(site=who.site_key, visitor=who.visitor_id, customer=who.customer_id,
                         queue=await queue_for(state, queue))

    @server.handle(VISITOR_NS, "contact.message")
    async def leave_message(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, LeaveMessage)
        if not payload.email and not payload.phone:
            raise InvalidPayload("give an email address or a phone number to answer to")
        message_id = await services.contact_requests.leave_message(
            await requester(state, payload.queue), name=payload.name, email=payload.email,
            phone=payload.phone, text=payload.text)
        return {"message_id": message_id}

    @server.handle(VISITOR_NS, "contact.callback")
    async def callback(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, CallbackRequest)
        callback_id = await services.contact_requests.request_callback(
            await requester(state, payload.queue), name=payload.name, phone=payload.phone)
        return {"callback_id": callback_id}
