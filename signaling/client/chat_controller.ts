/**
 * One conversation's chat over the socket, the same on both sides (widget and agent console):
 * owns the ChatLog, the Outbox, sending with ack/retry, `chat.sync` on every (re)connect and
 * gap, receipts, typing both ways, and applies the chat pushes. Views stay per side (hooks).
 */

import { type Ack, type AckEmitter, callWithAck } from "./ack";
import { type ChatSide, ChatLog, type PendingMessage } from "./chat_log";
import { ChatSender, ReceiptAcks, type SendAck, TypingThrottle } from "./chat_sender";
import type { StorageLike } from "./dom";
import { Outbox, WIDGET_OUTBOX_PREFIX } from "./outbox";
import type { ChatReceipt, ChatSend, ChatSync, ChatTyping } from "./payloads.gen";
import type { AttachmentInfo, ChatMessage } from "./visitor";
import { CHAT_TEXT_MAX } from "./visitor";

/** A "typing" line whose "stopped typing" got lost is taken down after this long. */
export const PEER_TYPING_TIMEOUT_MS = 15_000;

/** The part of a socket.io-client `Socket` the chat needs (a fake in tests). */
export interface ChatSocket extends AckEmitter {
  readonly connected: boolean;
}

/** The chat pushes as both sides receive them (checked by the side's push guards). */
export interface TypingPush {
  from: string;
  typing: boolean;
}

export interface ReceiptPush {
  by: string;
  delivered_seq: number;
  read_seq: number;
}

export interface ChatHooks {
  /** The log changed: render `controller.log`. */
  onChange(): void;
  /** The other side is typing (true) or stopped / went quiet (false). */
  onPeerTyping(typing: boolean): void;
  /** A new message of the other side arrived (after `onPeerTyping(false)`). */
  onPeerMessage?(message: ChatMessage): void;
  /** An own message was refused for good. */
  onFailed?(pending: PendingMessage): void;
  /** The conversation is on screen and the page visible: the peer's messages count as read. */
  seen(): boolean;
  /** Whether this side writes in it now (the console: only the owner while connected). */
  writer?(): boolean;
}

export interface ChatOptions {
  /** The side this chat is written from. */
  self: ChatSide;
  interaction: string;
  /** The current socket, or null before there is one. */
  socket(): ChatSocket | null;
  storage: StorageLike | null;
  /** Outbox key prefix (per side, so a demo page and a console never send each other's). */
  outboxPrefix?: string;
  /** New client ids (crypto UUIDs in the browser). */
  newId(): string;
}

/** Whether `who` (a push's `from` or `by`) is the other side of `self`. */
export function isPeer(self: ChatSide, who: string): boolean {
  return (who === "visitor") !== (self === "visitor");
}

export class ChatController {
  readonly log: ChatLog;
  readonly interaction: string;
  private readonly outbox: Outbox;
  private readonly sender: ChatSender;
  private readonly typist: TypingThrottle;
  private readonly acks: ReceiptAcks;
  private syncing = false;
  private syncAgain = false;
  private peerTyping: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;

  constructor(private readonly options: ChatOptions, private readonly hooks: ChatHooks) {
    const { interaction, self } = options;
    this.interaction = interaction;
    this.log = new ChatLog(self);
    this.outbox = new Outbox(options.storage, interaction, options.outboxPrefix ?? WIDGET_OUTBOX_PREFIX);
    this.acks = new ReceiptAcks((kind, seq) => {
      const socket = this.live();
      const payload: ChatReceipt = { interaction, seq, kind };
      if (socket !== null) void callWithAck(socket, "chat.receipt", payload);
    });
    this.typist = new TypingThrottle({
      canType: () => this.live() !== null && this.writes(),
      signal: (typing) => {
        const socket = this.live();
        const payload: ChatTyping = { interaction, typing };
        if (socket !== null) void callWithAck(socket, "chat.typing", payload);
      },
    });
    this.sender = new ChatSender(this.log, this.outbox, {
      send: (pending) => {
        const socket = this.live();
        return socket === null || this.disposed ? null : sendMessage(socket, interaction, pending);
      },
      onChange: () => hooks.onChange(),
      onGap: () => void this.sync(),
      ...(hooks.onFailed !== undefined ? { onFailed: hooks.onFailed } : {}),
    });
  }

