/**
 * Own chat messages not yet acknowledged, per interaction, kept in (injected) storage so a
 * reload or a dropped socket never loses them; they are re-sent with the same `client_id`.
 * Shared by the widget and the agent console, each under its own key prefix.
 */

import type { PendingMessage } from "./chat_log";
import type { StorageLike } from "./dom";

export const OUTBOX_CAP = 50;
/** The widget's prefix; the console uses its own, so a demo page and a console open in one
 * browser (same origin) never send each other's messages. */
export const WIDGET_OUTBOX_PREFIX = "engage.outbox.";

export function outboxKey(interaction: string, prefix: string = WIDGET_OUTBOX_PREFIX): string {
  return `${prefix}${interaction}`;
}

function parse(raw: string | null): PendingMessage[] {
  try {
    const value: unknown = raw === null ? [] : JSON.parse(raw);
    if (!Array.isArray(value)) return [];
    return value.filter((p): p is PendingMessage => typeof p === "object" && p !== null
      && typeof p.client_id === "string" && typeof p.text === "string" && typeof p.at === "number");
  } catch {
    return [];
  }
}

export class Outbox {
  private items: PendingMessage[];
  private readonly key: string;

  constructor(private readonly storage: StorageLike | null, readonly interaction: string,
              prefix: string = WIDGET_OUTBOX_PREFIX) {
    this.key = outboxKey(interaction, prefix);
    let raw: string | null = null;
    try {
      raw = storage?.getItem(this.key) ?? null;
    } catch {
      raw = null; // storage blocked: memory only
    }
    this.items = parse(raw);
  }

  list(): PendingMessage[] {
    return [...this.items];
  }

  add(message: PendingMessage): void {
    if (this.items.some((p) => p.client_id === message.client_id)) return;
    this.items.push(message);
    if (this.items.length > OUTBOX_CAP) this.items.shift();
    this.save();
  }

  remove(clientId: string): void {
    const before = this.items.length;
    this.items = this.items.filter((p) => p.client_id !== clientId);
    if (this.items.length !== before) this.save();
  }

  /** The conversation is over: nothing left in it can be sent any more. */
  clear(): void {
    this.items = [];
    this.save();
  }

  private save(): void {
    try {
      if (this.items.length === 0) this.storage?.removeItem(this.key);
      else this.storage?.setItem(this.key, JSON.stringify(this.items));
    } catch {
      // quota or blocked storage: the message stays in memory for this page
    }
  }
}
