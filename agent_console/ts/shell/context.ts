/**
 * What the parts of the console shell share: the bus, the server clock, queue names and
 * disposition codes (refreshed on every connect), storage, and the one way to change the desk.
 */

import type { StorageLike } from "../../../signaling/client/outbox";
import type { Action, Desk } from "../conversation/state";
import type { ConsoleBus } from "./console_bus";
import type { QueueInfo } from "../../../signaling/client/agent";
import type { ServerClock } from "./text";

export interface ShellContext {
  bus: ConsoleBus;
  clock: ServerClock;
  queues: Map<string, QueueInfo>;
  dispositions: string[];
  storage: StorageLike | null;
  desk(): Desk;
  dispatch(action: Action): void;
  queueName(id: string): string;
  /** A fresh `acd.status` (e.g. after a transfer this console cannot follow by pushes). */
  refresh(): void;
}

let counter = 0;

/** A unique id for label/aria wiring. */
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** localStorage, or null where the browser blocks it (memory only then). */
export function browserStorage(kind: "local" | "session"): StorageLike | null {
  try {
    return kind === "local" ? window.localStorage : window.sessionStorage;
  } catch {
    return null;
  }
}

/** A v4 UUID for `client_id` (crypto.randomUUID is missing on plain-http non-localhost). */
export function uuid(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
