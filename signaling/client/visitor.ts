/**
 * The /visitor half of the client protocol (web_widget/PROTOCOL.md, signaling/schemas.py):
 * trail events and their sanitiser, typed requests and acks, push guards. Pure: no DOM and no
 * socket.io-client import, so the host-page loader can share the types and node can test it.
 */

import { type Ack, type AckEmitter, DEFAULT_TIMEOUT_MS, callWithAck } from "./ack";
import { CALL_PUSH_EVENTS, CALL_PUSH_GUARDS, type CallPushes, type CallRequests } from "./call_protocol";

export type Lang = "en" | "zh";
export const LANGS: readonly Lang[] = ["en", "zh"];

export interface PageInfo {
  url: string;
  title: string;
  referrer: string;
}

// -- trail events (raw sensor output) -------------------------------------------------------

export type NavKind = "load" | "push" | "pop" | "replace";
export type SignalKind =
  "rage_click" | "dead_click" | "error_click" | "form_thrash" | "form_idle" | "help_click";

interface TrailBase {
  at: number;
  url?: string;
}

export interface SignalFields {
  kind: SignalKind;
  count?: number;
  span_ms?: number;
  radius_px?: number;
  wait_ms?: number;
  idle_ms?: number;
  cycles?: number;
  target?: string;
  form?: string;
  field?: string;
  step?: string;
  message?: string;
}

export type TrailEvent = TrailBase & (
  | { type: "page"; title?: string; referrer?: string; nav?: NavKind }
  | { type: "leave"; dwell_ms?: number }
  | { type: "click"; target?: string; x?: number; y?: number }
  | { type: "form"; form?: string; step?: string; action?: "focus" | "submit" | "invalid" }
  | { type: "error"; message?: string; source?: string }
  | { type: "http_error"; status: number }
  | ({ type: "signal" } & SignalFields)
  | { type: "heartbeat"; dwell_ms?: number }
  | { type: "conversion"; value?: number });

export type TrailType = TrailEvent["type"];
export const MAX_TRAIL_BATCH = 50;
export const CHAT_TEXT_MAX = 4000;

type FieldSpec =
  | { kind: "str"; max: number }
  | { kind: "int"; min: number; max: number }
  | { kind: "num"; min: number; max: number }
  | { kind: "enum"; values: readonly string[] };

const URL_F: FieldSpec = { kind: "str", max: 2048 };
const SHORT: FieldSpec = { kind: "str", max: 300 };
const LABEL: FieldSpec = { kind: "str", max: 120 };
const MS: FieldSpec = { kind: "int", min: 0, max: 1e13 };
const COUNT: FieldSpec = { kind: "int", min: 0, max: 10_000 };

/** Every field the server's schema accepts, per event type (it refuses unknown ones). */
const TRAIL_FIELDS: Readonly<Record<TrailType, Readonly<Record<string, FieldSpec>>>> = {
  page: { title: SHORT, referrer: URL_F, nav: { kind: "enum", values: ["load", "push", "pop", "replace"] } },
  leave: { dwell_ms: MS },
  click: { target: LABEL, x: { kind: "int", min: -100_000, max: 100_000 },
           y: { kind: "int", min: -100_000, max: 10_000_000 } },
  form: { form: LABEL, step: LABEL, action: { kind: "enum", values: ["focus", "submit", "invalid"] } },
  error: { message: SHORT, source: URL_F },
  http_error: { status: { kind: "int", min: 400, max: 599 } },
  signal: {
    kind: { kind: "enum", values: ["rage_click", "dead_click", "error_click", "form_thrash",
                                   "form_idle", "help_click"] },
    count: COUNT, span_ms: MS, radius_px: { kind: "int", min: 0, max: 100_000 }, wait_ms: MS,
    idle_ms: MS, cycles: COUNT, target: LABEL, form: LABEL, field: LABEL, step: LABEL,
    message: SHORT,
  },
  heartbeat: { dwell_ms: MS },
  conversion: { value: { kind: "num", min: 0, max: 1e12 } },
};

/** Fields without which an event of that type is refused. */
const REQUIRED: Partial<Record<TrailType, string>> = { http_error: "status", signal: "kind" };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function cleanField(spec: FieldSpec, value: unknown): string | number | undefined {
  switch (spec.kind) {
    case "str":
      return typeof value === "string" ? value.slice(0, spec.max) : undefined;
    case "enum":
      return typeof value === "string" && spec.values.includes(value) ? value : undefined;
    case "int":
    case "num": {
      if (typeof value !== "number" || !Number.isFinite(value)) return undefined;
      const n = spec.kind === "int" ? Math.round(value) : value;
      return Math.min(spec.max, Math.max(spec.min, n));
    }
  }
}

