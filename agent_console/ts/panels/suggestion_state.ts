/**
 * The suggestions model: next-best offers of one customer (product, score, the reason to say),
 * why there are none when there are none, and per offer what was recorded (offered, accepted,
 * declined: by whom, when) so the buttons show it. Pure: no DOM, tested in node.
 */

import { type Json, formatDateTime, isRecord, list, num, record, str, strings, timeMs } from "./wire";

export type Outcome = "offered" | "accepted" | "declined";
export const OUTCOMES: readonly Outcome[] = ["offered", "accepted", "declined"];
const OUTCOME_LABELS: Record<Outcome, string> = { offered: "Offered", accepted: "Accepted", declined: "Declined" };

export function outcomeLabel(outcome: Outcome): string {
  return OUTCOME_LABELS[outcome];
}

export interface Suggestion {
  product: string;
  name: string;
  score: number;
  reason: string;
}

/** What was recorded about one offer. */
export interface Recorded {
  outcomes: Outcome[];
  last: Outcome | null;
  by: string;
  atMs: number;
}

export const NOTHING_RECORDED: Recorded = { outcomes: [], last: null, by: "", atMs: 0 };

export interface SuggestionsView {
  status: string;
  /** Why there is nothing to suggest ("" when there are suggestions). */
  empty: string;
  suggestions: Suggestion[];
  recorded: Map<string, Recorded>;
  /** "Analysis version 3 of 2025-03-01 14:05" when known. */
  source: string;
}

function outcome(value: unknown): Outcome | null {
  return OUTCOMES.find((o) => o === value) ?? null;
}

function parseRecorded(raw: unknown): Recorded {
  const r = record(raw);
  return {
    outcomes: strings(r["outcomes"]).map(outcome).filter((o): o is Outcome => o !== null),
    last: outcome(r["last"]), by: str(r["by"]), atMs: timeMs(r["at"]),
  };
}

/** The explanation shown instead of a list, by the server's status. */
export function emptyText(status: string, message: string): string {
  switch (status) {
    case "no_results":
      return `Not analysed yet: ${message || "no analysis has run yet"}. Suggestions appear after the next analysis run.`;
    case "not_analysed":
      return `Not analysed: ${message || "this customer joined after the current analysis ran"}.`;
    case "no_offers":
      return `No suggestions: ${message || "nothing to suggest to this customer"}.`;
    default:
      return message || "No suggestions.";
  }
}

/** The `GET /api/customers/{id}/suggestions` answer as the panel shows it. */
export function parseSuggestions(answer: Json): SuggestionsView {
  const status = str(answer["status"], "ok");
  const suggestions = list(answer["suggestions"]).filter(isRecord).map((s) => ({
    product: str(s["product"]), name: str(s["product_name"]) || str(s["product"]),
    score: num(s["score"]), reason: str(s["reason"], "", 1000),
  })).filter((s) => s.product);
  const recorded = new Map<string, Recorded>();
  for (const [product, entry] of Object.entries(record(answer["feedback"]))) {
    recorded.set(product, parseRecorded(entry));
  }
  const version = num(answer["version"]);
  const ran = timeMs(answer["run_at"]);
  return {
    status, suggestions, recorded,
    empty: suggestions.length ? "" : emptyText(status, str(answer["message"])),
    source: version ? `Analysis version ${version}${ran ? ` of ${formatDateTime(ran)}` : ""}` : "",
  };
}

/** After the server stored an outcome (the feedback API's `feedback` entry). */
export function withRecorded(state: Recorded, entry: Json): Recorded {
  const recordedOutcome = outcome(entry["outcome"]);
  if (recordedOutcome === null) return state;
  const outcomes = state.outcomes.includes(recordedOutcome) ? state.outcomes : [...state.outcomes, recordedOutcome];
  return { outcomes, last: recordedOutcome, by: str(entry["actor"]), atMs: timeMs(entry["at"]) };
}

/** "Recorded: declined (offered before) by ann at 2025-03-01 14:05"; "" when nothing yet. */
export function recordedText(state: Recorded): string {
  if (state.last === null) return "";
  const earlier = state.outcomes.filter((o) => o !== state.last);
  const when = state.atMs ? ` at ${formatDateTime(state.atMs)}` : "";
  return `Recorded: ${state.last}${earlier.length ? ` (${earlier.join(", ")} before)` : ""}` +
    `${state.by ? ` by ${state.by}` : ""}${when}`;
}

/** Whether an outcome's button shows as pressed (it was recorded). */
export function isRecorded(state: Recorded, o: Outcome): boolean {
  return state.outcomes.includes(o);
}

/** "82%": a score between 0 and 1 as the agent reads it. */
export function scorePercent(score: number): string {
  return `${Math.round(Math.max(0, Math.min(1, score)) * 100)}%`;
}
