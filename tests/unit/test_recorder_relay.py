"""The relay tracks: encoded media handed on untouched, timestamps continuous, fills meanwhile."""

from __future__ import annotations

import av

from signaling.recording.opus import SILENCE
from signaling.recording.relay import OpusRelay, Vp8Relay

FRAME = 960


async def test_opus_is_passed_on_untouched_with_continuous_timestamps() -> None:
    relay = OpusRelay()
    first = await relay.recv()  # nothing from the other side yet: silence at once
    assert bytes(first) == SILENCE and first.pts == 0
    voice = [bytes((0xF8, n, n)) for n in range(4)]
    for n, payload in enumerate(voice[:3]):
        relay.feed(payload, ssrc=7, timestamp=1_000_000 + n * FRAME)
    relay.feed(voice[3], ssrc=7, timestamp=1_000_000 + 5 * FRAME)  # two packets lost
    out = [await relay.recv() for _ in range(4)]
    assert [bytes(p) for p in out] == voice
    assert [p.pts for p in out] == [FRAME, 2 * FRAME, 3 * FRAME, 6 * FRAME]
    assert relay.forwarded == 4 and relay.filled == 1


async def test_a_new_source_continues_after_what_was_sent() -> None:
    relay = OpusRelay()
    relay.feed(SILENCE + b"", ssrc=1, timestamp=5)
    assert (await relay.recv()).pts == 0
    relay.feed(bytes((0xF8, 1, 1)), ssrc=2, timestamp=99)  # renegotiated: a new SSRC
    assert (await relay.recv()).pts == FRAME
    fill = await relay.recv()  # the other side went quiet: silence after a while
    assert bytes(fill) == SILENCE and fill.pts == 2 * FRAME
    relay.feed(bytes((0xF8, 2, 2)), ssrc=2, timestamp=99 + 50 * FRAME)
    assert (await relay.recv()).pts == 3 * FRAME  # after the fill, not 50 frames on


async def test_vp8_starts_at_a_keyframe_and_asks_for_one() -> None:
    asked: list[int] = []
    relay = Vp8Relay(lambda: asked.append(1))
    black = await relay.recv()
    assert isinstance(black, av.VideoFrame) and black.width == 320
    relay.feed(b"\x01delta", ssrc=3, timestamp=0, keyframe=False)
    assert asked == [1]  # a delta frame after black would not decode: dropped
    relay.feed(b"\x00key", ssrc=3, timestamp=3000, keyframe=True)
    relay.feed(b"\x01delta", ssrc=3, timestamp=6000, keyframe=False)
    key, delta = await relay.recv(), await relay.recv()
    assert isinstance(key, av.Packet) and bytes(key) == b"\x00key"
    assert isinstance(delta, av.Packet) and delta.pts is not None and key.pts is not None
    assert delta.pts - key.pts == 3000
    relay.keyframe_wanted()  # the far decoder lost the picture: passed on to the source
    assert asked == [1, 1]


async def test_a_backlog_is_dropped_not_sent_late() -> None:
    relay = OpusRelay()
    for n in range(20):  # the receiving side's sender was not running yet
        relay.feed(bytes((0xF8, n, n)), ssrc=1, timestamp=n * FRAME)
    first = await relay.recv()
    assert bytes(first) == bytes((0xF8, 15, 15)) and relay.dropped == 15
    asked: list[int] = []
    video = Vp8Relay(lambda: asked.append(1))
    video.feed(b"\x00key", ssrc=2, timestamp=0, keyframe=True)
    for n in range(1, 40):
        video.feed(b"\x01delta", ssrc=2, timestamp=3000 * n, keyframe=False)
    video.feed(b"\x00key2", ssrc=2, timestamp=3000 * 40, keyframe=True)
    video.feed(b"\x01delta", ssrc=2, timestamp=3000 * 41, keyframe=False)
    assert bytes(await video.recv()) == b"\x00key2"  # resumes at the newest keyframe
    assert video.dropped == 40 and asked == []
