/**
 * Reading the server's JSON in the side panels: untyped values to typed ones (never trusting a
 * shape), and the few time and URL formats every panel shows. Pure: no DOM, tested in node.
 */

export type Json = Record<string, unknown>;

export function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A string field, or `fallback`; long texts are cut (the panels show one line of it). */
export function str(value: unknown, fallback = "", max = 500): string {
  if (typeof value !== "string") return fallback;
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

export function num(value: unknown, fallback = 0): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

export function record(value: unknown): Json {
  return isRecord(value) ? value : {};
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function strings(value: unknown): string[] {
  return list(value).filter((v): v is string => typeof v === "string");
}

/** Epoch ms from epoch ms, epoch seconds (below 1e11) or ISO text; 0 when unknown. */
export function timeMs(value: unknown): number {
  if (typeof value === "number" && Number.isFinite(value) && value > 0) {
    return value < 1e11 ? value * 1000 : value;
  }
  if (typeof value === "string" && value) {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? 0 : parsed;
  }
  return 0;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** "14:05:09" in the agent's time zone. */
export function formatClock(ms: number): string {
  if (!ms) return "";
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "2025-03-01 14:05" in the agent's time zone; "" for an unknown time. */
export function formatDateTime(ms: number): string {
  if (!ms) return "";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "2025-03-01" in the agent's time zone; "" for an unknown time. */
export function formatDate(ms: number): string {
  return formatDateTime(ms).slice(0, 10);
}

/** A page address without its origin when it has one ("/listings?x=1"), else as given. */
export function displayUrl(url: string): string {
  const match = /^https?:\/\/[^/?#]+(.*)$/i.exec(url);
  if (match === null) return url;
  return match[1] || "/";
}

/** "42 s", "3 min 5 s", "1 h 2 min". */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
}
