"""Calls in two Chromium contexts with fake camera and microphone: the visitor's widget on the
shop's page and the agent console. Consent before capture, media decoded on both sides, voice ↔
video, hang-up releasing every device, the console restored after a reload, and a recorded call
relayed by the server that leaves one complete, decodable file."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import av
import numpy as np
import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Error,
    Frame,
    FrameLocator,
    Locator,
    Page,
    Route,
    expect,
)

from engage.acd.store import AcdError
from engage.app import RECORDERS
from tests.browser.conftest import StaffPage, eventually
from tests.conftest import SITE_KEY, SITE_ORIGIN, LiveNode
from web_widget.demo_page import render_demo_page

pytestmark = pytest.mark.browser

HELP_QUEUE = {"_id": "help", "required_skills": {}, "wrap_up_seconds": 30,
              "offer_timeout_seconds": 60, "max_wait_seconds": 600}
SOME = re.compile(r"^[1-9][0-9]*$")  # a count above zero

# Every track getUserMedia hands out, so the test can tell that hang-up stopped them all.
TRACK_SPY = """
(() => {
  const devices = navigator.mediaDevices;
  window.__engageTracks = [];
  if (!devices) return;
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = async (constraints) => {
    const stream = await original(constraints);
    window.__engageTracks.push(...stream.getTracks());
    return stream;
  };
})();
"""
ALL_STOPPED = ("() => window.__engageTracks.length > 0"
               " && window.__engageTracks.every((t) => t.readyState === 'ended')")


class Call:
    """The agent's console and the visitor's shop page, both with fake media devices."""

    def __init__(self, node: LiveNode, browser: Browser) -> None:
        self.node = node
        self.browser = browser
        self.agent: StaffPage
        self.visitor: Page
        self.visitor_errors: list[str] = []

    async def open(self) -> None:
        agent_context = await self.browser.new_context(base_url=self.node.url)
        await agent_context.add_init_script(TRACK_SPY)
        self.agent = StaffPage(await agent_context.new_page())
        self.agent.watch()
        visitor_context = await self.browser.new_context()
        await visitor_context.add_init_script(TRACK_SPY)  # runs in the widget's frame too
        await visitor_context.route(f"{SITE_ORIGIN}/**", self.host_page)
        self.visitor = await visitor_context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.visitor_errors.append(f"console: {message.text} ({message.location})")

        def on_error(error: Error) -> None:
            # The demo page's own deliberate bug is the host page's, not the widget's.
            if "price comparison" not in error.message:
                self.visitor_errors.append(f"pageerror: {error.message}")

        self.visitor.on("console", on_console)
        self.visitor.on("pageerror", on_error)

    async def host_page(self, route: Route) -> None:
        html = render_demo_page(server=self.node.url, site_key=SITE_KEY, base=SITE_ORIGIN,
                                title="Home", customer_id="", lang="en", customer_hash="")
        await route.fulfill(status=200, content_type="text/html", body=html)

    @property
    def widget(self) -> FrameLocator:
        return self.visitor.frame_locator("iframe[data-engage-widget]")

    def widget_frame(self) -> Frame:
        frame = next((f for f in self.visitor.frames if "/widget/frame" in f.url), None)
        assert frame is not None, "the widget's frame is not there"
        return frame

    def conversation(self, ix: str) -> Locator:
        return self.agent.page.locator(f'[role="tabpanel"][data-interaction="{ix}"]')

    async def close(self) -> None:
        for context in self.browser.contexts:
            await context.close()


@pytest.fixture
async def call(node: LiveNode, media_chromium: Browser) -> AsyncIterator[Call]:
    await node.services.queues.save(HELP_QUEUE)
    await node.services.sites.save(SITE_KEY, "Test shop", [SITE_ORIGIN], {"queue": "help"})
    floor = Call(node, media_chromium)
    await floor.open()
    try:
        yield floor
    finally:
        await floor.close()


async def available(node: LiveNode, username: str, timeout: float = 10.0) -> None:
    """The agent made available once their console's socket has signed them in to the ACD
    (the page shows "connected" a moment before the server has registered the agent)."""
    async def made_available() -> bool | None:
        try:
            await node.services.acd.set_state(username, "available")
        except AcdError as exc:
            if exc.code != "not_signed_in":
                raise
            return None
        return True

    await eventually(made_available, f"{username} signed in to the ACD", timeout)


async def chatting(call: Call, question: str, answer: str) -> tuple[str, Locator]:
    """The visitor asks for help, the agent takes the offer, they exchange one message each;
    the interaction and the agent's tab panel of it."""
    agent, widget = call.agent.page, call.widget
    await call.agent.sign_in("agent")
    await expect(agent.locator("#connection")).to_have_text("connected")
    await available(call.node, "agent")
    await call.visitor.goto(SITE_ORIGIN + "/")
    await widget.get_by_role("button", name="Need help?").click()
    await widget.get_by_label("Your name (optional)").fill("Li Wei")
    await widget.get_by_role("button", name="Start chat").click()
    await agent.get_by_test_id("offer").get_by_role("button", name="Accept", exact=True).click()
    tab = agent.get_by_role("tab")
    await expect(tab).to_have_count(1)
    ix = await tab.get_attribute("data-interaction")
    assert ix
    panel = call.conversation(ix)
    await widget.get_by_label("Message").fill(question)
    await widget.get_by_role("button", name="Send").click()
    messages = panel.get_by_role("log").get_by_test_id("chat-message")
    await expect(messages.filter(has_text=question)).to_have_count(1)
    await panel.get_by_label("Message").fill(answer)
    await panel.get_by_role("button", name="Send").click()
    await expect(call.widget.get_by_role("log").get_by_text(answer, exact=True)).to_have_count(1)
    return ix, panel


