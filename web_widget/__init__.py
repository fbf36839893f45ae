"""Visitor side: widget HTTP routes (visitor tokens), the loader and the in-iframe widget app."""

from __future__ import annotations

from aiohttp import web

from web_widget.demo_page import add_demo_routes
from web_widget.deps import WidgetDeps
from web_widget.web_chat_http import add_chat_http_routes
from web_widget.web_frame import add_frame_routes
from web_widget.web_visitor import add_visitor_routes
from web_widget.web_visitor_ice import add_visitor_ice_routes


def setup(app: web.Application, services: WidgetDeps) -> None:
    table = web.RouteTableDef()
    add_visitor_routes(table, services)
    add_frame_routes(table, services)
    add_demo_routes(table, services)
    add_chat_http_routes(table, services)
    add_visitor_ice_routes(table, services)
    app.add_routes(table)
