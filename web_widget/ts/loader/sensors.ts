/**
 * Struggle detectors of the host-page loader, pure: each gets timestamps from its caller and
 * owns only its own small state, so tests drive them with a fake clock. The DOM wiring is in
 * page_sensors.ts. Element descriptions never read input values.
 */

import { type SensorConfig, type SignalFields } from "../../../signaling/client/trail";

export type Signal = SignalFields;
type Config = () => Readonly<SensorConfig>;

// -- target descriptions ------------------------------------------------------------------------

/** The part of a DOM node `describeTarget` reads (plain objects in tests). */
export interface NodeLike {
  nodeType: number;
  nodeValue: string | null;
  childNodes: ArrayLike<NodeLike>;
}

export interface ElementLike extends NodeLike {
  tagName: string;
  id: string;
  parentElement: ElementLike | null;
  getAttribute(name: string): string | null;
  hasAttribute(name: string): boolean;
}

const TEXT_NODE = 3;
const ELEMENT_NODE = 1;
export const TARGET_TEXT_MAX = 60;
/** Elements whose content is data the visitor typed or chose: described by tag and name only. */
const FIELD_TAGS = new Set(["INPUT", "TEXTAREA", "SELECT", "OPTION"]);
const SKIP_TEXT_TAGS = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "TEXTAREA", "SELECT",
                                "INPUT", "OPTION", "SVG", "IFRAME", "HEAD", "TITLE"]);
/** Page-sized containers: their text says nothing about what was clicked. */
const NO_TEXT_TAGS = new Set(["HTML", "BODY", "MAIN", "FORM"]);
const MAX_NODES = 200;

function isMaskedNode(el: ElementLike): boolean {
  return el.hasAttribute("data-engage-mask") || el.getAttribute("contenteditable") === "true"
    || el.getAttribute("contenteditable") === "";
}

/** True when the element or an ancestor is masked (`data-engage-mask`, contenteditable). */
export function isMasked(el: ElementLike): boolean {
  for (let node: ElementLike | null = el; node !== null; node = node.parentElement) {
    if (isMaskedNode(node)) return true;
  }
  return false;
}

