/**
 * The /agent half of the client protocol (README "Interactions and the ACD",
 * web_widget/PROTOCOL.md §5): typed ACD and chat requests, checked pushes and the `acd.status`
 * view. Pure: no DOM and no socket.io-client import, unit-tested in node.
 */

import { type Ack, type AckEmitter, DEFAULT_TIMEOUT_MS, callWithAck } from "./ack";
import type { AgentPayloads } from "./payloads.gen";
import {
  type AgentReceipts,
  type ChatMessage,
  type PushSource,
  parseChatMessage,
  parseReceipts,
} from "./visitor";

export type Context = Record<string, unknown>;
export type Empty = Record<never, never>;

/** Wrap-up codes when the server's list has not arrived (it comes with `acd.status`). */
export const FALLBACK_DISPOSITIONS: readonly string[] = [
  "resolved", "sale_opportunity", "follow_up", "callback_requested", "not_resolved",
  "transferred", "spam"];

/** One interaction in `acd.status`: offered to, held, consulted on or wrapped up by the agent. */
export interface ViewItem {
  interaction: string;
  state: string;
  queue: string;
  channel: string;
  customer: string;
  visitor: string;
  context: Context;
  /** The agent consulted (warm transfer), "" when none; `consult_state` offered | accepted. */
  consult: string;
  consult_state: string;
  /** The agent who holds it (for a consultant: the one who asked). */
  agent: string;
  /** Offer, consultation or wrap-up deadline on the server's clock (ms), 0 when none. */
  deadline_ms: number;
  ended_ms: number;
  profile: Context | null;
}

export interface AgentView {
  state: string;
  reason: string;
  queues: string[];
  interactions: ViewItem[];
  server_ms: number;
  dispositions: string[];
}

/** The ack fields of each /agent request (the payloads are generated from the server's schemas). */
export interface AgentReplies {
  "acd.status": Record<string, unknown>;
  "acd.state": { state: string };
  "acd.accept": Record<string, unknown>;
  "acd.decline": Empty;
  "acd.complete": Empty;
  "acd.wrap_up": Empty;
  "acd.transfer": Empty;
  "acd.consult_accept": Empty;
  "acd.consult_complete": Empty;
  "acd.consult_cancel": Empty;
  "chat.send": { seq: number; at: number; duplicate: boolean };
  "chat.sync": { messages: unknown[]; last_seq: number; receipts?: unknown };
  "chat.typing": Empty;
  "chat.receipt": Empty;
}

export type AgentRequests = {
  [E in keyof AgentReplies]: { payload: AgentPayloads[E]; reply: AgentReplies[E] };
};

/** One /agent request with a typed payload; resolves to the ack (never rejects). */
export function agentCall<E extends keyof AgentRequests>(
  socket: AckEmitter, event: E, payload: AgentRequests[E]["payload"],
  timeoutMs: number = DEFAULT_TIMEOUT_MS,
): Promise<Ack<AgentRequests[E]["reply"]>> {
  return callWithAck<AgentRequests[E]["reply"]>(socket, event, payload, timeoutMs);
}

// -- pushes -----------------------------------------------------------------------------------

export interface OfferPush {
  interaction: string;
  queue: string;
  channel: string;
  customer: string;
  context: Context;
  profile: Context | null;
  deadline_ms: number;
  server_ms: number;
  ring_all: boolean;
  /** Set on `consult_offer`: the agent asking for a consultation. */
  from_agent: string;
}

