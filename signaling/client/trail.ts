/**
 * Trail events, the raw sensor output of the /visitor protocol: their types (generated from
 * signaling/schemas.py), the sanitiser that keeps exactly what the server accepts, and the
 * struggle-sensor thresholds the server sends the loader. Pure: shared by loader and widget.
 */

import type { PageView, Signal, TrailEvent } from "./payloads.gen";

export type { TrailEvent };

// -- trail events (raw sensor output) -------------------------------------------------------

export type NavKind = NonNullable<PageView["nav"]>;
export type SignalKind = Signal["kind"];
/** A `signal` trail event without its envelope (what a struggle detector reports). */
export type SignalFields = Omit<Signal, "type" | "at" | "url">;

export type TrailType = TrailEvent["type"];
export const MAX_TRAIL_BATCH = 50;

type FieldSpec =
  | { kind: "str"; max: number }
  | { kind: "int"; min: number; max: number }
  | { kind: "num"; min: number; max: number }
  | { kind: "enum"; values: readonly string[] };

const URL_F: FieldSpec = { kind: "str", max: 2048 };
const SHORT: FieldSpec = { kind: "str", max: 300 };
const LABEL: FieldSpec = { kind: "str", max: 120 };
const MS: FieldSpec = { kind: "int", min: 0, max: 1e13 };
const COUNT: FieldSpec = { kind: "int", min: 0, max: 10_000 };

/** Every field the server's schema accepts, per event type (it refuses unknown ones). */
const TRAIL_FIELDS: Readonly<Record<TrailType, Readonly<Record<string, FieldSpec>>>> = {
  page: { title: SHORT, referrer: URL_F, nav: { kind: "enum", values: ["load", "push", "pop", "replace"] } },
  leave: { dwell_ms: MS },
  click: { target: LABEL, x: { kind: "int", min: -100_000, max: 100_000 },
           y: { kind: "int", min: -100_000, max: 10_000_000 } },
  form: { form: LABEL, step: LABEL, action: { kind: "enum", values: ["focus", "submit", "invalid"] } },
  error: { message: SHORT, source: URL_F },
  http_error: { status: { kind: "int", min: 400, max: 599 } },
  signal: {
    kind: { kind: "enum", values: ["rage_click", "dead_click", "error_click", "form_thrash",
                                   "form_idle", "help_click"] },
    count: COUNT, span_ms: MS, radius_px: { kind: "int", min: 0, max: 100_000 }, wait_ms: MS,
    idle_ms: MS, cycles: COUNT, target: LABEL, form: LABEL, field: LABEL, step: LABEL,
    message: SHORT,
  },
  heartbeat: { dwell_ms: MS },
  conversion: { value: { kind: "num", min: 0, max: 1e12 } },
};

/** Fields without which an event of that type is refused. */
const REQUIRED: Partial<Record<TrailType, string>> = { http_error: "status", signal: "kind" };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function cleanField(spec: FieldSpec, value: unknown): string | number | undefined {
  switch (spec.kind) {
    case "str":
      return typeof value === "string" ? value.slice(0, spec.max) : undefined;
    case "enum":
      return typeof value === "string" && spec.values.includes(value) ? value : undefined;
    case "int":
    case "num": {
      if (typeof value !== "number" || !Number.isFinite(value)) return undefined;
      const n = spec.kind === "int" ? Math.round(value) : value;
      return Math.min(spec.max, Math.max(spec.min, n));
    }
  }
}

/**
 * The event with exactly the fields the server accepts: strings cut to their caps, numbers
 * clamped, unknown fields dropped; `null` when the type or a required field is wrong.
 */
export function sanitizeTrailEvent(raw: unknown, now: number = Date.now()): TrailEvent | null {
  if (!isRecord(raw) || typeof raw["type"] !== "string" || !(raw["type"] in TRAIL_FIELDS)) return null;
  const type = raw["type"] as TrailType;
  const at = cleanField(MS, raw["at"]);
  const out: Record<string, unknown> = { type, at: at ?? Math.round(now) };
  const url = cleanField(URL_F, raw["url"]);
  if (url !== undefined) out["url"] = url;
  for (const [name, spec] of Object.entries(TRAIL_FIELDS[type])) {
    const value = cleanField(spec, raw[name]);
    if (value !== undefined) out[name] = value;
  }
  const required = REQUIRED[type];
  if (required !== undefined && out[required] === undefined) return null;
  return out as unknown as TrailEvent;
}

// -- sensor thresholds (the `config` message to the loader) ---------------------------------

export interface SensorConfig {
  enabled: boolean;
  rage_click_count: number;
  rage_click_window_ms: number;
  rage_click_radius_px: number;
  dead_click_wait_ms: number;
  dead_click_scroll_ms: number;
  error_click_window_ms: number;
  form_thrash_cycles: number;
  form_idle_ms: number;
  heartbeat_ms: number;
}

/** DESIGN.md "Help detection"; the server's `config.sensors` replaces any of them. */
export const DEFAULT_SENSORS: Readonly<SensorConfig> = {
  enabled: true,
  rage_click_count: 3,
  rage_click_window_ms: 1000,
  rage_click_radius_px: 30,
  dead_click_wait_ms: 2500,
  dead_click_scroll_ms: 100,
  error_click_window_ms: 1000,
  form_thrash_cycles: 3,
  form_idle_ms: 60_000,
  heartbeat_ms: 15_000,
};

/** Known keys with sane values replace the base; everything else is ignored. */
export function parseSensorConfig(raw: unknown, base: Readonly<SensorConfig> = DEFAULT_SENSORS): SensorConfig {
  const out: SensorConfig = { ...base };
  if (!isRecord(raw)) return out;
  if (typeof raw["enabled"] === "boolean") out.enabled = raw["enabled"];
  for (const key of Object.keys(base) as (keyof SensorConfig)[]) {
    if (key === "enabled") continue;
    const value = raw[key];
    if (typeof value === "number" && Number.isFinite(value) && value > 0 && value <= 86_400_000) {
      out[key] = value;
    }
  }
  return out;
}
