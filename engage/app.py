"""Composition root: builds a node's aiohttp app from settings and open backends."""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Protocol

from aiohttp import hdrs, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import agent_console
import web_widget
from engage import bus
from engage.calls.service import CallService
from engage.config import Settings
from engage.errors import EngageError
from engage.infra import logs
from engage.infra.backends import Backends
from engage.infra.metrics import MetricsAccess
from engage.services import Services, build_services
from engage.staff.passwords import PasswordHasher
from signaling.fanout import RedisFanout
from signaling.handlers.acd import AcdHandlers, SocketNotifier
from signaling.handlers.bulletin import register_bulletin
from signaling.handlers.calls import CallHandlers
from signaling.handlers.chat import ChatHandlers
from signaling.handlers.recheck import RecheckingNotifier
from signaling.handlers.visitor import VisitorHandlers
from signaling.handlers.watch import TrailWatchers
from signaling.namespaces import SignalingDeps, register
from signaling.recording.nodes import RecorderDirectory
from signaling.server import EngageSocketServer
from web_widget.deps import WidgetDeps

log = logging.getLogger("engage.app")

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "static"

SERVICES = web.AppKey("services", Services)
SOCKETS = web.AppKey("sockets", EngageSocketServer)
RECORDERS = web.AppKey("recorders", RecorderDirectory)
ROUTE_RULES = web.AppKey("route_rules", list)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Requests through a proxy carry one of these; their peer address is the proxy's.
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")
# A year, without includeSubDomains: the node's host name is the company's; its other names
# (and preloading) are the company's decision.
HSTS = "max-age=31536000"


def security_headers(settings: Settings) -> dict[str, str]:
    """Headers on every response. connect-src names the node's own websocket origin: 'self'
    covers ws(s) only in CSP level 3 browsers, and ``ws: wss:`` would allow any host."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {settings.socket_origin}; object-src 'none'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    }
    if settings.public_url.startswith("https://"):
        headers["Strict-Transport-Security"] = HSTS
    return headers


def _is_source_map(path: str) -> bool:
    # As the static route will resolve it: a trailing slash or "/." still names the file.
    return PurePosixPath(path).suffix.lower() == ".map"


def _error_middleware(services: Services) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The one place HTTP turns domain errors into a JSON body with a stable code."""

    headers = security_headers(services.settings)
    source_maps = services.settings.serve_source_maps

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            if not source_maps and request.path.startswith("/static/") \
                    and _is_source_map(request.path):
                raise web.HTTPNotFound()
            response = await handler(request)
            status = response.status
        except EngageError as exc:
            status = exc.http_status
            response = web.json_response(exc.to_ack(), status=status)
            if isinstance(retry := exc.details.get("retry_after"), int | float):
                response.headers["Retry-After"] = str(max(1, math.ceil(retry)))
        except web.HTTPException as exc:
            status = exc.status
            if exc.status < 400:
                raise
            response = web.json_response({"ok": False, "code": f"http_{exc.status}",
                                          "message": exc.reason}, status=exc.status)
        finally:
            route = request.match_info.route.resource
            name = route.canonical if route is not None else "unmatched"
            # Any token is a valid HTTP method: only the standard ones become labels.
            method = request.method if request.method in hdrs.METH_ALL else "other"
            services.metrics.http_latency.labels(name, method, str(status)).observe(
                time.perf_counter() - started)
        if not request.path.startswith("/socket.io/"):
            # A page that set its own CSP with frame-ancestors (the widget iframe) may be
            # framed by those ancestors: X-Frame-Options DENY would override that.
            framed = "frame-ancestors 'none'" not in response.headers.get(
                "Content-Security-Policy", "frame-ancestors 'none'")
            for key, value in headers.items():
                if not (framed and key == "X-Frame-Options"):
                    response.headers.setdefault(key, value)
        return response

    return middleware


