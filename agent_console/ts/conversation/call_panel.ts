/**
 * The call controls of one conversation in the console: start a voice or video call, answer
 * the visitor's proposal, and in the call the state, quality, recording badge, mute, camera,
 * voice ↔ video, devices, both videos and hang-up. Renders a CallLine (signaling/client) in
 * place; owns nothing else.
 */

import { CallLine, type LineSnapshot } from "../../../signaling/client/call_line";
import { type DeviceChoice, showTracks } from "../../../signaling/client/call_media";
import { type CallQuality, describeQuality } from "../../../signaling/client/call_quality";
import { iceServerSource } from "../../../signaling/client/call_protocol";
import type { ConsoleBus, Conversation } from "../shell/console_bus";
import { h } from "../../../signaling/client/dom";

export interface CallPanel {
  el: HTMLElement;
  /** The conversation ended or its tab closed: hang up and release devices. */
  dispose(): void;
}

/** One cache of ICE servers for the page (TURN credentials last `ttl`; half is used). */
const iceServers = iceServerSource(async () => {
  const response = await fetch("/api/ice-servers", { credentials: "same-origin",
                                                     headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`ice servers: HTTP ${response.status}`);
  return response.json();
});

const END_TEXTS: Readonly<Record<string, string>> = {
  hangup: "The call was hung up.",
  declined: "The call was declined.",
  no_answer: "No answer.",
  timeout: "The call was lost (no connection for too long).",
  interaction_ended: "The conversation ended.",
  answered_elsewhere: "Answered in another tab.",
  call_ended: "The call has ended.",
  failed: "The call could not be set up.",
};

const MEDIA_PROBLEMS: Readonly<Record<string, string>> = {
  unavailable: "Camera and microphone need a secure (https) page.",
  denied: "The browser was not allowed to use the camera or microphone.",
  no_device: "No camera or microphone was found.",
  failed: "The camera or microphone could not be started.",
};

function button(label: string, cls = ""): HTMLButtonElement {
  return h("button", { type: "button", ...(cls ? { class: cls } : {}) }, label);
}

function deviceSelect(id: string, label: string): { wrap: HTMLElement; select: HTMLSelectElement } {
  const select = h("select", { id });
  return { wrap: h("div", { class: "call-device" }, h("label", { for: id }, label), select), select };
}

function fillSelect(select: HTMLSelectElement, choices: readonly DeviceChoice[], current: string): void {
  const key = choices.map((c) => `${c.id}\u0000${c.label}`).join("\u0001");
  if (select.dataset["choices"] !== key) {
    select.dataset["choices"] = key;
    select.replaceChildren(...choices.map((c) => h("option", { value: c.id }, c.label)));
  }
  if (current && select.value !== current && choices.some((c) => c.id === current)) select.value = current;
  select.disabled = choices.length === 0;
}

function showQuality(el: HTMLElement, q: CallQuality | null): void {
  el.className = `call-quality quality-${q?.level ?? "unknown"}`;
  el.textContent = q === null ? "" : describeQuality(q);
  el.dataset["level"] = q?.level ?? "unknown";
  el.dataset["rtt"] = q?.rttMs === null || q === null ? "" : String(q.rttMs);
  el.dataset["loss"] = q?.lossPct === null || q === null ? "" : String(q.lossPct);
  el.dataset["framesReceived"] = String(q?.framesReceived ?? 0);
  el.dataset["framesDecoded"] = String(q?.framesDecoded ?? 0);
}

export function createCallPanel(bus: ConsoleBus, conversation: Conversation): CallPanel {
  const ix = conversation.interaction;
  const line = new CallLine({
    side: "agent", interaction: ix, socket: bus.socket, iceServers,
    autoCamera: true, resumeOnConnect: true,
  });

  const state = h("span", { class: "call-state", "data-testid": "call-state", role: "status" });
  const recording = h("span", { class: "call-recording", "data-testid": "call-recording", hidden: true },
    "● Recording");
  const quality = h("span", { class: "call-quality", "data-testid": "call-quality", "aria-live": "off" });
  const incoming = h("p", { class: "call-incoming", hidden: true });

  const startVoice = button("Start voice call");
  const startVideo = button("Start video call");
  const accept = button("Accept call");
  const decline = button("Decline call", "secondary");
  const mute = button("Mute", "secondary");
  const camera = button("Camera off", "secondary");
  const switchMedia = button("Switch to video", "secondary");
  const hangup = button("Hang up", "call-hangup");
  const mic = deviceSelect(`call-mic-${ix}`, "Microphone");
  const cam = deviceSelect(`call-cam-${ix}`, "Camera");
  const devices = h("div", { class: "call-devices", hidden: true }, mic.wrap, cam.wrap);
  const remote = h("video", { class: "call-remote", "data-testid": "remote-video", autoplay: true,
                              playsinline: true, "aria-label": "Visitor's video" });
  const preview = h("video", { class: "call-local", "data-testid": "local-video", autoplay: true,
                               playsinline: true, "aria-label": "Your camera" });
  preview.muted = true;
  const videos = h("div", { class: "call-videos", hidden: true }, remote, preview);
  const problem = h("p", { class: "error", role: "alert" });

  const el = h("section", { class: "call-panel", "aria-label": "Call", "data-interaction": ix },
    h("div", { class: "call-bar" }, h("span", { class: "call-label" }, "Call:"), state, recording, quality),
    incoming,
    h("div", { class: "actions call-actions" }, startVoice, startVideo, accept, decline, mute, camera, switchMedia, hangup),
    devices, videos, problem);

  // A refusal shows through the line's snapshot (error), like everything else.
  const act = (run: () => Promise<unknown>): void => {
    void run().catch((err: unknown) => console.error("engage: call action failed", err));
  };
  startVoice.addEventListener("click", () => act(() => line.propose("audio")));
  startVideo.addEventListener("click", () => act(() => line.propose("video")));
  accept.addEventListener("click", () => act(() => line.accept()));
  decline.addEventListener("click", () => act(() => line.decline()));
  hangup.addEventListener("click", () => act(() => line.hangup()));
  mute.addEventListener("click", () => line.setMuted(!line.snapshot.muted));
  camera.addEventListener("click", () => {
    const s = line.snapshot;
    act(() => line.setCameraOff(s.sendingVideo && !s.cameraOff));
  });
  switchMedia.addEventListener("click", () =>
    act(() => line.switchMedia(line.snapshot.media === "video" ? "audio" : "video")));
  mic.select.addEventListener("change", () => act(() => line.useDevice("audioinput", mic.select.value)));
  cam.select.addEventListener("change", () => act(() => line.useDevice("videoinput", cam.select.value)));

  let listed = "";
  const refreshDevices = (s: LineSnapshot): void => {
    const key = `${s.state}:${s.sendingVideo}:${s.devices}`;
    if (key === listed) return;
    listed = key;
    void line.devices().then((lists) => {
      fillSelect(mic.select, lists.microphones, lists.microphone);
      fillSelect(cam.select, lists.cameras, lists.camera);
    });
  };

  const render = (s: LineSnapshot): void => {
    const inCall = line.inCall;
    const idle = s.state === "idle" || s.state === "ended";
    const video = s.media === "video";
    state.textContent = s.state;
    state.dataset["state"] = s.state;
    el.dataset["state"] = s.state;
    el.dataset["media"] = s.media;
    recording.hidden = !(s.record && (inCall || s.state === "ringing"));
    recording.textContent = inCall ? "● Recording" : "● Recorded if the visitor agrees";
    incoming.hidden = !(s.state === "ringing" && s.incoming);
    incoming.textContent = `The visitor wants to start a ${video ? "video" : "voice"} call.`;
    startVoice.hidden = startVideo.hidden = !idle;
    accept.hidden = decline.hidden = !(s.state === "ringing" && s.incoming);
    hangup.hidden = !(inCall || (s.state === "ringing" && !s.incoming));
    mute.hidden = switchMedia.hidden = !inCall;
    mute.textContent = s.muted ? "Unmute" : "Mute";
    camera.hidden = !(inCall && video);
    camera.textContent = s.sendingVideo && !s.cameraOff ? "Camera off" : "Camera on";
    switchMedia.textContent = video ? "Switch to voice" : "Switch to video";
    devices.hidden = !inCall;
    cam.wrap.hidden = !video;
    videos.hidden = !inCall;
    videos.classList.toggle("call-audio-only", !video);
    remote.hidden = !video;
    preview.hidden = !(video && s.sendingVideo);
    showTracks(remote, inCall ? line.remoteStream?.getTracks() ?? [] : []);
    showTracks(preview, inCall ? line.localStream.getVideoTracks() : []);
    showQuality(quality, inCall ? s.quality : null);
    quality.hidden = !inCall;
    const notes: string[] = [];
    if (s.state === "ended" && s.endReason) notes.push(END_TEXTS[s.endReason] ?? `The call ended (${s.endReason}).`);
    if (s.mediaProblem) notes.push(MEDIA_PROBLEMS[s.mediaProblem] ?? MEDIA_PROBLEMS["failed"] ?? "");
    if (s.error && s.state !== "ended") notes.push(`The call request was refused (${s.error}).`);
    problem.textContent = notes.join(" ");
    if (inCall) refreshDevices(s);
    else listed = "";
  };
  const stopRender = line.onChange(render);

  return {
    el,
    dispose: () => {
      stopRender();
      line.dispose();
      showTracks(remote, []);
      showTracks(preview, []);
    },
  };
}
