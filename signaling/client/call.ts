/**
 * One accepted call's RTCPeerConnection, driven by `call.signal` (PROTOCOL.md §7). Peer to
 * peer, the agent offers and the visitor answers; candidates trickle through `call.signal ice`;
 * the agent re-offers on media changes and, with iceRestart, when the visitor asks (`restart`).
 * On a recorded call both sides offer to the server's peer instead: one complete offer after
 * ICE gathering (no trickle), answered by the server. Owns the peer connection, the remote
 * stream, the ICE-restart watchdog and the quality sampling; the local tracks are LocalMedia's.
 */

import type { Ack } from "./ack";
import type { LocalMedia } from "./call_media";
import type { CallMedia, CallSide, CallSignalPush, IceInit, SignalPayload } from "./call_protocol";
import { type CallQuality, type QualityCounters, type StatEntry, readQuality } from "./call_quality";

export type SessionState = "connecting" | "connected" | "reconnecting" | "closed";

export interface SessionDeps {
  side: CallSide;
  record: boolean;
  iceServers: RTCIceServer[];
  local: LocalMedia;
  /** Sends one `call.signal` (the call id is added by the caller). */
  send(signal: Omit<SignalPayload, "call">): Promise<Ack>;
  onState(state: SessionState): void;
  /** Remote tracks came or went. */
  onRemote(): void;
  onQuality(quality: CallQuality): void;
  /** The server says the call is over (a refused signal with `call_ended` / `not_found`). */
  onGone(code: string): void;
  /** For tests: the peer connection factory. */
  peer?(config: RTCConfiguration): RTCPeerConnection;
}

export const QUALITY_EVERY_MS = 2_000;
/** How long "disconnected" may last before an ICE restart, and the gap between restarts. */
export const DISCONNECTED_GRACE_MS = 3_000;
export const RESTART_EVERY_MS = 8_000;
const GATHER_LIMIT_MS = 10_000;
const SIGNAL_RETRIES = 5;
const GONE = new Set(["call_ended", "not_found", "forbidden"]);

function kindOf(t: RTCRtpTransceiver): string {
  return t.receiver.track.kind;
}

function stopped(t: RTCRtpTransceiver): boolean {
  return t.direction === "stopped" || t.currentDirection === "stopped";
}

function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What the server's schema takes of an RTCIceCandidateInit (nulls left out). */
function iceInit(c: RTCIceCandidate | null): IceInit {
  if (c === null || !c.candidate) return { candidate: "" };
  const init: IceInit = { candidate: c.candidate };
  if (c.sdpMid !== null) init.sdpMid = c.sdpMid;
  if (c.sdpMLineIndex !== null) init.sdpMLineIndex = c.sdpMLineIndex;
  if (c.usernameFragment !== null) init.usernameFragment = c.usernameFragment;
  return init;
}

export class CallSession {
  /** Tracks received from the other side (or from the server's peer on a recorded call). */
  readonly remote = new MediaStream();
  private readonly pc: RTCPeerConnection;
  /** Agent peer to peer, and both sides of a recorded call. */
  readonly offerer: boolean;
  private media: CallMedia = "audio";
  private inbox: Promise<void> = Promise.resolve();
  private outbox: Promise<unknown> = Promise.resolve();
  private early: IceInit[] = [];
  private negotiating = false;
  private again: { iceRestart: boolean } | null = null;
  private state: SessionState = "connecting";
  private closed = false;
  private lastRestart = 0;
  private troubleSince = 0;
  private counters: QualityCounters | null = null;
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  private readonly stopWatching: (() => void)[] = [];

  constructor(private readonly deps: SessionDeps) {
    this.offerer = deps.record || deps.side === "agent";
    const config: RTCConfiguration = { iceServers: deps.iceServers, bundlePolicy: "max-bundle" };
    this.pc = deps.peer ? deps.peer(config) : new RTCPeerConnection(config);
    this.pc.addEventListener("icecandidate", (e) => {
      if (!deps.record) void this.send({ kind: "ice", candidate: iceInit(e.candidate) });
    });
    this.pc.addEventListener("track", (e) => this.addRemote(e.track));
    this.pc.addEventListener("connectionstatechange", () => this.connectionChanged());
    const network = (): void => this.restart();
    window.addEventListener("online", network);
    this.stopWatching.push(() => window.removeEventListener("online", network));
    const connection = (navigator as { connection?: EventTarget }).connection;
    if (connection !== undefined) {
      connection.addEventListener("change", network);
      this.stopWatching.push(() => connection.removeEventListener("change", network));
    }
    this.timers.push(setInterval(() => void this.tick(), QUALITY_EVERY_MS));
  }

  get connectionState(): SessionState {
    return this.state;
  }

