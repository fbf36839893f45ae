/**
 * What the parts of the console shell share: the bus, the server clock, queue names and
 * disposition codes (refreshed on every connect), storage, and the one way to change the desk.
 */

import type { Action, Desk } from "../conversation/state";
import type { ConsoleBus } from "./console_bus";
import type { QueueInfo } from "./staff_lists";
import type { ServerClock } from "./text";
import { type StorageLike } from "../../../signaling/client/dom";

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
