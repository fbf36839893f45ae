/**
 * The visitor's calls, inside the chat view: "Voice call" / "Video call" (with the recording
 * consent box when the queue records), the consent prompt for the agent's proposal (camera and
 * microphone start only on the visitor's click; recording only when ticked), and in the call its
 * state, quality, recording notice, both videos, mute, camera, voice ↔ video, devices, hang-up.
 * Renders one CallLine; owns its DOM and nothing else.
 */

import { CallLine, type LineSnapshot } from "../../../signaling/client/call_line";
import { type DeviceChoice, showTracks } from "../../../signaling/client/call_media";
import { type CallSocket, iceServerSource } from "../../../signaling/client/call_protocol";
import { visitorCall } from "../../../signaling/client/visitor";
import type { StringKey, Translate } from "../i18n";
import { h, uid } from "../../../signaling/client/dom";

export interface CallViewDeps {
  t: Translate;
  socket: CallSocket;
  interaction: string;
  /** The visitor token for `GET /api/visitor/ice-servers` (bearer). */
  token(): Promise<string | null>;
  /** The agent proposed a call (the panel may be closed: draw attention). */
  onRing(): void;
}

const END_KEYS: Readonly<Record<string, StringKey>> = {
  declined: "call_end_declined", no_answer: "call_end_no_answer", timeout: "call_end_timeout",
};
const STATE_KEYS: Readonly<Record<string, StringKey>> = {
  ringing: "call_state_ringing", connecting: "call_state_connecting", connected: "call_state_connected",
  reconnecting: "call_state_reconnecting", ended: "call_state_ended",
};
const PROBLEM_KEYS: Readonly<Record<string, StringKey>> = {
  unavailable: "call_media_unavailable", denied: "call_media_denied", no_device: "call_media_failed",
  failed: "call_media_failed",
};

function checkbox(label: string): { el: HTMLElement; box: HTMLInputElement } {
  const box = h("input", { type: "checkbox", name: "record_consent" });
  return { el: h("label", { class: "engage-check" }, box, label), box };
}

function select(label: string): { el: HTMLElement; control: HTMLSelectElement } {
  const id = uid("engage-device");
  const control = h("select", { id });
  return { el: h("div", { class: "engage-field" }, h("label", { for: id }, label), control), control };
}

function fill(control: HTMLSelectElement, choices: readonly DeviceChoice[], current: string): void {
  const key = choices.map((c) => `${c.id}\u0000${c.label}`).join("\u0001");
  if (control.dataset["choices"] !== key) {
    control.dataset["choices"] = key;
    control.replaceChildren(...choices.map((c) => h("option", { value: c.id }, c.label)));
  }
  if (current && choices.some((c) => c.id === current)) control.value = current;
  control.disabled = choices.length === 0;
}

export class CallView {
  readonly el: HTMLElement;
  private readonly line: CallLine;
  private readonly stop: () => void;
  private readonly stopAsking: () => void;
  /** Asks whether the conversation's queue records calls. */
  private readonly askRecords: () => void;
  private listed = "";
  private ringing = "";

