/**
 * One conversation in the widget: the shared ChatController (outbox, sync, receipts, typing,
 * pushes) on the visitor's side, the agent's name, attachments, driving the ChatView; and
 * the conversation's calls (a CallView inside it).
 */

import { ChatController } from "../../../signaling/client/chat_controller";
import { type StorageLike, uuid } from "../../../signaling/client/dom";
import type { VisitorPushes } from "../../../signaling/client/visitor";
import type { StringKey, Translate } from "../i18n";
import { CallView } from "./call_view";
import { ChatView } from "./chat_view";
import type { VisitorHttp } from "./http";
import type { Socket } from "./connection";

/** What the visitor reads when the server refuses a file, by the refusal's code. */
const UPLOAD_ERRORS: Readonly<Record<string, StringKey>> = {
  too_large: "too_large",
  unsupported_type: "unsupported_type",
  unsafe_content: "unsafe_file",
  quota_exceeded: "upload_limit",
  rate_limited: "error_rate_limited",
};

export interface SessionDeps {
  socket(): Socket | null;
  storage: StorageLike | null;
  http: VisitorHttp;
  t: Translate;
  /** The panel is open and the page visible: agent messages count as read. */
  seen(): boolean;
  onAgentMessage(): void;
  end(): void;
  /** The visitor token (for the ICE servers of a call). */
  token(): Promise<string | null>;
  /** The agent proposed a call. */
  onRing(): void;
}

export class ChatSession {
  readonly view: ChatView;
  private readonly chat: ChatController;
  private readonly calls: CallView | null;
  private agentName = "";

  constructor(readonly interaction: string, private readonly deps: SessionDeps) {
    this.view = new ChatView(deps.t, {
      send: (text) => this.chat.send(text),
      attach: (file) => void this.attach(file),
      typing: () => this.chat.typed(),
      end: () => deps.end(),
      fetchAttachment: (id) => deps.http.attachment(id),
    });
    this.chat = new ChatController({ self: "visitor", interaction, socket: deps.socket, storage: deps.storage,
                                     newId: uuid }, {
      onChange: () => this.render(),
      onPeerTyping: (typing) => this.view.setTyping(typing ? this.agentName : null),
      onPeerMessage: (message) => {
        if (message.name && !this.agentName) this.setAgent(message.name);
        deps.onAgentMessage();
      },
      onFailed: () => this.view.showNotice(deps.t("failed")),
      seen: () => deps.seen(),
    });
    this.render();
    const socket = deps.socket();
    this.calls = socket === null ? null : new CallView({ t: deps.t, socket, interaction, token: deps.token,
                                                         onRing: deps.onRing });
    this.calls?.mount(this.view.el);
  }

  /** The conversation's room was joined again after a reconnect: keep a call going. */
  resumeCall(): void {
    this.calls?.resume();
  }

  setAgent(name: string): void {
    this.agentName = name;
    this.view.setAgent(name);
  }

  /** Everything after the last seq seen, then the outbox again. Runs on every (re)connect. */
  sync(): Promise<void> {
    return this.chat.sync();
  }

  onMessage(push: VisitorPushes["chat.message"]): void {
    this.chat.onMessage(push);
  }

  onTyping(push: VisitorPushes["chat.typing"]): void {
    this.chat.onTyping(push);
  }

  onReceipt(push: VisitorPushes["chat.receipt"]): void {
    this.chat.onReceipt(push);
  }

  /** Sends `delivered` for new agent messages, and `read` when they are seen. */
  acknowledge(): void {
    this.chat.acknowledge();
  }

  dispose(): void {
    this.calls?.dispose();
    this.chat.dispose();
    this.view.dispose();
  }

  private async attach(file: File): Promise<void> {
    this.view.showNotice(this.deps.t("uploading", { name: file.name }));
    const ack = await this.deps.http.upload(this.interaction, file);
    if (!ack.ok) {
      this.view.showNotice(this.deps.t(UPLOAD_ERRORS[ack.code] ?? "upload_failed"));
      return;
    }
    this.view.showNotice("");
    this.chat.send("", ack.attachment);
  }

  private render(): void {
    this.view.render(this.chat.log.entries(), (entry) => this.chat.log.delivery(entry));
  }
}
