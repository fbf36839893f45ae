/**
 * The edit side of the ledger panel: an inline form of the fields this role may edit (from the
 * server's field specs; masked values are never offered), a versioned save, and on 409 the
 * conflict view - their change (who, when, old → new) next to yours - with "Keep mine" (save
 * again on the new version) and "Take theirs" (reload). Text only.
 */

import { type Feedback } from "../shell/page";
import { send } from "./http";
import {
  type Conflict,
  type FieldSpec,
  type FieldValue,
  type MyChange,
  changeText,
  changesOf,
  conflictOf,
  editableFields,
  fieldLabel,
  keepMine,
  parseInput,
  parseSpecs,
  shownValue,
} from "./ledger_model";
import { type Json, formatDateTime, num, record, str } from "./wire";
import { h, uid } from "../../../signaling/client/dom";

const CHOICE_LABELS: Record<string, string> = { zh: "Chinese (zh)", en: "English (en)" };

export interface EditorHost {
  customerId: string;
  ledger: Json;
  notice: Feedback;
  /** The server saved: show its answer. */
  saved(ledger: Json, message: string): void;
  /** Drop the draft and show the customer as stored now. */
  reload(message: string): void;
}

interface Control {
  field: string;
  spec: FieldSpec;
  input: HTMLInputElement | HTMLSelectElement;
  error: HTMLElement;
}

function control(field: string, spec: FieldSpec, value: unknown): Control {
  const id = uid(`ledger-edit-${field}`);
  const errorId = `${id}-error`;
  const error = h("span", { class: "field-error", id: errorId });
  let input: HTMLInputElement | HTMLSelectElement;
  if (spec.type === "bool") {
    input = h("input", { id, type: "checkbox", name: field });
    input.checked = value === true;
  } else if (spec.type === "choice") {
    const blank = spec.required ? [] : [h("option", { value: "" }, "—")];
    input = h("select", { id, name: field }, ...blank,
      ...spec.choices.map((c) => h("option", { value: c }, CHOICE_LABELS[c] ?? c)));
    input.value = typeof value === "string" ? value : "";
  } else {
    const type = spec.type === "int" ? "number" : spec.type;
    input = h("input", { id, type, name: field, ...(spec.max && spec.type !== "int" ? { maxlength: String(spec.max) } : {}),
                         ...(spec.type === "int" ? { min: String(spec.min), max: String(spec.max) } : {}) });
    input.value = value === null || value === undefined ? "" : String(value);
  }
  input.setAttribute("aria-describedby", errorId);
  return { field, spec, input, error };
}

function row(c: Control): HTMLElement {
  const label = h("label", { for: c.input.id }, fieldLabel(c.field));
  return c.spec.type === "bool"
    ? h("div", { class: "field check" }, c.input, label, c.error)
    : h("div", { class: "field" }, label, c.input, c.error);
}

function theirText(c: { old: unknown; new: unknown; redacted: boolean; by: string; atMs: number }): string {
  return `${changeText(c)} (by ${c.by}${c.atMs ? ` at ${formatDateTime(c.atMs)}` : ""})`;
}

