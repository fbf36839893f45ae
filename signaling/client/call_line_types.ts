/**
 * The value types of a call line (signaling/client/call_line.ts): what it needs (deps) and what
 * it shows at a moment (an immutable snapshot).
 */

import type { MediaDevicesLike, MediaProblem } from "./call_media";
import type { CallMedia, CallSide, CallSocket } from "./call_protocol";
import type { CallQuality } from "./call_quality";

export type LineState = "idle" | "ringing" | "connecting" | "connected" | "reconnecting" | "ended";

export interface LineSnapshot {
  state: LineState;
  call: string | null;
  /** Ringing for this side's consent (the other side proposed). */
  incoming: boolean;
  media: CallMedia;
  /** While ringing: the queue records (with consent); once accepted: the call is recorded. */
  record: boolean;
  /** Whether this conversation's queue records calls, once known (null: not known yet). */
  queueRecords: boolean | null;
  muted: boolean;
  cameraOff: boolean;
  /** The local camera runs (video is being sent). */
  sendingVideo: boolean;
  /** Why the last call ended: hangup, declined, no_answer, timeout, interaction_ended… */
  endReason: string;
  endedBy: string;
  /** Local camera/microphone trouble ("" when none). */
  mediaProblem: MediaProblem | "";
  /** The code of the last refused request ("" when none). */
  error: string;
  quality: CallQuality | null;
  /** Counts device changes (plugged in, removed): the device lists need a refresh. */
  devices: number;
}

export const IN_CALL: readonly LineState[] = ["connecting", "connected", "reconnecting"];

export const IDLE: Readonly<LineSnapshot> = {
  state: "idle", call: null, incoming: false, media: "audio", record: false, queueRecords: null,
  muted: false, cameraOff: false, sendingVideo: false, endReason: "", endedBy: "",
  mediaProblem: "", error: "", quality: null, devices: 0,
};

export interface LineDeps {
  side: CallSide;
  interaction: string;
  socket: CallSocket;
  iceServers(): Promise<RTCIceServer[]>;
  /**
   * Whether this side's camera follows the call's media by itself (staff) or only ever starts
   * on this person's own click (visitors: consent before camera).
   */
  autoCamera: boolean;
  /** Re-offer / ask for an ICE restart on every socket reconnect (the widget calls resume()). */
  resumeOnConnect: boolean;
  devices?: MediaDevicesLike | null;
  peer?(config: RTCConfiguration): RTCPeerConnection;
}