/** Visible text of the element's subtree, skipping fields and masked parts, ≤ `max` chars. */
function shortText(el: ElementLike, max: number): string {
  let out = "";
  let visited = 0;
  const walk = (node: NodeLike): void => {
    if (out.length > max * 2 || visited++ > MAX_NODES) return;
    if (node.nodeType === TEXT_NODE) {
      out += ` ${node.nodeValue ?? ""}`;
      return;
    }
    if (node.nodeType !== ELEMENT_NODE) return;
    const child = node as ElementLike;
    if (SKIP_TEXT_TAGS.has(child.tagName.toUpperCase()) || isMaskedNode(child)) return;
    for (let i = 0; i < node.childNodes.length; i++) {
      const next = node.childNodes[i];
      if (next !== undefined) walk(next);
    }
  };
  walk(el);
  const text = out.replace(/\s+/g, " ").trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * A short, value-free description: `button#buy "Add to cart"`. Fields (inputs, textareas,
 * selects) and anything inside `[data-engage-mask]` give only `tag[name=…]`.
 */
export function describeTarget(el: ElementLike): string {
  const tag = el.tagName.toLowerCase();
  const name = el.getAttribute("name");
  if (FIELD_TAGS.has(el.tagName.toUpperCase()) || isMasked(el)) {
    const type = tag === "input" ? el.getAttribute("type") : null;
    return (`${tag}${type ? `[type=${type}]` : ""}${name ? `[name=${name}]` : ""}`).slice(0, 120);
  }
  const id = el.id ? `#${el.id}` : "";
  if (NO_TEXT_TAGS.has(el.tagName.toUpperCase())) return `${tag}${id.slice(0, 40)}`;
  const text = shortText(el, TARGET_TEXT_MAX)
    || (el.getAttribute("aria-label") ?? el.getAttribute("title") ?? "").trim().slice(0, TARGET_TEXT_MAX);
  return `${tag}${id.slice(0, 40)}${text ? ` "${text}"` : ""}`.slice(0, 120);
}

// -- rage click -----------------------------------------------------------------------------------

interface Tap {
  at: number;
  x: number;
  y: number;
}

/**
 * `rage_click_count` clicks within `rage_click_window_ms` and `rage_click_radius_px` (both
 * inclusive) give one signal; more clicks in the same burst give none until it ends.
 */
export class RageClickDetector {
  private taps: Tap[] = [];
  private reported = false;

  constructor(private readonly config: Config) {}

  click(at: number, x: number, y: number, target: string): Signal | null {
    const c = this.config();
    const tap = { at, x, y };
    this.taps = this.taps.filter((t) => at - t.at <= c.rage_click_window_ms
      && Math.hypot(t.x - x, t.y - y) <= c.rage_click_radius_px);
    if (this.taps.length === 0) this.reported = false;
    this.taps.push(tap);
    if (this.taps.length < c.rage_click_count || this.reported) return null;
    this.reported = true;
    const first = this.taps[0] ?? tap;
    const radius = Math.max(...this.taps.map((t) => Math.hypot(t.x - first.x, t.y - first.y)));
    return { kind: "rage_click", count: this.taps.length, span_ms: at - first.at,
             radius_px: Math.round(radius), target };
  }
}

// -- dead click -----------------------------------------------------------------------------------

/**
 * One watched click at a time: a DOM mutation or a navigation cancels it, so does a scroll or
 * selection change within `dead_click_scroll_ms`; `check` after `dead_click_wait_ms` reports.
 */
export class DeadClickWatch {
  private started: number | null = null;
  private target = "";

  constructor(private readonly config: Config) {}

  get watching(): boolean {
    return this.started !== null;
  }

  start(at: number, target: string): void {
    this.started = at;
    this.target = target;
  }

  mutation(): void {
    this.started = null;
  }

  cancel(): void {
    this.started = null;
  }

  /** A scroll or a selection change. */
  moved(at: number): void {
    if (this.started !== null && at - this.started <= this.config().dead_click_scroll_ms) {
      this.started = null;
    }
  }

  check(at: number): Signal | null {
    if (this.started === null) return null;
    const waited = at - this.started;
    if (waited < this.config().dead_click_wait_ms) return null;
    this.started = null;
    return { kind: "dead_click", target: this.target, wait_ms: waited };
  }
}

// -- error click ----------------------------------------------------------------------------------

/** A JS error within `error_click_window_ms` (inclusive) of a click; one signal per click. */
export class ErrorClickDetector {
  private last: { at: number; target: string } | null = null;

  constructor(private readonly config: Config) {}

  click(at: number, target: string): void {
    this.last = { at, target };
  }

  error(at: number, message: string): Signal | null {
    const last = this.last;
    if (last === null || at < last.at || at - last.at > this.config().error_click_window_ms) return null;
    this.last = null;
    return { kind: "error_click", target: last.target, message: message.slice(0, 300) };
  }
}

// -- form thrash ----------------------------------------------------------------------------------

interface FieldState {
  cleared: boolean;
  cycles: number;
}

/**
 * Counts clear-then-refill cycles per field from value *lengths* (never values); reaching
 * `form_thrash_cycles` reports and starts counting again.
 */
export class FormThrashDetector {
  private fields = new Map<string, FieldState>();

  constructor(private readonly config: Config) {}

  input(form: string, field: string, length: number): Signal | null {
    const key = `${form}\u0000${field}`;
    let state = this.fields.get(key);
    if (state === undefined) {
      if (this.fields.size >= 100) this.fields.clear();
      state = { cleared: length === 0, cycles: 0 };
      this.fields.set(key, state);
      return null;
    }
    if (length === 0) {
      state.cleared = true;
      return null;
    }
    if (!state.cleared) return null;
    state.cleared = false;
    state.cycles += 1;
    if (state.cycles < this.config().form_thrash_cycles) return null;
    const cycles = state.cycles;
    state.cycles = 0;
    return { kind: "form_thrash", form, field, cycles };
  }
}

// -- form idle ------------------------------------------------------------------------------------

/**
 * A focused field without input for `form_idle_ms` of *visible* time; one signal per focus.
 * `check` answers the signal, or how long until it could fire (`null`: nothing to wait for).
 */
export class FormIdleTimer {
  private field: { form: string; step: string } | null = null;
  private idleBefore = 0; // visible idle time accumulated before the current visible stretch
  private since: number | null = null; // start of the current visible idle stretch
  private visible = true;
  private reported = false;

  constructor(private readonly config: Config) {}

  focus(form: string, step: string, at: number): void {
    this.field = { form, step };
    this.reported = false;
    this.restart(at);
  }

  blur(): void {
    this.field = null;
  }

  input(at: number): void {
    this.reported = false;
    this.restart(at);
  }

  hide(at: number): void {
    if (this.since !== null) this.idleBefore += at - this.since;
    this.since = null;
    this.visible = false;
  }

  show(at: number): void {
    this.visible = true;
    this.since = at;
  }

  idleMs(at: number): number {
    return this.idleBefore + (this.since !== null ? at - this.since : 0);
  }

  check(at: number): { signal: Signal | null; nextInMs: number | null } {
    if (this.field === null || this.reported || !this.visible) return { signal: null, nextInMs: null };
    const idle = this.idleMs(at);
    const limit = this.config().form_idle_ms;
    if (idle < limit) return { signal: null, nextInMs: limit - idle };
    this.reported = true;
    return { signal: { kind: "form_idle", form: this.field.form, step: this.field.step, idle_ms: idle },
             nextInMs: null };
  }

  private restart(at: number): void {
    this.idleBefore = 0;
    this.since = this.visible ? at : null;
  }
}

// -- dwell -----------------------------------------------------------------------------------------

/** Visible time on the current page view. */
export class DwellClock {
  private total = 0;
  private since: number | null;

  constructor(at: number, visible: boolean) {
    this.since = visible ? at : null;
  }

  reset(at: number, visible: boolean): void {
    this.total = 0;
    this.since = visible ? at : null;
  }

  hide(at: number): void {
    if (this.since !== null) this.total += at - this.since;
    this.since = null;
  }

  show(at: number): void {
    if (this.since === null) this.since = at;
  }

  dwell(at: number): number {
    return Math.max(0, Math.round(this.total + (this.since !== null ? at - this.since : 0)));
  }
}
