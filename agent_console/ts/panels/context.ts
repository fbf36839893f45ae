/**
 * The live-context panel: for the selected conversation, `visit.watch` on the agent socket
 * (again after every reconnect), then the visitor's trail live from `trail` pushes: current
 * page, struggle score and signals, what brought them (widget or invite/rule), the page they
 * asked from, and the last TRAIL_CAP trail events, newest first. Text only.
 */

import { callWithAck } from "../../../signaling/client/ack";
import type { Conversation, ConsoleBus } from "../shell/console_bus";
import { feedback } from "../shell/page";
import {
  TRAIL_CAP,
  VisitState,
  askedFrom,
  askedReason,
  originText,
  scoreText,
  signalSummary,
} from "./trail_format";
import { type Json, displayUrl, formatClock, str } from "./wire";
import { h } from "../../../signaling/client/dom";

const WATCH_TIMEOUT_MS = 10_000;

function fact(label: string, value: string, testid: string): HTMLElement[] {
  return [h("dt", {}, label), h("dd", { "data-testid": testid }, value)];
}

export function mountContext(bus: ConsoleBus, el: HTMLElement): void {
  el.dataset["panel"] = "context";
  const empty = h("p", { class: "muted", "data-testid": "context-empty" },
    "Select a conversation to see the visitor and their browsing trail.");
  const facts = h("dl", { class: "facts", "data-testid": "context-facts" });
  const trailNote = h("p", { class: "hint" }, `Newest first; the last ${TRAIL_CAP} steps.`);
  // Focusable, so keyboard users can scroll it.
  const trail = h("ol", { class: "trail", "data-testid": "trail", "aria-label": "Browsing trail", tabindex: "0" });
  const noTrail = h("p", { class: "muted", "data-testid": "trail-empty" }, "No browsing recorded yet.");
  const body = h("div", { class: "context-body" }, facts,
    h("h3", { id: "context-trail-title" }, "Browsing trail"), trailNote, noTrail, trail);
  body.hidden = true;
  const notice = feedback("context");
  el.append(empty, body, notice.el);

  let current: Conversation | null = null;
  let visit: VisitState | null = null;
  // Pushes that arrive while the watch ack is on its way: applied after its snapshot.
  let pending: unknown[] | null = null;
  let generation = 0;

  const renderFacts = (): void => {
    if (current === null) return;
    const context = current.context as Json;
    const rows: HTMLElement[] = [];
    const who = [current.name || "Anonymous visitor"];
    if (visit !== null && visit.visitor) {
      who.push(visit.returning ? "returning visitor" : "first visit");
      who.push(`${visit.pages} page${visit.pages === 1 ? "" : "s"} this visit`);
    }
    if (current.customer) who.push(`customer ${current.customer}`);
    rows.push(...fact("Visitor", who.join(" · "), "context-visitor"));
    rows.push(...fact("Came by", originText(context), "context-origin"));
    const asked = askedFrom(context);
    if (asked) rows.push(...fact("Asked from", asked, "context-asked"));
    const reason = askedReason(context);
    if (reason) rows.push(...fact("Their words", reason, "context-reason"));
    if (visit !== null && visit.visitor) {
      const page = visit.page.url ? `${visit.page.title ? `${visit.page.title} — ` : ""}${visit.page.url}` : "unknown";
      rows.push(...fact("Now on", page, "context-page"));
      if (visit.referrer || visit.landing) {
        const from = [visit.referrer ? `from ${visit.referrer}` : "", visit.landing ? `landed on ${displayUrl(visit.landing)}` : ""];
        rows.push(...fact("Arrived", from.filter(Boolean).join(", "), "context-arrived"));
      }
      const signals = signalSummary(visit.signals);
      rows.push(...fact("Struggle", `${scoreText(visit.score)}${signals ? ` — ${signals}` : ""}`, "context-score"));
    } else {
      const score = typeof context["score"] === "number" ? context["score"] : 0;
      rows.push(...fact("Struggle", `${scoreText(score)} when they asked`, "context-score"));
    }
    facts.replaceChildren(...rows);
  };

  const renderTrail = (): void => {
    const lines = visit?.trail.entries() ?? [];
    noTrail.hidden = lines.length > 0;
    trail.replaceChildren(...lines.map((line) => h("li",
      { class: line.struggle ? "struggle" : "", "data-testid": "trail-entry" },
      h("time", { datetime: line.at ? new Date(line.at).toISOString() : "" }, line.clock || formatClock(line.at)),
      h("span", { class: "kind" }, line.kind),
      h("span", { class: "text" }, line.text))));
  };

  const watch = (): void => {
    const conversation = current;
    generation += 1;
    const mine = generation;
    pending = null;
    if (conversation === null) return;
    if (!str((conversation.context as Json)["visitor"])) {
      notice.ok("No web visit for this conversation: nothing to follow live.");
      return;
    }
    if (!bus.socket.connected) {
      notice.ok("Waiting for the connection to follow the visitor live…");
      return; // the connect handler watches
    }
    pending = [];
    void callWithAck<Json>(bus.socket, "visit.watch", { interaction: conversation.interaction },
      WATCH_TIMEOUT_MS).then((ack) => {
      if (mine !== generation) return; // another conversation was selected meanwhile
      const early = pending ?? [];
      pending = null;
      if (!ack.ok) {
        notice.error(`Cannot follow this visitor: ${ack.message}`);
        return;
      }
      const state = new VisitState();
      state.applySnapshot(ack);
      for (const push of early) state.applyPush(push);
      visit = state;
      notice.clear();
      renderFacts();
      renderTrail();
    });
  };

  bus.socket.on("trail", (raw: unknown) => {
    try {
      if (pending !== null) {
        if (pending.length < TRAIL_CAP) pending.push(raw);
        return;
      }
      if (visit !== null && visit.applyPush(raw)) {
        renderFacts();
        renderTrail();
      }
    } catch (err) {
      console.error("engage: trail push failed", err);
    }
  });
  // A new connection is a new socket id: the server's watch room has to be joined again.
  bus.socket.on("connect", () => watch());

  bus.onSelect((conversation) => {
    const changed = conversation?.interaction !== current?.interaction;
    current = conversation;
    empty.hidden = conversation !== null;
    body.hidden = conversation === null;
    if (changed) {
      visit = null;
      notice.clear();
      renderTrail();
      watch();
    }
    renderFacts();
  });
}
