/**
 * The suggestions panel: next-best offers for the customer the agent looks at (the selected
 * conversation's known customer, or the one opened in the ledger): product, score and the
 * reason to say; why there are none when there are none; Offered / Accepted / Declined
 * recorded through the feedback API and shown as recorded. Text only.
 */

import type { ConsoleBus } from "../shell/console_bus";
import { api, feedback } from "../shell/page";
import {
  NOTHING_RECORDED,
  OUTCOMES,
  type Outcome,
  type Recorded,
  type Suggestion,
  isRecorded,
  outcomeLabel,
  parseSuggestions,
  recordedText,
  scorePercent,
  withRecorded,
} from "./suggestion_state";
import type { Json } from "./wire";
import { h } from "../../../signaling/client/dom";

export function mountSuggestions(bus: ConsoleBus, el: HTMLElement): void {
  el.dataset["panel"] = "suggestions";
  const who = h("p", { class: "hint", "data-testid": "suggestions-for" });
  const empty = h("p", { class: "muted", "data-testid": "suggestions-empty" },
    "Select a conversation with a known customer, or open a customer, to see what to offer.");
  const items = h("ol", { class: "suggestions", "data-testid": "suggestions" });
  const notice = feedback("suggestions");
  el.append(who, empty, items, notice.el);

  let customer = "";
  let loadSeq = 0;

  const card = (s: Suggestion, start: Recorded): HTMLElement => {
    let state = start;
    const status = h("p", { class: "recorded", role: "status", "data-testid": "suggestion-recorded" });
    const buttons = new Map<Outcome, HTMLButtonElement>();
    const show = (): void => {
      status.textContent = recordedText(state);
      for (const [o, b] of buttons) b.setAttribute("aria-pressed", String(isRecorded(state, o)));
    };
    for (const o of OUTCOMES) {
      const button = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, outcomeLabel(o));
      button.addEventListener("click", () => {
        for (const b of buttons.values()) b.disabled = true;
        const forCustomer = customer;
        void api<{ feedback: Json }>("POST", "/api/suggestions/feedback",
          { customer: forCustomer, product: s.product, outcome: o }).then((ack) => {
          for (const b of buttons.values()) b.disabled = false;
          if (forCustomer !== customer) return;
          if (!ack.ok) {
            notice.error(`Not recorded: ${ack.message}`);
            return;
          }
          state = withRecorded(state, ack.feedback);
          notice.clear();
          show();
        });
      });
      buttons.set(o, button);
    }
    const titleId = `suggestion-${s.product.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    show();
    return h("li", { class: "suggestion", "data-testid": "suggestion", "data-product": s.product,
                     "aria-labelledby": titleId },
      h("p", { class: "suggestion-title" },
        h("strong", { id: titleId }, s.name), h("span", { class: "score" }, ` · ${scorePercent(s.score)} likely`)),
      h("p", { class: "reason", "data-testid": "suggestion-reason" }, s.reason || "No reason given."),
      h("div", { class: "actions", role: "group", "aria-label": `Outcome of offering ${s.name}` }, ...buttons.values()),
      status);
  };

  const load = (id: string, name: string): void => {
    customer = id;
    const mine = ++loadSeq;
    items.replaceChildren();
    notice.clear();
    if (!id) {
      who.textContent = "";
      empty.hidden = false;
      empty.textContent = "Select a conversation with a known customer, or open a customer, to see what to offer.";
      return;
    }
    who.textContent = `For ${name || "customer"} (${id})`;
    empty.hidden = false;
    empty.textContent = "Loading suggestions…";
    void api<Json>("GET", `/api/customers/${encodeURIComponent(id)}/suggestions`).then((ack) => {
      if (mine !== loadSeq) return;
      if (!ack.ok) {
        empty.textContent = `No suggestions: ${ack.message}`;
        return;
      }
      const view = parseSuggestions(ack);
      if (view.source) who.textContent = `For ${name || "customer"} (${id}) · ${view.source}`;
      empty.hidden = view.suggestions.length > 0;
      empty.textContent = view.empty;
      items.replaceChildren(...view.suggestions.map((s) => card(s, view.recorded.get(s.product) ?? NOTHING_RECORDED)));
    });
  };

  // The ledger opens the selected conversation's customer too; following the selection here as
  // well keeps this panel right even before (or without) the ledger's answer.
  let followed = "";
  bus.onSelect((conversation) => {
    const id = conversation?.customer ?? "";
    const key = conversation === null ? "" : `${conversation.interaction}:${id}`;
    if (key === followed) return;
    followed = key;
    if (id && id !== customer) load(id, conversation?.name ?? "");
  });
  bus.customer.on((focused) => {
    if (focused !== null && focused.id !== customer) load(focused.id, focused.name);
  });
}
