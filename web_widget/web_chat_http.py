"""Visitor chat over HTTP (bearer visitor token): attachment upload/download, transcript."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from aiohttp import BodyPartReader, hdrs, web

from engage.acd.access import Action, Actor
from engage.chat.attachments import download_headers
from engage.errors import EngageError, Forbidden, InvalidPayload, NotAuthenticated, NotFound
from engage.infra.json_body import json_object
from engage.models import VisitorIdentity
from web_widget.deps import WidgetDeps

NOT_YOURS = "This conversation or attachment is not available to you."
CHUNK = 64 * 1024
# Room for the multipart envelope and the other fields around the file itself.
ENVELOPE_BYTES = 16 * 1024
MAX_PARTS = 4


async def bearer_identity(request: web.Request, services: WidgetDeps) -> VisitorIdentity:
    scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Send the visitor token as 'Authorization: Bearer <token>'.")
    return await services.visitor_auth.verify(token.strip())


async def require_own(services: WidgetDeps, identity: VisitorIdentity, ix: object,
                      action: Action = Action.READ) -> str:
    """``ix`` when the visitor may do ``action`` to it; Forbidden alike for unknown and
    others' interactions, so the answer does not tell which ids exist."""
    if not isinstance(ix, str):
        raise Forbidden(NOT_YOURS)
    actor = Actor.of_visitor(identity.visitor_id, identity.customer_id, identity.site_key)
    await services.access.require(actor, action, ix, not_yours=NOT_YOURS)
    return ix


async def read_limited(part: BodyPartReader, limit: int,
                       too_large: Callable[[], EngageError]) -> bytes:
    """The part's bytes, refused as soon as they pass ``limit`` (never buffers more)."""
    buffer = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        buffer += chunk
        if len(buffer) > limit:
            raise too_large()
    return bytes(buffer)


def add_chat_http_routes(table: web.RouteTableDef, services: WidgetDeps) -> None:
    store = services.attachments

    def field_too_large() -> EngageError:
        return InvalidPayload("interaction: an interaction id")

    @table.post("/api/visitor/attachments")
    async def upload(request: web.Request) -> web.StreamResponse:
        """Multipart ``interaction`` + ``file``; same origin only (the widget's iframe)."""
        identity = await bearer_identity(request, services)
        # Counted before the body is read: reading and decoding it is the cost to limit.
        await services.visitor_quota.upload(identity.visitor_id)
        if request.content_length is not None \
                and request.content_length > store.max_bytes + ENVELOPE_BYTES:
            raise store.too_large()
        if request.content_type != "multipart/form-data":
            raise InvalidPayload("send multipart/form-data with 'interaction' and 'file'")
        reader = await request.multipart()
        ix: str | None = None
        data: bytes | None = None
        filename = declared = ""
        for _ in range(MAX_PARTS):
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise InvalidPayload("nested multipart is not accepted")
            if part.name == "interaction" and ix is None:
                raw = await read_limited(part, 64, field_too_large)
                # Checked before the file is read when the form sends it first (browsers do).
                ix = await require_own(services, identity, raw.decode("utf-8", "replace"),
                                       Action.ATTACH)
            elif part.name == "file" and data is None:
                # Form encoders percent-encode quotes and line breaks in the file name (the
                # HTML spec; aiohttp more); the store then keeps only the base name.
                filename = unquote(part.filename or "")
                declared = part.headers.get(hdrs.CONTENT_TYPE, "")
                data = await read_limited(part, store.max_bytes, store.too_large)
            else:
                raise InvalidPayload(f"unexpected form field {str(part.name)[:40]!r}")
        if ix is None or data is None:
            raise InvalidPayload("send multipart/form-data with 'interaction' and 'file'")
        attachment = await store.save(ix, owner=identity.visitor_id, filename=filename,
                                      declared_type=declared, data=data)
        return web.json_response({"ok": True, "attachment": attachment})

    @table.get("/api/visitor/attachments/{att_id}")
    async def download(request: web.Request) -> web.StreamResponse:
        identity = await bearer_identity(request, services)
        try:
            meta, path = await store.get(request.match_info["att_id"])
        except NotFound:
            raise Forbidden(NOT_YOURS) from None
        await require_own(services, identity, meta["interaction"])
        return web.FileResponse(path, headers=download_headers(meta))

    @table.post("/api/visitor/transcript")
    async def transcript(request: web.Request) -> web.StreamResponse:
        identity = await bearer_identity(request, services)
        body = json_object(await request.read())
        ix = await require_own(services, identity, body.get("interaction"))
        return transcript_response(ix, await services.chat.transcript_text(ix))


def transcript_response(ix: str, text: str) -> web.Response:
    return web.Response(text=text, content_type="text/plain", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="transcript-{ix}.txt"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
