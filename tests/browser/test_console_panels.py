"""The agent console's side panels in real Chromium against a live node: the customer ledger
(search, edit, a concurrent edit's conflict, history, notes), the bulletin board live across
consoles, canned answers inserted into a chat, the visitor's live trail (also after the
console's socket drops), and suggestions with the outcomes agents record."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Locator, Page, expect
from pymongo import DESCENDING

from engage.analysis.worker import AnalysisWorker
from engage.app import SOCKETS
from engage.demo.data import load_demo_data
from engage.demo.knowledge import load_demo_answers
from engage.models import Role
from engage.sites.visitor_tokens import identity_hash
from engage.staff.directory import StaffDirectory
from tests.browser.conftest import OpenPage, StaffPage, eventually
from tests.conftest import PASSWORD, SITE_KEY, SITE_ORIGIN, LiveNode, login
from tests.integration.test_ledger import WANG, seed
from tests.socket_peers import WAIT, Floor, Peer

pytestmark = pytest.mark.browser

HELP = {"_id": "help", "name": "Home help", "required_skills": {}, "wrap_up_seconds": 30,
        "offer_timeout_seconds": 120, "max_wait_seconds": 600}
# Chromium logs every 4xx answer to fetch() as a console error; a 409 is the point of the
# conflict test, not a fault of the page.
EXPECTED_409 = "the server responded with a status of 409"


@pytest.fixture
async def floor(node: LiveNode) -> AsyncIterator[Floor]:
    services = node.services
    await services.queues.save(HELP)
    await services.sites.save(SITE_KEY, "Test shop", [SITE_ORIGIN], {"queue": "help"})
    floor = Floor(node.url, services)
    try:
        yield floor
    finally:
        await floor.close()


async def console(open_page: OpenPage, username: str = "agent") -> StaffPage:
    """Signed in and on the console, connected. A supervisor lands on the wallboard first:
    leaving it only once it has loaded (an aborted load is not what these tests are about)."""
    staff = await open_page()
    await staff.sign_in(username)
    home = "/wallboard" if username == "supervisor" else "/console"
    await expect(staff.page).to_have_url(re.compile(f"{home}$"))
    await expect(staff.page.locator("#connection")).to_have_text("connected")
    if home != "/console":
        await staff.page.goto("/console")
        await expect(staff.page.locator("#connection")).to_have_text("connected")
    return staff


def panel(page: Page, name: str) -> Locator:
    return page.locator(f"[data-panel={name}]")


def errors(staff: StaffPage) -> list[str]:
    return [e for e in staff.errors if EXPECTED_409 not in e]


async def http_as(node: LiveNode, username: str) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 headers={"Origin": node.settings.public_origin})
    assert (await login(http, node.url, username)).status == 200
    return http


async def patch(http: aiohttp.ClientSession, node: LiveNode, customer: str,
                **changes: Any) -> None:
    """Someone else's edit, made on whatever version is current."""
    book = await (await http.get(f"{node.url}/api/customers/{customer}/ledger")).json()
    response = await http.patch(f"{node.url}/api/customers/{customer}", json={
        "version": book["ledger"]["version"], "changes": changes})
    assert response.status == 200, await response.text()


async def available(node: LiveNode, username: str) -> None:
    """The console's socket signed the agent in to the ACD (away); make them available."""
    store = node.services.acd.store
    await eventually(lambda: _state(store, username), f"{username} signed in to the ACD")
    await node.services.acd.set_state(username, "available")


async def _state(store: Any, username: str) -> str | None:
    return (await store.agent(username)).get("state") or None


async def visitor_asks(floor: Floor, name: str = "Li Wei") -> tuple[Peer, str]:
    visitor = await floor.visitor(name)
    await visitor.ok("visit.hello", {"page": {"url": f"{SITE_ORIGIN}/listings",
                                              "title": "Listings", "referrer": ""}})
    asked = await visitor.ok("contact.request", {"channel": "chat", "context": {
        "name": name, "page": "Listings", "reason": "Is the deposit refundable?"}})
    return visitor, str(asked["interaction"])


async def accept_offer(page: Page, ix: str) -> None:
    offer = page.locator(f"[data-testid=offer][data-interaction='{ix}']")
    await offer.get_by_role("button", name="Accept").click()
    tab = page.locator(f"[role=tab][data-interaction='{ix}']")
    await expect(tab).to_have_attribute("aria-selected", "true")


