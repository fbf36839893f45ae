"""The visitor widget in Chromium on a foreign-origin host page, with agents as Socket.IO
clients: boot, help request, live trail, struggle offer, resilient chat, invites, hostile input."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    FrameLocator,
    Page,
    Route,
    async_playwright,
    expect,
)

from engage.app import SOCKETS
from engage.sites.visitor_tokens import identity_hash
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, eventually
from tests.conftest import SITE_KEY, SITE_ORIGIN, LiveNode
from tests.socket_peers import Floor, Peer
from web_widget.demo_page import render_demo_page

# The host page is public-looking (shop.example.test) and the engage server is on loopback:
# Chromium's private-network checks would block that; in production both are public.
PNA_OFF = ("--disable-features=BlockInsecurePrivateNetworkRequests,"
           "PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults,"
           "LocalNetworkAccessChecks")
HELP_QUEUE = {"_id": "help", "required_skills": {}, "wrap_up_seconds": 30,
              "offer_timeout_seconds": 60, "max_wait_seconds": 600}


@dataclass
class Visitor:
    """A visitor's browser tab on the shop, and every error it or the widget showed."""

    page: Page
    errors: list[str] = field(default_factory=list)

    @property
    def widget(self) -> FrameLocator:
        return self.page.frame_locator("iframe[data-engage-widget]")

    async def open_chat(self, name: str = "") -> None:
        await self.widget.get_by_role("button", name="Need help?").click()
        if name:
            await self.widget.get_by_label("Your name (optional)").fill(name)
        await self.widget.get_by_role("button", name="Start chat").click()

    async def say(self, text: str) -> None:
        box = self.widget.get_by_label("Message")
        await box.fill(text)
        await self.widget.get_by_role("button", name="Send").click()

    def log(self) -> Any:
        return self.widget.get_by_role("log")


class Shop:
    """A site on the live node with a help queue, a host page on SITE_ORIGIN, agents."""

    def __init__(self, node: LiveNode, browser: Browser) -> None:
        self.node = node
        self.browser = browser
        self.floor = Floor(node.url, node.services)
        self.contexts: list[BrowserContext] = []

    async def host_page(self, route: Route) -> None:
        url = route.request.url
        path = url.removeprefix(SITE_ORIGIN).split("?")[0]
        site = await self.node.services.sites.require(SITE_KEY)
        customer = "c000042" if "/account" in path else ""
        lang = "zh" if "lang=zh" in url else "en"
        forged = "forged" in url
        html = render_demo_page(
            server=self.node.url, site_key=SITE_KEY, base=SITE_ORIGIN,
            title=path.strip("/").title() or "Home", customer_id=customer, lang=lang,
            customer_hash=("0" * 64 if forged else identity_hash(site.identity_secret, customer))
            if customer else "")
        await route.fulfill(status=200, content_type="text/html", body=html)

    async def visit(self, path: str = "/", *, origin: str = SITE_ORIGIN) -> Visitor:
        context = await self.browser.new_context()
        self.contexts.append(context)
        await context.route(f"{origin}/**", self.host_page)
        page = await context.new_page()
        visitor = Visitor(page)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                visitor.errors.append(f"console: {message.text} ({message.location})")

        def on_error(error: Error) -> None:
            # The demo page's own deliberate bug is the host page's, not the widget's.
            if "price comparison" not in error.message:
                visitor.errors.append(f"pageerror: {error.message}")

        page.on("console", on_console)
        page.on("pageerror", on_error)
        await page.goto(origin + path)
        return visitor

    async def agent(self, username: str = "agent") -> Peer:
        return await self.floor.agent(username)

    async def visitor_sid_eio(self) -> list[str]:
        sockets = self.node.app[SOCKETS]
        return [s.eio_sid for s in sockets.sockets.values() if s.visitor is not None]

    async def drop_visitor_sockets(self) -> None:
        """A network drop: the websockets end without any Engine.IO goodbye."""
        sockets = self.node.app[SOCKETS]
        for eio_sid in await self.visitor_sid_eio():
            transport = sockets.eio.sockets.get(eio_sid)
            if transport is not None:
                await transport.queue.put(None)

    async def close(self) -> None:
        await self.floor.close()
        for context in self.contexts:
            await context.close()


@pytest.fixture
async def shop(node: LiveNode, built_bundles: None) -> AsyncIterator[Shop]:
    services = node.services
    await services.queues.save(HELP_QUEUE)
    await services.sites.save(SITE_KEY, "Test shop", [SITE_ORIGIN], {"queue": "help"})
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                   args=[*CHROMIUM_ARGS, PNA_OFF])
        shop = Shop(node, browser)
        try:
            yield shop
        finally:
            await shop.close()
            await browser.close()


