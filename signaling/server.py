"""The hardened Socket.IO server: every packet checked, every ack answered, idle sockets closed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import socketio
from socketio import packet

from engage.acd.access import Actor
from engage.errors import EngageError, NotAuthenticated, RateLimited, UnknownEvent
from engage.infra.metrics import Metrics
from engage.infra.ratelimit import RefusalWindow, TokenBucket
from engage.models import Role, StaffSession, VisitorIdentity
from engage.tasks import TaskSet
from signaling.codec import OrjsonCodec
from signaling.guard import MalformedPacket, check_event, split_event
from signaling.schemas import EVENTS, MAX_PACKET_BYTES, NAMESPACES, Payload

log = logging.getLogger("engage.signaling")

# More than this many refused events within FLOOD_WINDOW seconds is a flood, not an eager
# client: close the socket. Counted over time, so valid events in between do not hide it.
FLOOD_LIMIT = 100
FLOOD_WINDOW = 10.0
# A staff socket re-reads its session from Redis at most this often. Disabling an account or
# signing out is pushed to every node at once (bus events); this bounds anything missed, and
# keeps the idle timer of a session alive while its socket is active.
SESSION_RECHECK_SECONDS = 5.0


@dataclass
class SocketState:
    """What this node knows about one connected socket."""

    sid: str
    namespace: str
    eio_sid: str = ""  # filled in by the server once the socket is admitted
    role: Role | None = None
    username: str | None = None
    session_id: str | None = None
    visitor: VisitorIdentity | None = None
    address: str = ""  # the client's address (visitors: limits per address)
    bucket: TokenBucket = field(default_factory=lambda: TokenBucket(rate=20.0, burst=40.0))
    refusals: RefusalWindow = field(
        default_factory=lambda: RefusalWindow(limit=FLOOD_LIMIT, window=FLOOD_WINDOW))
    session_checked_at: float = 0.0

    @property
    def actor(self) -> Actor:
        """Who this socket speaks for, as the access policy knows actors."""
        if self.visitor is not None:
            return Actor.of_visitor(self.visitor.visitor_id, self.visitor.customer_id,
                                    self.visitor.site_key)
        if self.username is not None and self.role is not None:
            return Actor.of_staff(self.username, self.role)
        return Actor()


def event_label(namespace: str, name: str) -> str:
    """The metric label of an event: its name if the namespace has such an event, else
    ``other`` — a client-chosen name must never become a Prometheus series."""
    return name if name in EVENTS.get(namespace, {}) else "other"


Handler = Callable[[SocketState, Payload], Awaitable[dict[str, Any] | None]]
# As registered: each handler takes its own event's payload type (checked at registration
# by signaling.handlers.base), which a Callable over the base Payload cannot express.
AnyHandler = Callable[[SocketState, Any], Awaitable[dict[str, Any] | None]]
# Returns the socket's principal, or raises EngageError to refuse the connection.
Authenticator = Callable[[str, str, dict[str, Any], Any], Awaitable[SocketState]]
SessionCheck = Callable[[str], Awaitable[StaffSession | None]]


class EngageSocketServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio with engage's guard in front of every event."""

    def __init__(self, *, metrics: Metrics, client_manager: socketio.AsyncManager | None,
                 origin_allowed: Callable[[str | None], bool], session_check: SessionCheck,
                 connect_timeout: float, tasks: TaskSet, rate: float = 20.0,
                 burst: float = 40.0) -> None:
        super().__init__(
            async_mode="aiohttp", client_manager=client_manager, json=OrjsonCodec,
            cors_allowed_origins=origin_allowed, cors_credentials=False,
            max_http_buffer_size=MAX_PACKET_BYTES, namespaces=list(NAMESPACES),
            logger=False, engineio_logger=False, ping_interval=20, ping_timeout=20)
        self.metrics = metrics
        self.connect_timeout = connect_timeout
        self.rate, self.burst = rate, burst
        self.sockets: dict[str, SocketState] = {}
        self._session_check = session_check
        self._event_handlers: dict[str, dict[str, AnyHandler]] = {ns: {} for ns in NAMESPACES}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._on_leave: dict[str, list[Callable[[SocketState], Awaitable[None]]]] = {}
        self._on_join: dict[str, list[Callable[[SocketState], Awaitable[None]]]] = {}
        self._task_set = tasks
        self._tasks: set[asyncio.Task[Any]] = set()  # handler tasks: close_all() waits for them
        for ns in NAMESPACES:
            self.on("disconnect", self._make_disconnect(ns), namespace=ns)

    # -- registration -------------------------------------------------------------------
    def authenticate_with(self, namespace: str, authenticator: Authenticator) -> None:
        async def on_connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            try:
                state = await authenticator(sid, namespace, environ, auth)
            except EngageError as exc:
                self.metrics.event_errors.labels(namespace, exc.code).inc()
                raise socketio.exceptions.ConnectionRefusedError(
                    exc.message, {"code": exc.code}) from None
            state.eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
            state.bucket = TokenBucket(rate=self.rate, burst=self.burst)
            self.sockets[sid] = state
            self.metrics.connections.labels(namespace).inc()
            if state.username:
                await self.enter_room(sid, f"user:{state.username}", namespace=namespace)
                await self.enter_room(sid, "staff", namespace=namespace)
            # After this handler returns python-socketio queues the CONNECT packet; hooks
            # run as a task so anything they emit reaches the client after it.
            for hook in self._on_join.get(namespace, []):
                self._spawn(self._run_hook(hook, state), "socket-join")

        self.on("connect", on_connect, namespace=namespace)

    def on_join(self, namespace: str, hook: Callable[[SocketState], Awaitable[None]]) -> None:
        """Run after a socket of ``namespace`` is admitted (e.g. sign the agent in to the ACD)."""
        self._on_join.setdefault(namespace, []).append(hook)

    async def _run_hook(self, hook: Callable[[SocketState], Awaitable[None]],
                        state: SocketState) -> None:
        try:
            await hook(state)
        except Exception:
            log.exception("join hook failed", extra={"namespace": state.namespace})

    def on_leave(self, namespace: str, hook: Callable[[SocketState], Awaitable[None]]) -> None:
        self._on_leave.setdefault(namespace, []).append(hook)

    def handle(self, namespace: str, event: str) -> Callable[[AnyHandler], AnyHandler]:
        def register(handler: AnyHandler) -> AnyHandler:
            self._event_handlers[namespace][event] = handler
            return handler
        return register

    def _make_disconnect(self, namespace: str) -> Callable[..., Awaitable[None]]:
        async def on_disconnect(sid: str, reason: Any = None) -> None:
            state = self.sockets.pop(sid, None)
            if state is not None:
                self.metrics.connections.labels(namespace).dec()
                for hook in self._on_leave.get(namespace, []):
                    try:
                        await hook(state)
                    except Exception:
                        log.exception("leave hook failed", extra={"namespace": namespace})
        return on_disconnect

    # -- Engine.IO level ----------------------------------------------------------------
    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        await super()._handle_eio_connect(eio_sid, environ)
        loop = asyncio.get_running_loop()
        self._timers[eio_sid] = loop.call_later(
            self.connect_timeout,
            lambda: self._spawn(self._expire_if_anonymous(eio_sid), "socket-expire"))

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        timer = self._timers.pop(eio_sid, None)
        if timer is not None:
            timer.cancel()
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def _expire_if_anonymous(self, eio_sid: str) -> None:
        self._timers.pop(eio_sid, None)
        if eio_sid not in self.environ:
            return
        if any(self.manager.sid_from_eio_sid(eio_sid, ns) for ns in NAMESPACES):
            return
        await self._close(eio_sid, "connect_timeout")

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if not isinstance(data, str) or eio_sid in self._binary_packet:
            # engage speaks JSON only; binary attachments go over HTTP uploads.
            await self._close(eio_sid, "binary_packet")
            return
        try:
            pkt = self.packet_class(encoded_packet=data)
        except Exception:
            await self._close(eio_sid, "malformed_packet")
            return
        if pkt.packet_type == packet.EVENT:
            await self._guarded_event(eio_sid, pkt, len(data))
        elif pkt.packet_type in (packet.CONNECT, packet.DISCONNECT, packet.ACK):
            if pkt.packet_type == packet.CONNECT and not isinstance(pkt.data, dict | None):
                await self._close(eio_sid, "malformed_packet")
                return
            await super()._handle_eio_message(eio_sid, data)
        else:
            await self._close(eio_sid, "unexpected_packet")

    async def _close(self, eio_sid: str, reason: str) -> None:
        self.metrics.protocol_errors.labels(reason).inc()
        log.info("closing connection", extra={"eio_sid": eio_sid, "reason": reason})
        transport = self.eio.sockets.get(eio_sid)
        await self.eio.disconnect(eio_sid)  # sends the Engine.IO CLOSE packet
        if transport is not None and transport.upgraded:
            # A hostile client may ignore CLOSE; ending the writer closes the websocket itself.
            await transport.queue.put(None)

    # -- events ---------------------------------------------------------------------------
    async def _guarded_event(self, eio_sid: str, pkt: packet.Packet, raw_size: int) -> None:
        namespace = pkt.namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        state = self.sockets.get(sid) if sid else None
        if state is None:
            await self._close(eio_sid, "not_connected")
            return
        try:
            name, args = split_event(pkt.data)
        except MalformedPacket:
            await self._close(eio_sid, "malformed_event")
            return
        try:
            if not state.bucket.take(time.monotonic()):
                raise RateLimited(retry_after=round(state.bucket.retry_after(), 3))
            spec, payload = check_event(namespace, name, args, raw_size, state.role)
            if spec.cost > 1 and not state.bucket.take(time.monotonic(), spec.cost - 1):
                raise RateLimited(retry_after=round(state.bucket.retry_after(spec.cost), 3))
            handler = self._event_handlers[namespace].get(name)
            if handler is None:
                raise UnknownEvent(f"no event {name!r} in {namespace}")
        except EngageError as exc:
            self.metrics.events.labels(namespace, event_label(namespace, name)).inc()
            await self._reply_error(state, pkt.id, exc)
            if state.refusals.refuse(time.monotonic()):
                await self._close(eio_sid, "flood")
            return
        self.metrics.events.labels(namespace, name).inc()
        self._spawn(self._run_handler(state, handler, payload, pkt.id), "socket-event")

    async def _run_handler(self, state: SocketState, handler: AnyHandler, payload: Payload,
                           ack_id: int | None) -> None:
        try:
            now = time.monotonic()
            if state.session_id is not None \
                    and now - state.session_checked_at >= SESSION_RECHECK_SECONDS:
                if await self._session_check(state.session_id) is None:
                    raise NotAuthenticated("your session has ended; sign in again")
                state.session_checked_at = now
            result = await handler(state, payload)
        except EngageError as exc:
            await self._reply_error(state, ack_id, exc)
            if isinstance(exc, NotAuthenticated):
                await self.disconnect(state.sid, namespace=state.namespace)
            return
        except Exception:
            log.exception("event handler failed", extra={"namespace": state.namespace})
            await self._reply_error(state, ack_id, EngageError("internal error"))
            return
        if ack_id is not None:
            await self._ack(state, ack_id, {"ok": True, **(result or {})})

    async def _reply_error(self, state: SocketState, ack_id: int | None,
                           exc: EngageError) -> None:
        self.metrics.event_errors.labels(state.namespace, exc.code).inc()
        body = exc.to_ack()
        if ack_id is not None:
            await self._ack(state, ack_id, body)
        else:
            await self.emit("engage:error", body, to=state.sid, namespace=state.namespace)

    async def _ack(self, state: SocketState, ack_id: int, body: dict[str, Any]) -> None:
        await self._send_packet(state.eio_sid, self.packet_class(
            packet.ACK, namespace=state.namespace, id=ack_id, data=[body]))

    # -- helpers for adapters -------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = self._task_set.spawn(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start_background_task(self, target: Callable[..., Coroutine[Any, Any, Any]],
                              *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        """python-socketio's own tasks (the fan-out listener among them) join the app's task
        set, so the app's shutdown stops them."""
        name = f"socketio-{getattr(target, '__name__', 'task')}"
        return self._task_set.spawn(target(*args, **kwargs), name=name)

    async def drop_user(self, username: str, reason: str, session_id: str | None = None) -> int:
        """Tell and disconnect this node's sockets of one staff member (or of one session)."""
        mine = [s for s in self.sockets.values() if s.username == username
                and (session_id is None or s.session_id == session_id)]
        for state in mine:
            await self.emit("session_ended", {"reason": reason}, to=state.sid,
                            namespace=state.namespace)
            await self.disconnect(state.sid, namespace=state.namespace)
        return len(mine)

    async def close_all(self) -> None:
        """Graceful shutdown: disconnect every local socket, then wait for handler tasks."""
        for state in list(self.sockets.values()):
            await self.disconnect(state.sid, namespace=state.namespace)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
