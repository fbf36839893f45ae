/**
 * The live-context model: the watched visit (current page, score, struggle signals, where the
 * visitor came from) and its browsing trail as one line of text per event, newest first,
 * capped. Fed by the `visit.watch` ack and `trail` pushes (web_widget/PROTOCOL.md §3, §5).
 * Pure: no DOM, tested in node.
 */

import {
  type Json,
  displayUrl,
  formatClock,
  formatDuration,
  isRecord,
  list,
  num,
  record,
  str,
  strings,
  timeMs,
} from "./wire";

export const TRAIL_CAP = 100;
export const SIGNALS_SHOWN = 10;

/** One trail event as the panel lists it. */
export interface TrailLine {
  key: string;
  /** Server time of the event (ms), for ordering and the clock shown. */
  at: number;
  seq: number;
  clock: string;
  /** Short kind: "Page", "Click", "Form", "Error", "Struggle", "Left", "Conversion". */
  kind: string;
  text: string;
  /** A struggle signal the server counted, or an error the visitor hit. */
  struggle: boolean;
}

const SIGNAL_LABELS: Record<string, string> = {
  rage_click: "Rage clicks", dead_click: "Dead click", error_click: "Error click",
  form_thrash: "Form thrash", form_idle: "Idle on a form", quick_back: "Quick back",
  js_error: "JS error", http_error: "Error page", help_click: "Asked for help",
};

export function signalLabel(kind: string): string {
  return SIGNAL_LABELS[kind] ?? kind.replace(/_/g, " ");
}

/** "Rage clicks ×2, Dead click": each kind once, in the order first seen, with its count. */
export function signalSummary(kinds: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const kind of kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return [...counts].map(([kind, n]) => (n > 1 ? `${signalLabel(kind)} ×${n}` : signalLabel(kind))).join(", ");
}

function quoted(text: string): string {
  return text ? `“${text}”` : "";
}

function signalText(e: Json): string {
  const kind = str(e["kind"]);
  const target = str(e["target"], "", 80);
  switch (kind) {
    case "rage_click": return `${num(e["count"]) || "Several"} rapid clicks on ${target || "the page"}`;
    case "dead_click": return `Click on ${target || "the page"} did nothing`;
    case "error_click": return `Click on ${target || "the page"} caused an error${str(e["message"]) ? `: ${str(e["message"], "", 120)}` : ""}`;
    case "form_thrash":
      return `Re-typed ${quoted(str(e["field"], "a field", 60))} in ${str(e["form"], "a form", 60)} ${num(e["cycles"]) || "several"} times`;
    case "form_idle":
      return `Stuck ${formatDuration(num(e["idle_ms"]))} at ${quoted(str(e["step"], "a step", 60))} in ${str(e["form"], "a form", 60)}`;
    case "help_click": return "Clicked the help button";
    default: return signalLabel(kind);
  }
}

function formText(e: Json): string {
  const form = str(e["form"], "a form", 60);
  const step = quoted(str(e["step"], "", 60));
  switch (str(e["action"])) {
    case "submit": return `Submitted ${form}`;
    case "invalid": return `${form}: ${step || "a field"} was refused`;
    default: return `Filling in ${form}${step ? ` at ${step}` : ""}`;
  }
}

/** The kind and text of one event; null for events not worth a line (heartbeats). */
function describe(e: Json): { kind: string; text: string } | null {
  const url = displayUrl(str(e["url"], "", 300));
  switch (str(e["type"])) {
    case "page": {
      const title = str(e["title"], "", 120);
      const how = str(e["nav"]) === "pop" ? " (back)" : "";
      return { kind: "Page", text: `${title ? `${title} — ` : ""}${url}${how}` };
    }
    case "leave": return { kind: "Left", text: `${url} after ${formatDuration(num(e["dwell_ms"]))}` };
    case "click": return { kind: "Click", text: `${str(e["target"], "something", 80)} on ${url}` };
    case "form": return { kind: "Form", text: formText(e) };
    case "error": return { kind: "Error", text: `Script error: ${str(e["message"], "unknown", 160)}` };
    case "http_error": return { kind: "Error", text: `Error page ${num(e["status"]) || ""} at ${url}`.replace("  ", " ") };
    case "signal": return { kind: "Struggle", text: signalText(e) };
    case "conversion": {
      const value = e["value"];
      return { kind: "Conversion", text: `Converted${typeof value === "number" ? ` (value ${value})` : ""} on ${url}` };
    }
    case "heartbeat": return null;
    default: return { kind: str(e["type"], "Event", 30), text: url };
  }
}

