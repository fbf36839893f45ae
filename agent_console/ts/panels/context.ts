/** The context panel of the agent console (skeleton: filled by its owner). */

import type { ConsoleBus } from "../console_bus";

export function mountContext(bus: ConsoleBus, el: HTMLElement): void {
  void bus;
  el.dataset["panel"] = "context";
}
