"""The marketing page in real Chromium: report charts and tables after an analysis run, the
campaign form, and the empty state before any run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import expect

from engage.analysis.worker import AnalysisWorker
from engage.demo.data import load_demo_data
from engage.staff.directory import StaffDirectory
from tests.browser.conftest import OpenPage
from tests.conftest import LiveNode

pytestmark = pytest.mark.browser

# Share of a canvas's pixels that are not plain white: a drawn chart has plenty.
INKED = """(canvas) => {
  const ctx = canvas.getContext("2d");
  const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  let inked = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] < 245 || data[i + 1] < 245 || data[i + 2] < 245) inked++;
  }
  return inked / (data.length / 4);
}"""


@pytest.fixture
async def node(node: LiveNode) -> AsyncIterator[LiveNode]:
    """Cleans the app up while the backends are open (see tests/integration/test_analysis)."""
    yield node
    await node.app.shutdown()
    await node.app.cleanup()


async def analysed(node: LiveNode) -> None:
    backends = node.services.backends
    await load_demo_data(backends.db, StaffDirectory(backends.db), customers=2_000,
                         transactions=10_000, progress=False)
    await AnalysisWorker(backends.db, backends.redis, worker_id="browser-test").run_once()


async def test_marketer_sees_the_report_and_creates_a_list(node: LiveNode,
                                                           open_page: OpenPage) -> None:
    await analysed(node)
    marketer = await open_page()
    await marketer.sign_in("marketer")
    await expect(marketer.page).to_have_url(f"{node.url}/marketing")
    page = marketer.page
    await expect(page.get_by_test_id("run-date")).to_contain_text("Version 1, run ")
    await expect(page.get_by_test_id("tiers").locator("tbody tr")).to_have_count(4)
    rows = page.get_by_test_id("rule-row")
    await expect(rows.first).to_be_visible()
    assert await rows.count() >= 10
    for chart in ("scatter", "heatmap"):
        canvas = page.get_by_test_id(chart)
        await expect(canvas).to_be_visible()
        assert await canvas.evaluate(INKED) > 0.02, chart

    # The table sorts from the keyboard, and a focused row is found in the scatter.
    lift_sort = page.get_by_role("button", name="Lift")
    await lift_sort.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("th[aria-sort=ascending]")).to_have_count(1)
    before = await page.get_by_test_id("scatter").evaluate("(c) => c.toDataURL()")
    await rows.filter(has_text="within window").first.focus()
    assert await page.get_by_test_id("scatter").evaluate("(c) => c.toDataURL()") != before

    await page.get_by_label("Campaign name").fill("Browser renovation push")
    await page.get_by_label("Business lines").select_option("decoration")
    await page.get_by_label("List size (at most)").fill("50")
    await page.get_by_role("button", name="Create list").click()
    await expect(page.locator("#campaign-status")).to_contain_text("customers listed")
    link = page.get_by_test_id("csv-link").first
    await expect(link).to_be_focused()
    href = await link.get_attribute("href")
    assert href is not None and href.endswith("/list.csv")
    response = await page.request.get(href)
    assert response.status == 200
    assert (await response.text()).startswith("customer_id,name,phone,product,")
    assert marketer.errors == []


async def test_marketing_page_before_any_run(node: LiveNode, open_page: OpenPage) -> None:
    marketer = await open_page()
    await marketer.sign_in("marketer")
    await expect(marketer.page.get_by_test_id("no-results")).to_contain_text(
        "No analysis has run yet")
    assert marketer.errors == []