async def test_video_call_from_the_console_reaches_the_widget_and_hangs_up_cleanly(
        call: Call) -> None:
    agent, widget = call.agent.page, call.widget
    question, answer = "Can I see the flat's balcony?", "Sure, let me show you on video."
    ix, panel = await chatting(call, question, answer)
    # The agent proposes video; the widget asks the visitor, and nothing is captured before.
    await panel.get_by_role("button", name="Start video call").click()
    await expect(panel.get_by_test_id("call-state")).to_have_text("ringing")
    await expect(widget.get_by_text("The agent wants to start a video call")).to_be_visible()
    await expect(widget.get_by_role("checkbox", name="Allow recording")).to_be_hidden()
    frame = call.widget_frame()
    assert await frame.evaluate("() => window.__engageTracks.length") == 0
    await widget.get_by_role("button", name="Accept", exact=True).click()

    # Both sides connect and decode each other's video.
    console_state = panel.get_by_test_id("call-state")
    widget_state = widget.get_by_test_id("call-state")
    await expect(console_state).to_have_text("connected")
    await expect(widget_state).to_have_attribute("data-state", "connected")
    console_quality = panel.get_by_test_id("call-quality")
    widget_quality = widget.get_by_test_id("call-quality")
    await expect(console_quality).to_have_attribute("data-frames-decoded", SOME)
    await expect(widget_quality).to_have_attribute("data-frames-decoded", SOME)
    await expect(console_quality).to_contain_text("RTT")
    await expect(console_quality).to_have_class(re.compile(r"\bquality-(good|fair|poor)\b"))
    for video in (panel.get_by_test_id("remote-video"), widget.get_by_test_id("remote-video")):
        await expect(video).to_be_visible()
    await expect(panel.get_by_role("combobox", name="Camera")).to_be_visible()
    await expect(panel.get_by_role("button", name="Mute")).to_be_visible()
    await expect(panel.get_by_test_id("call-recording")).to_be_hidden()

    # The agent hangs up: both sides say so, and every camera and microphone track stopped.
    await panel.get_by_role("button", name="Hang up").click()
    await expect(console_state).to_have_text("ended")
    await expect(widget_state).to_have_attribute("data-state", "ended")
    await agent.wait_for_function(ALL_STOPPED)
    await frame.wait_for_function(ALL_STOPPED)
    await expect(panel.get_by_role("button", name="Start video call")).to_be_visible()
    await expect(widget.get_by_role("button", name="Video call", exact=True)).to_be_visible()

    # A reload of the console brings the conversation back, with its history.
    await agent.reload()
    await expect(agent.locator("#connection")).to_have_text("connected")
    panel = call.conversation(ix)
    messages = panel.get_by_role("log").get_by_test_id("chat-message")
    await expect(messages.filter(has_text=question)).to_have_count(1)
    await expect(messages.filter(has_text=answer)).to_have_count(1)
    await expect(panel.get_by_role("button", name="Start video call")).to_be_visible()
    assert call.agent.errors == []
    assert call.visitor_errors == []


