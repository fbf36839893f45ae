"""Staff access to call recordings: download (supervisors, admins, the call's agents) and lists."""

from __future__ import annotations

from aiohttp import web

from agent_console.web_attachments import READERS
from agent_console.web_auth import StaffRoutes
from engage.acd.access import Action, Actor
from engage.acd.interaction import IX_RE
from engage.calls.recordings import NO_SUCH, download_headers
from engage.errors import NotFound
from engage.models import Role, StaffSession

SUPERVISING = {Role.SUPERVISOR, Role.ADMIN}


def add_recording_routes(routes: StaffRoutes) -> None:
    services = routes.services

    @routes.route("GET", "/api/recordings/{recording_id}", READERS)
    async def download(request: web.Request, session: StaffSession) -> web.StreamResponse:
        doc, path = await services.recordings.get(request.match_info["recording_id"])
        actor = Actor.of_staff(session.username, session.role)
        # The call's agent handled it even if a transfer took the conversation away since.
        await services.access.require(actor, Action.RECORDINGS, str(doc["interaction"]),
                                      hide=True, not_yours=NO_SUCH, former=[doc["agent"]])
        return web.FileResponse(path, headers=download_headers(doc))

    @routes.route("GET", "/api/interactions/{ix}/recordings", SUPERVISING)
    async def listing(request: web.Request, session: StaffSession) -> web.StreamResponse:
        ix = request.match_info["ix"]
        if not IX_RE.fullmatch(ix):
            raise NotFound("No such conversation.")
        recordings = await services.recordings.for_interaction(ix)
        return web.json_response({"interaction": ix, "recordings": recordings},
                                 headers={"Cache-Control": "no-store"})
