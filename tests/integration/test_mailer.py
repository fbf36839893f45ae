"""The mail outbox against a real SMTP server (aiosmtpd, in-process on the test's loop)."""

from __future__ import annotations

import asyncio
import email
import uuid
from collections.abc import AsyncIterator
from email.message import Message
from email.policy import default as default_policy
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiosmtpd.smtp import SMTP, Envelope, Session
from pymongo.asynchronous.database import AsyncDatabase

from engage.chat.store import ChatStore
from engage.chat.transcript_mail import SUBJECT
from engage.errors import InvalidPayload
from engage.infra.backends import Document
from engage.infra.mailer import MAX_ATTEMPTS, MailOutbox, SmtpTarget, check_address
from engage.tasks import TaskSet

IX = "ix0000000042"


class Inbox:
    """The SMTP server's handler: keeps what arrives, or refuses while ``refuse`` is set."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.arrived = asyncio.Event()
        self.refuse = False

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return "451 4.3.0 try again later"
        assert isinstance(envelope.content, bytes)
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        self.arrived.set()
        return "250 OK"


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[Inbox, str]]:
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(inbox, hostname="mail.test", loop=loop),
                                      "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield inbox, f"smtp://127.0.0.1:{port}"
    server.close()
    await server.wait_closed()


@pytest.fixture
async def chat(db: AsyncDatabase[Document], redis: aioredis.Redis) -> ChatStore:
    return ChatStore(db, redis)


def body_of(message: Message) -> str:
    part: Any = message
    return str(part.get_content())


@pytest.mark.parametrize("address", ["a@b", "ann@example", "x\r\nBcc: y@example.com",
                                     "Ann <ann@example.com>", "ann@exa mple.com", "", "@x.com",
                                     "a" * 250 + "@example.com", "ann@-example.com"])
def test_bad_addresses_are_refused(address: str) -> None:
    with pytest.raises(InvalidPayload, match="email"):
        check_address(address)


def test_good_addresses_and_smtp_urls() -> None:
    for address in ("ann@example.com", "ann.lee+chat@mail.example.co.uk", "o'neil@example.ie"):
        assert check_address(address) == address
    target = SmtpTarget.parse("smtps://bot%40x.com:p%3Ass@mail.example.com")
    assert (target.host, target.port, target.implicit_tls) == ("mail.example.com", 465, True)
    assert (target.username, target.password) == ("bot@x.com", "p:ss")
    assert SmtpTarget.parse("smtp://localhost").port == 25


async def test_a_transcript_arrives_by_smtp(db: AsyncDatabase[Document], chat: ChatStore,
                                            smtp: tuple[Inbox, str], tasks: TaskSet) -> None:
    inbox, url = smtp
    outbox = MailOutbox(db, url, "engage@homes.example", tasks=tasks)
    await outbox.ensure_indexes()
    await chat.send(IX, sender="agent", name="Lin", client_id=str(uuid.uuid4()),
                    text="您好, the flat on Elm Street is still available")
    await chat.send(IX, sender="visitor", name="Ann", client_id=str(uuid.uuid4()),
                    text="<b>great</b>")
    # The one sender of transcripts is engage.chat.transcript_mail (with its caps): here the
    # outbox alone, with the same subject and text.
    mail_id = await outbox.enqueue("ann@example.com", SUBJECT, await chat.transcript_text(IX),
                                   kind="transcript", ref=IX)
    stored = await outbox.get(mail_id)
    assert stored is not None and stored["status"] == "queued" and stored["ref"] == IX

    assert await outbox.send_pending() == 1
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "ann@example.com" and message["From"] == "engage@homes.example"
    assert message["Subject"] == "Your chat transcript"
    assert message.get_content_type() == "text/plain"
    body = body_of(message)
    assert body.replace("\r\n", "\n") == await chat.transcript_text(IX)  # SMTP line ends
    assert "Agent Lin: 您好, the flat on Elm Street is still available" in body
    assert "Visitor Ann: <b>great</b>" in body
    stored = await outbox.get(mail_id)
    assert stored is not None and (stored["status"], stored["attempts"]) == ("sent", 1)
    assert await outbox.send_pending() == 0


async def test_without_smtp_mail_stays_queued(db: AsyncDatabase[Document],
                                               tasks: TaskSet) -> None:
    outbox = MailOutbox(db, "", "engage@localhost", tasks=tasks)
    mail_id = await outbox.enqueue("ann@example.com", "Hi", "text", kind="test", ref="r1")
    assert await outbox.send_pending() == 0
    stored = await outbox.get(mail_id)
    assert stored is not None and (stored["status"], stored["attempts"]) == ("queued", 0)
    await outbox.start()  # no loop without SMTP; start/stop stay harmless
    await outbox.stop()


async def test_refused_mail_is_retried_with_backoff_then_fails(
        db: AsyncDatabase[Document], smtp: tuple[Inbox, str], tasks: TaskSet) -> None:
    inbox, url = smtp
    inbox.refuse = True
    outbox = MailOutbox(db, url, "engage@localhost", tasks=tasks)
    mail_id = await outbox.enqueue("ann@example.com", "Hi", "text", kind="test", ref="r1")
    assert await outbox.send_pending() == 0
    stored = await outbox.get(mail_id)
    assert stored is not None
    assert (stored["status"], stored["attempts"]) == ("queued", 1)
    assert "451" in stored["last_error"]
    assert stored["next_ms"] > stored["created_ms"]
    assert await outbox.send_pending() == 0  # not due yet: nothing is tried
    assert (await outbox.get(mail_id) or {})["attempts"] == 1

    for attempt in range(2, MAX_ATTEMPTS + 1):
        # Make the retry due now instead of waiting for the backoff.
        await db.mail_outbox.update_one({"_id": mail_id}, {"$set": {"next_ms": 0}})
        assert await outbox.send_pending() == 0
        stored = await outbox.get(mail_id)
        assert stored is not None and stored["attempts"] == attempt
    assert stored["status"] == "failed"
    await db.mail_outbox.update_one({"_id": mail_id}, {"$set": {"next_ms": 0}})
    assert await outbox.send_pending() == 0
    assert inbox.messages == []


async def test_an_unreachable_server_counts_as_a_failed_attempt(
        db: AsyncDatabase[Document], tasks: TaskSet) -> None:
    closed = MailOutbox(db, "smtp://127.0.0.1:1", "engage@localhost", tasks=tasks)
    mail_id = await closed.enqueue("ann@example.com", "Hi", "text", kind="test", ref="r1")
    assert await closed.send_pending() == 0
    stored = await closed.get(mail_id)
    assert stored is not None and (stored["status"], stored["attempts"]) == ("queued", 1)
    assert "Connection" in stored["last_error"] or "refused" in stored["last_error"]


async def test_two_nodes_send_each_mail_once(db: AsyncDatabase[Document],
                                             smtp: tuple[Inbox, str], tasks: TaskSet) -> None:
    inbox, url = smtp
    first = MailOutbox(db, url, "a@localhost", tasks=tasks)
    second = MailOutbox(db, url, "b@localhost", tasks=tasks)
    for i in range(5):
        await first.enqueue(f"user{i}@example.com", "Hi", f"mail {i}", kind="test", ref=str(i))
    sent = await asyncio.gather(first.send_pending(), second.send_pending())
    assert sum(sent) == 5
    assert sorted(str(m["To"]) for m in inbox.messages) == [
        f"user{i}@example.com" for i in range(5)]


async def test_the_background_loop_sends_what_is_queued(db: AsyncDatabase[Document],
                                                        smtp: tuple[Inbox, str],
                                                        tasks: TaskSet) -> None:
    inbox, url = smtp
    outbox = MailOutbox(db, url, "engage@localhost", tasks=tasks)
    await outbox.start()
    try:
        await outbox.enqueue("ann@example.com", "Hi", "from the loop", kind="test", ref="r1")
        await asyncio.wait_for(inbox.arrived.wait(), 15)
        assert body_of(inbox.messages[0]).strip() == "from the loop"
    finally:
        await outbox.stop()
