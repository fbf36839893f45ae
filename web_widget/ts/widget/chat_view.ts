/**
 * The chat view: the message log (`role="log"`), the agent's typing line and the composer
 * (Enter sends, Shift+Enter is a new line, IME composition respected), attachments. Renders
 * `ChatEntry` lists incrementally; every text goes in through textContent.
 */

import type { AttachmentInfo } from "../../../signaling/client/visitor";
import type { Translate } from "../i18n";
import type { ChatEntry, Delivery } from "../../../signaling/client/chat_log";
import { attachmentPath } from "./http";
import { chatClock, h, saveBlob, uid } from "../../../signaling/client/dom";

export interface ChatViewHandlers {
  send(text: string): void;
  attach(file: File): void;
  typing(): void;
  end(): void;
  fetchAttachment(id: string): Promise<Blob | null>;
}

const DELIVERY_KEYS = { sending: "sending", sent: "sent", delivered: "delivered", read: "read",
                        failed: "failed" } as const;

function entryKey(entry: ChatEntry): string {
  return entry.clientId || `seq:${entry.seq ?? 0}`;
}

export class ChatView {
  readonly el: HTMLElement;
  private readonly heading: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly typingLine: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly box: HTMLTextAreaElement;
  private readonly items = new Map<string, { li: HTMLLIElement; delivery: HTMLElement | null }>();
  private readonly blobUrls: string[] = [];

  constructor(private readonly t: Translate, private readonly handlers: ChatViewHandlers) {
    this.heading = h("h2", { class: "engage-chat-with" }, t("chat_with_agent"));
    this.list = h("ol", { class: "engage-log", role: "log", "aria-live": "polite", "aria-label": t("log_label"),
                          tabindex: "0" });
    this.typingLine = h("p", { class: "engage-typing", "aria-hidden": "true" });
    this.notice = h("p", { class: "engage-error", role: "alert" });

    const boxId = uid("engage-message");
    this.box = h("textarea", { id: boxId, name: "message", rows: "2", maxlength: "4000",
                               placeholder: t("message_placeholder"), "data-autofocus": "" });
    this.box.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
      event.preventDefault();
      this.submit();
    });
    this.box.addEventListener("input", () => handlers.typing());
    const send = h("button", { type: "submit", class: "engage-primary engage-send" }, t("send"));
    const fileId = uid("engage-file");
    const file = h("input", { type: "file", id: fileId, class: "engage-file",
                              accept: "image/png,image/jpeg,image/gif,image/webp,application/pdf" });
    file.addEventListener("change", () => {
      const chosen = file.files?.[0];
      file.value = "";
      if (chosen !== undefined) handlers.attach(chosen);
    });
    const attach = h("label", { class: "engage-attach", for: fileId, title: t("attach") },
      h("span", { class: "engage-sr" }, t("attach")), h("span", { "aria-hidden": "true" }, "📎"));
    const composer = h("form", { class: "engage-composer" },
      h("label", { for: boxId, class: "engage-sr" }, t("message_label")), this.box, file, attach, send);
    composer.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    const end = h("button", { type: "button", class: "engage-link engage-end" }, t("end_chat"));
    end.addEventListener("click", () => handlers.end());
    this.el = h("div", { class: "engage-view engage-chat" },
      h("div", { class: "engage-chat-top" }, this.heading, end), this.list, this.typingLine, this.notice,
      composer);
  }

  setAgent(name: string): void {
    this.heading.textContent = name ? this.t("chat_with", { name }) : this.t("chat_with_agent");
  }

  setTyping(name: string | null): void {
    this.typingLine.textContent = name === null ? "" : this.t("typing", { name: name || this.t("agent") });
  }

  showNotice(text: string): void {
    this.notice.textContent = text;
  }

  focus(): void {
    this.box.focus();
  }

  /** Brings the list in line with `entries` (in order), touching only what changed. */
  render(entries: readonly ChatEntry[], delivery: (entry: ChatEntry) => Delivery): void {
    const nearBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 48;
    let added = false;
    let previous: HTMLLIElement | null = null;
    for (const entry of entries) {
      const key = entryKey(entry);
      let item = this.items.get(key);
      if (item === undefined) {
        item = this.build(entry);
        this.items.set(key, item);
        added = true;
      }
      if (item.delivery !== null) {
        const text = this.t(DELIVERY_KEYS[delivery(entry)]);
        if (item.delivery.textContent !== text) item.delivery.textContent = text;
        item.li.classList.toggle("engage-failed", entry.failed);
      }
      const expected: ChildNode | null = previous === null ? this.list.firstChild : previous.nextSibling;
      if (expected !== item.li) this.list.insertBefore(item.li, expected);
      previous = item.li;
    }
    if (added && nearBottom) this.list.scrollTop = this.list.scrollHeight;
  }

  /** Frees the blob URLs of shown images. */
  dispose(): void {
    for (const url of this.blobUrls.splice(0)) URL.revokeObjectURL(url);
  }

  private submit(): void {
    const text = this.box.value.trim();
    if (!text) return;
    this.box.value = "";
    this.handlers.send(text);
  }

  private build(entry: ChatEntry): { li: HTMLLIElement; delivery: HTMLElement | null } {
    const own = entry.from === "visitor";
    const who = own ? this.t("you") : entry.from === "agent" ? entry.name || this.t("agent") : "";
    const delivery = own ? h("span", { class: "engage-delivery" }) : null;
    const li = h("li", { class: `engage-msg engage-from-${entry.from}` },
      who ? h("span", { class: "engage-who" }, who) : null,
      entry.text ? h("p", { class: "engage-text" }, entry.text) : null,
      entry.attachment ? this.attachment(entry.attachment) : null,
      h("span", { class: "engage-meta" }, h("time", { datetime: new Date(entry.at).toISOString() },
        chatClock(entry.at)), delivery ? " " : null, delivery));
    return { li, delivery };
  }

  private attachment(info: AttachmentInfo): HTMLElement {
    if (info.content_type.startsWith("image/")) {
      const img = h("img", { class: "engage-image", alt: info.name });
      void this.handlers.fetchAttachment(info.id).then((blob) => {
        if (blob === null) return;
        const url = URL.createObjectURL(blob);
        this.blobUrls.push(url);
        img.src = url;
      });
      return img;
    }
    const link = h("a", { class: "engage-file-link", href: attachmentPath(info.id),
                          download: info.name }, this.t("download", { name: info.name }));
    link.addEventListener("click", (event) => {
      event.preventDefault(); // the download needs the bearer token, a plain link has none
      void this.handlers.fetchAttachment(info.id).then((blob) => {
        if (blob !== null) saveBlob(blob, info.name);
        else this.showNotice(this.t("error_generic"));
      });
    });
    return link;
  }
}
