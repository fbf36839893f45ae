"""The bulletin board live: a bus event from any node becomes a `bulletin` push to staff sockets."""

from __future__ import annotations

from engage import bus
from signaling.schemas import AGENT_NS, SUPERVISOR_NS
from signaling.server import EngageSocketServer

BULLETIN_EVENT = "bulletin"
ACTIONS = frozenset({"posted", "deleted", "pinned"})


def register_bulletin(server: EngageSocketServer, listener: bus.EventListener) -> None:
    """Every node hears the bus event, so each tells only its own sockets (ignore_queue):
    sending through the Socket.IO fan-out as well would deliver one copy per node."""

    async def on_changed(event: dict[str, object]) -> None:
        action, post = event.get("action"), event.get("post")
        if action not in ACTIONS or not isinstance(post, dict):
            return
        push = {"action": action, "post": post}
        for namespace in (AGENT_NS, SUPERVISOR_NS):
            await server.emit(BULLETIN_EVENT, push, room="staff", namespace=namespace,
                              ignore_queue=True)

    listener.on(bus.BULLETIN_CHANGED, on_changed)