  constructor(deps: CallViewDeps) {
    const { t } = deps;
    const iceServers = iceServerSource(async () => {
      const token = await deps.token();
      const response = await fetch("/api/visitor/ice-servers", {
        credentials: "omit", headers: token === null ? {} : { Authorization: `Bearer ${token}` } });
      if (!response.ok) throw new Error(`ice servers: HTTP ${response.status}`);
      return response.json();
    });
    this.line = new CallLine({ side: "visitor", interaction: deps.interaction, socket: deps.socket, iceServers,
                               autoCamera: false, resumeOnConnect: false });

    // idle: the visitor's own proposal
    const voice = h("button", { type: "button", class: "engage-secondary" }, t("call_voice"));
    const video = h("button", { type: "button", class: "engage-secondary" }, t("call_video"));
    const ownConsent = checkbox(t("call_allow_recording"));
    const start = h("div", { class: "engage-call-start" }, voice, video, ownConsent.el);
    const propose = (media: "audio" | "video"): void => {
      const record = ownConsent.box.checked;
      ownConsent.box.checked = false; // consent is explicit, every time
      this.act(this.line.propose(media, record));
    };
    voice.addEventListener("click", () => propose("audio"));
    video.addEventListener("click", () => propose("video"));

    // the agent's proposal: consent
    const question = h("p", { class: "engage-call-question" });
    const consent = checkbox(t("call_allow_recording"));
    const accept = h("button", { type: "button", class: "engage-primary" }, t("accept"));
    const decline = h("button", { type: "button", class: "engage-secondary" }, t("call_decline"));
    const prompt = h("div", { class: "engage-call-prompt", role: "group", "aria-label": t("call_region") },
      question, consent.el, h("div", { class: "engage-actions" }, accept, decline));
    accept.addEventListener("click", () => this.act(this.line.accept(consent.box.checked)));
    decline.addEventListener("click", () => this.act(this.line.decline()));

    // the call
    const state = h("p", { class: "engage-call-state", "data-testid": "call-state", role: "status" });
    const recording = h("p", { class: "engage-call-recording", "data-testid": "call-recording" }, t("call_recording"));
    const quality = h("span", { class: "engage-call-quality", "data-testid": "call-quality" });
    const remote = h("video", { class: "engage-call-remote", "data-testid": "remote-video", autoplay: true,
                                playsinline: true, "aria-label": t("call_remote_video") });
    const preview = h("video", { class: "engage-call-local", "data-testid": "local-video", autoplay: true,
                                 playsinline: true, "aria-label": t("call_local_video") });
    preview.muted = true;
    const videos = h("div", { class: "engage-call-videos" }, remote, preview);
    const mute = h("button", { type: "button", class: "engage-secondary" }, t("call_mute"));
    const camera = h("button", { type: "button", class: "engage-secondary" }, t("call_camera_off"));
    const switchMedia = h("button", { type: "button", class: "engage-secondary" }, t("call_to_video"));
    const hangup = h("button", { type: "button", class: "engage-call-hangup" }, t("call_hangup"));
    const mic = select(t("call_microphone"));
    const cam = select(t("call_camera"));
    const devices = h("details", { class: "engage-call-devices" }, h("summary", {}, t("call_devices")), mic.el, cam.el);
    const live = h("div", { class: "engage-call-live" }, videos,
      h("div", { class: "engage-call-controls" }, mute, camera, switchMedia, hangup), devices);
    mute.addEventListener("click", () => this.line.setMuted(!this.line.snapshot.muted));
    camera.addEventListener("click", () => {
      const s = this.line.snapshot;
      this.act(this.line.setCameraOff(s.sendingVideo && !s.cameraOff));
    });
    switchMedia.addEventListener("click", () =>
      this.act(this.line.switchMedia(this.line.snapshot.media === "video" ? "audio" : "video")));
    hangup.addEventListener("click", () => this.act(this.line.hangup()));
    mic.control.addEventListener("change", () => this.act(this.line.useDevice("audioinput", mic.control.value)));
    cam.control.addEventListener("change", () => this.act(this.line.useDevice("videoinput", cam.control.value)));

    const notice = h("p", { class: "engage-error", role: "alert" });
    const status = h("div", { class: "engage-call-status" }, state, quality);
    this.el = h("section", { class: "engage-call", "aria-label": t("call_region") },
      start, prompt, status, recording, live, notice);

    this.stop = this.line.onChange((s) => {
      const inCall = this.line.inCall;
      const idle = s.state === "idle" || s.state === "ended";
      const isVideo = s.media === "video";
      this.el.dataset["state"] = s.state;
      this.el.dataset["media"] = s.media;
      start.hidden = !idle;
      ownConsent.el.hidden = s.queueRecords !== true;
      const asked = s.state === "ringing" && s.incoming;
      prompt.hidden = !asked;
      if (asked && this.ringing !== s.call) {
        this.ringing = s.call ?? "";
        consent.box.checked = false; // consent is explicit, every time
        deps.onRing();
      }
      question.textContent = t(isVideo ? "call_incoming_video" : "call_incoming_voice");
      consent.el.hidden = !s.record;
      status.hidden = s.state === "idle" || asked;
      state.dataset["state"] = s.state;
      const stateKey = STATE_KEYS[s.state];
      state.textContent = stateKey === undefined ? "" : t(stateKey);
      recording.hidden = !(inCall && s.record);
      quality.hidden = !inCall || s.quality === null || s.quality.level === "unknown";
      quality.className = `engage-call-quality engage-quality-${s.quality?.level ?? "unknown"}`;
      quality.textContent = s.quality !== null && s.quality.level !== "unknown"
        ? t(`call_quality_${s.quality.level}`) : "";
      quality.dataset["level"] = s.quality?.level ?? "unknown";
      quality.dataset["rtt"] = s.quality?.rttMs == null ? "" : String(s.quality.rttMs);
      quality.dataset["loss"] = s.quality?.lossPct == null ? "" : String(s.quality.lossPct);
      quality.dataset["framesReceived"] = String(s.quality?.framesReceived ?? 0);
      quality.dataset["framesDecoded"] = String(s.quality?.framesDecoded ?? 0);
      live.hidden = !inCall && !(s.state === "ringing" && !s.incoming); // own ring: hang-up cancels
      videos.hidden = !inCall || !isVideo;
      mute.hidden = switchMedia.hidden = devices.hidden = !inCall;
      preview.hidden = !s.sendingVideo;
      mute.textContent = t(s.muted ? "call_unmute" : "call_mute");
      camera.hidden = !inCall || !isVideo;
      camera.textContent = t(s.sendingVideo && !s.cameraOff ? "call_camera_off" : "call_camera_on");
      switchMedia.textContent = t(isVideo ? "call_to_voice" : "call_to_video");
      cam.el.hidden = !s.sendingVideo;
      showTracks(remote, inCall ? this.line.remoteStream?.getTracks() ?? [] : []);
      showTracks(preview, inCall ? this.line.localStream.getVideoTracks() : []);
      const problemKey = PROBLEM_KEYS[s.mediaProblem];
      const endKey = s.state === "ended" ? END_KEYS[s.endReason] : undefined;
      notice.textContent = [endKey && t(endKey), problemKey && t(problemKey),
                            s.error && s.state === "idle" ? t("call_refused") : ""].filter(Boolean).join(" ");
      if (inCall) this.refreshDevices(s, mic.control, cam.control);
      else this.listed = "";
    });

    // Whether the queue records decides if the visitor's own proposal offers the consent box:
    // asked now, and again whenever the conversation connects anew (a transfer changes queue)
    // or the socket comes back.
    this.askRecords = () => this.act(this.askQueueRecords(deps));
    const connected = (raw: unknown): void => {
      if ((raw as { interaction?: unknown } | null)?.interaction === deps.interaction) this.askRecords();
    };
    deps.socket.on("connected", connected);
    this.stopAsking = () => deps.socket.off("connected", connected);
    this.askRecords();
  }

