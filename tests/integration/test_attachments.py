"""Attachments: sniffing, size cap, storage, expiry, and the visitor and staff HTTP routes."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from PIL import Image
from pymongo.asynchronous.database import AsyncDatabase

from engage.chat.attachments import AttachmentStore, safe_name, sniff
from engage.errors import NotFound, PayloadTooLarge, UnsupportedType
from engage.infra.backends import Document
from engage.infra.quota import Quotas
from engage.tasks import TaskSet
from tests.conftest import SITE_KEY, LiveNode, login

IX = "ix0000000042"


def image(kind: str) -> bytes:
    """A real (tiny) image: the store decodes what it accepts."""
    out = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(out, kind)
    return out.getvalue()


PNG, JPEG, GIF, WEBP = image("PNG"), image("JPEG"), image("GIF"), image("WEBP")
PDF = (b"%PDF-1.7\n1 0 obj <</Type/Catalog/Pages 2 0 R/OpenAction [3 0 R /Fit]>> endobj\n"
       b"2 0 obj <</Type/Pages/Kids [3 0 R]/Count 1>> endobj\n"
       b"3 0 obj <</Type/Page/Parent 2 0 R/MediaBox [0 0 612 792]>> endobj\n"
       b"trailer <</Root 1 0 R>>\n%%EOF\n")
HTML = b"<html><script>alert(1)</script></html>"
MB = 1024 * 1024


@pytest.fixture
async def store(db: AsyncDatabase[Document], tmp_path: Path, tasks: TaskSet,
                redis: aioredis.Redis) -> AttachmentStore:
    attachments = AttachmentStore(db, tmp_path / "att", max_bytes=MB, retention_days=90,
                                  tasks=tasks, quotas=Quotas(redis))
    await attachments.ensure_indexes()
    return attachments


@pytest.mark.parametrize(("data", "kind"), [(PNG, "image/png"), (JPEG, "image/jpeg"),
                                            (GIF, "image/gif"), (WEBP, "image/webp"),
                                            (PDF, "application/pdf"), (HTML, None),
                                            (b"RIFF\x00\x00\x00\x00WAVE", None), (b"", None)])
def test_content_type_comes_from_the_bytes(data: bytes, kind: str | None) -> None:
    assert sniff(data) == kind


def test_names_lose_their_paths_and_stay_short() -> None:
    assert safe_name("../../etc/passwd.png", "image/png") == "passwd.png"
    assert safe_name("C:\\Users\\ann\\plan.pdf", "application/pdf") == "plan.pdf"
    assert safe_name("a\x00b\r\n.png", "image/png") == "ab.png"
    assert safe_name("..", "image/png") == "attachment.png"
    long = safe_name("x" * 300 + ".jpeg", "image/jpeg")
    assert len(long) == 100 and long.endswith(".jpeg")


async def test_saved_files_live_under_a_date_and_a_generated_id(store: AttachmentStore,
                                                                tmp_path: Path) -> None:
    saved = await store.save(IX, owner="v_ann", filename="../../x/photo.png",
                             declared_type="image/png", data=PNG)
    assert saved["id"].startswith("att_") and saved["name"] == "photo.png"
    assert (saved["content_type"], saved["size"]) == ("image/png", len(PNG))
    meta, path = await store.get(saved["id"])
    assert (meta["interaction"], meta["owner"]) == (IX, "v_ann")
    assert path == tmp_path / "att" / datetime.now(UTC).strftime("%Y-%m-%d") / saved["id"]
    assert path.read_bytes() == PNG
    # Browsers send octet-stream for types they don't know: the content decides then.
    octet = await store.save(IX, owner="v_ann", filename="scan", data=PDF,
                             declared_type="application/octet-stream")
    assert octet["content_type"] == "application/pdf"


async def test_unknown_or_disguised_content_is_refused(store: AttachmentStore) -> None:
    with pytest.raises(UnsupportedType, match="PNG, JPEG, GIF, WebP images and PDF"):
        await store.save(IX, owner="v", filename="a.html", declared_type="text/html", data=HTML)
    with pytest.raises(UnsupportedType, match="says it is image/png but its content is "
                                              "application/pdf"):
        await store.save(IX, owner="v", filename="a.png", declared_type="image/png", data=PDF)
    with pytest.raises(PayloadTooLarge, match="1 MB"):
        await store.save(IX, owner="v", filename="a.png", declared_type="image/png",
                         data=PNG + b"\x00" * MB)


async def test_expiry_removes_files_and_records(store: AttachmentStore) -> None:
    old = await store.save(IX, owner="v", filename="a.png", declared_type="", data=PNG)
    _, path = await store.get(old["id"])
    assert await store.expire() == 0
    assert await store.expire(datetime.now(UTC) + timedelta(days=91)) == 1
    assert not path.exists()
    with pytest.raises(NotFound):
        await store.get(old["id"])
    with pytest.raises(NotFound):
        await store.get("../../etc/passwd")


async def test_expiry_loop_starts_and_stops_cleanly(store: AttachmentStore) -> None:
    await store.start()
    await store.start()
    await store.stop()
    await store.stop()


# -- HTTP ----------------------------------------------------------------------------------
class Visitor:
    def __init__(self, node: LiveNode, http: aiohttp.ClientSession, token: str, vid: str
                 ) -> None:
        self.node, self.http, self.token, self.visitor_id = node, http, token, vid

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def upload(self, ix: str, data: bytes | Any, filename: str = "photo.png",
                     content_type: str = "image/png") -> aiohttp.ClientResponse:
        form = aiohttp.FormData()
        form.add_field("interaction", ix)
        form.add_field("file", data, filename=filename, content_type=content_type)
        return await self.http.post(f"{self.node.url}/api/visitor/attachments", data=form,
                                    headers=self.auth)

    async def download(self, att_id: str) -> aiohttp.ClientResponse:
        return await self.http.get(f"{self.node.url}/api/visitor/attachments/{att_id}",
                                   headers=self.auth)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def new_visitor(node: LiveNode, http: aiohttp.ClientSession) -> Visitor:
    token, vid = node.services.visitor_tokens.issue(SITE_KEY)
    return Visitor(node, http, token, vid)


async def new_interaction(node: LiveNode, visitor: Visitor) -> str:
    await node.services.queues.save({"_id": "chat_q", "required_skills": {"nobody": 1}})
    created = await node.services.acd.enqueue("chat_q", "chat", visitor=visitor.visitor_id,
                                              site=SITE_KEY)
    return str(created["interaction"])


async def test_visitor_uploads_and_downloads_own_attachment(node: LiveNode,
                                                            http: aiohttp.ClientSession) -> None:
    ann = await new_visitor(node, http)
    ix = await new_interaction(node, ann)
    response = await ann.upload(ix, PNG, filename="../plan.png")
    body = await response.json()
    assert response.status == 200, body
    attachment = body["attachment"]
    assert (attachment["name"], attachment["content_type"]) == ("plan.png", "image/png")
    assert "Access-Control-Allow-Origin" not in response.headers

    response = await ann.download(attachment["id"])
    assert response.status == 200
    assert await response.read() == PNG
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response.headers["Content-Disposition"].startswith('inline; filename="plan.png"')
    assert response.headers["Cache-Control"] == "private, max-age=300"

    pdf = (await (await ann.upload(ix, PDF, "a.pdf", "application/pdf")).json())["attachment"]
    response = await ann.download(pdf["id"])
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Type"] == "application/pdf"


async def test_others_and_strangers_are_refused(node: LiveNode,
                                                http: aiohttp.ClientSession) -> None:
    ann, bob = await new_visitor(node, http), await new_visitor(node, http)
    ix = await new_interaction(node, ann)
    att = (await (await ann.upload(ix, PNG)).json())["attachment"]
    for response in (await bob.upload(ix, PNG), await bob.download(att["id"]),
                     await bob.upload("ix9999999999", PNG), await ann.upload("ix9999999999", PNG),
                     await ann.download("att_doesnotexist1")):
        assert response.status == 403
        assert (await response.json())["code"] == "forbidden"
    response = await http.get(f"{node.url}/api/visitor/attachments/{att['id']}")
    assert response.status == 401
    response = await http.get(f"{node.url}/api/visitor/attachments/{att['id']}",
                              headers={"Authorization": "Bearer forged"})
    assert response.status == 401


async def test_oversize_and_wrong_types_get_json_errors(node: LiveNode,
                                                        http: aiohttp.ClientSession) -> None:
    ann = await new_visitor(node, http)
    ix = await new_interaction(node, ann)
    big = PNG + b"\x00" * (5 * MB)
    response = await ann.upload(ix, io.BytesIO(big))  # aiohttp warns on bytes this large
    body = await response.json()
    assert response.status == 413 and body["ok"] is False and body["code"] == "too_large"
    assert "5 MB" in body["message"]

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the server must stop reading at the limit by itself.
        for offset in range(0, len(big), 256 * 1024):
            yield big[offset:offset + 256 * 1024]

    response = await ann.upload(ix, chunks())
    body = await response.json()
    assert response.status == 413 and body["code"] == "too_large", body

    response = await ann.upload(ix, HTML, "page.png", "image/png")
    assert response.status == 415 and (await response.json())["code"] == "unsupported_type"
    response = await ann.upload(ix, PDF, "a.png", "image/png")
    assert response.status == 415
    response = await http.post(f"{node.url}/api/visitor/attachments", json={"x": 1},
                               headers=ann.auth)
    assert response.status == 400


async def test_transcript_download_and_the_fallback_after_the_hash_expired(
        node: LiveNode, http: aiohttp.ClientSession) -> None:
    ann, bob = await new_visitor(node, http), await new_visitor(node, http)
    ix = await new_interaction(node, ann)
    chat = node.services.chat
    await chat.open(ix, visitor=ann.visitor_id, site=SITE_KEY, customer="")
    await chat.send(ix, sender="visitor", name="Ann", client_id=str(uuid.uuid4()),
                    text="<img src=x onerror=alert(1)>")
    url = f"{node.url}/api/visitor/transcript"
    response = await http.post(url, json={"interaction": ix}, headers=ann.auth)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="transcript-{ix}.txt"'
    assert "Visitor Ann: <img src=x onerror=alert(1)>" in await response.text()
    response = await http.post(url, json={"interaction": ix}, headers=bob.auth)
    assert response.status == 403

    att = (await (await ann.upload(ix, GIF, "a.gif", "image/gif")).json())["attachment"]
    await node.services.backends.redis.delete(node.services.acd.store.keys.interaction(ix))
    assert (await ann.download(att["id"])).status == 200
    assert (await bob.download(att["id"])).status == 403
    response = await http.post(url, json={"interaction": ix}, headers=ann.auth)
    assert response.status == 200


async def test_staff_read_attachments_of_their_conversations(
        node: LiveNode, http: aiohttp.ClientSession) -> None:
    ann = await new_visitor(node, http)
    ix = await new_interaction(node, ann)
    att = (await (await ann.upload(ix, JPEG, "p.jpg", "image/jpeg")).json())["attachment"]

    async def staff_get(username: str, path: str) -> aiohttp.ClientResponse:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as staff:
            assert (await login(staff, node.url, username)).status == 200
            response = await staff.get(node.url + path)
            await response.read()
            return response

    file_path, transcript = f"/api/attachments/{att['id']}", f"/api/interactions/{ix}/transcript"
    for path in (file_path, transcript):
        assert (await staff_get("supervisor", path)).status == 200
        assert (await staff_get("admin", path)).status == 200
        assert (await staff_get("agent", path)).status == 404
        assert (await staff_get("marketer", path)).status == 403
    response = await staff_get("supervisor", file_path)
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (await staff_get("supervisor", "/api/attachments/att_doesnotexist1")).status == 404

    await node.services.chat.send(ix, sender="agent", name="Lin", username="agent",
                                  client_id=str(uuid.uuid4()), text="hello")
    assert (await staff_get("agent", file_path)).status == 200
    response = await staff_get("agent", transcript)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
