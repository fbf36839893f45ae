/**
 * One conversation's tab panel: who and where from, the chat, the call panel (while the agent
 * is connected to the visitor), End conversation / Transfer / consultation controls, and the
 * wrap-up form. Owns the chat session and the call panel of that conversation.
 */

import { createCallPanel, type CallPanel } from "./call_panel";
import { type AgentChat, createAgentChat } from "./chat";
import type { ChatController } from "../../../signaling/client/chat_controller";
import type { ChatView } from "./chat_view";
import type { Held } from "./state";
import { tabLabel } from "./state";
import { createTransfer } from "./transfer";
import { createWrapUp, type WrapUpForm } from "./wrapup";
import type { Conversation } from "../shell/console_bus";
import type { ShellContext } from "../shell/context";
import { agentCall } from "../../../signaling/client/agent";
import { channelLabel, visitorSummary } from "../shell/text";
import type { ChatMessage } from "../../../signaling/client/visitor";
import { h } from "../../../signaling/client/dom";

export interface PanelHooks {
  /** This panel is the selected tab and the page is visible. */
  seen(): boolean;
  onVisitorMessage(interaction: string, message: ChatMessage): void;
}

export function busConversation(held: Held): Conversation {
  return { interaction: held.interaction, state: held.role === "consultant" ? "consulting" : held.state,
           queue: held.queue, channel: held.channel, customer: held.customer, context: held.context,
           name: held.name };
}

export class ConversationPanel {
  readonly el: HTMLElement;
  private session: AgentChat;
  private held: Held;
  private call: CallPanel | null = null;
  private wrapUp: WrapUpForm | null = null;
  private readonly heading: HTMLElement;
  private readonly details: HTMLElement;
  private readonly stateLine: HTMLElement;
  private readonly chatSlot: HTMLElement;
  private readonly callSlot: HTMLElement;
  private readonly wrapSlot: HTMLElement;
  private readonly end: HTMLButtonElement;
  private readonly leave: HTMLButtonElement;
  private readonly transfer: ReturnType<typeof createTransfer>;

  constructor(private readonly ctx: ShellContext, held: Held, tabId: string, panelId: string,
              private readonly hooks: PanelHooks) {
    this.held = held;
    const ix = held.interaction;
    this.heading = h("h3", { class: "conversation-title" });
    this.details = h("p", { class: "hint conversation-details" });
    this.stateLine = h("p", { class: "conversation-state", "data-testid": "conversation-state" });
    this.chatSlot = h("div", { class: "chat-slot" });
    this.callSlot = h("div", { class: "call-slot" });
    this.wrapSlot = h("div", { class: "wrapup-slot" });
    this.end = h("button", { type: "button", class: "end-conversation" }, "End conversation");
    this.leave = h("button", { type: "button", class: "secondary" }, "Leave consultation");
    this.transfer = createTransfer(ctx, ix);
    this.el = h("div", { role: "tabpanel", id: panelId, "aria-labelledby": tabId, "data-interaction": ix,
                         class: "conversation", tabindex: "-1" },
      h("header", { class: "conversation-head" }, this.heading, this.stateLine, this.details),
      this.chatSlot, this.callSlot,
      h("div", { class: "actions conversation-actions" }, this.transfer.opener, this.end, this.leave),
      this.transfer.el, this.wrapSlot);
    this.session = this.newChat();
    this.end.addEventListener("click", () => void this.complete());
    this.leave.addEventListener("click", () => void this.leaveConsult());
    this.update(held);
  }

  /** The chat session (sync, pushes, receipts) of this conversation. */
  get chat(): ChatController {
    return this.session.controller;
  }

  get chatView(): ChatView {
    return this.session.view;
  }

  get role(): Held["role"] {
    return this.held.role;
  }

