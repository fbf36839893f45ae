/**
 * The local side of a call's media: the microphone and camera tracks (started only when asked),
 * mute and camera-off (track.enabled), the device lists and the chosen devices, and stopping
 * every track at the end. Owns the tracks; the session only sends them.
 */

import type { CallMedia } from "./call_protocol";

export type DeviceKind = "audioinput" | "videoinput";

export interface DeviceChoice {
  id: string;
  label: string;
}

export interface DeviceLists {
  microphones: DeviceChoice[];
  cameras: DeviceChoice[];
  /** The ids of the devices in use (or chosen for later), "" for the default. */
  microphone: string;
  camera: string;
}

/** The slice of `navigator.mediaDevices` used here (absent outside secure contexts). */
export type MediaDevicesLike = Pick<MediaDevices, "getUserMedia" | "enumerateDevices"
  | "addEventListener" | "removeEventListener">;

export function mediaDevices(): MediaDevicesLike | null {
  return typeof navigator !== "undefined" && navigator.mediaDevices !== undefined
    ? navigator.mediaDevices : null;
}

/** Why media could not start: `unavailable` (no API, insecure page), `denied`, `no_device`. */
export type MediaProblem = "unavailable" | "denied" | "no_device" | "failed";

export class MediaError extends Error {
  constructor(readonly problem: MediaProblem, message: string) {
    super(message);
  }
}

/** The problem behind a failure of LocalMedia (or of anything else: "failed"). */
export function mediaProblem(err: unknown): MediaProblem {
  return err instanceof MediaError ? err.problem : "failed";
}

function problemOf(err: unknown): MediaProblem {
  const name = err instanceof Error ? err.name : "";
  if (name === "NotAllowedError" || name === "SecurityError") return "denied";
  if (name === "NotFoundError" || name === "OverconstrainedError") return "no_device";
  return "failed";
}

export class LocalMedia {
  /** What the local preview shows: the live tracks. */
  readonly stream = new MediaStream();
  private audioTrack: MediaStreamTrack | null = null;
  private videoTrack: MediaStreamTrack | null = null;
  private micId = "";
  private camId = "";
  private mutedFlag = false;
  private cameraOffFlag = false;

  constructor(private readonly devices: MediaDevicesLike | null = mediaDevices()) {}

  get audio(): MediaStreamTrack | null {
    return this.audioTrack;
  }

  get video(): MediaStreamTrack | null {
    return this.videoTrack;
  }

  get muted(): boolean {
    return this.mutedFlag;
  }

  get cameraOff(): boolean {
    return this.cameraOffFlag;
  }

  get microphoneId(): string {
    return this.audioTrack?.getSettings().deviceId ?? this.micId;
  }

  get cameraId(): string {
    return this.videoTrack?.getSettings().deviceId ?? this.camId;
  }

  /** Starts the microphone, and the camera for video; what failed is thrown after the rest started. */
  async start(media: CallMedia): Promise<void> {
    let problem: MediaError | null = null;
    if (this.audioTrack === null) {
      try {
        this.audioTrack = await this.open("audioinput", this.micId);
      } catch (err) {
        problem = err instanceof MediaError ? err : new MediaError("failed", String(err));
      }
    }
    if (media === "video") {
      try {
        await this.startCamera();
      } catch (err) {
        problem ??= err instanceof MediaError ? err : new MediaError("failed", String(err));
      }
    }
    if (problem !== null) throw problem;
  }

  /** The camera track, started if it was not (camera-off is cleared). */
  async startCamera(): Promise<MediaStreamTrack> {
    if (this.videoTrack === null) this.videoTrack = await this.open("videoinput", this.camId);
    this.setCameraOff(false);
    return this.videoTrack;
  }

  /** Stops the camera (the video part of the call is over). */
  stopCamera(): void {
    if (this.videoTrack === null) return;
    this.drop(this.videoTrack);
    this.videoTrack = null;
  }

  setMuted(muted: boolean): void {
    this.mutedFlag = muted;
    if (this.audioTrack !== null) this.audioTrack.enabled = !muted;
  }

