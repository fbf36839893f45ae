/**
 * The loader's sensors in the host page: page views (SPA included), leaves, clicks, form
 * steps, JS and HTTP errors and the struggle detectors of sensors.ts, all as raw trail events
 * handed to `emit`. Every listener is passive and guarded; nothing reads an input's value
 * except its length.
 */

import { DEFAULT_SENSORS, type NavKind, type SensorConfig, type TrailEvent, parseSensorConfig } from "../../../signaling/client/trail";
import { guard, later, listen } from "./guard";
import {
  DeadClickWatch,
  DwellClock,
  type ElementLike,
  ErrorClickDetector,
  FormIdleTimer,
  FormThrashDetector,
  RageClickDetector,
  type Signal,
  describeTarget,
} from "./sensors";

export interface SensorHub {
  configure(raw: unknown): void;
  conversion(value?: unknown): void;
}

type Draft = { url?: string } & Record<string, unknown> & { type: TrailEvent["type"] };

const INTERACTIVE = "a[href],button,[role=button],[role=link],[role=tab],[role=menuitem],"
  + "input[type=submit],input[type=button],input[type=image],input[type=reset],summary";
const NOT_FIELD_TYPES = new Set(["button", "submit", "reset", "image", "hidden"]);
const TEXT_TYPES = new Set(["", "text", "email", "tel", "password", "search", "url", "number"]);
const MAX_ERRORS = 20;
const PAGE_TITLE_DELAY_MS = 300;

function fieldOf(target: EventTarget | null): HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement | null {
  if (target instanceof HTMLInputElement) return NOT_FIELD_TYPES.has(target.type) ? null : target;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return target;
  return null;
}

function formKey(form: HTMLFormElement | null): string {
  if (form === null) return "";
  return (form.id || form.getAttribute("name") || "form").slice(0, 120);
}

function fieldKey(field: Element): string {
  const own = field.getAttribute("name") || field.id || field.getAttribute("type") || field.tagName.toLowerCase();
  const step = field.closest("[data-engage-step]")?.getAttribute("data-engage-step");
  return (step ? `${step}: ${own}` : own).slice(0, 120);
}

function visible(): boolean {
  return document.visibilityState !== "hidden";
}

