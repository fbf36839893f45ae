/**
 * The conversations as tabs (WAI-ARIA tabs: arrow keys, Home/End, roving tabindex): one tab
 * per held interaction with the visitor's name and an unread badge, one panel each (kept while
 * hidden, so drafts, scroll and the call survive switching). Owns the tabs and their panels.
 */

import type { Held } from "./state";
import { tabLabel } from "./state";
import { ConversationPanel } from "./panel";
import type { ShellContext } from "../shell/context";
import { h, uid } from "../../../signaling/client/dom";

interface Tab {
  button: HTMLButtonElement;
  label: HTMLElement;
  badge: HTMLElement;
  count: HTMLElement;
  unread: number;
  panel: ConversationPanel;
}

export interface ConversationTabs {
  /** Tabs and panels follow the desk; a conversation gone from it has ended for this agent. */
  sync(held: ReadonlyMap<string, Held>): void;
  show(interaction: string | null): void;
  panel(interaction: string): ConversationPanel | undefined;
  tick(): void;
}

export function mountConversationTabs(ctx: ShellContext, region: HTMLElement): ConversationTabs {
  const tabs = new Map<string, Tab>();
  const tablist = h("div", { role: "tablist", "aria-label": "Open conversations", class: "tabs" });
  const panels = h("div", { class: "tab-panels" });
  const empty = h("p", { class: "muted" }, "No conversations. Accepted offers open here.");
  region.append(tablist, empty, panels);
  let shown: string | null = null;

  const visible = (): boolean => document.visibilityState === "visible";

  const paintBadge = (tab: Tab): void => {
    tab.badge.hidden = tab.unread === 0;
    tab.count.textContent = String(tab.unread);
  };

  const create = (held: Held): Tab => {
    const tabId = uid("tab");
    const panelId = uid("panel");
    const label = h("span", { class: "tab-label" });
    const count = h("span", {});
    const badge = h("span", { class: "badge", "data-testid": "unread", hidden: true }, count,
      h("span", { class: "visually-hidden" }, " unread"));
    const button = h("button", { type: "button", role: "tab", id: tabId, "aria-controls": panelId,
                                 "aria-selected": "false", tabindex: "-1", "data-interaction": held.interaction },
      label, badge);
    const panel = new ConversationPanel(ctx, held, tabId, panelId, {
      seen: () => shown === held.interaction && visible(),
      onVisitorMessage: (ix) => {
        const tab = tabs.get(ix);
        if (tab === undefined || (shown === ix && visible())) return;
        tab.unread += 1;
        paintBadge(tab);
      },
    });
    panel.el.hidden = true;
    button.addEventListener("click", () => ctx.bus.select(held.interaction));
    return { button, label, badge, count, unread: 0, panel };
  };

  // Arrow keys move between tabs and select (automatic activation: panels are cheap to show).
  tablist.addEventListener("keydown", (event) => {
    const order = [...tabs.keys()];
    const at = shown === null ? -1 : order.indexOf(shown);
    let next = -1;
    if (event.key === "ArrowRight") next = (at + 1) % order.length;
    else if (event.key === "ArrowLeft") next = (at - 1 + order.length) % order.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = order.length - 1;
    const ix = order[next];
    if (ix === undefined) return;
    event.preventDefault();
    ctx.bus.select(ix);
    tabs.get(ix)?.button.focus();
  });

  // Coming back to the page reads the conversation on screen.
  document.addEventListener("visibilitychange", () => {
    if (!visible() || shown === null) return;
    const tab = tabs.get(shown);
    if (tab === undefined) return;
    tab.unread = 0;
    paintBadge(tab);
    tab.panel.chat.acknowledge();
  });

  const api: ConversationTabs = {
    sync(held) {
      for (const [ix, tab] of [...tabs]) {
        if (held.has(ix)) continue;
        const hadFocus = tab.panel.el.contains(document.activeElement) || document.activeElement === tab.button;
        tab.button.remove();
        tab.panel.dispose();
        tabs.delete(ix);
        if (shown === ix) shown = null;
        if (hadFocus) tablist.querySelector<HTMLElement>("[role=tab]")?.focus();
      }
      for (const [ix, item] of held) {
        let tab = tabs.get(ix);
        if (tab === undefined) {
          tab = create(item);
          tabs.set(ix, tab);
          tablist.append(tab.button);
          panels.append(tab.panel.el);
          void tab.panel.chat.sync();
        } else {
          tab.panel.update(item);
        }
        tab.label.textContent = tabLabel(item, (id) => ctx.queueName(id));
        tab.button.classList.toggle("wrap-up", item.state === "wrap_up");
      }
      empty.hidden = tabs.size > 0;
    },
    show(interaction) {
      shown = interaction !== null && tabs.has(interaction) ? interaction : null;
      for (const [ix, tab] of tabs) {
        const on = ix === shown;
        tab.button.setAttribute("aria-selected", String(on));
        tab.button.tabIndex = on ? 0 : -1;
        const appearing = on && tab.panel.el.hidden;
        tab.panel.el.hidden = !on;
        if (appearing) tab.panel.chatView.reveal();
        if (on) {
          tab.unread = 0;
          paintBadge(tab);
          tab.panel.chat.acknowledge();
        }
      }
      // Without a selection the first tab stays reachable by Tab.
      if (shown === null) {
        const first = tabs.values().next().value;
        if (first !== undefined) first.button.tabIndex = 0;
      }
    },
    panel: (interaction) => tabs.get(interaction)?.panel,
    tick() {
      for (const tab of tabs.values()) tab.panel.tick();
    },
  };
  return api;
}
