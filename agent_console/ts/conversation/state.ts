/**
 * The agent's desk as data, pure: offers waiting for an answer and interactions held (own
 * conversations, consultations, wrap-ups), changed only by `reduce` from ACD pushes, acks and
 * the `acd.status` view. The DOM follows it (shell/console_shell.ts); node tests pin every move.
 */

import type { AgentView, Context, OfferPush, ViewItem } from "../../../signaling/client/agent";
import { visitorSummary } from "../shell/text";

export interface Offer {
  interaction: string;
  /** "offer": the ACD offers a contact; "consult": another agent asks for a consultation. */
  kind: "offer" | "consult";
  queue: string;
  channel: string;
  customer: string;
  context: Context;
  profile: Context | null;
  /** Server time (ms) when the offer lapses; 0 when unknown. */
  deadlineMs: number;
  fromAgent: string;
}

export interface Consult {
  agent: string;
  accepted: boolean;
}

export interface Held {
  interaction: string;
  /** "owner": the agent talks to the visitor; "consultant": asked in by the owner (reads). */
  role: "owner" | "consultant";
  state: "connected" | "wrap_up";
  queue: string;
  channel: string;
  customer: string;
  visitor: string;
  context: Context;
  name: string;
  /** The owner's consultation in progress (warm transfer), if any. */
  consult: Consult | null;
  /** For a consultant: the owner who asked. */
  owner: string;
  /** Wrap-up deadline (server ms; 0: no window known) and when the conversation ended. */
  deadlineMs: number;
  endedMs: number;
}

export interface Desk {
  state: string;
  reason: string;
  offers: ReadonlyMap<string, Offer>;
  held: ReadonlyMap<string, Held>;
}

export const EMPTY_DESK: Desk = { state: "offline", reason: "", offers: new Map(), held: new Map() };

export type Action =
  | { type: "view"; view: AgentView; me: string }
  | { type: "offer"; push: OfferPush }
  | { type: "consult_offer"; push: OfferPush }
  /** Revoked by the ACD, declined, or lapsed on this console's countdown. */
  | { type: "offer_gone"; interaction: string }
  /** This agent's `acd.accept` succeeded; `reply` is its ack (the offer may be gone locally). */
  | { type: "accepted"; interaction: string; reply?: Partial<ViewItem> }
  | { type: "consult_joined"; interaction: string }
  | { type: "consult_started"; interaction: string; agent: string }
  | { type: "consult_accepted"; interaction: string; agent: string }
  | { type: "consult_cancelled"; interaction: string }
  | { type: "wrap_up"; interaction: string; deadlineMs: number; nowMs: number }
  | { type: "closed"; interaction: string }
  | { type: "transferred"; interaction: string }
  | { type: "transfer_completed"; interaction: string }
  | { type: "agent_state"; state: string; reason: string };

function offerFrom(push: OfferPush, kind: Offer["kind"]): Offer {
  return { interaction: push.interaction, kind, queue: push.queue, channel: push.channel,
           customer: push.customer, context: push.context, profile: push.profile,
           deadlineMs: push.deadline_ms, fromAgent: push.from_agent };
}

function heldFrom(base: Pick<Held, "interaction" | "queue" | "channel" | "customer" | "context">,
                  extra: Partial<Held> = {}): Held {
  const { interaction, queue, channel, customer, context } = base;  // only these: an Offer fits too
  const visitor = typeof context["visitor"] === "string" ? context["visitor"] : "";
  return { interaction, queue, channel, customer, context, role: "owner", state: "connected", visitor,
           name: visitorSummary(context).name, consult: null, owner: "", deadlineMs: 0, endedMs: 0,
           ...extra };
}

/** What the view says about one item, from this agent's point of view. */
function fromItem(item: ViewItem, me: string): Offer | Held | null {
  const base = { interaction: item.interaction, queue: item.queue, channel: item.channel,
                 customer: item.customer, context: item.context };
  if (item.consult === me && item.agent !== me) {
    if (item.consult_state === "offered") {
      return { ...base, kind: "consult", profile: item.profile, deadlineMs: item.deadline_ms,
               fromAgent: item.agent };
    }
    return heldFrom(base, { role: "consultant", owner: item.agent });
  }
  if (item.state === "offered") {
    return { ...base, kind: "offer", profile: item.profile, deadlineMs: item.deadline_ms, fromAgent: "" };
  }
  if (item.state === "connected") {
    const consult = item.consult ? { agent: item.consult, accepted: item.consult_state === "accepted" } : null;
    return heldFrom(base, { consult });
  }
  if (item.state === "wrap_up") {
    return heldFrom(base, { state: "wrap_up", deadlineMs: item.deadline_ms, endedMs: item.ended_ms });
  }
  return null;
}

