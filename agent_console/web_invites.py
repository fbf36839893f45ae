"""Invite rules over HTTP for marketers: list, create, edit (versioned), delete, stats, try out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from agent_console.web_auth import StaffRoutes, json_object
from engage.errors import InvalidPayload, NotFound
from engage.models import Role, StaffSession
from engage.visits.invite_rules import RULE_ID_RE, InviteRule, VisitContext, explain

WRITERS = {Role.MARKETER, Role.ADMIN}
READERS = WRITERS | {Role.SUPERVISOR}
MAX_URL = 2048


def _rule_id(request: web.Request) -> str:
    rule_id = request.match_info["rule_id"]
    if not RULE_ID_RE.fullmatch(rule_id):
        raise NotFound("no such invite rule")
    return rule_id


def _site(request: web.Request) -> str | None:
    return request.query.get("site") or None


def _number(body: Mapping[str, Any], name: str, default: float | None, high: float,
            whole: bool = False) -> float | None:
    value = body.get(name, default)
    if value is None:
        return None
    kinds = int if whole else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or not 0 <= value <= high:
        raise InvalidPayload(f"{name}: a {'whole ' if whole else ''}number from 0 to {high:g}",
                             field=name)
    return float(value)


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise InvalidPayload(f"{name}: true or false", field=name)
    return value


def _when(raw: Any) -> datetime:
    if raw is None:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise InvalidPayload("now: an ISO 8601 time with an offset, e.g. "
                             "2025-03-05T10:00:00+08:00", field="now")
    return when


def _agents(raw: Any, queue: str) -> dict[str, int]:
    """A count for the rule's queue, or counts per queue; one agent in the rule's queue when
    not given, so a try-out shows the conditions a marketer controls."""
    if raw is None:
        return {queue: 1}
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 10_000:
        return {queue: raw}
    if isinstance(raw, dict) and all(isinstance(k, str) and isinstance(v, int)
                                     and not isinstance(v, bool) and v >= 0
                                     for k, v in raw.items()):
        return dict(raw)
    raise InvalidPayload("agents_available: a count, or an object of queue -> count",
                         field="agents_available")


def visit_context(body: Mapping[str, Any], rule: InviteRule) -> VisitContext:
    """The visit a marketer describes to try a rule against."""
    url = body.get("url", "")
    if not isinstance(url, str) or len(url) > MAX_URL:
        raise InvalidPayload(f"url: at most {MAX_URL} characters", field="url")
    segment = body.get("segment")
    if segment is not None and not isinstance(segment, str):
        raise InvalidPayload("segment: a segment name or null", field="segment")
    returning = body.get("returning", False)
    if not isinstance(returning, bool):
        raise InvalidPayload("returning: true or false", field="returning")
    shown = _number(body, "shown_today", 0, 1_000, whole=True) or 0
    return VisitContext(
        url=url, time_on_page_s=_number(body, "time_on_page_s", 0, 86_400) or 0.0,
        pages_this_visit=int(_number(body, "pages_this_visit", 1, 10_000, whole=True) or 0),
        returning=returning, now=_when(body.get("now")), segment=segment,
        affinity=_number(body, "affinity", None, 1.0),
        struggle=_number(body, "struggle", 0, 1_000_000) or 0.0,
        agents_available=_agents(body.get("agents_available"), rule.queue),
        shown_today={rule.rule_id: int(shown)}, opted_out=_flag(body, "opted_out"),
        in_conversation=_flag(body, "in_conversation"),
        invite_pending=_flag(body, "invite_pending"))


def add_invite_routes(routes: StaffRoutes) -> None:
    invites = routes.services.invites

    @routes.route("GET", "/api/invite-rules", READERS)
    async def list_rules(request: web.Request, session: StaffSession) -> web.StreamResponse:
        return web.json_response({"ok": True, "rules": await invites.list_rules(_site(request))})

    @routes.route("POST", "/api/invite-rules", WRITERS)
    async def create(request: web.Request, session: StaffSession) -> web.StreamResponse:
        rule = await invites.create(await json_object(request), session.username)
        return web.json_response({"ok": True, "rule": rule}, status=201)

    # Before /{rule_id}: aiohttp matches in the order routes were added.
    @routes.route("GET", "/api/invite-rules/stats", READERS)
    async def stats(request: web.Request, session: StaffSession) -> web.StreamResponse:
        return web.json_response({"ok": True, "stats": await invites.stats(_site(request))})

    @routes.route("GET", "/api/invite-rules/{rule_id}", READERS)
    async def get(request: web.Request, session: StaffSession) -> web.StreamResponse:
        return web.json_response({"ok": True, "rule": await invites.get(_rule_id(request))})

    @routes.route("PUT", "/api/invite-rules/{rule_id}", WRITERS)
    async def update(request: web.Request, session: StaffSession) -> web.StreamResponse:
        rule_id = _rule_id(request)
        body = await json_object(request)
        version = body.get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidPayload("version: the version you edited (a whole number)",
                                 field="version")
        rule = await invites.update(rule_id, body, session.username, version)
        return web.json_response({"ok": True, "rule": rule})

    @routes.route("DELETE", "/api/invite-rules/{rule_id}", WRITERS)
    async def delete(request: web.Request, session: StaffSession) -> web.StreamResponse:
        await invites.delete(_rule_id(request))
        return web.json_response({"ok": True})

    # Trying a rule changes nothing, so whoever may read rules may try them.
    @routes.route("POST", "/api/invite-rules/{rule_id}/test", READERS)
    async def try_rule(request: web.Request, session: StaffSession) -> web.StreamResponse:
        rule = await invites.rule(_rule_id(request))
        failing = explain(rule, visit_context(await json_object(request), rule))
        return web.json_response({"ok": True, "matches": not failing, "failing": failing})
