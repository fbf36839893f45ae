"""Calls over Socket.IO: proposal, consent, the WebRTC signal relay and hang-up, both sides."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec

from engage import bus
from engage.acd.access import Action
from engage.acd.gate import AccessGate
from engage.calls.sdp_policy import check_candidate, check_sdp
from engage.calls.service import AWAY_LIMIT_MS, Call, CallRefused, CallService, other
from engage.errors import EngageError, Forbidden, InvalidPayload, NotFound
from engage.services import Services
from signaling.handlers.recheck import RecheckingNotifier
from signaling.recording.nodes import RecorderDirectory
from signaling.recording.offer import check_offer
from signaling.schemas import (
    AGENT_NS,
    VISITOR_NS,
    CallConsent,
    CallMediaChange,
    CallPropose,
    CallRef,
    CallSignal,
    Payload,
)
from signaling.server import EngageSocketServer, Handler, SocketState

log = logging.getLogger("engage.calls.service")

# Timers fire a little after the limit so the wall-clock check they make agrees.
CHECK_MARGIN_SECONDS = 1.0


def _side(state: SocketState) -> str:
    return "visitor" if state.namespace == VISITOR_NS else "agent"


def register_calls(server: EngageSocketServer, services: Services, gate: AccessGate,
                   listener: bus.EventListener) -> RecorderDirectory:
    """Register the call events; returns this node's recorders (the app starts and stops
    them)."""
    calls = CallService(services.backends.redis)
    acd = services.acd

    # -- delivery ------------------------------------------------------------------------
    async def push(call: Call, side: str, event: str, data: dict[str, Any]) -> None:
        body = {"call": call.call_id, "interaction": call.interaction, **data}
        if side == "visitor":
            await server.emit(event, body, room=f"ix:{call.interaction}", namespace=VISITOR_NS)
        else:
            await server.emit(event, body, room=f"user:{call.agent}", namespace=AGENT_NS)

    recorders = RecorderDirectory(services.backends.redis, calls, services.recordings,
                                  acd, services.settings.node_id, push,
                                  tasks=services.tasks)
    recorders.listen(listener)

    async def finish(call: Call, by: str, reason: str) -> bool:
        ended = await calls.end(call, by, reason)
        if ended is None:
            return False  # someone else ended it first and told both sides
        for side in ("agent", "visitor"):
            await push(ended, side, "call.ended", {"by": by, "reason": reason})
        await calls.log(ended, "ended", by, reason=reason)
        if ended.recording:
            # Shielded: the recording is finished even if the caller's task is cancelled.
            await asyncio.shield(recorders.finish(ended))
        return True

    async def own_call(state: SocketState, call_id: str) -> tuple[Call, str]:
        call = await calls.get(call_id)
        side = _side(state)
        mine = (state.visitor.visitor_id if state.visitor else None) if side == "visitor" \
            else state.username
        if mine != call.party(side):
            raise Forbidden("this call is not yours")
        if call.active:
            reason = await lost_footing(call)
            if reason:
                await finish(call, "system", reason)
                raise CallRefused("call_ended", reason=reason)
        return call, side

    def require_accepted(call: Call) -> None:
        """Media flows only after the other side consented: nothing is relayed before."""
        if call.state != "accepted":
            raise CallRefused("call_ended" if call.state == "ended" else "call_not_accepted")

    async def lost_footing(call: Call) -> str:
        """Why an active call must end now ("" while it may go on)."""
        live = await acd.interaction(call.interaction)
        if live is None or live.state != "connected" or live.agent != call.agent:
            return "interaction_ended"
        return call.stale(calls.now_ms())

    async def recheck(ix: str) -> None:
        try:
            call = await calls.active(ix)
            if call is not None and (reason := await lost_footing(call)):
                await finish(call, "system", reason)
        except Exception:  # the ACD's decision stands whatever happens to the call
            log.exception("call re-check failed", extra={"interaction": ix})

    acd.notifier = RecheckingNotifier(acd.notifier, recheck)

    def check_later(call: Call, seconds: float) -> None:
        services.tasks.later(seconds + CHECK_MARGIN_SECONDS,
                             lambda: recheck(call.interaction), name="call-recheck")

    # -- events ------------------------------------------------------------------------------
    async def propose(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, CallPropose)
        side = _side(state)
        if side == "agent" and payload.record_consent:
            raise InvalidPayload("record_consent is the visitor's to give")
        live = await gate.require(state.actor, Action.CALL, payload.interaction)
        if not live.visitor:
            raise Forbidden("this interaction has no web visitor to call")
        await recheck(payload.interaction)  # a stale call does not block a new one
        queue_records = acd.queues.records_calls(live.queue)
        call = await calls.propose(payload.interaction, payload.media, side,
                                   agent=live.agent, visitor=live.visitor,
                                   queue_records=queue_records,
                                   record_consent=payload.record_consent)
        await calls.seen(call, side, state.sid)
        await calls.log(call, "proposed", side, record=int(queue_records))
        await push(call, other(side), "call.proposed",
                   {"media": call.media, "by": side, "record": queue_records})
        check_later(call, AWAY_LIMIT_MS / 1000)  # unanswered proposals end
        return {"call": call.call_id, "record": queue_records}

    async def consent(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, CallConsent)
        call, side = await own_call(state, payload.call)
        if side == call.proposer:
            raise Forbidden("the other side answers this call")
        if side == "agent" and payload.record_consent:
            raise InvalidPayload("record_consent is the visitor's to give")
        if call.state != "proposed":
            raise CallRefused("call_ended" if call.state == "ended" else "not_pending")
        record_consent = payload.record_consent if side == "visitor" else call.record_consent
        answered = await calls.answer(call, payload.accept, record_consent)
        await calls.seen(answered, side, state.sid)
        event = "call.accepted" if payload.accept else "call.declined"
        await calls.log(answered, event[5:], side, record=int(answered.recording))
        for to in ("agent", "visitor"):  # the answering side's other tabs stop ringing too
            await push(answered, to, event, {"media": answered.media, "by": side,
                                              "record": answered.recording})
        return {"call": call.call_id, "state": answered.state, "record": answered.recording}

    async def signal(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, CallSignal)
        call, side = await own_call(state, payload.call)
        require_accepted(call)
        relay: dict[str, Any] = {"from": side, "kind": payload.kind}
        try:
            relay.update(await validated(call, side, payload))
            # A recorded call's media goes through the server: each side offers to the
            # server's peer (signaling.recording.nodes), which answers that side itself.
            if call.relayed:
                await recorders.signal(call, side, payload.kind, relay.get("sdp"),
                                       relay.get("candidate"))
        except EngageError as exc:
            await calls.log(call, f"signal.{payload.kind}", side, outcome=exc.code)
            raise
        await calls.seen(call, side, state.sid)
        await calls.log(call, f"signal.{payload.kind}", side)
        if not call.relayed:
            await push(call, other(side), "call.signal", relay)
        return {}

    async def validated(call: Call, side: str, payload: CallSignal) -> dict[str, Any]:
        """The part of a signal to relay, once the SDP policy accepted it."""
        if payload.kind in ("offer", "answer"):
            if payload.sdp is None or payload.candidate is not None:
                raise InvalidPayload(f"a{'n' * (payload.kind == 'offer')} {payload.kind} "
                                     "carries sdp and no candidate")
            if call.relayed and payload.kind == "answer":
                raise InvalidPayload("on a recorded call each side offers to the server, "
                                     "which answers")
            summary = check_sdp(payload.sdp, relayed=call.relayed)
            if call.relayed:
                check_offer(payload.sdp)  # refused before any allowance is taken
            await calls.count_candidates(call, side, summary.candidates)
            return {"sdp": payload.sdp}
        if payload.kind == "ice":
            if payload.candidate is None or payload.sdp is not None:
                raise InvalidPayload("an ice signal carries a candidate and no sdp")
            if payload.candidate.candidate:  # "" announces the end of candidates
                check_candidate(payload.candidate.candidate, relayed=call.relayed)
                await calls.count_candidates(call, side, 1)
            return {"candidate": msgspec.to_builtins(payload.candidate)}
        if payload.sdp is not None or payload.candidate is not None:
            raise InvalidPayload("a restart request carries neither sdp nor candidate")
        return {}

    async def media(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, CallMediaChange)
        call, side = await own_call(state, payload.call)
        require_accepted(call)
        changed = await calls.change_media(call, payload.media)
        await calls.seen(changed, side, state.sid)
        await calls.log(changed, "media", side)
        await push(changed, other(side), "call.media", {"media": changed.media, "by": side})
        return {"media": changed.media}

    async def hangup(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, CallRef)
        call, side = await own_call(state, payload.call)
        if not call.active or not await finish(call, side, "hangup"):
            raise CallRefused("call_ended")
        return {}

    handlers: dict[str, Handler] = {"call.propose": propose, "call.consent": consent,
                                    "call.signal": signal, "call.media": media,
                                    "call.hangup": hangup}
    for namespace in (AGENT_NS, VISITOR_NS):
        for name, handler in handlers.items():
            server.handle(namespace, name)(handler)

    # -- sockets that leave: a reconnect must take the call up again in time ---------------
    async def left(state: SocketState) -> None:
        side = _side(state)
        party = (state.visitor.visitor_id if state.visitor else "") if side == "visitor" \
            else (state.username or "")
        if not party:
            return
        for call_id in await calls.left(side, party, state.sid):
            try:
                check_later(await calls.get(call_id), AWAY_LIMIT_MS / 1000)
            except NotFound:
                continue

    server.on_leave(AGENT_NS, left)
    server.on_leave(VISITOR_NS, left)
    return recorders
