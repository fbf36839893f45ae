"""Browser fixtures: Debian's Chromium driven by Playwright, one context per signed-in user."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright, expect

from tests.conftest import PASSWORD, SITE_ORIGIN, LiveNode

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
DIST = Path(__file__).resolve().parents[2] / "static" / "dist"

# Sockets connect over loopback in well under a second; the margin is for a loaded CI box.
expect.set_options(timeout=10_000)

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], what: str,
                     timeout: float = 10.0) -> T:
    """Polls a server-side condition the browser cannot signal (a row in MongoDB, a socket's
    rooms, the ACD's view of an agent)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class StaffPage:
    """A page in its own browser context, with every console error and page error it saw."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def watch(self) -> None:
        def on_console(message: ConsoleMessage) -> None:
            where = message.location.get("url", "")
            if message.type == "error":
                self.errors.append(f"console: {message.text} ({where})")

        def on_page_error(error: Error) -> None:
            self.errors.append(f"pageerror: {error.message}")

        self.page.on("console", on_console)
        self.page.on("pageerror", on_page_error)

    async def sign_in(self, username: str, password: str = PASSWORD) -> None:
        await self.page.goto("/login")
        await self.page.get_by_label("Username").fill(username)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()


OpenPage = Callable[[], Awaitable[StaffPage]]


@pytest.fixture(scope="session")
def built_bundles() -> None:
    """The pages load static/dist/*.js: say how to build them instead of failing obscurely."""
    missing = [b for b in ("console", "wallboard", "marketing", "admin")
               if not (DIST / f"{b}.js").is_file()]
    if missing:
        pytest.fail(f"static/dist has no {', '.join(missing)}.js: run `npm ci && npm run build`")


@pytest.fixture
async def chromium(built_bundles: None) -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does it)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def open_page(chromium: Browser, node: LiveNode) -> AsyncIterator[OpenPage]:
    """Opens a fresh context (own cookies, like a second person) on the live node."""
    contexts = []

    async def open_one() -> StaffPage:
        context = await chromium.new_context(base_url=node.url)
        contexts.append(context)
        staff = StaffPage(await context.new_page())
        staff.watch()
        return staff

    yield open_one
    for context in contexts:
        await context.close()


# -- calls: fake camera and microphone ------------------------------------------------------------

# Chromium's own test media (a moving pattern and a beep) instead of real devices, and every
# permission prompt answered yes. The widget tests' host page is plain http on a public-looking
# name while engage runs on loopback: private-network checks are off (in production both are
# public), and the host page counts as secure, as an https site would (getUserMedia in the
# widget's frame needs every ancestor to be a secure context).
FAKE_MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
HOST_PAGE_ARGS = ["--disable-features=BlockInsecurePrivateNetworkRequests,"
                  "PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults,"
                  "LocalNetworkAccessChecks",
                  f"--unsafely-treat-insecure-origin-as-secure={SITE_ORIGIN}"]


@pytest.fixture
async def media_chromium(built_bundles: None) -> AsyncIterator[Browser]:
    """Chromium with fake media devices, for calls between a widget and a console."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does it)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *FAKE_MEDIA_ARGS, *HOST_PAGE_ARGS])
        try:
            yield browser
        finally:
            await browser.close()
