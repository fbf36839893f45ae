"""Outgoing mail (chat transcripts): an outbox in MongoDB, sent over SMTP when configured."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]


class MailOutbox:
    def __init__(self, db: AsyncDatabase[Document], smtp_url: str, mail_from: str) -> None:
        self._db = db
        self.smtp_url = smtp_url
        self.mail_from = mail_from

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
