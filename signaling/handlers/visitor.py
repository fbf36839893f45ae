"""The widget's visitor events: visits and trail, help requests, invites, messages, callbacks."""

from __future__ import annotations

from typing import Any

import msgspec

from engage.acd.service import Acd
from engage.chat.store import ChatStore
from engage.errors import InvalidPayload, NotAuthenticated, QueueNotOffered
from engage.models import VisitorIdentity
from engage.visits.contact_requests import ContactRequests, Requester
from engage.visits.invites import Invite, InviteService
from engage.visits.service import Ingested, VisitService
from engage.visits.visitor_limits import VisitorQuota
from signaling.handlers.acd import SocketNotifier, rejoin, start_contact
from signaling.handlers.base import Namespace, on
from signaling.handlers.watch import watch_room
from signaling.schemas import (
    AGENT_NS,
    VISITOR_NS,
    CallbackRequest,
    ContactRequest,
    InviteRespond,
    LeaveMessage,
    OptOut,
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


def _visitor(state: SocketState) -> VisitorIdentity:
    if state.visitor is None:  # the /visitor namespace admits visitor tokens only
        raise NotAuthenticated("a visitor token is needed")
    return state.visitor


class VisitorHandlers(Namespace):
    """Where a visitor event enters: the visit and its trail, help and invites, messages and
    callbacks; the trail goes on to the agents watching (``watch:<visitor>`` rooms)."""

    namespace = VISITOR_NS

    def __init__(self, server: EngageSocketServer, *, acd: Acd, notifier: SocketNotifier,
                 visits: VisitService, chat: ChatStore, invites: InviteService,
                 contact_requests: ContactRequests, quota: VisitorQuota) -> None:
        self._server = server
        self._quota = quota
        self._acd = acd
        self._notifier = notifier
        self._visits = visits
        self._chat = chat
        self._invites = invites
        self._requests = contact_requests
        server.on_join(VISITOR_NS, self._join)

    async def _join(self, state: SocketState) -> None:
        await self._server.enter_room(state.sid, f"visitor:{_visitor(state).visitor_id}",
                                      namespace=VISITOR_NS)

    async def _push(self, state: SocketState, result: Ingested) -> None:
        who = _visitor(state)
        if result.watched:
            await self._server.emit("trail", {
                "visitor": who.visitor_id, "visit": result.visit, "score": round(result.score, 2),
                "events": msgspec.to_builtins(result.events)}, room=watch_room(who.visitor_id),
                namespace=AGENT_NS)
        room = f"visitor:{who.visitor_id}"
        if result.offer is not None:
            await self._server.emit("help.offer", result.offer, room=room, namespace=VISITOR_NS)
        if result.invite is not None:
            await self._server.emit("invite", invite_json(result.invite), room=room,
                                    namespace=VISITOR_NS)

    # -- the visit -------------------------------------------------------------------------
    @on("visit.hello")
    async def hello(self, state: SocketState, payload: VisitHello) -> dict[str, Any]:
        who = _visitor(state)
        # The join hook may still be running: make sure this socket hears its own pushes.
        await self._join(state)
        result = await self._visits.hello(who, msgspec.to_builtins(payload.page))
        active = result.active
        if active is not None:
            await rejoin(self._server, self._notifier, state, active["interaction"],
                         active["queue"])
            active["last_seq"] = await self._chat.last_seq(active["interaction"])
        return {"visitor_id": who.visitor_id, "visit": result.visit,
                "returning": result.returning, "identified": bool(who.customer_id),
                "opted_out": result.opted_out,
                "config": {"queue": result.settings.queue,
                           "sensors": result.settings.thresholds.sensor_config()},
                "active": active,
                "invite": invite_json(result.invite) if result.invite else None}

    @on("visit.events")
    async def events(self, state: SocketState, payload: VisitEvents) -> dict[str, Any]:
        await self._quota.trail(_visitor(state).visitor_id)
        result = await self._visits.ingest(_visitor(state),
                                           msgspec.to_builtins(payload.events))
        await self._push(state, result)
        return {"accepted": result.accepted, "score": round(result.score, 2)}

    # -- asking for help -------------------------------------------------------------------
    async def _queue_for(self, state: SocketState, named: str | None) -> str:
        """The named queue if the visitor's site offers it (its widget settings say which),
        else the site's default: a visitor never reaches another site's queues."""
        settings = await self._visits.settings(_visitor(state).site_key)
        if named:
            if not settings.offers(named):
                raise QueueNotOffered(field="queue")
            return named
        if not settings.queue:
            raise InvalidPayload("this site has no default queue: name one", field="queue")
        return settings.queue

    async def _contact(self, state: SocketState, queue: str, channel: str,
                       context: dict[str, Any]) -> dict[str, Any]:
        who = _visitor(state)
        await self._quota.contact(who.visitor_id, state.address)
        # One open interaction per visitor, whichever tab or node asks.
        claim = await self._visits.claim_active(who.visitor_id)
        try:
            watch = await self._visits.snapshot(who.visitor_id)
            context = {**context, "visit": watch["visit"], "page": watch["page"],
                       "score": watch["score"], "signals": watch["signals"],
                       "visitor": who.visitor_id, "site": who.site_key}
            reply = await start_contact(self._server, self._acd, self._notifier, state, queue,
                                        channel, context)
        except BaseException:
            await self._visits.release_active(who.visitor_id, claim)
            raise
        await self._visits.set_active(who.visitor_id, reply["interaction"])
        await self._chat.open(reply["interaction"], visitor=who.visitor_id,
                              site=who.site_key, customer=who.customer_id)
        return reply

    @on("contact.request")
    async def contact_request(self, state: SocketState, payload: ContactRequest
                              ) -> dict[str, Any]:
        context = {"client": client_context(payload.context), "origin": "widget"}
        return await self._contact(state, await self._queue_for(state, payload.queue),
                                   payload.channel, context)

    @on("invite.respond")
    async def invite_respond(self, state: SocketState, payload: InviteRespond
                             ) -> dict[str, Any]:
        who = _visitor(state)
        invite = await self._invites.respond(payload.invite, who.visitor_id, payload.action)
        if payload.action == "dismiss":
            return {}
        # The rule travels with the interaction: the agent sees what brought the visitor.
        context = {"origin": "invite", "invite": {"id": invite.invite_id,
                                                  "rule": invite.rule_id, "name": invite.name}}
        return await self._contact(state, invite.queue, invite.channel, context)

    @on("visitor.opt_out")
    async def opt_out(self, state: SocketState, payload: OptOut) -> dict[str, Any]:
        who = _visitor(state)
        await self._invites.set_opt_out(who.site_key, who.visitor_id, payload.opted_out)
        return {"opted_out": payload.opted_out}

    # -- when nobody can answer now --------------------------------------------------------
    async def _requester(self, state: SocketState, queue: str | None) -> Requester:
        who = _visitor(state)
        await self._quota.contact(who.visitor_id, state.address)  # each one is a stored row
        return Requester(site=who.site_key, visitor=who.visitor_id, customer=who.customer_id,
                         queue=await self._queue_for(state, queue))

    @on("contact.message")
    async def leave_message(self, state: SocketState, payload: LeaveMessage
                            ) -> dict[str, Any]:
        if not payload.email and not payload.phone:
            raise InvalidPayload("give an email address or a phone number to answer to")
        message_id = await self._requests.leave_message(
            await self._requester(state, payload.queue), name=payload.name,
            email=payload.email, phone=payload.phone, text=payload.text)
        return {"message_id": message_id}

    @on("contact.callback")
    async def callback(self, state: SocketState, payload: CallbackRequest) -> dict[str, Any]:
        callback_id = await self._requests.request_callback(
            await self._requester(state, payload.queue), name=payload.name,
            phone=payload.phone)
        return {"callback_id": callback_id}
