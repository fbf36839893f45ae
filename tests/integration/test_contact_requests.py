"""Messages and callback requests visitors leave: stored as they came, kept for the
retention period, then removed (TTL index on MongoDB, purge on nx-27017)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from engage.infra.backends import Document
from engage.visits.contact_requests import (
    CALLBACKS,
    MESSAGES,
    ContactRequests,
    Requester,
)

WHO = Requester(site="site_a", visitor="v1", customer=None, queue="help")


async def test_requests_are_stored_with_their_expiry(db: AsyncDatabase[Document]) -> None:
    requests = ContactRequests(db, retention_days=30)
    message = await requests.leave_message(WHO, name="Li", email="li@example.com", phone=None,
                                           text="<b>call</b> me")
    callback = await requests.request_callback(WHO, name="Li", phone="+8613800138000")
    stored = await db[MESSAGES].find_one({"_id": message})
    assert stored is not None and message.startswith("msg_")
    assert stored["text"] == "<b>call</b> me" and stored["status"] == "new"
    assert stored["queue"] == "help" and stored["site"] == "site_a"
    kept = stored["expires_at"] - datetime.fromtimestamp(stored["created_at"], UTC)
    assert abs(kept - timedelta(days=30)) < timedelta(seconds=1)
    called = await db[CALLBACKS].find_one({"_id": callback})
    assert called is not None and called["status"] == "requested"


async def test_expired_requests_are_purged(db: AsyncDatabase[Document]) -> None:
    requests = ContactRequests(db, retention_days=30)
    message = await requests.leave_message(WHO, name="Li", email=None, phone="+8613800138000",
                                           text="hello")
    await requests.request_callback(WHO, name="Li", phone="+8613800138000")
    assert await requests.purge_expired(datetime.now(UTC) + timedelta(days=29)) == 0
    assert await db[MESSAGES].find_one({"_id": message}) is not None
    assert await requests.purge_expired(datetime.now(UTC) + timedelta(days=31)) == 2
    assert await db[MESSAGES].find_one({"_id": message}) is None


async def test_the_owner_creates_the_expiry_index(db: AsyncDatabase[Document]) -> None:
    """The db fixture opens the database as a node does: the indexes are there."""
    for name in (MESSAGES, CALLBACKS):
        info = await db[name].index_information()
        expiry = [spec for spec in info.values() if spec["key"] == [("expires_at", 1)]]
        assert expiry and expiry[0].get("expireAfterSeconds") == 0, info
