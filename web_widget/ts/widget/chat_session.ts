/**
 * One conversation, connected to the socket: the outbox (re-sent with the same client_id
 * until acked), `chat.sync` on every (re)connect and on gaps, typing both ways (throttled),
 * delivered/read receipts, attachments. Owns the ChatLog and drives the ChatView.
 */

import { ChatSender, ReceiptAcks, TypingThrottle } from "../../../signaling/client/chat_sender";
import {
  type AttachmentInfo,
  CHAT_TEXT_MAX,
  type VisitorPushes,
  type VisitorRequests,
  visitorCall,
} from "../../../signaling/client/visitor";
import type { Translate } from "../i18n";
import { ChatLog, type PendingMessage } from "../../../signaling/client/chat_log";
import { ChatView } from "./chat_view";
import type { VisitorHttp } from "./http";
import { Outbox } from "../../../signaling/client/outbox";
import type { Socket } from "./connection";
import { type StorageLike, uuid } from "../../../signaling/client/dom";

const AGENT_TYPING_TIMEOUT_MS = 15_000;

export interface SessionDeps {
  socket(): Socket | null;
  storage: StorageLike | null;
  http: VisitorHttp;
  t: Translate;
  /** The panel is open and the page visible: agent messages count as read. */
  seen(): boolean;
  onAgentMessage(): void;
  end(): void;
}

export class ChatSession {
  readonly log = new ChatLog();
  readonly view: ChatView;
  private readonly outbox: Outbox;
  private readonly sender: ChatSender;
  private readonly typist: TypingThrottle;
  private syncing = false;
  private syncAgain = false;
  private agentTyping: ReturnType<typeof setTimeout> | undefined;
  private readonly acks: ReceiptAcks;
  private agentName = "";

  constructor(readonly interaction: string, private readonly deps: SessionDeps) {
    this.outbox = new Outbox(deps.storage, interaction);
    this.acks = new ReceiptAcks((kind, seq) => {
      const socket = deps.socket();
      if (socket !== null) void visitorCall(socket, "chat.receipt", { interaction, seq, kind });
    });
    this.typist = new TypingThrottle({
      canType: () => deps.socket()?.connected === true,
      signal: (typing) => {
        const socket = deps.socket();
        if (socket?.connected) void visitorCall(socket, "chat.typing", { interaction, typing });
      },
    });
    this.view = new ChatView(deps.t, {
      send: (text) => this.send(text),
      attach: (file) => void this.attach(file),
      typing: () => this.typist.typed(),
      end: () => deps.end(),
      fetchAttachment: (id) => deps.http.attachment(id),
    });
    this.sender = new ChatSender(this.log, this.outbox, {
      send: (pending) => {
        const socket = deps.socket();
        if (socket === null || !socket.connected) return null;
        const payload: VisitorRequests["chat.send"]["payload"] = { interaction, client_id: pending.client_id };
        if (pending.text) payload.text = pending.text;
        if (pending.attachment !== undefined) payload.attachment = pending.attachment.id;
        return visitorCall(socket, "chat.send", payload);
      },
      onChange: () => this.render(),
      onGap: () => void this.sync(),
      onFailed: () => this.view.showNotice(deps.t("failed")),
    });
    this.render();
  }

  setAgent(name: string): void {
    this.agentName = name;
    this.view.setAgent(name);
  }

  /** Everything after the last seq seen, then the outbox again. Runs on every (re)connect. */
  async sync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    const socket = this.deps.socket();
    if (socket === null || !socket.connected) return;
    this.syncing = true;
    try {
      const ack = await visitorCall(socket, "chat.sync", { interaction: this.interaction,
                                                           after_seq: this.log.lastSeq });
      if (ack.ok) {
        this.log.applySync(ack);
        this.render();
        this.acknowledge();
      }
    } finally {
      this.syncing = false;
    }
    this.sender.resend();
    if (this.syncAgain) {
      this.syncAgain = false;
      await this.sync();
    }
  }

  onMessage(push: VisitorPushes["chat.message"]): void {
    if (!this.log.merge(push)) return;
    if (push.from === "agent") {
      this.setTypingLine(null);
      if (push.name && !this.agentName) this.setAgent(push.name);
      this.deps.onAgentMessage();
    }
    this.render();
    this.acknowledge();
    if (this.log.hasGap) void this.sync();
  }

  onTyping(push: VisitorPushes["chat.typing"]): void {
    if (push.from === "visitor") return;
    this.setTypingLine(push.typing ? this.agentName : null);
  }

  onReceipt(push: VisitorPushes["chat.receipt"]): void {
    this.log.setReceipts(push);
    this.render();
  }

  /** Sends `delivered` for new agent messages, and `read` when they are seen. */
  acknowledge(): void {
    const socket = this.deps.socket();
    if (socket === null || !socket.connected) return;
    this.acks.acknowledge(this.log.lastPeerSeq(), this.deps.seen());
  }

  send(text: string, attachment?: AttachmentInfo): void {
    const pending: PendingMessage = { client_id: uuid(), text: text.slice(0, CHAT_TEXT_MAX), at: Date.now() };
    if (attachment !== undefined) pending.attachment = attachment;
    this.typist.stop();
    this.sender.submit(pending);
  }

  dispose(): void {
    this.typist.stop();
    clearTimeout(this.agentTyping);
    this.view.dispose();
  }

  private async attach(file: File): Promise<void> {
    this.view.showNotice(this.deps.t("uploading", { name: file.name }));
    const ack = await this.deps.http.upload(this.interaction, file);
    if (!ack.ok) {
      this.view.showNotice(ack.code === "too_large" ? this.deps.t("too_large")
        : ack.code === "unsupported_type" ? this.deps.t("unsupported_type") : this.deps.t("upload_failed"));
      return;
    }
    this.view.showNotice("");
    this.send("", ack.attachment);
  }

  private setTypingLine(name: string | null): void {
    clearTimeout(this.agentTyping);
    this.view.setTyping(name);
    if (name !== null) this.agentTyping = setTimeout(() => this.view.setTyping(null), AGENT_TYPING_TIMEOUT_MS);
  }

  private render(): void {
    this.view.render(this.log.entries(), (entry) => this.log.delivery(entry));
  }
}
