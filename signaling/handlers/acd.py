"""The ACD over Socket.IO: agent events on /agent, contact requests on /visitor, delivery."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from engage.acd.access import Action
from engage.acd.gate import AccessGate
from engage.acd.lifecycle import TERMINAL
from engage.acd.service import Acd
from engage.acd.store import AcdError
from engage.errors import Forbidden
from engage.models import Role
from engage.tasks import TaskSet
from signaling.handlers.base import Namespace, on
from signaling.schemas import (
    AGENT_NS,
    DISPOSITIONS,
    VISITOR_NS,
    Empty,
    InteractionRef,
    SetState,
    Transfer,
    WrapUp,
)
from signaling.server import EngageSocketServer, SocketState

# Position updates for one queue are coalesced: at most one recomputation per this interval.
QUEUE_STATUS_DEBOUNCE = 0.25


class SocketNotifier:
    """Delivers ACD decisions: agents by their user room, visitors by their interaction room
    (on whichever node holds the socket). Queue positions: a change on any node is published
    on the bus, and every node refreshes the visitors whose sockets it holds."""

    def __init__(self, server: EngageSocketServer, acd: Acd,
                 publish: Callable[[str], Awaitable[None]] | None = None, *,
                 tasks: TaskSet) -> None:
        self._server = server
        self._acd = acd
        self._publish = publish
        # Interactions of this node's visitor sockets, until they end: ix -> (sid, queue).
        self.local: dict[str, tuple[str, str]] = {}
        self._pending: set[str] = set()
        self._tasks = tasks

    async def to_agent(self, username: str, event: str, data: dict[str, Any]) -> None:
        await self._server.emit(event, data, room=f"user:{username}", namespace=AGENT_NS)

    async def to_interaction(self, ix: str, event: str, data: dict[str, Any]) -> None:
        await self._server.emit(event, {"interaction": ix, **data}, room=f"ix:{ix}",
                                namespace=VISITOR_NS)

    async def queue_changed(self, queue: str) -> None:
        """Coalesced: at most one publication per queue per debounce interval."""
        if queue in self._pending:
            return
        self._pending.add(queue)
        self._tasks.later(QUEUE_STATUS_DEBOUNCE, lambda: self._announce(queue),
                          name="queue-status")

    async def _announce(self, queue: str) -> None:
        self._pending.discard(queue)
        if self._publish is not None:
            await self._publish(queue)  # every node, this one included, refreshes its own
        else:
            await self.refresh_local(queue)

    async def refresh_local(self, queue: str) -> None:
        """Send position and estimated wait to this node's visitors waiting in ``queue``."""
        for ix, (sid, known_queue) in list(self.local.items()):
            if known_queue != queue:
                continue
            try:
                status = await self._acd.status(ix)
            except AcdError:
                self.local.pop(ix, None)  # expired
                continue
            if status["state"] in TERMINAL:
                self.local.pop(ix, None)
                continue
            self.local[ix] = (sid, status["queue"])  # follows overflows and transfers
            if status["state"] == "queued":
                await self._server.emit("queue_status", {"interaction": ix, **status}, to=sid,
                                        namespace=VISITOR_NS)

    def track(self, ix: str, sid: str, queue: str) -> None:
        self.local[ix] = (sid, queue)

    def forget_sid(self, sid: str) -> None:
        for ix in [ix for ix, (s, _) in self.local.items() if s == sid]:
            del self.local[ix]


