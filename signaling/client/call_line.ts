/**
 * The calls of one conversation, as one side sees them (console and widget alike): proposals
 * both ways, consent, the accepted call's CallSession, media switches, mute, camera, devices,
 * hang-up and the end of the call. Listens to the call pushes of its interaction; owns the
 * local media and the session of the current call, and a snapshot the views render.
 */

import { CLIENT_CODES } from "./ack";
import { CallSession, type SessionState } from "./call";
import { type DeviceKind, type DeviceLists, LocalMedia, mediaDevices, mediaProblem } from "./call_media";
import {
  type CallMedia,
  type CallPushName,
  type CallPushes,
  type CallSignalPush,
  callRequest,
  onCallPushes,
} from "./call_protocol";
import { IDLE, IN_CALL, type LineDeps, type LineSnapshot } from "./call_line_types";

export type { LineDeps, LineSnapshot, LineState } from "./call_line_types";

/** A ring nobody answers ends on the server after 60 s; a ring whose end was missed ends here. */
export const RING_LIMIT_MS = 65_000;

export class CallLine {
  private snap: LineSnapshot = IDLE;
  private local: LocalMedia;
  private session: CallSession | null = null;
  private starting = false;
  private proposing = false;
  private early: (() => void)[] = [];
  private pending: CallSignalPush[] = [];
  private ringTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new Set<(s: LineSnapshot) => void>();
  private readonly stops: (() => void)[] = [];
  private disposed = false;
  /** Bumped when a call finishes: what started for it since (a late camera) is stopped. */
  private epoch = 0;

  constructor(private readonly deps: LineDeps) {
    this.local = new LocalMedia(deps.devices === undefined ? mediaDevices() : deps.devices);
    this.stops.push(onCallPushes(deps.socket, deps.interaction, (event, push) => this.push(event, push)));
    if (deps.resumeOnConnect) {
      const connected = (): void => this.resume();
      deps.socket.on("connect", connected);
      this.stops.push(() => deps.socket.off("connect", connected));
    }
    this.stops.push(this.local.watch(() => void this.devicesChanged()));
  }

  get snapshot(): Readonly<LineSnapshot> {
    return this.snap;
  }

  get inCall(): boolean {
    return IN_CALL.includes(this.snap.state);
  }

  get active(): boolean {
    return this.inCall || this.snap.state === "ringing";
  }

  /** The local preview (live local tracks). */
  get localStream(): MediaStream {
    return this.local.stream;
  }

  get remoteStream(): MediaStream | null {
    return this.session?.remote ?? null;
  }

  /** Called now and on every change; returns the function that stops it. */
  onChange(listener: (s: LineSnapshot) => void): () => void {
    this.listeners.add(listener);
    this.safely(listener);
    return () => this.listeners.delete(listener);
  }

  // -- this side's actions -----------------------------------------------------------------------
  /** Proposes a call (the proposal is the visitor's consent); null or the refusal's code. */
  async propose(media: CallMedia, recordConsent = false): Promise<string | null> {
    if (this.active || this.proposing) return "call_in_progress";
    this.proposing = true;
    this.reset({ state: "ringing", incoming: false, media });
    await this.startLocal(media);
    const payload: { interaction: string; media: CallMedia; record_consent?: boolean } = {
      interaction: this.deps.interaction, media };
    if (this.deps.side === "visitor") payload.record_consent = recordConsent;
    const ack = await callRequest(this.deps.socket, "call.propose", payload);
    this.proposing = false;
    if (!ack.ok) {
      this.local.stop();
      this.update({ state: "idle", error: ack.code });
      for (const replay of this.early.splice(0)) replay(); // e.g. the other side's proposal won
      return ack.code;
    }
    this.update({ call: ack.call, record: ack.record, queueRecords: ack.record });
    this.ring();
    for (const replay of this.early.splice(0)) replay();
    return null;
  }

  /** Consents to the other side's proposal: camera and microphone start now, on this click. */
  async accept(recordConsent = false): Promise<string | null> {
    const call = this.snap.call;
    if (call === null || !this.snap.incoming || this.snap.state !== "ringing") return "not_pending";
    const epoch = this.epoch;
    this.update({ incoming: false, state: "connecting" });
    await this.startLocal(this.snap.media);
    if (epoch !== this.epoch) return null; // it ended meanwhile
    const payload: { call: string; accept: boolean; record_consent?: boolean } = { call, accept: true };
    if (this.deps.side === "visitor") payload.record_consent = recordConsent;
    const ack = await callRequest(this.deps.socket, "call.consent", payload);
    if (epoch !== this.epoch) return null;
    if (!ack.ok) {
      this.finish(ack.code === "not_pending" ? "answered_elsewhere" : "failed", "", ack.code);
      return ack.code;
    }
    this.update({ record: ack.record });
    void this.begin();
    return null;
  }

