"""Staff HTTP auth: the session cookie, role checks on every route, sign-in and sign-out."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jinja2
from aiohttp import web

from engage.errors import (
    EngageError,
    Forbidden,
    NotAuthenticated,
    OriginNotAllowed,
)
from engage.infra.client_address import forwarded_for
from engage.infra.json_body import json_object as parse_json_object
from engage.models import Role, StaffSession
from engage.services import Services

COOKIE = "engage_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# What the WHATWG URL parser ignores: tab and newlines anywhere, C0 controls and space at the ends.
_BROWSER_DROPS = str.maketrans("", "", "\t\n\r")
_BROWSER_TRIMS = "".join(chr(c) for c in range(0x21))

HOME_BY_ROLE = {Role.AGENT: "/console", Role.SUPERVISOR: "/wallboard",
                Role.MARKETER: "/marketing", Role.ADMIN: "/admin"}

Handler = Callable[[web.Request, StaffSession], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RouteRule:
    """One staff route and the roles allowed on it (the role matrix is built from these)."""

    method: str
    path: str
    roles: frozenset[Role]
    page: bool


templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined)


def render(name: str, status: int = 200, **context: Any) -> web.Response:
    return web.Response(text=templates.get_template(name).render(**context), status=status,
                        content_type="text/html")


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or InvalidPayload."""
    return parse_json_object(await request.read())


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def safe_next(raw: str | None) -> str | None:
    """Only a path on this origin, else None: an open redirect would let a phishing page
    borrow our login. Judged on what a browser would open (WHATWG URL parsing): it drops
    ASCII tabs and newlines anywhere, trims C0 controls and spaces, and reads ``\\`` as ``/``."""
    if not raw:
        return None
    cleaned = raw.translate(_BROWSER_DROPS).strip(_BROWSER_TRIMS)
    # Printable ASCII only: what is left of whitespace or controls has no business in a path.
    if not cleaned.startswith("/") or not all("!" <= c <= "~" for c in cleaned):
        return None
    parts = urlsplit(cleaned)
    # The path decoded as well: a proxy that normalises /%2F%2Fx may redirect to //x itself.
    heads = {cleaned[:2], unquote(parts.path)[:2]}
    if parts.scheme or parts.netloc or heads & {"//", "/\\"} or "\\" in cleaned:
        return None
    return cleaned


class StaffRoutes:
    """Collects staff routes with their roles; every handler gets a checked session."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.rules: list[RouteRule] = []
        self.table = web.RouteTableDef()

    async def session_of(self, request: web.Request) -> StaffSession | None:
        session_id = request.cookies.get(COOKIE, "")
        return await self.services.sessions.get(session_id) if session_id else None

    def check_origin(self, request: web.Request) -> None:
        """Cross-site requests can't ride on the cookie: SameSite=Strict plus this check."""
        origin = request.headers.get("Origin")
        if request.method in UNSAFE_METHODS and origin is not None \
                and origin != self.services.settings.public_origin:
            raise OriginNotAllowed("cross-site request refused")

    def route(self, method: str, path: str, roles: frozenset[Role] | set[Role],
              page: bool = False) -> Callable[[Handler], Handler]:
        allowed = frozenset(roles)
        self.rules.append(RouteRule(method, path, allowed, page))

        def decorate(handler: Handler) -> Handler:
            @functools.wraps(handler)
            async def checked(request: web.Request) -> web.StreamResponse:
                self.check_origin(request)
                session = await self.session_of(request)
                if session is None:
                    if page:
                        raise web.HTTPSeeOther(f"/login?next={request.path}")
                    raise NotAuthenticated()
                if session.role not in allowed:
                    if page:
                        return render("forbidden.html", status=403, session=session,
                                      home=HOME_BY_ROLE[session.role])
                    raise Forbidden()
                return await handler(request, session)

            self.table.route(method, path)(checked)
            return handler
        return decorate


def add_login_routes(table: web.RouteTableDef, services: Services) -> None:
    settings = services.settings

    @table.get("/login")
    async def login_page(request: web.Request) -> web.StreamResponse:
        return render("login.html", error=None, next=safe_next(request.query.get("next")) or "",
                      username="")

    @table.post("/login")
    async def login(request: web.Request) -> web.StreamResponse:
        wants_json = request.content_type == "application/json"
        origin = request.headers.get("Origin")
        if origin is not None and origin != settings.public_origin:
            raise OriginNotAllowed("cross-site sign-in refused")
        if wants_json:
            body = await json_object(request)
        else:
            body = dict(await request.post())
        username, password = str(body.get("username", "")), str(body.get("password", ""))
        next_path = safe_next(str(body.get("next", "")))
        ip = services.addresses.of(request.remote, forwarded_for(request.headers))
        try:
            session = await services.auth.login(username, password, ip)
        except EngageError as exc:
            services.metrics.logins.labels(exc.code).inc()
            if wants_json:
                raise
            return render("login.html", status=exc.http_status, error=exc.message,
                          next=next_path or "", username=username[:64])
        services.metrics.logins.labels("ok").inc()
        home = next_path or HOME_BY_ROLE[session.role]
        response: web.StreamResponse
        if wants_json:
            response = web.json_response({"ok": True, "role": session.role.value,
                                          "home": home})
        else:
            response = redirect(home)
        response.set_cookie(COOKIE, session.session_id, httponly=True, samesite="Strict",
                            secure=settings.cookie_secure, path="/")
        return response

    @table.post("/logout")
    async def logout(request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and origin != settings.public_origin:
            raise OriginNotAllowed("cross-site sign-out refused")
        session_id = request.cookies.get(COOKIE)
        if session_id:
            await services.auth.logout(session_id)
        response = redirect("/login")
        response.del_cookie(COOKIE, path="/")
        return response