# -- customer ledger ---------------------------------------------------------------------------
async def test_ledger_search_edit_conflict_history_and_notes(
        node: LiveNode, open_page: OpenPage) -> None:
    await seed(node.services.backends.db)
    await node.services.ledger.backfill_search_keys()
    agent = await console(open_page)
    ledger = panel(agent.page, "ledger")

    await ledger.get_by_label("Search customers").fill("wang")
    results = ledger.get_by_test_id("customer-result")
    await expect(results).to_have_count(2)
    await ledger.get_by_role("button", name=re.compile(r"^Wang Wei 王伟")).click()
    card = ledger.get_by_test_id("ledger")
    district = card.get_by_test_id("ledger-identity").locator("[data-field=district]")
    await expect(card.get_by_test_id("ledger-name")).to_have_text("Wang Wei 王伟")
    await expect(card.get_by_test_id("ledger-name")).to_be_focused()
    await expect(district).to_have_text("Pudong")
    await expect(card.get_by_test_id("ledger-purchases")).to_contain_text("decoration: 7 purchases")
    await expect(card.get_by_role("link", name="Transcript of ix0000000007")).to_have_attribute(
        "href", "/api/interactions/ix0000000007/transcript")

    # An agent may not edit the name: the form does not offer it.
    await card.get_by_role("button", name="Edit details").click()
    form = card.get_by_test_id("ledger-edit-form")
    await expect(form.get_by_label("Phone")).to_be_focused()  # the first field it offers
    await expect(form.get_by_label("Name", exact=True)).to_have_count(0)
    await form.get_by_label("District").fill("Xuhui")
    await form.get_by_role("button", name="Save changes").click()
    await expect(ledger.locator("#ledger-status")).to_have_text("Saved.")
    await expect(card.get_by_test_id("ledger-name")).to_be_focused()
    await expect(district).to_have_text("Xuhui")
    await expect(card.get_by_test_id("ledger-meta")).to_contain_text("version 1")

    # Someone else saves while the agent is typing: the conflict view shows both.
    await card.get_by_role("button", name="Edit details").click()
    await form.get_by_label("District").fill("Jing'an")
    supervisor = await http_as(node, "supervisor")
    try:
        await patch(supervisor, node, WANG, district="Minhang")
        await form.get_by_role("button", name="Save changes").click()
        conflict = card.get_by_test_id("ledger-conflict")
        await expect(conflict.get_by_role("heading")).to_be_focused()
        row = conflict.locator("[data-testid=conflict-row][data-field=district]")
        await expect(row.get_by_test_id("conflict-theirs")).to_contain_text(
            "Xuhui → Minhang (by supervisor at ")
        await expect(row.get_by_test_id("conflict-mine")).to_have_text("Xuhui → Jing'an")
        await expect(conflict).to_contain_text("Keeping yours overwrites their District.")
        await conflict.get_by_role("button", name="Keep mine").click()
        await expect(ledger.locator("#ledger-status")).to_have_text(
            "Saved your changes over theirs.")
        await expect(district).to_have_text("Jing'an")

        # And once more, this time taking theirs.
        await card.get_by_role("button", name="Edit details").click()
        await form.get_by_label("District").fill("Putuo")
        await patch(supervisor, node, WANG, district="Yangpu")
        await form.get_by_role("button", name="Save changes").click()
        await card.get_by_test_id("ledger-conflict").get_by_role(
            "button", name="Take theirs").click()
        await expect(district).to_have_text("Yangpu")
        await expect(card.get_by_test_id("ledger-conflict")).to_have_count(0)
    finally:
        await supervisor.close()

    history = card.get_by_role("button", name="History")
    await history.click()
    await expect(history).to_have_attribute("aria-expanded", "true")
    revisions = card.get_by_test_id("ledger-revision")
    await expect(revisions).to_have_count(4)
    await expect(revisions.nth(0)).to_contain_text("supervisor")
    await expect(revisions.nth(0)).to_contain_text("Jing'an → Yangpu")
    await expect(revisions.nth(1)).to_contain_text("Minhang → Jing'an")
    await expect(revisions.nth(3)).to_contain_text("Pudong → Xuhui")

    note = "Prefers <b>calls</b> after 18:00"
    await card.get_by_label("New note").fill(note)
    await card.get_by_role("button", name="Add note").click()
    notes = card.get_by_test_id("ledger-note")
    await expect(notes.first).to_contain_text(note)
    await expect(card.get_by_test_id("ledger-notes").locator("b")).to_have_count(0)
    stored = await node.services.ledger.notes(WANG)
    assert [n["text"] for n in stored] == [note]
    assert errors(agent) == []