class AcdHandlers(Namespace):
    """The agent's side of the ACD (state, offers, wrap-up, transfers) and the visitor's view
    of a contact in the queue (status, cancel)."""

    namespace = AGENT_NS

    def __init__(self, server: EngageSocketServer, acd: Acd, gate: AccessGate,
                 notifier: SocketNotifier) -> None:
        self._acd = acd
        self._gate = gate
        self._notifier = notifier
        # The join hook runs as a task; an acd.state sent right after connecting waits for
        # it instead of failing with not_signed_in.
        self._signed_in: dict[str, asyncio.Event] = {}  # sid -> set once the sign-in ran
        server.on_join(AGENT_NS, self._agent_join)
        server.on_leave(AGENT_NS, self._agent_leave)
        server.on_leave(VISITOR_NS, self._visitor_leave)

    async def _agent_join(self, state: SocketState) -> None:
        done = self._signed_in.setdefault(state.sid, asyncio.Event())
        try:
            if state.role is Role.AGENT or state.role is Role.SUPERVISOR:
                await self._acd.agent_connected(_agent(state))
        finally:
            done.set()

    async def _agent_leave(self, state: SocketState) -> None:
        self._signed_in.pop(state.sid, None)
        if state.username is not None:
            await self._acd.agent_disconnected(state.username)

    async def _visitor_leave(self, state: SocketState) -> None:
        self._notifier.forget_sid(state.sid)

    # -- agents ----------------------------------------------------------------------------
    @on("acd.status")
    async def status(self, state: SocketState, payload: Empty) -> dict[str, Any]:
        # The disposition codes travel with the view: the console never keeps its own copy.
        return {**await self._acd.agent_view(_agent(state)), "dispositions": list(DISPOSITIONS)}

    @on("acd.state")
    async def set_state(self, state: SocketState, payload: SetState) -> dict[str, Any]:
        joined = self._signed_in.get(state.sid)
        if joined is not None:
            await joined.wait()
        return {"state": await self._acd.set_state(_agent(state), payload.state,
                                                   payload.reason)}

    @on("acd.accept")
    async def accept(self, state: SocketState, payload: InteractionRef) -> dict[str, Any]:
        return await self._acd.accept(_agent(state), payload.interaction)

    @on("acd.decline")
    async def decline(self, state: SocketState, payload: InteractionRef) -> dict[str, Any]:
        await self._acd.decline(_agent(state), payload.interaction)
        return {}

    @on("acd.complete")
    async def complete(self, state: SocketState, payload: InteractionRef) -> dict[str, Any]:
        await self._acd.complete(payload.interaction, _agent(state), _agent(state))
        return {}

    @on("acd.wrap_up")
    async def wrap_up(self, state: SocketState, payload: WrapUp) -> dict[str, Any]:
        await self._acd.wrap_up(_agent(state), payload.interaction, payload.disposition,
                                payload.note)
        return {}

    @on("acd.transfer")
    async def transfer(self, state: SocketState, payload: Transfer) -> dict[str, Any]:
        await self._acd.transfer(_agent(state), payload.interaction, to_queue=payload.to_queue,
                                 to_agent=payload.to_agent, warm=payload.mode == "warm")
        return {}

    @on("acd.consult_accept")
    async def consult_accept(self, state: SocketState, payload: InteractionRef
                             ) -> dict[str, Any]:
        await self._acd.consult_accept(_agent(state), payload.interaction)
        return {}

    @on("acd.consult_complete")
    async def consult_complete(self, state: SocketState, payload: InteractionRef
                               ) -> dict[str, Any]:
        await self._acd.consult_complete(_agent(state), payload.interaction)
        return {}

    @on("acd.consult_cancel")
    async def consult_cancel(self, state: SocketState, payload: InteractionRef
                             ) -> dict[str, Any]:
        await self._acd.consult_cancel(_agent(state), payload.interaction)
        return {}

    # -- visitors --------------------------------------------------------------------------
    @on("contact.status", VISITOR_NS)
    async def contact_status(self, state: SocketState, payload: InteractionRef
                             ) -> dict[str, Any]:
        ix = payload.interaction
        await self._gate.require(state.actor, Action.VISITOR_TOOLS, ix)
        return {"interaction": ix, **await self._acd.status(ix)}

    @on("contact.cancel", VISITOR_NS)
    async def contact_cancel(self, state: SocketState, payload: InteractionRef
                             ) -> dict[str, Any]:
        live = await self._gate.require(state.actor, Action.VISITOR_TOOLS, payload.interaction)
        if live.state == "connected":  # the visitor ends the conversation
            await self._acd.complete(payload.interaction, live.agent, "visitor")
        else:
            await self._acd.abandon(payload.interaction, "customer_cancelled")
        return {}


def _agent(state: SocketState) -> str:
    if state.username is None:
        raise Forbidden()
    return state.username


async def start_contact(server: EngageSocketServer, acd: Acd, notifier: SocketNotifier,
                        state: SocketState, queue: str, channel: str,
                        context: dict[str, Any]) -> dict[str, Any]:
    """Queue a visitor's contact; the socket joins the interaction's room first, since an
    agent may be offered it (and answer) within the same call."""
    if state.visitor is None:
        raise Forbidden("contacts are asked for by visitors")
    acd.queues.get(queue)
    ix = await acd.new_interaction_id()
    await server.enter_room(state.sid, f"ix:{ix}", namespace=VISITOR_NS)
    notifier.track(ix, state.sid, queue)
    try:
        return await acd.enqueue(queue, channel, ix=ix, visitor=state.visitor.visitor_id,
                                 site=state.visitor.site_key,
                                 customer=state.visitor.customer_id, context=context)
    except Exception:
        notifier.local.pop(ix, None)
        await server.leave_room(state.sid, f"ix:{ix}", namespace=VISITOR_NS)
        raise


async def rejoin(server: EngageSocketServer, notifier: SocketNotifier, state: SocketState,
                 ix: str, queue: str) -> None:
    """A reloaded page's new socket takes over the visitor's interaction in progress."""
    await server.enter_room(state.sid, f"ix:{ix}", namespace=VISITOR_NS)
    notifier.track(ix, state.sid, queue)
