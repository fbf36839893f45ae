"""Visitor ICE servers over HTTP (bearer visitor token): STUN, and TURN with REST credentials."""

from __future__ import annotations

import time

from aiohttp import web

from engage.calls.ice import ice_servers
from web_widget.deps import WidgetDeps
from web_widget.web_chat_http import bearer_identity


def add_visitor_ice_routes(table: web.RouteTableDef, services: WidgetDeps) -> None:
    settings = services.settings

    @table.get("/api/visitor/ice-servers")
    async def visitor_ice(request: web.Request) -> web.StreamResponse:
        """The visitor id is the TURN user, so relay use is traceable to one visitor."""
        identity = await bearer_identity(request, services)
        servers = ice_servers(settings.stun_urls, settings.turn_urls, settings.turn_secret,
                              identity.visitor_id, time.time(), settings.turn_ttl_seconds)
        response = web.json_response({"ok": True, "ice_servers": servers,
                                      "ttl": settings.turn_ttl_seconds})
        response.headers["Cache-Control"] = "no-store"  # credentials: never cached
        return response
