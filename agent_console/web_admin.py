"""Admin HTTP API: staff accounts and widget sites."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_console.web_auth import StaffRoutes, json_object
from engage.errors import InvalidPayload
from engage.models import Role, StaffSession, StaffUser

ADMIN = {Role.ADMIN}


def _user_json(user: StaffUser) -> dict[str, Any]:
    return {"username": user.username, "role": user.role.value,
            "display_name": user.display_name, "disabled": user.disabled,
            "skills": user.skills, "queues": list(user.queues)}


def add_admin_routes(routes: StaffRoutes) -> None:
    services = routes.services

    @routes.route("GET", "/api/admin/users", ADMIN)
    async def list_users(request: web.Request, session: StaffSession) -> web.StreamResponse:
        users = await services.staff.list()
        return web.json_response({"ok": True, "users": [_user_json(u) for u in users]})

    @routes.route("POST", "/api/admin/users", ADMIN)
    async def add_user(request: web.Request, session: StaffSession) -> web.StreamResponse:
        body = await json_object(request)
        try:
            role = Role(str(body.get("role", "")))
        except ValueError:
            raise InvalidPayload("role: one of agent, supervisor, marketer, admin") from None
        user = await services.staff.add(
            str(body.get("username", "")), str(body.get("password", "")), role,
            display_name=str(body.get("display_name", "")))
        return web.json_response({"ok": True, "user": _user_json(user)}, status=201)

    @routes.route("POST", "/api/admin/users/{username}/disable", ADMIN)
    async def disable_user(request: web.Request, session: StaffSession) -> web.StreamResponse:
        user, ended = await services.auth.disable(request.match_info["username"],
                                                  actor=session.username)
        return web.json_response({"ok": True, "user": _user_json(user),
                                  "sessions_ended": ended})

    @routes.route("POST", "/api/admin/users/{username}/enable", ADMIN)
    async def enable_user(request: web.Request, session: StaffSession) -> web.StreamResponse:
        user = await services.auth.enable(request.match_info["username"])
        return web.json_response({"ok": True, "user": _user_json(user)})

    @routes.route("GET", "/api/admin/sites", ADMIN)
    async def list_sites(request: web.Request, session: StaffSession) -> web.StreamResponse:
        await services.sites.refresh()
        return web.json_response({"ok": True, "sites": [
            {"site_key": s.site_key, "name": s.name, "allowed_origins": list(s.allowed_origins),
             "widget": dict(s.widget)}
            for s in services.sites.all()]})

    @routes.route("PUT", "/api/admin/sites/{site_key}", ADMIN)
    async def save_site(request: web.Request, session: StaffSession) -> web.StreamResponse:
        body = await json_object(request)
        origins = body.get("allowed_origins")
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            raise InvalidPayload("allowed_origins: a list of origins")
        widget = body.get("widget")
        if widget is not None and not isinstance(widget, dict):
            raise InvalidPayload("widget: an object (queue, thresholds, sensitive_params)")
        site = await services.sites.save(request.match_info["site_key"],
                                         str(body.get("name", "")), origins, widget)
        return web.json_response({"ok": True, "site": {
            "site_key": site.site_key, "name": site.name,
            "allowed_origins": list(site.allowed_origins), "widget": dict(site.widget)}})