  /** Puts the local tracks on the connection; the offerer sends the first offer. */
  start(media: CallMedia): void {
    this.media = media;
    if (!this.offerer) return; // the answerer's transceivers come with the offer
    const { audio, video } = this.deps.local;
    const streams = [this.deps.local.stream];
    this.pc.addTransceiver(audio ?? "audio", { direction: audio ? "sendrecv" : "recvonly", streams });
    if (media === "video") {
      this.pc.addTransceiver(video ?? "video", { direction: video ? "sendrecv" : "recvonly", streams });
    }
    void this.negotiate();
  }

  /** One relayed signal; they are applied strictly in arrival order. */
  handle(signal: CallSignalPush): void {
    if (signal.from === "server" ? !this.deps.record : this.deps.record) return;
    this.inbox = this.inbox.then(() => this.apply(signal)).catch((err: unknown) => {
      console.error(`engage: call signal ${signal.kind} failed`, err);
    });
  }

  /**
   * The call's media changed: the video transceiver follows (added, reused, or made inactive)
   * and the offerer renegotiates. `video` is the camera track to send, if any.
   */
  async setMedia(media: CallMedia, video: MediaStreamTrack | null): Promise<void> {
    this.media = media;
    const send = media === "video" ? video : null;
    const transceiver = this.videoTransceiver();
    if (transceiver === undefined) {
      if (media === "video" && this.offerer) {
        this.pc.addTransceiver(send ?? "video", { direction: send ? "sendrecv" : "recvonly",
                                                  streams: [this.deps.local.stream] });
      }
    } else {
      await transceiver.sender.replaceTrack(send);
      if (this.offerer) transceiver.direction = media === "audio" ? "inactive" : send ? "sendrecv" : "recvonly";
    }
    if (this.offerer) await this.negotiate();
  }

  /** Another microphone or camera: the sender switches tracks, no renegotiation. */
  async replaceTrack(kind: "audio" | "video", track: MediaStreamTrack): Promise<void> {
    const transceiver = this.pc.getTransceivers().find((t) => !stopped(t) && kindOf(t) === kind
                                                           && t.sender.track !== null);
    await transceiver?.sender.replaceTrack(track);
  }

