"""A recorded call's file as the server peer hears it: stereo Ogg Opus, or WebM with video."""

from __future__ import annotations

import fractions
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import av

from signaling.recording.ogg import OggOpusWriter
from signaling.recording.opus import FRAME, RATE, SILENCE, pair
from signaling.recording.timeline import SLOT_MS, DualTimeline

VIDEO_DEFAULT = (640, 480)  # declared for a side that never sends a keyframe in time
START_PACKETS = 250  # a WebM file starts at the latest after 5 s of audio...
START_FRAMES = 300  # ...or this many buffered video frames
MS = fractions.Fraction(1, 1000)
AUDIO_TIME_BASE = fractions.Fraction(1, RATE)


@dataclass(frozen=True)
class RecordedMedia:
    """What a closed recording holds."""

    recording_id: str
    duration_ms: int
    size: int
    content_type: str


def vp8_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height of a VP8 keyframe (RFC 6386 9.1), None for other frames."""
    if len(frame) < 10 or frame[0] & 1 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    return (int.from_bytes(frame[6:8], "little") & 0x3FFF,
            int.from_bytes(frame[8:10], "little") & 0x3FFF)


@dataclass
class _VideoSide:
    size: tuple[int, int] | None = None
    ssrc: int | None = None
    rtp_origin: int = 0
    ms_origin: float = 0.0
    last_ms: int = -1


class CallRecording:
    """Both sides' media of one recorded call to ``path`` (``.ogg`` or ``.webm``).

    Nothing is decoded or re-encoded. Audio is one stereo Opus stream, the agent on the left
    channel and the visitor on the right (two mono streams paired per 20 ms, RFC 7845 channel
    mapping 1): what QA listens to and what speech analytics wants, at no codec cost. A call
    that had video at its start is a WebM file instead: that audio plus each side's VP8 as it
    was sent (MP4 cannot hold VP8 without re-encoding; WebM is WebRTC's own container).
    """

    def __init__(self, path: Path, *, video: bool, comments: dict[str, str],
                 recording_id: str = "") -> None:
        self.recording_id = recording_id
        self.path = path
        self.video_file = video
        self.timeline = DualTimeline()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out: BinaryIO = open(path, "wb")  # closed in close()
        self._ogg = None if video else OggOpusWriter(self._out, FRAME, comments)
        self._webm = _WebmWriter(self._out, comments) if video else None
        self._video_sides = (_VideoSide(), _VideoSide())
        self.closed = False

    @property
    def content_type(self) -> str:
        return "video/webm" if self.video_file else "audio/ogg"

    def _origin(self, arrival_ms: float) -> None:
        if self.timeline.origin_ms is None:
            self.timeline.origin_ms = arrival_ms

    def audio(self, channel: int, payload: bytes, *, ssrc: int, timestamp: int,
              arrival_ms: float) -> None:
        if self.closed:
            return
        self._origin(arrival_ms)
        self.timeline.add(channel, payload, ssrc=ssrc, timestamp=timestamp,
                          arrival_ms=arrival_ms)
        self._write_audio(self.timeline.ready())

    def video(self, channel: int, frame: bytes, *, ssrc: int, timestamp: int,
              arrival_ms: float) -> None:
        if self.closed or self._webm is None:
            return  # video that starts in an audio call is relayed, not recorded
        self._origin(arrival_ms)
        assert self.timeline.origin_ms is not None
        side = self._video_sides[channel]
        if side.size is None:
            side.size = vp8_size(frame)
            if side.size is None:
                return  # a decoder needs a keyframe first
        heard = arrival_ms - self.timeline.origin_ms
        at = None
        if side.ssrc == ssrc:
            at = side.ms_origin + ((timestamp - side.rtp_origin + 2**31) % 2**32 - 2**31) / 90
            if abs(at - heard) > 1000:
                at = None  # a new sender or a long pause: back to the arrival clock
        if at is None:
            side.ssrc, side.rtp_origin, side.ms_origin, at = ssrc, timestamp, heard, heard
        pts = round(at)
        if pts <= side.last_ms:
            return  # a retransmission or a frame out of order: the stream must not go back
        side.last_ms = pts
        self._webm.video(channel, frame, pts, side.size)

    def _write_audio(self, packets: list[bytes]) -> None:
        if self._ogg is not None:
            for packet in packets:
                self._ogg.add(packet)
        elif self._webm is not None:
            start = self.timeline.next_slot - len(packets)
            for n, packet in enumerate(packets):
                self._webm.audio(packet, (start + n) * FRAME)

    def close(self) -> RecordedMedia:
        """Write what is left and close the file (idempotent)."""
        if not self.closed:
            self.closed = True
            try:
                self._write_audio(self.timeline.drain())
                if self._ogg is not None:
                    self._ogg.close()
                elif self._webm is not None:
                    self._webm.close()
                self._out.flush()
                os.fsync(self._out.fileno())  # the document will say it is complete
            finally:
                self._out.close()
        audio_ms = self.timeline.next_slot * SLOT_MS
        video_ms = max(side.last_ms for side in self._video_sides) + 1
        return RecordedMedia(recording_id=self.recording_id,
                             duration_ms=max(audio_ms, video_ms),
                             size=self.path.stat().st_size, content_type=self.content_type)


def _audio_template() -> Any:
    """An in-memory Ogg holding our stereo OpusHead: PyAV copies stream parameters from an
    input stream without opening an encoder (which would replace the OpusHead)."""
    buffer = io.BytesIO()
    ogg = OggOpusWriter(buffer, FRAME, {})
    ogg.add(pair(SILENCE, SILENCE))
    ogg.close()
    buffer.seek(0)
    return av.open(buffer, format="ogg")


@dataclass
class _WebmWriter:
    """WebM muxing that starts once both sides' picture sizes are known (or it has waited
    long enough); until then packets wait in memory."""

    out: BinaryIO
    comments: dict[str, str]
    sizes: list[tuple[int, int] | None] = field(default_factory=lambda: [None, None])
    waiting: list[tuple[int, bytes, int, bool]] = field(default_factory=list)
    container: Any = None
    streams: list[Any] = field(default_factory=list)
    audio_waiting: int = 0

    def audio(self, packet: bytes, pts: int) -> None:
        self._add(-1, packet, pts, True)
        self.audio_waiting += 1

    def video(self, channel: int, frame: bytes, pts_ms: int, size: tuple[int, int]) -> None:
        if self.sizes[channel] is None:
            self.sizes[channel] = size
        self._add(channel, frame, pts_ms, vp8_size(frame) is not None)

    def _add(self, channel: int, data: bytes, pts: int, key: bool) -> None:
        if self.container is None:
            self.waiting.append((channel, data, pts, key))
            if None in self.sizes and self.audio_waiting < START_PACKETS \
                    and len(self.waiting) < START_PACKETS + START_FRAMES:
                return
            self._start()
            return
        self._mux(channel, data, pts, key)

    def _start(self) -> None:
        self.container = av.open(self.out, "w", format="webm")
        for key, value in self.comments.items():
            self.container.metadata[key] = value
        template = _audio_template()
        try:
            self.streams.append(self.container.add_stream_from_template(template.streams.audio[0]))
        finally:
            template.close()
        for channel in (0, 1):
            width, height = self.sizes[channel] or VIDEO_DEFAULT
            stream = self.container.add_stream("vp8", rate=30)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.metadata["title"] = ("agent", "visitor")[channel]
            self.streams.append(stream)
        waiting, self.waiting = self.waiting, []
        for item in waiting:
            self._mux(*item)

    def _mux(self, channel: int, data: bytes, pts: int, key: bool) -> None:
        packet = av.Packet(data)
        packet.stream = self.streams[channel + 1]
        packet.pts = packet.dts = pts
        packet.time_base = AUDIO_TIME_BASE if channel < 0 else MS
        packet.is_keyframe = key
        self.container.mux(packet)

    def close(self) -> None:
        if self.container is None and self.waiting:
            self._start()
        if self.container is not None:
            self.container.close()
