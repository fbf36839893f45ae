"""Two sides' packets on one recording clock: placement, jitter, re-anchoring, late packets."""

from __future__ import annotations

from signaling.recording.opus import SILENCE, pair
from signaling.recording.timeline import HORIZON_SLOTS, REANCHOR_SLOTS, DualTimeline

FRAME = 960


def voice(n: int) -> bytes:
    """A distinguishable 20 ms packet (CELT FB, code 0)."""
    return bytes((0xF8,)) + n.to_bytes(2, "big")


def slots(out: list[bytes]) -> list[tuple[bytes, bytes]]:
    """Undo ``pair`` for our 3-byte packets: (left, right) of every slot."""
    result = []
    for packet in out:
        left_len = packet[1]
        result.append((packet[:1] + packet[2:2 + left_len], packet[2 + left_len:]))
    return result


def test_slots_come_from_arrival_then_from_rtp_time_so_jitter_does_not_move_them() -> None:
    timeline = DualTimeline()
    for n in range(10):
        jitter = (7, -6, 9, 0)[n % 4]  # arrival wobbles; RTP time is exact
        timeline.add(0, voice(n), ssrc=1, timestamp=50_000 + n * FRAME,
                     arrival_ms=1_000 + 20 * n + jitter)
    timeline.add(1, voice(100), ssrc=2, timestamp=7, arrival_ms=1_000 + 20 * 4 + 3)
    out = slots(timeline.drain())
    assert [left for left, _ in out] == [voice(n) for n in range(10)]
    assert [right for _, right in out] == [SILENCE] * 4 + [voice(100)] + [SILENCE] * 5


def test_only_slots_beyond_the_horizon_are_ready() -> None:
    timeline = DualTimeline()
    for n in range(HORIZON_SLOTS + 3):
        timeline.add(0, voice(n), ssrc=1, timestamp=n * FRAME, arrival_ms=20.0 * n)
    assert len(timeline.ready()) == 3
    assert timeline.ready() == []
    assert len(timeline.drain()) == HORIZON_SLOTS
    assert timeline.next_slot == HORIZON_SLOTS + 3


def test_gaps_are_silence_and_a_late_or_repeated_packet_is_dropped() -> None:
    timeline = DualTimeline(horizon=2)
    for n in (0, 1, 4, 5, 6):
        timeline.add(0, voice(n), ssrc=1, timestamp=n * FRAME, arrival_ms=20.0 * n)
    out = slots(timeline.ready())
    assert [left for left, _ in out] == [voice(0), voice(1), SILENCE, SILENCE, voice(4)]
    timeline.add(0, voice(2), ssrc=1, timestamp=2 * FRAME, arrival_ms=130)  # too late
    timeline.add(0, voice(6), ssrc=1, timestamp=6 * FRAME, arrival_ms=131)  # a repeat
    assert timeline.sides[0].late == 2 and timeline.sides[0].packets == 5


def test_a_new_sender_or_a_jump_in_rtp_time_re_anchors_on_arrival() -> None:
    timeline = DualTimeline()
    timeline.add(0, voice(0), ssrc=1, timestamp=0, arrival_ms=0)
    timeline.add(0, voice(1), ssrc=2, timestamp=123_456, arrival_ms=20)  # renegotiated
    far = 123_456 + (REANCHOR_SLOTS + 10) * FRAME
    timeline.add(0, voice(2), ssrc=2, timestamp=far, arrival_ms=40)  # a bogus jump
    timeline.add(0, voice(3), ssrc=2, timestamp=far + FRAME, arrival_ms=60)
    assert [left for left, _ in slots(timeline.drain())] == [voice(n) for n in range(4)]


def test_packets_that_are_not_20_ms_are_recorded_as_silence() -> None:
    timeline = DualTimeline()
    forty_ms = bytes((0xF8 | 1,)) + b"abcd"  # code 1: two 20 ms frames
    timeline.add(1, forty_ms, ssrc=1, timestamp=0, arrival_ms=0)
    timeline.add(1, b"", ssrc=1, timestamp=960, arrival_ms=20)  # empty: ignored
    timeline.add(1, b"\xfb", ssrc=1, timestamp=960, arrival_ms=20)  # code 3, no count
    assert timeline.drain() == [pair(SILENCE, SILENCE)]
    assert timeline.sides[1].odd == 1 and timeline.sides[1].packets == 1
