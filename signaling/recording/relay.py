"""What the server sends each side of a recorded call: the other side's media as encoded."""

from __future__ import annotations

import asyncio
import fractions
from collections import deque
from collections.abc import Callable
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from signaling.recording.opus import FRAME, RATE, SILENCE, OpusPacketError, samples

AUDIO_TIME_BASE = fractions.Fraction(1, RATE)
VIDEO_TIME_BASE = fractions.Fraction(1, 90_000)
MAX_QUEUED = 64  # a sender that stalls loses the oldest media, not memory
# Media queued for a side whose sender has not started yet (or stalled) is stale: it is
# dropped rather than sent late in a burst. Audio keeps 100 ms; video, whose frames depend
# on each other, starts again from a keyframe after a second.
BACKLOG = {"audio": 5, "video": 30}
SILENCE_PACE = FRAME / RATE
# An active side whose next packet is this late gets silence meanwhile (a lost packet or a
# paused sender); shorter gaps are the network's jitter and wait for the packet.
SILENCE_AFTER = 0.1
BLACK_PACE = 0.2  # 5 black frames a second keep the far decoder alive at little cost
BLACK_AFTER = 1.0
BLACK_SIZE = (320, 240)
MAX_JUMP = {"audio": 5 * RATE, "video": 5 * 90_000}  # larger RTP jumps are re-anchored


