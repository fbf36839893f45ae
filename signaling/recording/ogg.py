"""Ogg pages (RFC 3533) around Opus packets, written as they come (page building is pure)."""

from __future__ import annotations

import secrets
import struct
import zlib
from typing import BinaryIO

from signaling.recording.opus import dual_channel_head, tags

BOS, EOS = 0x02, 0x04
MAX_SEGMENTS = 255
PAGE_PACKETS = 50  # one page a second: a crash loses at most that, pages stay small
# Ogg's CRC is the unreflected CRC-32 (poly 0x04C11DB7, init 0, no final xor). zlib only has
# the reflected one, so bytes go in bit-reversed and the result comes out bit-reversed; that
# keeps the work in C.
_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _reverse32(value: int) -> int:
    return int.from_bytes(value.to_bytes(4, "little").translate(_REVERSED), "big")


def crc(data: bytes) -> int:
    return _reverse32(zlib.crc32(data.translate(_REVERSED), 0xFFFFFFFF) ^ 0xFFFFFFFF)


def lacing(size: int) -> bytes:
    """The segment-table entries of one packet of ``size`` bytes."""
    return b"\xff" * (size // 255) + bytes((size % 255,))


def page(packets: list[bytes], *, serial: int, sequence: int, granule: int,
         flags: int = 0) -> bytes:
    """One page holding whole ``packets`` (their lacing must fit 255 segments)."""
    table = b"".join(lacing(len(p)) for p in packets)
    if len(table) > MAX_SEGMENTS:
        raise ValueError("the packets need more than 255 segments")
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, sequence, 0,
                         len(table))
    body = header + table + b"".join(packets)
    return body[:22] + struct.pack("<I", crc(body)) + body[26:]


class OggOpusWriter:
    """A two-channel Ogg Opus file: pages of paired packets, one 20 ms slot each."""

    content_type = "audio/ogg"
    extension = "ogg"

    def __init__(self, out: BinaryIO, frame_samples: int, comments: dict[str, str]) -> None:
        self._out = out
        self._frame = frame_samples
        self._serial = secrets.randbits(32)
        self._sequence = 0
        self._pending: list[bytes] = []
        self._segments = 0
        self.samples = 0  # written and pending, 48 kHz
        self._write([dual_channel_head()], 0, BOS)
        self._write([tags(comments)], 0)

    def _write(self, packets: list[bytes], granule: int, flags: int = 0) -> None:
        self._out.write(page(packets, serial=self._serial, sequence=self._sequence,
                             granule=granule, flags=flags))
        self._sequence += 1

    def add(self, packet: bytes) -> None:
        need = len(packet) // 255 + 1
        if self._segments + need > MAX_SEGMENTS or len(self._pending) >= PAGE_PACKETS:
            self._flush()
        self._pending.append(packet)
        self._segments += need
        self.samples += self._frame

    def _flush(self, flags: int = 0) -> None:
        if self._pending or flags:
            self._write(self._pending, self.samples, flags)
            self._pending, self._segments = [], 0
            self._out.flush()

    def close(self) -> None:
        self._flush(EOS)
