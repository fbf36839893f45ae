"""The ACD over Socket.IO: agent events on /agent, contact requests on /visitor, delivery."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from engage.acd import Acd
from engage.errors import Forbidden
from engage.models import Role
from signaling.schemas import (
    AGENT_NS,
    VISITOR_NS,
    ContactRequest,
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
    (on whichever node holds the socket), queue positions to this node's waiting visitors."""

    def __init__(self, server: EngageSocketServer, acd: Acd) -> None:
        self._server = server
        self._acd = acd
        self.waiting: dict[str, dict[str, str]] = {}  # queue -> {interaction: sid}, local only
        self._pending: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def to_agent(self, username: str, event: str, data: dict[str, Any]) -> None:
        await self._server.emit(event, data, room=f"user:{username}", namespace=AGENT_NS)

    async def to_interaction(self, ix: str, event: str, data: dict[str, Any]) -> None:
        await self._server.emit(event, {"interaction": ix, **data}, room=f"ix:{ix}",
                                namespace=VISITOR_NS)

    async def queue_changed(self, queue: str) -> None:
        if queue in self.waiting and queue not in self._pending:
            self._pending.add(queue)
            task = asyncio.create_task(self._refresh(queue))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _refresh(self, queue: str) -> None:
        await asyncio.sleep(QUEUE_STATUS_DEBOUNCE)
        self._pending.discard(queue)
        for ix, sid in list(self.waiting.get(queue, {}).items()):
            status = await self._acd.status(ix)
            if status["state"] != "queued" or status["queue"] != queue:
                self.waiting.get(queue, {}).pop(ix, None)
                if status["state"] == "queued":  # overflowed: follow it to its new queue
                    self.waiting.setdefault(status["queue"], {})[ix] = sid
                continue
            await self._server.emit("queue_status", {"interaction": ix, **status}, to=sid,
                                    namespace=VISITOR_NS)
        if not self.waiting.get(queue):
            self.waiting.pop(queue, None)

    def forget_sid(self, sid: str) -> None:
        for items in self.waiting.values():
            for ix in [ix for ix, s in items.items() if s == sid]:
                del items[ix]


def register_acd(server: EngageSocketServer, acd: Acd, notifier: SocketNotifier) -> None:
    async def agent_join(state: SocketState) -> None:
        if state.role is Role.AGENT or state.role is Role.SUPERVISOR:
            assert state.username is not None
            await acd.agent_connected(state.username)

    async def agent_leave(state: SocketState) -> None:
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
        return await acd.agent_view(agent(state))

    @handler("acd.state")
    async def set_state(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, SetState)
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
        await acd.wrap_up(agent(state), payload.interaction, payload.disposition)
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
    owned: dict[str, set[str]] = {}  # sid -> interactions this visitor socket created

    async def visitor_leave(state: SocketState) -> None:
        notifier.forget_sid(state.sid)
        owned.pop(state.sid, None)

    server.on_leave(VISITOR_NS, visitor_leave)

    def own(state: SocketState, ix: str) -> None:
        if ix not in owned.get(state.sid, set()):
            raise Forbidden("this interaction belongs to another visitor")

    @server.handle(VISITOR_NS, "contact.request")
    async def contact_request(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, ContactRequest) and state.visitor is not None
        context = {**payload.context, "visitor": state.visitor.visitor_id,
                   "site": state.visitor.site_key}
        created = await acd.enqueue(payload.queue, payload.channel,
                                    visitor=state.visitor.visitor_id,
                                    site=state.visitor.site_key, context=context)
        ix = created["interaction"]
        owned.setdefault(state.sid, set()).add(ix)
        await server.enter_room(state.sid, f"ix:{ix}", namespace=VISITOR_NS)
        if created.get("state") == "queued":
            notifier.waiting.setdefault(payload.queue, {})[ix] = state.sid
        return created

    @server.handle(VISITOR_NS, "contact.status")
    async def contact_status(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, InteractionRef)
        own(state, payload.interaction)
        return {"interaction": payload.interaction, **await acd.status(payload.interaction)}

    @server.handle(VISITOR_NS, "contact.cancel")
    async def contact_cancel(state: SocketState, payload: Payload) -> dict[str, Any]:
        assert isinstance(payload, InteractionRef)
        own(state, payload.interaction)
        await acd.abandon(payload.interaction, "customer_cancelled")
        return {}
