"""The widget iframe page: served only for, and framed only by, a site's allowed origins."""

from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

from engage.errors import InvalidPayload, OriginNotAllowed
from web_widget.deps import WidgetDeps

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True, auto_reload=False)
LANGS = ("en", "zh")
TITLES = {"en": "Chat with us", "zh": "在线咨询"}


def frame_csp(parent_origin: str, socket_origin: str) -> str:
    # frame-ancestors is the browser-enforced half of the allow-list: the page may only be
    # framed by the one origin it was asked for, which the server checked. connect-src: the
    # node itself and its own websocket origin, no other host.
    return ("default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src 'self' blob: data:; connect-src 'self' {socket_origin}; "
            "media-src 'self' blob:; "
            f"frame-ancestors {parent_origin}; base-uri 'none'; form-action 'none'; "
            "object-src 'none'")


# The loader's iframe delegates these with `allow="microphone; camera; autoplay; ..."`; the
# frame page grants them to itself only (calls, after the visitor's click) and nothing else
# powerful to anyone.
FRAME_PERMISSIONS = ("camera=(self), microphone=(self), autoplay=(self), display-capture=(), "
                     "geolocation=(), payment=(), usb=()")


def add_frame_routes(table: web.RouteTableDef, services: WidgetDeps) -> None:
    @table.get("/widget/frame")
    async def frame(request: web.Request) -> web.StreamResponse:
        site_key = request.query.get("site", "")
        parent = request.query.get("origin", "")
        lang = request.query.get("lang", "en")
        if not site_key:
            raise InvalidPayload("site is required")
        site = await services.sites.require(site_key)
        if not site.allows(parent):
            raise OriginNotAllowed("this origin is not allowed for the site")
        body = TEMPLATES.get_template("frame.html").render(
            site_key=site.site_key, parent_origin=parent, site_name=site.name,
            lang=lang if lang in LANGS else "en", title=TITLES.get(lang, TITLES["en"]))
        return web.Response(text=body, content_type="text/html", headers={
            "Content-Security-Policy": frame_csp(parent, services.settings.socket_origin),
            "Cache-Control": "no-store",
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "Permissions-Policy": FRAME_PERMISSIONS})
