"""The agent console shell in Chromium, with visitors as Socket.IO clients: offers with a
countdown, accept/decline, chat both ways with receipts, tabs, wrap-up, transfers, the state
selector, and a reload that restores the open conversation with its history."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import Locator, Route, expect

from engage.app import SOCKETS
from engage.models import Role
from tests.browser.conftest import OpenPage, StaffPage
from tests.conftest import PASSWORD, SITE_KEY, SITE_ORIGIN, LiveNode
from tests.socket_peers import Floor, Peer

pytestmark = pytest.mark.browser

BASE = {"required_skills": {}, "max_wait_seconds": 600, "offer_timeout_seconds": 60,
        "wrap_up_seconds": 120}
QUEUES = [{"_id": "help", "name": "Help", **BASE},
          {"_id": "billing", "name": "Billing", **BASE},
          # One unanswered offer sets the agent away: the auto-away test.
          {"_id": "quick", "name": "Quick", **BASE, "offer_timeout_seconds": 1, "max_misses": 1}]


@dataclass
class Desk:
    """A live node with queues, the agent's console pages and visitors as socket clients."""

    node: LiveNode
    floor: Floor
    open_page: OpenPage

    async def console(self, username: str = "agent") -> StaffPage:
        staff = await self.open_page()
        await staff.sign_in(username)
        await expect(staff.page).to_have_url(f"{self.node.url}/console")
        await expect(staff.page.locator("#connection")).to_have_text("connected")
        return staff

    async def available(self, staff: StaffPage) -> None:
        await staff.page.get_by_label("Your state").select_option("available")
        await expect(staff.page.get_by_test_id("agent-state")).to_have_text("Available")

    async def visitor(self, name: str, queue: str = "help", reason: str = "") -> tuple[Peer, str]:
        """A visitor on the listings page asking for a chat; returns it and the interaction."""
        peer = await self.floor.visitor(name)
        url = f"{SITE_ORIGIN}/listings?q=2br"
        await peer.ok("visit.hello", {"page": {"url": url, "title": "Listings"}, "lang": "en"})
        await peer.ok("visit.events", {"events": [
            {"type": "page", "at": int(time.time() * 1000), "url": url, "title": "Listings"}]})
        context = {"name": name, **({"reason": reason} if reason else {})}
        created = await self.floor.ask(peer, queue, "chat", context)
        return peer, str(created["interaction"])

    async def accepted(self, staff: StaffPage, visitor: Peer, ix: str) -> Locator:
        """Accepts the offer of ``ix`` and returns its conversation panel."""
        await offer_of(staff, ix).get_by_role("button", name="Accept").click()
        await visitor.expect("connected", interaction=ix)
        panel = staff.page.get_by_role("tabpanel")
        await expect(panel).to_have_attribute("data-interaction", ix)
        return panel


@pytest.fixture
async def desk(node: LiveNode, open_page: OpenPage) -> AsyncIterator[Desk]:
    for queue in QUEUES:
        await node.services.queues.save(queue)
    await node.services.sites.save(SITE_KEY, "Test shop", [SITE_ORIGIN],
                                   {"queues": [queue["_id"] for queue in QUEUES]})
    floor = Floor(node.url, node.services)
    try:
        yield Desk(node, floor, open_page)
    finally:
        await floor.close()


def offer_of(staff: StaffPage, ix: str) -> Locator:
    return staff.page.locator(f"[data-testid=offer][data-interaction='{ix}']")


def messages(panel: Locator, text: str) -> Locator:
    return panel.get_by_test_id("chat-message").filter(has_text=text)


