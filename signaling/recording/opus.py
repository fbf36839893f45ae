"""Opus packets as RFC 6716/7845 frame them: durations, self-delimiting framing, headers (pure)."""

from __future__ import annotations

import struct

RATE = 48_000  # Opus always counts time in 48 kHz samples
FRAME = 960  # 20 ms, what browsers send by default (ptime 20)
# One 20 ms CELT frame that decodes to digital silence (TOC 0xF8: config 31, mono, code 0);
# what the relay sends before the other side speaks and what a gap is filled with.
SILENCE = b"\xf8\xff\xfe"
VENDOR = b"engage"


class OpusPacketError(ValueError):
    """The bytes are not a well-formed Opus packet (RFC 6716 section 3)."""


def _frame_samples(toc: int) -> int:
    """Samples (48 kHz) of one frame, from the TOC's configuration number."""
    config = toc >> 3
    if config < 12:  # SILK: 10, 20, 40, 60 ms
        return (480, 960, 1920, 2880)[config & 3]
    if config < 16:  # hybrid: 10, 20 ms
        return (480, 960)[config & 1]
    return (120, 240, 480, 960)[config & 3]  # CELT: 2.5, 5, 10, 20 ms


def samples(packet: bytes) -> int:
    """The duration of a packet in 48 kHz samples (0 for an empty packet)."""
    if not packet:
        return 0
    code = packet[0] & 3
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        if len(packet) < 2:
            raise OpusPacketError("a code 3 packet has a frame count byte")
        count = packet[1] & 0x3F
        if count == 0:
            raise OpusPacketError("a code 3 packet has at least one frame")
    total = count * _frame_samples(packet[0])
    if total > 5760:
        raise OpusPacketError("a packet lasts at most 120 ms")
    return total


def _length(value: int) -> bytes:
    """A frame length as RFC 6716 3.1 codes it (one byte below 252, else two)."""
    if value < 252:
        return bytes((value,))
    first = 252 + (value & 3)
    return bytes((first, (value - first) >> 2))


def _read_length(packet: bytes, at: int) -> tuple[int, int]:
    """(frame length, position after it)."""
    if at >= len(packet):
        raise OpusPacketError("the packet ends inside a frame length")
    first = packet[at]
    if first < 252:
        return first, at + 1
    if at + 1 >= len(packet):
        raise OpusPacketError("the packet ends inside a frame length")
    return first + 4 * packet[at + 1], at + 2


def self_delimited(packet: bytes) -> bytes:
    """The same packet in self-delimiting framing (RFC 6716 appendix B), as every stream but
    the last of a multistream packet must be."""
    if not packet:
        raise OpusPacketError("an empty packet has no TOC byte")
    samples(packet)  # checks the frame count
    code = packet[0] & 3
    if code == 0:
        return packet[:1] + _length(len(packet) - 1) + packet[1:]
    if code == 1:
        if (len(packet) - 1) % 2:
            raise OpusPacketError("a code 1 packet holds two frames of equal size")
        return packet[:1] + _length((len(packet) - 1) // 2) + packet[1:]
    if code == 2:
        first, at = _read_length(packet, 1)
        last = len(packet) - at - first
        if last < 0:
            raise OpusPacketError("the first frame is longer than the packet")
        return packet[:at] + _length(last) + packet[at:]
    count, vbr, padded = packet[1] & 0x3F, packet[1] & 0x80, packet[1] & 0x40
    at, padding = 2, 0
    while padded:
        if at >= len(packet):
            raise OpusPacketError("the packet ends inside its padding length")
        step = packet[at]
        padding += 254 if step == 255 else step
        padded = step == 255
        at += 1
    lengths = []
    if vbr:
        for _ in range(count - 1):
            size, at = _read_length(packet, at)
            lengths.append(size)
    data = len(packet) - at - padding
    if vbr:
        last = data - sum(lengths)
    else:
        if data % count:
            raise OpusPacketError("a constant-bitrate packet holds frames of equal size")
        last = data // count
    if last < 0:
        raise OpusPacketError("the frames are longer than the packet")
    return packet[:at] + _length(last) + packet[at:]


def pair(left: bytes, right: bytes) -> bytes:
    """One packet of a two-stream Opus stream: ``left`` (self-delimited) then ``right``.
    Both must last as long; each may be mono or stereo (a mono decoder downmixes)."""
    if samples(left) != samples(right):
        raise OpusPacketError("the streams of one packet must last equally long")
    return self_delimited(left) + right


def dual_channel_head(pre_skip: int = 0) -> bytes:
    """The OpusHead of a stereo file whose left and right channels are two independent mono
    streams (channel mapping family 1, two streams, none coupled; RFC 7845 5.1.1)."""
    return (b"OpusHead" + struct.pack("<BBHIhB", 1, 2, pre_skip, RATE, 0, 1)
            + bytes((2, 0, 0, 1)))


def tags(comments: dict[str, str]) -> bytes:
    """An OpusTags packet (RFC 7845 5.2)."""
    body = [f"{key.upper()}={value}".encode() for key, value in comments.items()]
    out = b"OpusTags" + struct.pack("<I", len(VENDOR)) + VENDOR + struct.pack("<I", len(body))
    return out + b"".join(struct.pack("<I", len(item)) + item for item in body)