async def test_visitor_calls_by_voice_then_video_comes_and_goes(call: Call) -> None:
    widget = call.widget
    _, panel = await chatting(call, "Can we talk?", "Of course.")

    # The visitor's own proposal is their consent; the agent accepts it.
    await widget.get_by_role("button", name="Voice call", exact=True).click()
    await expect(widget.get_by_test_id("call-state")).to_have_attribute("data-state", "ringing")
    await expect(panel.get_by_text("The visitor wants to start a voice call.")).to_be_visible()
    await panel.get_by_role("button", name="Accept call").click()
    console_quality = panel.get_by_test_id("call-quality")
    widget_quality = widget.get_by_test_id("call-quality")
    await expect(panel.get_by_test_id("call-state")).to_have_text("connected")
    await expect(widget.get_by_test_id("call-state")).to_have_attribute("data-state", "connected")
    await expect(console_quality).to_have_attribute("data-loss", re.compile(r"^[0-9]"))  # audio in
    await expect(panel.get_by_test_id("remote-video")).to_be_hidden()
    await expect(widget.get_by_role("button", name="Camera off")).to_be_hidden()

    await widget.get_by_role("button", name="Mute", exact=True).click()
    await expect(widget.get_by_role("button", name="Unmute")).to_be_visible()
    muted = ("() => window.__engageTracks.filter((t) => t.kind === 'audio')"
             ".every((t) => !t.enabled)")
    await call.widget_frame().wait_for_function(muted)

    # The visitor turns video on (their camera starts on that click); the agent's follows.
    await widget.get_by_role("button", name="Switch to video").click()
    await expect(console_quality).to_have_attribute("data-frames-decoded", SOME)
    await expect(widget_quality).to_have_attribute("data-frames-decoded", SOME)
    await expect(panel.get_by_role("button", name="Switch to voice")).to_be_visible()
    await expect(widget.get_by_role("button", name="Camera off")).to_be_visible()

    # The agent goes back to voice: both cameras stop, the call goes on.
    await panel.get_by_role("button", name="Switch to voice").click()
    await expect(widget.get_by_role("button", name="Switch to video")).to_be_visible()
    cameras_off = ("() => window.__engageTracks.some((t) => t.kind === 'video')"
                   " && window.__engageTracks.filter((t) => t.kind === 'video')"
                   ".every((t) => t.readyState === 'ended')")
    await call.agent.page.wait_for_function(cameras_off)
    await call.widget_frame().wait_for_function(cameras_off)
    await expect(panel.get_by_test_id("call-state")).to_have_text("connected")

    await widget.get_by_role("button", name="Hang up").click()
    await expect(panel.get_by_test_id("call-state")).to_have_text("ended")
    await call.agent.page.wait_for_function(ALL_STOPPED)
    await call.widget_frame().wait_for_function(ALL_STOPPED)
    assert call.agent.errors == []
    assert call.visitor_errors == []


async def test_recording_is_asked_unticked_and_a_declined_call_captures_nothing(
        call: Call) -> None:
    await call.node.services.queues.save({**HELP_QUEUE, "record_calls": True})
    widget = call.widget
    _, panel = await chatting(call, "Hello?", "Hello, how can I help?")

    await panel.get_by_role("button", name="Start voice call").click()
    await expect(widget.get_by_text("The agent wants to start a voice call")).to_be_visible()
    consent = widget.get_by_role("checkbox", name="Allow recording")
    await expect(consent).to_be_visible()
    await expect(consent).not_to_be_checked()
    await widget.get_by_role("button", name="Decline", exact=True).click()
    await expect(panel.get_by_test_id("call-state")).to_have_text("ended")
    await expect(panel.get_by_text("The call was declined.")).to_be_visible()
    await expect(widget.get_by_text("The agent wants to start a voice call")).to_be_hidden()
    assert await call.widget_frame().evaluate("() => window.__engageTracks.length") == 0
    # The agent's microphone, started for the proposal, was released again.
    await call.agent.page.wait_for_function(ALL_STOPPED)
    assert call.agent.errors == []
    assert call.visitor_errors == []



