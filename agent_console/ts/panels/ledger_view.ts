/**
 * The read side of the ledger panel: identity and contacts, segment and membership, purchases
 * by business line, past contacts across channels (with transcript links), notes (with the
 * add-note form) and the revision history behind a "History" toggle. Text only.
 */

import { api, feedback } from "../shell/page";
import { channelLabel, changeText, fieldLabel, money, parseChanges, shownValue } from "./ledger_model";
import { type Json, formatDate, formatDateTime, isRecord, list, num, record, str, strings, timeMs } from "./wire";
import { h, uid } from "../../../signaling/client/dom";

const IDENTITY = ["name", "name_zh", "phone", "email", "address", "district", "preferred_language",
                  "contact_opt_out", "email_opt_out", "sms_opt_out"];
const SEGMENT = ["membership", "segment", "age_band", "income_band", "household_size", "origin_channel",
                 "created_at"];
const TRANSCRIPT_PATH = /^\/api\/interactions\/ix\d{10}\/transcript$/;

function facts(ledger: Json, fields: readonly string[], testid: string): HTMLElement {
  const customer = record(ledger["customer"]);
  const masked = new Set(strings(ledger["masked"]));
  const rows: HTMLElement[] = [];
  for (const field of fields) {
    if (!(field in customer)) continue; // hidden from this role
    let value = shownValue(customer[field]);
    if (field === "created_at") value = formatDate(timeMs(customer[field])) || value;
    rows.push(h("dt", {}, fieldLabel(field)),
      h("dd", { "data-field": field }, value, masked.has(field) ? h("span", { class: "muted" }, " (masked)") : null));
  }
  return h("dl", { class: "facts", "data-testid": testid }, ...rows);
}

/** Identity and contact data, then segment and membership. */
export function profileSection(ledger: Json): HTMLElement {
  return h("div", { class: "ledger-profile" },
    h("h4", {}, "Identity and contacts"), facts(ledger, IDENTITY, "ledger-identity"),
    h("h4", {}, "Segment and membership"), facts(ledger, SEGMENT, "ledger-segment"));
}

export function purchasesSection(ledger: Json): HTMLElement {
  const tx = record(ledger["transactions"]);
  const lines = list(tx["by_line"]).filter(isRecord);
  const el = h("div", { class: "ledger-purchases", "data-testid": "ledger-purchases" },
    h("h4", {}, "Purchases by business line"));
  if (!lines.length) {
    el.append(h("p", { class: "muted" }, "No purchases recorded."));
    return el;
  }
  el.append(h("p", { class: "hint" },
    `${num(tx["count"])} purchases, ${money(num(tx["total"]))} in total` +
    `${tx["truncated"] === true ? " (only the first ones counted)" : ""}.`));
  for (const line of lines) {
    const recent = list(line["recent"]).filter(isRecord);
    el.append(h("details", { class: "business-line" },
      h("summary", {}, `${str(line["business_line"]).replace(/_/g, " ")}: ` +
        `${num(line["count"])} purchase${num(line["count"]) === 1 ? "" : "s"}, ` +
        `${money(num(line["total"]))}, last ${formatDate(timeMs(line["last"])) || "—"}`),
      h("ul", {}, ...recent.map((t) => h("li", {},
        `${formatDate(timeMs(t["at"]))} · ${str(t["product"]) || str(t["sku"])} · ` +
        `${num(t["quantity"], 1)} × · ${money(num(t["amount"]))}`)))));
  }
  return el;
}

export function contactsSection(ledger: Json): HTMLElement {
  const rows = list(ledger["interactions"]).filter(isRecord);
  const el = h("div", { class: "ledger-contacts" }, h("h4", {}, "Past contacts"));
  if (!rows.length) {
    el.append(h("p", { class: "muted" }, "No earlier contacts."));
    return el;
  }
  el.append(h("ul", { class: "contacts", "data-testid": "ledger-contacts" }, ...rows.map((c) => {
    const agents = strings(c["agents"]).join(", ") || str(c["agent"]);
    const line = [formatDateTime(timeMs(c["started_at"])) || "time unknown", channelLabel(str(c["channel"])),
                  str(c["queue"]), agents, str(c["disposition"]) || (c["ended_at"] ? "" : "open")]
      .filter(Boolean).join(" · ");
    const transcript = str(c["transcript"]);
    return h("li", { "data-testid": "ledger-contact" },
      h("span", {}, line),
      str(c["summary"]) ? h("span", { class: "muted" }, ` — ${str(c["summary"], "", 300)}`) : null,
      TRANSCRIPT_PATH.test(transcript) ? " " : null,
      TRANSCRIPT_PATH.test(transcript)
        ? h("a", { href: transcript, target: "_blank", rel: "noopener", class: "transcript" },
          `Transcript of ${str(c["id"])}`)
        : null);
  })));
  return el;
}

