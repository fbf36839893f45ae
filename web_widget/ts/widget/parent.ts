/**
 * The app's side of the postMessage channel with the host-page loader: posts only to the
 * parent origin named by the server, accepts only that origin *and* `window.parent`.
 */

import type { PageInfo } from "../../../signaling/client/visitor";

export interface Identity {
  customer_id: string;
  customer_hash: string;
}

export interface ParentHandlers {
  hello(page: PageInfo, identity: Identity | null, state: Record<string, unknown>): void;
  events(events: unknown[]): void;
  open(): void;
}

const READY_RETRIES = 10;
const READY_INTERVAL_MS = 1000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");

export class ParentChannel {
  private greeted = false;
  private readyTimer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly origin: string, private readonly handlers: ParentHandlers) {
    window.addEventListener("message", (event) => {
      try {
        this.receive(event);
      } catch (err) {
        console.error("engage: message from the page failed", err);
      }
    });
  }

  /** True when the frame is embedded (not opened on its own). */
  get embedded(): boolean {
    return window.parent !== window && this.origin !== "";
  }

  post(type: string, payload: Record<string, unknown> = {}): void {
    if (!this.embedded) return;
    try {
      window.parent.postMessage({ engage: 1, type, ...payload }, this.origin);
    } catch {
      // the page went away
    }
  }

  /** Says `ready` until the loader answers with `hello` (it may have missed the first one). */
  announceReady(): void {
    let tries = 0;
    this.post("ready");
    this.readyTimer = setInterval(() => {
      tries += 1;
      if (this.greeted || tries >= READY_RETRIES) clearInterval(this.readyTimer);
      else this.post("ready");
    }, READY_INTERVAL_MS);
  }

  private receive(event: MessageEvent): void {
    if (event.origin !== this.origin || event.source !== window.parent || window.parent === window) return;
    const data: unknown = event.data;
    if (!isRecord(data) || data["engage"] !== 1) return;
    switch (data["type"]) {
      case "hello": {
        this.greeted = true;
        clearInterval(this.readyTimer);
        const page = isRecord(data["page"]) ? data["page"] : {};
        const id = isRecord(data["identity"]) ? data["identity"] : null;
        const identity = id && str(id["customer_id"]) && str(id["customer_hash"])
          ? { customer_id: str(id["customer_id"]).slice(0, 200), customer_hash: str(id["customer_hash"]).slice(0, 200) }
          : null;
        this.handlers.hello({ url: str(page["url"]).slice(0, 2048), title: str(page["title"]).slice(0, 300),
                              referrer: str(page["referrer"]).slice(0, 2048) }, identity,
                            isRecord(data["state"]) ? data["state"] : {});
        break;
      }
      case "events":
        if (Array.isArray(data["events"])) this.handlers.events(data["events"].slice(0, 200));
        break;
      case "open":
        this.handlers.open();
        break;
      default:
        break;
    }
  }
}
