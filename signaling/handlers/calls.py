"""Calls over Socket.IO: proposal, consent, the WebRTC signal relay and hang-up, both sides."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
import redis.asyncio as aioredis

from engage import bus
from engage.acd.access import Action
from engage.acd.gate import AccessGate
from engage.acd.service import Acd
from engage.calls.recordings import RecordingStore
from engage.calls.sdp_policy import check_candidate, check_sdp
from engage.calls.service import AWAY_LIMIT_MS, Call, CallRefused, CallService, other
from engage.errors import EngageError, Forbidden, InvalidPayload, NotFound
from engage.tasks import TaskSet
from signaling.handlers.base import Namespace, on
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
)
from signaling.server import EngageSocketServer, SocketState

log = logging.getLogger("engage.calls.service")

# Timers fire a little after the limit so the wall-clock check they make agrees.
CHECK_MARGIN_SECONDS = 1.0


def _side(state: SocketState) -> str:
    return "visitor" if state.namespace == VISITOR_NS else "agent"


class CallHandlers(Namespace):
    """Calls of a connected interaction, the same events on both sides; media flows peer to
    peer, or through this node's recorders when the call is recorded."""

    def __init__(self, server: EngageSocketServer, *, acd: Acd, gate: AccessGate,
                 calls: CallService, recordings: RecordingStore, redis: aioredis.Redis,
                 node_id: str, tasks: TaskSet, listener: bus.EventListener) -> None:
        self._server = server
        self._acd = acd
        self._gate = gate
        self._calls = calls
        self._tasks = tasks
        self.recorders = RecorderDirectory(redis, calls, recordings, acd, node_id, self._push,
                                           tasks=tasks)
        self.recorders.listen(listener)
        acd.notifier = RecheckingNotifier(acd.notifier, self._recheck)
        server.on_leave(AGENT_NS, self._left)
        server.on_leave(VISITOR_NS, self._left)

    # -- delivery ------------------------------------------------------------------------
    async def _push(self, call: Call, side: str, event: str, data: dict[str, Any]) -> None:
        body = {"call": call.call_id, "interaction": call.interaction, **data}
        if side == "visitor":
            await self._server.emit(event, body, room=f"ix:{call.interaction}",
                                    namespace=VISITOR_NS)
        else:
            await self._server.emit(event, body, room=f"user:{call.agent}", namespace=AGENT_NS)


    async def _finish(self, call: Call, by: str, reason: str) -> bool:
        ended = await self._calls.end(call, by, reason)
        if ended is None:
            return False  # someone else ended it first and told both sides
        for side in ("agent", "visitor"):
            await self._push(ended, side, "call.ended", {"by": by, "reason": reason})
        await self._calls.log(ended, "ended", by, reason=reason)
        if ended.recording:
            # Shielded: the recording is finished even if the caller's task is cancelled.
            await asyncio.shield(self.recorders.finish(ended))
        return True

    async def _own_call(self, state: SocketState, call_id: str) -> tuple[Call, str]:
        call = await self._calls.get(call_id)
        side = _side(state)
        mine = (state.visitor.visitor_id if state.visitor else None) if side == "visitor" \
            else state.username
        if mine != call.party(side):
            raise Forbidden("this call is not yours")
        if call.active:
            reason = await self._lost_footing(call)
            if reason:
                await self._finish(call, "system", reason)
                raise CallRefused("call_ended", reason=reason)
        return call, side

    def _require_accepted(self, call: Call) -> None:
        """Media flows only after the other side consented: nothing is relayed before."""
        if call.state != "accepted":
            raise CallRefused("call_ended" if call.state == "ended" else "call_not_accepted")

    async def _lost_footing(self, call: Call) -> str:
        """Why an active call must end now ("" while it may go on)."""
        live = await self._acd.interaction(call.interaction)
        if live is None or live.state != "connected" or live.agent != call.agent:
            return "interaction_ended"
        return call.stale(self._calls.now_ms())

    async def _recheck(self, ix: str) -> None:
        try:
            call = await self._calls.active(ix)
            if call is not None and (reason := await self._lost_footing(call)):
                await self._finish(call, "system", reason)
        except Exception:  # the ACD's decision stands whatever happens to the call
            log.exception("call re-check failed", extra={"interaction": ix})

    def _check_later(self, call: Call, seconds: float) -> None:
        self._tasks.later(seconds + CHECK_MARGIN_SECONDS,
                          lambda: self._recheck(call.interaction), name="call-recheck")

    # -- events ------------------------------------------------------------------------------
    @on("call.propose", AGENT_NS, VISITOR_NS)
    async def propose(self, state: SocketState, payload: CallPropose) -> dict[str, Any]:
        side = _side(state)
        if side == "agent" and payload.record_consent:
            raise InvalidPayload("record_consent is the visitor's to give")
        live = await self._gate.require(state.actor, Action.CALL, payload.interaction)
        if not live.visitor:
            raise Forbidden("this interaction has no web visitor to call")
        await self._recheck(payload.interaction)  # a stale call does not block a new one
        queue_records = self._acd.queues.records_calls(live.queue)
        call = await self._calls.propose(payload.interaction, payload.media, side,
                                         agent=live.agent, visitor=live.visitor,
                                         queue_records=queue_records,
                                         record_consent=payload.record_consent)
        await self._calls.seen(call, side, state.sid)
        await self._calls.log(call, "proposed", side, record=int(queue_records))
        await self._push(call, other(side), "call.proposed",
                   {"media": call.media, "by": side, "record": queue_records})
        self._check_later(call, AWAY_LIMIT_MS / 1000)  # unanswered proposals end
        return {"call": call.call_id, "record": queue_records}

    @on("call.consent", AGENT_NS, VISITOR_NS)
    async def consent(self, state: SocketState, payload: CallConsent) -> dict[str, Any]:
        call, side = await self._own_call(state, payload.call)
        if side == call.proposer:
            raise Forbidden("the other side answers this call")
        if side == "agent" and payload.record_consent:
            raise InvalidPayload("record_consent is the visitor's to give")
        if call.state != "proposed":
            raise CallRefused("call_ended" if call.state == "ended" else "not_pending")
        record_consent = payload.record_consent if side == "visitor" else call.record_consent
        answered = await self._calls.answer(call, payload.accept, record_consent)
        await self._calls.seen(answered, side, state.sid)
        event = "call.accepted" if payload.accept else "call.declined"
        await self._calls.log(answered, event[5:], side, record=int(answered.recording))
        for to in ("agent", "visitor"):  # the answering side's other tabs stop ringing too
            await self._push(answered, to, event, {"media": answered.media, "by": side,
                                                   "record": answered.recording})
        return {"call": call.call_id, "state": answered.state, "record": answered.recording}

    @on("call.signal", AGENT_NS, VISITOR_NS)
    async def signal(self, state: SocketState, payload: CallSignal) -> dict[str, Any]:
        call, side = await self._own_call(state, payload.call)
        self._require_accepted(call)
        relay: dict[str, Any] = {"from": side, "kind": payload.kind}
        try:
            relay.update(await self._validated(call, side, payload))
            # A recorded call's media goes through the server: each side offers to the
            # server's peer (signaling.recording.nodes), which answers that side itself.
            if call.relayed:
                await self.recorders.signal(call, side, payload.kind, relay.get("sdp"),
                                            relay.get("candidate"))
        except EngageError as exc:
            await self._calls.log(call, f"signal.{payload.kind}", side, outcome=exc.code)
            raise
        await self._calls.seen(call, side, state.sid)
        await self._calls.log(call, f"signal.{payload.kind}", side)
        if not call.relayed:
            await self._push(call, other(side), "call.signal", relay)
        return {}

    async def _validated(self, call: Call, side: str, payload: CallSignal) -> dict[str, Any]:
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
            await self._calls.count_candidates(call, side, summary.candidates)
            return {"sdp": payload.sdp}
        if payload.kind == "ice":
            if payload.candidate is None or payload.sdp is not None:
                raise InvalidPayload("an ice signal carries a candidate and no sdp")
            if payload.candidate.candidate:  # "" announces the end of candidates
                check_candidate(payload.candidate.candidate, relayed=call.relayed)
                await self._calls.count_candidates(call, side, 1)
            return {"candidate": msgspec.to_builtins(payload.candidate)}
        if payload.sdp is not None or payload.candidate is not None:
            raise InvalidPayload("a restart request carries neither sdp nor candidate")
        return {}

    @on("call.media", AGENT_NS, VISITOR_NS)
    async def media(self, state: SocketState, payload: CallMediaChange) -> dict[str, Any]:
        call, side = await self._own_call(state, payload.call)
        self._require_accepted(call)
        changed = await self._calls.change_media(call, payload.media)
        await self._calls.seen(changed, side, state.sid)
        await self._calls.log(changed, "media", side)
        await self._push(changed, other(side), "call.media", {"media": changed.media, "by": side})
        return {"media": changed.media}

    @on("call.hangup", AGENT_NS, VISITOR_NS)
    async def hangup(self, state: SocketState, payload: CallRef) -> dict[str, Any]:
        call, side = await self._own_call(state, payload.call)
        if not call.active or not await self._finish(call, side, "hangup"):
            raise CallRefused("call_ended")
        return {}


    # -- sockets that leave: a reconnect must take the call up again in time -------------
    async def _left(self, state: SocketState) -> None:
        side = _side(state)
        party = (state.visitor.visitor_id if state.visitor else "") if side == "visitor" \
            else (state.username or "")
        if not party:
            return
        for call_id in await self._calls.left(side, party, state.sid):
            try:
                self._check_later(await self._calls.get(call_id), AWAY_LIMIT_MS / 1000)
            except NotFound:
                continue

