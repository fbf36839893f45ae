"""The ACD over Socket.IO: agent events on /agent, contact requests on /visitor, delivery."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from engage.acd.lifecycle import TERMINAL
from engage.acd.service import Acd
from engage.acd.store import AcdError
from engage.errors import Forbidden
from engage.models import Role
from engage.tasks import TaskSet
from signaling.schemas import (
    AGENT_NS,
    DISPOSITIONS,
    VISITOR_NS,
    InteractionRef,
    Payload,
    SetState,
    Transfer,
    WrapUp,
)
from signaling.server import EngageSocketServer, Handler, SocketState

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


def register_acd(server: EngageSocketServer, acd: Acd, notifier: SocketNotifier) -> None:
    # The join hook runs as a task; an acd.state sent right after connecting waits for it
    # instead of failing with not_signed_in.
    signed_in: dict[str, asyncio.Event] = {}  # sid -> set once the sign-in has run

    async def agent_join(state: SocketState) -> None:
        done = signed_in.setdefault(state.sid, asyncio.Event())
        try:
            if state.role is Role.AGENT or state.role is Role.SUPERVISOR:
                assert state.username is not None
                await acd.agent_connected(state.username)
        finally:
            done.set()

    async def agent_leave(state: SocketState) -> None:
        signed_in.pop(state.sid, None)
        if state.username is not None:
            await acd.agent_disconnected(state.username)

    server.on_join(AGENT_NS, agent_join)
    server.on_leave(AGENT_NS, agent_leave)

    def agent(state: SocketState) -> str:
        if state.username is None:
            raise Forbidden()
        return state.username

    def handler(event: str) -> Callable[[Handler], Handler]:
        return server.handle(AGENT_NS, event)

    @handler("acd.status")
    async def status(state: SocketState, payload: Payload) -> dict[str, Any]:
        # The disposition codes travel with the view: the console never keeps its own copy.
        return {**await acd.agent_view(agent(state)), "dispositions": list(DISPOSITIONS)}

    @handler("acd.state")
    async def set_state(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, SetState)
        joined = signed_in.get(state.sid)
        if joined is not None:
            await joined.wait()
        return {"state": await acd.set_state(agent(state), payload.state, payload.reason)}

    @handler("acd.accept")
    async def accept(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, InteractionRef)
        return await acd.accept(agent(state), payload.interaction)

    @handler("acd.decline")
    async def decline(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, InteractionRef)
        await acd.decline(agent(state), payload.interaction)
        return {}

    @handler("acd.complete")
    async def complete(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, InteractionRef)
        await acd.complete(payload.interaction, agent(state), agent(state))
        return {}

    @handler("acd.wrap_up")
    async def wrap_up(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, WrapUp)
        await acd.wrap_up(agent(state), payload.interaction, payload.disposition, payload.note)
        return {}

    @handler("acd.transfer")
    async def transfer(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, Transfer)
        await acd.transfer(agent(state), payload.interaction, to_queue=payload.to_queue,
                           to_agent=payload.to_agent, warm=payload.mode == "warm")
        return {}

    for name, method in (("acd.consult_accept", acd.consult_accept),
                         ("acd.consult_complete", acd.consult_complete),
                         ("acd.consult_cancel", acd.consult_cancel)):
        def consult_handler(method: Any = method) -> Any:
            async def run(state: SocketState, payload: Payload) -> dict[str, Any]:
                assert isinstance(payload, InteractionRef)
                await method(agent(state), payload.interaction)
                return {}
            return run
        server.handle(AGENT_NS, name)(consult_handler())

    # -- visitors -------------------------------------------------------------------------
    async def visitor_leave(state: SocketState) -> None:
        notifier.forget_sid(state.sid)

    server.on_leave(VISITOR_NS, visitor_leave)

    @server.handle(VISITOR_NS, "contact.status")
    async def contact_status(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, InteractionRef)
        await visitor_owns(acd, state, payload.interaction)
        return {"interaction": payload.interaction, **await acd.status(payload.interaction)}

    @server.handle(VISITOR_NS, "contact.cancel")
    async def contact_cancel(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, InteractionRef)
        h = await visitor_owns(acd, state, payload.interaction)
        if h.get("state") == "connected":  # the visitor ends the conversation
            await acd.complete(payload.interaction, h.get("agent", ""), "visitor")
        else:
            await acd.abandon(payload.interaction, "customer_cancelled")
        return {}


async def visitor_owns(acd: Acd, state: SocketState, ix: str) -> dict[str, str]:
    """The interaction's hash, when it is this visitor's (any of their sockets or tabs)."""
    h = await acd.store.interaction(ix) if state.visitor is not None else {}
    if not h or state.visitor is None or h.get("visitor") != state.visitor.visitor_id:
        raise Forbidden("this interaction belongs to another visitor")
    return h


async def start_contact(server: EngageSocketServer, acd: Acd, notifier: SocketNotifier,
                        state: SocketState, queue: str, channel: str,
                        context: dict[str, Any]) -> dict[str, Any]:
    """Queue a visitor's contact; the socket joins the interaction's room first, since an
    agent may be offered it (and answer) within the same call."""
    assert state.visitor is not None
    acd.queues.get(queue)
    ix = await acd.store.next_interaction_id()
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
