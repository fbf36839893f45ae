/**
 * The widget iframe in the host page and the postMessage channel to it: exact target origin,
 * and only messages from that origin *and* that frame's window are accepted.
 */

import type { Lang } from "../../../signaling/client/visitor";
import { FRAME_TITLES } from "../i18n";
import { guard, listen } from "./guard";

export type LayoutState = "launcher" | "open" | "hidden";

export interface FrameHandlers {
  ready(): void;
  config(sensors: unknown, visitorId: string | null): void;
  store(key: string, value: string | null): void;
}

const FULL_SCREEN_BELOW_PX = 480;
const MAX_SIDE_PX = 2000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function side(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value)
    ? Math.min(MAX_SIDE_PX, Math.max(0, Math.round(value))) : fallback;
}

export class WidgetFrame {
  readonly iframe: HTMLIFrameElement;
  private layout: { state: LayoutState; width: number; height: number } = { state: "hidden", width: 0, height: 0 };

  constructor(private readonly server: string, siteKey: string, lang: Lang,
              private readonly handlers: FrameHandlers) {
    const src = new URL("/widget/frame", server);
    src.searchParams.set("site", siteKey);
    src.searchParams.set("origin", window.location.origin);
    src.searchParams.set("lang", lang);
    const iframe = document.createElement("iframe");
    iframe.src = src.href;
    iframe.title = FRAME_TITLES[lang];
    iframe.setAttribute("allow", "microphone; camera; autoplay; clipboard-write");
    iframe.setAttribute("data-engage-widget", "");
    const s = iframe.style;
    for (const [name, value] of [["position", "fixed"], ["right", "0"], ["bottom", "0"],
      ["border", "0"], ["margin", "0"], ["padding", "0"], ["background", "transparent"],
      ["color-scheme", "normal"], ["z-index", "2147483000"], ["max-width", "100%"],
      ["max-height", "100%"]] as const) {
      s.setProperty(name, value, "important");
    }
    this.iframe = iframe;
    this.apply();
    listen<MessageEvent>(window, "message", (event) => this.receive(event), false);
    listen(window, "resize", () => {
      if (this.layout.state === "open") this.apply();
    }, false);
  }

  post(message: Record<string, unknown> & { type: string }): void {
    try {
      this.iframe.contentWindow?.postMessage({ engage: 1, ...message }, this.server);
    } catch {
      // a detached frame or an uncloneable value: this message is lost, nothing else
    }
  }

  private receive(event: MessageEvent): void {
    if (event.origin !== this.server || event.source !== this.iframe.contentWindow) return;
    const data: unknown = event.data;
    if (!isRecord(data) || data["engage"] !== 1 || typeof data["type"] !== "string") return;
    switch (data["type"]) {
      case "ready":
        guard(this.handlers.ready)();
        break;
      case "config":
        guard(this.handlers.config)(data["sensors"],
                                    typeof data["visitor_id"] === "string" ? data["visitor_id"] : null);
        break;
      case "store": {
        const key = data["key"];
        const value = data["value"];
        if (typeof key === "string" && (typeof value === "string" || value === null)) {
          guard(this.handlers.store)(key, value);
        }
        break;
      }
      case "layout": {
        const state = data["state"];
        if (state !== "launcher" && state !== "open" && state !== "hidden") return;
        this.layout = { state, width: side(data["width"], 0), height: side(data["height"], 0) };
        this.apply();
        break;
      }
      default:
        break;
    }
  }

  /** Sizes the frame; an open panel fills small screens. */
  private apply(): void {
    const { state, width, height } = this.layout;
    const s = this.iframe.style;
    const full = state === "open" && window.innerWidth < FULL_SCREEN_BELOW_PX;
    s.setProperty("width", full ? "100%" : `${width}px`, "important");
    s.setProperty("height", full ? "100%" : `${height}px`, "important");
    s.setProperty("visibility", state === "hidden" ? "hidden" : "visible", "important");
    s.setProperty("pointer-events", state === "hidden" ? "none" : "auto", "important");
  }
}
