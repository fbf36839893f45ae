"""The SDP and ICE candidate policy, with descriptions aiortc produced as the valid baseline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from engage.calls.sdp_policy import (
    MAX_CANDIDATE_CHARS,
    MAX_SDP_BYTES,
    CandidateRefused,
    SdpRefused,
    check_address,
    check_candidate,
    check_sdp,
)


async def browser_offer(*kinds: str) -> str:
    """A real offer from an aiortc peer with these transceivers (what a browser sends)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        for kind in kinds:
            pc.addTransceiver(kind)
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


@pytest.fixture(scope="module")
def offer() -> str:
    """A real audio + video offer, host candidates included (aiortc gathers before it
    describes)."""
    return asyncio.run(browser_offer("audio", "video"))


def _lines(sdp: str) -> list[str]:
    return sdp.rstrip("\r\n").split("\r\n")


def _join(lines: list[str]) -> str:
    return "\r\n".join(lines) + "\r\n"


def _without(prefix: str) -> Callable[[str], str]:
    return lambda sdp: _join([line for line in _lines(sdp) if not line.startswith(prefix)])


def _first_m_line(rewrite: Callable[[str], str]) -> Callable[[str], str]:
    def apply(sdp: str) -> str:
        lines = _lines(sdp)
        i = next(i for i, line in enumerate(lines) if line.startswith("m="))
        lines[i] = rewrite(lines[i])
        return _join(lines)
    return apply


def _extra_sections(count: int) -> Callable[[str], str]:
    def apply(sdp: str) -> str:
        lines = _lines(sdp)
        start = next(i for i, line in enumerate(lines) if line.startswith("m=audio"))
        end = next(i for i, line in enumerate(lines) if i > start and line.startswith("m="))
        return _join(lines + lines[start:end] * count)
    return apply


def _extra_candidates(count: int) -> Callable[[str], str]:
    def apply(sdp: str) -> str:
        lines = _lines(sdp)
        i = next(i for i, line in enumerate(lines) if line.startswith("a=candidate:"))
        extra = [f"a=candidate:x{n} 1 udp 2130706431 192.0.2.{n % 250 + 1} {10000 + n} typ host"
                 for n in range(count)]
        return _join(lines[:i] + extra + lines[i:])
    return apply


async def test_aiortc_offers_and_answers_are_accepted(offer: str) -> None:
    summary = check_sdp(offer)
    assert summary.media == ("audio", "video")
    assert summary.candidates >= 2  # each section lists the host candidates
    assert check_sdp(offer.encode()).media == ("audio", "video")
    assert check_sdp(offer.replace("\r\n", "\n")).media == ("audio", "video")

    audio_only = await browser_offer("audio")
    offerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    answerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        offerer.addTransceiver("audio")
        await offerer.setLocalDescription(await offerer.createOffer())
        await answerer.setRemoteDescription(offerer.localDescription)
        await answerer.setLocalDescription(await answerer.createAnswer())
        assert check_sdp(answerer.localDescription.sdp).media == ("audio",)
    finally:
        await offerer.close()
        await answerer.close()
    assert check_sdp(audio_only).media == ("audio",)


