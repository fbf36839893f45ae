/**
 * The call half of the client protocol (web_widget/PROTOCOL.md §7), shared by /agent and
 * /visitor: request payloads and acks, push payloads and their shape checks. Pure: no DOM and
 * no socket.io-client import, so node can test it.
 */

import { type Ack, type AckEmitter, DEFAULT_TIMEOUT_MS, callWithAck } from "./ack";
import type { CallConsent, CallMediaChange, CallPropose, CallRef, CallSignal, IceCandidateInit } from "./payloads.gen";

export type CallMedia = "audio" | "video";
export type CallSide = "agent" | "visitor";
/** Who sent a relayed signal: the other side, or the server's recording peer. */
export type SignalFrom = CallSide | "server";
export type SignalKind = "offer" | "answer" | "ice" | "restart";
export type CallEndReason = "hangup" | "interaction_ended" | "timeout" | "no_answer" | string;

/** The browser's RTCIceCandidateInit as the server's schema takes it ("" ends candidates). */
export type IceInit = IceCandidateInit;

export type SignalPayload = CallSignal;

export interface CallRequests {
  "call.propose": {
    payload: CallPropose;
    reply: { call: string; record: boolean };
  };
  "call.consent": {
    payload: CallConsent;
    reply: { call: string; state: "accepted" | "declined"; record: boolean };
  };
  "call.signal": { payload: CallSignal; reply: Record<never, never> };
  "call.media": { payload: CallMediaChange; reply: { media: CallMedia } };
  "call.hangup": { payload: CallRef; reply: Record<never, never> };
}

/** A call event of one interaction; `by` is the side that did it. */
export interface CallAnswerPush {
  call: string;
  interaction: string;
  media: CallMedia;
  by: CallSide;
  record: boolean;
}

export interface CallSignalPush {
  call: string;
  interaction: string;
  from: SignalFrom;
  kind: SignalKind;
  sdp?: string;
  candidate?: IceInit;
}

export interface CallPushes {
  "call.proposed": CallAnswerPush;
  "call.accepted": CallAnswerPush;
  "call.declined": CallAnswerPush;
  "call.signal": CallSignalPush;
  "call.media": { call: string; interaction: string; media: CallMedia; by: CallSide };
  "call.ended": { call: string; interaction: string; by: CallSide | "system"; reason: CallEndReason };
}

export type CallPushName = keyof CallPushes;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");
const media = (v: unknown): CallMedia | null => (v === "audio" || v === "video" ? v : null);
const side = (v: unknown): CallSide | null => (v === "agent" || v === "visitor" ? v : null);

/** The call and interaction ids every call push carries, or null. */
function ids(raw: unknown): { r: Record<string, unknown>; call: string; interaction: string } | null {
  if (!isRecord(raw)) return null;
  const call = str(raw["call"]);
  const interaction = str(raw["interaction"]);
  return call && interaction ? { r: raw, call, interaction } : null;
}

function answerPush(raw: unknown): CallAnswerPush | null {
  const base = ids(raw);
  if (base === null) return null;
  const m = media(base.r["media"]);
  const by = side(base.r["by"]);
  if (m === null || by === null) return null;
  return { call: base.call, interaction: base.interaction, media: m, by, record: base.r["record"] === true };
}

export function parseIceInit(raw: unknown): IceInit | null {
  if (!isRecord(raw) || typeof raw["candidate"] !== "string") return null;
  const init: IceInit = { candidate: raw["candidate"] };
  if (typeof raw["sdpMid"] === "string") init.sdpMid = raw["sdpMid"];
  if (typeof raw["sdpMLineIndex"] === "number") init.sdpMLineIndex = raw["sdpMLineIndex"];
  if (typeof raw["usernameFragment"] === "string") init.usernameFragment = raw["usernameFragment"];
  return init;
}

const KINDS: readonly SignalKind[] = ["offer", "answer", "ice", "restart"];