async def test_loader_boots_without_errors_and_help_click_queues_a_chat(shop: Shop) -> None:
    agent = await shop.agent()
    visitor = await shop.visit("/")
    launcher = visitor.widget.get_by_role("button", name="Need help?")
    await expect(launcher).to_be_visible()
    await visitor.open_chat("Li Wei")
    offer = await agent.expect("offer")
    assert offer["queue"] == "help" and offer["context"]["client"]["name"] == "Li Wei"
    assert offer["context"]["page"]["url"] == f"{SITE_ORIGIN}/"
    assert await shop.node.services.acd.interaction(offer["interaction"])
    assert visitor.errors == []


async def test_trail_and_spa_navigation_reach_the_agent_live(shop: Shop) -> None:
    agent = await shop.agent()
    visitor = await shop.visit("/")
    await visitor.open_chat()
    ix = (await agent.expect("offer"))["interaction"]
    await agent.accept(ix)
    watched = await agent.ok("visit.watch", {"interaction": ix})
    assert watched["page"]["url"] == f"{SITE_ORIGIN}/"
    await visitor.page.get_by_role("link", name="Listings").click()
    pushed = await agent.expect("trail")
    while not any(e["type"] == "page" for e in pushed["events"]):
        pushed = await agent.expect("trail")
    page_view = next(e for e in pushed["events"] if e["type"] == "page")
    assert page_view["url"] == f"{SITE_ORIGIN}/listings" and page_view["nav"] == "push"
    assert visitor.errors == []


async def test_rage_clicks_bring_the_servers_help_offer(shop: Shop) -> None:
    # One burst of rage clicks is enough on this site (thresholds are per site).
    await shop.node.services.sites.save(SITE_KEY, "Test shop", [SITE_ORIGIN], {
        "queue": "help", "thresholds": {"offer_score": 3}})
    await shop.agent()
    visitor = await shop.visit("/")
    await expect(visitor.widget.get_by_role("button", name="Need help?")).to_be_visible()
    button = visitor.page.get_by_role("button", name="Search listings")
    box = await button.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for _ in range(4):
        await visitor.page.mouse.click(x, y)
    prompt = visitor.widget.get_by_role("region", name="Invitation to chat")
    await expect(prompt.or_(visitor.widget.get_by_text("Looks like you might need a hand"))
                 .first).to_be_visible()
    assert visitor.errors == []


async def test_chat_survives_reload_and_a_dropped_socket(shop: Shop) -> None:
    agent = await shop.agent()
    visitor = await shop.visit("/")
    await visitor.open_chat()
    offer = await agent.expect("offer")
    ix = offer["interaction"]
    await agent.accept(ix)
    await visitor.say("first")
    await expect(visitor.log().get_by_text("first", exact=True)).to_have_count(1)

    await visitor.page.reload()
    await expect(visitor.log().get_by_text("first", exact=True)).to_have_count(1)
    await visitor.say("second")
    await expect(visitor.log().get_by_text("second", exact=True)).to_have_count(1)

    await shop.drop_visitor_sockets()
    # Said by the agent while the visitor's connection is down; said by the visitor, too.
    await agent.ok("chat.send", {"interaction": ix, "client_id": str(uuid.uuid4()),
                                 "text": "while you were away"})
    await visitor.say("third")
    await expect(visitor.log().get_by_text("while you were away", exact=True)).to_have_count(1)
    await expect(visitor.log().get_by_text("third", exact=True)).to_have_count(1)

    history = await agent.ok("chat.sync", {"interaction": ix, "after_seq": 0})
    texts = [m["text"] for m in history["messages"]]
    assert texts == ["first", "second", "while you were away", "third"]
    assert [m["seq"] for m in history["messages"]] == [1, 2, 3, 4]
    for text in texts:
        await expect(visitor.log().get_by_text(text, exact=True)).to_have_count(1)
    assert visitor.errors == []


async def test_html_from_an_agent_is_shown_as_text(shop: Shop) -> None:
    agent = await shop.agent()
    visitor = await shop.visit("/")
    await visitor.open_chat()
    offer = await agent.expect("offer")
    await agent.accept(offer["interaction"])
    attack = '<img src=x onerror="window.__pwned=1"><b>bold</b>'
    await agent.ok("chat.send", {"interaction": offer["interaction"],
                                 "client_id": str(uuid.uuid4()), "text": attack})
    await expect(visitor.log().get_by_text(attack, exact=True)).to_have_count(1)
    await expect(visitor.log().locator("img, b")).to_have_count(0)
    frame = visitor.page.frame_locator("iframe[data-engage-widget]")
    assert await frame.locator("body").evaluate("() => window.__pwned === undefined")