export interface AgentPushes {
  offer: OfferPush;
  consult_offer: OfferPush;
  offer_revoked: { interaction: string; reason: string };
  agent_state: { state: string; reason: string };
  wrap_up: { interaction: string; deadline_ms: number; server_ms: number };
  closed: { interaction: string; disposition: string };
  transferred: { interaction: string; to_queue: string; to_agent: string };
  consult_accepted: { interaction: string; agent: string };
  consult_cancelled: { interaction: string };
  transfer_completed: { interaction: string; from_agent: string };
  "chat.message": ChatMessage;
  "chat.typing": { interaction: string; from: string; typing: boolean };
  "chat.receipt": { interaction: string; by: string } & AgentReceipts;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export const str = (v: unknown, fallback = ""): string => (typeof v === "string" ? v : fallback);
export const num = (v: unknown, fallback = 0): number =>
  (typeof v === "number" && Number.isFinite(v) ? v : fallback);
const record = (v: unknown): Context => (isRecord(v) ? v : {});

function withIx(raw: unknown): Record<string, unknown> | null {
  return isRecord(raw) && typeof raw["interaction"] === "string" && raw["interaction"] !== "" ? raw : null;
}

/** A context may arrive as the JSON text the ACD stores it as, or as an object. */
export function parseContext(raw: unknown): Context {
  if (typeof raw === "string") {
    try {
      return record(JSON.parse(raw));
    } catch {
      return {};
    }
  }
  return record(raw);
}

function parseOffer(raw: unknown): OfferPush | null {
  const r = withIx(raw);
  if (r === null) return null;
  return {
    interaction: str(r["interaction"]), queue: str(r["queue"]), channel: str(r["channel"], "chat"),
    customer: str(r["customer"]), context: parseContext(r["context"]),
    profile: isRecord(r["profile"]) ? r["profile"] : null, deadline_ms: num(r["deadline_ms"]),
    server_ms: num(r["server_ms"]), ring_all: r["ring_all"] === true, from_agent: str(r["from_agent"]),
  };
}

const GUARDS: { [E in keyof AgentPushes]: (raw: unknown) => AgentPushes[E] | null } = {
  offer: parseOffer,
  consult_offer: parseOffer,
  offer_revoked: (raw) => {
    const r = withIx(raw);
    return r && { interaction: str(r["interaction"]), reason: str(r["reason"]) };
  },
  agent_state: (raw) => (isRecord(raw) && typeof raw["state"] === "string"
    ? { state: raw["state"], reason: str(raw["reason"]) } : null),
  wrap_up: (raw) => {
    const r = withIx(raw);
    return r && { interaction: str(r["interaction"]), deadline_ms: num(r["deadline_ms"]),
                  server_ms: num(r["server_ms"]) };
  },
  closed: (raw) => {
    const r = withIx(raw);
    return r && { interaction: str(r["interaction"]), disposition: str(r["disposition"]) };
  },
  transferred: (raw) => {
    const r = withIx(raw);
    return r && { interaction: str(r["interaction"]), to_queue: str(r["to_queue"]), to_agent: str(r["to_agent"]) };
  },
  consult_accepted: (raw) => {
    const r = withIx(raw);
    return r && { interaction: str(r["interaction"]), agent: str(r["agent"]) };
  },
  consult_cancelled: (raw) => {
    const r = withIx(raw);
    return r && { interaction: str(r["interaction"]) };
  },
  transfer_completed: (raw) => {
    const r = withIx(raw);
    return r && { interaction: str(r["interaction"]), from_agent: str(r["from_agent"]) };
  },
  "chat.message": parseChatMessage,
  "chat.typing": (raw) => {
    const r = withIx(raw);
    return r && { interaction: str(r["interaction"]), from: str(r["from"], "visitor"), typing: r["typing"] === true };
  },
  "chat.receipt": (raw) => {
    const r = withIx(raw);
    return r && { interaction: str(r["interaction"]), by: str(r["by"], "visitor"), ...parseReceipts(r, "visitor") };
  },
};

/** The checked payload of an /agent push, or `null` for a malformed one (dropped). */
export function guardAgentPush<E extends keyof AgentPushes>(event: E, raw: unknown): AgentPushes[E] | null {
  return GUARDS[event](raw);
}

/** Listens for one /agent push; the handler gets a checked payload and cannot throw out. */
export function onAgentPush<E extends keyof AgentPushes>(
  socket: PushSource, event: E, handler: (payload: AgentPushes[E]) => void,
): void {
  socket.on(event, (raw: unknown) => {
    const payload = guardAgentPush(event, raw);
    if (payload === null) return;
    try {
      handler(payload);
    } catch (err) {
      console.error(`engage: ${event} handler failed`, err);
    }
  });
}

// -- acd.status -------------------------------------------------------------------------------

function parseItem(raw: unknown): ViewItem | null {
  const r = withIx(raw);
  if (r === null) return null;
  return {
    interaction: str(r["interaction"]), state: str(r["state"]), queue: str(r["queue"]),
    channel: str(r["channel"], "chat"), customer: str(r["customer"]), visitor: str(r["visitor"]),
    context: parseContext(r["context"]), consult: str(r["consult"]),
    consult_state: str(r["consult_state"]), agent: str(r["agent"]),
    deadline_ms: num(r["deadline_ms"]), ended_ms: num(r["ended_ms"]),
    profile: isRecord(r["profile"]) ? r["profile"] : null,
  };
}

export function parseAgentView(raw: unknown): AgentView {
  const r = record(raw);
  const items = Array.isArray(r["interactions"]) ? r["interactions"] : [];
  const strings = (v: unknown): string[] =>
    (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
  const dispositions = strings(r["dispositions"]);
  return {
    state: str(r["state"], "offline"), reason: str(r["reason"]), queues: strings(r["queues"]),
    interactions: items.map(parseItem).filter((i): i is ViewItem => i !== null),
    server_ms: num(r["server_ms"]),
    dispositions: dispositions.length > 0 ? dispositions : [...FALLBACK_DISPOSITIONS],
  };
}