  /** Everything after the last seq seen, then the outbox again. Runs on every (re)connect. */
  async sync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    const socket = this.live();
    if (socket === null || this.disposed) return;
    this.syncing = true;
    try {
      const payload: ChatSync = { interaction: this.interaction, after_seq: this.log.lastSeq };
      const ack: Ack<{ messages?: unknown; last_seq?: unknown; receipts?: unknown }> = await callWithAck(
        socket, "chat.sync", payload);
      if (ack.ok && !this.disposed) {
        this.log.applySync(ack);
        this.hooks.onChange();
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

  /** A `chat.message` push of this conversation. */
  onMessage(message: ChatMessage): void {
    if (!this.log.merge(message)) return;
    if (message.from === this.peer) {
      this.setPeerTyping(false);
      this.hooks.onPeerMessage?.(message);
    }
    this.hooks.onChange();
    this.acknowledge();
    if (this.log.hasGap) void this.sync();
  }

  /** A `chat.typing` push of this conversation (own side's echoes are ignored). */
  onTyping(push: TypingPush): void {
    if (isPeer(this.log.self, push.from)) this.setPeerTyping(push.typing);
  }

  /** A `chat.receipt` push: how far the other side has received and read. */
  onReceipt(push: ReceiptPush): void {
    if (!isPeer(this.log.self, push.by)) return;
    this.log.setReceipts(push);
    this.hooks.onChange();
  }

  /** `delivered` for new messages of the other side, `read` once they are seen (writer only). */
  acknowledge(): void {
    if (this.live() === null || !this.writes()) return;
    this.acks.acknowledge(this.log.lastPeerSeq(), this.hooks.seen());
  }

  /** A new own message (text cut to the cap), kept in the outbox until acked. */
  send(text: string, attachment?: AttachmentInfo): void {
    if (!this.writes()) return;
    const pending: PendingMessage = { client_id: this.options.newId(), text: text.slice(0, CHAT_TEXT_MAX),
                                      at: Date.now() };
    if (attachment !== undefined) pending.attachment = attachment;
    this.typist.stop();
    this.sender.submit(pending);
  }

  /** A key was pressed in the composer. */
  typed(): void {
    this.typist.typed();
  }

  /** The conversation left the connected state: nobody is typing in it any more. */
  quiet(): void {
    this.typist.stop();
    this.setPeerTyping(false);
  }

  /** The conversation ended for good: what is still unsent can never be sent. */
  finish(): void {
    this.outbox.clear();
    this.dispose();
  }

  dispose(): void {
    this.disposed = true;
    this.typist.stop();
    clearTimeout(this.peerTyping);
  }

  private get peer(): ChatSide {
    return this.log.self === "agent" ? "visitor" : "agent";
  }

  private writes(): boolean {
    return this.hooks.writer?.() ?? true;
  }

  private live(): ChatSocket | null {
    const socket = this.options.socket();
    return socket !== null && socket.connected ? socket : null;
  }

  private setPeerTyping(typing: boolean): void {
    clearTimeout(this.peerTyping);
    this.hooks.onPeerTyping(typing);
    if (typing) this.peerTyping = setTimeout(() => this.hooks.onPeerTyping(false), PEER_TYPING_TIMEOUT_MS);
  }
}

/** `chat.send` of one pending message (the same generated payload on /visitor and /agent). */
function sendMessage(socket: ChatSocket, interaction: string, pending: PendingMessage): Promise<SendAck> {
  const payload: ChatSend = { interaction, client_id: pending.client_id };
  if (pending.text) payload.text = pending.text;
  if (pending.attachment !== undefined) payload.attachment = pending.attachment.id;
  return callWithAck<{ seq: number; at: number }>(socket, "chat.send", payload);
}
