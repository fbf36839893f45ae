/**
 * The host-page loader: `<script src="E/static/dist/loader.js" data-site-key="…" async>`.
 * Starts the sensors at once (cheap, passive), adds the widget iframe when the page is idle,
 * and relays batched trail events to it (web_widget/PROTOCOL.md §2). Exposes
 * `window.engage = {open(), conversion(value?), visitorId}`. Every entry point is guarded:
 * nothing here may ever throw into the customer's page.
 */

import type { PageInfo } from "../../../signaling/client/visitor";
import { pickLang } from "../i18n";
import { EventBatch } from "./batch";
import { WidgetFrame } from "./frame";
import { guard, later, listen } from "./guard";
import { startSensors } from "./page_sensors";

interface EngageGlobal {
  open(): void;
  conversion(value?: number): void;
  visitorId: string | null;
  readonly loaded: true;
}

declare global {
  interface Window {
    engage?: EngageGlobal | unknown;
  }
}

function loaderScript(): HTMLScriptElement | null {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.dataset["siteKey"]) return current;
  return document.querySelector<HTMLScriptElement>("script[data-site-key][src*='loader']");
}

function alreadyLoaded(): boolean {
  const existing = window.engage as { loaded?: unknown } | undefined;
  return typeof existing === "object" && existing !== null && existing.loaded === true;
}

function pageInfo(): PageInfo {
  return { url: location.href, title: document.title.slice(0, 300), referrer: document.referrer };
}

/**
 * What the app asked the loader to keep because its frame may not use storage (third-party
 * storage blocked): a few `engage.*` keys in one host-page entry, capped.
 */
class FrameState {
  private values: Record<string, string> = {};
  private readonly key: string;

  constructor(siteKey: string) {
    this.key = `engage.widget.${siteKey}`;
    try {
      const raw = localStorage.getItem(this.key);
      const parsed: unknown = raw ? JSON.parse(raw) : null;
      if (typeof parsed === "object" && parsed !== null) this.values = parsed as Record<string, string>;
    } catch {
      // storage blocked or corrupt: start empty
    }
  }

  get all(): Record<string, string> {
    return this.values;
  }

  set(key: string, value: string | null): void {
    if (!key.startsWith("engage.")) return;
    if (value === null) delete this.values[key];
    else this.values[key] = value;
    try {
      const text = JSON.stringify(this.values);
      if (text.length <= MAX_STATE_CHARS) localStorage.setItem(this.key, text);
    } catch {
      // quota or blocked: kept for this page only
    }
  }
}

const MAX_STATE_CHARS = 256 * 1024;

function whenIdle(fn: () => void): void {
  const run = guard(fn);
  const start = (): void => {
    if (typeof window.requestIdleCallback === "function") {
      window.requestIdleCallback(run, { timeout: 2000 });
    } else {
      later(run, 1);
    }
  };
  if (document.readyState === "loading") {
    listen(document, "DOMContentLoaded", start, false);
  } else {
    start();
  }
}

function start(): void {
  if (alreadyLoaded()) return; // loaded twice: the first copy does the work
  const script = loaderScript();
  const siteKey = script?.dataset["siteKey"];
  if (!script || !siteKey) return; // misconfigured: behave as if absent
  const server = new URL(script.src, location.href).origin;
  const lang = pickLang(script.dataset["lang"], document.documentElement.lang, navigator.language);
  const customerId = script.dataset["customerId"];
  const customerHash = script.dataset["customerHash"];

  let frame: WidgetFrame | null = null;
  const state = new FrameState(siteKey);
  let ready = false;
  let openWanted = false;
  const batch = new EventBatch({
    send: (events) => frame?.post({ type: "events", events }),
    setTimer: (fn, ms) => later(fn, ms),
    clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  });
  const sensors = startSensors((event) => batch.push(event), () => batch.flush(),
                               () => frame?.iframe ?? null);

  const api: EngageGlobal = {
    open: guard(() => {
      if (ready) frame?.post({ type: "open" });
      else openWanted = true;
    }),
    conversion: guard((value?: number) => sensors.conversion(value)),
    visitorId: null,
    loaded: true,
  };
  // A host page's own `engage` global is left alone (the widget still works).
  if (window.engage === undefined) window.engage = api;

  whenIdle(() => {
    frame = new WidgetFrame(server, siteKey, lang, {
      ready: () => {
        const hello: Record<string, unknown> & { type: string } = { type: "hello", page: pageInfo(),
                                                                    state: state.all };
        if (customerId && customerHash) hello["identity"] = { customer_id: customerId, customer_hash: customerHash };
        frame?.post(hello);
        if (!ready) {
          ready = true;
          batch.markReady();
        }
        if (openWanted) {
          openWanted = false;
          frame?.post({ type: "open" });
        }
      },
      store: (key, value) => state.set(key, value),
      config: (sensorConfig, visitorId) => {
        sensors.configure(sensorConfig);
        if (visitorId !== null) api.visitorId = visitorId;
      },
    });
    document.body.appendChild(frame.iframe);
  });
}

guard(start)();

export {};