@pytest.mark.timeout(300)  # a recorded call through Chromium: ~75 s on a loaded box
async def test_a_recorded_call_goes_through_the_server_and_leaves_one_complete_file(
        call: Call) -> None:
    await call.node.services.queues.save({**HELP_QUEUE, "record_calls": True})
    widget = call.widget
    ix, panel = await chatting(call, "Is this call recorded?", "Only if you allow it.")
    # The widget knows the queue records before any call: its own buttons come with the box.
    own_consent = widget.get_by_role("checkbox", name="Allow recording")
    await expect(widget.get_by_role("button", name="Voice call", exact=True)).to_be_visible()
    await expect(own_consent).to_be_visible()
    await expect(own_consent).not_to_be_checked()

    # The agent calls; the visitor allows recording and accepts. Both browsers offer to the
    # server's peer at once.
    await panel.get_by_role("button", name="Start voice call").click()
    await expect(widget.get_by_text("The agent wants to start a voice call")).to_be_visible()
    await widget.get_by_role("checkbox", name="Allow recording").check()
    await widget.get_by_role("button", name="Accept", exact=True).click()
    console_state = panel.get_by_test_id("call-state")
    widget_state = widget.get_by_test_id("call-state")
    await expect(console_state).to_have_text("connected")
    await expect(widget_state).to_have_attribute("data-state", "connected")
    console_quality = panel.get_by_test_id("call-quality")
    widget_quality = widget.get_by_test_id("call-quality")
    for quality in (console_quality, widget_quality):  # audio comes in on both sides
        await expect(quality).to_have_attribute("data-loss", re.compile(r"^[0-9]"))
    await expect(panel.get_by_test_id("call-recording")).to_be_visible()
    await expect(widget.get_by_test_id("call-recording")).to_be_visible()

    # Video on the same connections: each side renegotiates with the server.
    await widget.get_by_role("button", name="Switch to video").click()
    await expect(console_quality).to_have_attribute("data-frames-decoded", SOME)
    await expect(widget_quality).to_have_attribute("data-frames-decoded", SOME)

    await panel.get_by_role("button", name="Hang up").click()
    await expect(console_state).to_have_text("ended")
    await expect(widget_state).to_have_attribute("data-state", "ended")
    await expect(own_consent).to_be_visible()  # back with the visitor's own buttons, unticked
    await expect(own_consent).not_to_be_checked()
    db = call.node.services.backends.db
    docs = [doc async for doc in db.recordings.find({"interaction": ix})]
    assert len(docs) == 1, docs  # one call, one recording, though both sides offered at once
    await asyncio.wait_for(call.node.app[RECORDERS].wait_finished(docs[0]["call"]), 30)
    doc = await db.recordings.find_one({"_id": docs[0]["_id"]})
    assert doc is not None and doc["state"] == "complete", doc
    assert (doc["media"], doc["content_type"]) == ("audio", "audio/ogg")  # video came later
    path = call.node.services.recordings.root / doc["path"]
    assert doc["size"] == path.stat().st_size > 0

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus" and stream.codec_context.channels == 2
        pcm = np.concatenate([f.to_ndarray() for f in container.decode(stream)], axis=1)
    # What the recorder wrote is what decodes: 20 ms slots from the first packet it heard,
    # within the time its document was open.
    assert doc["duration_ms"] == pcm.shape[1] // 48 > 0
    assert doc["duration_ms"] <= doc["ended_ms"] - doc["started_ms"]
    await call.node.services.eventlog.drain()
    history = [d async for d in db.acd_events.find({"kind": "call", "ix": ix})]
    recorded = [d for d in history if d["event"] == "recorded"]
    assert [(d["recording"], d["duration_ms"]) for d in recorded] == [
        (doc["_id"], str(doc["duration_ms"]))]
    assert call.agent.errors == []
    assert call.visitor_errors == []
