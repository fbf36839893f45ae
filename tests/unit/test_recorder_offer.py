"""Offers the recording peer answers, with aiortc's own offers as the valid baseline."""

from __future__ import annotations

import asyncio
import re

import pytest

from engage.calls.sdp_policy import SdpRefused
from engage.config import ConfigError, load
from signaling.recording.offer import check_offer
from tests.unit.test_sdp_policy import browser_offer


@pytest.fixture(scope="module")
def offer() -> str:
    return asyncio.run(browser_offer("audio", "video"))


def _refused(sdp: str) -> str:
    with pytest.raises(SdpRefused) as caught:
        check_offer(sdp)
    assert caught.value.code == "invalid_sdp"
    return caught.value.reason


def _without(sdp: str, prefix: str) -> str:
    return "\r\n".join(line for line in sdp.split("\r\n") if not line.startswith(prefix))


def test_an_audio_and_video_offer_is_summarised(offer: str) -> None:
    summary = check_offer(offer)
    assert summary.kinds == ("audio", "video") and len(summary.ice_ufrags) >= 1
    ufrags = {line.split(":", 1)[1] for line in offer.split("\r\n")
              if line.startswith("a=ice-ufrag:")}
    assert summary.ice_ufrags == ufrags


def test_a_new_ice_session_shows_in_the_summary(offer: str) -> None:
    ufrag = next(line for line in offer.split("\r\n") if line.startswith("a=ice-ufrag:"))
    restarted = offer.replace(ufrag, "a=ice-ufrag:restarted")
    assert check_offer(restarted).ice_ufrags != check_offer(offer).ice_ufrags


def test_codecs_the_relay_cannot_forward_are_refused(offer: str) -> None:
    assert _refused(offer.replace("opus/48000/2", "speex/48000")) == "unsupported_codec"
    assert _refused(offer.replace("VP8/90000", "VP9/90000")) == "unsupported_codec"


def test_sections_other_than_one_audio_and_one_video_are_refused(offer: str) -> None:
    audio_only = offer.split("m=video")[0]
    twice = audio_only + "m=audio" + audio_only.split("m=audio", 1)[1].replace(
        "a=mid:0", "a=mid:9")
    assert _refused(twice) == "unsupported_media"
    data = audio_only + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:5\r\n"
    assert _refused(data) == "unsupported_media"


def test_sections_need_ice_credentials_and_rtcp_mux(offer: str) -> None:
    assert _refused(_without(offer, "a=ice-pwd:")) == "malformed"
    assert _refused(_without(offer, "a=rtcp-mux")) == "malformed"
    assert _refused("v=0\r\nm=audio x\r\n") == "malformed"


def test_an_offer_whose_every_section_is_stopped_has_no_media(offer: str) -> None:
    stopped = re.sub(r"^m=(audio|video) [0-9]+ ", r"m=\1 0 ", offer, flags=re.M)
    assert stopped != offer and _refused(stopped) == "no_media"


def test_recording_retention_is_read_like_attachment_retention() -> None:
    assert load({}).recording_retention_days == 90
    assert load({"ENGAGE_RECORDING_RETENTION_DAYS": "30"}).recording_retention_days == 30
    for bad in ("0", "3651", "soon"):
        with pytest.raises(ConfigError, match="ENGAGE_RECORDING_RETENTION_DAYS"):
            load({"ENGAGE_RECORDING_RETENTION_DAYS": bad})