# -- bulletin board ----------------------------------------------------------------------------
async def test_a_post_appears_live_in_another_console_and_its_author_deletes_it(
        node: LiveNode, open_page: OpenPage) -> None:
    await node.services.staff.add("agent2", PASSWORD, Role.AGENT)
    author = await console(open_page)
    reader = await console(open_page, "agent2")
    board = panel(reader.page, "bulletin")
    await expect(board.get_by_test_id("bulletin-empty")).to_be_visible()

    text = "Lift 2 is out of order <script>alert(1)</script>"
    await panel(author.page, "bulletin").get_by_label("Note for the team").fill(text)
    await panel(author.page, "bulletin").get_by_role("button", name="Post", exact=True).click()
    shown = board.get_by_test_id("bulletin-post")
    await expect(shown).to_have_count(1)
    await expect(shown.locator(".post-text")).to_have_text(text)
    await expect(shown).to_contain_text("agent")
    await expect(shown.get_by_role("button", name=re.compile("Delete"))).to_have_count(0)

    mine = panel(author.page, "bulletin").get_by_test_id("bulletin-post")
    await expect(mine).to_have_count(1)
    await mine.get_by_role("button", name="Delete your post").click()
    await expect(shown).to_have_count(0)
    await expect(mine).to_have_count(0)
    assert errors(author) == [] and errors(reader) == []


async def test_a_supervisor_pins_a_post_to_the_top(node: LiveNode, open_page: OpenPage) -> None:
    agent = await console(open_page)
    supervisor = await console(open_page, "supervisor")
    for text in ("first note", "second note"):
        await panel(agent.page, "bulletin").get_by_label("Note for the team").fill(text)
        await panel(agent.page, "bulletin").get_by_role("button", name="Post", exact=True).click()
        await expect(panel(agent.page, "bulletin").get_by_test_id("bulletin-post").first
                     ).to_contain_text(text)
    posts = panel(agent.page, "bulletin").get_by_test_id("bulletin-post")
    await expect(posts.nth(0)).to_contain_text("second note")
    pinned = panel(supervisor.page, "bulletin").get_by_test_id("bulletin-post").filter(
        has_text="first note")
    await pinned.get_by_role("button", name=re.compile("^Pin")).click()
    await expect(posts.nth(0)).to_contain_text("first note")
    await expect(posts.nth(0)).to_contain_text("Pinned")
    assert errors(agent) == [] and errors(supervisor) == []


# -- canned answers ----------------------------------------------------------------------------
async def test_search_an_answer_and_insert_it_into_the_selected_chat(
        node: LiveNode, floor: Floor, open_page: OpenPage) -> None:
    await load_demo_answers(node.services.backends.db)
    await node.services.knowledge.refresh()
    agent = await console(open_page)
    answers = panel(agent.page, "knowledge")
    await answers.get_by_label("Search answers").fill("/hi")
    await expect(answers.get_by_test_id("answer-preview")).to_contain_text(
        "Hello {visitor_name}, this is {agent_name} from {site_name}.")
    insert = answers.get_by_role("button", name="Insert")
    await expect(insert).to_be_disabled()
    await expect(answers.get_by_test_id("insert-hint")).to_have_text(
        "Select a conversation to insert an answer into it.")

    await available(node, "agent")
    _, ix = await visitor_asks(floor)
    await accept_offer(agent.page, ix)
    await expect(insert).to_be_enabled()
    await insert.click()
    composer = agent.page.get_by_label("Message", exact=True)
    await expect(composer).to_have_value(
        "Hello Li Wei, this is agent from Test shop. How can I help you today?")

    # A whole shortcut and Enter inserts at once.
    await composer.fill("")
    await answers.get_by_label("Search answers").fill("/wait")
    await expect(answers.get_by_test_id("answer-preview")).to_contain_text("Thank you for waiting")
    await answers.get_by_label("Search answers").press("Enter")
    await expect(composer).to_have_value(
        "Thank you for waiting, Li Wei. I am checking this with the Home help team.")

    await answers.get_by_label("Search answers").fill("")
    await answers.get_by_label("Category").select_option("Buying")
    listed = answers.get_by_test_id("answer")
    await expect(listed.filter(has_text="/viewing · Buying")).to_have_count(1)
    await expect(listed.filter(has_text="· General")).to_have_count(0)
    assert errors(agent) == []