def _signed(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31


class _Timeline:
    """Output timestamps of one relay: the source's RTP time while it flows, continuous
    across fills and source changes (a new SSRC after renegotiation)."""

    def __init__(self, kind: str, step: int) -> None:
        self.pts = -step
        self.step = step
        self._max_jump = MAX_JUMP[kind]
        self._anchor: tuple[int, int, int] | None = None  # ssrc, rtp timestamp, pts

    def source(self, ssrc: int, timestamp: int) -> int:
        pts = None
        if self._anchor is not None and self._anchor[0] == ssrc:
            pts = self._anchor[2] + _signed(timestamp - self._anchor[1])
            if not self.pts < pts <= self.pts + self._max_jump:
                pts = None
        if pts is None:
            pts = self.pts + self.step
            self._anchor = (ssrc, timestamp, pts)
        self.pts = pts
        return pts

    def fill(self, step: int) -> int:
        self.pts += step
        self._anchor = None  # the source's next packet continues after the fill
        return self.pts


class _Relay(MediaStreamTrack):
    """A queue of the other side's media with a timed fill while it is empty.

    The relay never decodes: Opus packets and VP8 frames go to the sender untouched (aiortc
    packs ``av.Packet`` items without encoding them). While the other side sends nothing yet
    (or any more), the track fills in - Opus silence every 20 ms, black VP8 frames a few
    times a second - so each side's answer has its send tracks from the start.
    """

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[tuple[bytes, int, int]] = deque(maxlen=MAX_QUEUED)
        self._waiter: asyncio.Future[None] | None = None
        self._sent_at: float | None = None
        self._filled_last = True
        self.elapsed = 0.0  # seconds between the last two items handed out
        self.forwarded = 0
        self.filled = 0
        self.dropped = 0

    def _push(self, item: tuple[bytes, int, int]) -> None:
        self._queue.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _next(self, pace: float, patience: float) -> tuple[bytes, int, int] | None:
        """The next queued item, or None when it is time to fill: ``pace`` after the last
        fill, ``patience`` after the last item that came from the other side."""
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                if self.readyState != "live":
                    raise MediaStreamError
                gap = pace if self._filled_last else patience
                delay = 0.0 if self._sent_at is None else self._sent_at + gap - loop.time()
                if delay <= 0:
                    self._handed_out(loop.time(), pace)
                    self._filled_last = True
                    self.filled += 1
                    return None
                self._waiter = waiter = loop.create_future()
                timer = loop.call_later(delay, _wake, waiter)
                try:
                    await waiter
                finally:
                    timer.cancel()
                    self._waiter = None
            if len(self._queue) > BACKLOG[self.kind]:
                self._overflow()  # may leave nothing worth sending: wait again
            if self._queue:
                break
        self._handed_out(loop.time(), pace)
        self._filled_last = False
        self.forwarded += 1
        return self._queue.popleft()

    def _overflow(self) -> None:
        """Too much is queued: keep only the newest."""
        while len(self._queue) > BACKLOG[self.kind]:
            self._queue.popleft()
            self.dropped += 1

    def _handed_out(self, now: float, pace: float) -> None:
        self.elapsed = pace if self._sent_at is None else now - self._sent_at
        self._sent_at = now

    def stop(self) -> None:
        super().stop()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class OpusRelay(_Relay):
    """The other side's Opus packets, or 20 ms of silence at a time while there are none."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._time = _Timeline("audio", FRAME)

    def feed(self, payload: bytes, ssrc: int, timestamp: int) -> None:
        self._push((payload, ssrc, timestamp))

    async def recv(self) -> av.Packet[Any]:
        item = await self._next(SILENCE_PACE, SILENCE_AFTER)
        if item is None:
            return _packet(SILENCE, self._time.fill(self._time.step), AUDIO_TIME_BASE)
        payload, ssrc, timestamp = item
        try:
            self._time.step = samples(payload) or FRAME
        except OpusPacketError:
            self._time.step = FRAME
        return _packet(payload, self._time.source(ssrc, timestamp), AUDIO_TIME_BASE)


class Vp8Relay(_Relay):
    """The other side's VP8 frames from a keyframe on, or black frames while there are none.

    ``keyframe_needed`` asks the other side for a keyframe (an RTCP PLI towards it): when the
    relay starts or resumes forwarding, and when this side's decoder asks for one.
    """

    kind = "video"

    def __init__(self, keyframe_needed: Callable[[], None]) -> None:
        super().__init__()
        self._time = _Timeline("video", 3000)
        self._keyframe_needed = keyframe_needed
        self._flowing = False  # a keyframe went out since the last black frame

    def feed(self, frame: bytes, ssrc: int, timestamp: int, keyframe: bool) -> None:
        if not self._flowing:
            if not keyframe:
                self._keyframe_needed()  # a delta frame after black would not decode
                return
            self._flowing = True
        self._push((frame, ssrc, timestamp))

    def _overflow(self) -> None:
        """Frames after a dropped one would not decode: start again at a keyframe (the
        newest queued one, or the next one asked for)."""
        frames = list(self._queue)
        keys = [n for n, (data, _, _) in enumerate(frames) if not data[0] & 1]
        self._queue.clear()
        if keys:
            self._queue.extend(frames[keys[-1]:])
        self.dropped += len(frames) - len(self._queue)
        if not self._queue:
            self._flowing = False
            self._keyframe_needed()

    def keyframe_wanted(self) -> None:
        """This side's decoder lost the picture: the other side must send a keyframe."""
        if self._flowing:
            self._keyframe_needed()

    async def recv(self) -> av.Packet[Any] | av.VideoFrame:
        item = await self._next(BLACK_PACE, BLACK_AFTER)
        if item is None:
            self._flowing = False
            frame = av.VideoFrame.from_ndarray(_BLACK, format="yuv420p")
            frame.pts = self._time.fill(max(1, round(self.elapsed * 90_000)))
            frame.time_base = VIDEO_TIME_BASE
            return frame
        data, ssrc, timestamp = item
        return _packet(data, self._time.source(ssrc, timestamp), VIDEO_TIME_BASE)


def _black(width: int, height: int) -> np.ndarray:
    """A yuv420p picture of black (Y=16, neutral chroma), as av.VideoFrame expects it."""
    luma = np.full((height, width), 16, dtype=np.uint8)
    chroma = np.full((height // 2, width), 128, dtype=np.uint8)
    return np.concatenate([luma, chroma])


_BLACK = _black(*BLACK_SIZE)


def _packet(data: bytes, pts: int, time_base: fractions.Fraction) -> av.Packet[Any]:
    packet = av.Packet(data)
    packet.pts = pts
    packet.time_base = time_base
    return packet