@pytest.mark.parametrize(("name", "mutate", "reason"), [
    ("empty", lambda sdp: "", "empty"),
    ("blank", lambda sdp: " \r\n\r\n", "empty"),
    ("no v=0", lambda sdp: sdp.replace("v=0\r\n", "", 1), "malformed"),
    ("not a line", lambda sdp: sdp + "hello world\r\n", "malformed"),
    ("control character", lambda sdp: sdp.replace("s=-", "s=\x01", 1), "malformed"),
    ("no m= section", lambda sdp: _join(_lines(sdp)[:_lines(sdp).index(
        next(x for x in _lines(sdp) if x.startswith("m=")))]), "no_media"),
    ("no fingerprint", _without("a=fingerprint:"), "no_fingerprint"),
    ("bad fingerprint", lambda sdp: sdp.replace("a=fingerprint:sha-256 ",
                                                "a=fingerprint:md5 ", 1), "no_fingerprint"),
    ("payload type 128", _first_m_line(lambda m: m + " 128"), "bad_payload_type"),
    ("payload type -1", _first_m_line(lambda m: m + " -1"), "bad_payload_type"),
    ("payload type word", _first_m_line(lambda m: m + " opus"), "bad_payload_type"),
    ("rtpmap 300", lambda sdp: sdp.replace("a=rtpmap:96 ", "a=rtpmap:300 ", 1),
     "bad_payload_type"),
    ("65 payload types", _first_m_line(
        lambda m: " ".join(m.split(" ")[:3] + [str(n) for n in range(65)])),
     "too_many_payload_types"),
    ("21 m= sections", _extra_sections(19), "too_many_media"),
    ("51 candidates", _extra_candidates(51), "too_many_candidates"),
    ("bad candidate", lambda sdp: sdp.replace(" typ host", " typ nonsense", 1),
     "bad_candidate"),
    ("over 64 KB", lambda sdp: sdp + "a=x-pad:" + "p" * MAX_SDP_BYTES + "\r\n", "too_large"),
    ("lone surrogate", lambda sdp: sdp.replace("s=-", "s=\ud800", 1), "not_utf8"),
])
def test_malformed_descriptions_are_refused_with_their_reason(
        offer: str, name: str, mutate: Callable[[str], str], reason: str) -> None:
    bad = mutate(offer)
    with pytest.raises(SdpRefused) as refused:
        check_sdp(bad)
    assert refused.value.code == "invalid_sdp"
    assert refused.value.reason == reason, (name, refused.value.message)
    assert refused.value.to_ack()["reason"] == reason


def test_a_description_that_is_not_utf8_bytes_is_refused(offer: str) -> None:
    with pytest.raises(SdpRefused) as refused:
        check_sdp(offer.encode().replace(b"s=-", b"s=\xff\xfe", 1))
    assert refused.value.reason == "not_utf8"


def test_limits_are_inclusive(offer: str) -> None:
    assert len(check_sdp(_extra_sections(18)(offer)).media) == 20
    assert check_sdp(_extra_candidates(50 - check_sdp(offer).candidates)(offer)).candidates == 50
    check_sdp(_first_m_line(lambda m: " ".join(m.split(" ")[:3] +
                                               [str(n) for n in range(64)]))(offer))
    # A rejected section (port 0) needs no fingerprint of its own.
    rejected = _join([*_lines(offer), "m=audio 0 UDP/TLS/RTP/SAVPF 0"])
    assert check_sdp(rejected).media[-1] == "audio"


HOST = "candidate:842163049 1 udp 1677729535 203.0.113.5 54321 typ srflx raddr 0.0.0.0 rport 0"


@pytest.mark.parametrize("line", [
    HOST,
    HOST + " generation 0 ufrag EsAw network-cost 999",
    "candidate:1 1 UDP 2130706431 192.168.1.20 50000 typ host",
    "candidate:2 2 udp 2130706431 10.0.0.7 50001 typ host",
    "candidate:3 1 tcp 1518280447 192.168.1.20 9 typ host tcptype active",
    "candidate:4 1 udp 2122260223 2001:db8::1 50002 typ host",
    "candidate:5 1 udp 2122260223 5f1a0a8c-0b7c-4b7a-9d29-4c84d0a1e9c2.local 50003 typ host",
    "candidate:6 1 udp 41885439 198.51.100.9 3478 typ relay raddr 203.0.113.5 rport 54321",
    "candidate:7 1 udp 2130706431 127.0.0.1 50004 typ host",  # useless but harmless p2p
    "candidate:8 1 udp 2130706431 169.254.3.4 50005 typ host",
])
def test_candidates_of_peer_to_peer_calls(line: str) -> None:
    candidate = check_candidate(line)
    assert candidate.component in (1, 2) and candidate.transport in ("udp", "tcp")


