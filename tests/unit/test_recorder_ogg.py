"""Ogg pages around Opus packets: CRC, lacing, page layout, and a file PyAV plays."""

from __future__ import annotations

import io
import struct

import av
import pytest

from signaling.recording.ogg import BOS, EOS, OggOpusWriter, crc, lacing, page
from signaling.recording.opus import SILENCE, pair


def reference_crc(data: bytes) -> int:
    """Ogg's CRC bit by bit (poly 0x04C11DB7, unreflected, init 0, no final xor)."""
    value = 0
    for byte in data:
        value ^= byte << 24
        for _ in range(8):
            value = ((value << 1) ^ 0x04C11DB7) if value & 0x80000000 else value << 1
            value &= 0xFFFFFFFF
    return value


@pytest.mark.parametrize("data", [b"", b"OggS", bytes(range(256)) * 3])
def test_crc_is_oggs(data: bytes) -> None:
    assert crc(data) == reference_crc(data)


def test_lacing_ends_every_packet_with_a_short_segment() -> None:
    assert lacing(0) == b"\x00"
    assert lacing(254) == b"\xfe"
    assert lacing(255) == b"\xff\x00"
    assert lacing(600) == b"\xff\xff\x5a"


def test_a_page_carries_its_header_table_and_checksum() -> None:
    raw = page([b"abc", bytes(255)], serial=7, sequence=3, granule=1920, flags=BOS)
    magic, version, flags, granule, serial, sequence, checksum, count = struct.unpack(
        "<4sBBqIIIB", raw[:27])
    assert (magic, version, flags, granule, serial, sequence) == (b"OggS", 0, BOS, 1920, 7, 3)
    assert raw[27:27 + count] == b"\x03\xff\x00" and raw.endswith(b"abc" + bytes(255))
    assert checksum == reference_crc(raw[:22] + bytes(4) + raw[26:])
    with pytest.raises(ValueError):
        page([bytes(255 * 255)], serial=1, sequence=0, granule=0)


def _pages(data: bytes) -> list[tuple[int, int, int]]:
    """(flags, granule, packets) of every page."""
    out, at = [], 0
    while at < len(data):
        flags, granule = data[at + 5], struct.unpack("<q", data[at + 6:at + 14])[0]
        count = data[at + 26]
        table = data[at + 27:at + 27 + count]
        out.append((flags, granule, sum(1 for size in table if size < 255)))
        at += 27 + count + sum(table)
    return out


def test_the_writer_makes_a_file_that_plays_for_as_long_as_its_packets() -> None:
    buffer = io.BytesIO()
    writer = OggOpusWriter(buffer, 960, {"title": "call"})
    for _ in range(120):
        writer.add(pair(SILENCE, SILENCE))
    writer.close()
    pages = _pages(buffer.getvalue())
    assert pages[0] == (BOS, 0, 1) and pages[1] == (0, 0, 1)  # OpusHead, OpusTags
    assert [p[1] for p in pages[2:]] == [50 * 960, 100 * 960, 120 * 960]
    assert pages[-1][0] == EOS and sum(p[2] for p in pages[2:]) == 120
    buffer.seek(0)
    with av.open(buffer, format="ogg") as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.channels == 2
        assert stream.metadata["TITLE"] == "call"
        assert sum(frame.samples for frame in container.decode(stream)) == 120 * 960
