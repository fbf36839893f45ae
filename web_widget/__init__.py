"""Visitor side: widget HTTP routes (visitor tokens), the loader and the in-iframe widget app."""

from __future__ import annotations

from aiohttp import web

from engage.services import Services
from web_widget.web_visitor import add_visitor_routes


def setup(app: web.Application, services: Services) -> None:
    table = web.RouteTableDef()
    add_visitor_routes(table, services)
    app.add_routes(table)
