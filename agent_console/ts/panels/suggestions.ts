/** The suggestions panel of the agent console (skeleton: filled by its owner). */

import type { ConsoleBus } from "../console_bus";

export function mountSuggestions(bus: ConsoleBus, el: HTMLElement): void {
  void bus;
  el.dataset["panel"] = "suggestions";
}