  async decline(): Promise<string | null> {
    const call = this.snap.call;
    if (call === null || !this.snap.incoming) return "not_pending";
    this.finish("declined", this.deps.side);
    const ack = await callRequest(this.deps.socket, "call.consent", { call, accept: false });
    return ack.ok ? null : ack.code;
  }

  /** Ends the call (or withdraws the proposal); devices are released at once. */
  async hangup(): Promise<string | null> {
    const call = this.snap.call;
    if (call === null || !this.active) return null;
    this.finish("hangup", this.deps.side);
    const ack = await callRequest(this.deps.socket, "call.hangup", { call });
    return ack.ok || ack.code === "call_ended" ? null : ack.code;
  }

  /** Voice ↔ video for both sides; this side's camera starts or stops with it. */
  async switchMedia(media: CallMedia): Promise<string | null> {
    const call = this.snap.call;
    if (call === null || !this.inCall || media === this.snap.media) return null;
    const ack = await callRequest(this.deps.socket, "call.media", { call, media });
    if (!ack.ok) {
      this.update({ error: ack.code });
      return ack.code;
    }
    await this.applyMedia(media, true);
    return null;
  }

  setMuted(muted: boolean): void {
    this.local.setMuted(muted);
    this.update({ muted });
  }

  /** Camera off keeps the video line (black frames); camera on starts it if it never ran. */
  async setCameraOff(off: boolean): Promise<void> {
    if (off || this.local.video !== null) {
      this.local.setCameraOff(off);
      this.update({ cameraOff: off });
      return;
    }
    const call = this.snap.call;
    if (call === null || !this.inCall || this.snap.media !== "video") return;
    const track = await this.camera();
    if (track === null || this.session === null) return;
    await this.session.setMedia("video", track);
    // Peer to peer the answerer cannot offer: asking for video again makes the agent re-offer.
    if (!this.session.offerer) void callRequest(this.deps.socket, "call.media", { call, media: "video" });
  }

  async useDevice(kind: DeviceKind, deviceId: string): Promise<void> {
    try {
      const track = await this.local.useDevice(kind, deviceId);
      if (track !== null) await this.session?.replaceTrack(kind === "audioinput" ? "audio" : "video", track);
      this.update({ mediaProblem: "" });
    } catch (err) {
      this.update({ mediaProblem: mediaProblem(err) });
    }
  }

  /** Whether the conversation's queue records calls, learnt before any call (the widget asks). */
  setQueueRecords(records: boolean): void {
    if (!this.disposed && records !== this.snap.queueRecords) this.update({ queueRecords: records });
  }

  /** The microphones and cameras, and which of them are in use. */
  devices(): Promise<DeviceLists> {
    return this.local.list();
  }

  /** The socket is back (for the widget: after its hello): keep the call, restart ICE. */
  resume(): void {
    this.session?.restart(true);
  }

  /** The conversation is over or its view closed: hang up, release devices, stop listening. */
  dispose(): void {
    if (this.disposed) return;
    if (this.active) void this.hangup();
    this.disposed = true;
    this.finish(this.snap.endReason || "hangup", this.snap.endedBy);
    for (const stop of this.stops.splice(0)) stop();
    this.listeners.clear();
  }

  // -- pushes --------------------------------------------------------------------------------------
  private push<E extends CallPushName>(event: E, push: CallPushes[E]): void {
    if (this.disposed) return;
    if (this.proposing) { // which call is ours is known once the proposal is answered
      if (this.early.length < 50) this.early.push(() => this.push(event, push));
      return;
    }
    if (push.call !== this.snap.call && event !== "call.proposed") return;
    switch (event) {
      case "call.proposed": {
        const p = push as CallPushes["call.proposed"];
        if (p.by === this.deps.side || this.active) return; // another tab of this side, or busy
        this.reset({ state: "ringing", incoming: true, call: p.call, media: p.media, record: p.record,
                     queueRecords: p.record });
        this.ring();
        break;
      }
      case "call.accepted": {
        const p = push as CallPushes["call.accepted"];
        if (this.snap.state !== "ringing" && !this.inCall) return;
        if (p.by === this.deps.side && this.snap.incoming) {
          this.finish("answered_elsewhere", p.by); // another tab of this side took it
          return;
        }
        this.update({ record: p.record, media: p.media });
        if (this.snap.state === "ringing") void this.begin();
        break;
      }
      case "call.declined": {
        const p = push as CallPushes["call.declined"];
        if (this.snap.state === "ringing" && p.by !== this.deps.side) this.finish("declined", p.by);
        else if (this.snap.incoming) this.finish("answered_elsewhere", p.by);
        break;
      }
      case "call.signal": {
        const p = push as CallSignalPush;
        if (this.session !== null) this.session.handle(p);
        else if (this.pending.length < 400) this.pending.push(p); // before the session is ready
        break;
      }
      case "call.media": {
        const p = push as CallPushes["call.media"];
        if (this.inCall) void this.applyMedia(p.media, this.deps.autoCamera);
        break;
      }
      case "call.ended": {
        const p = push as CallPushes["call.ended"];
        this.finish(p.reason, p.by);
        break;
      }
    }
  }

