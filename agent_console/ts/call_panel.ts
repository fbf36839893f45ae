/** The call controls of one conversation in the console (skeleton: filled by its owner). */

import type { ConsoleBus, Conversation } from "./console_bus";

export interface CallPanel {
  el: HTMLElement;
  /** The conversation ended or its tab closed: hang up and release devices. */
  dispose(): void;
}

export function createCallPanel(bus: ConsoleBus, conversation: Conversation): CallPanel {
  void bus;
  const el = document.createElement("div");
  el.className = "call-panel";
  el.dataset["interaction"] = conversation.interaction;
  return { el, dispose: () => undefined };
}