async def test_offer_shows_who_and_a_countdown_and_decline_removes_it(desk: Desk) -> None:
    agent = await desk.console()
    await desk.available(agent)
    _, ix = await desk.visitor("Li Wei", reason="Two-bedroom flat")

    offer = offer_of(agent, ix)
    await expect(offer).to_be_visible()
    for text in ("Help", "Li Wei", "Listings", f"{SITE_ORIGIN}/listings", "Website chat",
                 "Two-bedroom flat"):
        await expect(offer).to_contain_text(text)
    countdown = offer.get_by_test_id("offer-countdown")
    await expect(countdown).to_have_text(re.compile(r"^[01]:\d\d$"))
    first = await countdown.text_content()
    await expect(countdown).not_to_have_text(first or "")  # it counts down
    await expect(agent.page.get_by_test_id("offer-announcer")).to_contain_text("Li Wei")
    await expect(agent.page.locator("#offers")).to_have_attribute("data-ringing", "true")

    await offer.get_by_role("button", name="Decline").click()
    await expect(offer).to_have_count(0)
    await expect(agent.page.locator("#offers")).to_have_attribute("data-ringing", "false")
    assert await desk.floor.state_of(ix) == "queued"
    await expect(agent.page.get_by_role("tab")).to_have_count(0)
    assert agent.errors == []


