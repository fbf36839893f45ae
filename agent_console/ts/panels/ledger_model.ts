/**
 * The customer-ledger model: field labels and shown values, the edit draft (only what the role
 * may edit, per the server's field specs), and the conflict diff when someone saved first
 * (their change next to yours, "Keep mine" / "Take theirs"). Pure: no DOM, tested in node.
 */

import { type Json, isRecord, list, num, record, str, strings } from "./wire";

export type FieldValue = string | number | boolean | null;

/** How the server says a field is edited (engage/ledger_policy.py field_spec). */
export interface FieldSpec {
  type: "bool" | "int" | "choice" | "tel" | "email" | "text";
  choices: string[];
  min: number;
  max: number;
  required: boolean;
}

const LABELS: Record<string, string> = {
  name: "Name", name_zh: "Chinese name", phone: "Phone", email: "E-mail", address: "Address",
  district: "District", preferred_language: "Preferred language",
  contact_opt_out: "No contact at all", email_opt_out: "No e-mail", sms_opt_out: "No SMS",
  membership: "Membership", segment: "Segment", age_band: "Age band", income_band: "Income band",
  household_size: "Household size", origin_channel: "First came by", created_at: "Customer since",
};

export function fieldLabel(field: string): string {
  return LABELS[field] ?? field.replace(/_/g, " ");
}

/** A value as the panel shows it: yes/no, "—" for nothing. */
export function shownValue(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") return String(value);
  return typeof value === "string" ? value : JSON.stringify(value);
}

const TYPES = new Set(["bool", "int", "choice", "tel", "email", "text"]);

export function parseSpecs(raw: unknown): Map<string, FieldSpec> {
  const specs = new Map<string, FieldSpec>();
  for (const [field, spec] of Object.entries(record(raw))) {
    if (!isRecord(spec)) continue;
    const type = str(spec["type"]);
    if (!TYPES.has(type)) continue;
    specs.set(field, {
      type: type as FieldSpec["type"], choices: strings(spec["choices"]),
      min: num(spec["min"], 0), max: num(spec["max"], 0), required: spec["required"] === true,
    });
  }
  return specs;
}

/** The fields a form offers: editable for the role, in the ledger's order, never masked ones. */
export function editableFields(ledger: Json): string[] {
  const masked = new Set(strings(ledger["masked"]));
  const specs = parseSpecs(ledger["fields"]);
  const order = Object.keys(record(ledger["customer"]));
  const editable = strings(ledger["editable"]).filter((f) => specs.has(f) && !masked.has(f));
  const rank = (f: string): number => (order.indexOf(f) < 0 ? order.length : order.indexOf(f));
  return editable.sort((a, b) => rank(a) - rank(b));
}

/** What an input holds, as the value to send; an error text when it cannot be one. */
export function parseInput(spec: FieldSpec, raw: string | boolean): { value: FieldValue } | { error: string } {
  if (spec.type === "bool") return { value: raw === true };
  const text = typeof raw === "string" ? raw.trim() : "";
  if (spec.type === "int") {
    if (!text) return { value: null };
    if (!/^\d+$/.test(text)) return { error: "a whole number" };
    const n = Number(text);
    if (n < spec.min || (spec.max && n > spec.max)) return { error: `from ${spec.min} to ${spec.max}` };
    return { value: n };
  }
  if (spec.required && !text) return { error: "required" };
  if (spec.max && text.length > spec.max) return { error: `at most ${spec.max} characters` };
  if (spec.type === "choice" && text && !spec.choices.includes(text)) {
    return { error: `one of ${spec.choices.join(", ")}` };
  }
  return { value: text };
}

function same(a: unknown, b: unknown): boolean {
  const empty = (v: unknown): boolean => v === null || v === undefined || v === "";
  return a === b || (empty(a) && empty(b));
}

/** One field the agent changed: what it was when the form opened, and the new value. */
export interface MyChange {
  field: string;
  old: FieldValue;
  new: FieldValue;
}

/** The changes of a draft against the values the form was opened with. */
export function changesOf(original: Json, draft: Record<string, FieldValue>): MyChange[] {
  return Object.entries(draft)
    .filter(([field, value]) => !same(original[field], value))
    .map(([field, value]) => ({ field, old: (original[field] ?? null) as FieldValue, new: value }));
}

/** One change someone else saved (a revision, or an entry of `changes_since`). */
export interface TheirChange {
  version: number;
  field: string;
  old: unknown;
  new: unknown;
  by: string;
  atMs: number;
  redacted: boolean;
}

export function parseChanges(raw: unknown): TheirChange[] {
  return list(raw).filter(isRecord).map((c) => ({
    version: num(c["version"]), field: str(c["field"]), old: c["old"] ?? null, new: c["new"] ?? null,
    by: str(c["by"], "someone"), atMs: num(c["at_ms"]), redacted: c["redacted"] === true,
  }));
}

/** A row of the conflict view: one field, your change and/or theirs. */
export interface ConflictRow {
  field: string;
  label: string;
  mine: MyChange | null;
  /** Their changes of this field since your version, oldest first. */
  theirs: TheirChange[];
  /** Both changed it to different values: saving yours overwrites theirs. */
  clash: boolean;
  /** Both changed it to the same value. */
  agree: boolean;
}

export interface Conflict {
  currentVersion: number;
  rows: ConflictRow[];
  /** Fields with a real clash (saving yours overwrites theirs). */
  clashes: string[];
}

/** The conflict view of a 409 answer (`current_version`, `changes_since`) against your changes. */
export function conflictOf(mine: readonly MyChange[], answer: Json): Conflict {
  const theirs = parseChanges(answer["changes_since"]).sort((a, b) => a.version - b.version);
  const fields: string[] = [];
  for (const f of [...mine.map((c) => c.field), ...theirs.map((c) => c.field)]) {
    if (!fields.includes(f)) fields.push(f);
  }
  const rows = fields.map((field): ConflictRow => {
    const my = mine.find((c) => c.field === field) ?? null;
    const their = theirs.filter((c) => c.field === field);
    const last = their[their.length - 1];
    const agree = my !== null && last !== undefined && !last.redacted && same(last.new, my.new);
    return { field, label: fieldLabel(field), mine: my, theirs: their,
             clash: my !== null && last !== undefined && !agree, agree };
  });
  return { currentVersion: num(answer["current_version"]), rows,
           clashes: rows.filter((r) => r.clash).map((r) => r.field) };
}

/** "Keep mine": the same changes again, on the version the server has now. */
export function keepMine(mine: readonly MyChange[], conflict: Conflict): { version: number; changes: Record<string, FieldValue> } {
  return { version: conflict.currentVersion,
           changes: Object.fromEntries(mine.map((c) => [c.field, c.new])) };
}

/** The text of someone's change: "+86139… → +86138… (by ann, 2025-03-01 14:05)". */
export function changeText(c: { old: unknown; new: unknown; redacted?: boolean }): string {
  if (c.redacted) return "changed (hidden from your role)";
  return `${shownValue(c.old)} → ${shownValue(c.new)}`;
}

/** "3,200,000.00": an amount in the company's currency, as the ledger keeps it. */
export function money(amount: number): string {
  return amount.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** The contact history's channel names as an agent says them. */
export function channelLabel(channel: string): string {
  const labels: Record<string, string> = { chat: "Chat", voice: "Voice call", video: "Video call",
    phone: "Phone", email: "E-mail", cobrowse: "Co-browse", callback: "Callback", sms: "SMS" };
  return labels[channel] ?? (channel ? channel.replace(/_/g, " ") : "Unknown channel");
}
