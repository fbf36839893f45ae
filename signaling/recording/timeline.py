"""Two sides' audio on one clock: each Opus packet to its 20 ms slot, pairs out in order (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from signaling.recording.opus import FRAME, RATE, SILENCE, OpusPacketError, pair, samples

SLOT_MS = FRAME * 1000 // RATE
# A slot is written once a packet this much later arrived from either side: the jitter the
# recording absorbs (later packets are dropped from the file, never from the call).
HORIZON_SLOTS = 25
# RTP time that disagrees with arrival time by more than this re-anchors the side (a new
# sender after renegotiation, a timestamp jump, a peer that paused).
REANCHOR_SLOTS = 50


@dataclass
class _Side:
    ssrc: int | None = None
    rtp_origin: int = 0
    slot_origin: int = 0
    slots: dict[int, bytes] = field(default_factory=dict)
    packets: int = 0  # accepted into the timeline
    odd: int = 0  # not 20 ms: recorded as silence
    late: int = 0  # arrived after their slot was written


@dataclass
class DualTimeline:
    """Left and right channels (agent, visitor) in 20 ms slots from the first packet heard.

    A side's first packet is placed by its arrival time; later ones by their RTP timestamps,
    so network jitter does not move them. ``ready()`` hands out the paired packets of every
    slot that can no longer change; ``drain()`` the rest at the end.
    """

    horizon: int = HORIZON_SLOTS
    origin_ms: float | None = None
    next_slot: int = 0
    newest: int = -1
    sides: tuple[_Side, _Side] = field(default_factory=lambda: (_Side(), _Side()))

    def add(self, channel: int, payload: bytes, *, ssrc: int, timestamp: int,
            arrival_ms: float) -> None:
        side = self.sides[channel]
        try:
            duration = samples(payload)
        except OpusPacketError:
            return
        if duration == 0:
            return
        if self.origin_ms is None:
            self.origin_ms = arrival_ms
        heard = round((arrival_ms - self.origin_ms) / SLOT_MS)
        slot = None
        if side.ssrc == ssrc:
            elapsed = (timestamp - side.rtp_origin + 2**31) % 2**32 - 2**31
            slot = side.slot_origin + round(elapsed / FRAME)
            if abs(slot - heard) > REANCHOR_SLOTS:
                slot = None
        if slot is None:
            side.ssrc, side.rtp_origin, side.slot_origin, slot = ssrc, timestamp, heard, heard
        if slot < self.next_slot or slot in side.slots:
            side.late += 1
            return
        if duration != FRAME:
            side.odd += 1
            payload = SILENCE
        side.slots[slot] = payload
        side.packets += 1
        self.newest = max(self.newest, slot)

    def _take(self, until: int) -> list[bytes]:
        out = []
        left, right = self.sides
        while self.next_slot <= until:
            out.append(pair(left.slots.pop(self.next_slot, SILENCE),
                            right.slots.pop(self.next_slot, SILENCE)))
            self.next_slot += 1
        return out

    def ready(self) -> list[bytes]:
        """Paired packets of the slots that are final now, in order."""
        return self._take(self.newest - self.horizon)

    def drain(self) -> list[bytes]:
        """Every remaining slot up to the newest packet heard."""
        return self._take(self.newest)