def _ops_routes(services: Services) -> web.RouteTableDef:
    table = web.RouteTableDef()

    @table.get("/healthz")
    async def healthz(request: web.Request) -> web.StreamResponse:
        return web.json_response({"ok": True, "node": services.settings.node_id})

    @table.get("/readyz")
    async def readyz(request: web.Request) -> web.StreamResponse:
        checks: dict[str, str] = {}
        try:
            await services.backends.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
        try:
            await services.backends.mongo.admin.command("ping")
            checks["mongo"] = "ok"
        except Exception as exc:
            checks["mongo"] = f"error: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return web.json_response({"ok": ready, "checks": checks}, status=200 if ready else 503)

    access = MetricsAccess(services.settings.metrics_allow, services.settings.metrics_token)

    @table.get("/metrics")
    async def metrics(request: web.Request) -> web.StreamResponse:
        verdict = access.verdict(request.remote,
                                 any(h in request.headers for h in FORWARDING_HEADERS),
                                 request.headers.get(hdrs.AUTHORIZATION))
        if verdict == "hidden":
            raise web.HTTPNotFound()
        if verdict == "unauthenticated":
            return web.json_response(
                {"ok": False, "code": "unauthenticated",
                 "message": "metrics need Authorization: Bearer <ENGAGE_METRICS_TOKEN>"},
                status=401, headers={hdrs.WWW_AUTHENTICATE: "Bearer"})
        body = generate_latest(services.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return table


def create_app(settings: Settings, backends: Backends,
               hasher: PasswordHasher | None = None) -> web.Application:
    services = build_services(settings, backends, hasher)
    app = web.Application(middlewares=[_error_middleware(services), _unexpected_errors()],
                          client_max_size=2 * 1024 * 1024)
    app[SERVICES] = services

    fanout = RedisFanout(backends.redis_url, max_connections=settings.redis_max_connections,
                         tasks=services.tasks)
    sockets = EngageSocketServer(
        metrics=services.metrics, client_manager=fanout,
        origin_allowed=services.sites.origin_known,
        session_check=lambda sid: services.sessions.get(sid),
        connect_timeout=settings.connect_timeout_seconds, tasks=services.tasks,
        rate=settings.socket_rate, burst=settings.socket_burst)
    register(sockets, SignalingDeps(sessions=services.sessions, sites=services.sites,
                                    visitor_auth=services.visitor_auth,
                                    node_id=settings.node_id,
                                    visitor_quota=services.visitor_quota,
                                    addresses=services.addresses))
    async def publish_queue_changed(queue: str) -> None:
        await bus.publish(backends.redis, bus.ACD_QUEUE_CHANGED, queue=queue)

    notifier = SocketNotifier(sockets, services.acd, publish_queue_changed, tasks=services.tasks)
    services.acd.notifier = notifier
    AcdHandlers(sockets, services.acd, services.access, notifier).register(sockets)
    VisitorHandlers(sockets, acd=services.acd, notifier=notifier, visits=services.visits,
                    chat=services.chat, invites=services.invites,
                    contact_requests=services.contact_requests,
                    quota=services.visitor_quota).register(sockets)
    watchers = TrailWatchers(sockets, backends.redis, services.access)
    services.acd.notifier = RecheckingNotifier(services.acd.notifier, watchers.recheck)
    ChatHandlers(sockets, chat=services.chat, staff=services.staff,
                 attachments=services.attachments, transcripts=services.transcripts,
                 visits=services.visits, gate=services.access, watchers=watchers,
                 quota=services.visitor_quota).register(sockets)
    listener = bus.EventListener(backends.redis_url, tasks=services.tasks)
    calls = CallHandlers(sockets, acd=services.acd, gate=services.access,
                         calls=CallService(backends.redis), recordings=services.recordings,
                         redis=backends.redis, node_id=settings.node_id, tasks=services.tasks,
                         listener=listener)
    calls.register(sockets)
    recorders = calls.recorders
    app[RECORDERS] = recorders
    sockets.attach(app, socketio_path="socket.io")
    app[SOCKETS] = sockets

    app.add_routes(_ops_routes(services))
    app[ROUTE_RULES] = agent_console.setup(app, services)
    web_widget.setup(app, WidgetDeps(
        settings=settings, sites=services.sites, visitor_auth=services.visitor_auth,
        visitor_quota=services.visitor_quota, addresses=services.addresses,
        access=services.access, chat=services.chat, attachments=services.attachments))
    app.router.add_static("/static", STATIC_DIR, follow_symlinks=False)

    async def on_revoked(event: dict[str, object]) -> None:
        await sockets.drop_user(str(event.get("username")), "account disabled")

    async def on_sites_changed(event: dict[str, object]) -> None:
        await services.sites.refresh()

    async def on_session_ended(event: dict[str, object]) -> None:
        await sockets.drop_user(str(event.get("username")), "signed out",
                                session_id=str(event.get("session_id")))

    async def on_queue_changed(event: dict[str, object]) -> None:
        await notifier.refresh_local(str(event.get("queue")))

    listener.on(bus.ACD_QUEUE_CHANGED, on_queue_changed)
    listener.on(bus.STAFF_SESSIONS_REVOKED, on_revoked)
    listener.on(bus.STAFF_SESSION_ENDED, on_session_ended)
    listener.on(bus.SITES_CHANGED, on_sites_changed)

    async def on_invites_changed(event: dict[str, object]) -> None:
        await services.invites.refresh()

    listener.on(bus.INVITES_CHANGED, on_invites_changed)
    listener.on(bus.KNOWLEDGE_CHANGED, services.knowledge.on_changed)
    register_bulletin(sockets, listener)

    async def task_set(app: web.Application) -> AsyncIterator[None]:
        yield
        await services.tasks.close()  # last: whatever the resources left running

    async def bus_events(app: web.Application) -> AsyncIterator[None]:
        await services.sites.refresh()
        await listener.start()
        yield
        await listener.stop()

    async def socket_fanout(app: web.Application) -> AsyncIterator[None]:
        # Start the fan-out listener now, not at the first connection, so events published
        # by other nodes reach this node's rooms from the start.
        sockets.manager_initialized = True
        fanout.initialize()  # its listener runs in the task set (sockets' background tasks)
        yield
        await services.tasks.cancel(getattr(fanout, "thread", None))
        await fanout.close()

    async def on_started(app: web.Application) -> None:
        log.info("node started", extra={"node": settings.node_id, "backends": backends.kind})

    async def on_shutdown(app: web.Application) -> None:
        await sockets.close_all()

    # One context per resource, in start order: aiohttp stops them in reverse, and a start
    # that fails stops exactly those that started before it. The recorders stop first, so
    # files are closed and documents completed while Redis and MongoDB are there.
    app.cleanup_ctx.extend([task_set, bus_events, socket_fanout, _running(services.eventlog),
                            _running(services.acd)])
    app.cleanup_ctx.extend(_running(service) for service in (
        services.invites, services.attachments, services.recordings, services.outbox,
        services.trail, services.ledger, services.knowledge, services.bulletin))
    app.cleanup_ctx.append(_running(recorders))
    app.cleanup_ctx.append(_running(services.staff.passwords))
    app.on_startup.append(on_started)
    app.on_shutdown.append(on_shutdown)
    return app


class Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def _running(resource: Startable) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that starts ``resource`` and stops it when the app stops."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        await resource.start()
        yield
        await resource.stop()

    context.__qualname__ = f"running({type(resource).__name__})"
    return context


def _unexpected_errors() -> Callable[..., Awaitable[web.StreamResponse]]:
    """Inside the error middleware (so its headers and metrics apply): an exception that is
    neither a domain nor an HTTP error is a bug. The client gets a JSON 500 naming a request
    id (body and X-Request-Id), the log one line with that id; the full traceback at most once
    a minute per kind of failure and route, because a request that fails can be repeated."""
    budget = logs.TracebackBudget()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except (EngageError, web.HTTPException):
            raise
        except Exception as exc:
            request_id = secrets.token_hex(8)
            resource = request.match_info.route.resource
            # The route's template, not the path: the path is the client's text.
            route = resource.canonical if resource is not None else "unmatched"
            kind = type(exc).__qualname__
            log.error("unexpected %s on %s %s (request %s): %.200r", kind, request.method,
                      route, request_id, str(exc),
                      exc_info=exc if budget.allows(f"{kind} {route}") else None,
                      extra={"request_id": request_id, "error": kind, "route": route})
            return web.json_response(
                {"ok": False, "code": "internal", "request_id": request_id,
                 "message": "Something went wrong on the server; the request id names it."},
                status=500, headers={"X-Request-Id": request_id})

    return middleware