# -- live context ------------------------------------------------------------------------------
async def test_the_visitor_trail_appears_live_and_again_after_a_reconnect(
        node: LiveNode, floor: Floor, open_page: OpenPage) -> None:
    agent = await console(open_page)
    context = panel(agent.page, "context")
    await expect(context.get_by_test_id("context-empty")).to_be_visible()
    await available(node, "agent")
    visitor, ix = await visitor_asks(floor)
    await visitor.ok("visit.events", {"events": [
        {"type": "page", "at": 1, "url": f"{SITE_ORIGIN}/pricing?coupon=1", "title": "Pricing",
         "nav": "push"}]})
    await accept_offer(agent.page, ix)

    await expect(context.get_by_test_id("context-visitor")).to_contain_text("Li Wei")
    await expect(context.get_by_test_id("context-origin")).to_have_text(
        "Asked for help in the widget")
    await expect(context.get_by_test_id("context-asked")).to_contain_text("Listings")
    await expect(context.get_by_test_id("context-reason")).to_have_text(
        "Is the deposit refundable?")
    entries = context.get_by_test_id("trail-entry")
    await expect(entries.first).to_contain_text("Pricing — /pricing")
    await expect(context.get_by_test_id("context-page")).to_contain_text("Pricing")

    await visitor.ok("visit.events", {"events": [
        {"type": "page", "at": 2, "url": f"{SITE_ORIGIN}/mortgage", "title": "Mortgage",
         "nav": "push"},
        {"type": "signal", "at": 3, "url": f"{SITE_ORIGIN}/mortgage", "kind": "rage_click",
         "count": 5, "span_ms": 600, "radius_px": 8, "target": "button#calc"}]})
    await expect(entries.first).to_contain_text("5 rapid clicks on button#calc")
    await expect(entries.nth(1)).to_contain_text("Mortgage — /mortgage")
    await expect(context.get_by_test_id("context-page")).to_contain_text("Mortgage")
    await expect(context.get_by_test_id("context-score")).to_contain_text("Rage clicks")

    # The console's connection drops (no goodbye): on reconnect the panel watches again.
    sockets = node.app[SOCKETS]
    visitor_id = floor.visitor_ids["Li Wei"]
    old = next(s for s in sockets.sockets.values() if s.username == "agent")
    transport = sockets.eio.sockets.get(old.eio_sid)
    assert transport is not None
    await transport.queue.put(None)

    async def rewatched() -> bool:
        return any(s.username == "agent" and s.sid != old.sid
                   and f"watch:{visitor_id}" in sockets.rooms(s.sid, namespace="/agent")
                   for s in list(sockets.sockets.values()))

    await eventually(rewatched, "the console to watch the visitor again")
    await visitor.ok("visit.events", {"events": [
        {"type": "page", "at": 4, "url": f"{SITE_ORIGIN}/contact", "title": "Contact us",
         "nav": "push"}]})
    await expect(entries.first).to_contain_text("Contact us — /contact")
    await expect(entries.filter(has_text="Mortgage — /mortgage")).to_have_count(1)
    assert errors(agent) == []


# -- a known customer --------------------------------------------------------------------------
async def known_visitor(floor: Floor, node: LiveNode, customer: str) -> Peer:
    """A visitor the site signed in as ``customer`` (the identity hash proves it)."""
    site = await node.services.sites.require(SITE_KEY)
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{node.url}/api/visitor/token", headers={"Origin": SITE_ORIGIN},
                                   json={"site_key": SITE_KEY, "customer_id": customer,
                                         "customer_hash": identity_hash(site.identity_secret,
                                                                        customer)})
        issued = await response.json()
    assert issued["identified"] is True, issued
    peer = Peer("Wang Wei", "/visitor")
    floor.peers.append(peer)
    await peer.client.connect(node.url, namespaces=["/visitor"], auth={"token": issued["token"]},
                              headers={"Origin": SITE_ORIGIN}, transports=["websocket"],
                              wait_timeout=WAIT)
    return peer