@pytest.mark.parametrize(("line", "reason"), [
    ("", "grammar"),
    ("a=candidate:1 1 udp 1 192.0.2.1 5000 typ host", "grammar"),
    ("candidate:1 1 udp 1 192.0.2.1 5000 host", "grammar"),
    ("candidate:1 1 udp 1 192.0.2.1 5000 typ", "grammar"),
    ("candidate:1  1 udp 1 192.0.2.1 5000 typ host", "grammar"),
    ("candidate:f@o 1 udp 1 192.0.2.1 5000 typ host", "grammar"),
    ("candidate:1 1 udp 0 192.0.2.1 5000 typ host", "grammar"),
    ("candidate:1 1 udp 4294967296 192.0.2.1 5000 typ host", "grammar"),
    ("candidate:1 1 udp 1 192.0.2.1 5000 typ host generation", "grammar"),
    ("candidate:1 3 udp 1 192.0.2.1 5000 typ host", "component"),
    ("candidate:1 0 udp 1 192.0.2.1 5000 typ host", "component"),
    ("candidate:1 1 sctp 1 192.0.2.1 5000 typ host", "transport"),
    ("candidate:1 1 tcp 1 192.0.2.1 5000 typ host tcptype sideways", "transport"),
    ("candidate:1 1 udp 1 192.0.2.1 0 typ host", "port"),
    ("candidate:1 1 udp 1 192.0.2.1 65536 typ host", "port"),
    ("candidate:1 1 udp 1 192.0.2.1 5000 typ host raddr 0.0.0.0 rport 70000", "port"),
    ("candidate:1 1 udp 1 evil.example.com 5000 typ host", "address"),
    ("candidate:1 1 udp 1 224.0.0.251 5000 typ host", "address"),
    ("candidate:1 1 udp 1 255.255.255.255 5000 typ host", "address"),
    ("candidate:1 1 udp 1 ff02::1 5000 typ host", "address"),
    ("candidate:1 1 udp 1 192.0.2.1 5000 typ bogus", "type"),
    ("candidate:1 1 udp 1 192.0.2.1 5000 typ host x" + "y" * MAX_CANDIDATE_CHARS, "grammar"),
])
def test_malformed_candidates_are_refused_with_their_reason(line: str, reason: str) -> None:
    with pytest.raises(CandidateRefused) as refused:
        check_candidate(line)
    assert refused.value.code == "invalid_candidate"
    assert refused.value.reason == reason, refused.value.message


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "169.254.3.4", "fe80::1", "0.0.0.0",
                                     "::", "::ffff:127.0.0.1"])
def test_relayed_calls_refuse_addresses_the_server_peer_cannot_reach(address: str) -> None:
    check_address(address)  # between two browsers: allowed
    with pytest.raises(CandidateRefused) as refused:
        check_address(address, relayed=True)
    assert refused.value.reason == "address"
    with pytest.raises(CandidateRefused):
        check_candidate(f"candidate:1 1 udp 1 {address} 5000 typ host", relayed=True)


@pytest.mark.parametrize("address", ["192.168.1.20", "10.0.0.7", "203.0.113.5", "2001:db8::1",
                                     "fd00::2", "0b7c4b7a.local"])
def test_relayed_calls_keep_private_public_and_mdns_addresses(address: str) -> None:
    check_address(address, relayed=True)


def test_a_relayed_description_with_a_loopback_candidate_is_refused(offer: str) -> None:
    looped = _extra_candidates(0)(offer).replace(
        "a=candidate:", "a=candidate:lo 1 udp 2130706431 127.0.0.1 5000 typ host\r\n"
                        "a=candidate:", 1)
    assert check_sdp(looped).candidates == check_sdp(offer).candidates + 1
    with pytest.raises(SdpRefused) as refused:
        check_sdp(looped, relayed=True)
    assert refused.value.reason == "bad_candidate"
