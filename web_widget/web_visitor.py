"""Visitor tokens over HTTP, for origins on a site's allow-list only (exact CORS, no wildcard)."""

from __future__ import annotations

from aiohttp import web

from engage.errors import InvalidPayload, NotAuthenticated, OriginNotAllowed
from engage.services import Services


def _cors(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
            "Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600"}


def add_visitor_routes(table: web.RouteTableDef, services: Services) -> None:
    @table.options("/api/visitor/token")
    async def preflight(request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not services.sites.origin_known(origin):
            raise OriginNotAllowed()
        assert origin is not None
        return web.Response(status=204, headers=_cors(origin))

    @table.post("/api/visitor/token")
    async def visitor_token(request: web.Request) -> web.StreamResponse:
        """Body ``{site_key, token?}``; a still-valid token keeps the same visitor id."""
        try:
            body = await request.json()
        except ValueError:
            raise InvalidPayload("the body must be a JSON object") from None
        if not isinstance(body, dict) or not isinstance(body.get("site_key"), str):
            raise InvalidPayload("site_key is required")
        previous = body.get("token")
        site = await services.sites.require(body["site_key"])
        origin = request.headers.get("Origin")
        if not site.allows(origin):
            raise OriginNotAllowed("this origin is not allowed for the site")
        assert origin is not None
        keep = None
        if isinstance(previous, str):
            try:
                known = services.visitor_tokens.verify(previous)
                keep = known.visitor_id if known.site_key == site.site_key else None
            except NotAuthenticated:
                keep = None  # an expired or forged token just starts a new visitor
        token, visitor_id = services.visitor_tokens.issue(site.site_key, keep)
        return web.json_response({"ok": True, "token": token, "visitor_id": visitor_id},
                                 headers=_cors(origin))
