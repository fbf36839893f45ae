"""Outgoing mail (chat transcripts): an outbox in MongoDB, sent over SMTP when configured."""

from __future__ import annotations

import asyncio
import logging
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from analytics.patterns import EMAIL
from engage.errors import EngageError, InvalidPayload
from engage.infra.clock import now_ms
from engage.tasks import Backoff, TaskSet

log = logging.getLogger("engage.infra.mailer")

Document = dict[str, Any]

COLLECTION = "mail_outbox"
MAX_ATTEMPTS = 5
BATCH = 50
POLL_SECONDS = 30.0
# A mail claimed by a node that died mid-send goes back to the queue after this long.
STALE_SENDING_MS = 10 * 60 * 1000
SMTP_TIMEOUT = 30.0
# Queued mail beyond this is refused (``outbox_full``): without SMTP, or with a server that
# refuses, the outbox would otherwise grow as fast as anyone can ask for mail.
MAX_PENDING = 1000


class OutboxFull(EngageError):
    """Too much mail is waiting to be sent; try again later."""

    code = "outbox_full"
    http_status = 503
    retriable = True


def check_address(address: object) -> str:
    """A deliverable-looking address (no display names, no header tricks)."""
    if not isinstance(address, str) or not EMAIL.fullmatch(address):
        raise InvalidPayload("email: an address like name@example.com")
    return address


