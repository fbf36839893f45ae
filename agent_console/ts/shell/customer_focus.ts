/**
 * The customer the agent is looking at: opened in the ledger (from the selected conversation or
 * by search) and followed by the suggestions panel. One per console (`bus.customer`). No DOM.
 */

import { safely } from "./page";

export interface FocusedCustomer {
  id: string;
  name: string;
  /** "conversation": the selected conversation's known customer; "search": chosen by hand. */
  source: "conversation" | "search";
}

type Listener = (customer: FocusedCustomer | null) => void;

export class CustomerFocus {
  private current: FocusedCustomer | null = null;
  private listeners: Listener[] = [];

  get(): FocusedCustomer | null {
    return this.current;
  }

  set(customer: FocusedCustomer | null): void {
    const before = this.current;
    if (before?.id === customer?.id && before?.name === customer?.name && before?.source === customer?.source) return;
    this.current = customer;
    for (const listener of this.listeners) safely(listener, customer);
  }

  /** Called now with the current customer, then on every change. */
  on(listener: Listener): void {
    this.listeners.push(listener);
    safely(listener, this.current);
  }
}