  // -- internals -------------------------------------------------------------------------------------
  private async begin(): Promise<void> {
    const call = this.snap.call;
    if (this.session !== null || this.starting || call === null) return;
    this.starting = true;
    this.update({ state: "connecting", incoming: false });
    clearTimeout(this.ringTimer);
    let servers: RTCIceServer[] = [];
    try {
      servers = await this.deps.iceServers();
    } catch {
      // host candidates alone still connect on a local network
    }
    this.starting = false;
    if (this.snap.call !== call || !this.inCall) return;
    const session = new CallSession({
      side: this.deps.side, record: this.snap.record, iceServers: servers, local: this.local,
      send: (signal) => callRequest(this.deps.socket, "call.signal", { call, ...signal }),
      onState: (state) => this.sessionState(call, state),
      onRemote: () => this.emit(),
      onQuality: (quality) => this.update({ quality }),
      onGone: (code) => {
        if (this.snap.call === call && this.inCall) this.finish("call_ended", "system", code);
      },
      ...(this.deps.peer ? { peer: this.deps.peer } : {}),
    });
    this.session = session;
    session.start(this.snap.media);
    for (const signal of this.pending.splice(0)) if (signal.call === call) session.handle(signal);
    this.emit();
  }

  private sessionState(call: string, state: SessionState): void {
    if (this.snap.call !== call || !this.inCall || state === "closed") return;
    this.update({ state });
  }

  private async applyMedia(media: CallMedia, ownCamera: boolean): Promise<void> {
    this.update({ media });
    let track: MediaStreamTrack | null = null;
    if (media === "video") track = this.local.video ?? (ownCamera ? await this.camera() : null);
    else this.local.stopCamera();
    this.update({ sendingVideo: this.local.video !== null, cameraOff: this.local.video === null
                  ? this.snap.cameraOff : this.local.cameraOff });
    await this.session?.setMedia(media, track);
  }

  /** The camera, started on request; null (and the problem shown) when it cannot start. */
  private async camera(): Promise<MediaStreamTrack | null> {
    const epoch = this.epoch;
    try {
      const track = await this.local.startCamera();
      if (epoch !== this.epoch) {
        this.local.stop();
        return null;
      }
      this.update({ sendingVideo: true, cameraOff: false, mediaProblem: "" });
      return track;
    } catch (err) {
      this.update({ mediaProblem: mediaProblem(err) });
      return null;
    }
  }

  private async startLocal(media: CallMedia): Promise<void> {
    const epoch = this.epoch;
    try {
      await this.local.start(media);
      this.update({ mediaProblem: "" });
    } catch (err) {
      // the call goes on with what started (or receive-only): the other side is still heard
      this.update({ mediaProblem: mediaProblem(err) });
    }
    if (epoch !== this.epoch) this.local.stop(); // the call ended while the devices started
    this.local.setMuted(false);
    this.update({ sendingVideo: this.local.video !== null, muted: false, cameraOff: false });
  }

  private async devicesChanged(): Promise<void> {
    const lists = await this.local.list();
    if (this.local.audio?.readyState === "ended" && lists.microphones[0]) {
      await this.useDevice("audioinput", lists.microphones[0].id);
    }
    if (this.local.video?.readyState === "ended" && lists.cameras[0]) {
      await this.useDevice("videoinput", lists.cameras[0].id);
    }
    this.update({ devices: this.snap.devices + 1 });
  }

  private ring(): void {
    clearTimeout(this.ringTimer);
    const call = this.snap.call;
    this.ringTimer = setTimeout(() => {
      if (this.snap.call === call && this.snap.state === "ringing") this.finish("no_answer", "system");
    }, RING_LIMIT_MS);
  }

  private reset(fields: Partial<LineSnapshot>): void {
    this.pending = [];
    this.update({ call: null, incoming: false, record: false, muted: false, cameraOff: false,
                  sendingVideo: false, endReason: "", endedBy: "", error: "", mediaProblem: "",
                  quality: null, ...fields });
  }

  /** The call is over here: session closed, every local track stopped. */
  private finish(reason: string, by: string, error = ""): void {
    this.epoch += 1;
    clearTimeout(this.ringTimer);
    this.session?.close();
    this.session = null;
    this.starting = false;
    this.pending = [];
    this.local.stop();
    if (this.snap.state === "idle" && this.snap.call === null) return;
    this.update({ state: "ended", incoming: false, endReason: reason, endedBy: by, sendingVideo: false,
                  error: error === CLIENT_CODES.timeout ? "" : error, quality: null });
  }

  private update(fields: Partial<LineSnapshot>): void {
    this.snap = { ...this.snap, ...fields };
    this.emit();
  }

  private emit(): void {
    for (const listener of this.listeners) this.safely(listener);
  }

  private safely(listener: (s: LineSnapshot) => void): void {
    try {
      listener(this.snap);
    } catch (err) {
      console.error("engage: call view failed", err);
    }
  }
}