function errorMessage(reason: unknown): string {
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`;
  if (typeof reason === "string") return reason;
  return Object.prototype.toString.call(reason);
}

/** Starts every sensor; `flush` sends the batch now (before the page goes away). */
export function startSensors(emit: (event: TrailEvent) => void, flush: () => void,
                             ownFrame: () => Element | null, now: () => number = Date.now): SensorHub {
  let config: SensorConfig = { ...DEFAULT_SENSORS };
  const cfg = (): SensorConfig => config;
  const rage = new RageClickDetector(cfg);
  const dead = new DeadClickWatch(cfg);
  const errorClick = new ErrorClickDetector(cfg);
  const thrash = new FormThrashDetector(cfg);
  const idle = new FormIdleTimer(cfg);
  const dwell = new DwellClock(now(), visible());
  let currentUrl = location.href;
  let left = false;
  let errors = 0;
  const seenErrors = new Set<string>();

  const record = (draft: Draft, force = false): void => {
    if (!config.enabled && !force) return;
    emit({ url: location.href, ...draft, at: now() } as TrailEvent);
  };
  const signal = (s: Signal | null): void => {
    if (s !== null) record({ type: "signal", ...s });
  };

  // -- page views and leaves ------------------------------------------------------------------
  const pageView = (nav: NavKind, url: string, referrer: string): void => {
    record({ type: "page", url, title: document.title.slice(0, 300), referrer, nav });
  };
  const leave = (): void => {
    if (left) return;
    left = true;
    record({ type: "leave", url: currentUrl, dwell_ms: dwell.dwell(now()) });
  };
  let pendingPage: (() => void) | null = null;
  let pendingTimer: ReturnType<typeof setTimeout> | undefined;
  const navigated = (nav: NavKind): void => {
    const url = location.href;
    if (url === currentUrl) return;
    pendingPage?.();
    left = false;
    leave();
    const referrer = currentUrl;
    currentUrl = url;
    left = !visible();
    dwell.reset(now(), visible());
    dead.cancel();
    // SPAs set the title after the URL: read it a moment later.
    const fire = (): void => {
      clearTimeout(pendingTimer);
      pendingPage = null;
      pageView(nav, url, referrer);
    };
    pendingPage = fire;
    pendingTimer = later(fire, PAGE_TITLE_DELAY_MS);
  };
  for (const method of ["pushState", "replaceState"] as const) {
    const original = history[method];
    if (typeof original !== "function") continue;
    const nav: NavKind = method === "pushState" ? "push" : "replace";
    history[method] = function patched(this: History, ...args: Parameters<History["pushState"]>) {
      const result = original.apply(this, args);
      guard(navigated)(nav);
      return result;
    };
  }
  listen(window, "popstate", () => navigated("pop"), false);
  listen(window, "hashchange", () => navigated("push"), false);

  listen(document, "visibilitychange", () => {
    const at = now();
    if (visible()) {
      dwell.show(at);
      idle.show(at);
      left = false;
      scheduleIdle();
    } else {
      dwell.hide(at);
      idle.hide(at);
      dead.cancel();
      leave();
      flush();
    }
  });
  listen(window, "pagehide", () => {
    dead.cancel();
    leave();
    flush();
  }, false);
  listen<PageTransitionEvent>(window, "pageshow", (event) => {
    if (!event.persisted) return; // a page restored from the back/forward cache
    left = false;
    dwell.reset(now(), visible());
    pageView("pop", location.href, document.referrer);
  }, false);

  // -- clicks -----------------------------------------------------------------------------------
  let observer: MutationObserver | null = null;
  let deadTimer: ReturnType<typeof setTimeout> | undefined;
  const stopWatching = (): void => {
    observer?.disconnect();
    observer = null;
    clearTimeout(deadTimer);
  };
  const watchDeadClick = (event: MouseEvent, el: Element, target: string): void => {
    stopWatching();
    if (typeof MutationObserver !== "function" || el.closest("a[target=_blank],a[download]")) return;
    dead.start(now(), target);
    const frame = ownFrame();
    observer = new MutationObserver(guard((records: MutationRecord[]) => {
      if (records.some((r) => r.target !== frame)) {
        dead.mutation();
        stopWatching();
      }
    }));
    observer.observe(document.documentElement, { subtree: true, childList: true, attributes: true,
                                                 characterData: true });
    deadTimer = later(() => {
      stopWatching();
      signal(dead.check(now()));
    }, config.dead_click_wait_ms);
    // A real link the page did not intercept navigates away: that is not a dead click.
    later(() => {
      const link = el.closest("a[href]");
      const href = link?.getAttribute("href") ?? "#";
      if (!event.defaultPrevented && link !== null && !href.startsWith("#")) {
        dead.cancel();
        stopWatching();
      }
    }, 0);
  };
  listen<MouseEvent>(document, "click", (event) => {
    if (!event.isTrusted || !config.enabled || !(event.target instanceof Element)) return;
    const at = now();
    const hit = event.target;
    const interactive = hit.closest(INTERACTIVE);
    const target = describeTarget((interactive ?? hit) as unknown as ElementLike);
    const x = Math.round(event.pageX);
    const y = Math.round(event.pageY);
    if (interactive !== null) record({ type: "click", target, x, y });
    signal(rage.click(at, x, y, target));
    errorClick.click(at, target);
    if (interactive !== null && fieldOf(interactive) === null && !(interactive instanceof HTMLInputElement)) {
      watchDeadClick(event, interactive, target);
    }
  });
  const moved = (): void => {
    if (dead.watching) dead.moved(now());
  };
  listen(document, "scroll", moved);
  // A click collapses the selection (and fires this): only a real text selection counts.
  listen(document, "selectionchange", () => {
    if (dead.watching && document.getSelection()?.isCollapsed === false) moved();
  });

  // -- forms ------------------------------------------------------------------------------------
  let lastFocus = "";
  let idleTimer: ReturnType<typeof setTimeout> | null = null;
  const scheduleIdle = (): void => {
    if (idleTimer !== null) clearTimeout(idleTimer);
    idleTimer = null;
    const result = idle.check(now());
    signal(result.signal);
    if (result.nextInMs !== null) idleTimer = later(scheduleIdle, result.nextInMs + 5);
  };
  listen<FocusEvent>(document, "focusin", (event) => {
    const field = fieldOf(event.target);
    if (field === null || !config.enabled) return;
    const form = formKey(field.form);
    const step = fieldKey(field);
    idle.focus(form, step, now());
    scheduleIdle();
    if (field.form === null || `${form}\u0000${step}` === lastFocus) return;
    lastFocus = `${form}\u0000${step}`;
    record({ type: "form", form, step, action: "focus" });
  });
  listen<FocusEvent>(document, "focusout", (event) => {
    if (fieldOf(event.target) !== null) idle.blur();
  });
  listen<Event>(document, "input", (event) => {
    const field = fieldOf(event.target);
    if (field === null || !config.enabled) return;
    idle.input(now());
    if (idleTimer === null) scheduleIdle();
    const textual = field instanceof HTMLTextAreaElement
      || (field instanceof HTMLInputElement && TEXT_TYPES.has(field.type));
    if (textual) signal(thrash.input(formKey(field.form), fieldKey(field), field.value.length));
  });
  listen<SubmitEvent>(document, "submit", (event) => {
    if (!(event.target instanceof HTMLFormElement)) return;
    const submitter = event.submitter;
    record({ type: "form", form: formKey(event.target), action: "submit",
             step: submitter ? fieldKey(submitter) : "" });
    later(() => {
      if (!event.defaultPrevented) dead.cancel(); // a real submission navigates
    }, 0);
  });
  listen<Event>(document, "invalid", (event) => {
    const field = fieldOf(event.target);
    if (field === null) return;
    dead.cancel(); // the browser's validation bubble is the reaction
    record({ type: "form", form: formKey(field.form), step: fieldKey(field), action: "invalid" });
  });

  // -- errors -----------------------------------------------------------------------------------
  const jsError = (message: string, source: string): void => {
    if (!config.enabled || message.includes("ResizeObserver loop")) return;
    signal(errorClick.error(now(), message));
    if (errors >= MAX_ERRORS || seenErrors.has(message)) return;
    errors += 1;
    seenErrors.add(message);
    record({ type: "error", message: message.slice(0, 300), source });
  };
  listen<ErrorEvent>(window, "error", (event) => {
    if (!(event instanceof ErrorEvent)) return; // resource load errors
    jsError(event.message || errorMessage(event.error), event.filename || "");
  }, false);
  listen<PromiseRejectionEvent>(window, "unhandledrejection", (event) => {
    jsError(`Unhandled rejection: ${errorMessage(event.reason)}`, "");
  }, false);

  // -- the initial page view, its HTTP status, heartbeats ----------------------------------
  pageView("load", currentUrl, document.referrer);
  const declared = Number(document.documentElement.getAttribute("data-engage-status"));
  let status = declared >= 400 && declared <= 599 ? declared : 0;
  if (status === 0) {
    const nav = performance.getEntriesByType?.("navigation")[0] as
      (PerformanceEntry & { responseStatus?: number }) | undefined;
    const measured = nav?.responseStatus ?? 0;
    if (measured >= 400 && measured <= 599) status = measured;
  }
  if (status !== 0) record({ type: "http_error", status });

  let heartbeat: ReturnType<typeof setInterval> | undefined;
  const startHeartbeat = (): void => {
    clearInterval(heartbeat);
    heartbeat = setInterval(guard(() => {
      if (visible()) record({ type: "heartbeat", url: currentUrl, dwell_ms: dwell.dwell(now()) });
    }), Math.max(1000, config.heartbeat_ms));
  };
  startHeartbeat();

  return {
    configure: guard((raw: unknown) => {
      const before = config.heartbeat_ms;
      config = parseSensorConfig(raw, DEFAULT_SENSORS);
      if (config.heartbeat_ms !== before) startHeartbeat();
    }),
    conversion: guard((value?: unknown) => {
      const draft: Draft = { type: "conversion" };
      if (typeof value === "number" && Number.isFinite(value) && value >= 0) draft["value"] = value;
      record(draft, true);
    }),
  };
}