/** One trail event as a line, or null (heartbeats, anything that is not an object). */
export function trailLine(raw: unknown): TrailLine | null {
  if (!isRecord(raw)) return null;
  const described = describe(raw);
  if (described === null) return null;
  const at = timeMs(raw["server_at"]) || timeMs(raw["at"]);
  const seq = num(raw["seq"], -1);
  const key = seq >= 0 ? `${str(raw["visit"])}:${seq}`
    : `${str(raw["visit"])}:${str(raw["type"])}:${num(raw["at"])}:${str(raw["url"])}`;
  const type = str(raw["type"]);
  const struggle = strings(raw["counted"]).length > 0 || type === "signal" || type === "error"
    || type === "http_error";
  return { key, at, seq, clock: formatClock(at), kind: described.kind, text: described.text, struggle };
}

/** The trail lines of one visitor: de-duplicated (ack and push may overlap), newest first. */
export class TrailLog {
  private lines = new Map<string, TrailLine>();
  constructor(readonly cap: number = TRAIL_CAP) {}

  /** Adds events; returns whether anything new was added. */
  merge(events: readonly unknown[]): boolean {
    let added = false;
    for (const raw of events) {
      const line = trailLine(raw);
      if (line === null || this.lines.has(line.key)) continue;
      this.lines.set(line.key, line);
      added = true;
    }
    if (this.lines.size > this.cap) {
      const keep = this.entries().slice(0, this.cap);
      this.lines = new Map(keep.map((l) => [l.key, l]));
    }
    return added;
  }

  entries(): TrailLine[] {
    return [...this.lines.values()].sort((a, b) => b.at - a.at || b.seq - a.seq);
  }

  get size(): number {
    return this.lines.size;
  }
}

export interface PageInfo {
  url: string;
  title: string;
}

/** What the panel knows of the watched visit, kept up to date by pushes. */
export class VisitState {
  visitor = "";
  visit = "";
  page: PageInfo = { url: "", title: "" };
  pages = 0;
  returning = false;
  score = 0;
  signals: string[] = [];
  landing = "";
  referrer = "";
  startedMs = 0;
  readonly trail = new TrailLog();

  /** The `visit.watch` ack. */
  applySnapshot(raw: Json): void {
    this.visitor = str(raw["visitor"]);
    this.visit = str(raw["visit"]);
    const page = record(raw["page"]);
    this.page = { url: str(page["url"], "", 1000), title: str(page["title"], "", 200) };
    this.pages = num(raw["pages"]);
    this.returning = raw["returning"] === true;
    this.score = num(raw["score"]);
    this.signals = strings(raw["signals"]).slice(-SIGNALS_SHOWN);
    this.landing = str(raw["landing"], "", 1000);
    this.referrer = str(raw["referrer"], "", 1000);
    this.startedMs = num(raw["started_ms"]);
    this.trail.merge(list(raw["trail"]));
  }

  /** A `trail` push; false (and nothing changed) when it is about someone else. */
  applyPush(raw: unknown): boolean {
    if (!isRecord(raw) || !this.visitor || str(raw["visitor"]) !== this.visitor) return false;
    const visit = str(raw["visit"]);
    const events = list(raw["events"]).filter(isRecord);
    if (visit && visit !== this.visit) {
      this.visit = visit;
      this.pages = 0;
    }
    this.score = num(raw["score"], this.score);
    for (const e of events) {
      if (e["type"] === "page") {
        this.pages += 1;
        this.page = { url: str(e["url"], "", 1000), title: str(e["title"], "", 200) };
      }
      this.signals.push(...strings(e["counted"]));
    }
    this.signals = this.signals.slice(-SIGNALS_SHOWN);
    this.trail.merge(events);
    return true;
  }
}

/** How the contact began, from the offer context: the widget's help button or an invite. */
export function originText(context: Json): string {
  if (context["origin"] === "invite") {
    const invite = record(context["invite"]);
    const name = str(invite["name"], "", 120);
    const rule = str(invite["rule"], "", 80);
    return `Accepted a proactive invite${name ? ` “${name}”` : ""}${rule ? ` (rule ${rule})` : ""}`;
  }
  if (context["origin"] === "widget") return "Asked for help in the widget";
  return str(context["origin"]) ? `Came in by ${str(context["origin"])}` : "Unknown";
}

/** The page the visitor asked from: what the widget said, else the server's page then. */
export function askedFrom(context: Json): string {
  const client = record(context["client"]);
  const page = record(context["page"]);
  const said = str(client["page"], "", 300);
  const url = str(page["url"], "", 1000);
  const title = str(page["title"], "", 200);
  const name = title || said;
  if (url) return name ? `${name} — ${url}` : url;
  return said;
}

/** The visitor's own words about why they asked, when they gave any. */
export function askedReason(context: Json): string {
  return str(record(context["client"])["reason"], "", 300);
}

/** "5.2 (high)": the struggle score with a word an agent can act on (help is offered from 5
 * by default, engage/help_policy.py). */
export function scoreText(score: number): string {
  const word = score >= 5 ? "high" : score >= 2 ? "raised" : "low";
  return `${score.toFixed(1)} (${word})`;
}
