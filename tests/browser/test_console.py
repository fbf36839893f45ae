"""Staff pages in real Chromium: sign-in, live connection, announcements, admin accounts."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import OpenPage, StaffPage
from tests.conftest import LiveNode

pytestmark = pytest.mark.browser


async def expect_connected(staff: StaffPage) -> None:
    connection = staff.page.locator("#connection")
    await expect(connection).to_have_text("connected")
    await expect(connection).to_have_class(re.compile(r"\bok\b"))


async def test_agent_signs_in_and_connects(node: LiveNode, open_page: OpenPage) -> None:
    agent = await open_page()
    await agent.sign_in("agent")
    await expect(agent.page).to_have_url(f"{node.url}/console")
    await expect_connected(agent)

    await agent.page.get_by_role("button", name="Check connection").click()
    await expect(agent.page.locator("#console-status")).to_contain_text(
        f"(node {node.settings.node_id})")
    assert agent.errors == []


async def test_supervisor_announcement_reaches_agent(node: LiveNode, open_page: OpenPage) -> None:
    agent = await open_page()
    await agent.sign_in("agent")
    await expect_connected(agent)
    supervisor = await open_page()
    await supervisor.sign_in("supervisor")
    await expect(supervisor.page).to_have_url(f"{node.url}/wallboard")
    await expect_connected(supervisor)

    text = "Queue <b>rent</b> is long & slow"
    await supervisor.page.get_by_label("Message to all staff").fill(text)
    await supervisor.page.get_by_label("Level").select_option("urgent")
    await supervisor.page.get_by_role("button", name="Send announcement").click()
    await expect(supervisor.page.locator("#announce-status")).to_have_text("Announcement sent.")

    shown = agent.page.get_by_test_id("announcement")
    await expect(shown).to_have_count(1)
    await expect(shown).to_contain_text(text)  # the markup arrives as text, not as elements
    await expect(shown).to_contain_text("supervisor")
    await expect(shown).to_have_class(re.compile(r"\blevel-urgent\b"))
    await expect(shown.locator("b")).to_have_count(0)
    await expect(supervisor.page.get_by_test_id("announcement")).to_contain_text(text)
    assert agent.errors == [] and supervisor.errors == []


async def test_wrong_password_stays_on_login(node: LiveNode, open_page: OpenPage) -> None:
    visitor = await open_page()
    await visitor.sign_in("agent", "not-the-password")
    await expect(visitor.page.get_by_role("alert")).to_have_text("Wrong username or password.")
    await expect(visitor.page).to_have_url(re.compile(r"/login$"))
    await expect(visitor.page.get_by_label("Username")).to_have_value("agent")


async def test_admin_adds_and_disables_a_user(node: LiveNode, open_page: OpenPage) -> None:
    admin = await open_page()
    await admin.sign_in("admin")
    await expect(admin.page).to_have_url(f"{node.url}/admin")
    await expect_connected(admin)
    rows = admin.page.get_by_test_id("user-row")
    await expect(rows).to_have_count(4)

    await admin.page.get_by_label("Username").fill("lin.wei")
    await admin.page.get_by_label("Display name").fill("Lin Wei")
    await admin.page.get_by_label("Password (at least 10 characters)").fill("a-long-password-1")
    await admin.page.get_by_label("Role").select_option("supervisor")
    await admin.page.get_by_role("button", name="Add user").click()

    added = admin.page.locator("tr[data-username='lin.wei']")
    await expect(added).to_contain_text("Lin Wei")
    await expect(added).to_contain_text("supervisor")
    await expect(added.locator("td").nth(2)).to_have_text("active")
    await expect(rows).to_have_count(5)

    await admin.page.get_by_role("button", name="Disable lin.wei").click()
    await expect(added.locator("td").nth(2)).to_have_text("disabled")
    await expect(admin.page.get_by_role("button", name="Enable lin.wei")).to_be_focused()
    assert admin.errors == []


async def test_disabled_agent_is_sent_to_login(node: LiveNode, open_page: OpenPage) -> None:
    agent = await open_page()
    await agent.sign_in("agent")
    await expect_connected(agent)
    admin = await open_page()
    await admin.sign_in("admin")

    await admin.page.get_by_role("button", name="Disable agent", exact=True).click()
    await expect(admin.page.locator("tr[data-username='agent'] td").nth(2)).to_have_text("disabled")
    await expect(agent.page).to_have_url(re.compile(r"/login$"))
    assert agent.errors == [] and admin.errors == []
