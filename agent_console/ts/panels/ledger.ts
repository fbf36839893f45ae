/**
 * The customer-ledger panel: search by name, phone or e-mail ("Search customers"), the chosen
 * customer's ledger (or the selected conversation's known customer, opened by itself), inline
 * edits with conflict handling, history and notes. Publishes the open customer to the
 * suggestions panel (`bus.customer`). Text only.
 */

import type { ConsoleBus } from "../shell/console_bus";
import { api, feedback } from "../shell/page";
import type { FocusedCustomer } from "../shell/customer_focus";
import { ledgerEditor } from "./ledger_edit";
import { contactsSection, historySection, notesSection, profileSection, purchasesSection } from "./ledger_view";
import { type Json, formatDateTime, isRecord, list, num, record, str } from "./wire";
import { h, uid } from "../../../signaling/client/dom";

const SEARCH_DELAY_MS = 250;
const QUERY_MIN = 2;

interface SearchRow {
  customer_id: string;
  name?: string;
  name_zh?: string;
  phone?: string;
  email?: string;
  district?: string;
  membership?: string;
}

function rowText(r: SearchRow): string {
  const name = [str(r.name), str(r.name_zh)].filter(Boolean).join(" ") || r.customer_id;
  return [name, str(r.phone), str(r.email), str(r.district)].filter(Boolean).join(" · ");
}

export function mountLedger(bus: ConsoleBus, el: HTMLElement): void {
  el.dataset["panel"] = "ledger";
  const focus = bus.customer;
  const notice = feedback("ledger");

  // -- search ----------------------------------------------------------------------------
  const queryId = uid("ledger-search");
  const query = h("input", { id: queryId, type: "search", autocomplete: "off", maxlength: "100",
                             "aria-describedby": `${queryId}-hint` });
  const results = h("ul", { class: "results", "data-testid": "customer-results", "aria-label": "Customers found" });
  const searchStatus = h("p", { class: "muted", role: "status", id: `${queryId}-hint` },
    "Name, phone number (or its last digits) or e-mail.");
  const form = h("form", { class: "ledger-search", role: "search", "aria-label": "Customers" },
    h("label", { for: queryId }, "Search customers"),
    h("div", { class: "inline" }, query, h("button", { type: "submit" }, "Search")));
  const card = h("div", { class: "ledger-card", "data-testid": "ledger" });
  card.hidden = true;
  el.append(form, searchStatus, results, notice.el, card);

  let searchTimer: ReturnType<typeof setTimeout> | undefined;
  let searchSeq = 0;
  const search = (): void => {
    clearTimeout(searchTimer);
    const q = query.value.trim();
    const mine = ++searchSeq;
    if (q.length < QUERY_MIN) {
      results.replaceChildren();
      searchStatus.textContent = q ? `Type at least ${QUERY_MIN} characters.` : "Name, phone number (or its last digits) or e-mail.";
      return;
    }
    searchStatus.textContent = "Searching…";
    void api<{ customers: SearchRow[] }>("GET", `/api/customers?q=${encodeURIComponent(q)}`).then((ack) => {
      if (mine !== searchSeq) return; // a newer search is on its way
      if (!ack.ok) {
        results.replaceChildren();
        searchStatus.textContent = ack.message;
        return;
      }
      const rows = list(ack.customers).filter(isRecord) as unknown as SearchRow[];
      searchStatus.textContent = rows.length ? `${rows.length} found.` : "No customer found.";
      results.replaceChildren(...rows.map((r) => {
        const choose = h("button", { type: "button", class: "link", "data-customer": r.customer_id }, rowText(r));
        choose.addEventListener("click", () => load(r.customer_id, "search", "", true));
        return h("li", { "data-testid": "customer-result" }, choose);
      }));
    });
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  query.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, SEARCH_DELAY_MS);
  });

  // -- the open customer -----------------------------------------------------------------
  let openId = "";
  let source: FocusedCustomer["source"] = "search";
  let loadSeq = 0;

  const render = (ledger: Json): void => {
    const customer = record(ledger["customer"]);
    const name = [str(customer["name"]), str(customer["name_zh"])].filter(Boolean).join(" ") || openId;
    const updated = num(ledger["updated_ms"]);
    const history = historySection(openId);
    const editor = ledgerEditor({
      customerId: openId, ledger, notice,
      // The form is rebuilt on both: focus goes to the customer's name, not to the page.
      saved: (fresh, message) => {
        render(fresh);
        notice.ok(message);
        card.querySelector<HTMLElement>("h3")?.focus();
      },
      reload: (message) => load(openId, source, message, true),
    });
    const headingId = uid("ledger-name");
    card.dataset["customer"] = openId;
    card.replaceChildren(
      h("h3", { id: headingId, tabindex: "-1", "data-testid": "ledger-name" }, name),
      h("p", { class: "hint", "data-testid": "ledger-meta" },
        `Customer ${openId} · ${source === "conversation" ? "the selected conversation's customer" : "found by search"}` +
        ` · version ${num(ledger["version"])}` +
        (updated ? `, last changed by ${str(ledger["updated_by"])} at ${formatDateTime(updated)}` : "")),
      profileSection(ledger),
      h("div", { class: "actions" }, editor.toggle, history.toggle),
      editor.el, history.el,
      purchasesSection(ledger), contactsSection(ledger), notesSection(ledger, openId) ?? "");
    card.setAttribute("aria-labelledby", headingId);
    card.hidden = false;
    focus.set({ id: openId, name: str(customer["name"]) || str(customer["name_zh"]), source });
  };

  const load = (customerId: string, from: FocusedCustomer["source"], message = "", moveFocus = false): void => {
    const mine = ++loadSeq;
    openId = customerId;
    source = from;
    notice.ok(message || "Opening the customer…");
    void api<{ ledger: Json }>("GET", `/api/customers/${encodeURIComponent(customerId)}/ledger`).then((ack) => {
      if (mine !== loadSeq) return; // another customer was opened meanwhile
      if (!ack.ok) {
        notice.error(`Cannot open customer ${customerId}: ${ack.message}`);
        return;
      }
      render(ack.ledger);
      if (!message) notice.clear();
      // Opened by hand: keyboard users land on what they chose.
      if (moveFocus) card.querySelector<HTMLElement>("h3")?.focus();
    });
  };

  // Only a newly selected conversation (or one whose customer became known) opens its
  // customer: updates of the same conversation leave a customer found by search open.
  let followed = "";
  bus.onSelect((conversation) => {
    const customer = conversation?.customer ?? "";
    const key = conversation === null ? "" : `${conversation.interaction}:${customer}`;
    if (key === followed) return;
    followed = key;
    if (customer && customer !== openId) load(customer, "conversation");
  });
}