async def test_accept_then_chat_both_ways_with_receipts_and_typing(desk: Desk) -> None:
    agent = await desk.console()
    await desk.available(agent)
    visitor, ix = await desk.visitor("Li Wei")
    panel = await desk.accepted(agent, visitor, ix)
    tab = agent.page.get_by_role("tab")
    await expect(tab).to_have_attribute("data-interaction", ix)
    await expect(tab).to_have_attribute("aria-selected", "true")
    await expect(tab).to_contain_text("Li Wei")
    await expect(offer_of(agent, ix)).to_have_count(0)
    await expect(agent.page.locator("#offers")).to_have_attribute("data-ringing", "false")
    composer = panel.get_by_label("Message")
    await expect(composer).to_be_focused()
    await expect(panel.get_by_test_id("conversation-state")).to_have_text("Connected")
    await expect(agent.page.get_by_test_id("agent-state")).to_have_text("Busy")

    # Agent to visitor; Shift+Enter breaks the line, Enter sends; markup stays text.
    await composer.fill("Hello <b>Li</b>")
    await composer.press("Shift+Enter")
    await composer.press_sequentially("how can I help?")
    await composer.press("Enter")
    sent = await visitor.expect("chat.message", interaction=ix)
    assert sent["from"] == "agent" and sent["text"] == "Hello <b>Li</b>\nhow can I help?"
    await expect(composer).to_have_value("")
    own = messages(panel, "Hello <b>Li</b>")
    await expect(own).to_have_class(re.compile(r"\bown\b"))
    await expect(own.get_by_test_id("receipt")).to_have_text("Sent")
    await visitor.ok("chat.receipt", {"interaction": ix, "seq": sent["seq"], "kind": "delivered"})
    await expect(own.get_by_test_id("receipt")).to_have_text("Delivered")
    await visitor.ok("chat.receipt", {"interaction": ix, "seq": sent["seq"], "kind": "read"})
    await expect(own.get_by_test_id("receipt")).to_have_text("Read")

    # Visitor to agent, with the typing line first.
    await visitor.ok("chat.typing", {"interaction": ix, "typing": True})
    await expect(panel.get_by_test_id("typing")).to_have_text("Li Wei is typing…")
    question = "Is the flat <i>still</i> free?"
    await visitor.ok("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                                   "text": question})
    theirs = messages(panel, question)
    await expect(theirs).to_have_count(1)
    await expect(theirs).to_have_class(re.compile(r"\bvisitor\b"))
    await expect(panel.get_by_test_id("typing")).to_have_text("")
    await expect(panel.locator("b, i")).to_have_count(0)
    # The agent has it on screen: the visitor is told it was read.
    receipt = await visitor.expect("chat.receipt", interaction=ix)
    while receipt["read_seq"] < sent["seq"] + 1:
        receipt = await visitor.expect("chat.receipt", interaction=ix)
    assert agent.errors == []


async def test_two_conversations_in_two_tabs_with_unread_badges(desk: Desk) -> None:
    agent = await desk.console()
    await desk.available(agent)
    first, ix1 = await desk.visitor("Li Wei")
    await desk.accepted(agent, first, ix1)
    second, ix2 = await desk.visitor("Wang Fang")
    await desk.accepted(agent, second, ix2)

    tabs = agent.page.get_by_role("tab")
    await expect(tabs).to_have_count(2)
    tab1 = agent.page.locator(f"[role=tab][data-interaction='{ix1}']")
    tab2 = agent.page.locator(f"[role=tab][data-interaction='{ix2}']")
    await expect(tab2).to_have_attribute("aria-selected", "true")
    await expect(tab1).to_have_attribute("aria-selected", "false")

    await first.ok("chat.send", {"interaction": ix1, "client_id": str(uuid.uuid4()),
                                 "text": "Any news?"})
    await expect(tab1.get_by_test_id("unread")).to_have_text(re.compile(r"^1"))
    await expect(tab2.get_by_test_id("unread")).to_be_hidden()
    await expect(messages(agent.page.get_by_role("tabpanel"), "Any news?")).to_have_count(0)

    await tab1.click()
    panel = agent.page.get_by_role("tabpanel")
    await expect(panel).to_have_attribute("data-interaction", ix1)
    await expect(messages(panel, "Any news?")).to_have_count(1)
    await expect(tab1.get_by_test_id("unread")).to_be_hidden()

    # The keyboard moves between tabs too.
    await tab1.focus()
    await agent.page.keyboard.press("ArrowRight")
    await expect(tab2).to_be_focused()
    await expect(tab2).to_have_attribute("aria-selected", "true")
    await expect(agent.page.get_by_role("tabpanel")).to_have_attribute("data-interaction", ix2)
    assert agent.errors == []


async def test_wrap_up_with_a_disposition_and_note_ends_the_tab(desk: Desk) -> None:
    agent = await desk.console()
    await desk.available(agent)
    visitor, ix = await desk.visitor("Li Wei")
    panel = await desk.accepted(agent, visitor, ix)

    await panel.get_by_role("button", name="End conversation").click()
    await visitor.expect("ended", interaction=ix)
    wrapup = panel.get_by_test_id("wrapup")
    await expect(wrapup).to_be_visible()
    await expect(panel.get_by_test_id("wrapup-timer")).to_have_text(re.compile(r"^[12]:\d\d left$"))
    await expect(panel.get_by_label("Disposition")).to_be_focused()
    await expect(panel.get_by_label("Message")).to_be_hidden()
    await expect(agent.page.get_by_test_id("agent-state")).to_have_text("Wrap-up")

    await panel.get_by_role("button", name="Finish wrap-up").click()
    await expect(wrapup).to_contain_text("Choose a disposition.")
    await panel.get_by_label("Disposition").select_option(label="Resolved")
    await panel.get_by_label("Wrap-up note").fill("Booked a viewing for Saturday")
    await panel.get_by_role("button", name="Finish wrap-up").click()

    await expect(agent.page.get_by_role("tab")).to_have_count(0)
    await expect(agent.page.get_by_role("tabpanel")).to_have_count(0)
    await expect(agent.page.get_by_test_id("agent-state")).to_have_text("Available")
    ix_hash = await desk.floor.store.fields(ix)
    assert ix_hash["state"] == "closed" and ix_hash["disposition"] == "resolved"
    await desk.node.services.eventlog.drain()
    notes = [d async for d in desk.node.services.backends.db["acd_events"].find(
        {"ix": ix, "kind": "note"})]
    assert [n["note"] for n in notes] == ["Booked a viewing for Saturday"]
    assert agent.errors == []


async def test_cold_transfer_to_a_queue(desk: Desk) -> None:
    agent = await desk.console()
    await desk.available(agent)
    visitor, ix = await desk.visitor("Li Wei")
    panel = await desk.accepted(agent, visitor, ix)

    await panel.get_by_role("button", name="Transfer").click()
    target = panel.get_by_label("Transfer to")
    await expect(target).to_be_focused()
    await target.select_option(label="Billing")
    await expect(panel.get_by_role("radio", name=re.compile("^Warm"))).to_be_disabled()
    await expect(panel.get_by_role("radio", name=re.compile("^Cold"))).to_be_checked()
    await panel.get_by_role("button", name="Confirm transfer").click()

    await expect(agent.page.get_by_role("tab")).to_have_count(0)
    await expect(agent.page.locator("#console-status")).to_have_text(
        "Transferred to queue Billing.")
    moved = await desk.floor.store.fields(ix)
    assert moved["queue"] == "billing" and moved["state"] == "queued"
    assert agent.errors == []


async def test_warm_transfer_through_a_consultation(desk: Desk) -> None:
    await desk.node.services.staff.add("agent2", PASSWORD, Role.AGENT, display_name="Zhao Min")
    agent = await desk.console()
    colleague = await desk.console("agent2")
    await desk.available(agent)
    visitor, ix = await desk.visitor("Li Wei")
    panel = await desk.accepted(agent, visitor, ix)
    await desk.available(colleague)

    await panel.get_by_role("button", name="Transfer").click()
    await panel.get_by_label("Transfer to").select_option("agent:agent2")
    await panel.get_by_role("radio", name=re.compile("^Warm")).check()
    await panel.get_by_role("button", name="Confirm transfer").click()
    await expect(panel.get_by_test_id("consult-status")).to_have_text("Waiting for agent2 to join…")
    await expect(panel.get_by_role("button", name="Complete transfer")).to_be_disabled()

    consult = offer_of(colleague, ix)
    await expect(consult).to_contain_text("Consultation from agent")
    await expect(consult).to_contain_text("Li Wei")
    await consult.get_by_role("button", name="Accept").click()
    theirs = colleague.page.get_by_role("tabpanel")
    await expect(theirs).to_have_attribute("data-interaction", ix)
    await expect(theirs).to_contain_text("You are consulting: only agent writes to the visitor.")
    await expect(theirs.get_by_label("Message")).to_be_hidden()

    await expect(panel.get_by_test_id("consult-status")).to_contain_text("agent2 joined")
    await panel.get_by_role("button", name="Complete transfer").click()
    await expect(agent.page.get_by_role("tab")).to_have_count(0)
    await visitor.expect("connected", interaction=ix, agent="agent2")
    await expect(theirs.get_by_label("Message")).to_be_visible()
    await theirs.get_by_label("Message").fill("Zhao here, I will take it from now.")
    await theirs.get_by_role("button", name="Send").click()
    said = await visitor.expect("chat.message", interaction=ix)
    assert said["text"] == "Zhao here, I will take it from now." and said["name"] == "Zhao Min"
    assert agent.errors == [] and colleague.errors == []


async def test_state_selector_and_auto_away_after_a_missed_offer(desk: Desk) -> None:
    agent = await desk.console()
    state = agent.page.get_by_test_id("agent-state")
    await expect(state).to_have_text("Away (not ready)")
    await desk.available(agent)

    await agent.page.get_by_label("Your state").select_option("away")
    await expect(state).to_have_text("Away (break)")
    await agent.page.get_by_label("Away reason").select_option("lunch")
    await expect(state).to_have_text("Away (lunch)")
    stored = await desk.floor.store.agent("agent")
    assert (stored["state"], stored["reason"]) == ("away", "lunch")
    await desk.available(agent)
    assert (await desk.floor.store.agent("agent"))["state"] == "available"

    # An offer nobody answers: it leaves, and the ACD sets the agent away.
    _, ix = await desk.visitor("Li Wei", queue="quick")
    await expect(offer_of(agent, ix)).to_be_visible()
    await expect(offer_of(agent, ix)).to_have_count(0)
    await expect(state).to_have_text("Away (missed offers)")
    await expect(agent.page.get_by_label("Your state")).to_have_value("away")
    await expect(agent.page.get_by_role("alert").filter(has_text="missed offers")).to_be_visible()
    await expect(agent.page.locator("#offers")).to_have_attribute("data-ringing", "false")
    assert agent.errors == []


async def test_reload_restores_the_conversation_its_history_and_unsent_messages(
        desk: Desk) -> None:
    agent = await desk.console()
    await desk.available(agent)
    other, ix_other = await desk.visitor("Wang Fang")
    await desk.accepted(agent, other, ix_other)
    visitor, ix = await desk.visitor("Li Wei")
    panel = await desk.accepted(agent, visitor, ix)
    await panel.get_by_label("Message").fill("Welcome!")
    await panel.get_by_label("Message").press("Enter")
    await visitor.expect("chat.message", interaction=ix)
    await visitor.ok("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                                   "text": "Thanks, one question"})
    await expect(messages(panel, "Thanks, one question")).to_have_count(1)

    # Something typed but not acknowledged before the page went away waits in the outbox.
    unsent = {"client_id": str(uuid.uuid4()), "text": "Still there?", "at": 1}
    await agent.page.evaluate(
        "([key, value]) => localStorage.setItem(key, value)",
        [f"engage.console.agent.outbox.{ix}", json.dumps([unsent])])
    await agent.page.reload()
    await expect(agent.page.locator("#connection")).to_have_text("connected")

    await expect(agent.page.get_by_role("tab")).to_have_count(2)
    panel = agent.page.get_by_role("tabpanel")
    await expect(panel).to_have_attribute("data-interaction", ix)  # the one on screen before
    log = panel.get_by_role("log")
    await expect(log.get_by_test_id("chat-message")).to_have_text(
        [re.compile("Welcome!"), re.compile("Thanks, one question"), re.compile("Still there?")])
    resent = await visitor.expect("chat.message", interaction=ix, text="Still there?")
    assert resent["seq"] == 3
    await expect(messages(panel, "Still there?").get_by_test_id("receipt")).to_have_text(
        re.compile("Sent|Delivered|Read"))
    await panel.get_by_label("Message").fill("Back again")
    await panel.get_by_role("button", name="Send").click()
    assert (await visitor.expect("chat.message", interaction=ix, text="Back again"))["seq"] == 4
    history = await visitor.ok("chat.sync", {"interaction": ix, "after_seq": 0})
    assert [m["text"] for m in history["messages"]] == [
        "Welcome!", "Thanks, one question", "Still there?", "Back again"]
    assert agent.errors == []


async def test_a_dropped_connection_loses_no_message_either_way(desk: Desk) -> None:
    agent = await desk.console()
    await desk.available(agent)
    visitor, ix = await desk.visitor("Li Wei")
    panel = await desk.accepted(agent, visitor, ix)

    # The network drops and stays down (no socket token) until the test lets it back.
    async def no_token(route: Route) -> None:
        await route.fulfill(json={"ok": False, "code": "unavailable", "message": "down"})

    await agent.page.route("**/api/socket-token", no_token)
    sockets = desk.node.app[SOCKETS]
    for state in [s for s in sockets.sockets.values() if s.username == "agent"]:
        transport = sockets.eio.sockets.get(state.eio_sid)
        if transport is not None:
            await transport.queue.put(None)  # the websocket ends without a goodbye
    await expect(agent.page.locator("#connection")).to_have_text("reconnecting…")

    await visitor.ok("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                                   "text": "Hello? Anyone there?"})
    await panel.get_by_label("Message").fill("Still here, one moment")
    await panel.get_by_label("Message").press("Enter")
    waiting = messages(panel, "Still here, one moment")
    await expect(waiting.get_by_test_id("receipt")).to_have_text("Sending…")

    await agent.page.unroute("**/api/socket-token")
    await expect(agent.page.locator("#connection")).to_have_text("connected")
    await expect(messages(panel, "Hello? Anyone there?")).to_have_count(1)
    said = await visitor.expect("chat.message", interaction=ix, text="Still here, one moment")
    assert said["from"] == "agent"
    await expect(waiting.get_by_test_id("receipt")).not_to_have_text("Sending…")
    await expect(waiting).to_have_count(1)
    history = await visitor.ok("chat.sync", {"interaction": ix, "after_seq": 0})
    assert [m["text"] for m in history["messages"]] == [
        "Hello? Anyone there?", "Still here, one moment"]
    assert agent.errors == []


async def test_desktop_notifications_are_enabled_from_a_click(desk: Desk) -> None:
    agent = await desk.console()
    button = agent.page.get_by_role("button", name="Enable desktop notifications")
    await expect(button).to_be_visible()
    await agent.page.context.grant_permissions(["notifications"], origin=desk.node.url)
    await button.click()
    await expect(agent.page.get_by_test_id("notification-status")).to_have_text(
        "Desktop notifications are on.")
    await expect(button).to_be_hidden()
    assert agent.errors == []


async def test_agents_roster_lists_states_for_transfers(desk: Desk) -> None:
    agent = await desk.console()
    await desk.available(agent)
    response = await agent.page.request.get("/api/agents")
    body: dict[str, Any] = await response.json()
    mine = next(a for a in body["agents"] if a["username"] == "agent")
    assert mine["state"] == "available" and "chat" in mine["takes"]
    assert agent.errors == []
