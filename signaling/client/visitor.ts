/**
 * The /visitor half of the client protocol (web_widget/PROTOCOL.md, signaling/schemas.py):
 * typed requests and acks, push guards (trail events and sensor thresholds: trail.ts). Pure: no DOM and no
 * socket.io-client import, so the host-page loader can share the types and node can test it.
 */

import { type Ack, type AckEmitter, DEFAULT_TIMEOUT_MS, callWithAck } from "./ack";
import { CALL_PUSH_EVENTS, CALL_PUSH_GUARDS, type CallPushes, type CallRequests } from "./call_protocol";
import type { ContactRequest, VisitorPayloads } from "./payloads.gen";

export type Lang = "en" | "zh";
export const LANGS: readonly Lang[] = ["en", "zh"];

export interface PageInfo {
  url: string;
  title: string;
  referrer: string;
}

export const CHAT_TEXT_MAX = 4000;

// -- requests and acks ------------------------------------------------------------------------

export type ContactState =
  "new" | "queued" | "offered" | "connected" | "wrap_up" | "transferred" | "completed"
  | "abandoned" | "timed_out" | string;

export interface ContactStatus {
  interaction: string;
  state: ContactState;
  queue?: string;
  position?: number;
  estimated_wait_seconds?: number;
  /** The queue records calls (with the visitor's consent). */
  record_calls?: boolean;
}

export interface AttachmentInfo {
  id: string;
  name: string;
  content_type: string;
  size: number;
}

export interface ChatMessage {
  interaction: string;
  seq: number;
  client_id: string;
  from: "visitor" | "agent" | "system";
  name: string;
  text: string;
  attachment?: AttachmentInfo;
  at: number;
}

export interface ActiveInteraction {
  interaction: string;
  state: ContactState;
  queue: string;
  channel: string;
  last_seq: number;
}

export interface HelloReply {
  visitor_id: string;
  visit: string;
  returning: boolean;
  identified: boolean;
  opted_out: boolean;
  config: { queue?: string; sensors?: unknown; strings?: unknown };
  active?: ActiveInteraction | null;
  invite?: unknown;
}

/** Agent-side receipts as the visitor sees them. */
export interface AgentReceipts {
  delivered_seq: number;
  read_seq: number;
}

export type ContactRequestPayload = ContactRequest;

/** The ack fields of each /visitor request; the `call.*` ones (PROTOCOL.md §7) are shared with /agent. */
export interface VisitorReplies {
  "visit.hello": HelloReply;
  "visit.events": { accepted: number; score: number };
  "contact.request": ContactStatus;
  "contact.status": ContactStatus;
  "contact.cancel": Record<never, never>;
  "contact.message": { message_id: string };
  "contact.callback": { callback_id: string };
  "chat.send": { seq: number; at: number; duplicate: boolean };
  "chat.sync": { messages: unknown[]; last_seq: number; receipts?: unknown };
  "chat.typing": Record<never, never>;
  "chat.receipt": Record<never, never>;
  "chat.rate": Record<never, never>;
  "chat.transcript": { queued: boolean };
  "invite.respond": Partial<ContactStatus>;
  "visitor.opt_out": { opted_out: boolean };
}

/** Payload (generated from the server's schemas) and ack of each /visitor request. */
export type VisitorRequests = CallRequests & {
  [E in keyof VisitorReplies]: { payload: VisitorPayloads[E]; reply: VisitorReplies[E] };
};

/** One /visitor request with a typed payload; resolves to the ack (never rejects). */
export function visitorCall<E extends keyof VisitorRequests>(
  socket: AckEmitter, event: E, payload: VisitorRequests[E]["payload"],
  timeoutMs: number = DEFAULT_TIMEOUT_MS,
): Promise<Ack<VisitorRequests[E]["reply"]>> {
  return callWithAck<VisitorRequests[E]["reply"]>(socket, event, payload, timeoutMs);
}

// -- pushes -----------------------------------------------------------------------------------

