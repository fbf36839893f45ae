/**
 * The host-page loader: `<script src="https://engage.example/static/dist/loader.js"
 * data-site-key="..." async>`. For now it only obtains (or refreshes) the visitor token,
 * keeps it in localStorage under `engage.visitor`, and exposes `window.engage.visitorId`.
 * Every entry point is wrapped: nothing here may ever throw into the customer's page.
 */

const STORAGE_KEY = "engage.visitor";
/** Tokens are valid 30 days on the server; refresh daily so an active visitor never lapses. */
const REFRESH_AFTER_MS = 24 * 3600 * 1000;

interface StoredVisitor {
  token: string;
  visitorId: string;
  siteKey: string;
  issuedAt: number;
}

interface EngageGlobal {
  visitorId: string | null;
  siteKey: string;
}

declare global {
  interface Window {
    engage?: EngageGlobal;
  }
}

function guarded<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      fn(...args);
    } catch {
      // never into the host page
    }
  };
}

function loaderScript(): HTMLScriptElement | null {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.dataset["siteKey"]) return current;
  return document.querySelector<HTMLScriptElement>("script[data-site-key][src*='loader']");
}

function readStored(): StoredVisitor | null {
  try {
    const raw = window.localStorage.getItem(STORAGE_KEY);
    const value: unknown = raw ? JSON.parse(raw) : null;
    if (typeof value !== "object" || value === null) return null;
    const v = value as Record<string, unknown>;
    if (typeof v["token"] !== "string" || typeof v["visitorId"] !== "string"
        || typeof v["siteKey"] !== "string" || typeof v["issuedAt"] !== "number") return null;
    return { token: v["token"], visitorId: v["visitorId"], siteKey: v["siteKey"], issuedAt: v["issuedAt"] };
  } catch {
    return null; // storage blocked (private mode, sandbox) or corrupt: start fresh
  }
}

function writeStored(visitor: StoredVisitor): void {
  try {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(visitor));
  } catch {
    // storage blocked: this page view still works, the next one gets a new visitor id
  }
}

function start(): void {
  const script = loaderScript();
  const siteKey = script?.dataset["siteKey"];
  if (!script || !siteKey || window.engage) return; // misconfigured, or loaded twice
  const server = new URL(script.src, window.location.href).origin;
  const api: EngageGlobal = { visitorId: null, siteKey };
  window.engage = api;

  const stored = readStored();
  const known = stored !== null && stored.siteKey === siteKey ? stored : null;
  if (known !== null) api.visitorId = known.visitorId;
  if (known !== null && Date.now() - known.issuedAt < REFRESH_AFTER_MS) return;

  const body: { site_key: string; token?: string } = { site_key: siteKey };
  if (known !== null) body.token = known.token;
  fetch(`${server}/api/visitor/token`, {
    method: "POST", mode: "cors", credentials: "omit",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  })
    .then((response) => response.json())
    .then(guarded((reply: unknown) => {
      const r = reply as { ok?: unknown; token?: unknown; visitor_id?: unknown } | null;
      if (!r || r.ok !== true || typeof r.token !== "string" || typeof r.visitor_id !== "string") return;
      api.visitorId = r.visitor_id;
      writeStored({ token: r.token, visitorId: r.visitor_id, siteKey, issuedAt: Date.now() });
    }))
    .catch(() => {
      // offline or origin not allowed: the page works as if the widget were absent
    });
}

guarded(start)();

export {};
