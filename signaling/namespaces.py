"""Who may join each namespace, and the foundation's event handlers (ping, whoami, announce)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from engage.errors import Forbidden, NotAuthenticated, OriginNotAllowed
from engage.infra.client_address import ClientAddress, forwarded_for
from engage.sites.registry import SiteRegistry
from engage.sites.visitor_tokens import VisitorAuth
from engage.staff.sessions import SessionStore
from engage.visits.visitor_limits import VisitorQuota
from signaling.handlers.base import Namespace, on
from signaling.schemas import (
    AGENT_NS,
    NAMESPACE_ROLES,
    SUPERVISOR_NS,
    VISITOR_NS,
    Announce,
    Echo,
    Empty,
)
from signaling.server import EngageSocketServer, SocketState


@dataclass(frozen=True)
class SignalingDeps:
    sessions: SessionStore
    sites: SiteRegistry
    visitor_auth: VisitorAuth
    node_id: str
    visitor_quota: VisitorQuota
    addresses: ClientAddress  # the client's address behind trusted proxies


def _token_from(auth: Any) -> str:
    if not isinstance(auth, dict) or not isinstance(auth.get("token"), str):
        raise NotAuthenticated("send {token} in the connection's auth")
    return str(auth["token"])


def client_address(environ: dict[str, Any], addresses: ClientAddress) -> str:
    """The client's address of the socket's HTTP request (engineio's REMOTE_ADDR is a fixed
    placeholder under aiohttp), behind a trusted proxy the one it forwarded for."""
    request = environ.get("aiohttp.request")
    remote = getattr(request, "remote", None)
    return addresses.of(str(remote) if remote else None,
                        forwarded_for(getattr(request, "headers", None))) or "unknown"


def register(server: EngageSocketServer, deps: SignalingDeps) -> None:
    async def staff_connect(sid: str, namespace: str, environ: dict[str, Any],
                            auth: Any) -> SocketState:
        origin = environ.get("HTTP_ORIGIN")
        # Browsers always send Origin; only the console's own origin may open staff sockets.
        if origin is not None and origin != deps.sites.staff_origin:
            raise OriginNotAllowed("staff sockets are only accepted from the console's origin")
        session = await deps.sessions.redeem_socket_token(_token_from(auth))
        if session is None:
            raise NotAuthenticated("the socket token is invalid, used or expired")
        if session.role not in NAMESPACE_ROLES[namespace]:
            raise Forbidden(f"{namespace} is not open to the {session.role} role")
        return SocketState(sid=sid, namespace=namespace,
                           role=session.role, username=session.username,
                           session_id=session.session_id)

    async def visitor_connect(sid: str, namespace: str, environ: dict[str, Any],
                              auth: Any) -> SocketState:
        identity = await deps.visitor_auth.verify(_token_from(auth))
        site = await deps.sites.require(identity.site_key)
        origin = environ.get("HTTP_ORIGIN")
        # The widget iframe connects from the server's own origin (its page is only framed by
        # the site's allowed origins); a custom integration from one of the site's origins.
        if not (site.allows(origin) or origin == deps.sites.staff_origin):
            raise OriginNotAllowed("this origin is not allowed for the site")
        # One visitor's tabs share its limits; more sockets would only multiply its reach.
        await deps.visitor_quota.open_socket(identity.visitor_id, sid)
        return SocketState(sid=sid, namespace=namespace, visitor=identity,
                           address=client_address(environ, deps.addresses))

    async def visitor_left(state: SocketState) -> None:
        await deps.visitor_quota.close_socket(state.sid)

    server.authenticate_with(AGENT_NS, staff_connect)
    server.authenticate_with(SUPERVISOR_NS, staff_connect)
    server.authenticate_with(VISITOR_NS, visitor_connect)
    server.on_leave(VISITOR_NS, visitor_left)
    deps.visitor_quota.alive = lambda sid: sid in server.sockets

    Foundation(server, deps.node_id).register(server)


class Foundation(Namespace):
    """The events every namespace has (ping, whoami) and the supervisors' announcements."""

    def __init__(self, server: EngageSocketServer, node_id: str) -> None:
        self._server = server
        self._node_id = node_id

    @on("ping", AGENT_NS, SUPERVISOR_NS, VISITOR_NS)
    async def ping(self, state: SocketState, payload: Echo) -> dict[str, Any]:
        return {"text": payload.text, "server_time": time.time(), "node": self._node_id}

    @on("whoami", AGENT_NS, SUPERVISOR_NS, VISITOR_NS)
    async def whoami(self, state: SocketState, payload: Empty) -> dict[str, Any]:
        if state.visitor is not None:
            return {"visitor_id": state.visitor.visitor_id, "site_key": state.visitor.site_key}
        return {"username": state.username, "role": state.role, "node": self._node_id}

    @on("announce", SUPERVISOR_NS)
    async def announce(self, state: SocketState, payload: Announce) -> dict[str, Any]:
        message = {"text": payload.text, "level": payload.level, "from": state.username,
                   "at": time.time()}
        # Through the Redis manager: sockets on every node get it.
        await self._server.emit("announcement", message, room="staff", namespace=AGENT_NS)
        await self._server.emit("announcement", message, room="staff", namespace=SUPERVISOR_NS)
        return {"delivered": True}
