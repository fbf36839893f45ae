/**
 * Sending own chat messages and the typing signal, for either side (widget and agent console):
 * a pending message is sent with the same client_id until acked, kept for the next connect on a
 * timeout or dropped connection, retried after `retry_after` when rate-limited, and marked failed
 * when refused for good. ChatSender owns the in-flight set; TypingThrottle owns the typing timers.
 * The transport is injected: neither knows about sockets or event names.
 */

import { type Ack, CLIENT_CODES } from "./ack";
import type { ChatLog, PendingMessage } from "./chat_log";
import type { Outbox } from "./outbox";

/** "Typing" is sent at most this often while keys are pressed… */
export const TYPING_EVERY_MS = 3000;
/** …and "stopped typing" this long after the last key. */
export const TYPING_IDLE_MS = 4000;
/** Wait before a rate-limited message is sent again, when the server gave no `retry_after` (s). */
export const DEFAULT_RETRY_AFTER_S = 2;

/** The ack of `chat.send` (the same on both sides). */
export type SendAck = Ack<{ seq: number; at: number }>;

export interface SenderHooks {
  /** Sends one message (`chat.send`); null when it cannot be sent now (no connection, disposed):
   * it then stays in the outbox for the next connect. */
  send(pending: PendingMessage): Promise<SendAck> | null;
  /** The log changed: render it. */
  onChange(): void;
  /** An ack showed the log has a gap: `chat.sync`. */
  onGap(): void;
  /** The message was refused for good (called before `onChange`). */
  onFailed?(pending: PendingMessage): void;
}

export class ChatSender {
  private readonly inflight = new Set<string>();

  /** Puts what the outbox still holds (from before a reload) into the log as "sending". */
  constructor(private readonly log: ChatLog, private readonly outbox: Outbox, private readonly hooks: SenderHooks) {
    for (const pending of outbox.list()) log.addPending(pending, "");
  }

  /** A new own message: kept in the outbox, shown as "sending", then sent. */
  submit(pending: PendingMessage): void {
    this.outbox.add(pending);
    this.log.addPending(pending, "");
    this.hooks.onChange();
    void this.emit(pending);
  }

  /** Everything still in the outbox, again (after a (re)connect and sync). */
  resend(): void {
    for (const pending of this.outbox.list()) void this.emit(pending);
  }

  private async emit(pending: PendingMessage): Promise<void> {
    if (this.inflight.has(pending.client_id)) return;
    const call = this.hooks.send(pending);
    if (call === null) return;
    this.inflight.add(pending.client_id);
    const ack = await call;
    this.inflight.delete(pending.client_id);
    if (ack.ok) {
      this.outbox.remove(pending.client_id);
      this.log.acked(pending.client_id, ack.seq, typeof ack.at === "number" ? ack.at : Date.now());
      this.hooks.onChange();
      if (this.log.hasGap) this.hooks.onGap();
      return;
    }
    if (ack.code === CLIENT_CODES.timeout || ack.code === CLIENT_CODES.disconnected) return;  // next connect
    if (ack.code === "rate_limited") {
      setTimeout(() => void this.emit(pending), Math.max(1, ack.retry_after ?? DEFAULT_RETRY_AFTER_S) * 1000);
      return;
    }
    this.outbox.remove(pending.client_id);  // refused for good: say so, never retry
    this.log.failed(pending.client_id);
    this.hooks.onFailed?.(pending);
    this.hooks.onChange();
  }
}

export interface TypingHooks {
  /** Whether "typing" may be sent now (connected; on the console, only by the writer). */
  canType(): boolean;
  /** Sends `chat.typing` (and does nothing when there is no connection). */
  signal(typing: boolean): void;
}

/** Own typing, throttled: "typing" at most every TYPING_EVERY_MS, "stopped" when idle or sent. */
export class TypingThrottle {
  private sentAt = 0;
  private idle: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly hooks: TypingHooks) {}

  /** A key was pressed in the composer. */
  typed(): void {
    if (!this.hooks.canType()) return;
    const now = Date.now();
    if (now - this.sentAt >= TYPING_EVERY_MS) {
      this.sentAt = now;
      this.hooks.signal(true);
    }
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.stop(), TYPING_IDLE_MS);
  }

  /** Idle, sent or gone: "stopped typing", once, if "typing" was said. */
  stop(): void {
    clearTimeout(this.idle);
    if (this.sentAt === 0) return;
    this.sentAt = 0;
    this.hooks.signal(false);
  }
}

/** The `delivered` and `read` receipts this side sends for the other side's messages: each
 * once per newest seq, `read` only when the messages are on screen. */
export class ReceiptAcks {
  private delivered = 0;
  private read = 0;

  constructor(private readonly send: (kind: "delivered" | "read", seq: number) => void) {}

  acknowledge(lastPeerSeq: number, seen: boolean): void {
    if (lastPeerSeq > this.delivered) {
      this.delivered = lastPeerSeq;
      this.send("delivered", lastPeerSeq);
    }
    if (lastPeerSeq > this.read && seen) {
      this.read = lastPeerSeq;
      this.send("read", lastPeerSeq);
    }
  }
}
