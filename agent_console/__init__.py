"""Staff side: sign-in, role-checked pages and APIs of the console, wallboard and admin."""

from __future__ import annotations

from aiohttp import web

from agent_console.web_acd import add_acd_routes, add_kpi_routes
from agent_console.web_admin import add_admin_routes
from agent_console.web_analysis import add_analysis_routes, add_campaign_routes
from agent_console.web_attachments import add_attachment_routes
from agent_console.web_auth import RouteRule, StaffRoutes, add_login_routes
from agent_console.web_invites import add_invite_routes
from agent_console.web_knowledge import add_knowledge_routes
from agent_console.web_ledger import add_ledger_routes
from agent_console.web_pages import add_page_routes
from agent_console.web_recordings import add_recording_routes
from engage.services import Services


def setup(app: web.Application, services: Services) -> list[RouteRule]:
    """Add the staff routes; returns the role rules (for the role-matrix tests)."""
    routes = StaffRoutes(services)
    add_login_routes(routes.table, services)
    add_page_routes(routes)
    add_admin_routes(routes)
    add_acd_routes(routes)
    add_kpi_routes(routes)
    add_analysis_routes(routes)
    add_campaign_routes(routes)
    add_attachment_routes(routes)
    add_recording_routes(routes)
    add_invite_routes(routes)
    add_knowledge_routes(routes)
    add_ledger_routes(routes)
    app.add_routes(routes.table)
    return routes.rules