  update(held: Held): void {
    const before = this.held;
    this.held = held;
    if (before.role !== held.role) {
      // A consultant who took over writes from now on: a fresh session with own styling.
      this.chat.dispose();
      this.session = this.newChat();
      void this.chat.sync();
    }
    const summary = visitorSummary(held.context);
    this.heading.textContent = tabLabel(held, (id) => this.ctx.queueName(id));
    this.details.textContent = [this.ctx.queueName(held.queue), channelLabel(held.channel), summary.origin,
                                summary.pageTitle || summary.pageUrl].filter(Boolean).join(" · ");
    this.stateLine.textContent = this.stateText(held);
    this.stateLine.dataset["state"] = held.role === "consultant" ? "consulting" : held.state;
    const owner = held.role === "owner";
    const live = held.state === "connected";
    if (!live) this.chat.quiet();
    this.chatView.setWritable(owner && live, !live ? "The conversation has ended."
      : owner ? "" : `You are consulting: only ${held.owner} writes to the visitor.`);
    this.end.hidden = !(owner && live) || held.consult !== null;
    this.leave.hidden = owner;
    this.transfer.update(held);
    this.syncCall(owner && live);
    this.syncWrapUp(held);
  }

  /** Once a second: the wrap-up timer. */
  tick(): void {
    this.wrapUp?.tick(this.held);
  }

  insert(text: string): void {
    this.chatView.insert(text);
  }

  focusComposer(): void {
    if (this.wrapUp !== null) this.wrapUp.focus();
    else this.chatView.focus();
  }

  /** The conversation is over for this agent (closed, transferred): release what it holds;
   * anything still unsent could only be refused now. */
  dispose(): void {
    this.syncCall(false);
    this.chat.finish();
    this.el.remove();
  }

  /** A fresh chat session in the chat slot (on creation, and when a consultant takes over). */
  private newChat(): AgentChat {
    const ix = this.held.interaction;
    const session = createAgentChat(ix, {
      socket: this.ctx.bus.socket, storage: this.ctx.storage, username: this.ctx.bus.username,
      peer: this.held.name || "Visitor",
      seen: () => this.hooks.seen(),
      writer: () => this.held.role === "owner" && this.held.state === "connected",
      onVisitorMessage: (message) => this.hooks.onVisitorMessage(ix, message),
    }, this.held.role === "consultant");
    this.chatSlot.replaceChildren(session.view.el);
    return session;
  }

  private stateText(held: Held): string {
    if (held.role === "consultant") return `Consultation: ${held.owner}'s conversation`;
    if (held.state === "wrap_up") return "Ended: wrap-up";
    if (held.consult !== null) {
      return held.consult.accepted ? `Consulting ${held.consult.agent}` : `Waiting for ${held.consult.agent}`;
    }
    return "Connected";
  }

  private syncCall(wanted: boolean): void {
    if (wanted && this.call === null) {
      try {
        this.call = createCallPanel(this.ctx.bus, busConversation(this.held));
        this.callSlot.replaceChildren(this.call.el);
      } catch (err) {
        console.error("engage: the call panel failed", err);  // the chat works without it
      }
    } else if (!wanted && this.call !== null) {
      const call = this.call;
      this.call = null;
      try {
        call.dispose();
      } catch (err) {
        console.error("engage: the call panel failed to close", err);
      }
      this.callSlot.replaceChildren();
    }
  }

  private syncWrapUp(held: Held): void {
    if (held.state === "wrap_up" && held.role === "owner" && this.wrapUp === null) {
      const hadFocus = this.el.contains(document.activeElement) || document.activeElement === document.body;
      this.wrapUp = createWrapUp(this.ctx, held.interaction);
      this.wrapSlot.replaceChildren(this.wrapUp.el);
      this.wrapUp.tick(held);
      // "End conversation" is gone: keep the keyboard where the work continues.
      if (hadFocus && this.hooks.seen()) this.wrapUp.focus();
    }
  }

  private async complete(): Promise<void> {
    this.end.disabled = true;
    const ack = await agentCall(this.ctx.bus.socket, "acd.complete", { interaction: this.held.interaction });
    this.end.disabled = false;
    if (!ack.ok) {
      this.ctx.bus.notice.error(ack.message);
      if (ack.code === "not_connected" || ack.code === "not_your_interaction") this.ctx.refresh();
    }
    // The `wrap_up` (or, with no wrap-up window, `closed`) push moves the tab on.
  }

  private async leaveConsult(): Promise<void> {
    const ack = await agentCall(this.ctx.bus.socket, "acd.consult_cancel", { interaction: this.held.interaction });
    if (ack.ok || ack.code === "no_consult") this.ctx.dispatch({ type: "consult_cancelled", interaction: this.held.interaction });
    else this.ctx.bus.notice.error(ack.message);
  }
}
