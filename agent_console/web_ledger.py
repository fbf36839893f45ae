"""The customer ledger over HTTP: search, the whole ledger, versioned edits, revisions, notes."""

from __future__ import annotations

from aiohttp import web

from agent_console.web_auth import StaffRoutes, json_object
from engage.customers.ledger import SEARCH_LIMIT_MAX
from engage.customers.ledger_policy import EDITABLE, check_version, view_of
from engage.errors import InvalidPayload
from engage.models import ALL_ROLES, Role, StaffSession

# Every role reads (marketers a reduced view) and may PATCH; which fields each role may change
# is decided per field by engage.customers.ledger_policy.
READERS = ALL_ROLES
EDITORS = frozenset(role for role in Role if EDITABLE[role])
HISTORY_READERS = frozenset(role for role in Role if view_of(role).revisions)
NOTE_WRITERS = frozenset(role for role in Role if view_of(role).notes)


def _limit(raw: str | None) -> int:
    if raw is None:
        return 20
    if not raw.isdigit() or not 1 <= int(raw) <= SEARCH_LIMIT_MAX:
        raise InvalidPayload(f"limit: a whole number from 1 to {SEARCH_LIMIT_MAX}",
                             field="limit")
    return int(raw)


def add_ledger_routes(routes: StaffRoutes) -> None:
    ledger = routes.services.ledger

    @routes.route("GET", "/api/customers", READERS)
    async def search(request: web.Request, session: StaffSession) -> web.StreamResponse:
        rows = await ledger.search(request.query.get("q", ""), _limit(request.query.get("limit")),
                                   role=session.role)
        return web.json_response({"ok": True, "customers": rows})

    @routes.route("GET", "/api/customers/{customer_id}/ledger", READERS)
    async def read(request: web.Request, session: StaffSession) -> web.StreamResponse:
        body = await ledger.ledger(request.match_info["customer_id"], session.role)
        return web.json_response({"ok": True, "ledger": body})

    @routes.route("PATCH", "/api/customers/{customer_id}", EDITORS)
    async def edit(request: web.Request, session: StaffSession) -> web.StreamResponse:
        body = await json_object(request)
        changes = body.get("changes")
        if not isinstance(changes, dict):
            raise InvalidPayload("changes: an object of field -> new value", field="changes")
        # A stale version comes back as 409 {current_version, changes_since} (the middleware
        # sends the Conflict's details).
        updated = await ledger.update(
            request.match_info["customer_id"], changes, version=check_version(body.get("version")),
            by=session.username, role=session.role)
        return web.json_response({"ok": True, "ledger": updated})

    @routes.route("GET", "/api/customers/{customer_id}/revisions", HISTORY_READERS)
    async def revisions(request: web.Request, session: StaffSession) -> web.StreamResponse:
        rows = await ledger.revisions(request.match_info["customer_id"])
        return web.json_response({"ok": True, "revisions": rows})

    @routes.route("POST", "/api/customers/{customer_id}/notes", NOTE_WRITERS)
    async def add_note(request: web.Request, session: StaffSession) -> web.StreamResponse:
        text = (await json_object(request)).get("text")
        if not isinstance(text, str):
            raise InvalidPayload("text: the note", field="text")
        note = await ledger.add_note(request.match_info["customer_id"], text, session.username)
        return web.json_response({"ok": True, "note": note}, status=201)
