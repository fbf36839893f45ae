"""Staff pages (console, wallboard, marketing, admin) and the session APIs they call."""

from __future__ import annotations

import time

from aiohttp import web

from agent_console.web_auth import HOME_BY_ROLE, StaffRoutes, redirect, render
from engage.calls.ice import ice_servers
from engage.models import ALL_ROLES, Role, StaffSession
from engage.staff.sessions import SOCKET_TOKEN_TTL

CONSOLE_ROLES = {Role.AGENT, Role.SUPERVISOR}
SUPERVISOR_ROLES = {Role.SUPERVISOR, Role.ADMIN}
MARKETING_ROLES = {Role.MARKETER, Role.ADMIN}

PAGES = {
    "/console": ("Agent console", "console", CONSOLE_ROLES),
    "/wallboard": ("Supervisor wallboard", "wallboard", SUPERVISOR_ROLES),
    "/marketing": ("Marketing", "marketing", MARKETING_ROLES),
    "/admin": ("Administration", "admin", {Role.ADMIN}),
}


def add_page_routes(routes: StaffRoutes) -> None:
    services = routes.services
    settings = services.settings

    @routes.table.get("/")
    async def root(request: web.Request) -> web.StreamResponse:
        session = await routes.session_of(request)
        return redirect(HOME_BY_ROLE[session.role] if session else "/login")

    def page(title: str, bundle: str) -> object:
        async def show(request: web.Request, session: StaffSession) -> web.StreamResponse:
            response = render("app.html", title=title, bundle=bundle, session=session,
                              home=HOME_BY_ROLE[session.role])
            response.headers["Cache-Control"] = "no-store"
            return response
        return show

    for path, (title, bundle, roles) in PAGES.items():
        routes.route("GET", path, roles, page=True)(page(title, bundle))  # type: ignore[arg-type]

    @routes.route("GET", "/api/me", ALL_ROLES)
    async def me(request: web.Request, session: StaffSession) -> web.StreamResponse:
        return web.json_response({"ok": True, "username": session.username,
                                  "role": session.role.value,
                                  "display_name": session.display_name,
                                  "home": HOME_BY_ROLE[session.role]})

    @routes.route("POST", "/api/socket-token", ALL_ROLES)
    async def socket_token(request: web.Request, session: StaffSession) -> web.StreamResponse:
        token = await services.sessions.issue_socket_token(session)
        return web.json_response({"ok": True, "token": token, "expires_in": SOCKET_TOKEN_TTL})

    @routes.route("GET", "/api/ice-servers", CONSOLE_ROLES | SUPERVISOR_ROLES)
    async def ice(request: web.Request, session: StaffSession) -> web.StreamResponse:
        servers = ice_servers(settings.stun_urls, settings.turn_urls, settings.turn_secret,
                              session.username, time.time(), settings.turn_ttl_seconds)
        return web.json_response({"ok": True, "ice_servers": servers,
                                  "ttl": settings.turn_ttl_seconds})
