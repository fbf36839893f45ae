"""Shared staff knowledge over HTTP: the canned-answer set (search, render, edit) and the board."""

from __future__ import annotations

from aiohttp import web

from agent_console.web_auth import StaffRoutes, json_object
from engage.bulletin import POST_ID_RE
from engage.errors import InvalidPayload, NotFound
from engage.knowledge import ANSWER_ID_RE
from engage.models import Role, StaffSession

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

    # Rendering changes nothing, so whoever may read answers may render them.
    @routes.route("POST", "/api/knowledge/{answer_id}/render", READERS)
    async def render(request: web.Request, session: StaffSession) -> web.StreamResponse:
        answer_id = _answer_id(request)
        body = await json_object(request)
        values = body.get("values", {})
        if isinstance(values, dict) and "agent_name" not in values:
            values = {**values, "agent_name": session.display_name}  # the one asking is sending
        rendered = await knowledge.render(answer_id, body.get("lang", "zh"), values)
        return web.json_response({"ok": True, **rendered})


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
