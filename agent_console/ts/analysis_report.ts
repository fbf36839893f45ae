/**
 * The shapes of `GET /api/analysis/report` as the marketing page reads them, and the date
 * format it shows them in.
 */

export interface Product {
  name: string;
  name_zh: string;
  line: string;
  price: number;
}

export interface Rule {
  kind: string;
  antecedent: string;
  consequent: string;
  count: number;
  support: number | null;
  confidence: number | null;
  lift: number | null;
  window_days: number | null;
  median_delay_days: number | null;
  sentence?: string;
}

export interface ScatterPoint {
  kind: string;
  antecedent: string;
  consequent: string;
  support: number | null;
  lift: number | null;
}

export interface Report {
  version: number;
  run_at: string;
  as_of: string;
  products: Record<string, Product>;
  tiers: { tier: string; size: number; meaning: string }[];
  top_rules: Rule[];
  scatter: ScatterPoint[];
  heatmap: { items: string[]; values: (number | null)[][] };
  segments: Record<string, string[]>;
  lines: string[];
  reachable: number;
}

/** An ISO date-time in the reader's locale ("22 Nov 2026, 07:50"). */
export function when(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}
