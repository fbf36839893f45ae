"""ACD over HTTP: queue configuration, headless interactions, live queue and agent status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from agent_console.web_auth import StaffRoutes, json_object
from engage.acd.kpis import report_to_json
from engage.acd.queues import to_document
from engage.errors import InvalidPayload
from engage.infra.clock import now_ms
from engage.models import Role, StaffSession

SUPERVISING = {Role.SUPERVISOR, Role.ADMIN}
STAFF = {Role.AGENT, Role.SUPERVISOR, Role.ADMIN}


def add_acd_routes(routes: StaffRoutes) -> None:
    services = routes.services

    @routes.route("GET", "/api/queues", STAFF)
    async def list_queues(request: web.Request, session: StaffSession) -> web.StreamResponse:
        now = now_ms()
        out = []
        for queue in services.queues.all():
            waiting, oldest = await services.acd.queue_snapshot(queue.queue_id)
            out.append({**to_document(queue), "waiting": waiting,
                        "longest_wait_seconds": 0 if oldest is None else (now - oldest) / 1000})
        return web.json_response({"ok": True, "queues": out,
                                  "agents": await services.acd.agents_by_state()})

    @routes.route("GET", "/api/agents", STAFF)
    async def list_agents(request: web.Request, session: StaffSession) -> web.StreamResponse:
        """Who could take a transfer: every agent's state and the channels it could take."""
        return web.json_response({"ok": True, "agents": await services.acd.roster()})

    @routes.route("PUT", "/api/admin/queues/{queue_id}", {Role.ADMIN})
    async def save_queue(request: web.Request, session: StaffSession) -> web.StreamResponse:
        body = await json_object(request)
        body["_id"] = request.match_info["queue_id"]
        queue = await services.queues.save(body)
        return web.json_response({"ok": True, "queue": to_document(queue)})

    @routes.route("POST", "/api/interactions", SUPERVISING)
    async def create_interaction(request: web.Request, session: StaffSession
                                 ) -> web.StreamResponse:
        body = await json_object(request)
        queue, channel = body.get("queue"), body.get("channel", "chat")
        context = body.get("context", {})
        priority = body.get("priority")
        if not isinstance(queue, str) or not isinstance(channel, str):
            raise InvalidPayload("queue and channel: strings")
        if not isinstance(context, dict):
            raise InvalidPayload("context: an object")
        if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool)):
            raise InvalidPayload("priority: a whole number")
        created: dict[str, Any] = await services.acd.enqueue(
            queue, channel, customer=str(body.get("customer", "")), context=context,
            priority=priority)
        return web.json_response({"ok": True, **created}, status=201)

    @routes.route("GET", "/api/interactions/{ix}", SUPERVISING)
    async def get_interaction(request: web.Request, session: StaffSession) -> web.StreamResponse:
        ix = request.match_info["ix"]
        status = await services.acd.status(ix)
        live = await services.acd.interaction(ix)
        return web.json_response({"ok": True, "interaction": ix, **status,
                                  "agent": live.named_agent if live else "",
                                  "channel": live.channel if live else ""})


def _when(raw: str | None, default: datetime, name: str) -> datetime:
    if not raw:
        return default
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidPayload(f"{name}: an ISO-8601 date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_kpi_routes(routes: StaffRoutes) -> None:
    services = routes.services

    @routes.route("GET", "/api/kpis", SUPERVISING)
    async def kpis(request: web.Request, session: StaffSession) -> web.StreamResponse:
        now = datetime.now(UTC)
        end = _when(request.query.get("end"), now, "end")
        start = _when(request.query.get("start"), end - timedelta(hours=24), "start")
        report = await services.kpis.report(start, end, request.query.get("queue") or None)
        return web.json_response({"ok": True, **report_to_json(report)})