function noteItem(note: Json): HTMLElement {
  return h("li", { "data-testid": "ledger-note" },
    h("p", { class: "note-text" }, str(note["text"], "", 4000)),
    h("p", { class: "meta" }, `${str(note["by"])} · ${formatDateTime(num(note["at_ms"]))}`));
}

/** The notes, newest first, and the form to add one (posted at once, never edited). */
export function notesSection(ledger: Json, customerId: string): HTMLElement | null {
  if (!Array.isArray(ledger["notes"])) return null; // not for this role
  const notes = list(ledger["notes"]).filter(isRecord);
  const items = h("ul", { class: "notes", "data-testid": "ledger-notes" }, ...notes.map(noteItem));
  const none = h("p", { class: "muted" }, "No notes yet.");
  none.hidden = notes.length > 0;
  const inputId = uid("ledger-note");
  const text = h("textarea", { id: inputId, rows: "2", maxlength: "4000" });
  const add = h("button", { type: "submit" }, "Add note");
  const status = feedback(uid("ledger-note-feedback"));
  const form = h("form", { class: "stack note-form" },
    h("label", { for: inputId }, "New note"), text, h("div", { class: "actions" }, add), status.el);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!text.value.trim()) {
      status.error("Write the note first.");
      text.focus();
      return;
    }
    add.disabled = true;
    void api<{ note: Json }>("POST", `/api/customers/${encodeURIComponent(customerId)}/notes`,
      { text: text.value }).then((ack) => {
      add.disabled = false;
      if (!ack.ok) {
        status.error(ack.message);
        return;
      }
      items.prepend(noteItem(ack.note));
      none.hidden = true;
      text.value = "";
      status.ok("Note added.");
    });
  });
  return h("div", { class: "ledger-notes" }, h("h4", {}, "Notes"), form, none, items);
}

export interface History {
  toggle: HTMLButtonElement;
  el: HTMLElement;
  /** Reloads the list when it is open (after a save). */
  refresh(): void;
}

/** The "History" toggle and the revision list it shows (who, when, field, old → new). */
export function historySection(customerId: string): History {
  const regionId = uid("ledger-history");
  const toggle = h("button", { type: "button", class: "secondary", "aria-expanded": "false",
                               "aria-controls": regionId }, "History");
  const body = h("tbody", { "data-testid": "ledger-revisions" });
  const status = h("p", { class: "muted" });
  const el = h("div", { id: regionId, class: "ledger-history" }, h("h4", {}, "Change history"), status,
    h("div", { class: "table-wrap" }, h("table", { class: "data" },
      h("thead", {}, h("tr", {}, ...["When", "Who", "Field", "Change"].map((t) => h("th", { scope: "col" }, t)))),
      body)));
  el.hidden = true;
  const load = (): void => {
    status.textContent = "Loading…";
    void api<{ revisions: unknown[] }>("GET", `/api/customers/${encodeURIComponent(customerId)}/revisions`)
      .then((ack) => {
        if (!ack.ok) {
          status.textContent = ack.message;
          return;
        }
        const rows = parseChanges(ack.revisions);
        status.textContent = rows.length ? "" : "No changes recorded yet.";
        body.replaceChildren(...rows.map((r) => h("tr", { "data-testid": "ledger-revision" },
          h("td", {}, formatDateTime(r.atMs)), h("td", {}, r.by), h("td", {}, fieldLabel(r.field)),
          h("td", {}, changeText(r)))));
      });
  };
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    el.hidden = !open;
    if (open) load();
  });
  return { toggle, el, refresh: () => { if (!el.hidden) load(); } };
}