function without<V>(map: ReadonlyMap<string, V>, key: string): Map<string, V> {
  const next = new Map(map);
  next.delete(key);
  return next;
}

function withEntry<V>(map: ReadonlyMap<string, V>, key: string, value: V): Map<string, V> {
  return new Map(map).set(key, value);
}

function updateHeld(desk: Desk, ix: string, change: (h: Held) => Held | null): Desk {
  const held = desk.held.get(ix);
  if (held === undefined) return desk;
  const next = change(held);
  return { ...desk, held: next === null ? without(desk.held, ix) : withEntry(desk.held, ix, next) };
}

/** The desk after one action; the input is never modified. */
export function reduce(desk: Desk, action: Action): Desk {
  switch (action.type) {
    case "view": {
      // The server's view is the truth after a (re)connect: whatever it lacks has ended.
      const offers = new Map<string, Offer>();
      const held = new Map<string, Held>();
      for (const item of action.view.interactions) {
        const entry = fromItem(item, action.me);
        if (entry === null) continue;
        if ("kind" in entry) offers.set(entry.interaction, entry);
        else held.set(entry.interaction, entry);
      }
      return { state: action.view.state, reason: action.view.reason, offers, held };
    }
    case "offer":
    case "consult_offer":
      if (desk.held.has(action.push.interaction)) return desk;
      return { ...desk, offers: withEntry(desk.offers, action.push.interaction,
                                          offerFrom(action.push, action.type === "offer" ? "offer" : "consult")) };
    case "offer_gone":
      return desk.offers.has(action.interaction) ? { ...desk, offers: without(desk.offers, action.interaction) } : desk;
    case "accepted": {
      const offer = desk.offers.get(action.interaction);
      const reply = action.reply ?? {};
      const base = {
        interaction: action.interaction, queue: reply.queue ?? offer?.queue ?? "",
        channel: reply.channel ?? offer?.channel ?? "chat", customer: reply.customer ?? offer?.customer ?? "",
        context: reply.context ?? offer?.context ?? {},
      };
      return { ...desk, offers: without(desk.offers, action.interaction),
               held: withEntry(desk.held, action.interaction, heldFrom(base)) };
    }
    case "consult_joined": {
      const offer = desk.offers.get(action.interaction);
      if (offer === undefined) return desk;
      return { ...desk, offers: without(desk.offers, action.interaction),
               held: withEntry(desk.held, action.interaction,
                               heldFrom(offer, { role: "consultant", owner: offer.fromAgent })) };
    }
    case "consult_started":
      return updateHeld(desk, action.interaction, (h) => ({ ...h, consult: { agent: action.agent, accepted: false } }));
    case "consult_accepted":
      return updateHeld(desk, action.interaction, (h) => (h.role === "owner"
        ? { ...h, consult: { agent: action.agent || (h.consult?.agent ?? ""), accepted: true } } : h));
    case "consult_cancelled": {
      // Both sides hear it: the owner keeps the conversation, the consultant leaves it.
      const next = reduce(desk, { type: "offer_gone", interaction: action.interaction });
      return updateHeld(next, action.interaction, (h) => (h.role === "owner" ? { ...h, consult: null } : null));
    }
    case "wrap_up":
      return updateHeld(desk, action.interaction, (h) => ({
        ...h, state: "wrap_up", consult: null, deadlineMs: action.deadlineMs, endedMs: action.nowMs }));
    case "closed":
    case "transferred": {
      const next = reduce(desk, { type: "offer_gone", interaction: action.interaction });
      return updateHeld(next, action.interaction, () => null);
    }
    case "transfer_completed":
      return updateHeld(desk, action.interaction, (h) => ({ ...h, role: "owner", owner: "", consult: null }));
    case "agent_state":
      return { ...desk, state: action.state, reason: action.reason };
  }
}

/** The label of a conversation's tab: the visitor's name, else the queue's. */
export function tabLabel(held: Pick<Held, "name" | "queue">, queueName: (id: string) => string): string {
  return held.name || queueName(held.queue) || "Visitor";
}
