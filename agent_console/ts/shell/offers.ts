/**
 * Incoming offers and consultation requests: one card each with who, where from, a countdown
 * to the offer's deadline, Accept and Decline; a ring and a desktop notification while any is
 * open, and a live announcement for each new one. Owns the cards and their timers.
 */

import type { Offer } from "../conversation/state";
import { DesktopNotifier, Ringer } from "./alerts";
import type { ShellContext } from "./context";
import { agentCall, parseContext } from "../../../signaling/client/agent";
import {
  channelLabel,
  formatCountdown,
  fractionLeft,
  profileLine,
  visitorSummary,
} from "./text";
import { feedback } from "./page";
import { h, uid } from "../../../signaling/client/dom";

interface Card {
  offer: Offer;
  el: HTMLElement;
  countdown: HTMLElement;
  bar: HTMLElement;
  totalMs: number;
  buttons: HTMLButtonElement[];
}

export interface OfferList {
  sync(offers: ReadonlyMap<string, Offer>): void;
  /** Counts down every card; lapsed ones leave. */
  tick(): void;
}

function fact(label: string, value: string): Node[] {
  return value ? [h("dt", {}, label), h("dd", {}, value)] : [];
}

export function mountOffers(ctx: ShellContext, region: HTMLElement,
                            onAccepted: (interaction: string) => void): OfferList {
  const cards = new Map<string, Card>();
  const list = h("ul", { class: "offer-list", "aria-label": "Offers waiting for you" });
  const empty = h("p", { class: "muted" }, "No offers right now.");
  // New offers are read out at once; countdowns (role=timer) are not.
  const live = h("p", { class: "visually-hidden", "aria-live": "assertive", "data-testid": "offer-announcer" });
  const notifier = new DesktopNotifier();
  const ringer = new Ringer((on) => {
    region.dataset["ringing"] = String(on);
  });
  region.dataset["ringing"] = "false";
  region.append(live, empty, list);

  const describe = (offer: Offer): { title: string; who: string } => {
    const who = visitorSummary(offer.context, offer.profile).name || "A visitor";
    const what = offer.kind === "consult" ? `Consultation from ${offer.fromAgent}` : `${channelLabel(offer.channel)} offer`;
    return { title: `${what} · ${ctx.queueName(offer.queue)}`, who };
  };

  const act = async (card: Card, accept: boolean, status: ReturnType<typeof feedback>): Promise<void> => {
    const { interaction, kind } = card.offer;
    for (const b of card.buttons) b.disabled = true;
    const socket = ctx.bus.socket;
    const ack = accept
      ? await agentCall(socket, kind === "consult" ? "acd.consult_accept" : "acd.accept", { interaction })
      : await agentCall(socket, kind === "consult" ? "acd.consult_cancel" : "acd.decline", { interaction });
    if (ack.ok) {
      if (!accept) ctx.dispatch({ type: "offer_gone", interaction });
      else if (kind === "consult") ctx.dispatch({ type: "consult_joined", interaction });
      else {
        const reply = ack as Record<string, unknown>;
        ctx.dispatch({ type: "accepted", interaction, reply: {
          queue: String(reply["queue"] ?? card.offer.queue), channel: String(reply["channel"] ?? card.offer.channel),
          customer: String(reply["customer"] ?? card.offer.customer),
          context: reply["context"] === undefined ? card.offer.context : parseContext(reply["context"]) } });
      }
      if (accept) onAccepted(interaction);
      return;
    }
    for (const b of card.buttons) b.disabled = false;
    if (ack.code === "offer_gone" || ack.code === "not_offered_to_you" || ack.code === "no_consult") {
      ctx.bus.notice.error(ack.message);
      ctx.dispatch({ type: "offer_gone", interaction });
    } else {
      status.error(ack.message);
    }
  };

  const create = (offer: Offer): Card => {
    const { title, who } = describe(offer);
    const summary = visitorSummary(offer.context, offer.profile);
    const titleId = uid("offer-title");
    const countdown = h("p", { class: "countdown", role: "timer", "data-testid": "offer-countdown",
                               "aria-label": "Time left to answer" });
    const bar = h("span", { class: "offer-bar-fill" });
    const accept = h("button", { type: "button", class: "accept" }, "Accept");
    const decline = h("button", { type: "button", class: "secondary decline" }, "Decline");
    const status = feedback(uid("offer"));
    const page = summary.pageTitle && summary.pageUrl ? `${summary.pageTitle} — ${summary.pageUrl}`
      : summary.pageTitle || summary.pageUrl;
    const profile = offer.profile !== null
      ? [String(offer.profile["name"] ?? ""), profileLine(offer.profile)].filter(Boolean).join(" · ") : "";
    const el = h("li", { class: `offer-card offer-${offer.kind}`, "data-testid": "offer",
                         "data-interaction": offer.interaction, role: "group", "aria-labelledby": titleId },
      h("div", { class: "offer-head" }, h("h3", { id: titleId }, title), countdown),
      h("div", { class: "offer-bar", "aria-hidden": "true" }, bar),
      h("dl", { class: "offer-facts" },
        ...fact("Visitor", who), ...fact("Customer", profile), ...fact("Page", page),
        ...fact("Origin", summary.origin), ...fact("Asked about", summary.reason),
        ...fact("Asked by", offer.kind === "consult" ? offer.fromAgent : "")),
      h("div", { class: "actions" }, accept, decline), status.el);
    const queueMs = (ctx.queues.get(offer.queue)?.offerTimeoutSeconds ?? 0) * 1000;
    const card: Card = { offer, el, countdown, bar, buttons: [accept, decline],
                         totalMs: queueMs > 0 ? queueMs : Math.max(1, ctx.clock.until(offer.deadlineMs)) };
    accept.addEventListener("click", () => void act(card, true, status));
    decline.addEventListener("click", () => void act(card, false, status));
    return card;
  };

  const paint = (card: Card): boolean => {
    if (card.offer.deadlineMs <= 0) {
      card.countdown.textContent = "";
      return true;
    }
    const left = ctx.clock.until(card.offer.deadlineMs);
    card.countdown.textContent = formatCountdown(left);
    card.el.classList.toggle("urgent", left <= 5000);
    card.bar.style.width = `${(fractionLeft(left, card.totalMs) * 100).toFixed(1)}%`;
    return left > 0;
  };

  const remove = (ix: string): void => {
    const card = cards.get(ix);
    if (card === undefined) return;
    const hadFocus = card.el.contains(document.activeElement);
    card.el.remove();
    cards.delete(ix);
    notifier.close(ix);
    if (hadFocus) {
      // Keep keyboard users in the list: the next offer, else the section heading.
      const next = list.querySelector<HTMLButtonElement>("button.accept");
      const heading = region.querySelector<HTMLElement>("h2");
      if (next !== null) next.focus();
      else if (heading !== null) {
        heading.tabIndex = -1;
        heading.focus();
      }
    }
  };

  return {
    sync(offers) {
      for (const ix of [...cards.keys()]) if (!offers.has(ix)) remove(ix);
      for (const [ix, offer] of offers) {
        const known = cards.get(ix);
        if (known !== undefined) {
          known.offer = offer;
          continue;
        }
        const card = create(offer);
        cards.set(ix, card);
        list.append(card.el);
        paint(card);
        const { title, who } = describe(offer);
        live.textContent = `New ${title}: ${who}.`;
        notifier.notify(ix, title, who);
      }
      empty.hidden = cards.size > 0;
      ringer.set(cards.size > 0);
    },
    tick() {
      // Lapsed offers leave now; the ACD's offer_revoked (its own timer) follows.
      const lapsed = [...cards].filter(([, card]) => !paint(card)).map(([ix]) => ix);
      for (const ix of lapsed) ctx.dispatch({ type: "offer_gone", interaction: ix });
    },
  };
}