export interface VisitorPushes extends CallPushes {
  "chat.message": ChatMessage;
  "chat.typing": { interaction: string; from: string; typing: boolean };
  "chat.receipt": { interaction: string; by: string } & AgentReceipts;
  "help.offer": { offer: string; queue: string; score: number; reasons: string[]; text: string };
  invite: { invite: string; rule: string; queue: string; text: string | Record<string, string> };
  queue_status: ContactStatus & { reason?: string };
  connected: { interaction: string; agent: string; name: string };
  ended: { interaction: string; by: string };
  agent_lost: { interaction: string };
  timed_out: { interaction: string; exit: string };
  transferred: { interaction: string };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const str = (v: unknown, fallback = ""): string => (typeof v === "string" ? v : fallback);
const num = (v: unknown, fallback = 0): number =>
  (typeof v === "number" && Number.isFinite(v) ? v : fallback);
const optNum = (v: unknown): number | undefined =>
  (typeof v === "number" && Number.isFinite(v) ? v : undefined);

function withInteraction(raw: unknown): Record<string, unknown> | null {
  return isRecord(raw) && typeof raw["interaction"] === "string" && raw["interaction"] !== "" ? raw : null;
}

export function parseAttachment(raw: unknown): AttachmentInfo | undefined {
  if (!isRecord(raw) || typeof raw["id"] !== "string") return undefined;
  return { id: raw["id"], name: str(raw["name"], "file"), content_type: str(raw["content_type"]),
           size: num(raw["size"]) };
}

export function parseChatMessage(raw: unknown): ChatMessage | null {
  const r = withInteraction(raw);
  if (r === null || typeof r["seq"] !== "number" || !Number.isInteger(r["seq"]) || r["seq"] < 0) return null;
  const from = r["from"] === "visitor" || r["from"] === "agent" ? r["from"] : "system";
  const message: ChatMessage = {
    interaction: str(r["interaction"]), seq: r["seq"], client_id: str(r["client_id"]), from,
    name: str(r["name"]), text: str(r["text"]), at: num(r["at"], Date.now()),
  };
  const attachment = parseAttachment(r["attachment"]);
  if (attachment !== undefined) message.attachment = attachment;
  return message;
}

export function parseContactStatus(raw: unknown): ContactStatus | null {
  const r = withInteraction(raw);
  if (r === null) return null;
  const status: ContactStatus = { interaction: str(r["interaction"]), state: str(r["state"]) };
  if (typeof r["queue"] === "string") status.queue = r["queue"];
  const position = optNum(r["position"]);
  if (position !== undefined) status.position = position;
  const wait = optNum(r["estimated_wait_seconds"]);
  if (wait !== undefined) status.estimated_wait_seconds = wait;
  return status;
}

/** One side's receipts: `{delivered_seq, read_seq}` (a push) or keyed by side (`chat.sync`). */
export function parseReceipts(raw: unknown, side: "agent" | "visitor" = "agent"): AgentReceipts {
  const r = isRecord(raw) && isRecord(raw[side]) ? raw[side] : raw;
  if (!isRecord(r)) return { delivered_seq: 0, read_seq: 0 };
  return { delivered_seq: num(r["delivered_seq"]), read_seq: num(r["read_seq"]) };
}

type OwnPush = Exclude<keyof VisitorPushes, keyof CallPushes>;

const VISITOR_PUSH_GUARDS: { [E in OwnPush]: (raw: unknown) => VisitorPushes[E] | null } = {
  "chat.message": parseChatMessage,
  "chat.typing": (raw) => {
    const r = withInteraction(raw);
    return r && { interaction: str(r["interaction"]), from: str(r["from"], "agent"), typing: r["typing"] === true };
  },
  "chat.receipt": (raw) => {
    const r = withInteraction(raw);
    return r && { interaction: str(r["interaction"]), by: str(r["by"], "agent"), ...parseReceipts(r) };
  },
  "help.offer": (raw) => {
    if (!isRecord(raw) || typeof raw["offer"] !== "string") return null;
    const reasons = Array.isArray(raw["reasons"]) ? raw["reasons"].filter((x): x is string => typeof x === "string") : [];
    return { offer: raw["offer"], queue: str(raw["queue"]), score: num(raw["score"]), reasons, text: str(raw["text"]) };
  },
  invite: (raw) => {
    if (!isRecord(raw) || typeof raw["invite"] !== "string") return null;
    const text = raw["text"];
    const texts: Record<string, string> = {};
    if (isRecord(text)) {
      for (const [k, v] of Object.entries(text)) if (typeof v === "string") texts[k] = v;
    }
    return { invite: raw["invite"], rule: str(raw["rule"]), queue: str(raw["queue"]),
             text: isRecord(text) ? texts : str(text) };
  },
  queue_status: (raw) => {
    const status = parseContactStatus(raw);
    if (status === null || !isRecord(raw)) return null;
    return typeof raw["reason"] === "string" ? { ...status, reason: raw["reason"] } : status;
  },
  connected: (raw) => {
    const r = withInteraction(raw);
    return r && { interaction: str(r["interaction"]), agent: str(r["agent"]), name: str(r["name"]) };
  },
  ended: (raw) => {
    const r = withInteraction(raw);
    return r && { interaction: str(r["interaction"]), by: str(r["by"]) };
  },
  agent_lost: (raw) => {
    const r = withInteraction(raw);
    return r && { interaction: str(r["interaction"]) };
  },
  timed_out: (raw) => {
    const r = withInteraction(raw);
    return r && { interaction: str(r["interaction"]), exit: str(r["exit"]) };
  },
  transferred: (raw) => {
    const r = withInteraction(raw);
    return r && { interaction: str(r["interaction"]) };
  },
};

/** The checked payload of a /visitor push, or `null` for a malformed one (dropped). */
export function guardVisitorPush<E extends keyof VisitorPushes>(event: E, raw: unknown): VisitorPushes[E] | null {
  const guard = (Object.prototype.hasOwnProperty.call(CALL_PUSH_GUARDS, event) ? CALL_PUSH_GUARDS
    : VISITOR_PUSH_GUARDS) as Record<string, (raw: unknown) => unknown>;
  return (guard[event]?.(raw) ?? null) as VisitorPushes[E] | null;
}

export const VISITOR_PUSH_EVENTS = /* @__PURE__ */ (Object.keys(VISITOR_PUSH_GUARDS) as (keyof VisitorPushes)[])
  .concat(CALL_PUSH_EVENTS);

/** The slice of a socket.io-client `Socket` that push listeners need. */
export interface PushSource {
  on(event: string, listener: (raw: unknown) => void): unknown;
}

/** Listens for one /visitor push; the handler gets a checked payload and cannot throw out. */
export function onVisitorPush<E extends keyof VisitorPushes>(
  socket: PushSource, event: E, handler: (payload: VisitorPushes[E]) => void,
): void {
  socket.on(event, (raw: unknown) => {
    const payload = guardVisitorPush(event, raw);
    if (payload === null) return;
    try {
      handler(payload);
    } catch (err) {
      console.error(`engage: ${event} handler failed`, err);
    }
  });
}

// -- small checks -------------------------------------------------------------------------------

export const E164 = /^\+[1-9]\d{6,14}$/;

/** A phone number as typed, without spaces, dots, dashes and brackets; `null` if not E.164. */
export function normalizeE164(input: string): string | null {
  const compact = input.trim().replace(/[\s().-]/g, "");
  return E164.test(compact) ? compact : null;
}

export function isEmail(input: string): boolean {
  return input.length >= 3 && input.length <= 254 && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(input);
}

/** Epoch milliseconds from a server time that may be in seconds. */
export function epochMs(at: number): number {
  return at > 0 && at < 1e11 ? at * 1000 : at;
}
