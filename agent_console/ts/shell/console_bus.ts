/**
 * The console's shared state between its parts: the agent socket, the open conversations and
 * the one selected, and the few actions panels ask of the shell (insert text into a chat,
 * notify the agent). The shell (console_shell.ts) owns this; panels only read and subscribe.
 */

import type { Socket } from "../../../signaling/client/protocol";
import { CustomerFocus } from "./customer_focus";
import { type Feedback, safely } from "./page";

/** One interaction the agent holds (or is being offered), as the shell knows it. */
export interface Conversation {
  interaction: string;
  /** "offered" | "connected" | "wrap_up" | "consulting" | … — the ACD's state names. */
  state: string;
  queue: string;
  channel: string;
  /** Customer id when the visitor is a known customer (proven identity), else "". */
  customer: string;
  /** The server-built offer context: page, visit, origin, rule, signals, client{…}. */
  context: Record<string, unknown>;
  /** The visitor's display name when known (context.client.name), else "". */
  name: string;
}

type Listener<T> = (value: T) => void;

export class ConsoleBus {
  readonly socket: Socket;
  readonly username: string;
  readonly role: string;
  /** Page-wide status/error line for actions that have no form of their own. */
  readonly notice: Feedback;
  /** The customer the ledger shows and the suggestions follow. */
  readonly customer = new CustomerFocus();
  private conversations = new Map<string, Conversation>();
  private selectedId: string | null = null;
  private selectListeners: Listener<Conversation | null>[] = [];
  private changeListeners: Listener<Conversation[]>[] = [];
  /** Set by the shell: puts text into the composer of a conversation (not sent). */
  insertIntoChat: (interaction: string, text: string) => void = () => undefined;

  constructor(socket: Socket, username: string, role: string, notice: Feedback) {
    this.socket = socket;
    this.username = username;
    this.role = role;
    this.notice = notice;
  }

  list(): Conversation[] {
    return [...this.conversations.values()];
  }

  get(interaction: string): Conversation | undefined {
    return this.conversations.get(interaction);
  }

  selected(): Conversation | null {
    return this.selectedId === null ? null : this.conversations.get(this.selectedId) ?? null;
  }

  /** Adds or updates a conversation (shell only). */
  put(conversation: Conversation): void {
    this.conversations.set(conversation.interaction, conversation);
    this.emitChange();
    if (conversation.interaction === this.selectedId) this.emitSelect();
  }

  /** Forgets a conversation (shell only); selection moves to another one or to none. */
  remove(interaction: string): void {
    if (!this.conversations.delete(interaction)) return;
    this.emitChange();
    if (this.selectedId === interaction) this.select(this.list()[0]?.interaction ?? null);
  }

  select(interaction: string | null): void {
    const next = interaction !== null && this.conversations.has(interaction) ? interaction : null;
    if (next === this.selectedId) return;
    this.selectedId = next;
    this.emitSelect();
  }

  /** Called now with the current selection, then on every change of it (or of its data). */
  onSelect(listener: Listener<Conversation | null>): void {
    this.selectListeners.push(listener);
    safely(listener, this.selected());
  }

  onChange(listener: Listener<Conversation[]>): void {
    this.changeListeners.push(listener);
  }

  private emitSelect(): void {
    const current = this.selected();
    for (const l of this.selectListeners) safely(l, current);
  }

  private emitChange(): void {
    const all = this.list();
    for (const l of this.changeListeners) safely(l, all);
  }
}