  /** Puts the call area under the chat's top bar. */
  mount(chat: HTMLElement): void {
    const top = chat.querySelector(".engage-chat-top");
    if (top !== null) top.after(this.el);
    else chat.prepend(this.el);
  }

  /** The socket is back and the conversation re-joined: keep the call (ICE restart). */
  resume(): void {
    this.line.resume();
    this.askRecords();
  }

  /** The chat is over or gone: hang up, release camera and microphone. */
  dispose(): void {
    this.stopAsking();
    this.stop();
    this.line.dispose();
    this.el.remove();
  }

  private async askQueueRecords(deps: CallViewDeps): Promise<void> {
    const ack = await visitorCall(deps.socket, "contact.status", { interaction: deps.interaction });
    if (ack.ok) this.line.setQueueRecords(ack.record_calls === true);
  }

  private act(pending: Promise<unknown>): void {
    void pending.catch((err: unknown) => console.error("engage: call action failed", err));
  }

  private refreshDevices(s: LineSnapshot, mic: HTMLSelectElement, cam: HTMLSelectElement): void {
    const key = `${s.state}:${s.sendingVideo}:${s.devices}`;
    if (key === this.listed) return;
    this.listed = key;
    void this.line.devices().then((lists) => {
      fill(mic, lists.microphones, lists.microphone);
      fill(cam, lists.cameras, lists.camera);
    });
  }
}