def backoff_ms(attempts: int) -> int:
    """Wait before the next try: 1, 2, 4, 8 minutes."""
    return int(60_000 * 2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to send, parsed from ``smtp://`` or ``smtps://[user:password@]host[:port]``."""

    host: str
    port: int
    implicit_tls: bool
    username: str
    password: str

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("the SMTP URL must look like smtp://[user:password@]host[:port]")
        implicit = parts.scheme == "smtps"
        return cls(host=parts.hostname, port=parts.port or (465 if implicit else 25),
                   implicit_tls=implicit, username=unquote(parts.username or ""),
                   password=unquote(parts.password or ""))


def deliver(target: SmtpTarget, messages: list[EmailMessage]) -> list[str | None]:
    """Send over one connection (blocking; run it in a thread). Per message: None or the
    error. smtp:// upgrades with STARTTLS whenever the server offers it."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if target.implicit_tls:
        client = smtplib.SMTP_SSL(target.host, target.port, timeout=SMTP_TIMEOUT,
                                  context=context)
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT)
    with client:
        client.ehlo()
        if not target.implicit_tls and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        if target.username:
            client.login(target.username, target.password)
        results: list[str | None] = []
        for message in messages:
            try:
                client.send_message(message)
                results.append(None)
            except smtplib.SMTPException as exc:
                results.append(f"{type(exc).__name__}: {exc}"[:500])
        return results


class MailOutbox:
    """Mail is queued in ``mail_outbox`` first; without ``smtp_url`` it stays queued (an
    operator can send it later by configuring SMTP), with it a background loop sends it."""

    def __init__(self, db: AsyncDatabase[Document], smtp_url: str, mail_from: str, *,
                 tasks: TaskSet) -> None:
        self._db = db
        self._col = db[COLLECTION]
        self.smtp_url = smtp_url
        self.mail_from = mail_from
        self._target = SmtpTarget.parse(smtp_url) if smtp_url else None
        self._tasks = tasks
        self.max_pending = MAX_PENDING
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("status", ASCENDING), ("next_ms", ASCENDING)])
        await self._col.create_index([("ref", ASCENDING)])
        # The pending count asks by status alone (nx-27017 uses a compound index only for
        # its full key).
        await self._col.create_index([("status", ASCENDING)])

    async def start(self) -> None:
        await self.ensure_indexes()
        if self._target is not None and self._task is None:
            # enqueue() sets _wake, so a new mail goes out at once, not at the next poll.
            self._task = self._tasks.every(POLL_SECONDS, self.send_pending, name="mail-outbox",
                                           wake=self._wake, backoff=Backoff(1.0, 300.0))

    async def stop(self) -> None:
        task, self._task = self._task, None
        await self._tasks.cancel(task)

    async def enqueue(self, to: str, subject: str, body: str, *, kind: str, ref: str) -> str:
        """Queue one plain-text mail; returns its id."""
        check_address(to)
        if not isinstance(body, str) or len(body) > 2_000_000:
            raise InvalidPayload("body: text up to 2 MB")
        if await self.pending(self.max_pending) >= self.max_pending:
            log.warning("mail refused: the outbox is full", extra={"kind": kind, "ref": ref})
            raise OutboxFull()
        mail_id = "mail_" + secrets.token_urlsafe(12)
        at = now_ms()
        await self._col.insert_one({
            "_id": mail_id, "to": to, "subject": " ".join(subject.split())[:200], "body": body,
            "kind": kind, "ref": ref, "status": "queued", "attempts": 0, "next_ms": at,
            "created_at": datetime.fromtimestamp(at / 1000, UTC), "created_ms": at})
        self._wake.set()
        return mail_id

    async def pending(self, up_to: int) -> int:
        """How many mails wait to be sent, counted up to ``up_to`` (a bounded read: a full
        count scans the collection)."""
        if up_to <= 0:
            return 0  # limit(0) would mean no limit
        found = self._col.find({"status": "queued"}, projection={"_id": 1}).limit(up_to)
        return len([doc async for doc in found])

    async def get(self, mail_id: str) -> Document | None:
        return await self._col.find_one({"_id": mail_id})

    async def send_pending(self) -> int:
        """Send every mail that is due now; returns how many were sent."""
        if self._target is None:
            return 0
        claimed = await self._claim()
        if not claimed:
            return 0
        messages = [self._message(doc) for doc in claimed]
        try:
            results = await asyncio.to_thread(deliver, self._target, messages)
        except (OSError, smtplib.SMTPException) as exc:
            # No connection at all (refused, TLS, login): every claimed mail failed this try.
            results = [f"{type(exc).__name__}: {exc}"[:500]] * len(claimed)
        sent = 0
        for doc, error in zip(claimed, results, strict=True):
            sent += await self._settle(doc, error)
        return sent

    async def _claim(self) -> list[Document]:
        at = now_ms()
        candidates = [doc async for doc in self._col.find(
            {"status": "queued", "next_ms": {"$lte": at}},
            projection={"attempts": 1, "status": 1}).limit(BATCH)]
        candidates += [doc async for doc in self._col.find(
            {"status": "sending", "next_ms": {"$lte": at - STALE_SENDING_MS}},
            projection={"attempts": 1, "status": 1}).limit(BATCH)]
        claimed = []
        for doc in candidates:
            # Conditional on what we read: of two nodes, one claims each mail.
            won = await self._col.find_one_and_update(
                {"_id": doc["_id"], "status": doc["status"], "attempts": doc["attempts"]},
                {"$set": {"status": "sending", "next_ms": at}, "$inc": {"attempts": 1}},
                return_document=ReturnDocument.AFTER)
            if won is not None:
                claimed.append(won)
        return claimed

    def _message(self, doc: Document) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = doc["to"]
        message["Subject"] = doc["subject"]
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(idstring=str(doc["_id"]))
        message.set_content(doc["body"], charset="utf-8")
        return message

    async def _settle(self, doc: Document, error: str | None) -> int:
        at = now_ms()
        if error is None:
            update: Document = {"status": "sent", "sent_ms": at}
        elif int(doc["attempts"]) >= MAX_ATTEMPTS:
            update = {"status": "failed", "last_error": error}
        else:
            update = {"status": "queued", "last_error": error,
                      "next_ms": at + backoff_ms(int(doc["attempts"]))}
        if error is not None:
            log.warning("mail not sent", extra={"mail": doc["_id"], "attempts": doc["attempts"],
                                                "error": error})
        # Update timestamps are epoch ms: nx-27017 turns a datetime in $set into a string.
        await self._col.update_one({"_id": doc["_id"], "status": "sending"}, {"$set": update})
        return 1 if error is None else 0
