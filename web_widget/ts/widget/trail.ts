/**
 * Trail events on their way to the server: sanitised (the server refuses unknown fields),
 * kept in memory while disconnected (capped, oldest dropped) and sent as `visit.events`
 * batches of ≤ 50 once connected.
 */

import { CLIENT_CODES } from "../../../signaling/client/ack";
import type { AckEmitter } from "../../../signaling/client/ack";
import { visitorCall } from "../../../signaling/client/visitor";
import { MAX_TRAIL_BATCH, type TrailEvent, sanitizeTrailEvent } from "../../../signaling/client/trail";

export interface TrailSocket extends AckEmitter {
  readonly connected: boolean;
}

export const TRAIL_CAP = 500;
/** Opening the panel counts as an explicit help click at most this often. */
export const HELP_CLICK_EVERY_MS = 30_000;

export class TrailForwarder {
  private queue: TrailEvent[] = [];
  private sending = false;
  private socket: TrailSocket | null = null;
  private released = false;
  private waitTimer: ReturnType<typeof setTimeout> | undefined;
  private helpClickAt = 0;

  constructor(private readonly cap: number = TRAIL_CAP) {}

  /** The visitor opened the panel: a `help_click` signal, throttled. */
  helpClick(url: string, now: number = Date.now()): void {
    if (now - this.helpClickAt < HELP_CLICK_EVERY_MS) return;
    this.helpClickAt = now;
    this.add([{ type: "signal", kind: "help_click", at: now, url }]);
  }

  get pending(): number {
    return this.queue.length;
  }

  attach(socket: TrailSocket): void {
    this.socket = socket;
  }

  /** Until `release`: a (re)connected socket first needs its `visit.hello`. */
  hold(): void {
    this.released = false;
  }

  release(): void {
    this.released = true;
    void this.pump();
  }

  add(raw: readonly unknown[]): void {
    for (const item of raw) {
      const event = sanitizeTrailEvent(item);
      if (event !== null) this.queue.push(event);
    }
    if (this.queue.length > this.cap) this.queue.splice(0, this.queue.length - this.cap);
    void this.pump();
  }

  /** Sends what is queued, one batch at a time, while the socket stays connected. */
  async pump(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.released && this.socket?.connected && this.queue.length > 0) {
        const batch = this.queue.slice(0, MAX_TRAIL_BATCH);
        const ack = await visitorCall(this.socket, "visit.events", { events: batch });
        if (ack.ok) {
          this.queue.splice(0, batch.length);
          continue;
        }
        if (ack.code === CLIENT_CODES.timeout || ack.code === CLIENT_CODES.disconnected) return;
        if (ack.code === "rate_limited") {
          clearTimeout(this.waitTimer);
          this.waitTimer = setTimeout(() => void this.pump(), Math.max(1, ack.retry_after ?? 2) * 1000);
          return;
        }
        this.queue.splice(0, batch.length); // refused as invalid: never retry a poisoned batch
      }
    } finally {
      this.sending = false;
    }
  }
}
