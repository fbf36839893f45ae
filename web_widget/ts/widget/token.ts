/**
 * The visitor token: cached per site in localStorage (`engage.visitor.<siteKey>`, with the
 * customer id it was issued for), refreshed hourly (the server accepts a token for four hours
 * and renews one for a month) or when the signed-in customer changes.
 */

import { type Ack, CLIENT_CODES, errorAck, normalizeAck } from "../../../signaling/client/ack";
import type { Identity } from "./parent";
import { type StorageLike } from "../../../signaling/client/dom";

export const REFRESH_AFTER_MS = 3600 * 1000;

interface StoredToken {
  token: string;
  visitorId: string;
  customerId: string;
  issuedAt: number;
}

export function tokenKey(siteKey: string): string {
  return `engage.visitor.${siteKey}`;
}

type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export class VisitorTokens {
  private cached: StoredToken | null;
  private identity: Identity | null = null;
  private inflight: Promise<string | null> | null = null;
  private refused = false; // the server refused the cached token

  constructor(private readonly siteKey: string, private readonly storage: StorageLike | null,
              private readonly fetchFn: FetchLike = (input, init) => fetch(input, init),
              private readonly now: () => number = Date.now) {
    this.cached = this.read();
  }

  /** Reads the cache again (its storage got filled after construction). */
  reload(): void {
    this.cached ??= this.read();
  }

  get visitorId(): string | null {
    return this.cached?.visitorId ?? null;
  }

  setIdentity(identity: Identity | null): void {
    this.identity = identity;
  }

  /** A usable token: the cached one while fresh and for the same customer, else a new one. */
  current(): Promise<string | null> {
    const c = this.cached;
    const customer = this.identity?.customer_id ?? "";
    if (c !== null && !this.refused && c.customerId === customer && this.now() - c.issuedAt < REFRESH_AFTER_MS) {
      return Promise.resolve(c.token);
    }
    this.inflight ??= this.request().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /** The server refused the token: the next `current()` asks for a new one. */
  invalidate(): void {
    this.refused = true;
  }

  private async request(): Promise<string | null> {
    const body: Record<string, string> = { site_key: this.siteKey };
    if (this.cached !== null) body["token"] = this.cached.token;
    if (this.identity !== null) {
      body["customer_id"] = this.identity.customer_id;
      body["customer_hash"] = this.identity.customer_hash;
    }
    const ack = await this.post(body);
    if (!ack.ok) return this.cached?.token ?? null; // offline: try the old one, the server decides
    this.refused = false;
    this.cached = { token: ack.token, visitorId: ack.visitor_id, customerId: this.identity?.customer_id ?? "",
                    issuedAt: this.now() };
    try {
      this.storage?.setItem(tokenKey(this.siteKey), JSON.stringify(this.cached));
    } catch {
      // storage blocked: this page view still works
    }
    return ack.token;
  }

  private async post(body: object): Promise<Ack<{ token: string; visitor_id: string }>> {
    try {
      const response = await this.fetchFn("/api/visitor/token", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
      const ack = normalizeAck<{ token: unknown; visitor_id: unknown }>(await response.json().catch(() => null));
      if (ack.ok && (typeof ack.token !== "string" || typeof ack.visitor_id !== "string")) {
        return errorAck(CLIENT_CODES.badAck, "no token in the answer");
      }
      return ack as Ack<{ token: string; visitor_id: string }>;
    } catch {
      return errorAck(CLIENT_CODES.network, "could not reach the server");
    }
  }

  private read(): StoredToken | null {
    try {
      const raw = this.storage?.getItem(tokenKey(this.siteKey));
      const v: unknown = raw ? JSON.parse(raw) : null;
      if (typeof v !== "object" || v === null) return null;
      const r = v as Record<string, unknown>;
      if (typeof r["token"] !== "string" || typeof r["visitorId"] !== "string"
          || typeof r["issuedAt"] !== "number") return null;
      return { token: r["token"], visitorId: r["visitorId"], issuedAt: r["issuedAt"],
               customerId: typeof r["customerId"] === "string" ? r["customerId"] : "" };
    } catch {
      return null;
    }
  }
}