async def test_oversize_attachment_is_refused_with_a_clear_message(shop: Shop) -> None:
    agent = await shop.agent()
    visitor = await shop.visit("/")
    await visitor.open_chat()
    offer = await agent.expect("offer")
    await agent.accept(offer["interaction"])
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (shop.node.settings.attachment_max_bytes + 10)
    await visitor.widget.locator("input[type=file]").set_input_files(
        {"name": "plan.png", "mimeType": "image/png", "buffer": big})
    await expect(visitor.widget.get_by_text("too large", exact=False).first).to_be_visible()
    assert (await agent.ok("chat.sync", {"interaction": offer["interaction"],
                                         "after_seq": 0}))["messages"] == []


async def test_invite_rule_fires_once_per_cap_and_respects_opt_out(shop: Shop) -> None:
    invites = shop.node.services.invites
    rule = await invites.create({
        "site_key": SITE_KEY, "name": "Listings", "enabled": True, "queue": "help",
        "text": {"en": "Looking for a home? We can help.", "zh": "在找房子吗?我们可以帮忙。"},
        "url_glob": "/listings*", "max_per_day": 1}, by="marketer")
    await shop.agent()

    async def shown() -> int:
        stats = {s["rule_id"]: s for s in await invites.stats(SITE_KEY)}
        return int(stats.get(rule["rule_id"], {}).get("shown") or 0)

    visitor = await shop.visit("/")
    await expect(visitor.widget.get_by_role("button", name="Need help?")).to_be_visible()
    await visitor.page.get_by_role("link", name="Listings").click()
    await expect(visitor.widget.get_by_text("Looking for a home? We can help.")).to_be_visible()
    await visitor.widget.get_by_role("button", name="No thanks").click()
    await expect(visitor.widget.get_by_text("Looking for a home? We can help.")).to_have_count(0)

    # Back home and to the listings again: the rule's cap (1 a day) holds.
    await visitor.page.get_by_role("link", name="Home").click()
    await visitor.page.get_by_role("link", name="Listings").click()
    vid = await eventually(lambda: _visitor_with_pages(shop, 3), "the third page view")
    assert vid and await shown() == 1
    await expect(visitor.widget.get_by_text("Looking for a home? We can help.")).to_have_count(0)

    other = await shop.visit("/")
    await other.widget.get_by_role("button", name="Need help?").click()
    await other.widget.get_by_role("checkbox", name="Don't show invitations").check()
    db = shop.node.services.backends.db
    await eventually(lambda: db.visitor_prefs.find_one({}), "the opt-out to be stored")
    await other.page.get_by_role("link", name="Listings").click()
    await eventually(lambda: _visitor_with_pages(shop, 2, exclude=vid), "the opted-out view")
    assert await shown() == 1
    await expect(other.widget.get_by_text("Looking for a home? We can help.")).to_have_count(0)


async def _visitor_with_pages(shop: Shop, pages: int, exclude: str = "") -> str | None:
    """A visitor whose live visit has this many page views (the trail was processed)."""
    db = shop.node.services.backends.db
    await shop.node.services.trail.flush()
    async for visit in db.visits.find({"pages": {"$gte": pages}}):
        if visit["visitor"] != exclude:
            return str(visit["visitor"])
    return None


async def test_origin_not_on_the_allow_list_gets_no_widget(shop: Shop) -> None:
    evil = "http://evil.example.test"
    context = await shop.browser.new_context()
    shop.contexts.append(context)
    await context.route(f"{evil}/**", shop.host_page)
    page = await context.new_page()
    async with page.expect_response(lambda r: "/widget/frame" in r.url) as answer:
        await page.goto(evil + "/")
    response = await answer.value
    assert response.status == 403
    await expect(page.locator("iframe[data-engage-widget]")).to_be_hidden()


async def test_forged_identity_hash_gets_an_anonymous_visitor(shop: Shop) -> None:
    agent = await shop.agent()
    visitor = await shop.visit("/account?forged=1")
    await visitor.open_chat()
    offer = await agent.expect("offer")
    assert offer["customer"] == "" and offer["profile"] is None
    honest = await shop.visit("/account")
    await honest.open_chat()
    offer = await agent.expect("offer")
    assert offer["customer"] == "c000042"


async def test_keyboard_only_and_chinese_ui(shop: Shop) -> None:
    visitor = await shop.visit("/?lang=zh")
    launcher = visitor.widget.get_by_role("button", name="需要帮助\uff1f")
    await expect(launcher).to_be_visible()
    await launcher.focus()
    await visitor.page.keyboard.press("Enter")
    dialog = visitor.widget.get_by_role("dialog", name="在线咨询")
    await expect(dialog).to_be_visible()
    await visitor.page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(launcher).to_be_focused()
    assert visitor.errors == []
