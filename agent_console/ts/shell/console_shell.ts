/**
 * The console shell: agent state selector, incoming offers, conversation tabs with chat,
 * wrap-up and transfer, kept in step with the ACD by pushes and rebuilt from `acd.status` +
 * `chat.sync` on every (re)connect. Owns the desk (conversation/state.ts) and the bus entries.
 */

import type { ConsoleBus } from "./console_bus";
import { type Action, type Desk, EMPTY_DESK, reduce } from "../conversation/state";
import { busConversation } from "../conversation/panel";
import { mountConversationTabs } from "../conversation/tabs";
import { type ShellContext } from "./context";
import { mountOffers } from "./offers";
import { DesktopNotifier } from "./alerts";
import {
  type AgentPushes,
  FALLBACK_DISPOSITIONS,
  agentCall,
  onAgentPush,
  parseAgentView,
} from "../../../signaling/client/agent";
import { parseQueues } from "./staff_lists";
import { mountStateSelector } from "./agent_state";
import { ServerClock } from "./text";
import { api } from "./page";
import { browserStorage } from "../../../signaling/client/dom";

export interface ShellRegions {
  /** Where the state selector goes (inside the "Your session" panel). */
  state: HTMLElement;
  /** Incoming offers. */
  offers: HTMLElement;
  /** Tabs and the selected conversation (chat, call panel, wrap-up, transfer). */
  conversations: HTMLElement;
}

const SELECTED_KEY = "engage.console.selected";
const TICK_MS = 250;

