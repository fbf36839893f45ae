"""Visitor tokens over HTTP, for origins on a site's allow-list only (exact CORS, no wildcard)."""

from __future__ import annotations

from aiohttp import web

from engage.errors import InvalidPayload, OriginNotAllowed
from engage.infra.client_address import forwarded_for
from engage.infra.json_body import json_object
from engage.sites.visitor_tokens import proven_customer
from web_widget.deps import WidgetDeps


def _cors(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
            "Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600"}


def add_visitor_routes(table: web.RouteTableDef, services: WidgetDeps) -> None:
    @table.options("/api/visitor/token")
    async def preflight(request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not services.sites.origin_known(origin):
            raise OriginNotAllowed()
        assert origin is not None
        return web.Response(status=204, headers=_cors(origin))

    @table.post("/api/visitor/token")
    async def visitor_token(request: web.Request) -> web.StreamResponse:
        """Body ``{site_key, token?, customer_id?, customer_hash?}``; a still-valid token keeps
        the same visitor id while the identity is unchanged."""
        body = json_object(await request.read())
        if not isinstance(body.get("site_key"), str):
            raise InvalidPayload("site_key is required")
        site = await services.sites.require(body["site_key"])
        origin = request.headers.get("Origin")
        # The widget iframe asks from the server's own origin; a host page from its own.
        same_origin = origin == services.sites.staff_origin
        if not (site.allows(origin) or same_origin):
            raise OriginNotAllowed("this origin is not allowed for the site")
        assert origin is not None
        # Per address and per site, shared by every node: tokens are what every other visitor
        # limit counts by, so minting them in bulk must not be free.
        address = services.addresses.of(request.remote, forwarded_for(request.headers))
        await services.visitor_quota.token(address, site.site_key)
        customer = proven_customer(site.identity_secret, body.get("customer_id"),
                                   body.get("customer_hash"))
        token, visitor_id = await services.visitor_auth.renew(site.site_key,
                                                              body.get("token"), customer)
        # "identified" only says whether the hash was right, never whether a profile exists.
        reply = {"ok": True, "token": token, "visitor_id": visitor_id,
                 "identified": bool(customer)}
        return web.json_response(reply, headers={} if same_origin else _cors(origin))
