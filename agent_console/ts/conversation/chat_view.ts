/**
 * The chat of one conversation on screen: the message log (text only, own / visitor / system
 * styling, receipts on own messages), the visitor's typing line and the composer (Enter sends,
 * Shift+Enter breaks the line). Owns only DOM; the session (chat.ts) drives it.
 */

import type { ChatEntry, Delivery } from "../../../signaling/client/chat_log";
import { CHAT_TEXT_MAX } from "../../../signaling/client/visitor";
import { chatClock, h, uid } from "../../../signaling/client/dom";

const DELIVERY_LABELS: Readonly<Record<Delivery, string>> = {
  sending: "Sending…", sent: "Sent", delivered: "Delivered", read: "Read", failed: "Not sent",
};

export interface ChatViewActions {
  send(text: string): void;
  typing(): void;
}

interface Row {
  el: HTMLElement;
  receipt: HTMLElement | null;
  delivery: string;
}

function sizeLabel(bytes: number): string {
  return bytes >= 1_048_576 ? `${(bytes / 1_048_576).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

export class ChatView {
  readonly el: HTMLElement;
  readonly input: HTMLTextAreaElement;
  private readonly list: HTMLElement;
  private readonly typingLine: HTMLElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly composer: HTMLFormElement;
  private readonly readOnly: HTMLElement;
  private readonly rows = new Map<string, Row>();

  /** `peer` names the other side in labels; `ownSide` is the side this agent writes as. */
  constructor(peer: string, private readonly ownClass: "own" | "colleague", private readonly actions: ChatViewActions) {
    const inputId = uid("composer");
    const hintId = uid("composer-hint");
    this.list = h("ol", { class: "chat-log", role: "log", "aria-label": `Chat with ${peer}`,
                          "aria-relevant": "additions", tabindex: "0" });
    this.typingLine = h("p", { class: "typing", role: "status", "data-testid": "typing" });
    this.input = h("textarea", { id: inputId, rows: "3", maxlength: String(CHAT_TEXT_MAX),
                                 "aria-describedby": hintId });
    this.sendButton = h("button", { type: "submit" }, "Send");
    this.composer = h("form", { class: "composer" },
      h("label", { for: inputId }, "Message"), this.input,
      h("div", { class: "composer-row" },
        h("span", { class: "hint", id: hintId }, "Enter sends · Shift+Enter for a new line"), this.sendButton));
    this.readOnly = h("p", { class: "hint read-only", hidden: true });
    this.el = h("div", { class: "chat" }, this.list, this.typingLine, this.composer, this.readOnly);

    this.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      // isComposing: Enter that confirms an IME candidate (Chinese input) must not send.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => this.actions.typing());
  }

  /** Shows the entries in order, reusing rows so selection and focus in the log survive. */
  render(entries: ChatEntry[], delivery: (e: ChatEntry) => Delivery): void {
    const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    const seen = new Set<string>();
    entries.forEach((entry, index) => {
      const key = entry.clientId || `seq:${entry.seq ?? index}`;
      seen.add(key);
      let row = this.rows.get(key);
      if (row === undefined) {
        row = this.row(entry);
        this.rows.set(key, row);
      }
      if (entry.seq !== null) row.el.dataset["seq"] = String(entry.seq);
      if (row.receipt !== null) {
        const state = delivery(entry);
        if (state !== row.delivery) {
          row.delivery = state;
          row.receipt.textContent = DELIVERY_LABELS[state];
          row.receipt.dataset["state"] = state;
        }
      }
      if (this.list.children[index] !== row.el) this.list.insertBefore(row.el, this.list.children[index] ?? null);
    });
    for (const [key, row] of this.rows) {
      if (!seen.has(key)) {
        row.el.remove();
        this.rows.delete(key);
      }
    }
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }

  /** The panel came into view: show the latest messages (a hidden log cannot scroll). */
  reveal(): void {
    this.list.scrollTop = this.list.scrollHeight;
  }

  setTyping(text: string): void {
    this.typingLine.textContent = text;
  }

  /** Writing allowed or not (wrap-up, consultation), with the reason shown instead. */
  setWritable(writable: boolean, why = ""): void {
    this.composer.hidden = !writable;
    this.readOnly.hidden = writable || !why;
    this.readOnly.textContent = why;
  }

  /** Text from a panel (a canned answer, a suggestion) into the composer, not sent. */
  insert(text: string): void {
    const { selectionStart: start, selectionEnd: end, value } = this.input;
    this.input.value = value.slice(0, start) + text + value.slice(end);
    const caret = start + text.length;
    this.input.focus();
    this.input.setSelectionRange(caret, caret);
    this.actions.typing();
  }

  focus(): void {
    if (!this.composer.hidden) this.input.focus();
  }

  private submit(): void {
    const text = this.input.value.trim();
    if (!text) return;
    this.actions.send(text);
    this.input.value = "";
    this.input.focus();
  }

  private row(entry: ChatEntry): Row {
    const side = entry.from === "agent" ? this.ownClass : entry.from;
    const who = entry.from === "system" ? ""
      : entry.name || (entry.from === "visitor" ? "Visitor" : this.ownClass === "own" ? "You" : "Agent");
    const receipt = entry.from === "agent" && this.ownClass === "own"
      ? h("span", { class: "receipt", "data-testid": "receipt" }) : null;
    const body = h("p", { class: "msg-text" });
    body.textContent = entry.text;  // text only, whatever the visitor typed
    const attachment = entry.attachment === undefined ? null
      : h("a", { class: "msg-attachment", href: `/api/attachments/${encodeURIComponent(entry.attachment.id)}`,
                 target: "_blank", rel: "noopener" },
          `${entry.attachment.name} (${sizeLabel(entry.attachment.size)})`);
    const el = h("li", { class: `msg ${side}`, "data-testid": "chat-message", "data-from": entry.from },
      h("span", { class: "msg-meta" }, who ? h("span", { class: "msg-name" }, who) : null,
        h("time", { datetime: new Date(entry.at).toISOString() }, chatClock(entry.at))),
      entry.text ? body : null, attachment, receipt);
    return { el, receipt, delivery: "" };
  }
}
