"""What an anonymous visitor may upload, through the real route: content that decodes as
what it claims, inert PDFs, open conversations only, quotas and a rate."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest

from engage.chat.attachments import AttachmentQuota
from engage.infra.shared_rate import Rate
from tests.conftest import LiveNode
from tests.integration.test_attachments import (
    GIF,
    JPEG,
    PDF,
    PNG,
    WEBP,
    new_interaction,
    new_visitor,
)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header announcing ``width`` x ``height`` pixels over a few bytes of data
    (a decompression bomb's shape)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b""))


def pdf_with(body: bytes) -> bytes:
    return b"%PDF-1.7\n" + body + b"\ntrailer <</Root 1 0 R>>\n%%EOF\n"


def object_stream(text: bytes) -> bytes:
    packed = zlib.compress(text)
    return (b"5 0 obj <</Type/ObjStm/N 1/First 4/Filter/FlateDecode/Length "
            + str(len(packed)).encode() + b">>stream\n" + packed + b"\nendstream\nendobj")


# The bytes start right (magic numbers) but are not what they claim to be.
FORGED = [
    pytest.param(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "photo.png", "image/png", id="png-magic"),
    pytest.param(JPEG[:40], "photo.jpg", "image/jpeg", id="jpeg-truncated"),
    pytest.param(b"GIF89a<script>alert(1)</script>", "a.gif", "image/gif", id="gif-html"),
    pytest.param(b"RIFF\x40\x00\x00\x00WEBPVP8 " + b"\x00" * 64, "a.webp", "image/webp",
                 id="webp-magic"),
    pytest.param(png_claiming(60_000, 60_000), "bomb.png", "image/png", id="png-bomb"),
    pytest.param(b"%PDF-1.7\n" + b"\x00" * 64, "a.pdf", "application/pdf", id="pdf-no-eof"),
]

# Inert on the outside, active inside: each is a way documents run code or carry payloads.
ACTIVE_PDFS = [
    pytest.param(pdf_with(b"1 0 obj <</Type/Catalog/OpenAction <</S/JavaScript/JS"
                          b"(app.alert(1))>>>> endobj"), id="openaction-js"),
    pytest.param(pdf_with(b"1 0 obj <</Type/Catalog/AA <</O <</S/J#61vaScript/J#53"
                          b"(app.alert(1))>>>>>> endobj"), id="hex-escaped-names"),
    pytest.param(pdf_with(b"1 0 obj <</Type/Catalog/OpenAction <</S/Launch/F(cmd.exe)>>>> "
                          b"endobj"), id="launch"),
    pytest.param(pdf_with(b"1 0 obj <</Type/Catalog/Names <</EmbeddedFiles 2 0 R>>>> endobj"),
                 id="embedded-file"),
    pytest.param(pdf_with(b"1 0 obj <</Type/Catalog>> endobj\n" + object_stream(
        b"6 0 <</S/JavaScript/JS(app.alert(1))>>")), id="inside-object-stream"),
    pytest.param(pdf_with(b"1 0 obj <</Type/Catalog>> endobj\n9 0 obj <</Filter/Standard"
                          b"/V 2>> endobj\ntrailer <</Encrypt 9 0 R>>"), id="encrypted"),
]


@pytest.mark.parametrize(("data", "filename", "content_type"), FORGED)
async def test_files_must_decode_as_what_they_claim(
        node: LiveNode, http: aiohttp.ClientSession, data: bytes, filename: str,
        content_type: str) -> None:
    ann = await new_visitor(node, http)
    ix = await new_interaction(node, ann)
    response = await ann.upload(ix, data, filename, content_type)
    body = await response.json()
    assert response.status == 415 and body["code"] == "unsupported_type", body
    assert await node.services.backends.db.attachments.count_documents({}) == 0


@pytest.mark.parametrize("data", ACTIVE_PDFS)
async def test_pdfs_with_active_content_are_refused(
        node: LiveNode, http: aiohttp.ClientSession, data: bytes) -> None:
    ann = await new_visitor(node, http)
    ix = await new_interaction(node, ann)
    response = await ann.upload(ix, data, "invoice.pdf", "application/pdf")
    body = await response.json()
    assert response.status == 415 and body["code"] == "unsafe_content", body


async def test_real_images_and_inert_pdfs_pass_and_pdfs_are_only_downloads(
        node: LiveNode, http: aiohttp.ClientSession) -> None:
    ann = await new_visitor(node, http)
    ix = await new_interaction(node, ann)
    for data, name, kind in ((PNG, "a.png", "image/png"), (JPEG, "a.jpg", "image/jpeg"),
                             (GIF, "a.gif", "image/gif"), (WEBP, "a.webp", "image/webp"),
                             (PDF, "a.pdf", "application/pdf")):
        response = await ann.upload(ix, data, name, kind)
        assert response.status == 200, await response.text()
    pdf = (await response.json())["attachment"]
    response = await ann.download(pdf["id"])
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"


async def test_uploads_stop_when_the_conversation_ends(node: LiveNode,
                                                       http: aiohttp.ClientSession) -> None:
    ann = await new_visitor(node, http)
    ix = await new_interaction(node, ann)
    assert (await ann.upload(ix, PNG)).status == 200
    await node.services.acd.abandon(ix)
    response = await ann.upload(ix, PNG)
    body = await response.json()
    assert response.status == 403 and body["code"] == "forbidden", body
    assert body["message"] == "this conversation has ended"
    # Reading what was shared stays allowed.
    meta = await node.services.backends.db.attachments.find_one({"interaction": ix})
    assert meta is not None and (await ann.download(meta["_id"])).status == 200


async def test_conversation_and_daily_visitor_quotas(node: LiveNode,
                                                     http: aiohttp.ClientSession) -> None:
    node.services.attachments.quota = AttachmentQuota(
        conversation_files=2, conversation_bytes=10**6, visitor_day_files=3,
        visitor_day_bytes=10**6)
    ann = await new_visitor(node, http)
    first = await new_interaction(node, ann)
    assert (await ann.upload(first, PNG)).status == 200
    # A refused file uses no quota.
    assert (await ann.upload(first, b"\x89PNG\r\n\x1a\n" + b"\x00" * 9)).status == 415
    assert (await ann.upload(first, JPEG, "b.jpg", "image/jpeg")).status == 200
    response = await ann.upload(first, GIF, "c.gif", "image/gif")
    body = await response.json()
    assert response.status == 413 and body["code"] == "quota_exceeded", body
    assert body["scope"] == "conversation"

    await node.services.acd.abandon(first)
    second = await new_interaction(node, ann)
    assert (await ann.upload(second, GIF, "c.gif", "image/gif")).status == 200
    response = await ann.upload(second, PNG)
    body = await response.json()
    assert response.status == 413 and body["scope"] == "visitor" and body["retry_after"] > 0

    # Bytes count as well as files.
    node.services.attachments.quota = AttachmentQuota(
        conversation_bytes=len(PNG) + len(JPEG) + len(PDF) - 1)
    bob = await new_visitor(node, http)
    ix = await new_interaction(node, bob)
    assert (await bob.upload(ix, PNG)).status == 200
    assert (await bob.upload(ix, JPEG, "b.jpg", "image/jpeg")).status == 200
    response = await bob.upload(ix, PDF, "c.pdf", "application/pdf")
    assert response.status == 413 and (await response.json())["scope"] == "conversation"
    assert await node.services.backends.db.attachments.count_documents({}) == 5


async def test_upload_attempts_are_rate_limited_per_visitor(node: LiveNode,
                                                            http: aiohttp.ClientSession) -> None:
    quota = node.services.visitor_quota
    quota.limits = replace(quota.limits, upload=Rate(3, 60))
    ann, bob = await new_visitor(node, http), await new_visitor(node, http)
    ix = await new_interaction(node, ann)
    statuses = [(await ann.upload(ix, data)).status for data in (PNG, b"junk", PNG)]
    assert statuses == [200, 415, 200]
    response = await ann.upload(ix, PNG)
    body = await response.json()
    assert response.status == 429 and body["code"] == "rate_limited", body
    assert 0 < body["retry_after"] <= 60
    other = await new_interaction(node, bob)
    assert (await bob.upload(other, PNG)).status == 200
