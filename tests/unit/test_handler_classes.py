"""Handler classes: ``@on`` binds methods per namespace, payload types checked at registration."""

from __future__ import annotations

from typing import Any

import pytest

from engage.infra.metrics import Metrics
from engage.tasks import TaskSet
from signaling.handlers.base import Namespace, on
from signaling.schemas import AGENT_NS, VISITOR_NS, ChatSend, ChatSync, InteractionRef
from signaling.server import EngageSocketServer, SocketState


def server() -> EngageSocketServer:
    async def no_session(session_id: str) -> None:
        return None
    return EngageSocketServer(metrics=Metrics(), client_manager=None,
                              origin_allowed=lambda origin: True, session_check=no_session,
                              connect_timeout=5, tasks=TaskSet())


class Chat(Namespace):
    namespace = AGENT_NS

    @on("chat.sync")
    @on("chat.send", AGENT_NS, VISITOR_NS)
    async def either(self, state: SocketState, payload: ChatSend | ChatSync) -> dict[str, Any]:
        return {}

    @on("visit.watch")
    async def watch(self, state: SocketState, payload: InteractionRef) -> dict[str, Any]:
        return {"me": self}


def test_methods_are_bound_per_event_and_namespace() -> None:
    sockets = server()
    chat = Chat()
    chat.register(sockets)
    handlers = sockets._event_handlers
    assert handlers[AGENT_NS]["visit.watch"] == chat.watch
    assert handlers[AGENT_NS]["chat.send"] == chat.either
    assert handlers[VISITOR_NS]["chat.send"] == chat.either
    assert "chat.sync" not in handlers[VISITOR_NS]


def test_a_payload_type_that_is_not_the_events_schema_is_refused_at_registration() -> None:
    class Wrong(Namespace):
        namespace = AGENT_NS

        @on("chat.send")
        async def send(self, state: SocketState, payload: ChatSync) -> dict[str, Any]:
            return {}

    with pytest.raises(TypeError, match="payload is ChatSend, but takes"):
        Wrong().register(server())


def test_an_event_the_namespace_does_not_have_is_refused() -> None:
    class Stray(Namespace):
        namespace = VISITOR_NS

        @on("acd.accept")
        async def accept(self, state: SocketState, payload: InteractionRef) -> None:
            return None

    with pytest.raises(TypeError, match=r"no event 'acd\.accept' in /visitor"):
        Stray().register(server())
