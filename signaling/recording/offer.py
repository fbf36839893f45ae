"""Offers the recording peer can answer: one Opus audio and one VP8 video section (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from aiortc import sdp as aiortc_sdp

from engage.calls.sdp_policy import SdpRefused

AUDIO_CODEC = "audio/opus"
VIDEO_CODEC = "video/vp8"
# Video is relayed as the sender encoded it, so both sides must speak the same codec; VP8 is
# the one every browser sends and the only one WebM (the recording) and aiortc share.
CODEC_OF = {"audio": AUDIO_CODEC, "video": VIDEO_CODEC}


@dataclass(frozen=True)
class OfferSummary:
    """What the server needs to know about an offer before its peer sees it."""

    ice_ufrags: frozenset[str]  # new ones mean a new peer connection (ICE restart)
    kinds: tuple[str, ...]  # the m= sections in order


def check_offer(sdp: str) -> OfferSummary:
    """The summary of an offer the recording peer can answer, or SdpRefused with a reason
    (after ``engage.calls.sdp_policy.check_sdp`` accepted it as a description)."""
    try:
        description = aiortc_sdp.SessionDescription.parse(sdp)
    except Exception:  # the parser asserts; any failure is the description's fault
        raise SdpRefused("malformed", "the description cannot be parsed") from None
    kinds = tuple(media.kind for media in description.media)
    for kind in set(kinds):
        if kind not in CODEC_OF:
            raise SdpRefused("unsupported_media", f"a recorded call carries audio and "
                                                  f"video only, not {kind[:16]}")
        if kinds.count(kind) > 1:
            raise SdpRefused("unsupported_media", f"at most one {kind} section")
    ufrags = set()
    for media in description.media:
        if media.port == 0:
            continue  # a rejected or stopped section needs nothing
        names = {codec.mimeType.lower() for codec in media.rtp.codecs}
        if CODEC_OF[media.kind] not in names:
            raise SdpRefused("unsupported_codec", f"the {media.kind} section must offer "
                                                  f"{CODEC_OF[media.kind].split('/')[1]}")
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            raise SdpRefused("malformed", "every section needs ICE credentials")
        if not media.rtcp_mux:
            raise SdpRefused("malformed", "RTP and RTCP must share a port (rtcp-mux)")
        ufrags.add(media.ice.usernameFragment)
    if not ufrags:
        raise SdpRefused("no_media", "the offer has no active media section")
    return OfferSummary(ice_ufrags=frozenset(ufrags), kinds=kinds)