/** The "Edit details" toggle and the form (with its conflict view) it opens. */
export function ledgerEditor(host: EditorHost): { toggle: HTMLButtonElement; el: HTMLElement } {
  const fields = editableFields(host.ledger);
  const specs = parseSpecs(host.ledger["fields"]);
  const original = record(host.ledger["customer"]);
  const regionId = uid("ledger-edit");
  const toggle = h("button", { type: "button", class: "secondary", "aria-expanded": "false",
                               "aria-controls": regionId }, "Edit details");
  const el = h("div", { id: regionId, class: "ledger-edit" });
  el.hidden = true;
  if (!fields.length) {
    toggle.hidden = true;
    return { toggle, el };
  }
  let version = num(host.ledger["version"]);
  const controls = fields.map((f) => control(f, specs.get(f) as FieldSpec, original[f]));
  const save = h("button", { type: "submit" }, "Save changes");
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const form = h("form", { class: "stack", "aria-label": "Edit customer details", "data-testid": "ledger-edit-form" },
    ...controls.map(row), h("div", { class: "actions" }, save, cancel));
  const conflictSlot = h("div", {});
  el.append(form, conflictSlot);

  const open = (show: boolean): void => {
    toggle.setAttribute("aria-expanded", String(show));
    el.hidden = !show;
    if (show) controls[0]?.input.focus();
  };
  toggle.addEventListener("click", () => open(toggle.getAttribute("aria-expanded") !== "true"));
  cancel.addEventListener("click", () => {
    host.reload("Edit cancelled.");
  });

  const busy = (on: boolean): void => {
    for (const b of el.querySelectorAll("button")) b.disabled = on;
  };

  const submit = async (changes: Record<string, FieldValue>, onVersion: number,
                        mine: MyChange[]): Promise<void> => {
    busy(true);
    const answer = await send("PATCH", `/api/customers/${encodeURIComponent(host.customerId)}`,
      { version: onVersion, changes });
    busy(false);
    if (answer.ok) {
      host.saved(record(answer.body["ledger"]), conflictSlot.childElementCount ? "Saved your changes over theirs." : "Saved.");
      return;
    }
    if (answer.status === 409 && answer.code === "conflict") {
      showConflict(conflictOf(mine, answer.body), mine, answer.message);
      return;
    }
    const field = str(answer.body["field"]);
    const bad = controls.find((c) => c.field === field);
    if (bad !== undefined) {
      bad.input.setAttribute("aria-invalid", "true");
      bad.error.textContent = answer.message;
      bad.input.focus();
    }
    host.notice.error(answer.message);
  };

  const showConflict = (conflict: Conflict, mine: MyChange[], message: string): void => {
    version = conflict.currentVersion;
    form.hidden = true;
    const headingId = uid("ledger-conflict");
    const heading = h("h4", { id: headingId, tabindex: "-1" }, "Someone else saved changes first");
    const keep = h("button", { type: "button" }, "Keep mine");
    const take = h("button", { type: "button", class: "secondary" }, "Take theirs");
    const clashes = conflict.clashes.map(fieldLabel);
    conflictSlot.replaceChildren(h("div", { class: "conflict", role: "group", "aria-labelledby": headingId,
                                             "data-testid": "ledger-conflict" },
      heading,
      h("p", {}, message || "This customer was changed since you opened it."),
      h("p", { class: "hint" }, clashes.length
        ? `Keeping yours overwrites their ${clashes.join(", ")}.`
        : "Your changes and theirs touch different fields: keeping yours keeps theirs too."),
      h("div", { class: "table-wrap" }, h("table", { class: "data" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "Their change"),
          h("th", { scope: "col" }, "Your change"))),
        h("tbody", {}, ...conflict.rows.map((r) => h("tr", {
          class: r.clash ? "clash" : "", "data-testid": "conflict-row", "data-field": r.field },
          h("th", { scope: "row" }, r.label),
          h("td", { "data-testid": "conflict-theirs" }, r.theirs.length ? r.theirs.map(theirText).join("; ") : "—"),
          h("td", { "data-testid": "conflict-mine" },
            r.mine ? `${shownValue(r.mine.old)} → ${shownValue(r.mine.new)}${r.agree ? " (same as theirs)" : ""}` : "—")))))),
      h("div", { class: "actions" }, keep, take)));
    keep.addEventListener("click", () => {
      const again = keepMine(mine, conflict);
      void submit(again.changes, again.version, mine);
    });
    take.addEventListener("click", () => host.reload("Took their changes; your edit was dropped."));
    host.notice.error("Not saved: someone else changed this customer first.");
    heading.focus();
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    host.notice.clear();
    const draft: Record<string, FieldValue> = {};
    let firstBad: Control | null = null;
    for (const c of controls) {
      const raw = c.input instanceof HTMLInputElement && c.input.type === "checkbox" ? c.input.checked : c.input.value;
      const parsed = parseInput(c.spec, raw);
      c.input.removeAttribute("aria-invalid");
      c.error.textContent = "";
      if ("error" in parsed) {
        c.input.setAttribute("aria-invalid", "true");
        c.error.textContent = parsed.error;
        firstBad ??= c;
        continue;
      }
      draft[c.field] = parsed.value;
    }
    if (firstBad !== null) {
      host.notice.error(`Check ${fieldLabel(firstBad.field)}: ${firstBad.error.textContent ?? ""}`);
      firstBad.input.focus();
      return;
    }
    const mine = changesOf(original, draft);
    if (!mine.length) {
      host.notice.ok("Nothing changed.");
      return;
    }
    void submit(Object.fromEntries(mine.map((c) => [c.field, c.new])), version, mine);
  });
  return { toggle, el };
}
