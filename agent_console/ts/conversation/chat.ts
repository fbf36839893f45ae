/**
 * The chat of one conversation, on the agent's side of the wire: the message log, the outbox
 * (kept in localStorage and re-sent with the same client_id until acked, so nothing typed is
 * lost across reconnects or reloads), `chat.sync` from the last seq seen on every connect and
 * gap, typing both ways (throttled), delivered/read receipts. Drives a ChatView.
 */

import { ChatLog, type PendingMessage } from "../../../signaling/client/chat_log";
import { ChatSender, ReceiptAcks, TypingThrottle } from "../../../signaling/client/chat_sender";
import { Outbox } from "../../../signaling/client/outbox";
import { CHAT_TEXT_MAX, type ChatMessage } from "../../../signaling/client/visitor";
import { ChatView } from "./chat_view";
import { type AgentPushes, agentCall } from "../../../signaling/client/agent";
import type { Socket } from "../../../signaling/client/protocol";
import { type StorageLike, uuid } from "../../../signaling/client/dom";

const VISITOR_TYPING_TIMEOUT_MS = 15_000;

export function outboxPrefix(username: string): string {
  return `engage.console.${username}.outbox.`;
}

export interface ChatDeps {
  socket: Socket;
  storage: StorageLike | null;
  username: string;
  /** The visitor's name as the agent knows it (typing line, log label). */
  peer: string;
  /** The conversation is on screen and the page visible: visitor messages count as read. */
  seen(): boolean;
  /** Whether this agent writes in it (the owner while connected) or only reads. */
  writer(): boolean;
  onVisitorMessage(message: ChatMessage): void;
}

export class AgentChat {
  readonly log = new ChatLog("agent");
  readonly view: ChatView;
  private readonly outbox: Outbox;
  private readonly sender: ChatSender;
  private readonly typist: TypingThrottle;
  private syncing = false;
  private syncAgain = false;
  private visitorTyping: ReturnType<typeof setTimeout> | undefined;
  private readonly acks: ReceiptAcks;
  private disposed = false;

  constructor(readonly interaction: string, private readonly deps: ChatDeps, consultant: boolean) {
    this.outbox = new Outbox(deps.storage, interaction, outboxPrefix(deps.username));
    this.acks = new ReceiptAcks((kind, seq) => {
      void agentCall(deps.socket, "chat.receipt", { interaction, seq, kind });
    });
    this.typist = new TypingThrottle({
      canType: () => deps.socket.connected && deps.writer(),
      signal: (typing) => {
        if (deps.socket.connected) void agentCall(deps.socket, "chat.typing", { interaction, typing });
      },
    });
    this.view = new ChatView(deps.peer, consultant ? "colleague" : "own", {
      send: (text) => this.send(text),
      typing: () => this.typist.typed(),
    });
    this.sender = new ChatSender(this.log, this.outbox, {
      send: (pending) => {
        if (!deps.socket.connected || this.disposed) return null;
        return agentCall(deps.socket, "chat.send", { interaction, client_id: pending.client_id, text: pending.text });
      },
      onChange: () => this.render(),
      onGap: () => void this.sync(),
    });
    this.render();
  }

  /** Everything after the last seq seen, then the outbox again. Runs on every (re)connect. */
  async sync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    const socket = this.deps.socket;
    if (!socket.connected || this.disposed) return;
    this.syncing = true;
    try {
      const ack = await agentCall(socket, "chat.sync", { interaction: this.interaction, after_seq: this.log.lastSeq });
      if (ack.ok && !this.disposed) {
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

  onMessage(message: ChatMessage): void {
    if (!this.log.merge(message)) return;
    if (message.from === "visitor") {
      this.setTypingLine(false);
      this.deps.onVisitorMessage(message);
    }
    this.render();
    this.acknowledge();
    if (this.log.hasGap) void this.sync();
  }

  onTyping(push: AgentPushes["chat.typing"]): void {
    if (push.from === "visitor") this.setTypingLine(push.typing);
  }

  onReceipt(push: AgentPushes["chat.receipt"]): void {
    if (push.by !== "visitor") return;
    this.log.setReceipts(push);
    this.render();
  }

  /** `delivered` for new visitor messages, `read` once they are on screen (owner only). */
  acknowledge(): void {
    const socket = this.deps.socket;
    if (!socket.connected || !this.deps.writer()) return;
    this.acks.acknowledge(this.log.lastPeerSeq(), this.deps.seen());
  }

  send(text: string): void {
    if (!this.deps.writer()) return;
    const pending: PendingMessage = { client_id: uuid(), text: text.slice(0, CHAT_TEXT_MAX), at: Date.now() };
    this.typist.stop();
    this.sender.submit(pending);
  }

  /** The conversation left the connected state: nobody is typing in it any more. */
  quiet(): void {
    this.typist.stop();
    this.setTypingLine(false);
  }

  /** The conversation ended for good: what is still unsent can never be sent. */
  finish(): void {
    this.outbox.clear();
    this.dispose();
  }

  dispose(): void {
    this.disposed = true;
    this.typist.stop();
    clearTimeout(this.visitorTyping);
  }

  private setTypingLine(typing: boolean): void {
    clearTimeout(this.visitorTyping);
    this.view.setTyping(typing ? `${this.deps.peer} is typing…` : "");
    // A lost "stopped typing" must not leave the line up for ever.
    if (typing) this.visitorTyping = setTimeout(() => this.view.setTyping(""), VISITOR_TYPING_TIMEOUT_MS);
  }

  private render(): void {
    this.view.render(this.log.entries(), (entry) => this.log.delivery(entry));
  }
}
