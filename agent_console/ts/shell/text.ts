/**
 * What the console shell says, pure: countdowns and elapsed times on the server's clock, and
 * the English labels of ACD states, away reasons, dispositions, channels and context fields.
 */

import type { Context } from "../../../signaling/client/agent";

/**
 * The server's clock as seen from this browser: deadlines come in server milliseconds, and a
 * console whose clock is off by a minute must still count an offer down correctly.
 */
export class ServerClock {
  private offsetMs = 0;

  constructor(private readonly local: () => number = Date.now) {}

  /** A server timestamp taken just before sending; the transit time is small next to skew. */
  observe(serverMs: number): void {
    if (serverMs > 0) this.offsetMs = serverMs - this.local();
  }

  now(): number {
    return this.local() + this.offsetMs;
  }

  /** Milliseconds until a server-time deadline (negative once past). */
  until(deadlineMs: number): number {
    return deadlineMs - this.now();
  }
}

/** "m:ss" (or "h:mm:ss"); negative durations show as 0:00. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** A countdown rounds up: "0:01" until the very end, never "0:00" while time is left. */
export function formatCountdown(msLeft: number): string {
  return formatDuration(Math.ceil(Math.max(0, msLeft) / 1000) * 1000);
}

/** The wrap-up timer: time left of the queue's window when there is one, else time spent. */
export function wrapUpTimer(nowMs: number, deadlineMs: number, endedMs: number): { text: string; overdue: boolean } {
  if (deadlineMs > 0) {
    const left = deadlineMs - nowMs;
    return { text: `${formatCountdown(left)} left`, overdue: left <= 0 };
  }
  return { text: `${formatDuration(endedMs > 0 ? nowMs - endedMs : 0)} elapsed`, overdue: false };
}

/** Fraction of an offer's time still left, for the progress bar (0–1). */
export function fractionLeft(msLeft: number, totalMs: number): number {
  if (totalMs <= 0) return msLeft > 0 ? 1 : 0;
  return Math.min(1, Math.max(0, msLeft / totalMs));
}

// -- labels -----------------------------------------------------------------------------------

/** Reasons an agent picks when going away; the ACD sets others itself. */
export const AWAY_REASONS: readonly (readonly [string, string])[] = [
  ["break", "Break"], ["lunch", "Lunch"], ["meeting", "Meeting"], ["training", "Training"],
  ["other", "Other"]];

const SYSTEM_REASONS: Readonly<Record<string, string>> = {
  not_ready: "Not ready", missed_offers: "Missed offers", disconnected: "Disconnected",
};

const STATE_LABELS: Readonly<Record<string, string>> = {
  available: "Available", busy: "Busy", away: "Away", wrap_up: "Wrap-up", offline: "Offline",
};

const DISPOSITION_LABELS: Readonly<Record<string, string>> = {
  resolved: "Resolved", sale_opportunity: "Sale opportunity", follow_up: "Follow-up needed",
  callback_requested: "Callback requested", not_resolved: "Not resolved",
  transferred: "Transferred", spam: "Spam",
};

const CHANNEL_LABELS: Readonly<Record<string, string>> = {
  chat: "Chat", voice: "Voice", video: "Video", cobrowse: "Co-browse", phone: "Phone",
  outbound: "Outbound call",
};

/** "some_code" → "Some code": a readable fallback for codes this console does not know. */
export function humanize(code: string): string {
  const text = code.replace(/[_-]+/g, " ").trim();
  return text ? text[0]!.toUpperCase() + text.slice(1) : "";
}

export function reasonLabel(reason: string): string {
  return AWAY_REASONS.find(([code]) => code === reason)?.[1] ?? SYSTEM_REASONS[reason] ?? humanize(reason);
}

export function stateLabel(state: string, reason = ""): string {
  const base = STATE_LABELS[state] ?? humanize(state);
  return state === "away" && reason ? `${base} (${reasonLabel(reason).toLowerCase()})` : base;
}

export function dispositionLabel(code: string): string {
  return DISPOSITION_LABELS[code] ?? humanize(code);
}

export function channelLabel(channel: string): string {
  return CHANNEL_LABELS[channel] ?? humanize(channel);
}

// -- the offer context --------------------------------------------------------------------------

function pick(ctx: Context, ...path: string[]): string {
  let value: unknown = ctx;
  for (const key of path) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return "";
    value = (value as Record<string, unknown>)[key];
  }
  return typeof value === "string" ? value : "";
}

/** What the offer card and tab show about the visitor, from the server-built context. */
export interface VisitorSummary {
  name: string;
  pageTitle: string;
  pageUrl: string;
  origin: string;
  reason: string;
}

export function visitorSummary(context: Context, profile: Context | null = null): VisitorSummary {
  const origin = pick(context, "origin");
  const invite = pick(context, "invite", "name");
  const profileName = profile !== null && typeof profile["name"] === "string" ? profile["name"] : "";
  return {
    name: pick(context, "client", "name") || profileName,
    pageTitle: pick(context, "page", "title"),
    pageUrl: pick(context, "page", "url") || pick(context, "client", "page"),
    origin: origin === "widget" ? "Website chat" : origin === "invite"
      ? `Invitation${invite ? ` “${invite}”` : ""}` : humanize(origin),
    reason: pick(context, "client", "reason"),
  };
}

/** One line of a known customer's profile: membership, value, district. */
export function profileLine(profile: Context | null): string {
  if (profile === null) return "";
  const parts: string[] = [];
  const membership = typeof profile["membership"] === "string" ? profile["membership"] : "";
  if (membership && membership !== "none") parts.push(`${humanize(membership)} member`);
  const value = profile["lifetime_value"];
  if (typeof value === "number" && value > 0) parts.push(`lifetime value ${Math.round(value).toLocaleString("en")}`);
  const district = typeof profile["district"] === "string" ? profile["district"] : "";
  if (district) parts.push(district);
  return parts.join(" · ");
}