/**
 * The event with exactly the fields the server accepts: strings cut to their caps, numbers
 * clamped, unknown fields dropped; `null` when the type or a required field is wrong.
 */
export function sanitizeTrailEvent(raw: unknown, now: number = Date.now()): TrailEvent | null {
  if (!isRecord(raw) || typeof raw["type"] !== "string" || !(raw["type"] in TRAIL_FIELDS)) return null;
  const type = raw["type"] as TrailType;
  const at = cleanField(MS, raw["at"]);
  const out: Record<string, unknown> = { type, at: at ?? Math.round(now) };
  const url = cleanField(URL_F, raw["url"]);
  if (url !== undefined) out["url"] = url;
  for (const [name, spec] of Object.entries(TRAIL_FIELDS[type])) {
    const value = cleanField(spec, raw[name]);
    if (value !== undefined) out[name] = value;
  }
  const required = REQUIRED[type];
  if (required !== undefined && out[required] === undefined) return null;
  return out as unknown as TrailEvent;
}

// -- sensor thresholds (the `config` message to the loader) ---------------------------------

export interface SensorConfig {
  enabled: boolean;
  rage_click_count: number;
  rage_click_window_ms: number;
  rage_click_radius_px: number;
  dead_click_wait_ms: number;
  dead_click_scroll_ms: number;
  error_click_window_ms: number;
  form_thrash_cycles: number;
  form_idle_ms: number;
  heartbeat_ms: number;
}

/** DESIGN.md "Help detection"; the server's `config.sensors` replaces any of them. */
export const DEFAULT_SENSORS: Readonly<SensorConfig> = {
  enabled: true,
  rage_click_count: 3,
  rage_click_window_ms: 1000,
  rage_click_radius_px: 30,
  dead_click_wait_ms: 2500,
  dead_click_scroll_ms: 100,
  error_click_window_ms: 1000,
  form_thrash_cycles: 3,
  form_idle_ms: 60_000,
  heartbeat_ms: 15_000,
};

/** Known keys with sane values replace the base; everything else is ignored. */
export function parseSensorConfig(raw: unknown, base: Readonly<SensorConfig> = DEFAULT_SENSORS): SensorConfig {
  const out: SensorConfig = { ...base };
  if (!isRecord(raw)) return out;
  if (typeof raw["enabled"] === "boolean") out.enabled = raw["enabled"];
  for (const key of Object.keys(base) as (keyof SensorConfig)[]) {
    if (key === "enabled") continue;
    const value = raw[key];
    if (typeof value === "number" && Number.isFinite(value) && value > 0 && value <= 86_400_000) {
      out[key] = value;
    }
  }
  return out;
}

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

export interface ContactRequestPayload {
  channel: "chat";
  queue?: string;
  context: Record<string, unknown>;
  invite?: string;
}

/** The visitor's requests; the `call.*` ones (PROTOCOL.md §7) are shared with /agent. */
export interface VisitorRequests extends CallRequests {
  "visit.hello": { payload: { page: PageInfo; lang: Lang }; reply: HelloReply };
  "visit.events": { payload: { events: TrailEvent[] }; reply: { accepted: number; score: number } };
  "contact.request": { payload: ContactRequestPayload; reply: ContactStatus };
  "contact.status": { payload: { interaction: string }; reply: ContactStatus };
  "contact.cancel": { payload: { interaction: string }; reply: Record<never, never> };
  "contact.message": {
    payload: { name: string; text: string; email?: string; phone?: string; queue?: string };
    reply: { message_id: string };
  };
  "contact.callback": { payload: { name: string; phone: string; queue?: string }; reply: { callback_id: string } };
  "chat.send": {
    payload: { interaction: string; client_id: string; text?: string; attachment?: string };
    reply: { seq: number; at: number; duplicate: boolean };
  };
  "chat.sync": {
    payload: { interaction: string; after_seq: number };
    reply: { messages: unknown[]; last_seq: number; receipts?: unknown };
  };
  "chat.typing": { payload: { interaction: string; typing: boolean }; reply: Record<never, never> };
  "chat.receipt": {
    payload: { interaction: string; seq: number; kind: "delivered" | "read" };
    reply: Record<never, never>;
  };
  "chat.rate": { payload: { interaction: string; score: number; comment: string }; reply: Record<never, never> };
  "chat.transcript": { payload: { interaction: string; email: string }; reply: { queued: boolean } };
  "invite.respond": {
    payload: { invite: string; action: "accept" | "dismiss" };
    reply: Partial<ContactStatus>;
  };
  "visitor.opt_out": { payload: { opted_out: boolean }; reply: { opted_out: boolean } };
}

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
