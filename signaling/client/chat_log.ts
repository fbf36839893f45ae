/**
 * One side's view of a conversation, pure (shared by the widget and the agent console): server
 * messages merged by `seq`, own messages de-duplicated by `client_id` (a pending one becomes
 * the acked one), gap detection for `chat.sync`, and the peer's receipts for ✓/✓✓/read marks.
 */

import {
  type AgentReceipts,
  type AttachmentInfo,
  type ChatMessage,
  epochMs,
  parseChatMessage,
  parseReceipts,
} from "./visitor";

export type Delivery = "sending" | "sent" | "delivered" | "read" | "failed";
export type ChatSide = "visitor" | "agent";
/** How far the other side has received and read (the same shape for both sides). */
export type PeerReceipts = AgentReceipts;

export interface PendingMessage {
  client_id: string;
  text: string;
  attachment?: AttachmentInfo;
  at: number;
}

export interface ChatEntry {
  clientId: string;
  seq: number | null;
  from: "visitor" | "agent" | "system";
  name: string;
  text: string;
  attachment?: AttachmentInfo;
  at: number;
  failed: boolean;
}

export class ChatLog {
  private readonly bySeq = new Map<number, ChatEntry>();
  private readonly byClientId = new Map<string, ChatEntry>();
  private contiguous = 0;
  private highest = 0;
  private receipts: PeerReceipts = { delivered_seq: 0, read_seq: 0 };

  /** `self` is the side whose log this is: its pending messages are written as that side. */
  constructor(readonly self: ChatSide = "visitor") {}

  /** Every message up to here has been seen (or vouched for by a sync): `after_seq`. */
  get lastSeq(): number {
    return this.contiguous;
  }

  /** A later message arrived before an earlier one: time to `chat.sync`. */
  get hasGap(): boolean {
    return this.highest > this.contiguous;
  }

  get size(): number {
    return this.bySeq.size + this.pending().length;
  }

  /** A server message (push, sync or ack); false when it was already known. */
  merge(message: ChatMessage): boolean {
    if (this.bySeq.has(message.seq)) return false;
    const known = message.client_id ? this.byClientId.get(message.client_id) : undefined;
    if (known !== undefined && known.seq !== null) return false;
    const entry: ChatEntry = known ?? {
      clientId: message.client_id, seq: null, from: message.from, name: message.name,
      text: message.text, at: epochMs(message.at), failed: false,
    };
    entry.seq = message.seq;
    entry.at = epochMs(message.at);
    entry.failed = false;
    if (known === undefined && message.attachment !== undefined) entry.attachment = message.attachment;
    if (known !== undefined && message.name) entry.name = message.name;
    this.bySeq.set(message.seq, entry);
    if (entry.clientId) this.byClientId.set(entry.clientId, entry);
    this.highest = Math.max(this.highest, message.seq);
    this.advance();
    return true;
  }

  /** An own message not yet acknowledged (shown as "sending"). */
  addPending(pending: PendingMessage, name: string): ChatEntry {
    const known = this.byClientId.get(pending.client_id);
    if (known !== undefined) return known;
    const entry: ChatEntry = {
      clientId: pending.client_id, seq: null, from: this.self, name, text: pending.text,
      at: pending.at, failed: false,
    };
    if (pending.attachment !== undefined) entry.attachment = pending.attachment;
    this.byClientId.set(pending.client_id, entry);
    return entry;
  }

  /** The ack of `chat.send`: the pending message gets its place. */
  acked(clientId: string, seq: number, at: number): boolean {
    const entry = this.byClientId.get(clientId);
    if (entry === undefined) return false;
    return this.merge({ interaction: "", seq, client_id: clientId, from: entry.from, name: entry.name,
                        text: entry.text, at });
  }

  failed(clientId: string): void {
    const entry = this.byClientId.get(clientId);
    if (entry !== undefined && entry.seq === null) entry.failed = true;
  }

  /** After a sync the server has sent everything up to `lastSeq`. */
  syncedTo(lastSeq: number): void {
    this.contiguous = Math.max(this.contiguous, lastSeq);
    this.highest = Math.max(this.highest, lastSeq);
    this.advance();
  }

  /** The other side's receipts (they only ever move forward). */
  setReceipts(receipts: PeerReceipts): void {
    this.receipts = {
      delivered_seq: Math.max(this.receipts.delivered_seq, receipts.delivered_seq, receipts.read_seq),
      read_seq: Math.max(this.receipts.read_seq, receipts.read_seq),
    };
  }

  delivery(entry: ChatEntry): Delivery {
    if (entry.seq === null) return entry.failed ? "failed" : "sending";
    if (entry.seq <= this.receipts.read_seq) return "read";
    if (entry.seq <= this.receipts.delivered_seq) return "delivered";
    return "sent";
  }

  /** The newest message from one side. */
  lastSeqFrom(side: ChatSide): number {
    let last = 0;
    for (const [seq, entry] of this.bySeq) if (entry.from === side && seq > last) last = seq;
    return last;
  }

  /** The newest message of the other side (what this side's `chat.receipt` acknowledges). */
  lastPeerSeq(): number {
    return this.lastSeqFrom(this.peer);
  }

  /** Takes in a `chat.sync` reply: the missed messages, how far the server has them, and the
   * other side's receipts of this side's messages. */
  applySync(reply: { messages?: unknown; last_seq?: unknown; receipts?: unknown }): void {
    for (const raw of Array.isArray(reply.messages) ? reply.messages : []) {
      const message = parseChatMessage(raw);
      if (message !== null) this.merge(message);
    }
    if (typeof reply.last_seq === "number") this.syncedTo(reply.last_seq);
    this.setReceipts(parseReceipts(reply.receipts, this.peer));
  }

  private get peer(): ChatSide {
    return this.self === "agent" ? "visitor" : "agent";
  }

  /** Server messages by `seq`, then pending ones in the order they were written. */
  entries(): ChatEntry[] {
    const ordered = [...this.bySeq.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e);
    return ordered.concat(this.pending());
  }

  private pending(): ChatEntry[] {
    return [...this.byClientId.values()].filter((e) => e.seq === null).sort((a, b) => a.at - b.at);
  }

  private advance(): void {
    while (this.bySeq.has(this.contiguous + 1)) this.contiguous += 1;
  }
}