async def test_a_known_customers_ledger_and_suggestions_open_with_the_conversation(
        node: LiveNode, floor: Floor, open_page: OpenPage) -> None:
    await seed(node.services.backends.db)
    agent = await console(open_page)
    await available(node, "agent")
    visitor = await known_visitor(floor, node, WANG)
    await visitor.ok("visit.hello", {"page": {"url": f"{SITE_ORIGIN}/account", "title": "Account",
                                              "referrer": ""}})
    ix = str((await visitor.ok("contact.request", {"channel": "chat", "context": {
        "name": "Wang Wei"}}))["interaction"])
    await accept_offer(agent.page, ix)

    card = panel(agent.page, "ledger").get_by_test_id("ledger")
    await expect(card).to_have_attribute("data-customer", WANG)
    await expect(card.get_by_test_id("ledger-meta")).to_contain_text(
        "the selected conversation's customer")
    suggestions = panel(agent.page, "suggestions")
    await expect(suggestions.get_by_test_id("suggestions-for")).to_contain_text(WANG)
    await expect(suggestions.get_by_test_id("suggestions-empty")).to_have_text(
        "Not analysed yet: No analysis has run yet. Suggestions appear after the next "
        "analysis run.")
    await expect(panel(agent.page, "context").get_by_test_id("context-visitor")).to_contain_text(
        f"customer {WANG}")
    assert errors(agent) == []


# -- suggestions -------------------------------------------------------------------------------
@pytest.mark.timeout(300)  # loads the demo data and runs the analysis
async def test_suggestions_for_the_open_customer_and_their_recorded_outcomes(
        node: LiveNode, open_page: OpenPage) -> None:
    db = node.services.backends.db
    await load_demo_data(db, StaffDirectory(db), customers=2_000, transactions=10_000,
                         progress=False)
    await AnalysisWorker(db, node.services.backends.redis, worker_id="test").run_once()
    customer, phone = await _suggested_customer_with_a_phone(node)
    await db.customers.insert_one({"_id": "C9000001", "name": "Zhao Newcomer",
                                   "phone": "+8613355550000"})
    await node.services.ledger.backfill_search_keys()

    agent = await console(open_page)
    suggestions = panel(agent.page, "suggestions")
    await expect(suggestions.get_by_test_id("suggestions-empty")).to_contain_text(
        "open a customer")

    async def open_customer(query: str, customer_id: str) -> None:
        ledger = panel(agent.page, "ledger")
        await ledger.get_by_label("Search customers").fill(query)
        await ledger.locator(f"[data-customer='{customer_id}']").click()
        await expect(ledger.get_by_test_id("ledger")).to_have_attribute("data-customer",
                                                                         customer_id)

    await open_customer("Zhao Newc", "C9000001")
    await expect(suggestions.get_by_test_id("suggestions-empty")).to_have_text(
        "Not analysed: This customer joined after the current analysis ran.")

    await open_customer(phone, customer)
    offers = suggestions.get_by_test_id("suggestion")
    await expect(offers.first).to_be_visible()
    first = offers.first
    await expect(first.get_by_test_id("suggestion-reason")).not_to_have_text("")
    await first.get_by_role("button", name="Offered").click()
    await expect(first.get_by_role("button", name="Offered")).to_have_attribute(
        "aria-pressed", "true")
    await expect(first.get_by_test_id("suggestion-recorded")).to_contain_text(
        "Recorded: offered by agent")
    await first.get_by_role("button", name="Declined").click()
    await expect(first.get_by_test_id("suggestion-recorded")).to_contain_text(
        "Recorded: declined (offered before) by agent")
    product = await first.get_attribute("data-product")
    stored = await node.services.feedback.recorded(customer)
    assert stored[str(product)]["outcomes"] == ["declined", "offered"]

    # What was recorded is shown again after a reload.
    await agent.page.reload()
    await expect(agent.page.locator("#connection")).to_have_text("connected")
    await open_customer(phone, customer)
    again = suggestions.locator(f"[data-testid=suggestion][data-product='{product}']")
    await expect(again.get_by_role("button", name="Declined")).to_have_attribute(
        "aria-pressed", "true")
    await expect(again.get_by_role("button", name="Accepted")).to_have_attribute(
        "aria-pressed", "false")
    assert errors(agent) == []


async def _suggested_customer_with_a_phone(node: LiveNode) -> tuple[str, str]:
    """A recent apartment buyer with offers (a rule applies) and a phone to search by."""
    db = node.services.backends.db
    async for tx in db.transactions.find({"sku": "BS-APT"}, {"customer_id": 1}).sort(
            "at", DESCENDING).limit(50):
        doc = await db.customers.find_one({"_id": tx["customer_id"]}, {"phone": 1})
        phone = str((doc or {}).get("phone") or "")
        offers = await node.services.suggestions.for_customer(str(tx["customer_id"]))
        if phone.startswith("+") and offers["status"] == "ok":
            return str(tx["customer_id"]), phone
    raise AssertionError("no recent apartment buyer with offers and a phone")
