"""Transcripts by mail over a real visitor socket: not a relay for whatever a visitor types to
whomever they choose (answered conversations, one address, caps, a bounded outbox)."""

from __future__ import annotations

import uuid
from typing import Any

from engage.chat.transcript_mail import TranscriptLimits
from tests.integration.test_widget_sockets import WidgetFloor, floor
from tests.socket_peers import Peer

__all__ = ["floor"]  # the fixture, shared with the widget's socket tests


async def say(visitor: Peer, ix: str, text: str) -> None:
    await visitor.ok("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                                   "text": text})


async def transcript(floor: WidgetFloor, visitor: Peer, ix: str, email: str) -> dict[str, Any]:
    """Ask from a fresh socket of the same visitor: the socket's own token bucket (a cost of
    10 a request) is not what these tests are about."""
    token = visitor.token  # type: ignore[attr-defined]
    again = await floor.widget(f"{visitor.name}-again", token=token, hello=False)
    try:
        return await again.call("chat.transcript", {"interaction": ix, "email": email})
    finally:
        await again.client.disconnect()


def refused(reply: dict[str, Any], code: str) -> dict[str, Any]:
    assert reply["ok"] is False and reply["code"] == code and reply["message"], reply
    return reply


async def mails(floor: WidgetFloor, ix: str | None = None) -> list[dict[str, object]]:
    query = {} if ix is None else {"ref": ix}
    return [m async for m in floor.services.backends.db.mail_outbox.find(query)]


async def test_no_transcript_mail_before_an_agent_joined(floor: WidgetFloor) -> None:
    visitor = await floor.widget()
    ix = str((await visitor.ok("contact.request", {"channel": "chat"}))["interaction"])
    await say(visitor, ix, "Buy cheap pills at spam.example")
    refused(await transcript(floor, visitor, ix, "victim@example.com"), "not_answered")
    assert await mails(floor) == []


async def test_one_address_and_a_few_sends_per_conversation(floor: WidgetFloor) -> None:
    agent = await floor.agent("alice")
    visitor = await floor.widget()
    ix = await floor.chat_with(agent, visitor)
    await say(visitor, ix, "thanks")
    assert (await transcript(floor, visitor, ix, "li@example.com"))["ok"]
    reply = refused(await transcript(floor, visitor, ix, "other@example.com"), "mail_limited")
    assert reply["scope"] == "address"
    assert (await transcript(floor, visitor, ix, "LI@example.com"))["ok"]
    assert (await transcript(floor, visitor, ix, "li@example.com"))["ok"]
    reply = refused(await transcript(floor, visitor, ix, "li@example.com"), "mail_limited")
    assert reply["scope"] == "conversation" and reply["retry_after"] > 0
    assert [m["to"] for m in await mails(floor, ix)] == ["li@example.com", "LI@example.com",
                                                         "li@example.com"]


async def test_daily_caps_per_visitor_and_per_site(floor: WidgetFloor) -> None:
    floor.services.transcripts.limits = TranscriptLimits(per_conversation=5, per_visitor_day=2,
                                                         per_site_day=3)
    alice = await floor.agent("alice")
    ann = await floor.widget("ann")
    first = await floor.chat_with(alice, ann)
    await alice.ok("acd.complete", {"interaction": first})  # alice goes to wrap-up
    await ann.expect("ended", interaction=first)
    agent = await floor.agent("bob")
    second = await floor.chat_with(agent, ann)
    assert (await transcript(floor, ann, first, "ann@example.com"))["ok"]
    assert (await transcript(floor, ann, second, "ann@example.com"))["ok"]
    reply = refused(await transcript(floor, ann, second, "ann@example.com"), "mail_limited")
    assert reply["scope"] == "visitor" and 0 < reply["retry_after"] <= 24 * 3600

    bob = await floor.widget("bob")
    third = await floor.chat_with(agent, bob)
    assert (await transcript(floor, bob, third, "bob@example.com"))["ok"]
    reply = refused(await transcript(floor, bob, third, "bob@example.com"), "mail_limited")
    assert reply["scope"] == "site"
    assert len(await mails(floor)) == 3


async def test_a_full_outbox_refuses_new_mail_and_uses_no_quota(floor: WidgetFloor) -> None:
    agent = await floor.agent("alice")
    visitor = await floor.widget()
    ix = await floor.chat_with(agent, visitor)
    floor.services.outbox.max_pending = 0
    # Refused: it pins no address and counts against nothing.
    refused(await transcript(floor, visitor, ix, "typo@example.com"), "outbox_full")
    floor.services.outbox.max_pending = 1
    # No SMTP is configured: the first mail stays queued.
    assert (await transcript(floor, visitor, ix, "li@example.com"))["ok"]
    for _ in range(3):
        refused(await transcript(floor, visitor, ix, "li@example.com"), "outbox_full")
    floor.services.outbox.max_pending = 10
    assert (await transcript(floor, visitor, ix, "li@example.com"))["ok"]
    assert (await transcript(floor, visitor, ix, "li@example.com"))["ok"]
    assert len(await mails(floor, ix)) == 3
