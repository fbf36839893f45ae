"""One recorded call's two server-side peers: answer each side, relay between them, record."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs import depayload, is_rtx
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcicetransport import RTCIceCandidate
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.rtp import RtpPacket
from aiortc.sdp import candidate_from_sdp

from engage.calls.sdp_policy import MAX_CANDIDATES_PER_SIDE, SdpRefused
from engage.calls.service import CallRefused
from engage.errors import EngageError
from signaling.recording.file import CallRecording, RecordedMedia
from signaling.recording.offer import CODEC_OF, check_offer
from signaling.recording.relay import OpusRelay, Vp8Relay

log = logging.getLogger("engage.recorder")

CHANNELS = {"agent": 0, "visitor": 1}  # left and right of the recording
KEYFRAME_INTERVAL = 0.3  # at most this often a keyframe request towards one side
RtpHandler = Callable[[RtpPacket, int], Awaitable[None]]
OpenRecording = Callable[[], Awaitable[CallRecording]]
T = TypeVar("T")


class _Leg:
    """One side's connection to the server and the tracks the server sends it."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.channel = CHANNELS[side]
        self.pc: RTCPeerConnection | None = None
        self.ufrags: frozenset[str] = frozenset()
        self.broken = False  # a renegotiation failed half-way: the next offer starts afresh
        self.audio_out: OpusRelay | None = None
        self.video_out: Vp8Relay | None = None
        self.lock = asyncio.Lock()
        self.pending: list[RTCIceCandidate | None] = []
        self.video_receiver: RTCRtpReceiver | None = None
        self.video_ssrc: int | None = None
        self.keyframe_asked = 0.0


