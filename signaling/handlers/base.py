"""Handler classes: one per namespace area, each method bound to events by ``@on``, its payload
type checked against the event's schema once, at registration (so no handler re-checks it)."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from signaling.schemas import EVENTS
from signaling.server import EngageSocketServer

Method = TypeVar("Method", bound=Callable[..., Awaitable[Any]])
_EVENTS_ATTR = "__engage_events__"


def on(event: str, *namespaces: str) -> Callable[[Method], Method]:
    """Bind a handler method to ``event`` in ``namespaces`` (default: the class's)."""
    def mark(method: Method) -> Method:
        bound = [*getattr(method, _EVENTS_ATTR, ()), (event, namespaces)]
        setattr(method, _EVENTS_ATTR, bound)
        return method
    return mark


class Namespace:
    """Base of a namespace area's handlers: ``register`` binds every ``@on`` method.

    The guard (``EngageSocketServer``) runs first for every event: rate limit, role, size
    cap and schema decoding; the method receives the decoded payload of the type it names.
    """

    namespace: ClassVar[str] = ""

    def register(self, server: EngageSocketServer) -> None:
        for name, method in inspect.getmembers(type(self), inspect.isfunction):
            for event, namespaces in getattr(method, _EVENTS_ATTR, ()):
                for namespace in namespaces or (self.namespace,):
                    _check_payload(method, namespace, event)
                    server.handle(namespace, event)(getattr(self, name))


def _check_payload(method: Callable[..., Any], namespace: str, event: str) -> None:
    """The method's ``payload`` annotation must be the event's schema (or a base of it)."""
    spec = EVENTS.get(namespace, {}).get(event)
    if spec is None:
        raise TypeError(f"{method.__qualname__}: no event {event!r} in {namespace}")
    declared = typing.get_type_hints(method).get("payload")
    accepted = typing.get_args(declared) if isinstance(declared, types.UnionType) \
        else (declared,)
    if not any(isinstance(t, type) and issubclass(spec.schema, t) for t in accepted):
        raise TypeError(f"{method.__qualname__} handles {event!r} in {namespace}, whose "
                        f"payload is {spec.schema.__name__}, but takes {declared!r}")
