"""The recording peer of one call: both sides' offers share one recording, whatever the timing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCPeerConnection

from signaling.recording.file import CallRecording
from signaling.recording.peer import RecordedCall
from tests.call_peers import NO_ICE_SERVERS, Tone


async def offer_sdp() -> str:
    """A browser's first offer on a recorded call: one Opus section, candidates inside."""
    pc = RTCPeerConnection(NO_ICE_SERVERS)
    try:
        pc.addTrack(Tone())
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)
    finally:
        await pc.close()


class Opening:
    """The recordings a call opened, each held open (file already created, as the real
    opening's document and file are) until ``release``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.opened: list[CallRecording] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self) -> CallRecording:
        recording = CallRecording(self.folder / f"{len(self.opened)}.ogg", video=False,
                                  comments={})
        self.opened.append(recording)
        self.entered.set()
        await self.release.wait()
        return recording


@pytest.fixture
def answers_made(monkeypatch: pytest.MonkeyPatch) -> asyncio.Queue[asyncio.Event]:
    """For each server peer, in order of creation: set once its answer is its local
    description (from there the offer goes on to the recording without a pause)."""
    made: asyncio.Queue[asyncio.Event] = asyncio.Queue()

    class Observed(RTCPeerConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.answered = asyncio.Event()
            made.put_nowait(self.answered)

        async def setLocalDescription(self, *args: Any, **kwargs: Any) -> None:
            await super().setLocalDescription(*args, **kwargs)
            self.answered.set()

    monkeypatch.setattr("signaling.recording.peer.RTCPeerConnection", Observed)
    return made


async def test_both_sides_first_offers_at_once_open_one_recording(
        tmp_path: Path, answers_made: asyncio.Queue[asyncio.Event]) -> None:
    # Browsers offer to the server as soon as the call is accepted, both at once: the
    # visitor's answer is ready while the agent's recording is still being opened.
    agent_sdp, visitor_sdp = await offer_sdp(), await offer_sdp()
    opening = Opening(tmp_path)
    call = RecordedCall("call_together", opening, NO_ICE_SERVERS)
    agent = asyncio.create_task(call.offer("agent", agent_sdp))
    await (await answers_made.get()).wait()
    await opening.entered.wait()
    visitor = asyncio.create_task(call.offer("visitor", visitor_sdp))
    await (await answers_made.get()).wait()
    assert len(opening.opened) == 1  # the visitor's offer waits for the same recording
    opening.release.set()
    answers = await asyncio.gather(agent, visitor)
    assert all("a=fingerprint:" in sdp for sdp in answers)
    assert call.recording is opening.opened[0]
    media = await call.close()
    assert media is not None and opening.opened[0].closed


async def test_an_offer_cancelled_while_the_recording_opens_leaves_no_file_open(
        tmp_path: Path) -> None:
    opening = Opening(tmp_path)
    call = RecordedCall("call_cancelled", opening, NO_ICE_SERVERS)
    offer = asyncio.create_task(call.offer("agent", await offer_sdp()))
    await opening.entered.wait()
    offer.cancel()  # e.g. the node stops while the file is being opened
    with pytest.raises(asyncio.CancelledError):
        await offer
    opening.release.set()
    media = await call.close()  # the opening went on: its file is closed here
    assert media is not None and media.size > 0
    assert [r.closed for r in opening.opened] == [True]