  /**
   * ICE restart: the offerer re-offers with iceRestart (dropping an offer still unanswered: its
   * answer may never come), the P2P answerer asks for it. At most one per RESTART_EVERY_MS,
   * unless `force` (after a reconnect).
   */
  restart(force = false): void {
    if (this.closed) return;
    const now = Date.now();
    if (!force && now - this.lastRestart < RESTART_EVERY_MS) return;
    this.lastRestart = now;
    if (this.offerer) void this.negotiate(true, true);
    else void this.send({ kind: "restart" });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const stop of this.stopWatching) stop();
    this.pc.close();
    for (const track of this.remote.getTracks()) {
      track.stop();
      this.remote.removeTrack(track);
    }
    this.setState("closed");
  }

  // -- negotiation ---------------------------------------------------------------------------
  private async negotiate(iceRestart = false, rollback = false): Promise<void> {
    if (!this.offerer || this.closed) return;
    if (rollback && this.pc.signalingState === "have-local-offer") {
      try {
        await this.pc.setLocalDescription({ type: "rollback" });
      } catch {
        // nothing to roll back after all
      }
      this.negotiating = false;
    }
    if (this.negotiating || this.pc.signalingState !== "stable") {
      this.again = { iceRestart: iceRestart || (this.again?.iceRestart ?? false) };
      return;
    }
    this.negotiating = true;
    try {
      await this.pc.setLocalDescription(await this.pc.createOffer(iceRestart ? { iceRestart: true } : {}));
      if (this.deps.record) await this.gathered();
      const sdp = this.pc.localDescription?.sdp;
      if (this.closed || !sdp) return;
      const sent = await this.send({ kind: "offer", sdp });
      const state = this.pc.signalingState as RTCSignalingState; // it moved while we waited
      if (!sent && !this.closed && state === "have-local-offer" && this.pc.localDescription?.sdp === sdp) {
        await this.pc.setLocalDescription({ type: "rollback" });
        this.negotiating = false;
      }
    } catch (err) {
      this.negotiating = false;
      if (!this.closed) console.error("engage: call offer failed", err);
    }
  }

  private async apply(signal: CallSignalPush): Promise<void> {
    if (this.closed) return;
    switch (signal.kind) {
      case "offer":
        if (!this.offerer && signal.sdp) await this.answer(signal.sdp);
        break;
      case "answer":
        if (this.offerer && signal.sdp && this.pc.signalingState === "have-local-offer") {
          try {
            await this.pc.setRemoteDescription({ type: "answer", sdp: signal.sdp });
          } catch (err) {
            // an answer to an offer rolled back since, or one this browser cannot take: back
            // to stable, and offer again with fresh ICE (throttled, so no loop)
            console.warn("engage: call answer not applicable", err);
            await this.pc.setLocalDescription({ type: "rollback" }).catch(() => undefined);
            this.negotiating = false;
            this.restart();
            break;
          }
          this.negotiating = false;
          await this.flushCandidates();
          const again = this.again;
          this.again = null;
          if (again !== null) void this.negotiate(again.iceRestart);
        }
        break;
      case "ice":
        if (signal.candidate === undefined) break;
        if (this.pc.remoteDescription === null) this.early.push(signal.candidate);
        else await this.addCandidate(signal.candidate);
        break;
      case "restart": // an offer of ours already on its way does it, hence the throttle
        if (this.offerer) this.restart();
        break;
    }
  }

  /** The answerer: the offer's transceivers get the local tracks the call's media wants. */
  private async answer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: "offer", sdp });
    const { audio, video } = this.deps.local;
    for (const t of this.pc.getTransceivers()) {
      if (stopped(t) || t.mid === null) continue;
      const track = kindOf(t) === "audio" ? audio : this.media === "video" ? video : null;
      if (t.sender.track !== track) await t.sender.replaceTrack(track);
      t.direction = track ? "sendrecv" : "recvonly";
    }
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    const answer = this.pc.localDescription?.sdp;
    if (answer) void this.send({ kind: "answer", sdp: answer });
    await this.flushCandidates();
  }

  private async flushCandidates(): Promise<void> {
    for (const init of this.early.splice(0)) await this.addCandidate(init);
  }

  private async addCandidate(init: IceInit): Promise<void> {
    try {
      if (init.candidate) await this.pc.addIceCandidate(init as RTCIceCandidateInit);
      else await this.pc.addIceCandidate();
    } catch {
      // a candidate of an older ICE generation, or for a section since removed
    }
  }

  private gathered(): Promise<void> {
    if (this.pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(limit);
        this.pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      };
      const check = (): void => {
        if (this.pc.iceGatheringState === "complete") done();
      };
      const limit = setTimeout(done, GATHER_LIMIT_MS); // send what was gathered by then
      this.pc.addEventListener("icegatheringstatechange", check);
    });
  }

  private videoTransceiver(): RTCRtpTransceiver | undefined {
    return this.pc.getTransceivers().find((t) => !stopped(t) && kindOf(t) === "video");
  }

  // -- signals out -----------------------------------------------------------------------------
  /** Sends in order, one at a time; rate limits are waited out. True once acknowledged. */
  private send(signal: Omit<SignalPayload, "call">): Promise<boolean> {
    const run = async (): Promise<boolean> => {
      for (let attempt = 0; attempt < SIGNAL_RETRIES && !this.closed; attempt += 1) {
        const ack = await this.deps.send(signal);
        if (ack.ok) return true;
        if (GONE.has(ack.code)) {
          this.deps.onGone(ack.code);
          return false;
        }
        if (ack.code !== "rate_limited") {
          if (signal.kind !== "ice") console.warn(`engage: call.signal ${signal.kind} refused: ${ack.code}`);
          return false;
        }
        await wait(Math.max(0.1, ack.retry_after ?? 1) * 1000);
      }
      return false;
    };
    const sent = this.outbox.then(run, run);
    this.outbox = sent;
    return sent;
  }

  // -- connection state, restarts, quality -------------------------------------------------------
  private connectionChanged(): void {
    const s = this.pc.connectionState;
    if (s === "connected") {
      this.troubleSince = 0;
      this.setState("connected");
    } else if (s === "failed" || s === "disconnected") {
      this.troubleSince ||= Date.now();
      this.setState("reconnecting");
      if (s === "failed") this.restart();
    } else if (s === "connecting" || s === "new") {
      if (this.state !== "reconnecting") this.setState("connecting");
    }
  }

  private setState(state: SessionState): void {
    if (state === this.state) return;
    this.state = state;
    this.deps.onState(state);
  }

  private addRemote(track: MediaStreamTrack): void {
    if (!this.remote.getTracks().includes(track)) this.remote.addTrack(track);
    track.addEventListener("ended", () => {
      this.remote.removeTrack(track);
      this.deps.onRemote();
    });
    this.deps.onRemote();
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    const s = this.pc.connectionState;
    if ((s === "failed" || s === "disconnected") && this.troubleSince
        && Date.now() - this.troubleSince >= DISCONNECTED_GRACE_MS) {
      this.restart(); // throttled: at most one every RESTART_EVERY_MS while it lasts
    }
    let report: RTCStatsReport;
    try {
      report = await this.pc.getStats();
    } catch {
      return;
    }
    const entries: StatEntry[] = [];
    report.forEach((value: StatEntry) => entries.push(value));
    const { quality, counters } = readQuality(entries, this.counters);
    this.counters = counters;
    if (!this.closed) this.deps.onQuality(quality);
  }
}