  setCameraOff(off: boolean): void {
    this.cameraOffFlag = off;
    if (this.videoTrack !== null) this.videoTrack.enabled = !off;
  }

  /**
   * Switches to another device of that kind; answers the new track (to put on the sender with
   * replaceTrack) or null when no track of that kind runs (the choice is kept for later).
   */
  async useDevice(kind: DeviceKind, deviceId: string): Promise<MediaStreamTrack | null> {
    if (kind === "audioinput") this.micId = deviceId;
    else this.camId = deviceId;
    const current = kind === "audioinput" ? this.audioTrack : this.videoTrack;
    if (current === null || current.getSettings().deviceId === deviceId) return null;
    const next = await this.open(kind, deviceId);
    this.drop(current);
    if (kind === "audioinput") {
      this.audioTrack = next;
      this.setMuted(this.mutedFlag);
    } else {
      this.videoTrack = next;
      this.setCameraOff(this.cameraOffFlag);
    }
    return next;
  }

  /** The microphones and cameras (labels only once the page may use them). */
  async list(): Promise<DeviceLists> {
    const lists: DeviceLists = { microphones: [], cameras: [], microphone: this.microphoneId,
                                 camera: this.cameraId };
    if (this.devices === null) return lists;
    let all: MediaDeviceInfo[];
    try {
      all = await this.devices.enumerateDevices();
    } catch {
      return lists;
    }
    for (const d of all) {
      if (!d.deviceId) continue;
      const target = d.kind === "audioinput" ? lists.microphones : d.kind === "videoinput" ? lists.cameras : null;
      target?.push({ id: d.deviceId, label: d.label || `${d.kind === "audioinput" ? "Microphone" : "Camera"} ${target.length + 1}` });
    }
    return lists;
  }

  /** Calls `listener` when devices come and go; returns the function that stops it. */
  watch(listener: () => void): () => void {
    const devices = this.devices;
    if (devices === null) return () => undefined;
    devices.addEventListener("devicechange", listener);
    return () => devices.removeEventListener("devicechange", listener);
  }

  /** Stops every track: camera and microphone lights go off. */
  stop(): void {
    for (const track of [this.audioTrack, this.videoTrack]) if (track !== null) this.drop(track);
    this.audioTrack = null;
    this.videoTrack = null;
  }

  private async open(kind: DeviceKind, deviceId: string): Promise<MediaStreamTrack> {
    if (this.devices === null) {
      throw new MediaError("unavailable", "camera and microphone need a secure (https) page");
    }
    const wanted: MediaTrackConstraints | boolean = deviceId ? { deviceId: { exact: deviceId } } : true;
    let stream: MediaStream;
    try {
      stream = await this.devices.getUserMedia(kind === "audioinput"
        ? { audio: wanted } : { video: deviceId ? { deviceId: { exact: deviceId } } : { width: { ideal: 640 }, height: { ideal: 480 } } });
    } catch (err) {
      if (deviceId && problemOf(err) === "no_device") { // that device went away: the default one
        if (kind === "audioinput") this.micId = "";
        else this.camId = "";
        return this.open(kind, "");
      }
      throw new MediaError(problemOf(err), err instanceof Error ? err.message : String(err));
    }
    const track = kind === "audioinput" ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
    if (track === undefined) throw new MediaError("no_device", `no ${kind} track`);
    for (const extra of stream.getTracks()) if (extra !== track) extra.stop();
    this.stream.addTrack(track);
    return track;
  }

  private drop(track: MediaStreamTrack): void {
    track.stop();
    this.stream.removeTrack(track);
  }
}

/** Shows these tracks in a media element, touching it only when the set of tracks changed. */
export function showTracks(element: HTMLMediaElement, tracks: readonly MediaStreamTrack[]): void {
  const current = element.srcObject instanceof MediaStream ? element.srcObject.getTracks() : [];
  const same = current.length === tracks.length && tracks.every((t) => current.includes(t));
  if (same) return;
  element.srcObject = tracks.length === 0 ? null : new MediaStream([...tracks]);
  if (tracks.length > 0) element.play().catch(() => undefined); // autoplay may wait for a click
}
