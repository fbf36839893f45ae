"""Analysis results over HTTP: suggestions, offer feedback, uplift, the report, campaign lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from agent_console.web_auth import StaffRoutes, json_object
from engage.analysis.campaigns import csv_text
from engage.analysis.reasons import language
from engage.analysis.suggestions import NO_RESULTS
from engage.errors import InvalidPayload
from engage.models import Role, StaffSession

SUGGESTING = {Role.AGENT, Role.SUPERVISOR, Role.ADMIN}
GIVING_FEEDBACK = {Role.AGENT, Role.SUPERVISOR, Role.MARKETER}
MARKETING = {Role.MARKETER, Role.ADMIN}
REPORT_READERS = MARKETING | {Role.SUPERVISOR}
MAX_UPLIFT_DAYS = 3_650


def _since(raw: str | None) -> datetime | None:
    """``days`` query value: feedback of the last N days (all when absent)."""
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_UPLIFT_DAYS:
        raise InvalidPayload(f"days: a whole number from 1 to {MAX_UPLIFT_DAYS}")
    return datetime.now(UTC) - timedelta(days=int(raw))


def add_analysis_routes(routes: StaffRoutes) -> None:
    services = routes.services

    @routes.route("GET", "/api/customers/{customer_id}/suggestions", SUGGESTING)
    async def suggestions(request: web.Request, session: StaffSession) -> web.StreamResponse:
        answer = await services.suggestions.for_customer(
            request.match_info["customer_id"], language(request.query.get("lang")))
        if answer.get("suggestions"):
            # What was already offered, accepted or declined, so the console shows it.
            answer["feedback"] = await services.feedback.recorded(str(answer["customer"]))
        return web.json_response(answer)

    @routes.route("POST", "/api/suggestions/feedback", GIVING_FEEDBACK)
    async def feedback(request: web.Request, session: StaffSession) -> web.StreamResponse:
        body = await json_object(request)
        entry = await services.feedback.record(body, session.username, session.role.value)
        return web.json_response({"ok": True, "feedback": entry}, status=201)

    @routes.route("GET", "/api/analysis/uplift", REPORT_READERS)
    async def uplift(request: web.Request, session: StaffSession) -> web.StreamResponse:
        table = await services.feedback.uplift(_since(request.query.get("days")))
        return web.json_response({"ok": True, **table})

    @routes.route("GET", "/api/analysis/report", REPORT_READERS)
    async def report(request: web.Request, session: StaffSession) -> web.StreamResponse:
        version = await services.analysis.current_version()
        body = None if version is None else await services.analysis.report(version)
        if body is None:
            return web.json_response({"ok": True, "status": "no_results",
                                      "message": NO_RESULTS["message"], "report": None})
        return web.json_response({"ok": True, "status": "ok", "report": body})

    @routes.route("GET", "/api/analysis/runs", REPORT_READERS)
    async def runs(request: web.Request, session: StaffSession) -> web.StreamResponse:
        docs = await services.analysis.runs()
        return web.json_response({"ok": True, "runs": docs})


def add_campaign_routes(routes: StaffRoutes) -> None:
    services = routes.services

    @routes.route("POST", "/api/campaigns", MARKETING)
    async def create(request: web.Request, session: StaffSession) -> web.StreamResponse:
        body = await json_object(request)
        campaign = await services.campaigns.create(body, session.username)
        return web.json_response({"ok": True, "campaign": campaign}, status=201)

    @routes.route("GET", "/api/campaigns", MARKETING)
    async def list_campaigns(request: web.Request, session: StaffSession
                             ) -> web.StreamResponse:
        return web.json_response({"ok": True, "campaigns": await services.campaigns.recent()})

    @routes.route("GET", "/api/campaigns/{campaign_id}", MARKETING)
    async def get_campaign(request: web.Request, session: StaffSession) -> web.StreamResponse:
        campaign_id = request.match_info["campaign_id"]
        campaign = await services.campaigns.get(campaign_id)
        members = await services.campaigns.members(campaign_id)
        return web.json_response({"ok": True, "campaign": campaign, "preview": members[:50]})

    @routes.route("GET", "/api/campaigns/{campaign_id}/list.csv", MARKETING)
    async def export(request: web.Request, session: StaffSession) -> web.StreamResponse:
        campaign_id = request.match_info["campaign_id"]
        members = await services.campaigns.members(campaign_id)
        text = csv_text(members, bom=request.query.get("bom") == "1")
        return web.Response(
            text=text, content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{campaign_id}.csv"',
                     "Cache-Control": "no-store"})