class RecordedCall:
    """Two server-side peer connections (agent, visitor) around one ``CallRecording``."""

    def __init__(self, call_id: str, open_recording: OpenRecording,
                 configuration: RTCConfiguration | None = None) -> None:
        self.call_id = call_id
        self._open_recording = open_recording
        self.recording: CallRecording | None = None  # set once the call's one file is open
        self._opening: asyncio.Task[CallRecording] | None = None
        self._configuration = configuration or RTCConfiguration(iceServers=[])
        self._legs = {side: _Leg(side) for side in CHANNELS}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def _other(self, leg: _Leg) -> _Leg:
        return self._legs["visitor" if leg.side == "agent" else "agent"]

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- signalling ------------------------------------------------------------------------
    async def offer(self, side: str, sdp: str) -> str:
        """The server's answer to ``side``'s offer; SdpRefused leaves the leg as it was."""
        summary = check_offer(sdp)
        leg = self._legs[side]
        async with leg.lock:
            if self._closed:
                raise CallRefused("call_ended")
            fresh = leg.pc is None or leg.broken or summary.ice_ufrags != leg.ufrags
            pc = RTCPeerConnection(self._configuration) if fresh else leg.pc
            assert pc is not None
            audio_out = OpusRelay() if fresh else leg.audio_out
            video_out = Vp8Relay(lambda: self._ask_keyframe(self._other(leg))) if fresh \
                else leg.video_out
            assert audio_out is not None and video_out is not None
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
                self._wire(leg, pc, audio_out, video_out)
                await pc.setLocalDescription(await pc.createAnswer())
            except EngageError:
                await self._discard(leg, pc, fresh)
                raise
            except Exception as exc:
                log.info("the recording peer refused an offer", extra={
                    "call": self.call_id, "side": side, "error": repr(exc)[:200]})
                await self._discard(leg, pc, fresh)
                raise SdpRefused("rejected", "the server's peer cannot accept this offer"
                                 ) from None
            try:
                await self._recording()
            except BaseException:
                await self._discard(leg, pc, fresh)
                raise
            if fresh:
                if leg.pc is not None:
                    self._spawn(leg.pc.close())
                leg.pc, leg.ufrags, leg.broken = pc, summary.ice_ufrags, False
                leg.audio_out, leg.video_out = audio_out, video_out
            for candidate in leg.pending:
                await self._add_candidate(pc, candidate)
            leg.pending.clear()
            return str(pc.localDescription.sdp)

    async def _recording(self) -> CallRecording:
        """The call's one recording, opened by the first answer.

        Browsers send both sides' first offers at once, and each offer holds only its own
        leg's lock: they share one opening (two would leave a file nobody closes). It runs in
        a task of its own, so an offer cancelled meanwhile cannot drop a file just opened:
        ``close()`` waits for the opening and closes what it opened. A failed opening is
        tried again by the next offer.
        """
        opening = self._opening
        if opening is None or (opening.done() and self.recording is None):
            opening = self._opening = self._spawn(self._open())
        return await asyncio.shield(opening)

    async def _open(self) -> CallRecording:
        self.recording = await self._open_recording()
        return self.recording

    async def _discard(self, leg: _Leg, pc: RTCPeerConnection, fresh: bool) -> None:
        """After a failed offer: a new peer goes, a renegotiated one starts afresh next time."""
        if fresh:
            self._spawn(pc.close())
        else:
            leg.broken = True

    async def candidate(self, side: str, init: dict[str, Any] | None) -> None:
        """A trickled candidate (None or "": end of candidates); kept until the offer."""
        candidate = None
        if init and init.get("candidate"):
            try:  # the SDP policy checked its grammar already
                candidate = candidate_from_sdp(str(init["candidate"]).split(":", 1)[1])
            except (AssertionError, ValueError, IndexError):
                return
            candidate.sdpMid = init.get("sdpMid")
            candidate.sdpMLineIndex = init.get("sdpMLineIndex")
            if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
                candidate.sdpMLineIndex = 0
        leg = self._legs[side]
        async with leg.lock:
            if leg.pc is None or leg.pc.remoteDescription is None:
                if len(leg.pending) < MAX_CANDIDATES_PER_SIDE:
                    leg.pending.append(candidate)
                return
            await self._add_candidate(leg.pc, candidate)

    async def _add_candidate(self, pc: RTCPeerConnection,
                             candidate: RTCIceCandidate | None) -> None:
        try:
            await pc.addIceCandidate(candidate)
        except Exception as exc:  # one useless candidate does not hurt the call
            log.debug("candidate not added", extra={"call": self.call_id, "error": repr(exc)})

    # -- media ---------------------------------------------------------------------------------
    def _wire(self, leg: _Leg, pc: RTCPeerConnection, audio_out: OpusRelay,
              video_out: Vp8Relay) -> None:
        """Give every section its codec, its send track and the receive path that relays
        and records (once per transceiver: renegotiations keep them)."""
        for transceiver in pc.getTransceivers():
            if getattr(transceiver, "_engage_wired", False):
                continue
            wanted = CODEC_OF[transceiver.kind]
            main = [c for c in transceiver._codecs if c.mimeType.lower() == wanted]
            if not main:
                raise SdpRefused("unsupported_codec", f"no usable {wanted}")
            rtx = [c for c in transceiver._codecs
                   if is_rtx(c) and c.parameters.get("apt") == main[0].payloadType]
            transceiver._codecs = main[:1] + rtx[:1]
            transceiver.direction = "sendrecv"
            transceiver.sender.replaceTrack(audio_out if transceiver.kind == "audio"
                                            else video_out)
            payload_type = int(main[0].payloadType or 0)
            if transceiver.kind == "audio":
                handler = self._audio_path(leg, payload_type)
            else:
                handler = self._video_path(leg, transceiver, payload_type)
                keyframe = transceiver.sender._send_keyframe

                def wanted_keyframe(out: Vp8Relay = video_out,
                                    keyframe: Callable[[], None] = keyframe) -> None:
                    keyframe()  # for the black frames the server encodes itself
                    out.keyframe_wanted()
                setattr(transceiver.sender, "_send_keyframe", wanted_keyframe)  # noqa: B010
            # aiortc has no encoded-frame receive API: taking the packets here skips its
            # jitter buffer (~80 ms for audio) and decoder thread, which the relay needs not.
            setattr(transceiver.receiver, "_handle_rtp_packet", handler)  # noqa: B010
            setattr(transceiver, "_engage_wired", True)  # noqa: B010

    def _audio_path(self, leg: _Leg, payload_type: int) -> RtpHandler:
        other = self._other(leg)

        async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
            if packet.payload_type != payload_type or not packet.payload:
                return
            if other.audio_out is not None:
                other.audio_out.feed(packet.payload, packet.ssrc, packet.timestamp)
            if (recording := self.recording) is not None:
                recording.audio(leg.channel, packet.payload, ssrc=packet.ssrc,
                                timestamp=packet.timestamp, arrival_ms=arrival_time_ms)
        return handle

    def _video_path(self, leg: _Leg, transceiver: RTCRtpTransceiver,
                    payload_type: int) -> RtpHandler:
        other = self._other(leg)
        codec = transceiver._codecs[0]
        frames = JitterBuffer(capacity=128, is_video=True)

        async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
            if packet.payload_type != payload_type:
                return  # retransmissions: the server never asks for them
            leg.video_receiver, leg.video_ssrc = transceiver.receiver, packet.ssrc
            try:
                setattr(packet, "_data", depayload(codec, packet.payload))  # noqa: B010
            except ValueError:
                return
            lost, frame = frames.add(packet)
            if lost:
                self._ask_keyframe(leg)
            if frame is None or not frame.data:
                return
            keyframe = not frame.data[0] & 1
            if other.video_out is not None:
                other.video_out.feed(frame.data, packet.ssrc, frame.timestamp, keyframe)
            if (recording := self.recording) is not None:
                recording.video(leg.channel, frame.data, ssrc=packet.ssrc,
                                timestamp=frame.timestamp, arrival_ms=arrival_time_ms)
        return handle

    def _ask_keyframe(self, leg: _Leg) -> None:
        """An RTCP PLI towards ``leg``'s video sender, at most every few hundred ms."""
        now = time.monotonic()
        receiver, ssrc = leg.video_receiver, leg.video_ssrc
        if receiver is None or ssrc is None or now - leg.keyframe_asked < KEYFRAME_INTERVAL:
            return
        leg.keyframe_asked = now
        self._spawn(receiver._send_rtcp_pli(ssrc))

    # -- the end -------------------------------------------------------------------------------
    async def close(self) -> RecordedMedia | None:
        """Close both peers, then the file (None: no side ever got an answer)."""
        self._closed = True
        for leg in self._legs.values():
            async with leg.lock:  # an offer under way finishes first (and opens the file)
                pc, leg.pc = leg.pc, None
            if pc is not None:
                try:
                    await pc.close()
                except Exception as exc:  # the file is closed whatever a peer does
                    log.warning("closing a recording peer failed", extra={
                        "call": self.call_id, "side": leg.side, "error": repr(exc)[:200]})
        if self._tasks:  # the opening among them
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.recording is None:
            return None
        # No handler runs once the peers are closed, so the file is the thread's alone.
        return await asyncio.to_thread(self.recording.close)