export function mountShell(bus: ConsoleBus, regions: ShellRegions): void {
  const socket = bus.socket;
  const session = browserStorage("session");
  let desk: Desk = EMPTY_DESK;
  // Actions taken while an `acd.status` is in flight: replayed over its (older) snapshot.
  let replay: Action[] | null = null;
  let ticker: ReturnType<typeof setInterval> | undefined;
  const onBus = new Map<string, string>();

  const ctx: ShellContext = {
    bus, clock: new ServerClock(), queues: new Map(), dispositions: [...FALLBACK_DISPOSITIONS],
    storage: browserStorage("local"),
    desk: () => desk,
    dispatch: (action) => {
      replay?.push(action);
      desk = reduce(desk, action);
      render();
    },
    queueName: (id) => ctx.queues.get(id)?.name ?? id,
    refresh: () => void refresh(),
  };

  const state = mountStateSelector(ctx);
  regions.state.append(state.el, new DesktopNotifier().control());
  const tabs = mountConversationTabs(ctx, regions.conversations);
  const offers = mountOffers(ctx, regions.offers, (ix) => {
    bus.select(ix);
    tabs.panel(ix)?.focusComposer();
  });

  bus.onSelect((selected) => {
    tabs.show(selected?.interaction ?? null);
    try {
      if (selected !== null) session?.setItem(SELECTED_KEY, selected.interaction);
    } catch {
      // storage full or blocked: the selection is simply not remembered
    }
  });
  bus.insertIntoChat = (interaction, text) => {
    if (tabs.panel(interaction) === undefined) return;
    bus.select(interaction);
    tabs.panel(interaction)?.insert(text);
  };

  function render(): void {
    state.show(desk.state, desk.reason);
    offers.sync(desk.offers);
    tabs.sync(desk.held);
    syncBus();
    const timed = desk.offers.size > 0 || [...desk.held.values()].some((h) => h.state === "wrap_up");
    if (timed && ticker === undefined) ticker = setInterval(tick, TICK_MS);
    if (!timed && ticker !== undefined) {
      clearInterval(ticker);
      ticker = undefined;
    }
  }

  function tick(): void {
    offers.tick();
    tabs.tick();
  }

  /** Panels see every held conversation; only real changes reach them. */
  function syncBus(): void {
    for (const ix of [...onBus.keys()]) {
      if (!desk.held.has(ix)) {
        onBus.delete(ix);
        bus.remove(ix);
      }
    }
    for (const [ix, held] of desk.held) {
      const conversation = busConversation(held);
      const signature = JSON.stringify(conversation);
      if (onBus.get(ix) !== signature) {
        onBus.set(ix, signature);
        bus.put(conversation);
      }
    }
    if (bus.selected() === null && desk.held.size > 0) {
      let remembered: string | null = null;
      try {
        remembered = session?.getItem(SELECTED_KEY) ?? null;
      } catch {
        remembered = null;
      }
      bus.select(remembered !== null && desk.held.has(remembered) ? remembered : desk.held.keys().next().value ?? null);
    }
  }

  /** One refresh at a time (each keeps its own replay list); a request meanwhile runs after. */
  let refreshing: Promise<void> | null = null;
  let again = false;
  function refresh(): Promise<void> {
    if (refreshing !== null) {
      again = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        again = false;
        await refreshOnce();
      } while (again);
    })().finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  /** After every (re)connect and page load: the ACD's view, then each chat from its last seq. */
  async function refreshOnce(): Promise<void> {
    if (!socket.connected) return;
    const before = new Set(desk.held.keys());
    replay = [];
    const [status, queues] = await Promise.all([agentCall(socket, "acd.status", {}), api("GET", "/api/queues")]);
    const later = replay;
    replay = null;
    if (queues.ok) for (const [id, q] of parseQueues(queues)) ctx.queues.set(id, q);
    if (!status.ok) {
      bus.notice.error(`Could not load your work: ${status.message}`);
      return;
    }
    const view = parseAgentView(status);
    ctx.clock.observe(view.server_ms);
    ctx.dispositions = view.dispositions;
    desk = reduce(desk, { type: "view", view, me: bus.username });
    for (const action of later) desk = reduce(desk, action);
    render();
    // New tabs synced themselves from 0; the ones kept catch up from their last seq and
    // send what waited in their outbox.
    for (const ix of before) void tabs.panel(ix)?.chat.sync();
  }

  // -- pushes -----------------------------------------------------------------------------------
  const push = <E extends keyof AgentPushes>(event: E, handler: (p: AgentPushes[E]) => void): void =>
    onAgentPush(socket, event, handler);

  push("offer", (p) => {
    ctx.clock.observe(p.server_ms);
    ctx.dispatch({ type: "offer", push: p });
  });
  push("consult_offer", (p) => {
    ctx.clock.observe(p.server_ms);
    ctx.dispatch({ type: "consult_offer", push: p });
  });
  push("offer_revoked", (p) => ctx.dispatch({ type: "offer_gone", interaction: p.interaction }));
  push("agent_state", (p) => ctx.dispatch({ type: "agent_state", state: p.state, reason: p.reason }));
  push("wrap_up", (p) => {
    ctx.clock.observe(p.server_ms);
    ctx.dispatch({ type: "wrap_up", interaction: p.interaction, deadlineMs: p.deadline_ms, nowMs: ctx.clock.now() });
  });
  push("closed", (p) => {
    const held = desk.held.get(p.interaction);
    if (held !== undefined && !p.disposition && held.state === "wrap_up") {
      bus.notice.ok(`The wrap-up time of ${held.name || "a conversation"} ran out; it is closed.`);
    }
    ctx.dispatch({ type: "closed", interaction: p.interaction });
  });
  push("transferred", (p) => ctx.dispatch({ type: "transferred", interaction: p.interaction }));
  push("consult_accepted", (p) => ctx.dispatch({ type: "consult_accepted", interaction: p.interaction, agent: p.agent }));
  push("consult_cancelled", (p) => {
    const held = desk.held.get(p.interaction);
    if (held?.role === "owner" && held.consult !== null) {
      bus.notice.ok(`The consultation with ${held.consult.agent} ended; the conversation stays with you.`);
    }
    ctx.dispatch({ type: "consult_cancelled", interaction: p.interaction });
  });
  push("transfer_completed", (p) => {
    if (!desk.held.has(p.interaction)) {
      void refresh();  // handed over before this console saw the consultation: ask the ACD
      return;
    }
    bus.notice.ok(`${p.from_agent} handed the conversation over to you.`);
    ctx.dispatch({ type: "transfer_completed", interaction: p.interaction });
  });
  push("chat.message", (m) => tabs.panel(m.interaction)?.chat.onMessage(m));
  push("chat.typing", (t) => tabs.panel(t.interaction)?.chat.onTyping(t));
  push("chat.receipt", (r) => tabs.panel(r.interaction)?.chat.onReceipt(r));

  socket.on("connect", () => void refresh());
  if (socket.connected) void refresh();
  render();
}
