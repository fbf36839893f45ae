"""Shared staff knowledge over HTTP: the canned-answer set (search, render, edit) and the board."""

from __future__ import annotations

from aiohttp import web

from agent_console.web_auth import StaffRoutes, json_object
from engage.acd.access import Action, Actor, Verdict
from engage.acd.interaction import IX_RE
from engage.desk.bulletin import POST_ID_RE
from engage.desk.knowledge import ANSWER_ID_RE
from engage.errors import Forbidden, InvalidPayload, NotFound
from engage.models import Role, StaffSession
from engage.services import Services

READERS = {Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.MARKETER}
EDITORS = {Role.SUPERVISOR, Role.ADMIN}
POSTERS = {Role.AGENT, Role.SUPERVISOR, Role.ADMIN}
MODERATORS = {Role.SUPERVISOR, Role.ADMIN}


def _answer_id(request: web.Request) -> str:
    answer_id = request.match_info["answer_id"]
    if not ANSWER_ID_RE.fullmatch(answer_id):
        raise NotFound("no such answer")
    return answer_id


def _post_id(request: web.Request) -> str:
    post_id = request.match_info["post_id"]
    if not POST_ID_RE.fullmatch(post_id):
        raise NotFound("no such post")
    return post_id


def _limit(request: web.Request, default: int) -> int:
    raw = request.query.get("limit", "")
    if not raw:
        return default
    if not raw.isdigit():
        raise InvalidPayload("limit: a whole number", field="limit")
    return int(raw)


def add_knowledge_routes(routes: StaffRoutes) -> None:
    _add_answer_routes(routes)
    _add_bulletin_routes(routes)


def _add_answer_routes(routes: StaffRoutes) -> None:
    knowledge = routes.services.knowledge

    @routes.route("GET", "/api/knowledge", READERS)
    async def search(request: web.Request, session: StaffSession) -> web.StreamResponse:
        q = request.query
        answers = await knowledge.search(q.get("q", ""), q.get("lang") or None,
                                         q.get("category") or None, _limit(request, 20))
        return web.json_response({"ok": True, "answers": answers,
                                  "categories": await knowledge.categories()})

    @routes.route("POST", "/api/knowledge", EDITORS)
    async def create(request: web.Request, session: StaffSession) -> web.StreamResponse:
        answer = await knowledge.create(await json_object(request), session.username)
        return web.json_response({"ok": True, "answer": answer}, status=201)

    @routes.route("GET", "/api/knowledge/{answer_id}", READERS)
    async def get(request: web.Request, session: StaffSession) -> web.StreamResponse:
        return web.json_response({"ok": True,
                                  "answer": await knowledge.get(_answer_id(request))})

    @routes.route("PUT", "/api/knowledge/{answer_id}", EDITORS)
    async def update(request: web.Request, session: StaffSession) -> web.StreamResponse:
        answer_id = _answer_id(request)
        body = await json_object(request)
        answer = await knowledge.update(answer_id, body, session.username, body.get("version"))
        return web.json_response({"ok": True, "answer": answer})

    @routes.route("DELETE", "/api/knowledge/{answer_id}", EDITORS)
    async def delete(request: web.Request, session: StaffSession) -> web.StreamResponse:
        await knowledge.delete(_answer_id(request))
        return web.json_response({"ok": True})

    # Rendering changes nothing, so whoever may read answers may render them; naming an
    # interaction (to fill in its site, queue, visitor and customer) needs access to it.
    @routes.route("POST", "/api/knowledge/{answer_id}/render", READERS)
    async def render(request: web.Request, session: StaffSession) -> web.StreamResponse:
        answer_id = _answer_id(request)
        body = await json_object(request)
        values = body.get("values", {})
        if isinstance(values, dict):
            if "agent_name" not in values:
                values = {**values, "agent_name": session.display_name}  # the one sending
            if body.get("interaction") is not None:
                known = await _interaction_values(routes.services, body["interaction"], session)
                values = {**known, **{k: v for k, v in values.items() if v or k not in known}}
        rendered = await knowledge.render(answer_id, body.get("lang", "zh"), values)
        return web.json_response({"ok": True, **rendered})


async def _interaction_values(services: Services, ix: object, session: StaffSession
                              ) -> dict[str, str]:
    """Variables an interaction fills in, for its agent (or consultant) and supervisors."""
    if not isinstance(ix, str) or not IX_RE.fullmatch(ix):
        raise InvalidPayload("interaction: an interaction id", field="interaction")
    actor = Actor.of_staff(session.username, session.role)
    verdict, live = await services.access.verdict(actor, Action.RENDER_KNOWLEDGE, ix)
    if live is None:
        raise NotFound("no such interaction", interaction=ix)
    if verdict is not Verdict.ALLOWED:
        raise Forbidden("this interaction is not yours")
    site = services.sites.get(live.site)
    queue = live.queue
    try:
        queue = services.queues.get(queue).name if queue else ""
    except NotFound:
        pass
    visitor = live.visitor_name()
    customer = None
    if live.customer:
        customer = await services.backends.db.customers.find_one({"_id": live.customer},
                                                                 {"name": 1})
    values = {"site_name": site.name if site is not None else "", "queue_name": queue,
              "visitor_name": visitor,
              "customer_name": str((customer or {}).get("name") or "")}
    return {k: v for k, v in values.items() if v}


def _add_bulletin_routes(routes: StaffRoutes) -> None:
    bulletin = routes.services.bulletin

    @routes.route("GET", "/api/bulletin", READERS)
    async def board(request: web.Request, session: StaffSession) -> web.StreamResponse:
        return web.json_response({"ok": True,
                                  "posts": await bulletin.list(_limit(request, 50))})

    @routes.route("POST", "/api/bulletin", POSTERS)
    async def post(request: web.Request, session: StaffSession) -> web.StreamResponse:
        body = await json_object(request)
        created = await bulletin.post(session, body.get("text"),
                                      expires_ms=body.get("expires_ms"),
                                      pinned=body.get("pinned", False))
        return web.json_response({"ok": True, "post": created}, status=201)

    @routes.route("POST", "/api/bulletin/{post_id}/pin", MODERATORS)
    async def pin(request: web.Request, session: StaffSession) -> web.StreamResponse:
        post_id = _post_id(request)
        body = await json_object(request)
        pinned = await bulletin.pin(post_id, body.get("pinned"), session)
        return web.json_response({"ok": True, "post": pinned})

    @routes.route("DELETE", "/api/bulletin/{post_id}", POSTERS)
    async def delete(request: web.Request, session: StaffSession) -> web.StreamResponse:
        await bulletin.delete(_post_id(request), session)
        return web.json_response({"ok": True})
