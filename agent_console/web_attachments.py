"""Staff reading of chat attachments and transcripts: the interaction's agents, or supervisors."""

from __future__ import annotations

from aiohttp import web

from agent_console.web_auth import StaffRoutes
from engage.acd.access import Action, Actor
from engage.acd.interaction import IX_RE
from engage.chat.attachments import download_headers
from engage.errors import NotFound
from engage.models import Role, StaffSession
from engage.services import Services

READERS = {Role.AGENT, Role.SUPERVISOR, Role.ADMIN}
# Object-level refusals are 404, like an unknown id: the role may use the route (a 403
# means "your role cannot"), and an agent learns nothing about others' conversations.
NOT_YOURS = "No such conversation among yours."


async def require_reader(services: Services, session: StaffSession, ix: str) -> None:
    """The access policy's "read" (supervisors and admins any conversation, an agent one
    they hold or held); refusals are 404."""
    await services.access.require(Actor.of_staff(session.username, session.role),
                                  Action.READ, ix, hide=True)


def add_attachment_routes(routes: StaffRoutes) -> None:
    services = routes.services

    @routes.route("GET", "/api/attachments/{att_id}", READERS)
    async def download(request: web.Request, session: StaffSession) -> web.StreamResponse:
        meta, path = await services.attachments.get(request.match_info["att_id"])
        await require_reader(services, session, str(meta["interaction"]))
        return web.FileResponse(path, headers=download_headers(meta))

    @routes.route("GET", "/api/interactions/{ix}/transcript", READERS)
    async def transcript(request: web.Request, session: StaffSession) -> web.StreamResponse:
        ix = request.match_info["ix"]
        if not IX_RE.fullmatch(ix):
            raise NotFound(NOT_YOURS)
        await require_reader(services, session, ix)
        text = await services.chat.transcript_text(ix)
        return web.Response(text=text, content_type="text/plain", charset="utf-8", headers={
            "Content-Disposition": f'attachment; filename="transcript-{ix}.txt"',
            "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
