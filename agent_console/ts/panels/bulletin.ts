/** The bulletin panel of the agent console (skeleton: filled by its owner). */

import type { ConsoleBus } from "../console_bus";

export function mountBulletin(bus: ConsoleBus, el: HTMLElement): void {
  void bus;
  el.dataset["panel"] = "bulletin";
}