export const CALL_PUSH_GUARDS: { [E in CallPushName]: (raw: unknown) => CallPushes[E] | null } = {
  "call.proposed": answerPush,
  "call.accepted": answerPush,
  "call.declined": answerPush,
  "call.signal": (raw) => {
    const base = ids(raw);
    if (base === null) return null;
    const from = base.r["from"] === "server" ? "server" : side(base.r["from"]);
    const kind = KINDS.find((k) => k === base.r["kind"]);
    if (from === null || kind === undefined) return null;
    const push: CallSignalPush = { call: base.call, interaction: base.interaction, from, kind };
    if (kind === "offer" || kind === "answer") {
      if (typeof base.r["sdp"] !== "string" || !base.r["sdp"]) return null;
      push.sdp = base.r["sdp"];
    } else if (kind === "ice") {
      const candidate = parseIceInit(base.r["candidate"]);
      if (candidate === null) return null;
      push.candidate = candidate;
    }
    return push;
  },
  "call.media": (raw) => {
    const base = ids(raw);
    const m = base && media(base.r["media"]);
    const by = base && side(base.r["by"]);
    return base && m && by ? { call: base.call, interaction: base.interaction, media: m, by } : null;
  },
  "call.ended": (raw) => {
    const base = ids(raw);
    if (base === null) return null;
    const by = base.r["by"] === "system" ? "system" : side(base.r["by"]) ?? "system";
    return { call: base.call, interaction: base.interaction, by, reason: str(base.r["reason"]) || "hangup" };
  },
};

export const CALL_PUSH_EVENTS = /* @__PURE__ */ Object.keys(CALL_PUSH_GUARDS) as CallPushName[];

/** One call request with a typed payload; resolves to the ack (never rejects). */
export function callRequest<E extends keyof CallRequests>(
  socket: AckEmitter, event: E, payload: CallRequests[E]["payload"],
  timeoutMs: number = DEFAULT_TIMEOUT_MS,
): Promise<Ack<CallRequests[E]["reply"]>> {
  return callWithAck<CallRequests[E]["reply"]>(socket, event, payload, timeoutMs);
}

/** The slice of a socket.io-client `Socket` a call needs: acks, listeners on and off. */
export interface CallSocket extends AckEmitter {
  readonly connected: boolean;
  on(event: string, listener: (raw: unknown) => void): unknown;
  off(event: string, listener: (raw: unknown) => void): unknown;
}

/**
 * Listens for the call pushes of one interaction; the handler gets checked payloads and cannot
 * throw out. Returns the function that stops listening.
 */
export function onCallPushes(socket: CallSocket, interaction: string,
                             handler: <E extends CallPushName>(event: E, push: CallPushes[E]) => void,
): () => void {
  const listeners = CALL_PUSH_EVENTS.map((event) => {
    const listener = (raw: unknown): void => {
      const push = CALL_PUSH_GUARDS[event](raw);
      if (push === null || push.interaction !== interaction) return;
      try {
        handler(event, push);
      } catch (err) {
        console.error(`engage: ${event} handler failed`, err);
      }
    };
    socket.on(event, listener);
    return [event, listener] as const;
  });
  return () => {
    for (const [event, listener] of listeners) socket.off(event, listener);
  };
}

/** ICE servers from `GET /api/ice-servers` or `/api/visitor/ice-servers`; junk entries dropped. */
export function parseIceServers(raw: unknown): RTCIceServer[] {
  if (!isRecord(raw) || !Array.isArray(raw["ice_servers"])) return [];
  const servers: RTCIceServer[] = [];
  for (const entry of raw["ice_servers"]) {
    if (!isRecord(entry)) continue;
    const urls = entry["urls"];
    const list = typeof urls === "string" ? [urls] : Array.isArray(urls)
      ? urls.filter((u): u is string => typeof u === "string") : [];
    if (list.length === 0) continue;
    const server: RTCIceServer = { urls: list };
    if (typeof entry["username"] === "string") server.username = entry["username"];
    if (typeof entry["credential"] === "string") server.credential = entry["credential"];
    servers.push(server);
  }
  return servers;
}

/**
 * ICE servers from an HTTP loader, kept for half their credentials' lifetime (`ttl`, seconds)
 * so each call does not fetch again; a failed load throws (the call goes on with none).
 */
export function iceServerSource(load: () => Promise<unknown>, now: () => number = Date.now,
): () => Promise<RTCIceServer[]> {
  let cached: { servers: RTCIceServer[]; until: number } | null = null;
  return async () => {
    if (cached !== null && now() < cached.until) return cached.servers;
    const raw = await load();
    const servers = parseIceServers(raw);
    const ttl = isRecord(raw) && typeof raw["ttl"] === "number" ? raw["ttl"] : 0;
    cached = { servers, until: now() + ttl * 500 };
    return servers;
  };
}
