/**
 * The loader's event batch: buffers trail events until the widget app is ready (capped), then
 * sends them every `intervalMs` or `maxBatch` events. Timers are injected, so it is pure.
 */

import { type TrailEvent } from "../../../signaling/client/trail";

export interface BatchOptions {
  send(events: TrailEvent[]): void;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  maxBatch?: number;
  intervalMs?: number;
  cap?: number;
}

export class EventBatch {
  private buffer: TrailEvent[] = [];
  private ready = false;
  private timer: unknown = null;
  private readonly maxBatch: number;
  private readonly intervalMs: number;
  private readonly cap: number;

  constructor(private readonly options: BatchOptions) {
    this.maxBatch = options.maxBatch ?? 50;
    this.intervalMs = options.intervalMs ?? 1000;
    this.cap = options.cap ?? 200;
  }

  get size(): number {
    return this.buffer.length;
  }

  push(event: TrailEvent): void {
    this.buffer.push(event);
    if (this.buffer.length > this.cap) this.dropOne();
    if (!this.ready) return;
    if (this.buffer.length >= this.maxBatch) {
      this.flush();
    } else if (this.timer === null) {
      this.timer = this.options.setTimer(() => {
        this.timer = null;
        this.flush();
      }, this.intervalMs);
    }
  }

  /** The app listens: everything buffered goes out now. */
  markReady(): void {
    this.ready = true;
    this.flush();
  }

  flush(): void {
    if (this.timer !== null) {
      this.options.clearTimer(this.timer);
      this.timer = null;
    }
    if (!this.ready) return;
    while (this.buffer.length > 0) {
      this.options.send(this.buffer.splice(0, this.maxBatch));
    }
  }

  /** Over the cap: the oldest event that is not a page view goes (page views matter most). */
  private dropOne(): void {
    const index = this.buffer.findIndex((e) => e.type !== "page");
    this.buffer.splice(index === -1 ? 0 : index, 1);
  }
}
