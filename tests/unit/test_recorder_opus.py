"""Opus packet framing (RFC 6716): durations, self-delimiting framing, the dual-channel head."""

from __future__ import annotations

import fractions
import struct

import av
import numpy as np
import pytest

from signaling.recording.opus import (
    SILENCE,
    OpusPacketError,
    dual_channel_head,
    pair,
    samples,
    self_delimited,
    tags,
)


def toc(config: int, code: int, stereo: bool = False) -> int:
    return config << 3 | int(stereo) << 2 | code


@pytest.mark.parametrize("config, per_frame", [
    (0, 480), (1, 960), (2, 1920), (3, 2880),  # SILK NB 10/20/40/60 ms
    (12, 480), (13, 960),  # hybrid SWB 10/20 ms
    (16, 120), (17, 240), (18, 480), (19, 960), (31, 960)])  # CELT 2.5/5/10/20 ms
def test_a_packet_lasts_its_frames(config: int, per_frame: int) -> None:
    assert samples(bytes((toc(config, 0), 1, 2))) == per_frame
    assert samples(bytes((toc(config, 1), 1, 2))) == 2 * per_frame
    assert samples(bytes((toc(config, 2), 1, 7))) == 2 * per_frame
    frames = 5760 // per_frame if per_frame >= 960 else 3
    assert samples(bytes((toc(config, 3), frames, 0))) == frames * per_frame


def test_impossible_packets_are_errors() -> None:
    assert samples(b"") == 0
    with pytest.raises(OpusPacketError):
        samples(bytes((toc(31, 3),)))  # no frame count
    with pytest.raises(OpusPacketError):
        samples(bytes((toc(31, 3), 0)))  # zero frames
    with pytest.raises(OpusPacketError):
        samples(bytes((toc(3, 3), 3)))  # 180 ms


def test_self_delimiting_adds_the_last_frames_length() -> None:
    assert self_delimited(SILENCE) == b"\xf8\x02\xff\xfe"
    assert self_delimited(bytes((toc(31, 1),)) + b"abcd") == bytes((toc(31, 1), 2)) + b"abcd"
    code2 = bytes((toc(31, 2), 1)) + b"a" + b"bcd"
    assert self_delimited(code2) == bytes((toc(31, 2), 1, 3)) + b"abcd"
    cbr = bytes((toc(31, 3), 2)) + b"abcd"
    assert self_delimited(cbr) == bytes((toc(31, 3), 2, 2)) + b"abcd"
    vbr_padded = bytes((toc(31, 3), 0x80 | 0x40 | 2, 2, 1)) + b"a" + b"bcd" + b"\0\0"
    assert self_delimited(vbr_padded) == bytes((toc(31, 3), 0xC2, 2, 1, 3)) + b"abcd\0\0"


def test_long_frames_take_two_length_bytes() -> None:
    frame = bytes(300)
    out = self_delimited(bytes((toc(31, 0),)) + frame)
    assert out[1] >= 252 and out[1] + 4 * out[2] == 300 and out[3:] == frame


@pytest.mark.parametrize("packet", [
    bytes((toc(31, 1),)) + b"abc",  # code 1 frames of unequal size
    bytes((toc(31, 2), 9)) + b"abc",  # first frame longer than the packet
    bytes((toc(31, 3), 3)) + b"abcd",  # CBR bytes not divisible by the frames
    bytes((toc(31, 3), 0x40 | 1, 255)),  # padding length runs off the end
])
def test_malformed_packets_cannot_be_delimited(packet: bytes) -> None:
    with pytest.raises(OpusPacketError):
        self_delimited(packet)


def test_a_pair_needs_equal_durations() -> None:
    assert pair(SILENCE, SILENCE) == self_delimited(SILENCE) + SILENCE
    with pytest.raises(OpusPacketError):
        pair(SILENCE, bytes((toc(18, 0), 0)))  # 20 ms with 10 ms


def test_the_head_maps_two_mono_streams_to_left_and_right() -> None:
    head = dual_channel_head()
    assert head[:8] == b"OpusHead" and head[9] == 2  # version 1, two channels
    assert struct.unpack("<HIhB", head[10:19]) == (0, 48_000, 0, 1)  # family 1
    assert head[19:] == bytes((2, 0, 0, 1))  # two streams, none coupled, L=0 R=1
    assert tags({"title": "x"}).startswith(b"OpusTags") and b"TITLE=x" in tags({"title": "x"})


def test_libopus_decodes_real_packets_paired_with_silence() -> None:
    """A real encoder's packet stays intact through the framing: decoding the pair gives
    the tone on the left channel and silence on the right."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48_000, "mono", "s16"
    encoder.time_base = fractions.Fraction(1, 48_000)
    packets: list[bytes] = []
    for n in range(10):
        t = (np.arange(960) + 960 * n) / 48_000
        pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 48_000, 960 * n, encoder.time_base
        packets += [bytes(p) for p in encoder.encode(frame)]
    decoder = av.CodecContext.create("opus", "r")
    decoder.extradata = dual_channel_head()
    decoded = []
    for n, packet in enumerate(packets):
        framed = av.Packet(pair(packet, SILENCE))
        framed.pts = 960 * n
        decoded += [f.to_ndarray() for f in decoder.decode(framed)]
    pcm = np.concatenate(decoded, axis=1)
    assert pcm.shape == (2, 960 * len(packets))
    assert np.abs(pcm[0]).max() > 0.1 and np.abs(pcm[1]).max() == 0
